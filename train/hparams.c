#include "train/hparams.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/parse.h"

enum { T_LONG, T_DOUBLE, T_PATH };

typedef struct {
    const char *name;
    int type;
    size_t offset;
} hp_field;

#define HL(n, f) {n, T_LONG, offsetof(pg_hparams, f)}
#define HD(n, f) {n, T_DOUBLE, offsetof(pg_hparams, f)}
#define HP(n, f) {n, T_PATH, offsetof(pg_hparams, f)}
static const hp_field kFields[] = {
    HP("DATA_PATH", data_path),
    HP("TOKENIZER_PATH", tokenizer_path),
    HP("INIT_CHECKPOINT", init_checkpoint),
    HL("SEED", seed),
    HL("ITERATIONS", iterations),
    HL("WARMDOWN_ITERS", warmdown_iters),
    HL("WARMUP_STEPS", warmup_steps),
    HL("TRAIN_BATCH_TOKENS", train_batch_tokens),
    HL("VAL_LOSS_EVERY", val_loss_every),
    HL("TRAIN_LOG_EVERY", train_log_every),
    HL("CHECKPOINT_EVERY", checkpoint_every),
    HL("WORLD_SIZE", world_size),
    HL("MUON_BACKEND_STEPS", muon_backend_steps),
    HL("MUON_MOMENTUM_WARMUP_STEPS", muon_momentum_warmup_steps),
    HD("MAX_WALLCLOCK_SECONDS", max_wallclock_seconds),
    HD("TIED_EMBED_LR", tied_embed_lr),
    HD("MATRIX_LR", matrix_lr),
    HD("SCALAR_LR", scalar_lr),
    HD("MUON_MOMENTUM", muon_momentum),
    HD("MUON_MOMENTUM_WARMUP_START", muon_momentum_warmup_start),
    HD("BETA1", beta1),
    HD("BETA2", beta2),
    HD("ADAM_EPS", adam_eps),
    HD("GRAD_CLIP_NORM", grad_clip_norm),
};
#define N_FIELDS (sizeof kFields / sizeof kFields[0])
/* Model settings handled by kernels/config.c. */
static const char *const kModelNames[] = {
    "VOCAB_SIZE", "NUM_LAYERS", "MODEL_DIM", "NUM_HEADS", "NUM_KV_HEADS", "MLP_MULT",
    "TRAIN_SEQ_LEN", "ROPE_BASE", "LOGIT_SOFTCAP", "QK_GAIN_INIT", "TIED_EMBED_INIT_STD",
    "MLP_ACT"};
#define N_MODEL (sizeof kModelNames / sizeof kModelNames[0])

void pg_hparams_default(pg_hparams *h)
{
    memset(h, 0, sizeof *h);
    h->model = pg_config_baseline();
    snprintf(h->data_path, sizeof h->data_path, "./data/datasets/fineweb10B_sp1024");
    snprintf(h->tokenizer_path, sizeof h->tokenizer_path,
             "./data/tokenizers/fineweb_1024_bpe.model");
    h->seed = 1337;
    h->iterations = 20000;
    h->warmdown_iters = 1200;
    h->warmup_steps = 20;
    h->train_batch_tokens = 524288;
    h->val_loss_every = 1000;
    h->train_log_every = 200;
    h->checkpoint_every = 0;
    h->world_size = 1;
    h->muon_backend_steps = 5;
    h->muon_momentum_warmup_steps = 500;
    h->max_wallclock_seconds = 600.0;
    h->tied_embed_lr = 0.05;
    h->matrix_lr = 0.04;
    h->scalar_lr = 0.04;
    h->muon_momentum = 0.95;
    h->muon_momentum_warmup_start = 0.85;
    h->beta1 = 0.9;
    h->beta2 = 0.95;
    h->adam_eps = 1e-8;
    h->grad_clip_norm = 0.0;
}

