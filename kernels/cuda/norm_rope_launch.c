/* Launches the kernels of norm_rope.cu: RMSNorm (one block per row) and the rotary
 * embeddings (kernels/cpu/ops.c is the definition). */
#include "kernels/cuda/host.h"

void pg_cuda_rmsnorm_fwd(float *out, float *rstd, const float *in, int n, int dim, float eps)
{
    if (n > 0)
        PG_LAUNCH(rmsnorm_fwd, (unsigned)n, 1, 1, PG_CU_ROW_THREADS, &out, &rstd, &in, &dim, &eps);
}

void pg_cuda_rmsnorm_bwd(float *din, const float *dout, const float *in, const float *rstd, int n,
                         int dim)
{
    if (n > 0)
        PG_LAUNCH(rmsnorm_bwd, (unsigned)n, 1, 1, PG_CU_ROW_THREADS, &din, &dout, &in, &rstd, &dim);
}

void pg_cuda_rope_tables(float *cos_t, float *sin_t, int T, int rot_dims, float base)
{
    size_t n = (size_t)T * (rot_dims / 2);
    if (n > 0)
        PG_LAUNCH_N(rope_tables, n, &cos_t, &sin_t, &T, &rot_dims, &base);
}

static void rope(float *x, const float *cos_t, const float *sin_t, int B, int T, int heads,
                 int head_dim, int rot_dims, float sign)
{
    size_t rows = (size_t)B * T, n = rows * heads * (rot_dims / 2);
    if (n > 0)
        PG_LAUNCH_N(rope_rotate, n, &x, &cos_t, &sin_t, &rows, &T, &heads, &head_dim, &rot_dims,
                    &sign);
}

void pg_cuda_rope_fwd(float *x, const float *cos_t, const float *sin_t, int B, int T, int heads,
                      int head_dim, int rot_dims)
{
    rope(x, cos_t, sin_t, B, T, heads, head_dim, rot_dims, 1.0f);
}

void pg_cuda_rope_bwd(float *dx, const float *cos_t, const float *sin_t, int B, int T, int heads,
                      int head_dim, int rot_dims)
{
    rope(dx, cos_t, sin_t, B, T, heads, head_dim, rot_dims, -1.0f);
}
