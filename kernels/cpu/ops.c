#include "kernels/cpu/ops.h"

#include <string.h>
#include <tgmath.h>

#include "kernels/config.h"
#include "kernels/cpu/gemm.h"

/* ---- linear ---- */

void pg_linear_fwd(pg_real *out, const pg_real *in, const pg_real *w, int n, int in_dim,
                   int out_dim)
{
    pg_gemm(0, 1, n, out_dim, in_dim, 1, in, in_dim, w, in_dim, 0, out, out_dim);
}

void pg_linear_bwd(pg_real *din, pg_real *dw, const pg_real *dout, const pg_real *in,
                   const pg_real *w, int n, int in_dim, int out_dim)
{
    if (din) /* din += dout @ w */
        pg_gemm(0, 0, n, in_dim, out_dim, 1, dout, out_dim, w, in_dim, 1, din, in_dim);
    /* dw += dout^T @ in: its shape is the layer's, whatever the batch (no padding) */
    pg_gemm_fixed(1, 0, out_dim, in_dim, n, 1, dout, out_dim, in, in_dim, 1, dw, in_dim);
}

/* ---- rms_norm ---- */

void pg_rmsnorm_fwd(pg_real *out, pg_real *rstd, const pg_real *in, int n, int dim, pg_real eps)
{
#pragma omp parallel for schedule(static) if ((size_t)n * dim >= PG_OMP_MIN)
    for (int r = 0; r < n; r++) {
        const pg_real *x = in + (size_t)r * dim;
        pg_real *y = out + (size_t)r * dim;
        double ss = 0;
        for (int i = 0; i < dim; i++)
            ss += (double)x[i] * x[i];
        pg_real s = (pg_real)(1.0 / sqrt(ss / dim + eps));
        rstd[r] = s;
        for (int i = 0; i < dim; i++)
            y[i] = x[i] * s;
    }
}

void pg_rmsnorm_bwd(pg_real *din, const pg_real *dout, const pg_real *in, const pg_real *rstd,
                    int n, int dim)
{
#pragma omp parallel for schedule(static) if ((size_t)n * dim >= PG_OMP_MIN)
    for (int r = 0; r < n; r++) {
        const pg_real *x = in + (size_t)r * dim, *dy = dout + (size_t)r * dim;
        pg_real *dx = din + (size_t)r * dim;
        double s = rstd[r], proj = 0;
        for (int i = 0; i < dim; i++)
            proj += (double)dy[i] * x[i];
        pg_real c = (pg_real)(s * s * s * proj / dim);
        for (int i = 0; i < dim; i++)
            dx[i] += (pg_real)s * dy[i] - x[i] * c;
    }
}

/* ---- RoPE ---- */

void pg_rope_tables(pg_real *cos_t, pg_real *sin_t, int T, int rot_dims, pg_real base)
{
    int half = rot_dims / 2;
    for (int i = 0; i < half; i++) {
        pg_real inv_freq = (pg_real)(1.0 / pow((double)base, (double)(2 * i) / rot_dims));
        for (int t = 0; t < T; t++) {
            pg_real angle = (pg_real)t * inv_freq;
            cos_t[(size_t)t * half + i] = (pg_real)cos((double)angle);
            sin_t[(size_t)t * half + i] = (pg_real)sin((double)angle);
        }
    }
}

/* Rotates the leading rot_dims of every head of every row by +angle (sign 1) or -angle
 * (sign -1); the rest of the head passes. */
static void rope_rotate(pg_real *x, const pg_real *cos_t, const pg_real *sin_t, int B, int T,
                        int heads, int head_dim, int rot_dims, int sign)
{
    int half = rot_dims / 2;
#pragma omp parallel for schedule(static) if ((size_t)B * T * heads * head_dim >= PG_OMP_MIN)
    for (size_t r = 0; r < (size_t)B * T; r++) {
        const pg_real *c = cos_t + (r % (size_t)T) * half;
        const pg_real *s = sin_t + (r % (size_t)T) * half;
        for (int h = 0; h < heads; h++) {
            pg_real *v = x + (r * heads + h) * head_dim;
            for (int i = 0; i < half; i++) {
                pg_real x1 = v[i], x2 = v[i + half], si = sign * s[i];
                v[i] = x1 * c[i] + x2 * si;
                v[i + half] = x1 * -si + x2 * c[i];
            }
        }
    }
}

