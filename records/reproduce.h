/* Reproduction of a records folder's claims from re-runs of its own code (`pgolf rerun`,
 * `pgolf verify --rerun-logs`): per seed the claimed and re-run score of the claimed
 * evaluation, bytes, train and eval time, then a verdict over the seeds (reproduced bit
 * for bit, or the difference with a two-sided Welch test and the 0.005-nat threshold). */
#ifndef PG_REPRODUCE_H
#define PG_REPRODUCE_H

#include <stddef.h>

#include "packager/record.h"
#include "verifier/verify.h"

typedef struct {
    long seed;
    char log[600];       /* the re-run's log */
    int ran;             /* the re-run ended by itself with exit status 0 */
    char failure[200];   /* why it did not ("timed out after 300 s", "exit status 1") */
    pg_log_summary s;    /* its parse, when the log could be read */
    int parsed;
} pg_rerun_seed;

/* The seeds the folder claims (its val_bpb claim's runs, else every logged seed), up to
 * cap; returns how many. */
size_t pg_reproduce_claimed_seeds(const pg_record *r, long *seeds, size_t cap);

/* The folder's log of a seed (a claimed one first), or NULL. */
const pg_log_summary *pg_reproduce_log_of(const pg_record *r, long seed);

/* Adds reproduce.seed.<N> and reproduce.verdict findings. */
void pg_reproduce_report(const pg_record *r, const pg_rerun_seed *runs, size_t n, pg_checks *c);

#endif
