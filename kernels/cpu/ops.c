#include "kernels/cpu/ops.h"

#include <string.h>
#include <tgmath.h>

#include "kernels/config.h"

/* Dot product with 8 partial sums combined in a fixed order: vectorizes without
 * -ffast-math and gives the same bits every run. */
static pg_real dot(const pg_real *a, const pg_real *b, int n)
{
    pg_real acc[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += a[i + j] * b[i + j];
    pg_real tail = 0;
    for (; i < n; i++)
        tail += a[i] * b[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) +
           tail;
}

/* y += alpha * x */
static void axpy(pg_real *y, pg_real alpha, const pg_real *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

/* ---- linear ---- */

void pg_linear_fwd(pg_real *out, const pg_real *in, const pg_real *w, int n, int in_dim,
                   int out_dim)
{
    /* Blocks of output columns keep a few weight rows hot in cache across input rows. */
    enum { OB = 16 };
    int nblocks = (out_dim + OB - 1) / OB;
    /* each output element is one thread's dot product: the same bits for any thread count */
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)n * out_dim * in_dim > 65536)
    for (int b = 0; b < nblocks; b++) {
        for (int r = 0; r < n; r++) {
            int o0 = b * OB, o1 = o0 + OB < out_dim ? o0 + OB : out_dim;
            const pg_real *x = in + (size_t)r * in_dim;
            pg_real *y = out + (size_t)r * out_dim;
            for (int o = o0; o < o1; o++)
                y[o] = dot(x, w + (size_t)o * in_dim, in_dim);
        }
    }
}

static void transpose(pg_real *dst, const pg_real *src, int rows, int cols)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
}

static void add_into(pg_real *dst, const pg_real *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}

size_t pg_linear_bwd_scratch(int n, int in_dim, int out_dim)
{
    size_t ni = (size_t)n * in_dim, oi = (size_t)out_dim * in_dim, no = (size_t)n * out_dim;
    return (ni > oi ? ni : oi) + oi + no + ni;
}

void pg_linear_bwd(pg_real *din, pg_real *dw, const pg_real *dout, const pg_real *in,
                   const pg_real *w, int n, int in_dim, int out_dim, pg_real *scratch)
{
    /* Both products are written as long dot products over transposed copies, which the
     * blocked forward kernel computes fast: din = dout @ w = linear(dout, w^T) and
     * dw = dout^T @ in = linear(dout^T, in^T). */
    size_t ni = (size_t)n * in_dim, oi = (size_t)out_dim * in_dim, no = (size_t)n * out_dim;
    pg_real *tmp = scratch, *wT = tmp + (ni > oi ? ni : oi), *doutT = wT + oi, *inT = doutT + no;
    if (din) {
        transpose(wT, w, out_dim, in_dim);
        pg_linear_fwd(tmp, dout, wT, n, out_dim, in_dim);
        add_into(din, tmp, ni);
    }
    transpose(doutT, dout, n, out_dim);
    transpose(inT, in, n, in_dim);
    pg_linear_fwd(tmp, doutT, inT, out_dim, n, in_dim);
    add_into(dw, tmp, oi);
}

/* ---- rms_norm ---- */

void pg_rmsnorm_fwd(pg_real *out, pg_real *rstd, const pg_real *in, int n, int dim, pg_real eps)
{
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

void pg_rope_tables(pg_real *cos_t, pg_real *sin_t, int T, int head_dim, pg_real base)
{
    int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        pg_real inv_freq = (pg_real)(1.0 / pow((double)base, (double)(2 * i) / head_dim));
        for (int t = 0; t < T; t++) {
            pg_real angle = (pg_real)t * inv_freq;
            cos_t[(size_t)t * half + i] = (pg_real)cos((double)angle);
            sin_t[(size_t)t * half + i] = (pg_real)sin((double)angle);
        }
    }
}

/* Rotates every head of every row by +angle (sign 1) or -angle (sign -1). */
static void rope_rotate(pg_real *x, const pg_real *cos_t, const pg_real *sin_t, int B, int T,
                        int heads, int head_dim, int sign)
{
    int half = head_dim / 2;
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
                 int head_dim)
{
    rope_rotate(x, cos_t, sin_t, B, T, heads, head_dim, 1);
}

