/* The one table of what a compute backend provides (docs/architecture.md).
 *
 * The model graph (kernels/model.c), the optimizers (kernels/optim.c) and everything
 * above them compute only through this table, so a backend slots in underneath without
 * any of them changing. Pointers passed to the ops are the backend's memory (from
 * `alloc`), except where a comment says host. Shapes follow kernels/cpu/ops.h: row-major,
 * activations [N][dim], linear weights [out][in]. Backward ops ACCUMULATE (+=) into
 * their gradient outputs unless they say "writes". `scratch` arguments are workspace the
 * caller sized with the matching *_scratch function (counted in pg_real elements); ops
 * never allocate. The CPU backend (kernels/cpu/) is the definition of every op. */
#ifndef PG_BACKEND_H
#define PG_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels/newton_schulz.h"
#include "kernels/real.h"

/* How Muon orthogonalizes an update (muon_update). */
typedef struct {
    int steps;         /* MUON_BACKEND_STEPS */
    int coeffs;        /* PG_NS_CLASSIC or PG_NS_POLAR_EXPRESS */
    int row_normalize; /* MUON_ROW_NORMALIZE */
} pg_muon_ns;

typedef struct pg_backend pg_backend;
struct pg_backend {
    const char *name;
    int host_memory; /* 1: the backend's memory is host memory (pointers are shared) */
    /* Where it computes, for logs and manifests: the device and the library versions. */
    void (*describe)(char *buf, size_t n);

    /* ---- memory ---- */
    void *(*alloc)(size_t bytes); /* zero-filled; NULL when out of memory */
    void (*free)(void *p);
    void (*to_device)(void *dst, const void *host_src, size_t bytes);
    void (*to_host)(void *host_dst, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes); /* within the backend */
    void (*zero)(void *p, size_t bytes);

    /* The linear layers' (and Newton-Schulz's) products: 1 = bf16 inputs with float32
     * accumulation (the reference's autocast), 0 = float32. Sets the mode when on >= 0 and
     * returns the previous one. NULL: always float32 (the CPU). */
    int (*linear_bf16)(int on);

    /* Readies what a model of this head_dim needs before any timed work (CUDA: the
     * attention's kernels when they are compiled at run time, as in the box build); the
     * model calls it when created on or moved to the backend. 0 or -1 (message). NULL:
     * nothing to ready (the CPU). */
    int (*prepare_head_dim)(int head_dim);

    /* ---- model ops, forward and backward side by side ---- */
    /* out[n][o] = sum_i in[n][i] * w[o][i] */
    void (*linear_fwd)(pg_real *out, const pg_real *in, const pg_real *w, int n, int in_dim,
                       int out_dim);
    /* din += dout @ w (skipped when din is NULL); dw += dout^T @ in */
    void (*linear_bwd)(pg_real *din, pg_real *dw, const pg_real *dout, const pg_real *in,
                       const pg_real *w, int n, int in_dim, int out_dim);

    /* out = in / sqrt(mean(in^2) + eps) per row, rstd keeps 1/sqrt(.); out may alias in */
    void (*rmsnorm_fwd)(pg_real *out, pg_real *rstd, const pg_real *in, int n, int dim,
                        pg_real eps);
    void (*rmsnorm_bwd)(pg_real *din, const pg_real *dout, const pg_real *in,
                        const pg_real *rstd, int n, int dim);

    /* RoPE tables [T][rot_dims/2]; rotations in place of the leading rot_dims of each
     * head over [B*T][heads][head_dim] (rot_dims = head_dim: all of it) */
    void (*rope_tables)(pg_real *cos_t, pg_real *sin_t, int T, int rot_dims, pg_real base);
    void (*rope_fwd)(pg_real *x, const pg_real *cos_t, const pg_real *sin_t, int B, int T,
                     int heads, int head_dim, int rot_dims);
    void (*rope_bwd)(pg_real *dx, const pg_real *cos_t, const pg_real *sin_t, int B, int T,
                     int heads, int head_dim, int rot_dims);