void pg_rope_fwd(pg_real *x, const pg_real *cos_t, const pg_real *sin_t, int B, int T, int heads,
                 int head_dim, int rot_dims)
{
    rope_rotate(x, cos_t, sin_t, B, T, heads, head_dim, rot_dims, 1);
}

void pg_rope_bwd(pg_real *dx, const pg_real *cos_t, const pg_real *sin_t, int B, int T,
                 int heads, int head_dim, int rot_dims)
{
    /* the rotation is orthogonal: its transpose is the rotation by -angle */
    rope_rotate(dx, cos_t, sin_t, B, T, heads, head_dim, rot_dims, -1);
}

/* ---- attention ---- */

/* The attention works on blocks of QB positions, in copies of a head's q, k, v (and
 * gradients) padded with zero rows to Tp = T rounded up to QB: every product is then one
 * block by one block (QB x QB scores from QB x hd operands, QB x hd outputs summed over
 * key blocks in order), the same calls for any T, so a position's bits do not depend on
 * how long its sequence is. Only blocks on or below the diagonal are computed. */
enum { QB = 64 };

static int padded_len(int T)
{
    return (T + QB - 1) / QB * QB;
}

size_t pg_attention_state_size(int T, int H, int hd)
{
    size_t Tp = (size_t)padded_len(T);
    return (size_t)H * (Tp * Tp + 4 * Tp * hd);
}

size_t pg_attention_bwd_scratch(int T, int KVH, int hd)
{
    size_t Tp = (size_t)padded_len(T);
    return (size_t)KVH * (7 * Tp * hd + QB * Tp);
}

/* dst [Tp][hd] <- head `h` of x [T][heads][hd], zero rows after T */
static void pad_head(pg_real *dst, const pg_real *x, int T, int Tp, int heads, int h, int hd)
{
    for (int t = 0; t < Tp; t++) {
        if (t < T)
            memcpy(dst + (size_t)t * hd, x + ((size_t)t * heads + h) * hd,
                   (size_t)hd * sizeof *dst);
        else
            memset(dst + (size_t)t * hd, 0, (size_t)hd * sizeof *dst);
    }
}

/* head `h` of x [T][heads][hd] += src [Tp][hd] (rows before T) */
static void add_head(pg_real *x, const pg_real *src, int T, int heads, int h, int hd)
{
    for (int t = 0; t < T; t++) {
        pg_real *d = x + ((size_t)t * heads + h) * hd;
        for (int i = 0; i < hd; i++)
            d[i] += src[(size_t)t * hd + i];
    }
}

