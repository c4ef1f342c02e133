// The optimizer updates (kernels/cpu/optim_ops.c is the definition): gradient norm and
// scaling, SGD with momentum, Adam, and Muon's Newton-Schulz-5 through cuBLAS. The norm is
// summed in double in a fixed two-level order (per block, then the blocks in order).
#include <math.h>

#include "kernels/cuda/common.cuh"

#define SUM_BLOCKS 256
#define SUM_THREADS 256

__global__ void sumsq_partials(double *part, const float *x, size_t n)
{
    __shared__ double sh[SUM_THREADS];
    double ss = 0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        ss += (double)x[i] * x[i];
    ss = pg_block_sum(ss, sh);
    if (threadIdx.x == 0)
        part[blockIdx.x] = ss;
}

__global__ void sum_partials(double *dst, const double *part, int n)
{
    __shared__ double sh[SUM_THREADS];
    double s = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        s += part[i];
    s = pg_block_sum(s, sh);
    if (threadIdx.x == 0)
        *dst = s;
}

const double *pg_cuda_sumsq_device(const float *x, size_t n)
{
    double *room = (double *)pg_cuda_workspace((SUM_BLOCKS + 1) * sizeof(double));
    sumsq_partials<<<SUM_BLOCKS, SUM_THREADS>>>(room + 1, x, n);
    sum_partials<<<1, SUM_THREADS>>>(room, room + 1, SUM_BLOCKS);
    PG_CUDA_LAUNCHED();
    return room;
}

void pg_cuda_sumsq(double *acc, const float *g, size_t n)
{
    double ss;
    PG_CUDA(cudaMemcpy(&ss, pg_cuda_sumsq_device(g, n), sizeof ss, cudaMemcpyDeviceToHost));
    *acc += ss;
}

__global__ void scale_kernel(float *g, size_t n, double coef)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        g[i] = (float)(g[i] * coef);
}

void pg_cuda_scale(float *g, size_t n, double coef)
{
    if (n)
        scale_kernel<<<pg_blocks(n, 256), 256>>>(g, n, coef);
    PG_CUDA_LAUNCHED();
}

__global__ void sgd_kernel(float *p, const float *g, float *buf, size_t n, float momentum, float lr)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < n) {
        buf[j] = momentum * buf[j] + g[j];
        p[j] -= lr * buf[j];
    }
}

void pg_cuda_sgd_update(float *p, const float *g, float *buf, size_t n, float momentum, float lr)
{
    if (n)
        sgd_kernel<<<pg_blocks(n, 256), 256>>>(p, g, buf, n, momentum, lr);
    PG_CUDA_LAUNCHED();
}

__global__ void adam_kernel(float *p, const float *g, float *m, float *v, size_t n, float b1,
                            float b2, double eps, double lr, double bc1, double bc2_sqrt)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < n) {
        m[j] = b1 * m[j] + (1 - b1) * g[j];
        v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j];
        double denom = sqrt((double)v[j]) / bc2_sqrt + eps;
        p[j] -= (float)(lr / bc1 * m[j] / denom);
    }
}

void pg_cuda_adam_update(float *p, const float *g, float *m, float *v, size_t n, double beta1,
                         double beta2, double eps, double lr, double bc1, double bc2_sqrt)
{
    if (n)
        adam_kernel<<<pg_blocks(n, 256), 256>>>(p, g, m, v, n, (float)beta1, (float)beta2, eps, lr,
                                                bc1, bc2_sqrt);
    PG_CUDA_LAUNCHED();
}

__global__ void transpose_kernel(float *dst, const float *src, int rows, int cols)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < (size_t)rows * cols) {
        size_t r = j / cols, c = j % cols;
        dst[c * rows + r] = src[j];
    }
}

// x = src * (1 / (sqrt(*ss) + 1e-7)), the inverse rounded to float as on the CPU
__global__ void scale_by_inv_norm(float *x, const float *src, const double *ss, size_t n)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < n)
        x[j] = src[j] * (float)(1.0 / (sqrt(*ss) + 1e-7));
}

// out = a x + y (the Newton-Schulz combinations)
__global__ void axpby(float *out, float a, const float *x, float b, const float *y, size_t n)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < n)
        out[j] = a * x[j] + b * y[j];
}

void pg_cuda_newton_schulz5(float *x, int rows, int cols, int steps, float *scratch)
{
    const float a = 3.4445f, b = -4.7750f, c = 2.0315f;
    int tr = rows > cols;
    int m = tr ? cols : rows, n = tr ? rows : cols; // X is m x n with m <= n
    size_t mn = (size_t)m * n, mm = (size_t)m * m;
    float *X = scratch, *T = X + mn, *BX = T + mn, *A = BX + mn, *AA = A + mm, *Bm = AA + mm;
    const double *ss = pg_cuda_sumsq_device(x, mn); // read before the workspace is reused
    const float *src = x;
    if (tr) {
        transpose_kernel<<<pg_blocks(mn, 256), 256>>>(T, x, rows, cols);
        src = T;
    }
    scale_by_inv_norm<<<pg_blocks(mn, 256), 256>>>(X, src, ss, mn);
    PG_CUDA_LAUNCHED();
    for (int s = 0; s < steps; s++) {
        pg_cuda_linear_fwd(A, X, X, m, n, m);  // A = X X^T
        pg_cuda_linear_fwd(AA, A, A, m, m, m); // A A^T = A A
        axpby<<<pg_blocks(mm, 256), 256>>>(Bm, b, A, c, AA, mm);
        PG_CUDA_LAUNCHED();
        pg_cuda_matmul_nn(BX, Bm, X, m, m, n); // B X
        axpby<<<pg_blocks(mn, 256), 256>>>(X, a, X, 1.0f, BX, mn);
        PG_CUDA_LAUNCHED();
    }
    if (tr)
        transpose_kernel<<<pg_blocks(mn, 256), 256>>>(x, X, m, n);
    else
        PG_CUDA(cudaMemcpy(x, X, mn * sizeof *x, cudaMemcpyDeviceToDevice));
    PG_CUDA_LAUNCHED();
}

size_t pg_cuda_muon_scratch(int rows, int cols)
{
    size_t lo = (size_t)(rows < cols ? rows : cols), hi = (size_t)(rows < cols ? cols : rows);
    return 3 * lo * lo + 3 * lo * hi + (size_t)rows * cols;
}

// Nesterov momentum: buf = mu buf + g, u = g + mu buf
__global__ void muon_momentum(float *u, float *buf, const float *g, size_t n, float mu)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < n) {
        buf[j] = mu * buf[j] + g[j];
        u[j] = g[j] + mu * buf[j];
    }
}

__global__ void apply_update(float *p, const float *u, size_t n, float lr)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < n)
        p[j] -= lr * u[j];
}

void pg_cuda_muon_update(float *p, const float *g, float *buf, int rows, int cols, float momentum,
                         float lr, int ns_steps, float *scratch)
{
    size_t n = (size_t)rows * cols;
    if (!n)
        return;
    float *u = scratch + pg_cuda_muon_scratch(rows, cols) - n;
    muon_momentum<<<pg_blocks(n, 256), 256>>>(u, buf, g, n, momentum);
    PG_CUDA_LAUNCHED();
    pg_cuda_newton_schulz5(u, rows, cols, ns_steps, scratch);
    apply_update<<<pg_blocks(n, 256), 256>>>(p, u, n, lr);
    PG_CUDA_LAUNCHED();
}
