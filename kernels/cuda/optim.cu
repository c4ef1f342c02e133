// The optimizer updates (kernels/cpu/optim_ops.c is the definition; optim_launch.c
// launches them): gradient norm and scaling, SGD with momentum, Adam, the elementwise
// parts of Muon (its rows normalized for MuonEq-R; Newton-Schulz's products go through
// cuBLASLt), and the weights' EMA. The norm is summed
// in double in a fixed two-level order (per block, then the blocks in order).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/sizes.h"

PG_KERNEL sumsq_partials(double *part, const float *x, size_t n)
{
    __shared__ double sh[PG_CU_ROW_THREADS];
    double ss = 0;
    for (size_t i = pg_thread_index(); i < n; i += (size_t)gridDim.x * blockDim.x)
        ss += (double)x[i] * x[i];
    ss = pg_block_sum(ss, sh);
    if (threadIdx.x == 0)
        part[blockIdx.x] = ss;
}

PG_KERNEL sum_partials(double *dst, const double *part, int n)
{
    __shared__ double sh[PG_CU_ROW_THREADS];
    double s = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        s += part[i];
    s = pg_block_sum(s, sh);
    if (threadIdx.x == 0)
        *dst = s;
}

PG_KERNEL scale_kernel(float *g, size_t n, double coef)
{
    size_t i = pg_thread_index();
    if (i < n)
        g[i] = (float)(g[i] * coef);
}

PG_KERNEL sgd_kernel(float *p, const float *g, float *buf, size_t n, float momentum, float lr)
{
    size_t j = pg_thread_index();
    if (j < n) {
        buf[j] = momentum * buf[j] + g[j];
        p[j] -= lr * buf[j];
    }
}

PG_KERNEL adam_kernel(float *p, const float *g, float *m, float *v, size_t n, float b1, float b2,
                      double eps, double lr, double bc1, double bc2_sqrt)
{
    size_t j = pg_thread_index();
    if (j < n) {
        m[j] = b1 * m[j] + (1 - b1) * g[j];
        v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j];
        double denom = sqrt((double)v[j]) / bc2_sqrt + eps;
        p[j] -= (float)(lr / bc1 * m[j] / denom);
    }
}

PG_KERNEL transpose_kernel(float *dst, const float *src, int rows, int cols)
{
    size_t j = pg_thread_index();
    if (j < (size_t)rows * cols) {
        size_t r = j / cols, c = j % cols;
        dst[c * rows + r] = src[j];
    }
}

// x = src * (1 / (sqrt(*ss) + 1e-7)), the inverse rounded to float as on the CPU
PG_KERNEL scale_by_inv_norm(float *x, const float *src, const double *ss, size_t n)
{
    size_t j = pg_thread_index();
    if (j < n)
        x[j] = src[j] * (float)(1.0 / (sqrt(*ss) + 1e-7));
}

// out = a x + b y (the Newton-Schulz combinations)
PG_KERNEL axpby(float *out, float a, const float *x, float b, const float *y, size_t n)
{
    size_t j = pg_thread_index();
    if (j < n)
        out[j] = a * x[j] + b * y[j];
}

// Nesterov momentum: buf = mu buf + g, u = g + mu buf
PG_KERNEL muon_momentum(float *u, float *buf, const float *g, size_t n, float mu)
{
    size_t j = pg_thread_index();
    if (j < n) {
        buf[j] = mu * buf[j] + g[j];
        u[j] = g[j] + mu * buf[j];
    }
}

// MuonEq-R: each row (one block) divided by max(its L2 norm, 1e-7), summed in double
PG_KERNEL normalize_rows(float *u, int cols)
{
    __shared__ double sh[PG_CU_ROW_THREADS];
    float *row = u + (size_t)blockIdx.x * cols;
    double ss = 0;
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
        ss += (double)row[c] * row[c];
    ss = pg_block_sum(ss, sh);
    float norm = (float)fmax(sqrt(ss), 1e-7);
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
        row[c] /= norm;
}

// ema = p take + ema keep, one fused multiply-add as on the CPU
PG_KERNEL ema_kernel(float *ema, const float *p, size_t n, float keep, float take)
{
    size_t j = pg_thread_index();
    if (j < n)
        ema[j] = fmaf(p[j], take, ema[j] * keep);
}

PG_KERNEL apply_update(float *p, const float *u, size_t n, float lr)
{
    size_t j = pg_thread_index();
    if (j < n)
        p[j] -= lr * u[j];
}
