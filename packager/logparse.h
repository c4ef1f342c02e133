/* Lenient parser of training/eval logs in the challenge's shapes (DESIGN §3). Logs in
 * the wild vary ("train_loss: 9.4", "train_time: 590009ms", "  seed: 42",
 * "Total submission: N bytes", "quantized_ttt val_loss:..."), so each field is found by
 * its key wherever it appears and the last occurrence wins. */
#ifndef PG_LOGPARSE_H
#define PG_LOGPARSE_H

#include <stddef.h>

typedef struct {
    double value;
    int line; /* 1-based; 0 = not found */
} pg_log_num;

typedef struct {
    char path[512];
    pg_log_num seed;           /* "seed:N" line, else the file name's "seedN" (line -1) */
    pg_log_num val_loss, val_bpb; /* the final eval: last non-step line with both */
    char final_tag[64];        /* its first word, e.g. final_int8_zlib_roundtrip_exact */
    pg_log_num eval_time_s;    /* eval_time on the final line */
    pg_log_num total_eval_time_s; /* "total_eval_time:Xs" */
    double eval_time_sum_s;    /* sum of eval_time over the non-step eval lines */
    int eval_lines, eval_lines_timed; /* non-step eval lines, and those with an eval_time */
    pg_log_num train_ms;       /* last train_time on a step or stopping line */
    pg_log_num steps, max_steps, step_avg_ms;
    pg_log_num artifact_bytes; /* last "Total submission ...: N bytes" */
    pg_log_num code_bytes, model_bytes;
    pg_log_num last_val_loss, last_val_bpb; /* last periodic step:N/M val line */
    int stopped_early;
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
void pg_log_settings_free(char **settings, int n);

/* The eval time to judge against the 600 s limit: total if logged, else the final line's. */
pg_log_num pg_log_eval_seconds(const pg_log_summary *s);

#endif