void pg_rope_bwd(pg_real *dx, const pg_real *cos_t, const pg_real *sin_t, int B, int T,
                 int heads, int head_dim)
{
    /* the rotation is orthogonal: its transpose is the rotation by -angle */
    rope_rotate(dx, cos_t, sin_t, B, T, heads, head_dim, -1);
}

/* ---- attention ---- */

void pg_attention_fwd(pg_real *out, pg_real *probs, const pg_real *q, const pg_real *k,
                      const pg_real *v, int T, int H, int KVH, int hd)
{
    pg_real scale = (pg_real)(1.0 / sqrt((double)hd));
    int group = H / KVH;
#pragma omp parallel for schedule(static) if (T >= 32)
    for (int h = 0; h < H; h++) {
        int g = h / group;
        for (int t = 0; t < T; t++) {
            const pg_real *qt = q + ((size_t)t * H + h) * hd;
            pg_real *p = probs + ((size_t)h * T + t) * T;
            pg_real mx = -INFINITY;
            for (int s = 0; s <= t; s++) {
                p[s] = dot(qt, k + ((size_t)s * KVH + g) * hd, hd) * scale;
                mx = p[s] > mx ? p[s] : mx;
            }
            double sum = 0;
            for (int s = 0; s <= t; s++) {
                p[s] = exp(p[s] - mx);
                sum += p[s];
            }
            pg_real inv = (pg_real)(1.0 / sum);
            for (int s = 0; s <= t; s++)
                p[s] *= inv;
            memset(p + t + 1, 0, (size_t)(T - t - 1) * sizeof *p);
            pg_real *o = out + ((size_t)t * H + h) * hd;
            memset(o, 0, (size_t)hd * sizeof *o);
            for (int s = 0; s <= t; s++)
                axpy(o, p[s], v + ((size_t)s * KVH + g) * hd, hd);
        }
    }
}

void pg_attention_bwd(pg_real *dq, pg_real *dk, pg_real *dv, const pg_real *dout,
                      const pg_real *probs, const pg_real *q, const pg_real *k, const pg_real *v,
                      int T, int H, int KVH, int hd, pg_real *scratch)
{
    pg_real scale = (pg_real)(1.0 / sqrt((double)hd));
    int group = H / KVH;
    /* one thread per KV head: the query heads sharing it add into dk/dv in a fixed order */
#pragma omp parallel for schedule(static) if (T >= 32)
    for (int g = 0; g < KVH; g++) {
        pg_real *dp = scratch + (size_t)g * T;
        for (int h = g * group; h < (g + 1) * group; h++) {
            for (int t = 0; t < T; t++) {
                const pg_real *p = probs + ((size_t)h * T + t) * T;
                const pg_real *dot_ = dout + ((size_t)t * H + h) * hd;
                const pg_real *qt = q + ((size_t)t * H + h) * hd;
                pg_real *dqt = dq + ((size_t)t * H + h) * hd;
                /* out_t = sum_s p_s v_s:  dp_s = dout_t . v_s,  dv_s += p_s dout_t */
                double pdp = 0;
                for (int s = 0; s <= t; s++) {
                    size_t kv = ((size_t)s * KVH + g) * hd;
                    dp[s] = dot(dot_, v + kv, hd);
                    axpy(dv + kv, p[s], dot_, hd);
                    pdp += (double)p[s] * dp[s];
                }
                /* softmax: dscore_s = p_s (dp_s - sum p dp); score = scale q.k */
                for (int s = 0; s <= t; s++) {
                    size_t kv = ((size_t)s * KVH + g) * hd;
                    pg_real ds = p[s] * (dp[s] - (pg_real)pdp) * scale;
                    axpy(dqt, ds, k + kv, hd);
                    axpy(dk + kv, ds, qt, hd);
                }
            }
        }
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
    for (size_t i = 0; i < n; i++) {
        pg_real a = in[i] > 0 ? in[i] : slope * in[i];
        out[i] = a * a;
    }
}

void pg_mlp_act_bwd(pg_real *din, const pg_real *dout, const pg_real *in, size_t n, int act)
{
    pg_real slope = neg_slope(act);
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
