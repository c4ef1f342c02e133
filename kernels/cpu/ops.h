/* CPU reference ops of the baseline model: the readable definition of each op, its
 * forward and backward side by side.
 *
 * Layouts are row-major. A "row" is one token position; activations are [N][dim]
 * with N = batch * seq positions. Linear weights are [out][in] as in torch.nn.Linear.
 * Backward functions ACCUMULATE (+=) into their gradient outputs, so a tensor used
 * twice (the tied embedding, the residual stream) sums its gradients; callers zero.
 * Sums run in a fixed order, so results are bit-reproducible run to run. */
#ifndef PG_OPS_H
#define PG_OPS_H

#include <stddef.h>

#include "kernels/real.h"

/* Elementwise and row-wise ops split their rows over OpenMP threads from this many
 * elements on (each element or row is computed whole by one thread: the same bits). */
enum { PG_OMP_MIN = 1 << 15 };

/* out[n][o] = sum_i in[n][i] * w[o][i] */
void pg_linear_fwd(pg_real *out, const pg_real *in, const pg_real *w, int n, int in_dim,
                   int out_dim);
/* din += dout @ w (skipped when din is NULL); dw += dout^T @ in */
void pg_linear_bwd(pg_real *din, pg_real *dw, const pg_real *dout, const pg_real *in,
                   const pg_real *w, int n, int in_dim, int out_dim);

/* out = in / sqrt(mean(in^2) + eps) over each row of `dim`; rstd[n] keeps 1/sqrt(.).
 * out may alias in. */
void pg_rmsnorm_fwd(pg_real *out, pg_real *rstd, const pg_real *in, int n, int dim, pg_real eps);
/* din += rstd * dout - in * rstd^3 * (dout . in) / dim */
void pg_rmsnorm_bwd(pg_real *din, const pg_real *dout, const pg_real *in, const pg_real *rstd,
                    int n, int dim);

/* RoPE tables [T][head_dim/2]: angle = t * inv_freq[i], inv_freq[i] = base^(-2i/head_dim),
 * rounded to the compute type as the reference computes them. */
void pg_rope_tables(pg_real *cos_t, pg_real *sin_t, int T, int head_dim, pg_real base);
/* Rotates halves in place: [x1*cos + x2*sin, -x1*sin + x2*cos]. x is [B*T][heads][head_dim];
 * row r is at position r % T. */
void pg_rope_fwd(pg_real *x, const pg_real *cos_t, const pg_real *sin_t, int B, int T, int heads,
                 int head_dim);
/* The transpose rotation, in place on a gradient: [d1*cos - d2*sin, d1*sin + d2*cos]. */
void pg_rope_bwd(pg_real *dx, const pg_real *cos_t, const pg_real *sin_t, int B, int T,
                 int heads, int head_dim);

/* Causal softmax attention of one batch element with GQA: query head h reads KV head
 * h / (H / KVH). q [T][H][hd], k and v [T][KVH][hd], out [T][H][hd]. Scale 1/sqrt(hd).
 * `state` (pg_attention_state_size reals) keeps the probabilities [H][Tp][Tp], Tp = T
 * rounded up to the block (row t holds the softmax over s <= t, zeros after), then
 * the forward's padded copies of each head. */
void pg_attention_fwd(pg_real *out, pg_real *state, const pg_real *q, const pg_real *k,
                      const pg_real *v, int T, int H, int KVH, int hd);
size_t pg_attention_state_size(int T, int H, int hd);
/* dq, dk, dv += gradients given dout and the forward's state. scratch holds
 * pg_attention_bwd_scratch(T, KVH, hd) reals. */
void pg_attention_bwd(pg_real *dq, pg_real *dk, pg_real *dv, const pg_real *dout,
                      const pg_real *state, const pg_real *q, const pg_real *k, const pg_real *v,
                      int T, int H, int KVH, int hd, pg_real *scratch);
size_t pg_attention_bwd_scratch(int T, int KVH, int hd);

/* MLP activation: relu(x)^2, or leaky_relu(x, 0.5)^2. */
void pg_mlp_act_fwd(pg_real *out, const pg_real *in, size_t n, int act);
/* din += dout * 2 a(x) a'(x) with a = (leaky) relu */
void pg_mlp_act_bwd(pg_real *din, const pg_real *dout, const pg_real *in, size_t n, int act);

