/* Progress reporting for long work, on stderr: a live bar redrawn in place on a
 * terminal, plain lines (every few seconds and at the end) otherwise. Each shows
 * done/total, percent, rate and ETA. */
#ifndef PG_PROGRESS_H
#define PG_PROGRESS_H

#include <stddef.h>

typedef struct {
    const char *label;
    const char *unit;
    size_t total;
    double t0, last_print;
    int tty;
} pg_progress;

double pg_now_seconds(void);
void pg_progress_start(pg_progress *p, const char *label, const char *unit, size_t total);
/* extra (may be NULL) is appended, e.g. a running loss. */
void pg_progress_update(pg_progress *p, size_t done, const char *extra);
void pg_progress_finish(pg_progress *p, const char *extra);

#endif