void pg_hparams_tiny(pg_hparams *h, const char *repo_root)
{
    pg_hparams_default(h);
    h->model = pg_config_tiny();
    snprintf(h->data_path, sizeof h->data_path, "%s/data/sample", repo_root);
    snprintf(h->tokenizer_path, sizeof h->tokenizer_path, "%s/data/sample/sample_1024_bpe.model",
             repo_root);
    h->iterations = 200;
    h->warmdown_iters = 60;
    h->train_batch_tokens = 8 * 8 * 64; /* 8 micro-steps of 8 sequences of 64 */
    h->val_loss_every = 50;
    h->train_log_every = 25;
    h->max_wallclock_seconds = 0; /* iteration-based schedule: bit-reproducible */
    h->muon_momentum_warmup_steps = 50;
}

static int set_field(pg_hparams *h, const hp_field *f, const char *value)
{
    void *p = (char *)h + f->offset;
    char *end;
    errno = 0;
    if (f->type == T_PATH) {
        if (strlen(value) >= PG_PATH_MAX)
            return pg_fail("%s is longer than %d characters", f->name, PG_PATH_MAX - 1);
        snprintf((char *)p, PG_PATH_MAX, "%s", value);
    } else if (f->type == T_LONG) {
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end)
            return pg_fail("%s=%s is not an integer", f->name, value);
        *(long *)p = v;
    } else {
        double v = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(v))
            return pg_fail("%s=%s is not a number", f->name, value);
        *(double *)p = v;
    }
    return 0;
}

int pg_hparams_set(pg_hparams *h, const char *name, const char *value)
{
    for (size_t i = 0; i < N_FIELDS; i++)
        if (strcmp(kFields[i].name, name) == 0)
            return set_field(h, &kFields[i], value);
    for (size_t i = 0; i < N_MODEL; i++)
        if (strcmp(kModelNames[i], name) == 0)
            return pg_config_set(&h->model, name, value);
    return pg_fail("unknown setting %s", name);
}

static int set_any(void *h, const char *name, const char *value)
{
    return pg_hparams_set(h, name, value);
}

int pg_hparams_load_file(pg_hparams *h, const char *path)
{
    return pg_parse_settings_file(path, set_any, h);
}

int pg_hparams_from_env(pg_hparams *h)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        const char *v = getenv(kFields[i].name);
        if (v && *v && set_field(h, &kFields[i], v) != 0)
            return -1;
    }
    return pg_config_from_env(&h->model);
}

int pg_hparams_grad_accum(const pg_hparams *h)
{
    return h->world_size > 0 ? (int)(8 / h->world_size) : 0;
}

int pg_hparams_validate(const pg_hparams *h)
{
    if (pg_config_validate(&h->model) != 0)
        return -1;
    const struct {
        const char *name;
        double v;
    } nonneg[] = {{"TIED_EMBED_LR", h->tied_embed_lr}, {"MATRIX_LR", h->matrix_lr},
                  {"SCALAR_LR", h->scalar_lr},         {"ADAM_EPS", h->adam_eps},
                  {"GRAD_CLIP_NORM", h->grad_clip_norm}, {"MAX_WALLCLOCK_SECONDS", h->max_wallclock_seconds},
                  {"WARMDOWN_ITERS", (double)h->warmdown_iters}, {"VAL_LOSS_EVERY", (double)h->val_loss_every},
                  {"TRAIN_LOG_EVERY", (double)h->train_log_every}, {"CHECKPOINT_EVERY", (double)h->checkpoint_every},
                  {"MUON_MOMENTUM_WARMUP_STEPS", (double)h->muon_momentum_warmup_steps}};
    for (size_t i = 0; i < sizeof nonneg / sizeof nonneg[0]; i++)
        if (!(nonneg[i].v >= 0))
            return pg_fail("%s=%g must be >= 0", nonneg[i].name, nonneg[i].v);
    const struct {
        const char *name;
        double v;
    } unit[] = {{"BETA1", h->beta1}, {"BETA2", h->beta2}, {"MUON_MOMENTUM", h->muon_momentum},
                {"MUON_MOMENTUM_WARMUP_START", h->muon_momentum_warmup_start}};
    for (size_t i = 0; i < sizeof unit / sizeof unit[0]; i++)
        if (!(unit[i].v >= 0 && unit[i].v < 1))
            return pg_fail("%s=%g must be in [0, 1)", unit[i].name, unit[i].v);
    if (h->iterations < 0)
        return pg_fail("ITERATIONS=%ld must be >= 0", h->iterations);
    if (h->seed < 0)
        return pg_fail("SEED=%ld must be >= 0", h->seed);
    if (h->muon_backend_steps < 0 || h->muon_backend_steps > 100)
        return pg_fail("MUON_BACKEND_STEPS=%ld must be in [0, 100]", h->muon_backend_steps);
    if (h->world_size < 1 || 8 % h->world_size != 0)
        return pg_fail("WORLD_SIZE=%ld must divide 8 so grad_accum_steps stays integral",
                       h->world_size);
    long per_micro = h->train_batch_tokens / (h->world_size * pg_hparams_grad_accum(h));
    if (h->train_batch_tokens <= 0 || per_micro * h->world_size * pg_hparams_grad_accum(h) !=
                                          h->train_batch_tokens ||
        per_micro % h->model.seq_len != 0 || per_micro == 0)
        return pg_fail("TRAIN_BATCH_TOKENS=%ld must split into %d ranks x %d micro-steps of whole "
                       "TRAIN_SEQ_LEN=%d sequences",
                       h->train_batch_tokens, (int)h->world_size, pg_hparams_grad_accum(h),
                       h->model.seq_len);
    return 0;
}

