#include "kernels/config.h"

#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

pg_model_config pg_config_baseline(void)
{
    return (pg_model_config){
        .vocab_size = 1024,
        .num_layers = 9,
        .model_dim = 512,
        .num_heads = 8,
        .num_kv_heads = 4,
        .mlp_mult = 2,
        .seq_len = 1024,
        .mlp_act = PG_MLP_RELU2,
        .rope_base = 10000.0f,
        .logit_softcap = 30.0f,
        .qk_gain_init = 1.5f,
        .tied_embed_init_std = 0.005f,
    };
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
    if (c->vocab_size < 4 || c->vocab_size > 65536)
        return pg_fail("VOCAB_SIZE=%d must be in [4, 65536]", c->vocab_size);
    if (c->num_layers < 1)
        return pg_fail("NUM_LAYERS=%d must be >= 1", c->num_layers);
    if (c->model_dim < 2 || c->num_heads < 1 || c->num_kv_heads < 1 || c->mlp_mult < 1)
        return pg_fail("MODEL_DIM, NUM_HEADS, NUM_KV_HEADS and MLP_MULT must be positive");
    if (c->model_dim % c->num_heads != 0)
        return pg_fail("NUM_HEADS=%d does not divide MODEL_DIM=%d", c->num_heads, c->model_dim);
    if (c->num_heads % c->num_kv_heads != 0)
        return pg_fail("NUM_KV_HEADS=%d does not divide NUM_HEADS=%d", c->num_kv_heads,
                       c->num_heads);
    if (pg_config_head_dim(c) % 2 != 0)
        return pg_fail("head_dim=%d must be even for RoPE", pg_config_head_dim(c));
    if (c->seq_len < 1)
        return pg_fail("TRAIN_SEQ_LEN=%d must be >= 1", c->seq_len);
    if (!(c->logit_softcap > 0) || !isfinite(c->logit_softcap))
        return pg_fail("LOGIT_SOFTCAP=%g must be positive", c->logit_softcap);
    if (!(c->rope_base > 1) || !isfinite(c->rope_base))
        return pg_fail("ROPE_BASE=%g must be > 1", c->rope_base);
    if (!isfinite(c->qk_gain_init) || !(c->tied_embed_init_std >= 0))
        return pg_fail("QK_GAIN_INIT and TIED_EMBED_INIT_STD must be finite (std >= 0)");
    if (c->mlp_act != PG_MLP_RELU2 && c->mlp_act != PG_MLP_LEAKY_RELU2)
        return pg_fail("MLP activation %d is unknown", c->mlp_act);
    return 0;
}

typedef struct {
    const char *env;
    const char *json;
    size_t offset;
    int is_float;
} field_desc;

#define INT_FIELD(env, json, f) {env, json, offsetof(pg_model_config, f), 0}
#define FLT_FIELD(env, json, f) {env, json, offsetof(pg_model_config, f), 1}
static const field_desc kFields[] = {
    INT_FIELD("VOCAB_SIZE", "vocab_size", vocab_size),
    INT_FIELD("NUM_LAYERS", "num_layers", num_layers),
    INT_FIELD("MODEL_DIM", "model_dim", model_dim),
    INT_FIELD("NUM_HEADS", "num_heads", num_heads),
    INT_FIELD("NUM_KV_HEADS", "num_kv_heads", num_kv_heads),
    INT_FIELD("MLP_MULT", "mlp_mult", mlp_mult),
    INT_FIELD("TRAIN_SEQ_LEN", "seq_len", seq_len),
    FLT_FIELD("ROPE_BASE", "rope_base", rope_base),
    FLT_FIELD("LOGIT_SOFTCAP", "logit_softcap", logit_softcap),
    FLT_FIELD("QK_GAIN_INIT", "qk_gain_init", qk_gain_init),
    FLT_FIELD("TIED_EMBED_INIT_STD", "tied_embed_init_std", tied_embed_init_std),
};
#define N_FIELDS (sizeof kFields / sizeof kFields[0])

static int set_field(pg_model_config *c, const field_desc *f, const char *value)
{
    char *end;
    errno = 0;
    if (f->is_float) {
        double v = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(v))
            return pg_fail("%s=%s is not a number", f->env, value);
        *(float *)((char *)c + f->offset) = (float)v;
    } else {
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end || v < -1000000000L || v > 1000000000L)
            return pg_fail("%s=%s is not an integer", f->env, value);
        *(int *)((char *)c + f->offset) = (int)v;
    }
    return 0;
}

int pg_config_set(pg_model_config *c, const char *env_name, const char *value)
{
    if (strcmp(env_name, "MLP_ACT") == 0) {
        if (strcmp(value, "relu2") == 0)
            c->mlp_act = PG_MLP_RELU2;
        else if (strcmp(value, "leaky_relu2") == 0)
            c->mlp_act = PG_MLP_LEAKY_RELU2;
        else
            return pg_fail("MLP_ACT=%s must be relu2 or leaky_relu2", value);
        return 0;
    }
    for (size_t i = 0; i < N_FIELDS; i++)
        if (strcmp(kFields[i].env, env_name) == 0)
            return set_field(c, &kFields[i], value);
    return pg_fail("unknown model setting %s", env_name);
}

int pg_config_from_env(pg_model_config *c)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        const char *v = getenv(kFields[i].env);
        if (v && *v && set_field(c, &kFields[i], v) != 0)
            return -1;
    }
    const char *act = getenv("MLP_ACT");
    if (act && *act)
        return pg_config_set(c, "MLP_ACT", act);
    return 0;
}

json_t *pg_config_to_json(const pg_model_config *c)
{
    json_t *o = json_object();
    for (size_t i = 0; i < N_FIELDS; i++) {
        const void *p = (const char *)c + kFields[i].offset;
        json_object_set_new(o, kFields[i].json,
                            kFields[i].is_float ? json_real(*(const float *)p)
                                                : json_integer(*(const int *)p));
    }
    json_object_set_new(o, "mlp_act",
                        json_string(c->mlp_act == PG_MLP_RELU2 ? "relu2" : "leaky_relu2"));
    return o;
}

int pg_config_from_json(const json_t *obj, pg_model_config *c, const char *where)
{
    if (!json_is_object(obj))
        return pg_fail("%s: config is not a JSON object", where);
    for (size_t i = 0; i < N_FIELDS; i++) {
        json_t *v = json_object_get(obj, kFields[i].json);
        if (!json_is_number(v))
            return pg_fail("%s: config field %s missing or not a number", where, kFields[i].json);
        void *p = (char *)c + kFields[i].offset;
        if (kFields[i].is_float) {
            *(float *)p = (float)json_number_value(v);
        } else {
            if (!json_is_integer(v) || json_integer_value(v) < -1000000000LL ||
                json_integer_value(v) > 1000000000LL)
                return pg_fail("%s: config field %s is not an integer in range", where,
                               kFields[i].json);
            *(int *)p = (int)json_integer_value(v);
        }
    }
    const char *act = json_string_value(json_object_get(obj, "mlp_act"));
    if (!act)
        return pg_fail("%s: config field mlp_act missing", where);
    if (pg_config_set(c, "MLP_ACT", act) != 0)
        return pg_fail_prefix(where);
    if (pg_config_validate(c) != 0)
        return pg_fail_prefix(where);
    return 0;
}
