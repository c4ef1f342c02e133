/* One records folder in the challenge's layout (records/<track>/<date>_<name>/):
 * README.md, submission.json, per-seed logs. Loading is lenient: a missing or bad
 * submission.json or log is recorded as a problem, not a failure, so auditors can
 * report on it; only an unreadable folder fails. */
#ifndef PG_RECORD_H
#define PG_RECORD_H

#include <jansson.h>

#include "packager/logparse.h"
#include "packager/readme.h"

typedef struct {
    long seed;
    int has_seed;
    double val_loss, val_bpb;
    int has_loss; /* val_bpb is always present */
    double artifact_bytes, steps, train_ms, eval_s; /* < 0 when unknown */
    char source[600]; /* "<log path>:<line>" or "<dir>/submission.json" */
} pg_seed_result;

#define PG_MAX_REFS 64

/* One final evaluation of one run: logs[log].evals[eval]. */
typedef struct {
    int log, eval;
} pg_eval_ref;

typedef enum {
    PG_CLAIM_NONE,        /* nothing claimed, or no run with a final evaluation */
    PG_CLAIM_MEAN,        /* the mean of one evaluation per seed (refs) */
    PG_CLAIM_ONE_RUN,     /* one run's evaluation (refs[0]) */
    PG_CLAIM_UNMATCHED,   /* no evaluation and no mean equals it */
    PG_CLAIM_BETTER_THAN_ALL /* better than every final evaluation: contradicted */
} pg_claim_kind;

/* A claimed number matched against every final evaluation of every log. */
typedef struct {
    pg_claim_kind kind;
    double claim, value, tol; /* value: the matched mean or score */
    pg_eval_ref refs[PG_MAX_REFS];
    size_t nrefs;
    pg_eval_ref best; /* the best final evaluation of any run (log < 0: none) */
    double best_value;
} pg_claim_match;

typedef enum {
    PG_SEED_FOUND,     /* in a log of that seed */
    PG_SEED_UNPRINTED, /* by value, in a log that states no seed */
    PG_SEED_OTHER,     /* by value, in a log that states another seed */
    PG_SEED_DIFFERS,   /* logs of that seed exist, none has the claimed value */
    PG_SEED_NOT_LOGGED /* no log of that seed and no run with that value */
} pg_seed_how;

/* One entry of a submission's seed_results (or a nested "X.seed_results"). */
typedef struct {
    char name[96]; /* "seed_results.42", "compliance_rerun.seed_results.42" */
    char key[32];
    double bpb;
    pg_seed_how how;
    pg_eval_ref ref; /* the matching evaluation (or the closest one for DIFFERS) */
} pg_seed_claim;

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
    char submission_path[600];
    pg_claim_match bpb_match, loss_match;
    pg_seed_claim *seed_claims;
    size_t nseed_claims;
    int *log_claimed; /* per log: 1 when a claim (mean, run or seed entry) rests on it */
    pg_seed_result *seeds; /* the runs supporting the val_bpb claim, else every run's last */
    size_t nseeds;
    int seeds_from_logs; /* 1: logs, 0: submission.json seed_results */
    pg_readme readme;    /* the numbers its README.md states */
} pg_record;

/* Loads dir: submission.json (or submission_*.json), README.md, every *.log / *.txt in it
 * and in its subfolders, then matches each claim against every final evaluation of every
 * log. */
int pg_record_load(const char *dir, pg_record *r);

/* Half a unit of the last decimal either number shows (claims and logs are rounded). */
double pg_claim_tol(double claim, int value_decimals);

/* The number of decimals a claim shows (up to 8). */
int pg_decimals(double v);
void pg_record_free(pg_record *r);

/* The record's per-seed val_bpb and val_loss (has_loss for all) in arrays of nseeds. */
int pg_record_scores(const pg_record *r, double *bpb, double *loss, int *all_have_loss);

/* The folder's track with '-' as '_', lower case. */
void pg_track_norm(const pg_record *r, char *out, size_t n);

/* 1 when the folder's track (submission "track", else its parent folder; '-' and '_'
 * alike) is the 10-minute record track. */
int pg_is_record_track(const pg_record *r);

/* 1 when path is a records tree (holds track_* folders) rather than one records folder. */
int pg_is_records_tree(const char *path);

/* Folders of a records tree, TREE/track_NAME/FOLDER/, sorted. */
int pg_records_tree_list(const char *tree, char ***dirs, size_t *count);

#endif