/* x <- cap * tanh(x / cap) in place. */
void pg_softcap_fwd(pg_real *x, size_t n, pg_real cap);

/* loss[r] = logsumexp(logits[r]) - logits[r][target[r]], in double; returns their sum. */
double pg_xent_fwd(double *loss, const pg_real *logits, const int *targets, int n, int vocab);

/* Gradient w.r.t. the pre-softcap logits of sum_r dloss * loss[r], given the softcapped
 * logits z: (softmax(z) - onehot(target)) * dloss * (1 - (z/cap)^2). Overwrites dlogits. */
void pg_softcap_xent_bwd(pg_real *dlogits, const pg_real *z, const int *targets, int n, int vocab,
                         pg_real cap, double dloss);

/* ---- embedding, residual stream and control tensors (elementwise.c) ---- */

/* out[r] = table[ids[r]]; backward dtable[ids[r]] += dout[r] in row order */
void pg_embedding_fwd(pg_real *out, const pg_real *table, const int *ids, int n, int dim);
void pg_embedding_bwd(pg_real *dtable, const pg_real *dout, const int *ids, int n, int dim);

/* out = mix[0] x + mix[1] x0; backward dmix += colsum(dout x, dout x0), dx0 += mix[1]
 * dout, dx = mix[0] dout (written; may alias dout) */
void pg_resid_mix_fwd(pg_real *out, const pg_real *x, const pg_real *x0, const pg_real *mix,
                      size_t n, int dim);
void pg_resid_mix_bwd(pg_real *dx, pg_real *dx0, pg_real *dmix, const pg_real *dout,
                      const pg_real *x, const pg_real *x0, const pg_real *mix, size_t n, int dim);

/* y = x + s d; backward ds += colsum(dy d) and dd = s dy (written) or dd += s dy (skip) */
void pg_scaled_add_fwd(pg_real *y, const pg_real *x, const pg_real *s, const pg_real *d,
                       size_t n, int dim);
void pg_scaled_add_bwd(pg_real *dd, pg_real *ds, const pg_real *dy, const pg_real *d,
                       const pg_real *s, size_t n, int dim);
void pg_skip_add_bwd(pg_real *dd, pg_real *ds, const pg_real *dy, const pg_real *d,
                     const pg_real *s, size_t n, int dim);
/* y += x */
void pg_add(pg_real *y, const pg_real *x, size_t n);

/* q = qn gain[h]; backward dgain[h] += sum dq qn, then dq *= gain[h] */
void pg_q_gain_fwd(pg_real *q, const pg_real *qn, const pg_real *gain, size_t n, int H, int hd);
void pg_q_gain_bwd(pg_real *dq, pg_real *dgain, const pg_real *qn, const pg_real *gain,
                   size_t n, int H, int hd);

/* ---- optimizer updates (optim_ops.c) ---- */

void pg_sumsq(double *acc, const pg_real *g, size_t n);
void pg_scale(pg_real *g, size_t n, double coef);
void pg_sgd_update(pg_real *p, const pg_real *g, pg_real *buf, size_t n, pg_real momentum,
                   pg_real lr);
void pg_adam_update(pg_real *p, const pg_real *g, pg_real *m, pg_real *v, size_t n,
                    double beta1, double beta2, double eps, double lr, double bc1,
                    double bc2_sqrt);
/* Orthogonalizes X [rows][cols] in place: X/(||X||_F + 1e-7), transposed when
 * rows > cols, then `steps` iterations of X <- aX + (bA + cA^2)X with A = X X^T and
 * (a, b, c) = (3.4445, -4.7750, 2.0315). scratch holds 3*m*m + 3*m*n reals for
 * m = min(rows, cols), n = max(rows, cols). */
void pg_newton_schulz5(pg_real *x, int rows, int cols, int steps, pg_real *scratch);
size_t pg_muon_scratch(int rows, int cols);
void pg_muon_update(pg_real *p, const pg_real *g, pg_real *buf, int rows, int cols,
                    pg_real momentum, pg_real lr, int ns_steps, pg_real *scratch);

#endif
