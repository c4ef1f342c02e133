/* Settings of `pgolf run`: the training and model settings (reference names), the TTT_*
 * settings, and the pipeline's own RUN_* settings (pg_run_settings; `pgolf help settings`
 * lists them all). Sources, later wins: the preset, --config FILE (NAME=VALUE lines), the
 * environment, then --set NAME=VALUE. */
#ifndef PG_RUNCONFIG_H
#define PG_RUNCONFIG_H
#include <jansson.h>
#include "common/settings.h"
#include "train/hparams.h"
#include "kernels/final_eval.h"
#define PG_RUN_MAX_SEEDS 16
typedef struct {
    pg_hparams h; /* SEED is set per train stage */
    long seeds[PG_RUN_MAX_SEEDS];
    int nseeds;
    char quant[16];
    pg_final_opts fin; /* the eval stage's evaluations (RUN_SLIDING_STRIDE, RUN_TTT, TTT_*) */
    char sota[64];
    char sota_record[PG_PATH_MAX];
    double threshold, alpha;
    int threshold_bpb;
    char name[128], author[128], github_id[64], date[16], track[64];
} pg_run_config;
/* RUN_SEEDS, RUN_QUANT, ...: one row per setting. */
extern const pg_settings_table pg_run_settings;
/* The tables of a run bound to c: training, model, the final evaluations, TTT, RUN_* (the
 * order of the
 * settings' text). Returns PG_RUN_TABLES. c is const for readers (print, JSON); writing
 * through b needs a writable c. */
#define PG_RUN_TABLES 5
int pg_run_config_bind(const pg_run_config *c, pg_settings_bind b[PG_RUN_TABLES]);
/* "tiny": the tiny model on the shipped sample with a short schedule, 3 seeds, sliding and
 * TTT eval, tested against the sample's unigram baseline (the embedded default).
 * "baseline": the reference's settings (the tables' defaults). repo_root locates data/sample. */
int pg_run_config_preset(pg_run_config *c, const char *preset, const char *repo_root);
/* One setting of any table; SEED is refused (it is per stage). */
int pg_run_config_set(pg_run_config *c, const char *name, const char *value);
/* NAME=VALUE lines, '#' comments; errors name the file and line. */
int pg_run_config_load_file(pg_run_config *c, const char *path);
/* Every known name present in the environment. */
int pg_run_config_from_env(pg_run_config *c);
/* Checks ranges and makes every path setting absolute (DATA_PATH, TOKENIZER_PATH,
 * INIT_CHECKPOINT, RUN_SOTA_RECORD). */
int pg_run_config_finish(pg_run_config *c);
/* {NAME: "value"} of every setting (SEED excluded); applying them all with
 * pg_run_config_set gives back the same configuration. */
json_t *pg_run_config_settings(const pg_run_config *c);
/* The training settings of one seed's train stage (hparams names, SEED included). */
json_t *pg_run_config_train_settings(const pg_run_config *c, long seed);
#endif