    /* Causal GQA attention over B sequences: q [B*T][H][hd], k and v [B*T][KVH][hd],
     * out [B*T][H][hd]. span (backend memory, may be NULL) masks documents: query t of a
     * sequence reads keys span[b*T + t] .. t only (span[.] <= t; NULL: 0 .. t). `state` is what the forward keeps for the backward, in a form the
     * backend picks and sizes (attention_state_size reals): the CPU keeps the
     * probabilities (kernels/cpu/ops.h), a fused kernel only each row's log-sum-exp. The
     * backward takes the forward's out and state. */
    void (*attention_fwd)(pg_real *out, pg_real *state, const pg_real *q, const pg_real *k,
                          const pg_real *v, const int *span, int B, int T, int H, int KVH,
                          int hd);
    void (*attention_bwd)(pg_real *dq, pg_real *dk, pg_real *dv, const pg_real *dout,
                          const pg_real *out, const pg_real *state, const pg_real *q,
                          const pg_real *k, const pg_real *v, const int *span, int B, int T,
                          int H, int KVH, int hd, pg_real *scratch);
    size_t (*attention_state_size)(int B, int T, int H, int hd);
    size_t (*attention_bwd_scratch)(int T, int KVH, int hd);

    /* XSA over [n][H][hd] with values [n][KVH][hd] (kernels/cpu/ops.h): out = y minus its
     * component along the normalized own value; backward accumulates dy and dv. */
    void (*xsa_fwd)(pg_real *out, const pg_real *y, const pg_real *v, size_t n, int H, int KVH,
                    int hd);
    void (*xsa_bwd)(pg_real *dy, pg_real *dv, const pg_real *dout, const pg_real *y,
                    const pg_real *v, size_t n, int H, int KVH, int hd);

    /* Per-head output gates out = y * mult * sigmoid(scale * W[h] . src[r][0:win]) over
     * [n][H][hd], src rows of src_dim (kernels/cpu/ops.h); backward accumulates dy, dsrc,
     * dw. */
    void (*head_gate_fwd)(pg_real *out, const pg_real *y, const pg_real *src, const pg_real *w,
                          size_t n, int H, int hd, int src_dim, int win, pg_real scale, int mult);
    void (*head_gate_bwd)(pg_real *dy, pg_real *dsrc, pg_real *dw, const pg_real *dout,
                          const pg_real *y, const pg_real *src, const pg_real *w, size_t n, int H,
                          int hd, int src_dim, int win, pg_real scale, int mult);
    /* SmearGate over B rows of T (kernels/cpu/ops.h); ids and lam in backend memory, bos < 0
     * for no BOS mask; backward accumulates de, dw, dlam. */
    void (*smear_fwd)(pg_real *out, const pg_real *e, const int *ids, const pg_real *w,
                      const pg_real *lam, int B, int T, int dim, int win, int bos);
    void (*smear_bwd)(pg_real *de, pg_real *dw, pg_real *dlam, const pg_real *dout,
                      const pg_real *e, const int *ids, const pg_real *w, const pg_real *lam, int B,
                      int T, int dim, int win, int bos);

    /* relu(x)^2 or leaky_relu(x, 0.5)^2 (PG_MLP_*) */
    void (*mlp_act_fwd)(pg_real *out, const pg_real *in, size_t n, int act);
    void (*mlp_act_bwd)(pg_real *din, const pg_real *dout, const pg_real *in, size_t n, int act);

    /* Softcapped logits z = cap * tanh(x / cap) in place, then per-row losses in double
     * (loss[r] = logsumexp(z[r]) - z[r][target[r]]); returns their sum (host). */
    void (*softcap_fwd)(pg_real *x, size_t n, pg_real cap);
    double (*xent_fwd)(double *loss, const pg_real *logits, const int *targets, int n,
                       int vocab);
    /* Writes the gradient w.r.t. the pre-softcap logits of sum_r dloss * loss[r]. */
    void (*softcap_xent_bwd)(pg_real *dlogits, const pg_real *z, const int *targets, int n,
                             int vocab, pg_real cap, double dloss);

