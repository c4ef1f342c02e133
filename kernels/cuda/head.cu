// The MLP activation (relu^2 / leaky relu^2) and the softcapped cross-entropy head,
// forward and backward side by side (head_launch.c launches them). One block per row for
// the head: the max and the exponential sums run in a fixed tree order, in double as on
// the CPU.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/sizes.h"

PG_KERNEL mlp_act_fwd(float *out, const float *in, size_t n, float slope)
{
    size_t i = pg_thread_index();
    if (i < n) {
        float a = in[i] > 0 ? in[i] : slope * in[i];
        out[i] = a * a;
    }
}

PG_KERNEL mlp_act_bwd(float *din, const float *dout, const float *in, size_t n, float slope)
{
    size_t i = pg_thread_index();
    if (i < n) {
        float a = in[i] > 0 ? in[i] : slope * in[i];
        float da = in[i] > 0 ? 1.0f : slope;
        din[i] += dout[i] * 2 * a * da;
    }
}

PG_KERNEL softcap_fwd(float *x, size_t n, float cap)
{
    size_t i = pg_thread_index();
    if (i < n)
        x[i] = cap * tanhf(x[i] / cap);
}

// Row max and sum of exp(z - max) in double, shared by the loss and its gradient.
__device__ void row_stats(const float *z, int vocab, float *mx_out, double *sum_out)
{
    __shared__ float shf[PG_CU_ROW_THREADS];
    __shared__ double shd[PG_CU_ROW_THREADS];
    float mx = -PG_INF;
    for (int j = threadIdx.x; j < vocab; j += blockDim.x)
        mx = fmaxf(mx, z[j]);
    mx = pg_block_max(mx, shf);
    double sum = 0;
    for (int j = threadIdx.x; j < vocab; j += blockDim.x)
        sum += exp((double)(z[j] - mx));
    *mx_out = mx;
    *sum_out = pg_block_sum(sum, shd);
}

PG_KERNEL xent_fwd(double *loss, const float *logits, const int *targets, int vocab)
{
    const float *z = logits + (size_t)blockIdx.x * vocab;
    float mx;
    double sum;
    row_stats(z, vocab, &mx, &sum);
    if (threadIdx.x == 0)
        loss[blockIdx.x] = (double)mx + log(sum) - (double)z[targets[blockIdx.x]];
}

PG_KERNEL softcap_xent_bwd(float *dlogits, const float *z, const int *targets, int vocab,
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
