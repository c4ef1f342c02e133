/* Launches the kernels of elementwise.cu: the embedding, the residual mix, the scaled
 * residual adds, the query gain and the bf16 rounding (kernels/cpu/elementwise.c is the
 * definition). */
#include "kernels/cuda/host.h"

/* one thread per column of dim columns */
#define LAUNCH_COLS(name, dim, ...)                                                      \
    PG_LAUNCH(name, pg_blocks((size_t)(dim), PG_CU_COL_THREADS), 1, 1, PG_CU_COL_THREADS,  \
              __VA_ARGS__)

void pg_cuda_embedding_fwd(float *out, const float *table, const int *ids, int n, int dim)
{
    size_t total = (size_t)n * dim;
    if (total)
        PG_LAUNCH_N(embedding_fwd, total, &out, &table, &ids, &n, &dim);
}

void pg_cuda_embedding_bwd(float *dtable, const float *dout, const int *ids, int n, int dim)
{
    if (n > 0 && dim > 0)
        LAUNCH_COLS(embedding_bwd, dim, &dtable, &dout, &ids, &n, &dim);
}

/* out[i] += sum over rows of a[r][i] b[r][i] */
static void acc_colsum_prod(float *out, const float *a, const float *b, size_t n, int dim)
{
    if (n > 0 && dim > 0)
        LAUNCH_COLS(colsum_prod, dim, &out, &a, &b, &n, &dim);
}

void pg_cuda_resid_mix_fwd(float *out, const float *x, const float *x0, const float *mix, size_t n,
                           int dim)
{
    size_t total = n * (size_t)dim;
    if (total)
        PG_LAUNCH_N(resid_mix_fwd, total, &out, &x, &x0, &mix, &total, &dim);
}

void pg_cuda_resid_mix_bwd(float *dx, float *dx0, float *dmix, const float *dout, const float *x,
                           const float *x0, const float *mix, size_t n, int dim)
{
    acc_colsum_prod(dmix, dout, x, n, dim); /* before dx (which may be dout) is written */
    acc_colsum_prod(dmix + dim, dout, x0, n, dim);
    size_t total = n * (size_t)dim;
    if (total)
        PG_LAUNCH_N(resid_mix_bwd, total, &dx, &dx0, &dout, &mix, &total, &dim);
}

void pg_cuda_scaled_add_fwd(float *y, const float *x, const float *s, const float *d, size_t n,
                            int dim)
{
    size_t total = n * (size_t)dim;
    if (total)
        PG_LAUNCH_N(scaled_add_fwd, total, &y, &x, &s, &d, &total, &dim);
}

static void scaled_bwd(float *dd, float *ds, const float *dy, const float *d, const float *s,
                       size_t n, int dim, int accumulate)
{
    acc_colsum_prod(ds, dy, d, n, dim);
    size_t total = n * (size_t)dim;
    if (total)
        PG_LAUNCH_N(scaled_grad, total, &dd, &s, &dy, &total, &dim, &accumulate);
}

void pg_cuda_scaled_add_bwd(float *dd, float *ds, const float *dy, const float *d, const float *s,
                            size_t n, int dim)
{
    scaled_bwd(dd, ds, dy, d, s, n, dim, 0);
}

void pg_cuda_skip_add_bwd(float *dd, float *ds, const float *dy, const float *d, const float *s,
                          size_t n, int dim)
{
    scaled_bwd(dd, ds, dy, d, s, n, dim, 1);
}

void pg_cuda_add(float *y, const float *x, size_t n)
{
    if (n)
        PG_LAUNCH_N(add_kernel, n, &y, &x, &n);
}

void pg_cuda_q_gain_fwd(float *q, const float *qn, const float *gain, size_t n, int H, int hd)
{
    size_t total = n * (size_t)H * hd;
    if (total)
        PG_LAUNCH_N(q_gain_fwd, total, &q, &qn, &gain, &total, &H, &hd);
}

