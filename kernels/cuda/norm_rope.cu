// RMSNorm and rotary embeddings, forward and backward side by side (kernels/cpu/ops.c is
// the definition). RMSNorm: one block per row, sums in double in a fixed tree order.
#include <math.h>

#include "kernels/cuda/common.cuh"

#define NORM_THREADS 256

__global__ void rmsnorm_fwd(float *out, float *rstd, const float *in, int dim, float eps)
{
    __shared__ double sh[NORM_THREADS];
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

__global__ void rmsnorm_bwd(float *din, const float *dout, const float *in, const float *rstd,
                            int dim)
{
    __shared__ double sh[NORM_THREADS];
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

void pg_cuda_rmsnorm_fwd(float *out, float *rstd, const float *in, int n, int dim, float eps)
{
    if (n > 0)
        rmsnorm_fwd<<<n, NORM_THREADS>>>(out, rstd, in, dim, eps);
    PG_CUDA_LAUNCHED();
}

void pg_cuda_rmsnorm_bwd(float *din, const float *dout, const float *in, const float *rstd, int n,
                         int dim)
{
    if (n > 0)
        rmsnorm_bwd<<<n, NORM_THREADS>>>(din, dout, in, rstd, dim);
    PG_CUDA_LAUNCHED();
}

__global__ void rope_tables(float *cos_t, float *sin_t, int T, int head_dim, float base)
{
    int half = head_dim / 2;
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= (size_t)T * half)
        return;
    int t = (int)(j / half), i = (int)(j % half);
    float inv_freq = (float)(1.0 / pow((double)base, (double)(2 * i) / head_dim));
    float angle = (float)t * inv_freq;
    cos_t[j] = (float)cos((double)angle);
    sin_t[j] = (float)sin((double)angle);
}

void pg_cuda_rope_tables(float *cos_t, float *sin_t, int T, int head_dim, float base)
{
    size_t n = (size_t)T * (head_dim / 2);
    if (n > 0)
        rope_tables<<<pg_blocks(n, 256), 256>>>(cos_t, sin_t, T, head_dim, base);
    PG_CUDA_LAUNCHED();
}

// One thread per (row, head, pair i): rotates (x_i, x_{i+half}) by sign * angle.
__global__ void rope_rotate(float *x, const float *cos_t, const float *sin_t, size_t rows, int T,
                            int heads, int head_dim, float sign)
{
    int half = head_dim / 2;
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
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

static void rope(float *x, const float *cos_t, const float *sin_t, int B, int T, int heads,
                 int head_dim, float sign)
{
    size_t rows = (size_t)B * T, n = rows * heads * (head_dim / 2);
    if (n > 0)
        rope_rotate<<<pg_blocks(n, 256), 256>>>(x, cos_t, sin_t, rows, T, heads, head_dim, sign);
    PG_CUDA_LAUNCHED();
}

void pg_cuda_rope_fwd(float *x, const float *cos_t, const float *sin_t, int B, int T, int heads,
                      int head_dim)
{
    rope(x, cos_t, sin_t, B, T, heads, head_dim, 1.0f);
}

void pg_cuda_rope_bwd(float *dx, const float *cos_t, const float *sin_t, int B, int T, int heads,
                      int head_dim)
{
    // the rotation is orthogonal: its transpose rotates by -angle
    rope(dx, cos_t, sin_t, B, T, heads, head_dim, -1.0f);
}
