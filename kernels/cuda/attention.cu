// Causal GQA attention, forward and backward side by side, with the probabilities kept
// for the backward pass as the CPU reference does (kernels/cpu/ops.c). q [B*T][H][hd],
// k and v [B*T][KVH][hd], probs [B][H][T][T]. Each output element is summed by one thread
// over positions in order, so results do not depend on scheduling.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cuda/common.cuh"

#define ATT_THREADS 128
#define MAX_HEAD_DIM 256

// One block per (query t, head h, sequence b).
__global__ void attention_fwd(float *out, float *probs, const float *q, const float *k,
                              const float *v, int T, int H, int KVH, int hd, float scale)
{
    extern __shared__ float p[]; // [T]
    __shared__ float shf[ATT_THREADS];
    __shared__ double shd[ATT_THREADS];
    int t = blockIdx.x, h = blockIdx.y, b = blockIdx.z, g = h / (H / KVH);
    size_t row = (size_t)b * T;
    const float *qt = q + ((row + t) * H + h) * hd;
    float mx = -INFINITY;
    for (int s = threadIdx.x; s <= t; s += blockDim.x) {
        const float *ks = k + ((row + s) * KVH + g) * hd;
        float d = 0;
        for (int i = 0; i < hd; i++)
            d += qt[i] * ks[i];
        p[s] = d * scale;
        mx = fmaxf(mx, p[s]);
    }
    mx = pg_block_max(mx, shf);
    double sum = 0;
    for (int s = threadIdx.x; s <= t; s += blockDim.x) {
        p[s] = expf(p[s] - mx);
        sum += p[s];
    }
    sum = pg_block_sum(sum, shd);
    float inv = (float)(1.0 / sum);
    float *prow = probs + (((size_t)b * H + h) * T + t) * T;
    for (int s = threadIdx.x; s < T; s += blockDim.x) {
        float ps = s <= t ? p[s] * inv : 0.0f;
        if (s <= t)
            p[s] = ps;
        prow[s] = ps;
    }
    __syncthreads();
    float *o = out + ((row + t) * H + h) * hd;
    for (int i = threadIdx.x; i < hd; i += blockDim.x) {
        float acc = 0;
        for (int s = 0; s <= t; s++)
            acc += p[s] * v[((row + s) * KVH + g) * hd + i];
        o[i] = acc;
    }
}

void pg_cuda_attention_fwd(float *out, float *probs, const float *q, const float *k, const float *v,
                           int B, int T, int H, int KVH, int hd)
{
    if (B == 0 || T == 0)
        return;
    float scale = (float)(1.0 / sqrt((double)hd));
    dim3 grid(T, H, B);
    attention_fwd<<<grid, ATT_THREADS, (size_t)T * sizeof(float)>>>(out, probs, q, k, v, T, H, KVH,
                                                                    hd, scale);
    PG_CUDA_LAUNCHED();
}

// dq for one (t, h, b): dp_s = dout_t . v_s, delta = sum_s p_s dp_s, and
// dq_t += scale sum_s p_s (dp_s - delta) k_s. delta is kept for the dk/dv kernel.
__global__ void attention_bwd_dq(float *dq, float *delta, const float *dout, const float *probs,
                                 const float *k, const float *v, int T, int H, int KVH, int hd,
                                 float scale)
{
    extern __shared__ float dp[]; // [T]
    __shared__ double shd[ATT_THREADS];
    int t = blockIdx.x, h = blockIdx.y, b = blockIdx.z, g = h / (H / KVH);
    size_t row = (size_t)b * T, bht = ((size_t)b * H + h) * T + t;
    const float *p = probs + bht * T;
    const float *dot_ = dout + ((row + t) * H + h) * hd;
    double pdp = 0;
    for (int s = threadIdx.x; s <= t; s += blockDim.x) {
        const float *vs = v + ((row + s) * KVH + g) * hd;
        float d = 0;
        for (int i = 0; i < hd; i++)
            d += dot_[i] * vs[i];
        dp[s] = d;
        pdp += (double)p[s] * d;
    }
    pdp = pg_block_sum(pdp, shd); // also orders the dp[] writes before the reads below
    float dl = (float)pdp;
    if (threadIdx.x == 0)
        delta[bht] = dl;
    float *dqt = dq + ((row + t) * H + h) * hd;
    for (int i = threadIdx.x; i < hd; i += blockDim.x) {
        float acc = dqt[i];
        for (int s = 0; s <= t; s++)
            acc += p[s] * (dp[s] - dl) * scale * k[((row + s) * KVH + g) * hd + i];
        dqt[i] = acc;
    }
}

