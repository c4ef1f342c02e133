/* Lenient parser of training/eval logs in the challenge's shapes (DESIGN §3). Logs in
 * the wild vary ("train_loss: 9.4", "train_time: 590009ms", "  seed: 42", "s:1337",
 * "Total submission: N bytes", "budget:N/16000000", "quantized_ttt val_loss:...", lines
 * prefixed with a timestamp), so each field is found by its key wherever it appears and
 * the last occurrence wins; every final evaluation is also kept in evals[]. */
#ifndef PG_LOGPARSE_H
#define PG_LOGPARSE_H

#include <stddef.h>

typedef struct {
    double value;
    int line; /* 1-based; 0 = not found */
} pg_log_num;

#define PG_LOG_MAX_EVALS 48
#define PG_LOG_MAX_CONFIG 160

/* One final (non-periodic) evaluation line: "TAG ... val_loss:X val_bpb:Y [eval_time:T]". */
typedef struct {
    char tag[64];
    double val_loss, val_bpb;
    int loss_decimals, bpb_decimals; /* digits printed after the point */
    double eval_s; /* < 0 when the line has no eval_time */
    int line;
} pg_log_eval;

/* One printed hyperparameter ("  key: value", "key=value ...", "key:value key:value"). */
typedef struct {
    char key[48];
    char value[80];
    int line;
} pg_log_config;

typedef struct {
    char path[512];
    pg_log_num seed;           /* the printed seed, else the file name's "seedN" (line -1) */
    pg_log_num printed_seed;   /* "seed:N", "seed=N", "seed N", " s:N" in the log */
    pg_log_num name_seed;      /* "seedN", "seed_N", "seed-N", "seed=N" in the file name (line -1) */
    pg_log_eval evals[PG_LOG_MAX_EVALS]; /* every final evaluation, in order */
    int nevals, evals_dropped;
    pg_log_config config[PG_LOG_MAX_CONFIG]; /* hyperparameters printed before training */
    int nconfig;
    pg_log_num world_size, vocab_size;
    int byte_sidecar_line;     /* first line naming a byte sidecar / val bytes files, or 0 */
    pg_log_num calib_s;        /* "GPTQ:collected N Hessians in Xs": work after the train cap */
    int stop_line;             /* the stopping_early (wall-clock cap) line, or 0 */
    int after_stop_line;       /* first GPTQ / calibration / Hessian line after it, or 0 */
    pg_log_num force_stop_step; /* a FORCE_STOP_STEP setting anywhere in the log */
    pg_log_num val_loss, val_bpb; /* the final eval: last non-step line with both */
    char final_tag[64];        /* its first word, e.g. final_int8_zlib_roundtrip_exact */
    pg_log_num eval_time_s;    /* eval_time on the final line */
    pg_log_num total_eval_time_s; /* "total_eval_time:Xs" */
    double eval_time_sum_s;    /* sum of eval_time over the non-step eval lines */
    int eval_lines, eval_lines_timed; /* non-step eval lines, and those with an eval_time */
    pg_log_num train_ms;       /* last train_time on a step or stopping line */
    pg_log_num steps, max_steps, step_avg_ms;
    pg_log_num artifact_bytes; /* last "Total submission ...: N bytes" or "budget:N/16000000" */
    pg_log_num code_bytes, model_bytes;
    pg_log_num last_val_loss, last_val_bpb; /* last periodic step:N/M val line */
    int stopped_early;
    int training_started; /* internal: a step line was seen (config is read before it) */
    int nan_line; /* first line with a NaN/inf loss, 0 if none */
    int lines;
} pg_log_summary;

/* Reads and parses one log. Fails on unreadable files and on files with no recognizable
 * line at all (message names the file); missing fields are left at line 0. */
int pg_log_parse(const char *path, pg_log_summary *s);

/* Parses log text already in memory (name is used in messages). */
int pg_log_parse_text(const char *name, const char *text, size_t len, pg_log_summary *s);

/* The resolved configuration a pgolf train log opens with: its "config:NAME=VALUE" lines,
 * as malloc'ed "NAME=VALUE" strings in order. Fails naming the log when it has none. */
int pg_log_settings(const char *path, char ***settings, int *n);
/* A hyperparameter dump entry as a setting: the key upper-cased (ttt_lora_rank ->
 * TTT_LORA_RANK), Python's True/False as 1/0. */
void pg_log_config_setting(const pg_log_config *c, char *name, size_t ncap, char *value,
                           size_t vcap);
void pg_log_settings_free(char **settings, int n);

/* A log's loss curves: the train_loss and the periodic val_loss of its step lines, in
 * the order logged. */
typedef struct {
    double *step, *loss;
    size_t n;
} pg_log_series;

typedef struct {
    pg_log_series train, val;
} pg_log_curves;

int pg_log_curves_text(const char *name, const char *text, size_t len, pg_log_curves *c);
void pg_log_curves_free(pg_log_curves *c);

/* The eval time to judge against the 600 s limit: total if logged, else the final line's. */
pg_log_num pg_log_eval_seconds(const pg_log_summary *s);

#endif
