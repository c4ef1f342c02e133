/* Model hyperparameters of the baseline GPT (DESIGN §4). */
#ifndef PG_CONFIG_H
#define PG_CONFIG_H

#include <jansson.h>

#include "common/settings.h"

enum { PG_MLP_RELU2 = 0, PG_MLP_LEAKY_RELU2 = 1 };

typedef struct {
    int vocab_size;
    int num_layers;
    int model_dim;
    int num_heads;
    int num_kv_heads;
    int mlp_mult;
    int seq_len;   /* TRAIN_SEQ_LEN: the context the model was trained for */
    int mlp_act;   /* PG_MLP_* */
    float rope_base;
    float logit_softcap;
    float qk_gain_init;
    float tied_embed_init_std;
} pg_model_config;

/* VOCAB_SIZE, NUM_LAYERS, MODEL_DIM, ...: one row per field (the reference's names). */
extern const pg_settings_table pg_model_settings;

/* The reference baseline (the table's defaults): 9 layers, d=512, 8 heads / 4 KV heads, MLP x2, vocab 1024. */
pg_model_config pg_config_baseline(void);
/* The tiny config used by tests and the shipped sample: 4 layers, d=64, 4/2 heads. */
pg_model_config pg_config_tiny(void);

/* Checks each field's range and that shapes divide as the model needs; the message names
 * what is wrong. */
/* The largest model pgolf builds: 2^31 parameters (8 GiB in float32), so every size derived
 * from a config (from an untrusted header too) fits the types it is computed in. */
#define PG_MAX_PARAMS ((size_t)1 << 31)
/* The model's parameter count; -1 when a product overflows or it exceeds PG_MAX_PARAMS. */
int pg_config_num_params(const pg_model_config *c, size_t *out);
int pg_config_validate(const pg_model_config *c);

/* Overrides fields from the environment (VOCAB_SIZE, NUM_LAYERS, ...). Bad numbers are
 * errors; ranges are checked by pg_config_validate. */
int pg_config_from_env(pg_model_config *c);

/* Sets one field by its environment name (e.g. "MODEL_DIM", "12"). Unknown names fail. */
int pg_config_set(pg_model_config *c, const char *env_name, const char *value);

json_t *pg_config_to_json(const pg_model_config *c);
/* Reads a config object written by pg_config_to_json; `where` names the source. */
int pg_config_from_json(const json_t *obj, pg_model_config *c, const char *where);

static inline int pg_config_head_dim(const pg_model_config *c)
{
    return c->model_dim / c->num_heads;
}

#endif
