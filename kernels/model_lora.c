/* LoRA adapters, one set per step of the virtual layer list (model.h): creation, the
 * seeded reset, and each adapter's forward and backward inside the graph. */
#include <math.h>
#include <string.h>

#include "common/err.h"
#include "kernels/model_internal.h"
#include "kernels/rng.h"

static size_t target_width(const pg_model *m, int t)
{
    size_t D = (size_t)m->cfg.model_dim, kvd = (size_t)m->cfg.num_kv_heads * pg_config_head_dim(&m->cfg);
    return t == PG_LORA_K || t == PG_LORA_V ? kvd : D;
}

int pg_lora_create(pg_lora *lo, const pg_model *m, const pg_lora_spec *spec, int max_rows)
{
    memset(lo, 0, sizeof *lo);
    size_t D = (size_t)m->cfg.model_dim, V = (size_t)m->cfg.vocab_size;
    int rank = spec->rank;
    if (rank < 1 || (size_t)rank > D)
        return pg_fail("LoRA rank %d must be in [1, MODEL_DIM=%zu]", rank, D);
    lo->be = m->be;
    lo->spec = *spec;
    lo->rank = rank;
    lo->max_rows = max_rows;
    int steps[PG_MAX_VIRTUAL_LAYERS];
    lo->steps = pg_config_layer_list(&m->cfg, steps, PG_MAX_VIRTUAL_LAYERS);
    int on[PG_LORA_TARGETS] = {1, spec->k, 1, spec->o, spec->mlp};
    size_t at = 0;
    for (int t = 0; t < PG_LORA_TARGETS; t++) {
        lo->off[t] = on[t] ? (long)at : -1;
        lo->out[t] = (int)target_width(m, t);
        at += on[t] ? (size_t)rank * (D + (size_t)lo->out[t]) : 0;
    }
    lo->per_layer = at;
    lo->head_off = lo->per_layer * (size_t)lo->steps;
    lo->n = lo->head_off + (spec->head ? (size_t)rank * (D + V) : 0);
    lo->p = lo->be->alloc(lo->n * sizeof(pg_real));
    lo->g = lo->be->alloc(lo->n * sizeof(pg_real));
    lo->h = lo->be->alloc(((size_t)lo->steps * PG_LORA_TARGETS + 1) * (size_t)max_rows *
                          (size_t)rank * sizeof(pg_real));
    if (!lo->p || !lo->g || !lo->h) {
        pg_lora_free(lo);
        return pg_fail("out of memory for LoRA adapters");
    }
    return 0;
}

/* A and B of step k's target t (k = -1: the head), or NULLs where absent */
static void views(const pg_lora *lo, const pg_model *m, pg_real *base, int k, int t, pg_real **A,
                  pg_real **B)
{
    size_t rD = (size_t)lo->rank * (size_t)m->cfg.model_dim;
    pg_real *a = NULL;
    if (k < 0)
        a = lo->spec.head ? base + lo->head_off : NULL;
    else if (lo->off[t] >= 0)
        a = base + (size_t)k * lo->per_layer + (size_t)lo->off[t];
    *A = a;
    *B = a ? a + rD : NULL;
}

