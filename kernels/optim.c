#include "kernels/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "kernels/cpu/ops.h"

int pg_optim_create(pg_optim *o, const pg_model *m)
{
    memset(o, 0, sizeof *o);
    o->n = m->num_params;
    size_t big = 0;
    for (int i = 0; i < m->num_tensors; i++) {
        const pg_tensor_info *t = &m->tensors[i];
        if (t->group != PG_GROUP_MATRIX)
            continue;
        size_t lo = (size_t)(t->shape[0] < t->shape[1] ? t->shape[0] : t->shape[1]);
        size_t hi = (size_t)(t->shape[0] < t->shape[1] ? t->shape[1] : t->shape[0]);
        size_t need = 3 * lo * lo + 3 * lo * hi + t->numel;
        big = need > big ? need : big;
    }
    o->adam_m = calloc(o->n, sizeof(pg_real));
    o->adam_v = calloc(o->n, sizeof(pg_real));
    o->muon_buf = calloc(o->n, sizeof(pg_real));
    o->scratch = calloc(big ? big : 1, sizeof(pg_real));
    if (!o->adam_m || !o->adam_v || !o->muon_buf || !o->scratch) {
        pg_optim_free(o);
        return pg_fail("out of memory for optimizer state (%zu parameters)", m->num_params);
    }
    return 0;
}

void pg_optim_free(pg_optim *o)
{
    free(o->adam_m);
    free(o->adam_v);
    free(o->muon_buf);
    free(o->scratch);
    memset(o, 0, sizeof *o);
}

static void transpose(pg_real *dst, const pg_real *src, int rows, int cols)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
}

void pg_newton_schulz5(pg_real *x, int rows, int cols, int steps, pg_real *scratch)
{
    const pg_real a = (pg_real)3.4445, b = (pg_real)-4.7750, c = (pg_real)2.0315;
    int tr = rows > cols;
    int m = tr ? cols : rows, n = tr ? rows : cols; /* X is m x n with m <= n */
    size_t mn = (size_t)m * n, mm = (size_t)m * m;
    pg_real *X = scratch, *XT = X + mn, *BX = XT + mn, *A = BX + mn, *AA = A + mm, *Bm = AA + mm;
    double ss = 0;
    for (size_t i = 0; i < mn; i++)
        ss += (double)x[i] * x[i];
    pg_real inv = (pg_real)(1.0 / (sqrt(ss) + 1e-7));
    if (tr)
        transpose(X, x, rows, cols);
    else
        memcpy(X, x, mn * sizeof *X);
    for (size_t i = 0; i < mn; i++)
        X[i] *= inv;
    for (int s = 0; s < steps; s++) {
        pg_linear_fwd(A, X, X, m, n, m);   /* A = X X^T (symmetric) */
        pg_linear_fwd(AA, A, A, m, m, m);  /* A A^T = A A */
        for (size_t i = 0; i < mm; i++)
            Bm[i] = b * A[i] + c * AA[i];
        transpose(XT, X, m, n);
        pg_linear_fwd(BX, Bm, XT, m, m, n); /* B X */
        for (size_t i = 0; i < mn; i++)
            X[i] = a * X[i] + BX[i];
    }
    if (tr)
        transpose(x, X, m, n);
    else
        memcpy(x, X, mn * sizeof *X);
}

static double grad_norm(const pg_real *g, size_t n)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (double)g[i] * g[i];
    return sqrt(ss);
}

double pg_optim_step(pg_optim *o, pg_model *m, pg_real *grad, const pg_optim_config *c,
                     double lr_scale, double momentum)
{
    double norm = grad_norm(grad, o->n);
    if (c->grad_clip > 0) {
        double coef = c->grad_clip / (norm + 1e-6);
        if (coef < 1)
            for (size_t i = 0; i < o->n; i++)
                grad[i] = (pg_real)(grad[i] * coef);
    }
    o->step++;
    double bc1 = 1.0 - pow(c->beta1, (double)o->step);
    double bc2_sqrt = sqrt(1.0 - pow(c->beta2, (double)o->step));
    for (int ti = 0; ti < m->num_tensors; ti++) {
        const pg_tensor_info *t = &m->tensors[ti];
        pg_real *p = m->params + t->offset, *g = grad + t->offset;
        if (t->group == PG_GROUP_MATRIX) {
            /* Muon: buf = mu*buf + g; update = NS5(g + mu*buf) * max(1, rows/cols)^0.5 */
            size_t lo = (size_t)(t->shape[0] < t->shape[1] ? t->shape[0] : t->shape[1]);
            size_t hi = (size_t)(t->shape[0] < t->shape[1] ? t->shape[1] : t->shape[0]);
            pg_real *buf = o->muon_buf + t->offset, *u = o->scratch + 3 * lo * lo + 3 * lo * hi;
            for (size_t j = 0; j < t->numel; j++) {
                buf[j] = (pg_real)momentum * buf[j] + g[j];
                u[j] = g[j] + (pg_real)momentum * buf[j];
            }
            pg_newton_schulz5(u, t->shape[0], t->shape[1], c->ns_steps, o->scratch);
            double scale = sqrt(fmax(1.0, (double)t->shape[0] / t->shape[1]));
            pg_real step = (pg_real)(c->matrix_lr * lr_scale * scale);
            for (size_t j = 0; j < t->numel; j++)
                p[j] -= step * u[j];
        } else {
            /* Adam as torch computes it: p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps) */
            double lr = (t->group == PG_GROUP_EMBED ? c->embed_lr : c->scalar_lr) * lr_scale;
            pg_real *mm = o->adam_m + t->offset, *vv = o->adam_v + t->offset;
            pg_real b1 = (pg_real)c->beta1, b2 = (pg_real)c->beta2;
            for (size_t j = 0; j < t->numel; j++) {
                mm[j] = b1 * mm[j] + (1 - b1) * g[j];
                vv[j] = b2 * vv[j] + (1 - b2) * g[j] * g[j];
                double denom = sqrt((double)vv[j]) / bc2_sqrt + c->adam_eps;
                p[j] -= (pg_real)(lr / bc1 * mm[j] / denom);
            }
        }
    }
    return norm;
}
