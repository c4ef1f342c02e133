/* The leaderboard history of a records tree: per track, records ordered by date, the
 * SOTA each had to beat, the significance of its seeds against it, and whether its
 * claim is supported by its logs. */
#ifndef PG_HISTORY_H
#define PG_HISTORY_H

#include "packager/record.h"
#include "stats/judge.h"

/* A claim within this of a log value counts as that value (claims are often rounded). */
#define PG_CLAIM_TOL 1e-4

typedef struct {
    pg_record rec;
    double score;       /* claimed val_bpb, else the mean of the seeds' val_bpb */
    double logs_mean;   /* mean val_bpb of the seeds (NAN when none) */
    double sota_before; /* NAN for the first record of a track */
    const char *sota_name;
    double sota_after;
    int scored;
    pg_judgement j;
    char reason[256]; /* why it was not scored */
    const char *claim_check; /* mean | single_seed | unsupported | no_seeds | no_claim */
    int flagged;             /* claims a better score than its logs' mean supports */
} pg_history_entry;

typedef struct {
    char name[128];
    pg_history_entry *e;
    size_t n;
} pg_track_history;

int pg_history_build(const char *tree, double alpha, pg_track_history **tracks, size_t *ntracks);
void pg_history_free(pg_track_history *tracks, size_t ntracks);

/* val_bpb over date, one colour per track, SOTA as a step line; written atomically. */
int pg_history_svg(const char *path, const pg_track_history *tracks, size_t ntracks);

#endif
