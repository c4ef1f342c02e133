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
 * h / (H / KVH). q [T][H][hd], k and v [T][KVH][hd], out [T][H][hd], probs [H][T][T]
 * (row t holds the softmax over s <= t, zeros after). Scale 1/sqrt(hd). */
void pg_attention_fwd(pg_real *out, pg_real *probs, const pg_real *q, const pg_real *k,
                      const pg_real *v, int T, int H, int KVH, int hd);
/* dq, dk, dv += gradients given dout and the forward's probs. */
void pg_attention_bwd(pg_real *dq, pg_real *dk, pg_real *dv, const pg_real *dout,
                      const pg_real *probs, const pg_real *q, const pg_real *k, const pg_real *v,
                      int T, int H, int KVH, int hd);

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

#endif
