#include "kernels/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "kernels/rng.h"

/* rms_norm's eps is the machine epsilon of the compute type (kernels/real.h). */
#define PG_RMS_EPS PG_REAL_EPS

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void add_tensor(pg_model *m, const char *name, int rows, int cols)
{
    pg_tensor_info *t = &m->tensors[m->num_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->group = strcmp(name, "tok_emb.weight") == 0                      ? PG_GROUP_EMBED
               : cols > 0 && strncmp(name, "blocks.", 7) == 0 &&
                         ends_with(name, ".weight")                     ? PG_GROUP_MATRIX
                                                                        : PG_GROUP_SCALAR;
    t->ndim = cols > 0 ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols > 0 ? cols : 1;
    t->offset = m->num_params;
    t->numel = (size_t)rows * t->shape[1];
    m->num_params += t->numel;
}

/* The views of layer l's tensors in `base`, an array laid out like m->params. */
static pg_block_views block_views_at(const pg_model *m, pg_real *base, int l)
{
    const pg_tensor_info *t = m->tensors + 1 + 10 * (size_t)l;
    return (pg_block_views){base + t[0].offset, base + t[1].offset, base + t[2].offset,
                            base + t[3].offset, base + t[4].offset, base + t[5].offset,
                            base + t[6].offset, base + t[7].offset, base + t[8].offset,
                            base + t[9].offset};
}

static pg_real *skip_weights_at(const pg_model *m, pg_real *base)
{
    return base + m->tensors[m->num_tensors - 1].offset;
}

static int bind_views(const pg_model *m, pg_real *base, pg_param_views *v)
{
    v->blocks = calloc((size_t)m->cfg.num_layers, sizeof *v->blocks);
    if (!v->blocks && m->cfg.num_layers > 0)
        return -1;
    v->tok_emb = base + m->tensors[0].offset;
    for (int l = 0; l < m->cfg.num_layers; l++)
        v->blocks[l] = block_views_at(m, base, l);
    v->skip_weights = skip_weights_at(m, base);
    return 0;
}

int pg_model_create(pg_model *m, const pg_model_config *cfg)
{
    return pg_model_create_on(m, cfg, pg_backend_cpu());
}

int pg_model_create_on(pg_model *m, const pg_model_config *cfg, const pg_backend *be)
{
    memset(m, 0, sizeof *m);
    if (pg_config_validate(cfg) != 0 ||
        (be && be->prepare_head_dim && be->prepare_head_dim(pg_config_head_dim(cfg)) != 0))
        return -1;
    m->cfg = *cfg;
    m->be = be;
    int D = cfg->model_dim, hd = pg_config_head_dim(cfg), kvd = cfg->num_kv_heads * hd;
    int F = cfg->mlp_mult * D;
    m->tensors = calloc(2 + 10 * (size_t)cfg->num_layers, sizeof *m->tensors);
    if (!m->tensors)
        return pg_fail("out of memory for the tensor table");
    char name[PG_TENSOR_NAME_MAX];
    add_tensor(m, "tok_emb.weight", cfg->vocab_size, D);
    for (int l = 0; l < cfg->num_layers; l++) {
#define BLOCK_TENSOR(suffix, rows, cols)                          \
    snprintf(name, sizeof name, "blocks.%d." suffix, l);          \
    add_tensor(m, name, rows, cols)
        BLOCK_TENSOR("attn.c_q.weight", D, D);
        BLOCK_TENSOR("attn.c_k.weight", kvd, D);
        BLOCK_TENSOR("attn.c_v.weight", kvd, D);
        BLOCK_TENSOR("attn.proj.weight", D, hd * cfg->num_heads);
        BLOCK_TENSOR("attn.q_gain", cfg->num_heads, 0);
        BLOCK_TENSOR("mlp.fc.weight", F, D);
        BLOCK_TENSOR("mlp.proj.weight", D, F);
        BLOCK_TENSOR("attn_scale", D, 0);
        BLOCK_TENSOR("mlp_scale", D, 0);
        BLOCK_TENSOR("resid_mix", 2, D);
#undef BLOCK_TENSOR
    }
    add_tensor(m, "skip_weights", pg_num_skip_weights(cfg), D);
    m->params = m->be->alloc(m->num_params * sizeof *m->params);
    if (!m->params || bind_views(m, m->params, &m->w) != 0) {
        pg_model_free(m);
        return pg_fail("out of memory for %zu parameters", m->num_params);
    }
    return 0;
}

void pg_model_free(pg_model *m)
{
    free(m->w.blocks);
    free(m->tensors);
    if (m->params)
        m->be->free(m->params);
    memset(m, 0, sizeof *m);
}

int pg_model_clone(pg_model *dst, const pg_model *src)
{
    if (pg_model_create_on(dst, &src->cfg, src->be) != 0)
        return -1;
    dst->be->copy(dst->params, src->params, src->num_params * sizeof(pg_real));
    return 0;
}

int pg_model_to_backend(pg_model *m, const pg_backend *be)
{
    if (m->be == be)
        return 0;
    pg_model moved;
    if (pg_model_create_on(&moved, &m->cfg, be) != 0)
        return -1;
    size_t bytes = m->num_params * sizeof(pg_real);
    pg_real *host = pg_host_acquire(m->be, m->params, bytes, 1);
    if (!host) {
        pg_model_free(&moved);
        return pg_fail("out of memory moving %zu parameters to the %s backend", m->num_params,
                       be->name);
    }
    be->to_device(moved.params, host, bytes);
    pg_host_release(m->be, m->params, host, bytes, 0);
    pg_model_free(m);
    *m = moved;
    return 0;
}

void pg_model_read_params(const pg_model *m, pg_real *host)
{
    m->be->to_host(host, m->params, m->num_params * sizeof(pg_real));
}

void pg_model_write_params(pg_model *m, const pg_real *host)
{
    m->be->to_device(m->params, host, m->num_params * sizeof(pg_real));
}

const pg_tensor_info *pg_model_find_tensor(const pg_model *m, const char *name)
{
    for (int i = 0; i < m->num_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return &m->tensors[i];
    return NULL;
}

int pg_model_init(pg_model *m, uint64_t seed, int mode)
{
    /* drawn on the host, in tensor order, then copied to the backend */
    size_t bytes = m->num_params * sizeof(pg_real);
    pg_real *params = pg_host_acquire(m->be, m->params, bytes, 0);
    if (!params)
        return pg_fail("out of memory initializing %zu parameters", m->num_params);
    pg_rng rng;
    pg_rng_seed(&rng, seed);
    const pg_model_config *c = &m->cfg;
    int dense = mode == PG_INIT_DENSE;
    for (int i = 0; i < m->num_tensors; i++) {
        const pg_tensor_info *t = &m->tensors[i];
        pg_real *p = params + t->offset;
        const char *n = t->name;
        if (strcmp(n, "tok_emb.weight") == 0) {
            for (size_t j = 0; j < t->numel; j++)
                p[j] = (pg_real)(c->tied_embed_init_std * pg_rng_normal(&rng));
        } else if (t->ndim == 2 && ends_with(n, ".weight")) {
            /* nn.Linear's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in));
             * output projections are zero-initialized by the reference. */
            int zero = !dense && ends_with(n, ".proj.weight");
            double bound = 1.0 / sqrt((double)t->shape[1]);
            for (size_t j = 0; j < t->numel; j++)
                p[j] = zero ? 0.0f : (pg_real)(bound * (2.0 * pg_rng_uniform(&rng) - 1.0));
        } else {
            /* Control tensors: q_gain, scales, resid_mix rows (1, 0), skip_weights. */
            int is_mix = ends_with(n, "resid_mix");
            for (size_t j = 0; j < t->numel; j++) {
                double base = ends_with(n, "q_gain") ? c->qk_gain_init
                              : is_mix && j >= (size_t)t->shape[1] ? 0.0
                                                                   : 1.0;
                double jitter = dense ? 0.5 * (pg_rng_uniform(&rng) - 0.5) : 0.0;
                p[j] = (pg_real)(base + jitter);
            }
        }
    }
    pg_host_release(m->be, m->params, params, bytes, 1);
    return 0;
}

/* The scratch of a backward pass: the attention's (the only op that takes one). */
static size_t op_scratch(const pg_backend *be, const pg_model_config *c, int T)
{
    return be->attention_bwd_scratch(T, c->num_kv_heads, pg_config_head_dim(c));
}

int pg_acts_create(pg_acts *a, const pg_model *m, int B, int T, int keep_layers)
{
    const pg_model_config *c = &m->cfg;
    memset(a, 0, sizeof *a);
    a->be = m->be;
    a->B = a->B_cap = B;
    a->T = a->T_cap = T;
    a->keep_layers = keep_layers;
    size_t N = (size_t)B * T, D = c->model_dim, H = c->num_heads, KVH = c->num_kv_heads;
    size_t hd = D / H, kvd = KVH * hd, F = (size_t)c->mlp_mult * D, V = c->vocab_size;
    size_t L = keep_layers ? (size_t)c->num_layers : 1;
    size_t nskip = (size_t)pg_num_skip_weights(c);
    a->stride_d = keep_layers ? N * D : 0;
    a->stride_kv = keep_layers ? N * kvd : 0;
    a->stride_f = keep_layers ? N * F : 0;
    a->stride_n = keep_layers ? N : 0;
    a->stride_nh = keep_layers ? N * H : 0;
    a->stride_nkv = keep_layers ? N * KVH : 0;
    size_t att_state = a->be->attention_state_size(B, T, (int)H, (int)hd);
    a->stride_p = keep_layers ? att_state : 0;
    size_t per_layer = 12 * N * D + 3 * N * kvd + 2 * N * F + 3 * N + N * H + N * KVH + att_state;
    size_t backward = keep_layers ? N * V + (2 + nskip + 5) * N * D + 3 * N * kvd + 2 * N * F : 0;
    /* workspace: LoRA's rank-r and [N][D] temporaries, then the ops' scratch */
    size_t ws = N * D + (keep_layers ? op_scratch(a->be, c, T) : 0);
    size_t total = 2 * N * D + 2 * N + N * V + (size_t)T * hd + L * per_layer + nskip * N * D +
                   backward + ws;
    a->buf = a->be->alloc(total * sizeof(pg_real));
    a->losses = a->be->alloc(N * sizeof(double));
    a->ids = a->be->alloc(2 * N * sizeof(int));
    if (!a->buf || !a->losses || !a->ids) {
        pg_acts_free(a);
        return pg_fail("out of memory for activations (B=%d, T=%d)", B, T);
    }
    a->targets = a->ids + N;
    pg_real *p = a->buf;
#define TAKE(field, count) (a->field = p, p += (count))
    TAKE(x0, N * D);
    TAKE(x0_rstd, N);
    TAKE(x_final, N * D);
    TAKE(final_rstd, N);
    TAKE(logits, N * V);
    TAKE(rope_cos, (size_t)T * hd / 2);
    TAKE(rope_sin, (size_t)T * hd / 2);
    TAKE(skips, nskip * N * D);
    TAKE(x_in, L * N * D);
    TAKE(x_mix, L * N * D);
    TAKE(attn_in, L * N * D);
    TAKE(attn_rstd, L * N);
    TAKE(q_lin, L * N * D);
    TAKE(k_lin, L * N * kvd);
    TAKE(v, L * N * kvd);
    TAKE(qn, L * N * D);
    TAKE(q, L * N * D);
    TAKE(k, L * N * kvd);
    TAKE(q_rstd, L * N * H);
    TAKE(k_rstd, L * N * KVH);
    TAKE(att_state, L * att_state);
    TAKE(att, L * N * D);
    TAKE(attn_out, L * N * D);
    TAKE(x_attn, L * N * D);
    TAKE(mlp_in, L * N * D);
    TAKE(mlp_rstd, L * N);
    TAKE(fc_out, L * N * F);
    TAKE(act, L * N * F);
    TAKE(mlp_out, L * N * D);
    TAKE(x_out, L * N * D);
    if (keep_layers) {
        TAKE(g_logits, N * V);
        TAKE(g_x, N * D);
        TAKE(g_x0, N * D);
        TAKE(g_skips, nskip * N * D);
        for (int i = 0; i < 5; i++)
            TAKE(g_d[i], N * D);
        for (int i = 0; i < 3; i++)
            TAKE(g_kv[i], N * kvd);
        TAKE(g_f[0], N * F);
        TAKE(g_f[1], N * F);
    }
    TAKE(lora_tmp, N * D);
    TAKE(scratch, ws - N * D);
#undef TAKE
    a->be->rope_tables(a->rope_cos, a->rope_sin, T, (int)hd, c->rope_base);
    return 0;
}

int pg_acts_set_shape(pg_acts *a, int B, int T)
{
    if (B < 1 || T < 1 || B > a->B_cap || T > a->T_cap)
        return pg_fail("activation shape %dx%d exceeds the allocated %dx%d", B, T, a->B_cap,
                       a->T_cap);
    /* Prefix positions keep their RoPE rows, and every buffer is large enough. */
    a->B = B;
    a->T = T;
    return 0;
}

void pg_acts_free(pg_acts *a)
{
    if (a->be) {
        a->be->free(a->buf);
        a->be->free(a->losses);
        a->be->free(a->ids);
    }
    memset(a, 0, sizeof *a);
}

/* ---- LoRA adapters ---- */

typedef struct {
    pg_real *aq, *bq, *av, *bv;
} lora_views;

static lora_views lora_at(const pg_lora *lo, const pg_model *m, pg_real *base, int l)
{
    size_t D = (size_t)m->cfg.model_dim, r = (size_t)lo->rank;
    pg_real *p = base + (size_t)l * lo->per_layer;
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
    lo->per_layer = (size_t)rank * (3 * D + kvd);
    lo->n = lo->per_layer * (size_t)m->cfg.num_layers;
    lo->p = lo->be->alloc(lo->n * sizeof(pg_real));
    lo->g = lo->be->alloc(lo->n * sizeof(pg_real));
    lo->h = lo->be->alloc((size_t)m->cfg.num_layers * 2 * (size_t)max_rows * (size_t)rank *
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
    for (int l = 0; l < m->cfg.num_layers; l++) {
        lora_views v = lora_at(lo, m, p, l);
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

static pg_real *lora_h(const pg_model *m, int l, int which)
{
    const pg_lora *lo = m->lora;
    return lo->h + ((size_t)l * 2 + (size_t)which) * (size_t)lo->max_rows * (size_t)lo->rank;
}

/* q += (x A_q^T) B_q^T, v += (x A_v^T) B_v^T */
static void lora_forward(const pg_model *m, pg_acts *a, int l, int N, const pg_real *x,
                         pg_real *q, pg_real *v)
{
    const pg_backend *be = m->be;
    int D = m->cfg.model_dim, r = m->lora->rank;
    int kvd = m->cfg.num_kv_heads * pg_config_head_dim(&m->cfg);
    lora_views w = lora_at(m->lora, m, m->lora->p, l);
    pg_real *hq = lora_h(m, l, 0), *hv = lora_h(m, l, 1), *tmp = a->lora_tmp;
    be->linear_fwd(hq, x, w.aq, N, D, r);
    be->linear_fwd(tmp, hq, w.bq, N, r, D);
    be->add(q, tmp, (size_t)N * D);
    be->linear_fwd(hv, x, w.av, N, D, r);
    be->linear_fwd(tmp, hv, w.bv, N, r, kvd);
    be->add(v, tmp, (size_t)N * kvd);
}

static void lora_backward(const pg_model *m, pg_acts *a, int l, int N, const pg_real *x,
                          const pg_real *dq, const pg_real *dv, pg_real *dx)
{
    const pg_backend *be = m->be;
    int D = m->cfg.model_dim, r = m->lora->rank;
    int kvd = m->cfg.num_kv_heads * pg_config_head_dim(&m->cfg);
    lora_views w = lora_at(m->lora, m, m->lora->p, l), gw = lora_at(m->lora, m, m->lora->g, l);
    pg_real *dh = a->lora_tmp;
    be->zero(dh, (size_t)N * r * sizeof *dh);
    be->linear_bwd(dh, gw.bq, dq, lora_h(m, l, 0), w.bq, N, r, D);
    be->linear_bwd(dx, gw.aq, dh, x, w.aq, N, D, r);
    be->zero(dh, (size_t)N * r * sizeof *dh);
    be->linear_bwd(dh, gw.bv, dv, lora_h(m, l, 1), w.bv, N, r, kvd);
    be->linear_bwd(dx, gw.av, dh, x, w.av, N, D, r);
}

/* The saved activations of layer l (distinct per layer with keep_layers, else shared). */
typedef struct {
    pg_real *x_in, *x_mix, *attn_in, *attn_rstd, *q_lin, *k_lin, *v, *qn, *q, *k, *q_rstd,
        *k_rstd, *att_state, *att, *attn_out, *x_attn, *mlp_in, *mlp_rstd, *fc_out, *act, *mlp_out,
        *x_out;
} layer_acts;

static layer_acts layer_at(pg_acts *a, int l)
{
    return (layer_acts){
        PG_LAYER(a, x_in, stride_d, l),      PG_LAYER(a, x_mix, stride_d, l),
        PG_LAYER(a, attn_in, stride_d, l),   PG_LAYER(a, attn_rstd, stride_n, l),
        PG_LAYER(a, q_lin, stride_d, l),     PG_LAYER(a, k_lin, stride_kv, l),
        PG_LAYER(a, v, stride_kv, l),        PG_LAYER(a, qn, stride_d, l),
        PG_LAYER(a, q, stride_d, l),         PG_LAYER(a, k, stride_kv, l),
        PG_LAYER(a, q_rstd, stride_nh, l),   PG_LAYER(a, k_rstd, stride_nkv, l),
        PG_LAYER(a, att_state, stride_p, l),     PG_LAYER(a, att, stride_d, l),
        PG_LAYER(a, attn_out, stride_d, l),  PG_LAYER(a, x_attn, stride_d, l),
        PG_LAYER(a, mlp_in, stride_d, l),    PG_LAYER(a, mlp_rstd, stride_n, l),
        PG_LAYER(a, fc_out, stride_f, l),    PG_LAYER(a, act, stride_f, l),
        PG_LAYER(a, mlp_out, stride_d, l),   PG_LAYER(a, x_out, stride_d, l)};
}

static void block_forward(const pg_model *m, pg_acts *a, int l)
{
    const pg_backend *be = m->be;
    const pg_model_config *c = &m->cfg;
    const pg_block_views *w = &m->w.blocks[l];
    int B = a->B, T = a->T, N = B * T, D = c->model_dim, H = c->num_heads;
    int KVH = c->num_kv_heads, hd = D / H, kvd = KVH * hd, F = c->mlp_mult * D;
    layer_acts s = layer_at(a, l);

    be->resid_mix_fwd(s.x_mix, s.x_in, a->x0, w->resid_mix, (size_t)N, D);

    /* attention branch */
    be->rmsnorm_fwd(s.attn_in, s.attn_rstd, s.x_mix, N, D, PG_RMS_EPS);
    be->linear_fwd(s.q_lin, s.attn_in, w->c_q, N, D, D);
    be->linear_fwd(s.k_lin, s.attn_in, w->c_k, N, D, kvd);
    be->linear_fwd(s.v, s.attn_in, w->c_v, N, D, kvd);
    if (m->lora)
        lora_forward(m, a, l, N, s.attn_in, s.q_lin, s.v);
    be->rmsnorm_fwd(s.qn, s.q_rstd, s.q_lin, N * H, hd, PG_RMS_EPS);
    be->rmsnorm_fwd(s.k, s.k_rstd, s.k_lin, N * KVH, hd, PG_RMS_EPS);
    be->rope_fwd(s.qn, a->rope_cos, a->rope_sin, B, T, H, hd);
    be->rope_fwd(s.k, a->rope_cos, a->rope_sin, B, T, KVH, hd);
    be->q_gain_fwd(s.q, s.qn, w->q_gain, (size_t)N, H, hd);
    be->attention_fwd(s.att, s.att_state, s.q, s.k, s.v, B, T, H, KVH, hd);
    be->linear_fwd(s.attn_out, s.att, w->attn_proj, N, D, D);
    be->scaled_add_fwd(s.x_attn, s.x_mix, w->attn_scale, s.attn_out, (size_t)N, D);

    /* MLP branch */
    be->rmsnorm_fwd(s.mlp_in, s.mlp_rstd, s.x_attn, N, D, PG_RMS_EPS);
    be->linear_fwd(s.fc_out, s.mlp_in, w->fc, N, D, F);
    be->mlp_act_fwd(s.act, s.fc_out, (size_t)N * F, c->mlp_act);
    be->linear_fwd(s.mlp_out, s.act, w->mlp_proj, N, F, D);
    be->scaled_add_fwd(s.x_out, s.x_attn, w->mlp_scale, s.mlp_out, (size_t)N, D);
}

/* Copies the pass's token ids and targets (host arrays) into the activations. */
static void load_tokens(pg_acts *a, const int *ids, const int *targets)
{
    size_t bytes = (size_t)a->B * a->T * sizeof(int);
    a->be->to_device(a->ids, ids, bytes);
    if (targets)
        a->be->to_device(a->targets, targets, bytes);
}

double pg_model_forward(const pg_model *m, pg_acts *a, const int *ids, const int *targets)
{
    const pg_backend *be = m->be;
    const pg_model_config *c = &m->cfg;
    int N = a->B * a->T, D = c->model_dim, L = c->num_layers;
    int enc = pg_num_encoder_layers(c), nskip = pg_num_skip_weights(c);
    size_t nd = (size_t)N * D;

    load_tokens(a, ids, targets);
    be->embedding_fwd(a->x0, m->w.tok_emb, a->ids, N, D);
    be->rmsnorm_fwd(a->x0, a->x0_rstd, a->x0, N, D, PG_RMS_EPS);

    const pg_real *prev = a->x0;
    for (int l = 0; l < L; l++) {
        pg_real *x_in = PG_LAYER(a, x_in, stride_d, l);
        int i = l - enc; /* decoder index */
        if (i >= 0 && i < nskip) {
            /* U-Net skip: decoder block i adds skip_weights[i] * (encoder output popped) */
            const pg_real *skip = a->skips + (size_t)(enc - 1 - i) * nd;
            be->scaled_add_fwd(x_in, prev, m->w.skip_weights + (size_t)i * D, skip, (size_t)N, D);
        } else {
            be->copy(x_in, prev, nd * sizeof(pg_real));
        }
        block_forward(m, a, l);
        prev = PG_LAYER(a, x_out, stride_d, l);
        if (l < enc && l < nskip)
            be->copy(a->skips + (size_t)l * nd, prev, nd * sizeof(pg_real));
    }

    be->rmsnorm_fwd(a->x_final, a->final_rstd, prev, N, D, PG_RMS_EPS);
    be->linear_fwd(a->logits, a->x_final, m->w.tok_emb, N, D, c->vocab_size);
    be->softcap_fwd(a->logits, (size_t)N * c->vocab_size, c->logit_softcap);
    return targets ? be->xent_fwd(a->losses, a->logits, a->targets, N, c->vocab_size) : 0;
}

/* Gradient of one block: g_out (the block output's gradient) in, the block input's
 * gradient written to g_in (may alias g_out); weight gradients accumulate into gw. */
static void block_backward(const pg_model *m, pg_acts *a, int l, const pg_block_views *gw,
                           const pg_real *g_out, pg_real *g_in)
{
    const pg_backend *be = m->be;
    const pg_model_config *c = &m->cfg;
    const pg_block_views *w = &m->w.blocks[l];
    int B = a->B, T = a->T, N = B * T, D = c->model_dim, H = c->num_heads;
    int KVH = c->num_kv_heads, hd = D / H, kvd = KVH * hd, F = c->mlp_mult * D;
    size_t nd = (size_t)N * D, nkv = (size_t)N * kvd, nf = (size_t)N * F;
    layer_acts s = layer_at(a, l);
    pg_real *t_branch = a->g_d[0], *t_resid = a->g_d[1], *t_att = a->g_d[2];
    pg_real *t_q = a->g_d[3], *t_qlin = a->g_d[4];
    pg_real *t_k = a->g_kv[0], *t_v = a->g_kv[1], *t_klin = a->g_kv[2];
    pg_real *t_f = a->g_f[0], *t_fc = a->g_f[1], *ws = a->scratch;

    /* x_out = x_attn + mlp_scale * mlp_out: the residual passes g_out through */
    be->scaled_add_bwd(t_branch, gw->mlp_scale, g_out, s.mlp_out, w->mlp_scale, (size_t)N, D);
    be->copy(t_resid, g_out, nd * sizeof(pg_real));
    /* MLP: mlp_out = act(fc(norm(x_attn))) @ proj^T */
    be->zero(t_f, nf * sizeof(pg_real));
    be->linear_bwd(t_f, gw->mlp_proj, t_branch, s.act, w->mlp_proj, N, F, D);
    be->zero(t_fc, nf * sizeof(pg_real));
    be->mlp_act_bwd(t_fc, t_f, s.fc_out, nf, c->mlp_act);
    be->zero(t_branch, nd * sizeof(pg_real));
    be->linear_bwd(t_branch, gw->fc, t_fc, s.mlp_in, w->fc, N, D, F);
    be->rmsnorm_bwd(t_resid, t_branch, s.x_attn, s.mlp_rstd, N, D);

    /* x_attn = x_mix + attn_scale * attn_out */
    be->scaled_add_bwd(t_branch, gw->attn_scale, t_resid, s.attn_out, w->attn_scale, (size_t)N,
                       D);
    be->zero(t_att, nd * sizeof(pg_real));
    be->linear_bwd(t_att, gw->attn_proj, t_branch, s.att, w->attn_proj, N, D, D);
    be->zero(t_q, nd * sizeof(pg_real));
    be->zero(t_k, nkv * sizeof(pg_real));
    be->zero(t_v, nkv * sizeof(pg_real));
    be->attention_bwd(t_q, t_k, t_v, t_att, s.att, s.att_state, s.q, s.k, s.v, B, T, H, KVH, hd, ws);
    be->q_gain_bwd(t_q, gw->q_gain, s.qn, w->q_gain, (size_t)N, H, hd);
    be->rope_bwd(t_q, a->rope_cos, a->rope_sin, B, T, H, hd);
    be->rope_bwd(t_k, a->rope_cos, a->rope_sin, B, T, KVH, hd);
    be->zero(t_qlin, nd * sizeof(pg_real));
    be->zero(t_klin, nkv * sizeof(pg_real));
    be->rmsnorm_bwd(t_qlin, t_q, s.q_lin, s.q_rstd, N * H, hd);
    be->rmsnorm_bwd(t_klin, t_k, s.k_lin, s.k_rstd, N * KVH, hd);
    be->zero(t_branch, nd * sizeof(pg_real));
    be->linear_bwd(t_branch, gw->c_q, t_qlin, s.attn_in, w->c_q, N, D, D);
    be->linear_bwd(t_branch, gw->c_k, t_klin, s.attn_in, w->c_k, N, D, kvd);
    be->linear_bwd(t_branch, gw->c_v, t_v, s.attn_in, w->c_v, N, D, kvd);
    if (m->lora)
        lora_backward(m, a, l, N, s.attn_in, t_qlin, t_v, t_branch);
    be->rmsnorm_bwd(t_resid, t_branch, s.x_mix, s.attn_rstd, N, D);

    /* x_mix = mix[0] * x_in + mix[1] * x0 */
    be->resid_mix_bwd(g_in, a->g_x0, gw->resid_mix, t_resid, s.x_in, a->x0, w->resid_mix,
                      (size_t)N, D);
}

void pg_model_backward(const pg_model *m, pg_acts *a, const int *ids, const int *targets,
                       pg_real *grad, double dloss)
{
    const pg_backend *be = m->be;
    const pg_model_config *c = &m->cfg;
    int N = a->B * a->T, D = c->model_dim, L = c->num_layers, V = c->vocab_size;
    int enc = pg_num_encoder_layers(c), nskip = pg_num_skip_weights(c);
    size_t nd = (size_t)N * D;
    pg_real *g_tok_emb = grad + m->tensors[0].offset, *g_skip_w = skip_weights_at(m, grad);

    load_tokens(a, ids, targets);
    /* head: logits = softcap(x_final @ tok_emb^T) */
    be->softcap_xent_bwd(a->g_logits, a->logits, a->targets, N, V, c->logit_softcap, dloss);
    pg_real *g_final = a->g_d[0];
    be->zero(g_final, nd * sizeof(pg_real));
    be->linear_bwd(g_final, g_tok_emb, a->g_logits, a->x_final, m->w.tok_emb, N, D, V);
    be->zero(a->g_x, nd * sizeof(pg_real));
    be->rmsnorm_bwd(a->g_x, g_final, PG_LAYER(a, x_out, stride_d, L - 1), a->final_rstd, N, D);

    be->zero(a->g_x0, nd * sizeof(pg_real));
    be->zero(a->g_skips, (size_t)nskip * nd * sizeof(pg_real));
    for (int l = L - 1; l >= 0; l--) {
        /* g_x holds the gradient of this block's output */
        if (l < enc && l < nskip)
            be->add(a->g_x, a->g_skips + (size_t)l * nd, nd);
        pg_block_views gw = block_views_at(m, grad, l);
        block_backward(m, a, l, &gw, a->g_x, a->g_x);
        int i = l - enc;
        if (i >= 0 && i < nskip) {
            /* x_in = prev + skip_weights[i] * skip[enc-1-i] */
            size_t at = (size_t)(enc - 1 - i) * nd;
            be->skip_add_bwd(a->g_skips + at, g_skip_w + (size_t)i * D, a->g_x, a->skips + at,
                             m->w.skip_weights + (size_t)i * D, (size_t)N, D);
        }
    }
    /* layer 0's input is x0 */
    be->add(a->g_x0, a->g_x, nd);
    /* x0 = rms_norm(tok_emb[ids]); the gathered rows are the norm's input */
    pg_real *emb = a->g_d[1], *g_emb = a->g_d[2];
    be->embedding_fwd(emb, m->w.tok_emb, a->ids, N, D);
    be->zero(g_emb, nd * sizeof(pg_real));
    be->rmsnorm_bwd(g_emb, a->g_x0, emb, a->x0_rstd, N, D);
    be->embedding_bwd(g_tok_emb, g_emb, a->ids, N, D);
}
