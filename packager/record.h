/* One records folder in the challenge's layout (records/<track>/<date>_<name>/):
 * README.md, submission.json, per-seed logs. Loading is lenient: a missing or bad
 * submission.json or log is recorded as a problem, not a failure, so auditors can
 * report on it; only an unreadable folder fails. */
#ifndef PG_RECORD_H
#define PG_RECORD_H

#include <jansson.h>

#include "packager/logparse.h"

typedef struct {
    long seed;
    int has_seed;
    double val_loss, val_bpb;
    int has_loss; /* val_bpb is always present */
    double artifact_bytes, steps, train_ms, eval_s; /* < 0 when unknown */
    char source[600]; /* "<log path>:<line>" or "<dir>/submission.json" */
} pg_seed_result;

typedef struct {
    char dir[512];
    char name[256];   /* folder name */
    char track[128];  /* submission "track", else the parent folder without "track_" */
    char date[16];    /* YYYY-MM-DD from submission "date", else the folder name */
    json_t *submission;           /* NULL when missing or invalid */
    char submission_problem[600]; /* why it is NULL, or "" */
    double claimed_bpb, claimed_loss; /* NAN when not claimed */
    pg_log_summary *logs;
    size_t nlogs;
    char **log_problems; /* one line per unparsable log */
    size_t nlog_problems;
    pg_seed_result *seeds; /* one per distinct seed */
    size_t nseeds;
    int seeds_from_logs; /* 1: logs, 0: submission.json seed_results */
} pg_record;

int pg_record_load(const char *dir, pg_record *r);
void pg_record_free(pg_record *r);

/* The record's per-seed val_bpb and val_loss (has_loss for all) in arrays of nseeds. */
int pg_record_scores(const pg_record *r, double *bpb, double *loss, int *all_have_loss);

/* Folders of a records tree, TREE/track_NAME/FOLDER/, sorted. */
int pg_records_tree_list(const char *tree, char ***dirs, size_t *count);

#endif
