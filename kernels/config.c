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
    /* The records' model family (DESIGN §11), under the records' own names. Added after
     * the baseline's files and hashes: left out of JSON while at the default. */
#define FAMILY_ROW(n, f, d, lo, hi, j, h)                                                   \
    {.name = n, .type = PG_SET_INT, .offset = offsetof(pg_model_config, f), .def = d,          \
     .min = lo, .max = hi, .readers = PG_READ_MODEL | PG_READ_TRAIN, .json = j, .help = h,     \
     .omit_default = 1}
    FAMILY_ROW("ROPE_DIMS", rope_dims, "0", 0, 1e9, "rope_dims",
               "leading dims of each head that RoPE rotates (even; 0: all of head_dim)"),
    FAMILY_ROW("LN_SCALE", ln_scale, "0", 0, 1, "ln_scale",
               "1: block i's normed attention and MLP inputs are scaled by 1/sqrt(i+1)"),
    FAMILY_ROW("XSA_LAST_N", xsa_last_n, "0", 0, 1e9, "xsa_last_n",
               "the last n layers remove from each head's output its part along the "
               "normalized own value (XSA)"),
    FAMILY_ROW("NUM_LOOPS", num_loops, "0", 0, 64, "num_loops",
               "depth recurrence: layers LOOP_START..LOOP_END run 1 + NUM_LOOPS times"),
    FAMILY_ROW("LOOP_START", loop_start, "0", 0, 1e9, "loop_start",
               "first layer of the recurrent segment"),
    FAMILY_ROW("LOOP_END", loop_end, "0", 0, 1e9, "loop_end",
               "last layer of the recurrent segment"),
    FAMILY_ROW("PARALLEL_START_LAYER", parallel_start, "0", 0, 1e9, "parallel_start_layer",
               "decoder layers from this one on run a two-lane parallel residual (0: off)"),
    {.name = "PARALLEL_FINAL_LANE", .type = PG_SET_ENUM,
     .offset = offsetof(pg_model_config, parallel_final), .def = "mean",
     .choices = "mean|attn|mlp", .readers = PG_READ_MODEL | PG_READ_TRAIN,
     .json = "parallel_final_lane", .omit_default = 1,
     .help = "what the two lanes end as: their mean, the attention lane or the MLP lane"},
    FAMILY_ROW("SKIP_GATES_ENABLED", skip_gates, "0", 0, 1, "skip_gates_enabled",
               "1: U-Net skips mix as sig(g) x + (1 - sig(g)) (w skip)"),
    FAMILY_ROW("GATE_WINDOW", gate_window, "12", 1, 1e9, "gate_window",
               "leading dims of the input the sparse gates and SmearGate read"),
    FAMILY_ROW("GATED_ATTN_ENABLED", gated_attn, "0", 0, 1, "gated_attn_enabled",
               "1: each head's output times sig(W a), W [heads][MODEL_DIM] (attn.attn_gate_w)"),
    FAMILY_ROW("SPARSE_ATTN_GATE_ENABLED", sparse_gate, "0", 0, 1, "sparse_attn_gate_enabled",
               "1: each head's output times sig(scale W a[:GATE_WINDOW]) (attn.attn_gate_w)"),
    {.name = "SPARSE_ATTN_GATE_SCALE", .type = PG_SET_FLOAT,
     .offset = offsetof(pg_model_config, sparse_gate_scale), .def = "1", .min = -PG_SET_INF,
     .max = PG_SET_INF, .readers = PG_READ_MODEL | PG_READ_TRAIN,
     .json = "sparse_attn_gate_scale", .omit_default = 1,
     .help = "the sparse gate's scale inside the sigmoid"},
    FAMILY_ROW("ATTN_OUT_GATE_ENABLED", attn_out_gate, "0", 0, 1, "attn_out_gate_enabled",
               "1: each head's output times 2 sig(W a[:GATE_WINDOW]) (attn.attn_gate_proj)"),
    FAMILY_ROW("SMEAR_GATE_ENABLED", smear_gate, "0", 0, 1, "smear_gate_enabled",
               "1: SmearGate, e_t += lambda sig(w e_t[:GATE_WINDOW]) e_(t-1) on the embedding"),
    FAMILY_ROW("SMEAR_GATE_BOS_MASK", smear_bos_mask, "1", 0, 1, "smear_gate_bos_mask",
               "1: no smear onto a BOS_ID token (0: the records' leaky first version)"),
    FAMILY_ROW("BOS_ID", bos_id, "1", 0, 1e9, "bos_id",
               "the token that begins each document (SentencePiece's <s>)"),
