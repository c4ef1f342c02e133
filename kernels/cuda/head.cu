// The MLP activation (relu^2 / leaky relu^2) and the softcapped cross-entropy head,
// forward and backward side by side. One block per row for the head: the max and the
// exponential sums run in a fixed tree order, in double as on the CPU.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cuda/common.cuh"

extern "C" {
#include "kernels/config.h"
}

#define HEAD_THREADS 256

__global__ void mlp_act_fwd(float *out, const float *in, size_t n, float slope)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float a = in[i] > 0 ? in[i] : slope * in[i];
        out[i] = a * a;
    }
}

__global__ void mlp_act_bwd(float *din, const float *dout, const float *in, size_t n, float slope)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float a = in[i] > 0 ? in[i] : slope * in[i];
        float da = in[i] > 0 ? 1.0f : slope;
        din[i] += dout[i] * 2 * a * da;
    }
}

static float neg_slope(int act)
{
    return act == PG_MLP_LEAKY_RELU2 ? 0.5f : 0.0f;
}

void pg_cuda_mlp_act_fwd(float *out, const float *in, size_t n, int act)
{
    if (n)
        mlp_act_fwd<<<pg_blocks(n, 256), 256>>>(out, in, n, neg_slope(act));
    PG_CUDA_LAUNCHED();
}

void pg_cuda_mlp_act_bwd(float *din, const float *dout, const float *in, size_t n, int act)
{
    if (n)
        mlp_act_bwd<<<pg_blocks(n, 256), 256>>>(din, dout, in, n, neg_slope(act));
    PG_CUDA_LAUNCHED();
}

__global__ void softcap_fwd(float *x, size_t n, float cap)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] = cap * tanhf(x[i] / cap);
}

void pg_cuda_softcap_fwd(float *x, size_t n, float cap)
{
    if (n)
        softcap_fwd<<<pg_blocks(n, 256), 256>>>(x, n, cap);
    PG_CUDA_LAUNCHED();
}

// Row max and sum of exp(z - max) in double, shared by the loss and its gradient.
__device__ void row_stats(const float *z, int vocab, float *mx_out, double *sum_out)
{
    __shared__ float shf[HEAD_THREADS];
    __shared__ double shd[HEAD_THREADS];
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < vocab; j += blockDim.x)
        mx = fmaxf(mx, z[j]);
    mx = pg_block_max(mx, shf);
    double sum = 0;
    for (int j = threadIdx.x; j < vocab; j += blockDim.x)
        sum += exp((double)(z[j] - mx));
    *mx_out = mx;
    *sum_out = pg_block_sum(sum, shd);
}

__global__ void xent_fwd(double *loss, const float *logits, const int *targets, int vocab)
{
    const float *z = logits + (size_t)blockIdx.x * vocab;
    float mx;
    double sum;
    row_stats(z, vocab, &mx, &sum);
    if (threadIdx.x == 0)
        loss[blockIdx.x] = (double)mx + log(sum) - (double)z[targets[blockIdx.x]];
}

double pg_cuda_xent_fwd(double *loss, const float *logits, const int *targets, int n, int vocab)
{
    if (n <= 0)
        return 0;
    xent_fwd<<<n, HEAD_THREADS>>>(loss, logits, targets, vocab);
    PG_CUDA_LAUNCHED();
    // the total in row order on the host: the CPU reference's order and bits
    double *h = (double *)malloc((size_t)n * sizeof *h);
    if (!h) {
        fprintf(stderr, "pgolf: out of memory for %d losses\n", n);
        exit(1);
    }
    PG_CUDA(cudaMemcpy(h, loss, (size_t)n * sizeof *h, cudaMemcpyDeviceToHost));
    double total = 0;
    for (int r = 0; r < n; r++)
        total += h[r];
    free(h);
    return total;
}

__global__ void softcap_xent_bwd(float *dlogits, const float *z, const int *targets, int vocab,
                                 float cap, double dloss)
{
    const float *zr = z + (size_t)blockIdx.x * vocab;
    float *d = dlogits + (size_t)blockIdx.x * vocab;
    float mx;
    double sum;
    row_stats(zr, vocab, &mx, &sum);
    int target = targets[blockIdx.x];
    for (int j = threadIdx.x; j < vocab; j += blockDim.x) {
        double pj = exp((double)(zr[j] - mx)) / sum - (j == target);
        double t = (double)zr[j] / cap; // tanh of the pre-cap logit / cap
        d[j] = (float)(pj * dloss * (1.0 - t * t));
    }
}

void pg_cuda_softcap_xent_bwd(float *dlogits, const float *z, const int *targets, int n, int vocab,
                              float cap, double dloss)
{
    if (n > 0)
        softcap_xent_bwd<<<n, HEAD_THREADS>>>(dlogits, z, targets, vocab, cap, dloss);
    PG_CUDA_LAUNCHED();
}