void pg_hparams_optim(const pg_hparams *h, pg_optim_config *o)
{
    o->embed_lr = h->tied_embed_lr;
    o->matrix_lr = h->matrix_lr;
    o->scalar_lr = h->scalar_lr;
    o->beta1 = h->beta1;
    o->beta2 = h->beta2;
    o->adam_eps = h->adam_eps;
    o->ns_steps = (int)h->muon_backend_steps;
    o->grad_clip = h->grad_clip_norm;
}

json_t *pg_hparams_to_json(const pg_hparams *h)
{
    json_t *o = json_object();
    for (size_t i = 0; i < N_FIELDS; i++) {
        const void *p = (const char *)h + kFields[i].offset;
        json_object_set_new(o, kFields[i].name,
                            kFields[i].type == T_PATH   ? json_string((const char *)p)
                            : kFields[i].type == T_LONG ? json_integer(*(const long *)p)
                                                        : json_real(*(const double *)p));
    }
    json_t *m = pg_config_to_json(&h->model);
    json_object_set(o, "MODEL", m);
    json_decref(m);
    return o;
}

/* The shortest %g form that reads back as the same double (0.03, not 0.029999...). */
static void print_double(FILE *out, double v)
{
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fprintf(out, "%s\n", buf);
}

void pg_hparams_print(const pg_hparams *h, FILE *out, const char *prefix)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        const void *p = (const char *)h + kFields[i].offset;
        fprintf(out, "%s%s=", prefix, kFields[i].name);
        if (kFields[i].type == T_PATH)
            fprintf(out, "%s\n", (const char *)p);
        else if (kFields[i].type == T_LONG)
            fprintf(out, "%ld\n", *(const long *)p);
        else
            print_double(out, *(const double *)p);
    }
    const pg_model_config *c = &h->model;
    fprintf(out,
            "%sVOCAB_SIZE=%d\n%sNUM_LAYERS=%d\n%sMODEL_DIM=%d\n%sNUM_HEADS=%d\n"
            "%sNUM_KV_HEADS=%d\n%sMLP_MULT=%d\n%sTRAIN_SEQ_LEN=%d\n%sROPE_BASE=%.9g\n"
            "%sLOGIT_SOFTCAP=%.9g\n%sQK_GAIN_INIT=%.9g\n%sTIED_EMBED_INIT_STD=%.9g\n%sMLP_ACT=%s\n",
            prefix, c->vocab_size, prefix, c->num_layers, prefix, c->model_dim, prefix,
            c->num_heads, prefix, c->num_kv_heads, prefix, c->mlp_mult, prefix, c->seq_len,
            prefix, c->rope_base, prefix, c->logit_softcap, prefix, c->qk_gain_init, prefix,
            c->tied_embed_init_std, prefix, c->mlp_act == PG_MLP_RELU2 ? "relu2" : "leaky_relu2");
}
