/* The leaderboard history of a records tree: records in order (by date, or by the
 * challenge README's leaderboard table when one is given), the SOTA each had to beat
 * (the best earlier record-track score), the README's own stated comparison, and the
 * significance of its seeds against the SOTA, with the 0.005-nat threshold and without
 * it (as READMEs quote Welch's test). */
#ifndef PG_HISTORY_H
#define PG_HISTORY_H

#include "packager/record.h"
#include "records/leaderboard.h"
#include "stats/judge.h"

/* A claim within this of a log value counts as that value (claims are often rounded). */
#define PG_CLAIM_TOL 1e-4

typedef struct {
    pg_record rec;
    double score;       /* claimed val_bpb, else the mean of the seeds' val_bpb */
    double logs_mean;   /* mean val_bpb of the seeds (NAN when none) */
    const char *claim_check; /* mean | single_seed | unsupported | no_seeds | no_claim */
    int flagged;             /* claims a better score than its logs' mean supports */
    int record_track;        /* judged against the record track's SOTA */
    int candidate;           /* may become the SOTA: record track, claim its logs support */
    pg_board_row board;      /* its leaderboard row (board.line 0: not on the leaderboard) */
    char date[16];           /* the leaderboard's date when listed, else the record's */
    double sota_before;      /* NAN: nothing to beat */
    char sota_name[160];     /* the SOTA's run name (leaderboard) or folder name */
    char sota_source[700];   /* where the SOTA came from: "README.md:76" or its folder */
    double sota_after;
    double stated_sota;      /* the README's own stated comparison, NAN when none */
    int stated_line;
    int scored;              /* the thresholded test ran (j) */
    pg_judgement j;          /* 0.005 nats in BPB at the record's own tokens/byte */
    int unshifted;           /* the unshifted test ran (j0) */
    pg_judgement j0;         /* threshold 0, as READMEs quote Welch's test */
    char reason[256];        /* why no test ran */
    char threshold_reason[256]; /* why the thresholded test did not run when j0 did */
} pg_history_entry;

typedef struct {
    char name[128];
    pg_history_entry *e;
    size_t n;
} pg_track_history;

/* Every folder of tree, per track. board (NULL: none) gives the order, dates and scores
 * of the official leaderboard; without it records are ordered by date and only record-
 * track claims their logs support can become the SOTA. */
int pg_history_build(const char *tree, const pg_leaderboard *board, double alpha,
                     pg_track_history **tracks, size_t *ntracks);
void pg_history_free(pg_track_history *tracks, size_t ntracks);

/* path itself when it is one records folder; for a records tree, the folder of its
 * current SOTA (the best record-track claim its logs support). Writes it into dir. */
int pg_history_current_sota(const char *path, char *dir, size_t cap);

/* val_bpb over date, one colour per track, SOTA as a step line; written atomically. */
int pg_history_svg(const char *path, const pg_track_history *tracks, size_t ntracks);

#endif