int pg_lora_reset(pg_lora *lo, const pg_model *m, uint64_t seed)
{
    /* A ~ U(-1/sqrt(D), 1/sqrt(D)) as nn.Linear, B = 0; drawn on the host */
    size_t bytes = lo->n * sizeof(pg_real);
    pg_real *p = pg_host_acquire(lo->be, lo->p, bytes, 0);
    if (!p)
        return pg_fail("out of memory resetting LoRA adapters");
    pg_rng rng;
    pg_rng_seed(&rng, seed);
    double bound = 1.0 / sqrt((double)m->cfg.model_dim);
    size_t rD = (size_t)lo->rank * (size_t)m->cfg.model_dim;
    memset(p, 0, bytes);
    for (int k = 0; k <= lo->steps; k++) {
        pg_real *A[PG_LORA_TARGETS], *B;
        for (int t = 0; t < PG_LORA_TARGETS; t++)
            views(lo, m, p, k < lo->steps ? k : -1, t, &A[t], &B);
        if (k == lo->steps) { /* the head */
            for (size_t j = 0; A[0] && j < rD; j++)
                A[0][j] = (pg_real)(bound * (2.0 * pg_rng_uniform(&rng) - 1.0));
            break;
        }
        for (size_t j = 0; j < rD; j++) {
            A[PG_LORA_Q][j] = (pg_real)(bound * (2.0 * pg_rng_uniform(&rng) - 1.0));
            A[PG_LORA_V][j] = (pg_real)(bound * (2.0 * pg_rng_uniform(&rng) - 1.0));
        }
        const int rest[3] = {PG_LORA_K, PG_LORA_O, PG_LORA_MLP};
        for (int i = 0; i < 3; i++)
            for (size_t j = 0; A[rest[i]] && j < rD; j++)
                A[rest[i]][j] = (pg_real)(bound * (2.0 * pg_rng_uniform(&rng) - 1.0));
    }
    pg_host_release(lo->be, lo->p, p, bytes, 1);
    return 0;
}

void pg_lora_zero_b(pg_lora *lo, const pg_model *m)
{
    for (int k = -1; k < lo->steps; k++)
        for (int t = 0; t < (k < 0 ? 1 : PG_LORA_TARGETS); t++) {
            pg_real *A, *B;
            views(lo, m, lo->p, k, t, &A, &B);
            size_t width = k < 0 ? (size_t)m->cfg.vocab_size : (size_t)lo->out[t];
            if (B)
                lo->be->zero(B, width * (size_t)lo->rank * sizeof(pg_real));
        }
}

void pg_lora_free(pg_lora *lo)
{
    if (lo->be) {
        lo->be->free(lo->p);
        lo->be->free(lo->g);
        lo->be->free(lo->h);
    }
    memset(lo, 0, sizeof *lo);
}

static pg_real *lora_h(const pg_lora *lo, int k, int t)
{
    size_t slot = k < 0 ? (size_t)lo->steps * PG_LORA_TARGETS : (size_t)k * PG_LORA_TARGETS + (size_t)t;
    return lo->h + slot * (size_t)lo->max_rows * (size_t)lo->rank;
}

static int width_of(const pg_model *m, int k, int t)
{
    return k < 0 ? m->cfg.vocab_size : m->lora->out[t];
}

void pg_lora_forward(const pg_model *m, pg_acts *a, int k, int t, int N, const pg_real *x,
                     pg_real *out)
{
    const pg_lora *lo = m->lora;
    pg_real *A, *B;
    views(lo, m, lo->p, k, t, &A, &B);
    if (!A)
        return;
    const pg_backend *be = m->be;
    int D = m->cfg.model_dim, r = lo->rank, w = width_of(m, k, t);
    pg_real *h = lora_h(lo, k, t);
    be->linear_fwd(h, x, A, N, D, r);
    if (lo->spec.scale != 1.0) /* scaling the rank-r activations scales the output */
        be->scale(h, (size_t)N * r, lo->spec.scale);
    be->linear_fwd(a->lora_tmp, h, B, N, r, w);
    be->add(out, a->lora_tmp, (size_t)N * w);
}

void pg_lora_backward(const pg_model *m, pg_acts *a, int k, int t, int N, const pg_real *x,
                      const pg_real *dout, pg_real *dx)
{
    const pg_lora *lo = m->lora;
    pg_real *A, *B, *gA, *gB;
    views(lo, m, lo->p, k, t, &A, &B);
    if (!A)
        return;
    views(lo, m, lo->g, k, t, &gA, &gB);
    const pg_backend *be = m->be;
    int D = m->cfg.model_dim, r = lo->rank, w = width_of(m, k, t);
    pg_real *dh = a->lora_tmp;
    be->zero(dh, (size_t)N * r * sizeof *dh);
    be->linear_bwd(dh, gB, dout, lora_h(lo, k, t), B, N, r, w);
    if (lo->spec.scale != 1.0)
        be->scale(dh, (size_t)N * r, lo->spec.scale);
    be->linear_bwd(dx, gA, dh, x, A, N, D, r);
}
