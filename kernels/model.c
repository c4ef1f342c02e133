#include "kernels/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "kernels/cpu/ops.h"
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

int pg_model_create(pg_model *m, const pg_model_config *cfg)
{
    memset(m, 0, sizeof *m);
    if (pg_config_validate(cfg) != 0)
        return -1;
    m->cfg = *cfg;
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
    m->params = calloc(m->num_params, sizeof *m->params);
    if (!m->params || pg_model_bind_views(m, m->params, &m->w) != 0) {
        pg_model_free(m);
        return pg_fail("out of memory for %zu parameters", m->num_params);
    }
    return 0;
}

int pg_model_bind_views(const pg_model *m, pg_real *base, pg_param_views *v)
{
    v->blocks = calloc((size_t)m->cfg.num_layers, sizeof *v->blocks);
    if (!v->blocks)
        return -1;
    const pg_tensor_info *t = m->tensors;
    v->tok_emb = base + (t++)->offset;
    for (int l = 0; l < m->cfg.num_layers; l++) {
        pg_block_views *b = &v->blocks[l];
        pg_real **fields[] = {&b->c_q, &b->c_k,      &b->c_v,       &b->attn_proj, &b->q_gain,
                            &b->fc,  &b->mlp_proj, &b->attn_scale, &b->mlp_scale, &b->resid_mix};
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            *fields[i] = base + (t++)->offset;
    }
    v->skip_weights = base + t->offset;
    return 0;
}

void pg_param_views_free(pg_param_views *v)
{
    free(v->blocks);
    v->blocks = NULL;
}

void pg_model_free(pg_model *m)
{
    pg_param_views_free(&m->w);
    free(m->tensors);
    free(m->params);
    memset(m, 0, sizeof *m);
}

int pg_model_clone(pg_model *dst, const pg_model *src)
{
    if (pg_model_create(dst, &src->cfg) != 0)
        return -1;
    memcpy(dst->params, src->params, src->num_params * sizeof(pg_real));
    return 0;
}