// dk and dv for one key position (s, kv head g, b), one warp: the query heads of the group
// and the later positions t >= s add in the CPU's order (heads, then positions).
__global__ void attention_bwd_dkv(float *dk, float *dv, const float *delta, const float *dout,
                                  const float *probs, const float *q, const float *v, int T, int H,
                                  int KVH, int hd, float scale)
{
    int s = blockIdx.x, g = blockIdx.y, b = blockIdx.z, lane = threadIdx.x, group = H / KVH;
    size_t row = (size_t)b * T, kv = ((row + s) * KVH + g) * hd;
    float dk_acc[MAX_HEAD_DIM / 32], dv_acc[MAX_HEAD_DIM / 32];
    int per = (hd + 31) / 32;
    for (int j = 0; j < per; j++) {
        int i = lane + 32 * j;
        dk_acc[j] = i < hd ? dk[kv + i] : 0.0f;
        dv_acc[j] = i < hd ? dv[kv + i] : 0.0f;
    }
    for (int h = g * group; h < (g + 1) * group; h++) {
        for (int t = s; t < T; t++) {
            size_t bht = ((size_t)b * H + h) * T + t;
            float p = probs[bht * T + s];
            const float *dot_ = dout + ((row + t) * H + h) * hd;
            const float *qt = q + ((row + t) * H + h) * hd;
            float part = 0;
            for (int j = 0; j < per; j++) {
                int i = lane + 32 * j;
                if (i < hd)
                    part += dot_[i] * v[kv + i];
            }
            float dp = pg_warp_sum(part);
            float ds = p * (dp - delta[bht]) * scale;
            for (int j = 0; j < per; j++) {
                int i = lane + 32 * j;
                if (i < hd) {
                    dv_acc[j] += p * dot_[i];
                    dk_acc[j] += ds * qt[i];
                }
            }
        }
    }
    for (int j = 0; j < per; j++) {
        int i = lane + 32 * j;
        if (i < hd) {
            dk[kv + i] = dk_acc[j];
            dv[kv + i] = dv_acc[j];
        }
    }
}

size_t pg_cuda_attention_bwd_scratch(int T, int KVH)
{
    (void)T, (void)KVH;
    return 0; // the per-row deltas live in the backend's workspace
}

void pg_cuda_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *probs,
                           const float *q, const float *k, const float *v, int B, int T, int H,
                           int KVH, int hd, float *scratch)
{
    (void)scratch;
    if (B == 0 || T == 0)
        return;
    if (hd > MAX_HEAD_DIM) {
        fprintf(stderr, "pgolf: the CUDA attention supports head_dim <= %d, not %d\n",
                MAX_HEAD_DIM, hd);
        exit(1);
    }
    float scale = (float)(1.0 / sqrt((double)hd));
    float *delta = (float *)pg_cuda_workspace((size_t)B * H * T * sizeof(float));
    attention_bwd_dq<<<dim3(T, H, B), ATT_THREADS, (size_t)T * sizeof(float)>>>(
        dq, delta, dout, probs, k, v, T, H, KVH, hd, scale);
    PG_CUDA_LAUNCHED();
    attention_bwd_dkv<<<dim3(T, KVH, B), 32>>>(dk, dv, delta, dout, probs, q, v, T, H, KVH, hd,
                                               scale);
    PG_CUDA_LAUNCHED();
}
