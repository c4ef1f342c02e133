/* The SOTA a submission must beat, from a number, a records folder or tree (its current
 * best record), or the challenge README's leaderboard table, and the significance section
 * of a records folder's README against it (stats/judge). */
#ifndef PG_SOTA_H
#define PG_SOTA_H

#include <stddef.h>

#include "common/text.h"

typedef struct {
    char desc[800];  /* what the SOTA is and where it came from, for people */
    char record[256]; /* the SOTA records folder's name, or "" */
    double value;    /* its val_bpb: the given number, the record's, the leaderboard's */
    double *seeds;   /* the SOTA record's per-seed val_bpb (Welch's test with 2+), or NULL */
    size_t nseeds;
} pg_sota;

int pg_sota_from_value(double v, pg_sota *s);
/* The record's per-seed val_bpb and their mean (its claimed val_bpb when it has no
 * per-seed scores); a records tree stands for its current SOTA (pg_history_current_sota). */
int pg_sota_from_records(const char *path, pg_sota *s);
/* The best Score of the leaderboard table for the track (the non-record table for a
 * non-record track) in the challenge's README.md (parsed by records/leaderboard.c). */
int pg_sota_from_leaderboard(const char *readme, const char *track, pg_sota *s);
int pg_sota_from_leaderboard_text(const char *name, const char *text, size_t len,
                                  const char *track, pg_sota *s);
void pg_sota_free(pg_sota *s);

/* The README's significance section: the record tests of the per-seed scores (val_bpb,
 * and val_loss for the 0.005-nat threshold in BPB) against s, or why none was run (s NULL:
 * no SOTA given). Fails only when out of memory. */
int pg_significance_markdown(const double *bpb, const double *loss, size_t n, const pg_sota *s,
                             const char *track, pg_text *out);

#endif
