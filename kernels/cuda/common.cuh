// Shared by the CUDA backend's op files: error checks, launch sizes, deterministic
// reductions and the backend's workspace. Every op runs on the default stream, so ops are
// ordered as the model graph calls them.
#pragma once

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "kernels/backend.h"
}

#ifdef PG_REAL_DOUBLE
#error "the CUDA backend computes in float32 (pg_real is double in this build)"
#endif

// A failed CUDA call ends the process with one line naming the call: an op has no error
// return, and computing on after a device error would give garbage.
void pg_cuda_die(cudaError_t e, const char *what, const char *file, int line);
#define PG_CUDA(x)                                                                       \
    do {                                                                                 \
        cudaError_t e_ = (x);                                                            \
        if (e_ != cudaSuccess)                                                           \
            pg_cuda_die(e_, #x, __FILE__, __LINE__);                                     \
    } while (0)
#define PG_CUDA_LAUNCHED() PG_CUDA(cudaGetLastError())

static inline unsigned pg_blocks(size_t n, int threads)
{
    return (unsigned)((n + (size_t)threads - 1) / (size_t)threads);
}

// A device buffer of at least `bytes`, reused by every op that needs temporary room
// beyond the caller's scratch (grown when needed; cudaFree waits for the device).
void *pg_cuda_workspace(size_t bytes);

// Block-wide sum and max over blockDim.x threads (a power of two, at most 1024) in a
// fixed tree order: the same bits every run. `sh` holds blockDim.x values.
template <typename T> __device__ T pg_block_sum(T v, T *sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    T r = sh[0];
    __syncthreads();
    return r;
}

__device__ inline float pg_block_max(float v, float *sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            sh[threadIdx.x] = fmaxf(sh[threadIdx.x], sh[threadIdx.x + s]);
        __syncthreads();
    }
    float r = sh[0];
    __syncthreads();
    return r;
}

// Sum over the 32 lanes of a warp (butterfly: every lane gets the same bits).
__device__ inline float pg_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// The op entry points of each file, gathered into the table by backend.cu.
void pg_cuda_linear_fwd(float *out, const float *in, const float *w, int n, int in_dim, int out_dim);
void pg_cuda_linear_bwd(float *din, float *dw, const float *dout, const float *in, const float *w,
                        int n, int in_dim, int out_dim, float *scratch);
size_t pg_cuda_linear_bwd_scratch(int n, int in_dim, int out_dim);
int pg_cuda_linear_bf16(int on);
// out (m x n) = a (m x k) @ b (k x n), all row-major (Newton-Schulz's B X)
void pg_cuda_matmul_nn(float *out, const float *a, const float *b, int m, int k, int n);

void pg_cuda_rmsnorm_fwd(float *out, float *rstd, const float *in, int n, int dim, float eps);
void pg_cuda_rmsnorm_bwd(float *din, const float *dout, const float *in, const float *rstd, int n,
                         int dim);
void pg_cuda_rope_tables(float *cos_t, float *sin_t, int T, int head_dim, float base);
void pg_cuda_rope_fwd(float *x, const float *cos_t, const float *sin_t, int B, int T, int heads,
                      int head_dim);
void pg_cuda_rope_bwd(float *dx, const float *cos_t, const float *sin_t, int B, int T, int heads,
                      int head_dim);
// state: the log-sum-exp of each row [B][H][T] (attention.cu)
void pg_cuda_attention_fwd(float *out, float *state, const float *q, const float *k, const float *v,
                           int B, int T, int H, int KVH, int hd);
void pg_cuda_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *out,
                           const float *state, const float *q, const float *k, const float *v, int B,
                           int T, int H, int KVH, int hd, float *scratch);
size_t pg_cuda_attention_state_size(int B, int T, int H);
size_t pg_cuda_attention_bwd_scratch(int T, int KVH);
void pg_cuda_mlp_act_fwd(float *out, const float *in, size_t n, int act);
void pg_cuda_mlp_act_bwd(float *din, const float *dout, const float *in, size_t n, int act);
void pg_cuda_softcap_fwd(float *x, size_t n, float cap);
double pg_cuda_xent_fwd(double *loss, const float *logits, const int *targets, int n, int vocab);
void pg_cuda_softcap_xent_bwd(float *dlogits, const float *z, const int *targets, int n, int vocab,
                              float cap, double dloss);
void pg_cuda_embedding_fwd(float *out, const float *table, const int *ids, int n, int dim);
void pg_cuda_embedding_bwd(float *dtable, const float *dout, const int *ids, int n, int dim);
void pg_cuda_resid_mix_fwd(float *out, const float *x, const float *x0, const float *mix, size_t n,
                           int dim);
void pg_cuda_resid_mix_bwd(float *dx, float *dx0, float *dmix, const float *dout, const float *x,
                           const float *x0, const float *mix, size_t n, int dim);
void pg_cuda_scaled_add_fwd(float *y, const float *x, const float *s, const float *d, size_t n,
                            int dim);
void pg_cuda_scaled_add_bwd(float *dd, float *ds, const float *dy, const float *d, const float *s,
                            size_t n, int dim);
void pg_cuda_skip_add_bwd(float *dd, float *ds, const float *dy, const float *d, const float *s,
                          size_t n, int dim);
void pg_cuda_add(float *y, const float *x, size_t n);
void pg_cuda_q_gain_fwd(float *q, const float *qn, const float *gain, size_t n, int H, int hd);
void pg_cuda_q_gain_bwd(float *dq, float *dgain, const float *qn, const float *gain, size_t n, int H,
                        int hd);
void pg_cuda_sumsq(double *acc, const float *g, size_t n);
// The sum of x^2 in double, left in device memory (the workspace: valid until its next use)
const double *pg_cuda_sumsq_device(const float *x, size_t n);
void pg_cuda_scale(float *g, size_t n, double coef);
void pg_cuda_sgd_update(float *p, const float *g, float *buf, size_t n, float momentum, float lr);
void pg_cuda_adam_update(float *p, const float *g, float *m, float *v, size_t n, double beta1,
                         double beta2, double eps, double lr, double bc1, double bc2_sqrt);
void pg_cuda_newton_schulz5(float *x, int rows, int cols, int steps, float *scratch);
void pg_cuda_muon_update(float *p, const float *g, float *buf, int rows, int cols, float momentum,
                         float lr, int ns_steps, float *scratch);
size_t pg_cuda_muon_scratch(int rows, int cols);

// The process group (nccl.cu; pg_cuda_group_id and the NCCL version in backend_cuda.h):
// joining it on GPU local_rank, and the all-reduce.
int pg_cuda_group_join(const uint8_t *id, size_t len, int rank, int world, int local_rank);
int pg_cuda_all_reduce_sum(float *x, size_t n);
