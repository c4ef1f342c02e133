/* Model hyperparameters: the baseline GPT (DESIGN §4) and the options of the records'
 * model family (DESIGN §11), each off by default so the baseline is the defaults. */
#ifndef PG_CONFIG_H
#define PG_CONFIG_H

#include <jansson.h>

#include "common/settings.h"
#include "kernels/real.h"

enum { PG_MLP_RELU2 = 0, PG_MLP_LEAKY_RELU2 = 1 };
/* What the parallel residual's two lanes end as (PARALLEL_FINAL_LANE). */
enum { PG_LANE_MEAN = 0, PG_LANE_ATTN = 1, PG_LANE_MLP = 2 };

/* The longest virtual layer list (depth recurrence) pgolf builds. */
#define PG_MAX_VIRTUAL_LAYERS 1024

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
    /* the records' model family (DESIGN §11); the defaults are the baseline */
    int rope_dims;      /* ROPE_DIMS: leading dims of each head rotated; 0 = all */
    int ln_scale;       /* LN_SCALE: block i's normed inputs scaled by 1/sqrt(i+1) */
    int xsa_last_n;     /* XSA_LAST_N: the last n physical layers use XSA */
    int num_loops;      /* NUM_LOOPS: extra passes over layers LOOP_START..LOOP_END */
    int loop_start, loop_end;
    int parallel_start; /* PARALLEL_START_LAYER: decoder layers >= it run two lanes; 0 off */
    int parallel_final; /* PG_LANE_* */
    int skip_gates;     /* SKIP_GATES_ENABLED: sigmoid-gated U-Net skips */
    int gate_window;    /* GATE_WINDOW: leading dims read by the sparse gates and SmearGate */
    int gated_attn;     /* GATED_ATTN_ENABLED: per-head gate sig(W a), W [H][D] */
    int sparse_gate;    /* SPARSE_ATTN_GATE_ENABLED: sig(scale W a[0:win]), W [H][win] */
    float sparse_gate_scale; /* SPARSE_ATTN_GATE_SCALE */
    int attn_out_gate;  /* ATTN_OUT_GATE_ENABLED: 2 sig(W a[0:win]), W [H][win] */
    int smear_gate;     /* SMEAR_GATE_ENABLED: e_t += lam sig(w e_t[0:win]) e_{t-1} */
    int smear_bos_mask; /* SMEAR_GATE_BOS_MASK: no smear onto a BOS token (the records' fix) */
    int bos_id;         /* BOS_ID: the token that begins each document */
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

/* The dims of each head RoPE rotates (ROPE_DIMS, 0 meaning all). */
static inline int pg_config_rope_dims(const pg_model_config *c)
{
    return c->rope_dims > 0 ? c->rope_dims : pg_config_head_dim(c);
}

/* The physical layer run at each virtual step: 0..LOOP_START-1, then LOOP_START..LOOP_END
 * NUM_LOOPS+1 times, then the rest (0..L-1 without loops). Writes at most cap entries and
 * returns the count. */
int pg_config_layer_list(const pg_model_config *c, int *out, int cap);
/* Encoder steps (the first half of the list, rounded down) and U-Net skips (the smaller
 * half). */
int pg_config_encoder_steps(const pg_model_config *c);
int pg_config_num_skips(const pg_model_config *c);
/* The attention output gate in use: its parameter's name suffix, window, scale and
 * multiplier; 0 when there is none. */
typedef struct {
    const char *suffix; /* "attn.attn_gate_w" or "attn.attn_gate_proj.weight" */
    int win;
    float scale;
    int mult;
} pg_head_gate_kind;
int pg_config_head_gate(const pg_model_config *c, pg_head_gate_kind *k);
/* 1 when the config is the baseline's graph (none of the records' options on). */
int pg_config_is_baseline_graph(const pg_model_config *c);

#endif