void pg_attention_fwd(pg_real *out, pg_real *state, const pg_real *q, const pg_real *k,
                      const pg_real *v, const int *span, int T, int H, int KVH, int hd)
{
    pg_real scale = (pg_real)(1.0 / sqrt((double)hd));
    int group = H / KVH, Tp = padded_len(T);
    size_t per_head = (size_t)Tp * Tp + 4 * (size_t)Tp * hd, th = (size_t)Tp * hd;
#pragma omp parallel for schedule(static) if (T >= 32)
    for (int h = 0; h < H; h++) {
        int g = h / group;
        pg_real *P = state + (size_t)h * Tp * Tp;
        pg_real *Q = state + (size_t)H * Tp * Tp + h * (per_head - (size_t)Tp * Tp);
        pg_real *K = Q + th, *V = K + th, *O = V + th;
        pad_head(Q, q, T, Tp, H, h, hd);
        pad_head(K, k, T, Tp, KVH, g, hd);
        pad_head(V, v, T, Tp, KVH, g, hd);
        for (int i = 0; i < Tp / QB; i++) {
            pg_real *Pi = P + (size_t)i * QB * Tp;
            /* scores of the block's rows against key blocks 0..i: scale q_t . k_s */
            for (int j = 0; j <= i; j++)
                pg_gemm_block(0, 1, QB, QB, hd, scale, Q + (size_t)i * QB * hd, hd,
                              K + (size_t)j * QB * hd, hd, 0, Pi + (size_t)j * QB, Tp);
            /* softmax over lo <= s <= t (lo = span[t], else 0); zeros outside, and whole
             * rows of padding */
            for (int t = i * QB; t < (i + 1) * QB; t++) {
                pg_real *p = Pi + (size_t)(t - i * QB) * Tp;
                int n = t < T ? t + 1 : 0, lo = span && t < T ? span[t] : 0;
                pg_real mx = -INFINITY;
                for (int s = lo; s < n; s++)
                    mx = p[s] > mx ? p[s] : mx;
                double sum = 0;
                for (int s = lo; s < n; s++) {
                    p[s] = exp(p[s] - mx);
                    sum += p[s];
                }
                pg_real inv = (pg_real)(1.0 / sum);
                for (int s = lo; s < n; s++)
                    p[s] *= inv;
                memset(p, 0, (size_t)lo * sizeof *p);
                memset(p + n, 0, (size_t)(Tp - n) * sizeof *p);
            }
            /* out_t = sum_s p_s v_s, key block by key block */
            for (int j = 0; j <= i; j++)
                pg_gemm_block(0, 0, QB, hd, QB, 1, Pi + (size_t)j * QB, Tp,
                              V + (size_t)j * QB * hd, hd, j ? 1 : 0, O + (size_t)i * QB * hd, hd);
        }
        for (int t = 0; t < T; t++)
            memcpy(out + ((size_t)t * H + h) * hd, O + (size_t)t * hd, (size_t)hd * sizeof *out);
    }
}

void pg_attention_bwd(pg_real *dq, pg_real *dk, pg_real *dv, const pg_real *dout,
                      const pg_real *state, const pg_real *q, const pg_real *k, const pg_real *v,
                      int T, int H, int KVH, int hd, pg_real *scratch)
{
    pg_real scale = (pg_real)(1.0 / sqrt((double)hd));
    int group = H / KVH, Tp = padded_len(T);
    size_t th = (size_t)Tp * hd;
    /* one thread per KV head: the query heads sharing it add into dk/dv in a fixed order */
#pragma omp parallel for schedule(static) if (T >= 32)
    for (int g = 0; g < KVH; g++) {
        pg_real *K = scratch + (size_t)g * (7 * th + (size_t)QB * Tp), *V = K + th;
        pg_real *dK = V + th, *dV = dK + th, *Q = dV + th, *dO = Q + th, *dQ = dO + th;
        pg_real *dS = dQ + th; /* [QB][Tp]: dP, then the scores' gradient, of one row block */
        pad_head(K, k, T, Tp, KVH, g, hd);
        pad_head(V, v, T, Tp, KVH, g, hd);
        memset(dK, 0, 2 * th * sizeof *dK);
        for (int h = g * group; h < (g + 1) * group; h++) {
            const pg_real *P = state + (size_t)h * Tp * Tp;
            pad_head(Q, q, T, Tp, H, h, hd);
            pad_head(dO, dout, T, Tp, H, h, hd);
            for (int i = 0; i < Tp / QB; i++) {
                const pg_real *Pi = P + (size_t)i * QB * Tp, *dOi = dO + (size_t)i * QB * hd;
                /* out = P V:  dP = dO V^T,  dV += P^T dO */
                for (int j = 0; j <= i; j++) {
                    pg_gemm_block(0, 1, QB, QB, hd, 1, dOi, hd, V + (size_t)j * QB * hd, hd, 0,
                                  dS + (size_t)j * QB, Tp);
                    pg_gemm_block(1, 0, QB, hd, QB, 1, Pi + (size_t)j * QB, Tp, dOi, hd, 1,
                                  dV + (size_t)j * QB * hd, hd);
                }
                /* softmax: dscore_s = p_s (dp_s - sum p dp), in place over dP */
                int width = (i + 1) * QB;
                for (int t = i * QB; t < width; t++) {
                    const pg_real *p = Pi + (size_t)(t - i * QB) * Tp;
                    pg_real *d = dS + (size_t)(t - i * QB) * Tp;
                    int n = t < T ? t + 1 : 0;
                    double pdp = 0;
                    for (int s = 0; s < n; s++)
                        pdp += (double)p[s] * d[s];
                    for (int s = 0; s < n; s++)
                        d[s] = p[s] * (d[s] - (pg_real)pdp) * scale;
                    memset(d + n, 0, (size_t)(width - n) * sizeof *d);
                }
                /* score = scale q.k:  dQ = dS K,  dK += dS^T Q */
                for (int j = 0; j <= i; j++) {
                    const pg_real *dSj = dS + (size_t)j * QB;
                    pg_gemm_block(0, 0, QB, hd, QB, 1, dSj, Tp, K + (size_t)j * QB * hd, hd,
                                  j ? 1 : 0, dQ + (size_t)i * QB * hd, hd);
                    pg_gemm_block(1, 0, QB, hd, QB, 1, dSj, Tp, Q + (size_t)i * QB * hd, hd, 1,
                                  dK + (size_t)j * QB * hd, hd);
                }
            }
            add_head(dq, dQ, T, H, h, hd);
        }
        add_head(dk, dK, T, KVH, g, hd);
        add_head(dv, dV, T, KVH, g, hd);
    }
}

