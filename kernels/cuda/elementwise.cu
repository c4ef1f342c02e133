// The embedding gather and scatter-add, the residual mix, the scaled residual adds and the
// per-head query gain, forward and backward side by side (kernels/cpu/elementwise.c is the
// definition). Every column sum is one thread adding rows in order, as the CPU does, so
// the bits do not depend on scheduling; the embedding's scatter-add likewise gives each
// column to one thread, which adds the rows in position order.
#include "kernels/cuda/common.cuh"

#define COL_THREADS 128

__global__ void embedding_fwd(float *out, const float *table, const int *ids, int n, int dim)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < (size_t)n * dim)
        out[j] = table[(size_t)ids[j / dim] * dim + j % dim];
}

__global__ void embedding_bwd(float *dtable, const float *dout, const int *ids, int n, int dim)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= dim)
        return;
    for (int r = 0; r < n; r++)
        dtable[(size_t)ids[r] * dim + i] += dout[(size_t)r * dim + i];
}

void pg_cuda_embedding_fwd(float *out, const float *table, const int *ids, int n, int dim)
{
    size_t total = (size_t)n * dim;
    if (total)
        embedding_fwd<<<pg_blocks(total, 256), 256>>>(out, table, ids, n, dim);
    PG_CUDA_LAUNCHED();
}

void pg_cuda_embedding_bwd(float *dtable, const float *dout, const int *ids, int n, int dim)
{
    if (n > 0 && dim > 0)
        embedding_bwd<<<pg_blocks((size_t)dim, COL_THREADS), COL_THREADS>>>(dtable, dout, ids, n, dim);
    PG_CUDA_LAUNCHED();
}

// out[i] += sum over rows of a[r][i] b[r][i], rows in order
__global__ void colsum_prod(float *out, const float *a, const float *b, size_t n, int dim)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= dim)
        return;
    float acc = out[i];
    for (size_t r = 0; r < n; r++)
        acc += a[r * dim + i] * b[r * dim + i];
    out[i] = acc;
}

static void acc_colsum_prod(float *out, const float *a, const float *b, size_t n, int dim)
{
    if (n > 0 && dim > 0)
        colsum_prod<<<pg_blocks((size_t)dim, COL_THREADS), COL_THREADS>>>(out, a, b, n, dim);
    PG_CUDA_LAUNCHED();
}

__global__ void resid_mix_fwd(float *out, const float *x, const float *x0, const float *mix,
                              size_t total, int dim)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < total)
        out[j] = mix[j % dim] * x[j] + mix[dim + j % dim] * x0[j];
}

// dx0 += mix1 dout; dx = mix0 dout (dx may alias dout: one thread per element)
__global__ void resid_mix_bwd(float *dx, float *dx0, const float *dout, const float *mix,
                              size_t total, int dim)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < total) {
        float g = dout[j];
        dx0[j] += mix[dim + j % dim] * g;
        dx[j] = mix[j % dim] * g;
    }
}

void pg_cuda_resid_mix_fwd(float *out, const float *x, const float *x0, const float *mix, size_t n,
                           int dim)
{
    size_t total = n * (size_t)dim;
    if (total)
        resid_mix_fwd<<<pg_blocks(total, 256), 256>>>(out, x, x0, mix, total, dim);
    PG_CUDA_LAUNCHED();
}

void pg_cuda_resid_mix_bwd(float *dx, float *dx0, float *dmix, const float *dout, const float *x,
                           const float *x0, const float *mix, size_t n, int dim)
{
    acc_colsum_prod(dmix, dout, x, n, dim); // before dx (which may be dout) is written
    acc_colsum_prod(dmix + dim, dout, x0, n, dim);
    size_t total = n * (size_t)dim;
    if (total)
        resid_mix_bwd<<<pg_blocks(total, 256), 256>>>(dx, dx0, dout, mix, total, dim);
    PG_CUDA_LAUNCHED();
}

__global__ void scaled_add_fwd(float *y, const float *x, const float *s, const float *d,
                               size_t total, int dim)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < total)
        y[j] = x[j] + s[j % dim] * d[j];
}

// dd = s dy (accumulate 0) or dd += s dy (accumulate 1)
__global__ void scaled_grad(float *dd, const float *s, const float *dy, size_t total, int dim,
                            int accumulate)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < total) {
        float g = s[j % dim] * dy[j];
        dd[j] = accumulate ? dd[j] + g : g;
    }
}

void pg_cuda_scaled_add_fwd(float *y, const float *x, const float *s, const float *d, size_t n,
                            int dim)
{
    size_t total = n * (size_t)dim;
    if (total)
        scaled_add_fwd<<<pg_blocks(total, 256), 256>>>(y, x, s, d, total, dim);
    PG_CUDA_LAUNCHED();
}

static void scaled_bwd(float *dd, float *ds, const float *dy, const float *d, const float *s,
                       size_t n, int dim, int accumulate)
{
    acc_colsum_prod(ds, dy, d, n, dim);
    size_t total = n * (size_t)dim;
    if (total)
        scaled_grad<<<pg_blocks(total, 256), 256>>>(dd, s, dy, total, dim, accumulate);
    PG_CUDA_LAUNCHED();
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

__global__ void add_kernel(float *y, const float *x, size_t n)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < n)
        y[j] += x[j];
}

void pg_cuda_add(float *y, const float *x, size_t n)
{
    if (n)
        add_kernel<<<pg_blocks(n, 256), 256>>>(y, x, n);
    PG_CUDA_LAUNCHED();
}

__global__ void q_gain_fwd(float *q, const float *qn, const float *gain, size_t total, int H,
                           int hd)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < total)
        q[j] = qn[j] * gain[(j / hd) % H];
}

// dgain[h] += sum over rows r and i of dq qn, r then i in order (one thread per head)
__global__ void q_gain_dgain(float *dgain, const float *dq, const float *qn, size_t n, int H, int hd)
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

__global__ void q_gain_scale(float *dq, const float *gain, size_t total, int H, int hd)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < total)
        dq[j] *= gain[(j / hd) % H];
}

void pg_cuda_q_gain_fwd(float *q, const float *qn, const float *gain, size_t n, int H, int hd)
{
    size_t total = n * (size_t)H * hd;
    if (total)
        q_gain_fwd<<<pg_blocks(total, 256), 256>>>(q, qn, gain, total, H, hd);
    PG_CUDA_LAUNCHED();
}

void pg_cuda_q_gain_bwd(float *dq, float *dgain, const float *qn, const float *gain, size_t n, int H,
                        int hd)
{
    size_t total = n * (size_t)H * hd;
    if (!total)
        return;
    q_gain_dgain<<<pg_blocks((size_t)H, 32), 32>>>(dgain, dq, qn, n, H, hd);
    q_gain_scale<<<pg_blocks(total, 256), 256>>>(dq, gain, total, H, hd);
    PG_CUDA_LAUNCHED();
}
