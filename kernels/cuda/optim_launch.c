/* Launches the kernels of optim.cu: the gradient norm (two levels in a fixed order),
 * scaling, SGD, Adam, Muon (whose Newton-Schulz products go through cuBLASLt) and the
 * weights' EMA (kernels/cpu/optim_ops.c is the definition). */
#include "kernels/cuda/host.h"

const double *pg_cuda_sumsq_device(const float *x, size_t n)
{
    double *room = pg_cuda_workspace((PG_CU_SUM_BLOCKS + 1) * sizeof(double));
    double *part = room + 1;
    int parts = PG_CU_SUM_BLOCKS;
    PG_LAUNCH(sumsq_partials, PG_CU_SUM_BLOCKS, 1, 1, PG_CU_ROW_THREADS, &part, &x, &n);
    PG_LAUNCH(sum_partials, 1, 1, 1, PG_CU_ROW_THREADS, &room, &part, &parts);
    return room;
}

void pg_cuda_sumsq(double *acc, const float *g, size_t n)
{
    double ss;
    PG_CUDA(cudaMemcpy(&ss, pg_cuda_sumsq_device(g, n), sizeof ss, cudaMemcpyDeviceToHost));
    *acc += ss;
}

void pg_cuda_scale(float *g, size_t n, double coef)
{
    if (n)
        PG_LAUNCH_N(scale_kernel, n, &g, &n, &coef);
}

void pg_cuda_sgd_update(float *p, const float *g, float *buf, size_t n, float momentum, float lr)
{
    if (n)
        PG_LAUNCH_N(sgd_kernel, n, &p, &g, &buf, &n, &momentum, &lr);
}

void pg_cuda_adam_update(float *p, const float *g, float *m, float *v, size_t n, double beta1,
                         double beta2, double eps, double lr, double bc1, double bc2_sqrt)
{
    float b1 = (float)beta1, b2 = (float)beta2;
    if (n)
        PG_LAUNCH_N(adam_kernel, n, &p, &g, &m, &v, &n, &b1, &b2, &eps, &lr, &bc1, &bc2_sqrt);
}

static void transpose(float *dst, const float *src, int rows, int cols)
{
    PG_LAUNCH_N(transpose_kernel, (size_t)rows * cols, &dst, &src, &rows, &cols);
}

/* out = a x + b y */
static void axpby(float *out, float a, const float *x, float b, const float *y, size_t n)
{
    PG_LAUNCH_N(axpby, n, &out, &a, &x, &b, &y, &n);
}

void pg_cuda_newton_schulz5(float *x, int rows, int cols, int steps, int coeffs, float *scratch)
{
    int tr = rows > cols;
    int m = tr ? cols : rows, n = tr ? rows : cols; /* X is m x n with m <= n */
    size_t mn = (size_t)m * n, mm = (size_t)m * m;
    float *X = scratch, *T = X + mn, *BX = T + mn, *A = BX + mn, *AA = A + mm, *Bm = AA + mm;
    const double *ss = pg_cuda_sumsq_device(x, mn); /* read before the workspace is reused */
    const float *src = x;
    if (tr) {
        transpose(T, x, rows, cols);
        src = T;
    }
    PG_LAUNCH_N(scale_by_inv_norm, mn, &X, &src, &ss, &mn);
    for (int s = 0, iters = pg_ns_iterations(coeffs, steps); s < iters; s++) {
        float abc[3];
        pg_ns_coeffs(coeffs, s, abc);
        pg_cuda_linear_fwd(A, X, X, m, n, m);  /* A = X X^T */
        pg_cuda_linear_fwd(AA, A, A, m, m, m); /* A A^T = A A */
        axpby(Bm, abc[1], A, abc[2], AA, mm);
        pg_cuda_matmul_nn(BX, Bm, X, m, m, n); /* B X */
        axpby(X, abc[0], X, 1.0f, BX, mn);
    }
    if (tr)
        transpose(x, X, m, n);
    else
        PG_CUDA(cudaMemcpy(x, X, mn * sizeof *x, cudaMemcpyDeviceToDevice));
}

size_t pg_cuda_muon_scratch(int rows, int cols)
{
    size_t lo = (size_t)(rows < cols ? rows : cols), hi = (size_t)(rows < cols ? cols : rows);
    return 3 * lo * lo + 3 * lo * hi + (size_t)rows * cols;
}

void pg_cuda_muon_update(float *p, const float *g, float *buf, int rows, int cols, float momentum,
                         float lr, const pg_muon_ns *ns, float *scratch)
{
    size_t n = (size_t)rows * cols;
    if (!n)
        return;
    float *u = scratch + pg_cuda_muon_scratch(rows, cols) - n;
    PG_LAUNCH_N(muon_momentum, n, &u, &buf, &g, &n, &momentum);
    if (ns->row_normalize)
        PG_LAUNCH(normalize_rows, (unsigned)rows, 1, 1, PG_CU_ROW_THREADS, &u, &cols);
    pg_cuda_newton_schulz5(u, rows, cols, ns->steps, ns->coeffs, scratch);
    PG_LAUNCH_N(apply_update, n, &p, &u, &n, &lr);
}

void pg_cuda_ema_update(float *ema, const float *p, size_t n, double decay)
{
    float keep = (float)decay, take = (float)(1.0 - decay);
    if (n)
        PG_LAUNCH_N(ema_kernel, n, &ema, &p, &n, &keep, &take);
}