#undef FAMILY_ROW
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
    if (c->xsa_last_n > 0 && pg_config_head_dim(c) > PG_MAX_HEAD_DIM)
        return pg_fail("XSA_LAST_N=%d needs head_dim=%d at most %d", c->xsa_last_n,
                       pg_config_head_dim(c), PG_MAX_HEAD_DIM);
    if (c->rope_dims % 2 != 0 || c->rope_dims > pg_config_head_dim(c))
        return pg_fail("ROPE_DIMS=%d must be even and at most head_dim=%d", c->rope_dims,
                       pg_config_head_dim(c));
    if (c->xsa_last_n > c->num_layers)
        return pg_fail("XSA_LAST_N=%d exceeds NUM_LAYERS=%d", c->xsa_last_n, c->num_layers);
    if (c->num_loops > 0 &&
        (c->loop_start > c->loop_end || c->loop_end >= c->num_layers))
        return pg_fail("the loop LOOP_START=%d..LOOP_END=%d must lie within the %d layers",
                       c->loop_start, c->loop_end, c->num_layers);
    if (c->num_loops > 0 && (size_t)c->num_layers + (size_t)c->num_loops *
                                                        (size_t)(c->loop_end - c->loop_start + 1) >
                                PG_MAX_VIRTUAL_LAYERS)
        return pg_fail("NUM_LOOPS=%d makes more than %d virtual layers", c->num_loops,
                       PG_MAX_VIRTUAL_LAYERS);
    if (c->gated_attn + c->sparse_gate + c->attn_out_gate > 1)
        return pg_fail("GATED_ATTN_ENABLED, SPARSE_ATTN_GATE_ENABLED and ATTN_OUT_GATE_ENABLED "
                       "exclude each other");
    if ((c->sparse_gate || c->attn_out_gate || c->smear_gate) && c->gate_window > c->model_dim)
        return pg_fail("GATE_WINDOW=%d exceeds MODEL_DIM=%d", c->gate_window, c->model_dim);
    if (c->parallel_start > c->num_layers)
        return pg_fail("PARALLEL_START_LAYER=%d exceeds NUM_LAYERS=%d", c->parallel_start,
                       c->num_layers);
    if (c->parallel_start > 0) {
        /* the records' lanes: once a decoder step reaches the start, every later one runs
         * in the lanes (a step back below it would read a stale residual) */
        int list[PG_MAX_VIRTUAL_LAYERS], n = pg_config_layer_list(c, list, PG_MAX_VIRTUAL_LAYERS);
        int in_lanes = 0;
        for (int k = pg_config_encoder_steps(c); k < n; k++) {
            if (list[k] >= c->parallel_start)
                in_lanes = 1;
            else if (in_lanes)
                return pg_fail("PARALLEL_START_LAYER=%d: decoder step %d runs layer %d below "
                               "it after the lanes began", c->parallel_start, k, list[k]);
        }
    }
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
    size_t nskip = (size_t)pg_config_num_skips(c);
    if (pg_mul_size((size_t)c->vocab_size, D, &emb) || pg_mul_size(D, 2 * D + 2 * kvd, &qkvo) ||
        pg_mul_size(2 * D, F, &mlp) || pg_add_size(qkvo, mlp, &block) ||
        pg_add_size(block, (size_t)c->num_heads + 4 * D, &block) ||
        pg_mul_size(block, (size_t)c->num_layers, &blocks) || pg_mul_size(nskip, D, &skips) ||
        pg_add_size(emb, blocks, &total) || pg_add_size(total, skips, &total) ||
        (c->skip_gates && pg_add_size(total, skips, &total)) ||
        (c->parallel_start > 0 && pg_add_size(total, 6 * (size_t)c->num_layers, &total)) ||
        (c->gated_attn && pg_add_size(total, (size_t)c->num_layers * c->num_heads * D, &total)) ||
        ((c->sparse_gate || c->attn_out_gate) &&
         pg_add_size(total, (size_t)c->num_layers * c->num_heads * c->gate_window, &total)) ||
        (c->smear_gate && pg_add_size(total, (size_t)c->gate_window + 1, &total)) ||
        total > PG_MAX_PARAMS)
        return -1;
    *out = total;
    return 0;
}

/* The virtual layer count; the physical count while the loop is off or out of range
 * (pg_config_validate reports that), capped so it always fits an int. */
static int virtual_layers(const pg_model_config *c)
{
    if (c->num_loops <= 0 || c->loop_start > c->loop_end || c->loop_end >= c->num_layers)
        return c->num_layers;
    long long n = (long long)c->num_layers +
                  (long long)c->num_loops * (c->loop_end - c->loop_start + 1);
    return n > PG_MAX_VIRTUAL_LAYERS ? PG_MAX_VIRTUAL_LAYERS : (int)n;
}

int pg_config_layer_list(const pg_model_config *c, int *out, int cap)
{
    int n = 0;
#define PUSH(layer) (n < cap ? (void)(out[n++] = (layer)) : (void)0)
    if (virtual_layers(c) == c->num_layers) {
        for (int l = 0; l < c->num_layers; l++)
            PUSH(l);
        return n;
    }
    for (int l = 0; l < c->loop_start; l++)
        PUSH(l);
    for (int k = 0; k <= c->num_loops; k++)
        for (int l = c->loop_start; l <= c->loop_end; l++)
            PUSH(l);
    for (int l = c->loop_end + 1; l < c->num_layers; l++)
        PUSH(l);
#undef PUSH
    return n;
}

int pg_config_encoder_steps(const pg_model_config *c) { return virtual_layers(c) / 2; }

int pg_config_num_skips(const pg_model_config *c)
{
    int enc = pg_config_encoder_steps(c), dec = virtual_layers(c) - enc;
    return enc < dec ? enc : dec;
}

int pg_config_head_gate(const pg_model_config *c, pg_head_gate_kind *k)
{
    if (c->gated_attn)
        *k = (pg_head_gate_kind){"attn.attn_gate_w", c->model_dim, 1.0f, 1};
    else if (c->sparse_gate)
        *k = (pg_head_gate_kind){"attn.attn_gate_w", c->gate_window, c->sparse_gate_scale, 1};
    else if (c->attn_out_gate)
        *k = (pg_head_gate_kind){"attn.attn_gate_proj.weight", c->gate_window, 1.0f, 2};
    else
        return 0;
    return 1;
}

int pg_config_is_baseline_graph(const pg_model_config *c)
{
    return pg_config_rope_dims(c) == pg_config_head_dim(c) && !c->ln_scale && !c->xsa_last_n &&
           !c->num_loops && !c->parallel_start && !c->skip_gates && !c->gated_attn &&
           !c->sparse_gate && !c->attn_out_gate && !c->smear_gate;
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