const pg_tensor_info *pg_model_find_tensor(const pg_model *m, const char *name)
{
    for (int i = 0; i < m->num_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return &m->tensors[i];
    return NULL;
}

void pg_model_init(pg_model *m, uint64_t seed, int mode)
{
    pg_rng rng;
    pg_rng_seed(&rng, seed);
    const pg_model_config *c = &m->cfg;
    int dense = mode == PG_INIT_DENSE;
    for (int i = 0; i < m->num_tensors; i++) {
        const pg_tensor_info *t = &m->tensors[i];
        pg_real *p = m->params + t->offset;
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
}

int pg_acts_create(pg_acts *a, const pg_model_config *c, int B, int T, int keep_layers)
{
    memset(a, 0, sizeof *a);
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
    a->stride_p = keep_layers ? (size_t)B * H * T * T : 0;
    size_t per_layer = 12 * N * D + 3 * N * kvd + 2 * N * F + 3 * N + N * H + N * KVH +
                       (size_t)B * H * T * T;
    size_t backward = keep_layers ? N * V + (2 + nskip + 5) * N * D + 3 * N * kvd + 2 * N * F : 0;
    size_t total = 2 * N * D + 2 * N + N * V + (size_t)T * hd + L * per_layer + nskip * N * D +
                   backward;
    a->buf = calloc(total, sizeof(pg_real));
    a->losses = calloc(N, sizeof(double));
    if (!a->buf || !a->losses) {
        pg_acts_free(a);
        return pg_fail("out of memory for activations (B=%d, T=%d)", B, T);
    }
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
    TAKE(probs, L * (size_t)B * H * T * T);
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
#undef TAKE
    pg_rope_tables(a->rope_cos, a->rope_sin, T, (int)hd, c->rope_base);
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
    free(a->buf);
    free(a->losses);
    memset(a, 0, sizeof *a);
}

/* y = x + s (.) d, with s broadcast over rows of dim D. */
static void add_scaled(pg_real *y, const pg_real *x, const pg_real *s, const pg_real *d, size_t N, int D)
{
    for (size_t r = 0; r < N; r++)
        for (int i = 0; i < D; i++)
            y[r * D + i] = x[r * D + i] + s[i] * d[r * D + i];
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
    lo->rank = rank;
    lo->max_rows = max_rows;
    lo->per_layer = (size_t)rank * (3 * D + kvd);
    lo->n = lo->per_layer * (size_t)m->cfg.num_layers;
    lo->p = calloc(lo->n, sizeof(pg_real));
    lo->g = calloc(lo->n, sizeof(pg_real));
    lo->h = calloc((size_t)m->cfg.num_layers * 2 * (size_t)max_rows * (size_t)rank, sizeof(pg_real));
    if (!lo->p || !lo->g || !lo->h) {
        pg_lora_free(lo);
        return pg_fail("out of memory for LoRA adapters");
    }
    return 0;
}

void pg_lora_reset(pg_lora *lo, const pg_model *m, uint64_t seed)
{
    /* A ~ U(-1/sqrt(D), 1/sqrt(D)) as nn.Linear, B = 0 */
    pg_rng rng;
    pg_rng_seed(&rng, seed);
    double bound = 1.0 / sqrt((double)m->cfg.model_dim);
    size_t rD = (size_t)lo->rank * (size_t)m->cfg.model_dim;
    memset(lo->p, 0, lo->n * sizeof(pg_real));
    for (int l = 0; l < m->cfg.num_layers; l++) {
        lora_views v = lora_at(lo, m, lo->p, l);
        for (size_t j = 0; j < rD; j++) {
            v.aq[j] = (pg_real)(bound * (2.0 * pg_rng_uniform(&rng) - 1.0));
            v.av[j] = (pg_real)(bound * (2.0 * pg_rng_uniform(&rng) - 1.0));
        }
    }
}

void pg_lora_free(pg_lora *lo)
{
    free(lo->p);
    free(lo->g);
    free(lo->h);
    memset(lo, 0, sizeof *lo);
}

static pg_real *lora_h(const pg_model *m, int l, int which)
{
    const pg_lora *lo = m->lora;
    return lo->h + ((size_t)l * 2 + (size_t)which) * (size_t)lo->max_rows * (size_t)lo->rank;
}

static void lora_forward(const pg_model *m, int l, int N, const pg_real *x, pg_real *q, pg_real *v)
{
    int D = m->cfg.model_dim, r = m->lora->rank;
    int kvd = m->cfg.num_kv_heads * pg_config_head_dim(&m->cfg);
    lora_views w = lora_at(m->lora, m, m->lora->p, l);
    pg_real *hq = lora_h(m, l, 0), *hv = lora_h(m, l, 1);
    pg_real *tmp = malloc((size_t)N * (size_t)(D > kvd ? D : kvd) * sizeof *tmp);
    pg_linear_fwd(hq, x, w.aq, N, D, r);
    pg_linear_fwd(tmp, hq, w.bq, N, r, D);
    for (size_t j = 0; j < (size_t)N * D; j++)
        q[j] += tmp[j];
    pg_linear_fwd(hv, x, w.av, N, D, r);
    pg_linear_fwd(tmp, hv, w.bv, N, r, kvd);
    for (size_t j = 0; j < (size_t)N * kvd; j++)
        v[j] += tmp[j];
    free(tmp);
}

static void lora_backward(const pg_model *m, int l, int N, const pg_real *x, const pg_real *dq,
                          const pg_real *dv, pg_real *dx)
{
    int D = m->cfg.model_dim, r = m->lora->rank;
    int kvd = m->cfg.num_kv_heads * pg_config_head_dim(&m->cfg);
    lora_views w = lora_at(m->lora, m, m->lora->p, l), gw = lora_at(m->lora, m, m->lora->g, l);
    pg_real *dh = calloc((size_t)N * r, sizeof *dh);
    pg_linear_bwd(dh, gw.bq, dq, lora_h(m, l, 0), w.bq, N, r, D);
    pg_linear_bwd(dx, gw.aq, dh, x, w.aq, N, D, r);
    memset(dh, 0, (size_t)N * r * sizeof *dh);
    pg_linear_bwd(dh, gw.bv, dv, lora_h(m, l, 1), w.bv, N, r, kvd);
    pg_linear_bwd(dx, gw.av, dh, x, w.av, N, D, r);
    free(dh);
}

static void block_forward(const pg_model *m, pg_acts *a, int l)
{
    const pg_model_config *c = &m->cfg;
    const pg_block_views *w = &m->w.blocks[l];
    int B = a->B, T = a->T, N = B * T, D = c->model_dim, H = c->num_heads;
    int KVH = c->num_kv_heads, hd = D / H, kvd = KVH * hd, F = c->mlp_mult * D;
    pg_real *x_in = PG_LAYER(a, x_in, stride_d, l), *x_mix = PG_LAYER(a, x_mix, stride_d, l);
    pg_real *attn_in = PG_LAYER(a, attn_in, stride_d, l);
    pg_real *q_lin = PG_LAYER(a, q_lin, stride_d, l), *k_lin = PG_LAYER(a, k_lin, stride_kv, l);
    pg_real *v = PG_LAYER(a, v, stride_kv, l), *qn = PG_LAYER(a, qn, stride_d, l);
    pg_real *q = PG_LAYER(a, q, stride_d, l), *k = PG_LAYER(a, k, stride_kv, l);
    pg_real *probs = PG_LAYER(a, probs, stride_p, l), *att = PG_LAYER(a, att, stride_d, l);
    pg_real *attn_out = PG_LAYER(a, attn_out, stride_d, l);
    pg_real *x_attn = PG_LAYER(a, x_attn, stride_d, l), *mlp_in = PG_LAYER(a, mlp_in, stride_d, l);
    pg_real *fc_out = PG_LAYER(a, fc_out, stride_f, l), *act = PG_LAYER(a, act, stride_f, l);
    pg_real *mlp_out = PG_LAYER(a, mlp_out, stride_d, l), *x_out = PG_LAYER(a, x_out, stride_d, l);

    /* x = mix[0] * x + mix[1] * x0 */
    const pg_real *mix0 = w->resid_mix, *mix1 = w->resid_mix + D;
    for (size_t r = 0; r < (size_t)N; r++)
        for (int i = 0; i < D; i++)
            x_mix[r * D + i] = mix0[i] * x_in[r * D + i] + mix1[i] * a->x0[r * D + i];

    /* attention branch */
    pg_rmsnorm_fwd(attn_in, PG_LAYER(a, attn_rstd, stride_n, l), x_mix, N, D, PG_RMS_EPS);
    pg_linear_fwd(q_lin, attn_in, w->c_q, N, D, D);
    pg_linear_fwd(k_lin, attn_in, w->c_k, N, D, kvd);
    pg_linear_fwd(v, attn_in, w->c_v, N, D, kvd);
    if (m->lora)
        lora_forward(m, l, N, attn_in, q_lin, v);
    pg_rmsnorm_fwd(qn, PG_LAYER(a, q_rstd, stride_nh, l), q_lin, N * H, hd, PG_RMS_EPS);
    pg_rmsnorm_fwd(k, PG_LAYER(a, k_rstd, stride_nkv, l), k_lin, N * KVH, hd, PG_RMS_EPS);
    pg_rope_fwd(qn, a->rope_cos, a->rope_sin, B, T, H, hd);
    pg_rope_fwd(k, a->rope_cos, a->rope_sin, B, T, KVH, hd);
    for (size_t r = 0; r < (size_t)N; r++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < hd; i++)
                q[(r * H + h) * hd + i] = qn[(r * H + h) * hd + i] * w->q_gain[h];
    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * T;
        pg_attention_fwd(att + row * D, probs + (size_t)b * H * T * T, q + row * D,
                         k + row * kvd, v + row * kvd, T, H, KVH, hd);
    }
    pg_linear_fwd(attn_out, att, w->attn_proj, N, D, D);
    add_scaled(x_attn, x_mix, w->attn_scale, attn_out, N, D);

    /* MLP branch */
    pg_rmsnorm_fwd(mlp_in, PG_LAYER(a, mlp_rstd, stride_n, l), x_attn, N, D, PG_RMS_EPS);
    pg_linear_fwd(fc_out, mlp_in, w->fc, N, D, F);
    pg_mlp_act_fwd(act, fc_out, (size_t)N * F, c->mlp_act);
    pg_linear_fwd(mlp_out, act, w->mlp_proj, N, F, D);
    add_scaled(x_out, x_attn, w->mlp_scale, mlp_out, N, D);
}

double pg_model_forward(const pg_model *m, pg_acts *a, const int *ids, const int *targets)
{
    const pg_model_config *c = &m->cfg;
    int N = a->B * a->T, D = c->model_dim, L = c->num_layers;
    int enc = pg_num_encoder_layers(c), nskip = pg_num_skip_weights(c);
    size_t nd = (size_t)N * D;

    for (int r = 0; r < N; r++)
        memcpy(a->x0 + (size_t)r * D, m->w.tok_emb + (size_t)ids[r] * D, D * sizeof(pg_real));
    pg_rmsnorm_fwd(a->x0, a->x0_rstd, a->x0, N, D, PG_RMS_EPS);

    const pg_real *prev = a->x0;
    for (int l = 0; l < L; l++) {
        pg_real *x_in = PG_LAYER(a, x_in, stride_d, l);
        int i = l - enc; /* decoder index */
        if (i >= 0 && i < nskip) {
            /* U-Net skip: decoder block i adds skip_weights[i] * (encoder output popped) */
            const pg_real *skip = a->skips + (size_t)(enc - 1 - i) * nd;
            add_scaled(x_in, prev, m->w.skip_weights + (size_t)i * D, skip, N, D);
        } else if (x_in != prev) {
            memmove(x_in, prev, nd * sizeof(pg_real));
        }
        block_forward(m, a, l);
        prev = PG_LAYER(a, x_out, stride_d, l);
        if (l < enc && l < nskip)
            memcpy(a->skips + (size_t)l * nd, prev, nd * sizeof(pg_real));
    }

    pg_rmsnorm_fwd(a->x_final, a->final_rstd, prev, N, D, PG_RMS_EPS);
    pg_linear_fwd(a->logits, a->x_final, m->w.tok_emb, N, D, c->vocab_size);
    pg_softcap_fwd(a->logits, (size_t)N * c->vocab_size, c->logit_softcap);
    return targets ? pg_xent_fwd(a->losses, a->logits, targets, N, c->vocab_size) : 0;
}

/* sum over rows of a (.) b into out[D] (a scale or mix vector's gradient) */
static void acc_colsum_prod(pg_real *out, const pg_real *a, const pg_real *b, size_t N, int D)
{
    for (size_t r = 0; r < N; r++)
        for (int i = 0; i < D; i++)
            out[i] += a[r * D + i] * b[r * D + i];
}

/* Gradient of one block: g_out (the block output's gradient) in, the block input's
 * gradient written to g_in (may alias g_out); weight gradients accumulate into gw. */
static void block_backward(const pg_model *m, pg_acts *a, int l, const pg_block_views *gw,
                           const pg_real *g_out, pg_real *g_in)
{
    const pg_model_config *c = &m->cfg;
    const pg_block_views *w = &m->w.blocks[l];
    int B = a->B, T = a->T, N = B * T, D = c->model_dim, H = c->num_heads;
    int KVH = c->num_kv_heads, hd = D / H, kvd = KVH * hd, F = c->mlp_mult * D;
    size_t nd = (size_t)N * D, nkv = (size_t)N * kvd, nf = (size_t)N * F;
    pg_real *x_in = PG_LAYER(a, x_in, stride_d, l), *x_mix = PG_LAYER(a, x_mix, stride_d, l);
    pg_real *attn_in = PG_LAYER(a, attn_in, stride_d, l);
    pg_real *q_lin = PG_LAYER(a, q_lin, stride_d, l), *k_lin = PG_LAYER(a, k_lin, stride_kv, l);
    pg_real *v = PG_LAYER(a, v, stride_kv, l), *qn = PG_LAYER(a, qn, stride_d, l);
    pg_real *q = PG_LAYER(a, q, stride_d, l), *k = PG_LAYER(a, k, stride_kv, l);
    pg_real *probs = PG_LAYER(a, probs, stride_p, l), *att = PG_LAYER(a, att, stride_d, l);
    pg_real *attn_out = PG_LAYER(a, attn_out, stride_d, l);
    pg_real *x_attn = PG_LAYER(a, x_attn, stride_d, l), *mlp_in = PG_LAYER(a, mlp_in, stride_d, l);
    pg_real *fc_out = PG_LAYER(a, fc_out, stride_f, l), *act = PG_LAYER(a, act, stride_f, l);
    pg_real *mlp_out = PG_LAYER(a, mlp_out, stride_d, l);
    pg_real *t_branch = a->g_d[0], *t_resid = a->g_d[1], *t_att = a->g_d[2];
    pg_real *t_q = a->g_d[3], *t_qlin = a->g_d[4];
    pg_real *t_k = a->g_kv[0], *t_v = a->g_kv[1], *t_klin = a->g_kv[2];
    pg_real *t_f = a->g_f[0], *t_fc = a->g_f[1];

    /* x_out = x_attn + mlp_scale * mlp_out */
    acc_colsum_prod(gw->mlp_scale, g_out, mlp_out, N, D);
    for (size_t j = 0; j < nd; j++)
        t_branch[j] = w->mlp_scale[j % D] * g_out[j];
    memcpy(t_resid, g_out, nd * sizeof(pg_real));
    /* MLP: mlp_out = act(fc(norm(x_attn))) @ proj^T */
    memset(t_f, 0, nf * sizeof(pg_real));
    pg_linear_bwd(t_f, gw->mlp_proj, t_branch, act, w->mlp_proj, N, F, D);
    memset(t_fc, 0, nf * sizeof(pg_real));
    pg_mlp_act_bwd(t_fc, t_f, fc_out, nf, c->mlp_act);
    memset(t_branch, 0, nd * sizeof(pg_real));
    pg_linear_bwd(t_branch, gw->fc, t_fc, mlp_in, w->fc, N, D, F);
    pg_rmsnorm_bwd(t_resid, t_branch, x_attn, PG_LAYER(a, mlp_rstd, stride_n, l), N, D);

    /* x_attn = x_mix + attn_scale * attn_out */
    acc_colsum_prod(gw->attn_scale, t_resid, attn_out, N, D);
    for (size_t j = 0; j < nd; j++)
        t_branch[j] = w->attn_scale[j % D] * t_resid[j];
    memset(t_att, 0, nd * sizeof(pg_real));
    pg_linear_bwd(t_att, gw->attn_proj, t_branch, att, w->attn_proj, N, D, D);
    memset(t_q, 0, nd * sizeof(pg_real));
    memset(t_k, 0, nkv * sizeof(pg_real));
    memset(t_v, 0, nkv * sizeof(pg_real));
    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * T;
        pg_attention_bwd(t_q + row * D, t_k + row * kvd, t_v + row * kvd, t_att + row * D,
                         probs + (size_t)b * H * T * T, q + row * D, k + row * kvd,
                         v + row * kvd, T, H, KVH, hd);
    }
    /* q = qn * q_gain[h] */
    for (size_t r = 0; r < (size_t)N; r++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < hd; i++) {
                size_t j = (r * H + h) * hd + i;
                gw->q_gain[h] += t_q[j] * qn[j];
                t_q[j] *= w->q_gain[h];
            }
    pg_rope_bwd(t_q, a->rope_cos, a->rope_sin, B, T, H, hd);
    pg_rope_bwd(t_k, a->rope_cos, a->rope_sin, B, T, KVH, hd);
    memset(t_qlin, 0, nd * sizeof(pg_real));
    memset(t_klin, 0, nkv * sizeof(pg_real));
    pg_rmsnorm_bwd(t_qlin, t_q, q_lin, PG_LAYER(a, q_rstd, stride_nh, l), N * H, hd);
    pg_rmsnorm_bwd(t_klin, t_k, k_lin, PG_LAYER(a, k_rstd, stride_nkv, l), N * KVH, hd);
    memset(t_branch, 0, nd * sizeof(pg_real));
    pg_linear_bwd(t_branch, gw->c_q, t_qlin, attn_in, w->c_q, N, D, D);
    pg_linear_bwd(t_branch, gw->c_k, t_klin, attn_in, w->c_k, N, D, kvd);
    pg_linear_bwd(t_branch, gw->c_v, t_v, attn_in, w->c_v, N, D, kvd);
    if (m->lora)
        lora_backward(m, l, N, attn_in, t_qlin, t_v, t_branch);
    pg_rmsnorm_bwd(t_resid, t_branch, x_mix, PG_LAYER(a, attn_rstd, stride_n, l), N, D);

    /* x_mix = mix[0] * x_in + mix[1] * x0 */
    const pg_real *mix0 = w->resid_mix, *mix1 = w->resid_mix + D;
    acc_colsum_prod(gw->resid_mix, t_resid, x_in, N, D);
    acc_colsum_prod(gw->resid_mix + D, t_resid, a->x0, N, D);
    for (size_t j = 0; j < nd; j++) {
        a->g_x0[j] += mix1[j % D] * t_resid[j];
        g_in[j] = mix0[j % D] * t_resid[j];
    }
}

