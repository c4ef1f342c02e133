/* Settings of `pgolf run`: the training hyperparameters (reference names), the TTT_*
 * settings, and the pipeline's own RUN_* settings:
 *
 *   RUN_SEEDS            comma-separated seeds, one train stage each (42,1337,2025)
 *   RUN_QUANT            quantization plan: int8 (the reference's export) or mixed
 *   RUN_SLIDING_STRIDE   sliding-window eval stride; 0 = no sliding eval
 *   RUN_TTT              1 = legal score-first TTT eval (TTT_* settings)
 *   RUN_TTT_STRIDE       windows TTT scores: 0 = standard, else sliding with this stride
 *   RUN_SOTA             what the stats stage tests against: a val_bpb, "unigram" (the
 *                        data stage's add-one unigram baseline) or "none"
 *   RUN_SOTA_RECORD      a records folder whose seeds are the SOTA (Welch's test too)
 *   RUN_THRESHOLD, RUN_THRESHOLD_BPB, RUN_ALPHA   the significance test (0.005 nats, 0.01)
 *   RUN_NAME, RUN_AUTHOR, RUN_GITHUB_ID, RUN_DATE, RUN_TRACK  the records folder's
 *                        submission.json (RUN_DATE defaults to the day the run began)
 *
 * Sources, later wins: the preset, --config FILE (NAME=VALUE lines), the environment,
 * then --set NAME=VALUE. */
#ifndef PG_RUNCONFIG_H
#define PG_RUNCONFIG_H
#include <jansson.h>
#include "train/hparams.h"
#include "verifier/ttt.h"
#define PG_RUN_MAX_SEEDS 16
typedef struct {
    pg_hparams h; /* SEED is set per train stage */
    long seeds[PG_RUN_MAX_SEEDS];
    int nseeds;
    char quant[16];
    long sliding_stride;
    int ttt;
    long ttt_stride;
    pg_ttt_opts ttt_opts;
    char sota[64];
    char sota_record[PG_PATH_MAX];
    double threshold, alpha;
    int threshold_bpb;
    char name[128], author[128], github_id[64], date[16], track[64];
} pg_run_config;
/* "tiny": the tiny model on the shipped sample with a short schedule, 3 seeds, sliding and
 * TTT eval, tested against the sample's unigram baseline (the embedded default).
 * "baseline": the reference's settings. repo_root locates data/sample. */
int pg_run_config_preset(pg_run_config *c, const char *preset, const char *repo_root);
int pg_run_config_set(pg_run_config *c, const char *name, const char *value);
/* NAME=VALUE lines, '#' comments; errors name the file and line. */
int pg_run_config_load_file(pg_run_config *c, const char *path);
/* Every known name present in the environment. */
int pg_run_config_from_env(pg_run_config *c);
/* Checks ranges and makes DATA_PATH, TOKENIZER_PATH and RUN_SOTA_RECORD absolute. */
int pg_run_config_finish(pg_run_config *c);
/* {NAME: "value"} of every setting (SEED excluded); applying them all with
 * pg_run_config_set gives back the same configuration. */
json_t *pg_run_config_settings(const pg_run_config *c);
/* The training settings of one seed's train stage (hparams names, SEED included). */
json_t *pg_run_config_train_settings(const pg_run_config *c, long seed);
#endif
