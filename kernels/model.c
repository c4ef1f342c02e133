/* The model's parameters (tensor table, views, init) and its activations; the graph is
 * in model_block.c and model_stack.c, the adapters in model_lora.c. */
#include "kernels/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "kernels/model_internal.h"
#include "kernels/rng.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void add_tensor(pg_model *m, const char *name, int rows, int cols)
{
    pg_tensor_info *t = &m->tensors[m->num_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    /* the records route their gates to the scalar group, whatever the name ends with */
    t->group = strcmp(name, "tok_emb.weight") == 0                      ? PG_GROUP_EMBED
               : cols > 0 && strncmp(name, "blocks.", 7) == 0 &&
                         ends_with(name, ".weight") && !strstr(name, "attn_gate")
                                                                        ? PG_GROUP_MATRIX
                                                                        : PG_GROUP_SCALAR;
    t->ndim = cols > 0 ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols > 0 ? cols : 1;
    t->offset = m->num_params;
    t->numel = (size_t)rows * t->shape[1];
    m->num_params += t->numel;
}

pg_block_views pg_model_block_views(const pg_model *m, pg_real *base, int l)
{
    const pg_tensor_info *t = m->tensors + 1 + 10 * (size_t)l;
    pg_block_views v = {base + t[0].offset, base + t[1].offset, base + t[2].offset,
                        base + t[3].offset, base + t[4].offset, base + t[5].offset,
                        base + t[6].offset, base + t[7].offset, base + t[8].offset,
                        base + t[9].offset, NULL};
    pg_head_gate_kind k;
    if (pg_config_head_gate(&m->cfg, &k)) {
        /* the gates follow the skip tensors, one per layer in order */
        const pg_tensor_info *g = pg_model_find_tensor(m, "blocks.0.attn.attn_gate_w");
        if (!g)
            g = pg_model_find_tensor(m, "blocks.0.attn.attn_gate_proj.weight");
        v.attn_gate = base + g[l].offset;
    }
    return v;
}

/* The tensor called name in base, or NULL when the model has none. */
static pg_real *tensor_in(const pg_model *m, pg_real *base, const char *name)
{
    const pg_tensor_info *t = pg_model_find_tensor(m, name);
    return t ? base + t->offset : NULL;
}

static int bind_views(const pg_model *m, pg_real *base, pg_param_views *v)
{
    v->blocks = calloc((size_t)m->cfg.num_layers, sizeof *v->blocks);
    if (!v->blocks && m->cfg.num_layers > 0)
        return -1;
    v->tok_emb = base + m->tensors[0].offset;
    for (int l = 0; l < m->cfg.num_layers; l++)
        v->blocks[l] = pg_model_block_views(m, base, l);
    v->skip_weights = tensor_in(m, base, "skip_weights");
    v->skip_gates = tensor_in(m, base, "skip_gates");
    v->par_post = tensor_in(m, base, "parallel_post_lambdas");
    v->par_resid = tensor_in(m, base, "parallel_resid_lambdas");
    v->smear_w = tensor_in(m, base, "smear_gate.weight");
    v->smear_lambda = tensor_in(m, base, "smear_lambda");
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
    m->tensors = calloc(7 + 11 * (size_t)cfg->num_layers, sizeof *m->tensors);
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
    add_tensor(m, "skip_weights", pg_config_num_skips(cfg), D);
    if (cfg->skip_gates)
        add_tensor(m, "skip_gates", pg_config_num_skips(cfg), D);
    if (cfg->parallel_start > 0) {
        /* the records' [L][2][2] (branch, lane) and [L][2] (lane), rows per layer */
        add_tensor(m, "parallel_post_lambdas", cfg->num_layers, 4);
        add_tensor(m, "parallel_resid_lambdas", cfg->num_layers, 2);
    }
    pg_head_gate_kind gate;
    if (pg_config_head_gate(cfg, &gate))
        for (int l = 0; l < cfg->num_layers; l++) {
            snprintf(name, sizeof name, "blocks.%d.%s", l, gate.suffix);
            add_tensor(m, name, cfg->num_heads, gate.win);
        }
    if (cfg->smear_gate) {
        add_tensor(m, "smear_gate.weight", 1, cfg->gate_window);
        add_tensor(m, "smear_lambda", 1, 0);
    }
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
        } else if (strstr(n, "attn_gate") || strncmp(n, "smear_", 6) == 0) {
            /* the records' gates and SmearGate start transparent (zero), but for the dense
             * gate's N(0, 0.01) (their GATED_ATTN_INIT_STD) */
            double std = dense ? 0.5 : c->gated_attn && strstr(n, "attn_gate_w") ? 0.01 : 0.0;
            for (size_t j = 0; j < t->numel; j++)
                p[j] = std > 0 ? (pg_real)(std * pg_rng_normal(&rng)) : 0.0f;
        } else if (t->ndim == 2 && ends_with(n, ".weight")) {
            /* nn.Linear's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in));
             * output projections are zero-initialized by the reference. */
            int zero = !dense && ends_with(n, ".proj.weight");
            double bound = 1.0 / sqrt((double)t->shape[1]);
            for (size_t j = 0; j < t->numel; j++)
                p[j] = zero ? 0.0f : (pg_real)(bound * (2.0 * pg_rng_uniform(&rng) - 1.0));
        } else {
            /* Control tensors: q_gain, scales, resid_mix rows (1, 0), skip_weights; the
             * records' skip_gates (0), parallel post (1) and resid (1.1) lambdas. */
            int is_mix = ends_with(n, "resid_mix");
            for (size_t j = 0; j < t->numel; j++) {
                double base = ends_with(n, "q_gain")                    ? c->qk_gain_init
                              : is_mix && j >= (size_t)t->shape[1]     ? 0.0
                              : strcmp(n, "skip_gates") == 0             ? 0.0
                              : strcmp(n, "parallel_resid_lambdas") == 0 ? 1.1
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
    size_t rot = (size_t)pg_config_rope_dims(c);
    int steps[PG_MAX_VIRTUAL_LAYERS];
    size_t L = keep_layers ? (size_t)pg_config_layer_list(c, steps, PG_MAX_VIRTUAL_LAYERS) : 1;
    size_t nskip = (size_t)pg_config_num_skips(c);
    /* the records' options take room only when on: XSA keeps the attention's own output
     * beside its projection input, the lanes three more [N][D] per step */
    pg_head_gate_kind gk;
    size_t xsa = c->xsa_last_n > 0, par = c->parallel_start > 0;
    size_t gate = (size_t)pg_config_head_gate(c, &gk);
    size_t nd_layer = 12 + xsa + gate + 3 * par;
    a->stride_d = keep_layers ? N * D : 0;
    a->stride_kv = keep_layers ? N * kvd : 0;
    a->stride_f = keep_layers ? N * F : 0;
    a->stride_n = keep_layers ? N : 0;
    a->stride_nh = keep_layers ? N * H : 0;
    a->stride_nkv = keep_layers ? N * KVH : 0;
    size_t att_state = a->be->attention_state_size(B, T, (int)H, (int)hd);
    a->stride_p = keep_layers ? att_state : 0;
    size_t per_layer = nd_layer * N * D + 3 * N * kvd + 2 * N * F + 3 * N + N * H + N * KVH +
                       att_state;
    size_t nd_bwd = 2 + nskip + 5 + 4 * par + 2 * gate;
    size_t backward = keep_layers ? N * V + nd_bwd * N * D + 3 * N * kvd + 2 * N * F : 0;
    /* workspace: LoRA's output temporary ([N][V] with a head adapter, else [N][D]) and
     * its kept input gradient, then the ops' scratch */
    size_t lora_w = m->lora && m->lora->spec.head && V > D ? V : D;
    size_t lora_ws = m->lora ? N * (lora_w + D) : N * D;
    size_t ws = lora_ws + (keep_layers ? op_scratch(a->be, c, T) : 0);
    size_t total = (2 + par) * N * D + 2 * N + N * V + (size_t)T * rot + L * per_layer +
                   nskip * N * D + backward + ws;
    a->buf = a->be->alloc(total * sizeof(pg_real));
    a->losses = a->be->alloc(N * sizeof(double));
    a->ids = a->be->alloc(3 * N * sizeof(int));
    if (!a->buf || !a->losses || !a->ids) {
        pg_acts_free(a);
        return pg_fail("out of memory for activations (B=%d, T=%d)", B, T);
    }
    a->targets = a->ids + N;
    a->span = a->ids + 2 * N;
    pg_real *p = a->buf;
#define TAKE(field, count) (a->field = p, p += (count))
    TAKE(x0, N * D);
    TAKE(x0_rstd, N);
    TAKE(x_final, N * D);
    TAKE(final_rstd, N);
    TAKE(logits, N * V);
    TAKE(rope_cos, (size_t)T * rot / 2);
    TAKE(rope_sin, (size_t)T * rot / 2);
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
    if (gate)
        TAKE(att_xsa, L * N * D);
    else
        a->att_xsa = a->att;
    if (xsa)
        TAKE(att_raw, L * N * D);
    else
        a->att_raw = a->att_xsa;
    TAKE(attn_out, L * N * D);
    TAKE(x_attn, L * N * D);
    TAKE(mlp_in, L * N * D);
    TAKE(mlp_rstd, L * N);
    TAKE(fc_out, L * N * F);
    TAKE(act, L * N * F);
    TAKE(mlp_out, L * N * D);
    TAKE(x_out, L * N * D);
    if (par) {
        TAKE(lane1_in, L * N * D);
        TAKE(lane1_out, L * N * D);
        TAKE(branch_m, L * N * D);
        TAKE(lanes_out, N * D);
    }
    if (keep_layers) {
        TAKE(g_logits, N * V);
        TAKE(g_x, N * D);
        TAKE(g_x0, N * D);
        TAKE(g_skips, nskip * N * D);
        for (size_t i = 0; i < 5 + 3 * par; i++)
            TAKE(g_d[i], N * D);
        if (par)
            TAKE(g_lane1, N * D);
        for (size_t i = 0; i < 2 * gate; i++)
            TAKE(g_gate[i], N * D);
        for (int i = 0; i < 3; i++)
            TAKE(g_kv[i], N * kvd);
        TAKE(g_f[0], N * F);
        TAKE(g_f[1], N * F);
    }
    TAKE(lora_tmp, m->lora ? N * lora_w : N * D);
    a->lora_dx = m->lora ? p : NULL;
    p += m->lora ? N * D : 0;
    TAKE(scratch, ws - lora_ws);
#undef TAKE
    a->rope_rot = (int)rot;
    a->rope_base = c->rope_base;
    a->be->rope_tables(a->rope_cos, a->rope_sin, T, (int)rot, c->rope_base);
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

void pg_acts_set_bf16(pg_acts *a, int on)
{
    a->bf16 = on;
    a->be->rope_tables(a->rope_cos, a->rope_sin, a->T_cap, a->rope_rot, a->rope_base);
    if (on) /* the records' tables are built in float32, then cast */
        a->be->round_bf16(a->rope_cos, (size_t)a->T_cap * (size_t)a->rope_rot);
}

void pg_model_round_bf16(pg_model *m)
{
    m->be->round_bf16(m->params, m->num_params);
}

void pg_acts_set_spans(pg_acts *a, const int *span)
{
    a->span_on = span != NULL;
    if (span)
        a->be->to_device(a->span, span, (size_t)a->B * a->T * sizeof(int));
}

void pg_acts_set_loss_from(pg_acts *a, int from)
{
    a->loss_from = from;
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