void pg_model_backward(const pg_model *m, pg_acts *a, const int *ids, const int *targets,
                       pg_real *grad, double dloss)
{
    const pg_model_config *c = &m->cfg;
    int N = a->B * a->T, D = c->model_dim, L = c->num_layers, V = c->vocab_size;
    int enc = pg_num_encoder_layers(c), nskip = pg_num_skip_weights(c);
    size_t nd = (size_t)N * D;
    pg_param_views gw;
    pg_model_bind_views(m, grad, &gw);

    /* head: logits = softcap(x_final @ tok_emb^T) */
    pg_softcap_xent_bwd(a->g_logits, a->logits, targets, N, V, c->logit_softcap, dloss);
    pg_real *g_final = a->g_d[0];
    memset(g_final, 0, nd * sizeof(pg_real));
    pg_linear_bwd(g_final, gw.tok_emb, a->g_logits, a->x_final, m->w.tok_emb, N, D, V);
    memset(a->g_x, 0, nd * sizeof(pg_real));
    pg_rmsnorm_bwd(a->g_x, g_final, PG_LAYER(a, x_out, stride_d, L - 1), a->final_rstd, N, D);

    memset(a->g_x0, 0, nd * sizeof(pg_real));
    memset(a->g_skips, 0, (size_t)nskip * nd * sizeof(pg_real));
    for (int l = L - 1; l >= 0; l--) {
        /* g_x holds the gradient of this block's output */
        if (l < enc && l < nskip)
            for (size_t j = 0; j < nd; j++)
                a->g_x[j] += a->g_skips[(size_t)l * nd + j];
        block_backward(m, a, l, &gw.blocks[l], a->g_x, a->g_x);
        int i = l - enc;
        if (i >= 0 && i < nskip) {
            /* x_in = prev + skip_weights[i] * skip[enc-1-i] */
            const pg_real *skip = a->skips + (size_t)(enc - 1 - i) * nd;
            pg_real *g_skip = a->g_skips + (size_t)(enc - 1 - i) * nd;
            const pg_real *sw = m->w.skip_weights + (size_t)i * D;
            acc_colsum_prod(gw.skip_weights + (size_t)i * D, a->g_x, skip, N, D);
            for (size_t j = 0; j < nd; j++)
                g_skip[j] += sw[j % D] * a->g_x[j];
        }
    }
    /* layer 0's input is x0 */
    for (size_t j = 0; j < nd; j++)
        a->g_x0[j] += a->g_x[j];
    /* x0 = rms_norm(tok_emb[ids]); the gathered rows are the norm's input */
    pg_real *emb = a->g_d[1], *g_emb = a->g_d[2];
    for (int r = 0; r < N; r++)
        memcpy(emb + (size_t)r * D, m->w.tok_emb + (size_t)ids[r] * D, D * sizeof(pg_real));
    memset(g_emb, 0, nd * sizeof(pg_real));
    pg_rmsnorm_bwd(g_emb, a->g_x0, emb, a->x0_rstd, N, D);
    for (int r = 0; r < N; r++)
        for (int i = 0; i < D; i++)
            gw.tok_emb[(size_t)ids[r] * D + i] += g_emb[(size_t)r * D + i];
    pg_param_views_free(&gw);
}
