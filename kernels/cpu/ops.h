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

#include "kernels/backend.h"
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

/* RoPE tables [T][rot_dims/2]: angle = t * inv_freq[i], inv_freq[i] = base^(-2i/rot_dims),
 * rounded to the compute type as the reference computes them. */
void pg_rope_tables(pg_real *cos_t, pg_real *sin_t, int T, int rot_dims, pg_real base);
/* Rotates the leading rot_dims of each head in place (rot_dims = head_dim: the whole
 * head), pairs (i, i + rot_dims/2): [x1*cos + x2*sin, -x1*sin + x2*cos]; the other dims
 * pass. x is [B*T][heads][head_dim]; row r is at position r % T. */
void pg_rope_fwd(pg_real *x, const pg_real *cos_t, const pg_real *sin_t, int B, int T, int heads,
                 int head_dim, int rot_dims);
/* The transpose rotation, in place on a gradient: [d1*cos - d2*sin, d1*sin + d2*cos]. */
void pg_rope_bwd(pg_real *dx, const pg_real *cos_t, const pg_real *sin_t, int B, int T,
                 int heads, int head_dim, int rot_dims);

/* Causal softmax attention of one batch element with GQA: query head h reads KV head
 * h / (H / KVH); with span (may be NULL) query t reads keys span[t] .. t only (documents
 * packed in one sequence), the masked probabilities exact zeros. q [T][H][hd], k and v [T][KVH][hd], out [T][H][hd]. Scale 1/sqrt(hd).
 * `state` (pg_attention_state_size reals) keeps the probabilities [H][Tp][Tp], Tp = T
 * rounded up to the block (row t holds the softmax over s <= t, zeros after), then
 * the forward's padded copies of each head. */
void pg_attention_fwd(pg_real *out, pg_real *state, const pg_real *q, const pg_real *k,
                      const pg_real *v, const int *span, int T, int H, int KVH, int hd);
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

/* ---- attention variants of the records' family (attn_variants.c) ---- */

/* XSA: each head's output loses its component along its KV head's normalized value at
 * the same position, out_h = y_h - (y_h . vh) vh with vh = v / max(|v|, 1e-12).
 * y, out [n][H][hd], v [n][KVH][hd]; out may not alias y. */
void pg_xsa_fwd(pg_real *out, const pg_real *y, const pg_real *v, size_t n, int H, int KVH,
                int hd);
/* dy += dout_h - (dout_h . vh) vh; dv += the normalization's Jacobian applied to
 * g = -sum over the group's heads of (y_h . vh) dout_h + (dout_h . vh) y_h. */
void pg_xsa_bwd(pg_real *dy, pg_real *dv, const pg_real *dout, const pg_real *y, const pg_real *v,
                size_t n, int H, int KVH, int hd);

/* Per-head output gates: out[r][h] = y[r][h] * mult * sigmoid(scale * W[h] . src[r][0:win]),
 * W [H][win], src rows of src_dim (the block's normed input). The records' dense gate is
 * win = src_dim, scale 1, mult 1; the sparse one win 12 with its scale; AttnOutGate mult 2.
 * Backward: dy += g dout; dw and dsrc (its first win columns) accumulate. */
void pg_head_gate_fwd(pg_real *out, const pg_real *y, const pg_real *src, const pg_real *w,
                      size_t n, int H, int hd, int src_dim, int win, pg_real scale, int mult);
void pg_head_gate_bwd(pg_real *dy, pg_real *dsrc, pg_real *dw, const pg_real *dout,
                      const pg_real *y, const pg_real *src, const pg_real *w, size_t n, int H,
                      int hd, int src_dim, int win, pg_real scale, int mult);

/* ---- embedding extras of the records' family (embedding_extras.c) ---- */

/* SmearGate over B rows of T positions: out_t = e_t + lam * sigmoid(W . e_t[0:win]) e_{t-1}
 * for t >= 1, W [win], lam a scalar (backend memory); out_0 = e_0. With bos >= 0 the term is
 * zero where ids_t == bos (the records' fix: a document's BOS takes nothing from the one
 * before); bos < 0 smears across it. out may not alias e. Backward: de, dw, dlam
 * accumulate. */
void pg_smear_fwd(pg_real *out, const pg_real *e, const int *ids, const pg_real *w,
                  const pg_real *lam, int B, int T, int dim, int win, int bos);
void pg_smear_bwd(pg_real *de, pg_real *dw, pg_real *dlam, const pg_real *dout, const pg_real *e,
                  const int *ids, const pg_real *w, const pg_real *lam, int B, int T, int dim,
                  int win, int bos);

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
/* x <- x rounded to bfloat16 (nearest even), kept in the compute type */
void pg_round_bf16(pg_real *x, size_t n);
/* y = s d, s [dim] broadcast over rows (its backward is pg_scaled_add_bwd's) */
void pg_col_scale_fwd(pg_real *y, const pg_real *s, const pg_real *d, size_t n, int dim);

/* Gated U-Net skip: with g = sig(z) and k = w (.) skip, out = lerp(k, x, g) as torch
 * computes it (k + g (x - k) for g < 0.5, else x - (x - k)(1 - g)), i.e. g x + (1 - g) k; w, z [dim] broadcast over rows. Backward: dskip += (1 - g) w dout,
 * dw += colsum((1 - g) skip dout), dz += colsum(g (1 - g) (x - k) dout), and writes
 * dx = g dout (dx may alias dout). */
void pg_skip_gate_fwd(pg_real *out, const pg_real *x, const pg_real *skip, const pg_real *w,
                      const pg_real *z, size_t n, int dim);
void pg_skip_gate_bwd(pg_real *dx, pg_real *dskip, pg_real *dw, pg_real *dz, const pg_real *dout,
                      const pg_real *x, const pg_real *skip, const pg_real *w, const pg_real *z,
                      size_t n, int dim);

/* One lane of the parallel residual: y = r lane + pa a + pm m with the scalars *r, *pa,
 * *pm (backend memory). Backward: dlane += r dy, da += pa dy, dm += pm dy, and the
 * scalars' gradients += sum(dy lane), sum(dy a), sum(dy m) (double sums in index order). */
void pg_lane_mix_fwd(pg_real *y, const pg_real *lane, const pg_real *a, const pg_real *m,
                     const pg_real *r, const pg_real *pa, const pg_real *pm, size_t n);
void pg_lane_mix_bwd(pg_real *dlane, pg_real *da, pg_real *dm, pg_real *dr, pg_real *dpa,
                     pg_real *dpm, const pg_real *dy, const pg_real *lane, const pg_real *a,
                     const pg_real *m, const pg_real *r, const pg_real *pa, const pg_real *pm,
                     size_t n);

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
 * rows > cols, then pg_ns_iterations(coeffs, steps) iterations of
 * X <- aX + (bA + cA^2)X with A = X X^T and iteration i's (a, b, c) from
 * kernels/newton_schulz.h. scratch holds 3*m*m + 2*m*n reals for m = min(rows, cols),
 * n = max(rows, cols). */
void pg_newton_schulz5(pg_real *x, int rows, int cols, int steps, int coeffs, pg_real *scratch);
size_t pg_muon_scratch(int rows, int cols);
void pg_muon_update(pg_real *p, const pg_real *g, pg_real *buf, int rows, int cols,
                    pg_real momentum, pg_real lr, const pg_muon_ns *ns, pg_real *scratch);
void pg_ema_update(pg_real *ema, const pg_real *p, size_t n, double decay);

#endif
