/* LoRA adapters on c_q and c_v, one set per step of the virtual layer list (model.h):
 * creation, the seeded reset, and their forward and backward inside a block. */
#include <math.h>
#include <string.h>

#include "common/err.h"
#include "kernels/model_internal.h"
#include "kernels/rng.h"


typedef struct {
    pg_real *aq, *bq, *av, *bv;
} lora_views;

static lora_views lora_at(const pg_lora *lo, const pg_model *m, pg_real *base, int k)
{
    size_t D = (size_t)m->cfg.model_dim, r = (size_t)lo->rank;
    pg_real *p = base + (size_t)k * lo->per_layer;
    return (lora_views){p, p + r * D, p + 2 * r * D, p + 3 * r * D};
}

int pg_lora_create(pg_lora *lo, const pg_model *m, int rank, int max_rows)
{
    memset(lo, 0, sizeof *lo);
    size_t D = (size_t)m->cfg.model_dim, kvd = (size_t)m->cfg.num_kv_heads * pg_config_head_dim(&m->cfg);
    if (rank < 1 || (size_t)rank > D)
        return pg_fail("LoRA rank %d must be in [1, MODEL_DIM=%zu]", rank, D);
    lo->be = m->be;
    lo->rank = rank;
    lo->max_rows = max_rows;
    int steps[PG_MAX_VIRTUAL_LAYERS];
    lo->steps = pg_config_layer_list(&m->cfg, steps, PG_MAX_VIRTUAL_LAYERS);
    lo->per_layer = (size_t)rank * (3 * D + kvd);
    lo->n = lo->per_layer * (size_t)lo->steps;
    lo->p = lo->be->alloc(lo->n * sizeof(pg_real));
    lo->g = lo->be->alloc(lo->n * sizeof(pg_real));
    lo->h = lo->be->alloc((size_t)lo->steps * 2 * (size_t)max_rows * (size_t)rank *
                          sizeof(pg_real));
    if (!lo->p || !lo->g || !lo->h) {
        pg_lora_free(lo);
        return pg_fail("out of memory for LoRA adapters");
    }
    return 0;
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
    for (int k = 0; k < lo->steps; k++) {
        lora_views v = lora_at(lo, m, p, k);
        for (size_t j = 0; j < rD; j++) {
            v.aq[j] = (pg_real)(bound * (2.0 * pg_rng_uniform(&rng) - 1.0));
            v.av[j] = (pg_real)(bound * (2.0 * pg_rng_uniform(&rng) - 1.0));
        }
    }
    pg_host_release(lo->be, lo->p, p, bytes, 1);
    return 0;
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

static pg_real *lora_h(const pg_model *m, int k, int which)
{
    const pg_lora *lo = m->lora;
    return lo->h + ((size_t)k * 2 + (size_t)which) * (size_t)lo->max_rows * (size_t)lo->rank;
}

void pg_lora_forward(const pg_model *m, pg_acts *a, int k, int N, const pg_real *x, pg_real *q,
                     pg_real *v)
{
    const pg_backend *be = m->be;
    int D = m->cfg.model_dim, r = m->lora->rank;
    int kvd = m->cfg.num_kv_heads * pg_config_head_dim(&m->cfg);
    lora_views w = lora_at(m->lora, m, m->lora->p, k);
    pg_real *hq = lora_h(m, k, 0), *hv = lora_h(m, k, 1), *tmp = a->lora_tmp;
    be->linear_fwd(hq, x, w.aq, N, D, r);
    be->linear_fwd(tmp, hq, w.bq, N, r, D);
    be->add(q, tmp, (size_t)N * D);
    be->linear_fwd(hv, x, w.av, N, D, r);
    be->linear_fwd(tmp, hv, w.bv, N, r, kvd);
    be->add(v, tmp, (size_t)N * kvd);
}

void pg_lora_backward(const pg_model *m, pg_acts *a, int k, int N, const pg_real *x,
                      const pg_real *dq, const pg_real *dv, pg_real *dx)
{
    const pg_backend *be = m->be;
    int D = m->cfg.model_dim, r = m->lora->rank;
    int kvd = m->cfg.num_kv_heads * pg_config_head_dim(&m->cfg);
    lora_views w = lora_at(m->lora, m, m->lora->p, k), gw = lora_at(m->lora, m, m->lora->g, k);
    pg_real *dh = a->lora_tmp;
    be->zero(dh, (size_t)N * r * sizeof *dh);
    be->linear_bwd(dh, gw.bq, dq, lora_h(m, k, 0), w.bq, N, r, D);
    be->linear_bwd(dx, gw.aq, dh, x, w.aq, N, D, r);
    be->zero(dh, (size_t)N * r * sizeof *dh);
    be->linear_bwd(dh, gw.bv, dv, lora_h(m, k, 1), w.bv, N, r, kvd);
    be->linear_bwd(dx, gw.av, dh, x, w.av, N, D, r);
}