void pg_cuda_q_gain_bwd(float *dq, float *dgain, const float *qn, const float *gain, size_t n, int H,
                        int hd)
{
    size_t total = n * (size_t)H * hd;
    if (!total)
        return;
    PG_LAUNCH(q_gain_dgain, pg_blocks((size_t)H, 32), 1, 1, 32, &dgain, &dq, &qn, &n, &H, &hd);
    PG_LAUNCH_N(q_gain_scale, total, &dq, &gain, &total, &H, &hd);
}

void pg_cuda_to_bf16(uint16_t *dst, const float *src, size_t n)
{
    if (n)
        PG_LAUNCH_N(to_bf16, n, &dst, &src, &n);
}

void pg_cuda_col_scale_fwd(float *y, const float *s, const float *d, size_t n, int dim)
{
    size_t total = n * (size_t)dim;
    if (total)
        PG_LAUNCH_N(col_scale_fwd, total, &y, &s, &d, &total, &dim);
}

void pg_cuda_skip_gate_fwd(float *out, const float *x, const float *skip, const float *w,
                           const float *z, size_t n, int dim)
{
    size_t total = n * (size_t)dim;
    if (total)
        PG_LAUNCH_N(skip_gate_fwd, total, &out, &x, &skip, &w, &z, &total, &dim);
}

void pg_cuda_skip_gate_bwd(float *dx, float *dskip, float *dw, float *dz, const float *dout,
                           const float *x, const float *skip, const float *w, const float *z,
                           size_t n, int dim)
{
    size_t total = n * (size_t)dim;
    if (!total)
        return;
    /* the column sums read dout before dx (which may be dout) is written */
    LAUNCH_COLS(skip_gate_cols, dim, &dw, &dz, &dout, &x, &skip, &w, &z, &n, &dim);
    PG_LAUNCH_N(skip_gate_grad, total, &dx, &dskip, &dout, &w, &z, &total, &dim);
}

void pg_cuda_lane_mix_fwd(float *y, const float *lane, const float *a, const float *m,
                          const float *r, const float *pa, const float *pm, size_t n)
{
    if (n)
        PG_LAUNCH_N(lane_mix_fwd, n, &y, &lane, &a, &m, &r, &pa, &pm, &n);
}

void pg_cuda_lane_mix_bwd(float *dlane, float *da, float *dm, float *dr, float *dpa, float *dpm,
                          const float *dy, const float *lane, const float *a, const float *m,
                          const float *r, const float *pa, const float *pm, size_t n)
{
    if (!n)
        return;
    PG_LAUNCH(lane_mix_sums, 1, 1, 1, PG_CU_ROW_THREADS, &dr, &dpa, &dpm, &dy, &lane, &a, &m, &n);
    PG_LAUNCH_N(lane_mix_grad, n, &dlane, &da, &dm, &dy, &r, &pa, &pm, &n);
}

void pg_cuda_smear_fwd(float *out, const float *e, const int *ids, const float *w,
                       const float *lam, int B, int T, int dim, int win, int bos)
{
    size_t n = (size_t)B * T;
    if (n)
        PG_LAUNCH_N(smear_fwd, n, &out, &e, &ids, &w, &lam, &n, &T, &dim, &win, &bos);
}

void pg_cuda_smear_bwd(float *de, float *dw, float *dlam, const float *dout, const float *e,
                       const int *ids, const float *w, const float *lam, int B, int T, int dim,
                       int win, int bos)
{
    size_t n = (size_t)B * T, total = n * (size_t)dim;
    if (!n)
        return;
    double *rowv = pg_cuda_workspace(3 * n * sizeof(double));
    if (!rowv)
        return;
    PG_LAUNCH_N(smear_rows, n, &rowv, &dout, &e, &ids, &w, &lam, &n, &T, &dim, &win, &bos);
    if (total)
        PG_LAUNCH_N(smear_de, total, &de, &rowv, &dout, &w, &n, &dim, &win);
    LAUNCH_COLS(smear_dw, win + 1, &dw, &dlam, &rowv, &e, &n, &dim, &win);
}

void pg_cuda_round_bf16(float *x, size_t n)
{
    if (n)
        PG_LAUNCH_N(round_bf16, n, &x, &n);
}
