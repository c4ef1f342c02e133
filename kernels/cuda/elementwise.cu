// The embedding gather and scatter-add, the residual mix, the scaled residual adds, the
// per-head query gain and the bf16 rounding of GEMM inputs, forward and backward side by
// side (kernels/cpu/elementwise.c is the definition; elementwise_launch.c launches them).
// Every column sum is one thread adding rows in order, as the CPU does, so the bits do not
// depend on scheduling; the embedding's scatter-add likewise gives each column to one
// thread, which adds the rows in position order.
#include "kernels/cuda/common.cuh"

PG_KERNEL embedding_fwd(float *out, const float *table, const int *ids, int n, int dim)
{
    size_t j = pg_thread_index();
    if (j < (size_t)n * dim)
        out[j] = table[(size_t)ids[j / dim] * dim + j % dim];
}

PG_KERNEL embedding_bwd(float *dtable, const float *dout, const int *ids, int n, int dim)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= dim)
        return;
    for (int r = 0; r < n; r++)
        dtable[(size_t)ids[r] * dim + i] += dout[(size_t)r * dim + i];
}

// out[i] += sum over rows of a[r][i] b[r][i], rows in order
PG_KERNEL colsum_prod(float *out, const float *a, const float *b, size_t n, int dim)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= dim)
        return;
    float acc = out[i];
    for (size_t r = 0; r < n; r++)
        acc += a[r * dim + i] * b[r * dim + i];
    out[i] = acc;
}

PG_KERNEL resid_mix_fwd(float *out, const float *x, const float *x0, const float *mix,
                        size_t total, int dim)
{
    size_t j = pg_thread_index();
    if (j < total)
        out[j] = mix[j % dim] * x[j] + mix[dim + j % dim] * x0[j];
}

// dx0 += mix1 dout; dx = mix0 dout (dx may alias dout: one thread per element)
PG_KERNEL resid_mix_bwd(float *dx, float *dx0, const float *dout, const float *mix, size_t total,
                        int dim)
{
    size_t j = pg_thread_index();
    if (j < total) {
        float g = dout[j];
        dx0[j] += mix[dim + j % dim] * g;
        dx[j] = mix[j % dim] * g;
    }
}

PG_KERNEL scaled_add_fwd(float *y, const float *x, const float *s, const float *d, size_t total,
                         int dim)
{
    size_t j = pg_thread_index();
    if (j < total)
        y[j] = x[j] + s[j % dim] * d[j];
}

// dd = s dy (accumulate 0) or dd += s dy (accumulate 1)
PG_KERNEL scaled_grad(float *dd, const float *s, const float *dy, size_t total, int dim,
                      int accumulate)
{
    size_t j = pg_thread_index();
    if (j < total) {
        float g = s[j % dim] * dy[j];
        dd[j] = accumulate ? dd[j] + g : g;
    }
}

PG_KERNEL add_kernel(float *y, const float *x, size_t n)
{
    size_t j = pg_thread_index();
    if (j < n)
        y[j] += x[j];
}

PG_KERNEL q_gain_fwd(float *q, const float *qn, const float *gain, size_t total, int H, int hd)
{
    size_t j = pg_thread_index();
    if (j < total)
        q[j] = qn[j] * gain[(j / hd) % H];
}

// dgain[h] += sum over rows r and i of dq qn, r then i in order (one thread per head)
PG_KERNEL q_gain_dgain(float *dgain, const float *dq, const float *qn, size_t n, int H, int hd)
{
    int h = blockIdx.x * blockDim.x + threadIdx.x;
    if (h >= H)
        return;
    float acc = dgain[h];
    for (size_t r = 0; r < n; r++)
        for (int i = 0; i < hd; i++) {
            size_t j = (r * H + h) * hd + i;
            acc += dq[j] * qn[j];
        }
    dgain[h] = acc;
}

PG_KERNEL q_gain_scale(float *dq, const float *gain, size_t total, int H, int hd)
{
    size_t j = pg_thread_index();
    if (j < total)
        dq[j] *= gain[(j / hd) % H];
}

// float32 -> bfloat16 bits, rounded to nearest even (as __float2bfloat16; NaN gives its
// canonical 0x7fff)
PG_KERNEL to_bf16(unsigned short *dst, const float *src, size_t n)
{
    size_t i = pg_thread_index();
    if (i >= n)
        return;
    unsigned u = __float_as_uint(src[i]);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        dst[i] = 0x7fff;
    else
        dst[i] = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
