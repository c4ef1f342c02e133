// RMSNorm and rotary embeddings, forward and backward side by side (kernels/cpu/ops.c is
// the definition; norm_rope_launch.c launches them). RMSNorm: one block per row, sums in
// double in a fixed tree order.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/sizes.h"

PG_KERNEL rmsnorm_fwd(float *out, float *rstd, const float *in, int dim, float eps)
{
    __shared__ double sh[PG_CU_ROW_THREADS];
    const float *x = in + (size_t)blockIdx.x * dim;
    float *y = out + (size_t)blockIdx.x * dim;
    double ss = 0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        ss += (double)x[i] * x[i];
    ss = pg_block_sum(ss, sh);
    float s = (float)(1.0 / sqrt(ss / dim + eps));
    if (threadIdx.x == 0)
        rstd[blockIdx.x] = s;
    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        y[i] = x[i] * s; // out may alias in: each thread reads then writes its own index
}

PG_KERNEL rmsnorm_bwd(float *din, const float *dout, const float *in, const float *rstd, int dim)
{
    __shared__ double sh[PG_CU_ROW_THREADS];
    size_t row = (size_t)blockIdx.x * dim;
    const float *x = in + row, *dy = dout + row;
    float *dx = din + row;
    double s = rstd[blockIdx.x], proj = 0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        proj += (double)dy[i] * x[i];
    proj = pg_block_sum(proj, sh);
    float c = (float)(s * s * s * proj / dim);
    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        dx[i] += (float)s * dy[i] - x[i] * c;
}

PG_KERNEL rope_tables(float *cos_t, float *sin_t, int T, int rot_dims, float base)
{
    int half = rot_dims / 2;
    size_t j = pg_thread_index();
    if (j >= (size_t)T * half)
        return;
    int t = (int)(j / half), i = (int)(j % half);
    float inv_freq = (float)(1.0 / pow((double)base, (double)(2 * i) / rot_dims));
    float angle = (float)t * inv_freq;
    cos_t[j] = (float)cos((double)angle);
    sin_t[j] = (float)sin((double)angle);
}

// One thread per (row, head, pair i): rotates (x_i, x_{i+half}), half = rot_dims / 2, by
// sign * angle; dims from rot_dims on pass. The backward is sign -1 (the rotation is
// orthogonal: its transpose rotates by -angle).
PG_KERNEL rope_rotate(float *x, const float *cos_t, const float *sin_t, size_t rows, int T,
                      int heads, int head_dim, int rot_dims, float sign)
{
    int half = rot_dims / 2;
    size_t j = pg_thread_index();
    if (j >= rows * heads * half)
        return;
    size_t rh = j / half;
    int i = (int)(j % half);
    size_t r = rh / heads, t = r % (size_t)T;
    float c = cos_t[t * half + i], si = sign * sin_t[t * half + i];
    float *v = x + rh * head_dim;
    float x1 = v[i], x2 = v[i + half];
    v[i] = x1 * c + x2 * si;
    v[i + half] = x1 * -si + x2 * c;
}
