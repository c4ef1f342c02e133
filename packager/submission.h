/* The records folder's summary files, one writer for every way pgolf packages a
 * submission (pgolf's own runs, `pgolf run`, the logs of any train_gpt.py run):
 * README.md (what changed, results per seed with the log line of each number, mean, std,
 * bytes per seed split into code and model, the significance test, how to reproduce, one
 * loss-curve plot), submission.json in the keys real records use, and loss.svg. Every
 * number comes from a seed's log as it lies in the folder, parsed by logparse.c, so
 * `pgolf verify` finds each claim on the line the README cites. */
#ifndef PG_SUBMISSION_H
#define PG_SUBMISSION_H

#include <stddef.h>

#include "packager/logparse.h"

/* One seed: its log as written into the folder, parsed, and the numbers drawn from it. */
typedef struct {
    long seed;
    const char *source;     /* the input it came from (a log or run path), for messages */
    char log_name[256];     /* the log's file name in the folder */
    const char *log_text;   /* the log's bytes as written (for the loss curves) */
    size_t log_len;
    pg_log_summary *log;    /* log_text parsed, under log_name */
    pg_log_eval score;      /* the evaluation that is the seed's score */
    long long model_bytes;  /* the compressed model */
    int model_line;         /* its line in the log; 0: the size of the artifact file */
    char artifact_name[256]; /* the model file in the folder, or "" */
} pg_sub_seed;

typedef struct {
    const char *name, *author, *github_id, *date, *track, *blurb, *hardware;
    const char *const *code_names; /* the counted code files in the folder */
    const long long *code_sizes;
    int ncode;
    long long code_bytes;     /* their sum */
    const char *reproduce;    /* markdown: how to reproduce the runs */
    const char *significance; /* markdown: the test against the SOTA, or why there is none */
} pg_sub_info;

/* The seed of a parsed log and its score: the last final evaluation tagged `tag`, or the
 * log's last final evaluation when tag is NULL. The model bytes are the log's last
 * "Serialized model ...: N bytes" line. Fails naming the log (no seed, no score, no tag). */
int pg_sub_seed_from_log(pg_sub_seed *s, pg_log_summary *log, const char *tag);

/* Refuses (naming the inputs) two seeds that are the same, scores that are different
 * evaluations, and a seed whose code + model bytes exceed 16,000,000 unless the track is
 * a non-record one. */
int pg_sub_check(const pg_sub_seed *seeds, int n, long long code_bytes, const char *track);

/* Writes dir/README.md, dir/submission.json and dir/loss.svg (each atomically). */
int pg_submission_write(const char *dir, const pg_sub_seed *seeds, int n, const pg_sub_info *info);

/* The track's canonical name ("10min_16mb", "non_record_16mb" for "non-record", ...);
 * fails naming the value when it is not a plain name. */
int pg_track_canonical(const char *track, char *out, size_t cap);
int pg_track_is_non_record(const char *track);

/* The records folder for --out: OUT/track_<track>/<date>_<name>/ (the name with spaces
 * as '_' and other characters that do not belong in a folder name left out), or OUT
 * itself when its last part already starts with a date (YYYY-MM-DD_). Checks the date.
 * *dir is malloc'ed. */
int pg_records_folder(const char *out, const char *track, const char *date, const char *name,
                      char **dir);

#endif
