/* Shared by the CUDA backend's host files: error checks, the module's kernels and their
 * launch, the backend's workspace and each file's op entry points (gathered into the
 * table by backend.c). Every op runs on the default stream, so ops are ordered as the
 * model graph calls them. C over the CUDA runtime's C API; the device code is the .cu
 * files (one module, kernels/cuda/module.cu). */
#ifndef PG_CUDA_HOST_H
#define PG_CUDA_HOST_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"
#include "kernels/cuda/sizes.h"

#ifdef PG_REAL_DOUBLE
#error "the CUDA backend computes in float32 (pg_real is double in this build)"
#endif

/* A failed CUDA call ends the process with one line naming the call: an op has no error
 * return, and computing on after a device error would give garbage. */
void pg_cuda_die(cudaError_t e, const char *what, const char *file, int line);
#define PG_CUDA(x)                                                                       \
    do {                                                                                 \
        cudaError_t e_ = (x);                                                            \
        if (e_ != cudaSuccess)                                                           \
            pg_cuda_die(e_, #x, __FILE__, __LINE__);                                     \
    } while (0)

static inline unsigned pg_blocks(size_t n, int threads)
{
    return (unsigned)((n + (size_t)threads - 1) / (size_t)threads);
}

/* The head_dim the attention's kernels are instantiated for: 32, 64 or 128 (hd <= 128). */
static inline int pg_cuda_padded_head_dim(int hd)
{
    return hd <= 32 ? 32 : hd <= 64 ? 64 : 128;
}

/* The device module (module.c): loaded once at backend selection (0 or -1 with a
 * message), then its kernels by name. */
int pg_cuda_module_load(int major, int minor);
void pg_cuda_module_describe(char *buf, size_t n);
typedef struct {
    const char *name;
    cudaKernel_t fn; /* found on first launch */
} pg_cuda_kernel;
/* Launches k on grid (gx, gy, gz) of `threads` threads; args points at each of the
 * kernel's arguments, which must have its parameters' types exactly (no conversions: a
 * launch by name has no prototype). */
void pg_cuda_launch(pg_cuda_kernel *k, unsigned gx, unsigned gy, unsigned gz, unsigned threads,
                    void **args);
/* PG_LAUNCH(kernel, gx, gy, gz, threads, &arg1, &arg2, ...): the kernel handle is cached
 * per call site. PG_LAUNCH_N launches one thread per element of n elements. */
#define PG_LAUNCH(name, gx, gy, gz, threads, ...)                                        \
    do {                                                                                 \
        static pg_cuda_kernel k_ = {#name, NULL};                                        \
        void *a_[] = {__VA_ARGS__};                                                      \
        pg_cuda_launch(&k_, gx, gy, gz, threads, a_);                                    \
    } while (0)
#define PG_LAUNCH_N(name, n, ...)                                                        \
    PG_LAUNCH(name, pg_blocks(n, PG_CU_THREADS), 1, 1, PG_CU_THREADS, __VA_ARGS__)

/* A device buffer of at least `bytes`, reused by every op that needs temporary room
 * beyond the caller's scratch (grown when needed; cudaFree waits for the device). */
void *pg_cuda_workspace(size_t bytes);

/* The op entry points of each file. */
void pg_cuda_linear_fwd(float *out, const float *in, const float *w, int n, int in_dim, int out_dim);
void pg_cuda_linear_bwd(float *din, float *dw, const float *dout, const float *in, const float *w,
                        int n, int in_dim, int out_dim);
int pg_cuda_linear_bf16(int on);
/* out (m x n) = a (m x k) @ b (k x n), all row-major (Newton-Schulz's B X) */
void pg_cuda_matmul_nn(float *out, const float *a, const float *b, int m, int k, int n);

void pg_cuda_rmsnorm_fwd(float *out, float *rstd, const float *in, int n, int dim, float eps);
void pg_cuda_rmsnorm_bwd(float *din, const float *dout, const float *in, const float *rstd, int n,
                         int dim);
void pg_cuda_rope_tables(float *cos_t, float *sin_t, int T, int rot_dims, float base);
void pg_cuda_rope_fwd(float *x, const float *cos_t, const float *sin_t, int B, int T, int heads,
                      int head_dim, int rot_dims);
void pg_cuda_rope_bwd(float *dx, const float *cos_t, const float *sin_t, int B, int T, int heads,
                      int head_dim, int rot_dims);
/* state: the log-sum-exp of each row [B][H][T] (attention.cu) */
void pg_cuda_attention_fwd(float *out, float *state, const float *q, const float *k, const float *v,
                           const int *span, int B, int T, int H, int KVH, int hd);
void pg_cuda_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *out,
                           const float *state, const float *q, const float *k, const float *v,
                           const int *span, int B, int T, int H, int KVH, int hd, float *scratch);
size_t pg_cuda_attention_state_size(int B, int T, int H, int hd);
size_t pg_cuda_attention_bwd_scratch(int T, int KVH, int hd);
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
void pg_cuda_round_bf16(float *x, size_t n);
void pg_cuda_col_scale_fwd(float *y, const float *s, const float *d, size_t n, int dim);
void pg_cuda_skip_gate_fwd(float *out, const float *x, const float *skip, const float *w,
                           const float *z, size_t n, int dim);
void pg_cuda_skip_gate_bwd(float *dx, float *dskip, float *dw, float *dz, const float *dout,
                           const float *x, const float *skip, const float *w, const float *z,
                           size_t n, int dim);
void pg_cuda_lane_mix_fwd(float *y, const float *lane, const float *a, const float *m,
                          const float *r, const float *pa, const float *pm, size_t n);
void pg_cuda_lane_mix_bwd(float *dlane, float *da, float *dm, float *dr, float *dpa, float *dpm,
                          const float *dy, const float *lane, const float *a, const float *m,
                          const float *r, const float *pa, const float *pm, size_t n);
void pg_cuda_smear_fwd(float *out, const float *e, const int *ids, const float *w,
                       const float *lam, int B, int T, int dim, int win, int bos);
void pg_cuda_smear_bwd(float *de, float *dw, float *dlam, const float *dout, const float *e,
                       const int *ids, const float *w, const float *lam, int B, int T, int dim,
                       int win, int bos);
/* variants.cu */
void pg_cuda_head_gate_fwd(float *out, const float *y, const float *src, const float *w, size_t n,
                           int H, int hd, int src_dim, int win, float scale, int mult);
void pg_cuda_head_gate_bwd(float *dy, float *dsrc, float *dw, const float *dout, const float *y,
                           const float *src, const float *w, size_t n, int H, int hd, int src_dim,
                           int win, float scale, int mult);
void pg_cuda_xsa_fwd(float *out, const float *y, const float *v, size_t n, int H, int KVH, int hd);
void pg_cuda_xsa_bwd(float *dy, float *dv, const float *dout, const float *y, const float *v,
                     size_t n, int H, int KVH, int hd);
void pg_cuda_q_gain_fwd(float *q, const float *qn, const float *gain, size_t n, int H, int hd);
void pg_cuda_q_gain_bwd(float *dq, float *dgain, const float *qn, const float *gain, size_t n, int H,
                        int hd);
/* float32 -> bfloat16 bits (round to nearest even), the GEMMs' bf16 inputs */
void pg_cuda_to_bf16(uint16_t *dst, const float *src, size_t n);
void pg_cuda_sumsq(double *acc, const float *g, size_t n);
/* The sum of x^2 in double, left in device memory (the workspace: valid until its next use) */
const double *pg_cuda_sumsq_device(const float *x, size_t n);
void pg_cuda_scale(float *g, size_t n, double coef);
void pg_cuda_sgd_update(float *p, const float *g, float *buf, size_t n, float momentum, float lr);
void pg_cuda_adam_update(float *p, const float *g, float *m, float *v, size_t n, double beta1,
                         double beta2, double eps, double lr, double bc1, double bc2_sqrt);
void pg_cuda_newton_schulz5(float *x, int rows, int cols, int steps, int coeffs, float *scratch);
void pg_cuda_muon_update(float *p, const float *g, float *buf, int rows, int cols, float momentum,
                         float lr, const pg_muon_ns *ns, float *scratch);
void pg_cuda_ema_update(float *ema, const float *p, size_t n, double decay);
size_t pg_cuda_muon_scratch(int rows, int cols);

/* The process group (nccl.c; pg_cuda_group_id and the NCCL version in backend_cuda.h):
 * joining it on GPU local_rank, and the all-reduce. */
int pg_cuda_group_join(const uint8_t *id, size_t len, int rank, int world, int local_rank);
int pg_cuda_all_reduce_sum(float *x, size_t n);

#endif
