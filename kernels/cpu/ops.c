#include "kernels/cpu/ops.h"

#include <tgmath.h>
#include <string.h>

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

void pg_linear_fwd(pg_real *out, const pg_real *in, const pg_real *w, int n, int in_dim, int out_dim)
{
    /* Blocks of output columns keep a few weight rows hot in cache across input rows. */
    enum { OB = 16 };
    for (int o0 = 0; o0 < out_dim; o0 += OB) {
        int o1 = o0 + OB < out_dim ? o0 + OB : out_dim;
        for (int r = 0; r < n; r++) {
            const pg_real *x = in + (size_t)r * in_dim;
            pg_real *y = out + (size_t)r * out_dim;
            for (int o = o0; o < o1; o++)
                y[o] = dot(x, w + (size_t)o * in_dim, in_dim);
        }
    }
}

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

void pg_rope_fwd(pg_real *x, const pg_real *cos_t, const pg_real *sin_t, int B, int T, int heads,
                 int head_dim)
{
    int half = head_dim / 2;
    for (size_t r = 0; r < (size_t)B * T; r++) {
        const pg_real *c = cos_t + (r % (size_t)T) * half;
        const pg_real *s = sin_t + (r % (size_t)T) * half;
        for (int h = 0; h < heads; h++) {
            pg_real *v = x + (r * heads + h) * head_dim;
            for (int i = 0; i < half; i++) {
                pg_real x1 = v[i], x2 = v[i + half];
                v[i] = x1 * c[i] + x2 * s[i];
                v[i + half] = x1 * -s[i] + x2 * c[i];
            }
        }
    }
}

void pg_attention_fwd(pg_real *out, pg_real *probs, const pg_real *q, const pg_real *k, const pg_real *v,
                      int T, int H, int KVH, int hd)
{
    pg_real scale = (pg_real)(1.0 / sqrt((double)hd));
    int group = H / KVH;
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
            for (int s = 0; s <= t; s++) {
                const pg_real *vs = v + ((size_t)s * KVH + g) * hd;
                for (int i = 0; i < hd; i++)
                    o[i] += p[s] * vs[i];
            }
        }
    }
}

void pg_mlp_act_fwd(pg_real *out, const pg_real *in, size_t n, int act)
{
    pg_real neg_slope = act == PG_MLP_LEAKY_RELU2 ? 0.5f : 0.0f;
    for (size_t i = 0; i < n; i++) {
        pg_real a = in[i] > 0 ? in[i] : neg_slope * in[i];
        out[i] = a * a;
    }
}

void pg_softcap_fwd(pg_real *x, size_t n, pg_real cap)
{
    for (size_t i = 0; i < n; i++)
        x[i] = cap * tanh(x[i] / cap);
}

double pg_xent_fwd(double *loss, const pg_real *logits, const int *targets, int n, int vocab)
{
    double total = 0;
    for (int r = 0; r < n; r++) {
        const pg_real *z = logits + (size_t)r * vocab;
        pg_real mx = -INFINITY;
        for (int j = 0; j < vocab; j++)
            mx = z[j] > mx ? z[j] : mx;
        double sum = 0;
        for (int j = 0; j < vocab; j++)
            sum += exp((double)(z[j] - mx));
        loss[r] = (double)mx + log(sum) - (double)z[targets[r]];
        total += loss[r];
    }
    return total;
}