    /* out[r] = table[ids[r]] (rows of dim); backward dtable[ids[r]] += dout[r], rows in
     * order (a repeated id sums its rows in position order) */
    void (*embedding_fwd)(pg_real *out, const pg_real *table, const int *ids, int n, int dim);
    void (*embedding_bwd)(pg_real *dtable, const pg_real *dout, const int *ids, int n, int dim);

    /* Residual mix: out = mix[0] (.) x + mix[1] (.) x0, mix [2][dim] broadcast over rows.
     * Backward: dmix += column sums of (dout x, dout x0); dx0 += mix[1] dout; writes
     * dx = mix[0] dout (dx may alias dout). */
    void (*resid_mix_fwd)(pg_real *out, const pg_real *x, const pg_real *x0, const pg_real *mix,
                          size_t n, int dim);
    void (*resid_mix_bwd)(pg_real *dx, pg_real *dx0, pg_real *dmix, const pg_real *dout,
                          const pg_real *x, const pg_real *x0, const pg_real *mix, size_t n,
                          int dim);

    /* Scaled residual add y = x + s (.) d, s [dim] broadcast over rows (the attention and
     * MLP branches, and the U-Net skips). Backward: ds += column sums of dy d; writes
     * dd = s dy (scaled_add_bwd) or adds it (skip_add_bwd, a skip feeds several uses). */
    void (*scaled_add_fwd)(pg_real *y, const pg_real *x, const pg_real *s, const pg_real *d,
                           size_t n, int dim);
    void (*scaled_add_bwd)(pg_real *dd, pg_real *ds, const pg_real *dy, const pg_real *d,
                           const pg_real *s, size_t n, int dim);
    void (*skip_add_bwd)(pg_real *dd, pg_real *ds, const pg_real *dy, const pg_real *d,
                         const pg_real *s, size_t n, int dim);
    /* y += x */
    void (*add)(pg_real *y, const pg_real *x, size_t n);
    /* x rounded to bfloat16 in place (nearest even; NaN and infinities kept): the bf16
     * mode's rounding points (kernels/model.h) */
    void (*round_bf16)(pg_real *x, size_t n);
    /* y = s (.) d, s [dim] broadcast over rows; its backward is scaled_add_bwd's */
    void (*col_scale_fwd)(pg_real *y, const pg_real *s, const pg_real *d, size_t n, int dim);

    /* Gated U-Net skip out = g x + (1 - g) (w (.) skip), g = sigmoid(z), w and z [dim]
     * broadcast over rows. Backward accumulates dskip, dw, dz and writes dx = g dout (dx
     * may alias dout). */
    void (*skip_gate_fwd)(pg_real *out, const pg_real *x, const pg_real *skip, const pg_real *w,
                          const pg_real *z, size_t n, int dim);
    void (*skip_gate_bwd)(pg_real *dx, pg_real *dskip, pg_real *dw, pg_real *dz,
                          const pg_real *dout, const pg_real *x, const pg_real *skip,
                          const pg_real *w, const pg_real *z, size_t n, int dim);
    /* A parallel-residual lane y = r lane + pa a + pm m, the scalars *r, *pa, *pm in backend
     * memory. Backward accumulates dlane, da, dm and the scalars' gradients. */
    void (*lane_mix_fwd)(pg_real *y, const pg_real *lane, const pg_real *a, const pg_real *m,
                         const pg_real *r, const pg_real *pa, const pg_real *pm, size_t n);
    void (*lane_mix_bwd)(pg_real *dlane, pg_real *da, pg_real *dm, pg_real *dr, pg_real *dpa,
                         pg_real *dpm, const pg_real *dy, const pg_real *lane, const pg_real *a,
                         const pg_real *m, const pg_real *r, const pg_real *pa, const pg_real *pm,
                         size_t n);

    /* Per-head query gain: q = qn (.) gain[h] over [n][H][hd]. Backward: dgain[h] +=
     * sum dq qn; dq is scaled in place to the gradient of qn. */
    void (*q_gain_fwd)(pg_real *q, const pg_real *qn, const pg_real *gain, size_t n, int H,
                       int hd);
    void (*q_gain_bwd)(pg_real *dq, pg_real *dgain, const pg_real *qn, const pg_real *gain,
                       size_t n, int H, int hd);