/* ---- MLP activation ---- */

static pg_real neg_slope(int act)
{
    return act == PG_MLP_LEAKY_RELU2 ? (pg_real)0.5 : (pg_real)0;
}

void pg_mlp_act_fwd(pg_real *out, const pg_real *in, size_t n, int act)
{
    pg_real slope = neg_slope(act);
#pragma omp parallel for schedule(static) if (n >= PG_OMP_MIN)
    for (size_t i = 0; i < n; i++) {
        pg_real a = in[i] > 0 ? in[i] : slope * in[i];
        out[i] = a * a;
    }
}

void pg_mlp_act_bwd(pg_real *din, const pg_real *dout, const pg_real *in, size_t n, int act)
{
    pg_real slope = neg_slope(act);
#pragma omp parallel for schedule(static) if (n >= PG_OMP_MIN)
    for (size_t i = 0; i < n; i++) {
        pg_real a = in[i] > 0 ? in[i] : slope * in[i];
        pg_real da = in[i] > 0 ? 1 : slope;
        din[i] += dout[i] * 2 * a * da;
    }
}

/* ---- softcapped cross-entropy head ---- */

void pg_softcap_fwd(pg_real *x, size_t n, pg_real cap)
{
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++)
        x[i] = cap * tanh(x[i] / cap);
}

double pg_xent_fwd(double *loss, const pg_real *logits, const int *targets, int n, int vocab)
{
#pragma omp parallel for schedule(static) if (n >= 64)
    for (int r = 0; r < n; r++) {
        const pg_real *z = logits + (size_t)r * vocab;
        pg_real mx = -INFINITY;
        for (int j = 0; j < vocab; j++)
            mx = z[j] > mx ? z[j] : mx;
        double sum = 0;
        for (int j = 0; j < vocab; j++)
            sum += exp((double)(z[j] - mx));
        loss[r] = (double)mx + log(sum) - (double)z[targets[r]];
    }
    double total = 0; /* summed in row order: the same bits for any thread count */
    for (int r = 0; r < n; r++)
        total += loss[r];
    return total;
}

void pg_softcap_xent_bwd(pg_real *dlogits, const pg_real *z, const int *targets, int n, int vocab,
                         pg_real cap, double dloss)
{
#pragma omp parallel for schedule(static) if (n >= 64)
    for (int r = 0; r < n; r++) {
        const pg_real *zr = z + (size_t)r * vocab;
        pg_real *d = dlogits + (size_t)r * vocab;
        pg_real mx = -INFINITY;
        for (int j = 0; j < vocab; j++)
            mx = zr[j] > mx ? zr[j] : mx;
        double sum = 0;
        for (int j = 0; j < vocab; j++)
            sum += exp((double)(zr[j] - mx));
        for (int j = 0; j < vocab; j++) {
            double pj = exp((double)(zr[j] - mx)) / sum - (j == targets[r]);
            double t = (double)zr[j] / cap; /* tanh of the pre-cap logit / cap */
            d[j] = (pg_real)(pj * dloss * (1.0 - t * t));
        }
    }
}
