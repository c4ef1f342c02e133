/* Training hyperparameters under the reference's environment variable names
 * (DESIGN §4). Sources, later wins: defaults (the reference's), a config file
 * (NAME=VALUE lines, '#' comments), the environment, then --set NAME=VALUE flags. */
#ifndef PG_HPARAMS_H
#define PG_HPARAMS_H

#include <stdio.h>

#include <jansson.h>

#include "common/fileio.h"
#include "common/settings.h"
#include "kernels/config.h"
#include "kernels/optim.h"

typedef struct {
    pg_model_config model;
    char data_path[PG_PATH_MAX];      /* DATA_PATH */
    char tokenizer_path[PG_PATH_MAX]; /* TOKENIZER_PATH */
    char init_checkpoint[PG_PATH_MAX]; /* INIT_CHECKPOINT (pgolf): start from these weights */
    long seed;                        /* SEED */
    long iterations;                  /* ITERATIONS */
    long warmdown_iters;              /* WARMDOWN_ITERS */
    long warmup_steps;                /* WARMUP_STEPS (compile warm-up; no effect here) */
    long train_batch_tokens;          /* TRAIN_BATCH_TOKENS */
    long val_loss_every;              /* VAL_LOSS_EVERY */
    long train_log_every;             /* TRAIN_LOG_EVERY */
    long checkpoint_every;            /* CHECKPOINT_EVERY (pgolf; 0 = only at the end) */
    long world_size;                  /* WORLD_SIZE: ranks whose data is emulated */
    long muon_backend_steps;          /* MUON_BACKEND_STEPS */
    long muon_momentum_warmup_steps;  /* MUON_MOMENTUM_WARMUP_STEPS */
    double max_wallclock_seconds;     /* MAX_WALLCLOCK_SECONDS (0 = no cap) */
    double tied_embed_lr, matrix_lr, scalar_lr;
    double muon_momentum, muon_momentum_warmup_start;
    double beta1, beta2, adam_eps, grad_clip_norm;
    /* The April records' recipe (omitted from JSON at their defaults, which keep the
     * March reference's training) */
    double warmdown_frac, min_lr;     /* WARMDOWN_FRAC (0: WARMDOWN_ITERS), MIN_LR */
    double enable_looping_at;         /* ENABLE_LOOPING_AT: when NUM_LOOPS switches on */
    long muon_row_normalize;          /* MUON_ROW_NORMALIZE (MuonEq-R) */
    int muon_ns_coeffs;               /* MUON_NS_COEFFS: PG_NS_CLASSIC or PG_NS_POLAR_EXPRESS */
    double muon_wd, embed_wd, adam_wd; /* MUON_WD, EMBED_WD, ADAM_WD (decoupled) */
    double ema_decay;                 /* EMA_DECAY (0: no EMA; else the EMA is exported) */
    int train_loader;                 /* TRAIN_LOADER: PG_LOADER_SEQUENTIAL or _DOCUMENTS */
    long gptq_calibration_batches;    /* GPTQ_CALIBRATION_BATCHES (0: no Hessians) */
    double gptq_reserve_seconds;      /* GPTQ_RESERVE_SECONDS: taken off the wall clock */
} pg_hparams;

enum { PG_LOADER_SEQUENTIAL = 0, PG_LOADER_DOCUMENTS = 1 };

/* DATA_PATH, SEED, ITERATIONS, ...: one row per field but the model (pg_model_settings). */
extern const pg_settings_table pg_train_settings;

/* The reference's defaults, the tables' (the 9x512 baseline). */
void pg_hparams_default(pg_hparams *h);
/* The tiny preset on the shipped sample (pgolf's embedded default). */
void pg_hparams_tiny(pg_hparams *h, const char *repo_root);

/* The latest record's configuration (`--preset record`): the records' model family, the
 * training recipe, the document-packing loader and GPTQ's calibration, as its log's
 * hyperparameter dump states them, with its data under the records' paths. */
int pg_hparams_record(pg_hparams *h);

/* Sets one value by its environment name; unknown names and bad numbers fail. */
int pg_hparams_set(pg_hparams *h, const char *name, const char *value);
/* NAME=VALUE lines; errors name the file and line. */
int pg_hparams_load_file(pg_hparams *h, const char *path);
/* Every known name present in the environment. */
int pg_hparams_from_env(pg_hparams *h);
/* The tables' range checks, then WORLD_SIZE and batch divisibility. */
int pg_hparams_validate(const pg_hparams *h);

/* grad_accum_steps = 8 / world_size, as the reference. */
int pg_hparams_grad_accum(const pg_hparams *h);

void pg_hparams_optim(const pg_hparams *h, pg_optim_config *o);
/* {NAME: value, ...} of every setting, for logs, manifests and checkpoints. */
json_t *pg_hparams_to_json(const pg_hparams *h);
/* One "<prefix>NAME=value" line per setting, training then model (train.log's config:). */
void pg_hparams_print(const pg_hparams *h, FILE *out, const char *prefix);

#endif
