#include "kernels/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

int pg_optim_create(pg_optim *o, const pg_model *m, int ema)
{
    memset(o, 0, sizeof *o);
    o->be = m->be;
    o->n = m->num_params;
    size_t big = 1;
    for (int i = 0; i < m->num_tensors; i++) {
        const pg_tensor_info *t = &m->tensors[i];
        size_t need = t->group == PG_GROUP_MATRIX ? o->be->muon_scratch(t->shape[0], t->shape[1])
                                                   : 0;
        big = need > big ? need : big;
    }
    o->adam_m = o->be->alloc(o->n * sizeof(pg_real));
    o->adam_v = o->be->alloc(o->n * sizeof(pg_real));
    o->muon_buf = o->be->alloc(o->n * sizeof(pg_real));
    o->scratch = o->be->alloc(big * sizeof(pg_real));
    o->ema = ema ? o->be->alloc(o->n * sizeof(pg_real)) : NULL;
    if (!o->adam_m || !o->adam_v || !o->muon_buf || !o->scratch || (ema && !o->ema)) {
        pg_optim_free(o);
        return pg_fail("out of memory for optimizer state (%zu parameters)", m->num_params);
    }
    return 0;
}

void pg_optim_ema_start(pg_optim *o, const pg_model *m)
{
    if (o->ema)
        o->be->copy(o->ema, m->params, o->n * sizeof(pg_real));
}

void pg_optim_free(pg_optim *o)
{
    if (o->be) {
        o->be->free(o->adam_m);
        o->be->free(o->adam_v);
        o->be->free(o->muon_buf);
        o->be->free(o->scratch);
        o->be->free(o->ema);
    }
    memset(o, 0, sizeof *o);
}

double pg_clip_grad(const pg_backend *be, pg_real *grad, const pg_grad_span *spans, int nspans,
                    double max_norm)
{
    double ss = 0;
    for (int i = 0; i < nspans; i++)
        be->sumsq(&ss, grad + spans[i].offset, spans[i].numel);
    double norm = sqrt(ss);
    if (max_norm > 0) {
        double coef = max_norm / (norm + 1e-6);
        if (coef < 1)
            for (int i = 0; i < nspans; i++)
                be->scale(grad + spans[i].offset, spans[i].numel, coef);
    }
    return norm;
}

void pg_adam_step(const pg_backend *be, pg_real *p, const pg_real *g, pg_real *m, pg_real *v,
                  size_t n, const pg_adam_config *c, double lr, long step)
{
    double bc1 = 1.0 - pow(c->beta1, (double)step);
    double bc2_sqrt = sqrt(1.0 - pow(c->beta2, (double)step));
    be->adam_update(p, g, m, v, n, c->beta1, c->beta2, c->eps, lr, bc1, bc2_sqrt);
}

pg_real pg_muon_lr(double lr, int rows, int cols)
{
    return (pg_real)(lr * sqrt(fmax(1.0, (double)rows / cols)));
}

double pg_optim_step(pg_optim *o, pg_model *m, pg_real *grad, const pg_optim_config *c,
                     double lr_scale, double momentum)
{
    const pg_backend *be = o->be;
    pg_grad_span all = {0, o->n};
    double norm = pg_clip_grad(be, grad, &all, 1, c->grad_clip);
    o->step++;
    pg_adam_config adam = {c->beta1, c->beta2, c->adam_eps};
    for (int ti = 0; ti < m->num_tensors; ti++) {
        const pg_tensor_info *t = &m->tensors[ti];
        pg_real *p = m->params + t->offset, *g = grad + t->offset;
        int matrix = t->group == PG_GROUP_MATRIX, embed = t->group == PG_GROUP_EMBED;
        double lr = (matrix ? c->matrix_lr : embed ? c->embed_lr : c->scalar_lr) * lr_scale;
        double wd = matrix ? c->muon_wd : embed ? c->embed_wd : c->adam_wd;
        if (wd > 0)
            be->scale(p, t->numel, 1.0 - lr * wd);
        if (matrix)
            be->muon_update(p, g, o->muon_buf + t->offset, t->shape[0], t->shape[1],
                            (pg_real)momentum, pg_muon_lr(lr, t->shape[0], t->shape[1]), &c->ns,
                            o->scratch);
        else
            pg_adam_step(be, p, g, o->adam_m + t->offset, o->adam_v + t->offset, t->numel, &adam,
                         lr, o->step);
    }
    if (o->ema)
        be->ema_update(o->ema, m->params, o->n, c->ema_decay);
    return norm;
}
