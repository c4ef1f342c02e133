#include "kernels/cpu/ops.h"

#include <math.h>
#include <string.h>

#include "kernels/config.h"

/* Dot product with 8 partial sums combined in a fixed order: vectorizes without
 * -ffast-math and gives the same bits every run. */
static float dot(const float *a, const float *b, int n)
{
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += a[i + j] * b[i + j];
    float tail = 0;
    for (; i < n; i++)
        tail += a[i] * b[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) +
           tail;
}

void pg_linear_fwd(float *out, const float *in, const float *w, int n, int in_dim, int out_dim)
{
    /* Blocks of output columns keep a few weight rows hot in cache across input rows. */
    enum { OB = 16 };
    for (int o0 = 0; o0 < out_dim; o0 += OB) {
        int o1 = o0 + OB < out_dim ? o0 + OB : out_dim;
        for (int r = 0; r < n; r++) {
            const float *x = in + (size_t)r * in_dim;
            float *y = out + (size_t)r * out_dim;
            for (int o = o0; o < o1; o++)
                y[o] = dot(x, w + (size_t)o * in_dim, in_dim);
        }
    }
}

void pg_rmsnorm_fwd(float *out, float *rstd, const float *in, int n, int dim, float eps)
{
    for (int r = 0; r < n; r++) {
        const float *x = in + (size_t)r * dim;
        float *y = out + (size_t)r * dim;
        double ss = 0;
        for (int i = 0; i < dim; i++)
            ss += (double)x[i] * x[i];
        float s = (float)(1.0 / sqrt(ss / dim + eps));
        rstd[r] = s;
        for (int i = 0; i < dim; i++)
            y[i] = x[i] * s;
    }
}

void pg_rope_tables(float *cos_t, float *sin_t, int T, int head_dim, float base)
{
    int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        float inv_freq = (float)(1.0 / pow((double)base, (double)(2 * i) / head_dim));
        for (int t = 0; t < T; t++) {
            float angle = (float)t * inv_freq;
            cos_t[(size_t)t * half + i] = (float)cos((double)angle);
            sin_t[(size_t)t * half + i] = (float)sin((double)angle);
        }
    }
}

void pg_rope_fwd(float *x, const float *cos_t, const float *sin_t, int B, int T, int heads,
                 int head_dim)
{
    int half = head_dim / 2;
    for (size_t r = 0; r < (size_t)B * T; r++) {
        const float *c = cos_t + (r % (size_t)T) * half;
        const float *s = sin_t + (r % (size_t)T) * half;
        for (int h = 0; h < heads; h++) {
            float *v = x + (r * heads + h) * head_dim;
            for (int i = 0; i < half; i++) {
                float x1 = v[i], x2 = v[i + half];
                v[i] = x1 * c[i] + x2 * s[i];
                v[i + half] = x1 * -s[i] + x2 * c[i];
            }
        }
    }
}

void pg_attention_fwd(float *out, float *probs, const float *q, const float *k, const float *v,
                      int T, int H, int KVH, int hd)
{
    float scale = (float)(1.0 / sqrt((double)hd));
    int group = H / KVH;
    for (int h = 0; h < H; h++) {
        int g = h / group;
        for (int t = 0; t < T; t++) {
            const float *qt = q + ((size_t)t * H + h) * hd;
            float *p = probs + ((size_t)h * T + t) * T;
            float mx = -INFINITY;
            for (int s = 0; s <= t; s++) {
                p[s] = dot(qt, k + ((size_t)s * KVH + g) * hd, hd) * scale;
                mx = p[s] > mx ? p[s] : mx;
            }
            double sum = 0;
            for (int s = 0; s <= t; s++) {
                p[s] = expf(p[s] - mx);
                sum += p[s];
            }
            float inv = (float)(1.0 / sum);
            for (int s = 0; s <= t; s++)
                p[s] *= inv;
            memset(p + t + 1, 0, (size_t)(T - t - 1) * sizeof *p);
            float *o = out + ((size_t)t * H + h) * hd;
            memset(o, 0, (size_t)hd * sizeof *o);
            for (int s = 0; s <= t; s++) {
                const float *vs = v + ((size_t)s * KVH + g) * hd;
                for (int i = 0; i < hd; i++)
                    o[i] += p[s] * vs[i];
            }
        }
    }
}

void pg_mlp_act_fwd(float *out, const float *in, size_t n, int act)
{
    float neg_slope = act == PG_MLP_LEAKY_RELU2 ? 0.5f : 0.0f;
    for (size_t i = 0; i < n; i++) {
        float a = in[i] > 0 ? in[i] : neg_slope * in[i];
        out[i] = a * a;
    }
}

void pg_softcap_fwd(float *x, size_t n, float cap)
{
    for (size_t i = 0; i < n; i++)
        x[i] = cap * tanhf(x[i] / cap);
}

double pg_xent_fwd(double *loss, const float *logits, const int *targets, int n, int vocab)
{
    double total = 0;
    for (int r = 0; r < n; r++) {
        const float *z = logits + (size_t)r * vocab;
        float mx = -INFINITY;
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