    /* ---- optimizer updates ---- */
    /* *acc += sum g^2 in double (the CPU sums in index order); g = g * coef */
    void (*sumsq)(double *acc, const pg_real *g, size_t n);
    void (*scale)(pg_real *g, size_t n, double coef);
    /* torch.optim.SGD with momentum (no dampening, no Nesterov): buf = mu buf + g,
     * p -= lr buf */
    void (*sgd_update)(pg_real *p, const pg_real *g, pg_real *buf, size_t n, pg_real momentum,
                       pg_real lr);
    /* Adam as torch computes it: m, v moments with (beta1, beta2) rounded to pg_real,
     * p -= lr / bc1 * m / (sqrt(v) / bc2_sqrt + eps) */
    void (*adam_update)(pg_real *p, const pg_real *g, pg_real *m, pg_real *v, size_t n,
                        double beta1, double beta2, double eps, double lr, double bc1,
                        double bc2_sqrt);
    /* Muon on one [rows][cols] matrix: buf = mu buf + g; u = g + mu buf; with
     * ns->row_normalize (MuonEq-R) each row of u divided by max(|row|_2, 1e-7) (the norm
     * summed in double, rounded to float); u = NS(u) with ns->steps iterations of the
     * ns->coeffs schedule (kernels/newton_schulz.h); p -= lr u (lr already shape-scaled). */
    void (*muon_update)(pg_real *p, const pg_real *g, pg_real *buf, int rows, int cols,
                        pg_real momentum, pg_real lr, const pg_muon_ns *ns, pg_real *scratch);
    size_t (*muon_scratch)(int rows, int cols);
    /* The orthogonalization alone, in place on x [rows][cols]. */
    void (*newton_schulz5)(pg_real *x, int rows, int cols, int steps, int coeffs,
                           pg_real *scratch);
    /* The weights' exponential moving average: ema = p (1 - decay) + ema decay, as one
     * fused multiply-add over ema rounded times decay (both factors rounded to float). */
    void (*ema_update)(pg_real *ema, const pg_real *p, size_t n, double decay);

    /* ---- multi-process ---- */
    /* A launched run's group. group_id (rank 0, before the rendezvous) draws the id the
     * rendezvous hands every rank; group_join (every rank, after it) joins with it on the
     * process's device. NULL on the CPU, whose group is the rendezvous sockets themselves;
     * CUDA: NCCL's unique id, then GPU local_rank and an NCCL communicator. */
    int (*group_id)(uint8_t *id, size_t len);
    int (*group_join)(const uint8_t *id, size_t len, int rank, int world, int local_rank);
    /* Sums `n` reals across processes in place; the identity on one process. */
    int (*all_reduce_sum)(pg_real *x, size_t n);
};

/* Host access to `bytes` of be's memory at p: p itself on a host-memory backend, else a
 * malloc'd host copy (filled from p when `fetch`); NULL when out of memory. Release
 * writes the copy back when `store` and frees it. */
static inline void *pg_host_acquire(const pg_backend *be, void *p, size_t bytes, int fetch)
{
    if (be->host_memory)
        return p;
    void *h = malloc(bytes ? bytes : 1);
    if (h && fetch)
        be->to_host(h, p, bytes);
    return h;
}

static inline void pg_host_release(const pg_backend *be, void *p, void *host, size_t bytes,
                                   int store)
{
    if (be->host_memory || !host)
        return;
    if (store)
        be->to_device(p, host, bytes);
    free(host);
}

/* The CPU reference backend (kernels/cpu/). */
const pg_backend *pg_backend_cpu(void);

/* The backend named cpu, cuda or auto (NULL or "": cpu). cuda fails (message) without a
 * CUDA build, driver or device; auto then takes the CPU and writes why into note ("" when
 * nothing needs saying). */
int pg_backend_select(const char *name, const pg_backend **be, char *note, size_t note_len);

#endif
