#include "kernels/config.h"

#include <stddef.h>
#include <string.h>

#include "common/checked.h"
#include "common/err.h"

#define INT_ROW(n, f, d, lo, hi, j, r, h)                                                   \
    {.name = n, .type = PG_SET_INT, .offset = offsetof(pg_model_config, f), .def = d,          \
     .min = lo, .max = hi, .readers = PG_READ_MODEL | PG_READ_TRAIN | (r), .json = j, .help = h}
#define FLT_ROW(n, f, d, lo, hi, o, j, h)                                                       \
    {.name = n, .type = PG_SET_FLOAT, .offset = offsetof(pg_model_config, f), .def = d,        \
     .min = lo, .max = hi, .open = o, .readers = PG_READ_MODEL | PG_READ_TRAIN, .json = j,     \
     .help = h}
static const pg_setting kRows[] = {
    INT_ROW("VOCAB_SIZE", vocab_size, "1024", 4, 65536, "vocab_size", PG_READ_RUN,
            "token ids the model embeds and predicts"),
    INT_ROW("NUM_LAYERS", num_layers, "9", 1, 1e9, "num_layers", 0, "transformer blocks"),
    INT_ROW("MODEL_DIM", model_dim, "512", 2, 1e9, "model_dim", 0, "width of the residual stream"),
    INT_ROW("NUM_HEADS", num_heads, "8", 1, 1e9, "num_heads", 0,
            "attention heads; divides MODEL_DIM into an even head_dim"),
    INT_ROW("NUM_KV_HEADS", num_kv_heads, "4", 1, 1e9, "num_kv_heads", 0,
            "key/value heads (grouped-query attention); divides NUM_HEADS"),
    INT_ROW("MLP_MULT", mlp_mult, "2", 1, 1e9, "mlp_mult", 0, "MLP hidden width / MODEL_DIM"),
    INT_ROW("TRAIN_SEQ_LEN", seq_len, "1024", 1, 1e9, "seq_len", PG_READ_RUN,
            "context the model is trained for (and eval's default window)"),
    FLT_ROW("ROPE_BASE", rope_base, "10000", 1, PG_SET_INF, PG_SET_MIN_OPEN, "rope_base",
            "base of the rotary position frequencies"),
    FLT_ROW("LOGIT_SOFTCAP", logit_softcap, "30", 0, PG_SET_INF, PG_SET_MIN_OPEN,
            "logit_softcap", "logits are capped as softcap * tanh(logits / softcap)"),
    FLT_ROW("QK_GAIN_INIT", qk_gain_init, "1.5", -PG_SET_INF, PG_SET_INF, 0, "qk_gain_init",
            "initial per-head query gain"),
    FLT_ROW("TIED_EMBED_INIT_STD", tied_embed_init_std, "0.005", 0, PG_SET_INF, 0,
            "tied_embed_init_std", "std of the tied embedding's initialization"),
    {.name = "MLP_ACT", .type = PG_SET_ENUM, .offset = offsetof(pg_model_config, mlp_act),
     .def = "relu2", .choices = "relu2|leaky_relu2", .readers = PG_READ_MODEL | PG_READ_TRAIN,
     .json = "mlp_act", .help = "MLP activation: relu(x)^2 or leaky_relu(x, 0.5)^2"},
};
#undef INT_ROW
#undef FLT_ROW

const pg_settings_table pg_model_settings = {"model shape (pgolf init, train, run)", kRows,
                                             sizeof kRows / sizeof kRows[0], 1};

pg_model_config pg_config_baseline(void)
{
    pg_model_config c;
    memset(&c, 0, sizeof c);
    pg_settings_bind b = {&pg_model_settings, &c};
    pg_settings_defaults(&b, 1);
    return c;
}

pg_model_config pg_config_tiny(void)
{
    pg_model_config c = pg_config_baseline();
    c.num_layers = 4;
    c.model_dim = 64;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.seq_len = 64;
    return c;
}

int pg_config_validate(const pg_model_config *c)
{
    if (pg_settings_check(&pg_model_settings, c) != 0)
        return -1;
    if (c->model_dim % c->num_heads != 0)
        return pg_fail("NUM_HEADS=%d does not divide MODEL_DIM=%d", c->num_heads, c->model_dim);
    if (c->num_heads % c->num_kv_heads != 0)
        return pg_fail("NUM_KV_HEADS=%d does not divide NUM_HEADS=%d", c->num_kv_heads,
                       c->num_heads);
    if (pg_config_head_dim(c) % 2 != 0)
        return pg_fail("head_dim=%d must be even for RoPE", pg_config_head_dim(c));
    size_t n;
    if (pg_config_num_params(c, &n) != 0)
        return pg_fail("model of VOCAB_SIZE=%d MODEL_DIM=%d MLP_MULT=%d NUM_LAYERS=%d has more "
                       "than %zu parameters", c->vocab_size, c->model_dim, c->mlp_mult,
                       c->num_layers, (size_t)PG_MAX_PARAMS);
    return 0;
}

/* Parameters per block: c_q, c_k, c_v, proj, q_gain, fc, mlp proj, the two scales and
 * resid_mix (model.c's layout), in overflow-checked arithmetic. */
int pg_config_num_params(const pg_model_config *c, size_t *out)
{
    size_t D = (size_t)c->model_dim, kvd = (size_t)c->num_kv_heads * (size_t)pg_config_head_dim(c);
    size_t F, emb, qkvo, mlp, block, blocks, skips, total;
    int F_int;
    if (pg_mul_int(c->mlp_mult, c->model_dim, &F_int) != 0)
        return -1;
    F = (size_t)F_int;
    size_t nskip = (size_t)(c->num_layers / 2 < c->num_layers - c->num_layers / 2
                                ? c->num_layers / 2 : c->num_layers - c->num_layers / 2);
    if (pg_mul_size((size_t)c->vocab_size, D, &emb) || pg_mul_size(D, 2 * D + 2 * kvd, &qkvo) ||
        pg_mul_size(2 * D, F, &mlp) || pg_add_size(qkvo, mlp, &block) ||
        pg_add_size(block, (size_t)c->num_heads + 4 * D, &block) ||
        pg_mul_size(block, (size_t)c->num_layers, &blocks) || pg_mul_size(nskip, D, &skips) ||
        pg_add_size(emb, blocks, &total) || pg_add_size(total, skips, &total) ||
        total > PG_MAX_PARAMS)
        return -1;
    *out = total;
    return 0;
}

int pg_config_set(pg_model_config *c, const char *env_name, const char *value)
{
    pg_settings_bind b = {&pg_model_settings, c};
    return pg_settings_set(&b, 1, env_name, value);
}

int pg_config_from_env(pg_model_config *c)
{
    pg_settings_bind b = {&pg_model_settings, c};
    return pg_settings_from_env(&b, 1);
}

json_t *pg_config_to_json(const pg_model_config *c)
{
    return pg_settings_to_json(&pg_model_settings, c);
}

int pg_config_from_json(const json_t *obj, pg_model_config *c, const char *where)
{
    if (pg_settings_from_json(&pg_model_settings, c, obj, where) != 0)
        return -1;
    if (pg_config_validate(c) != 0)
        return pg_fail_prefix(where);
    return 0;
}
