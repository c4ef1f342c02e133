/* Claims of a records folder matched against its logs: the claimed val_bpb / val_loss
 * against every final evaluation of every log (one run's score, or the mean of one
 * evaluation per seed), and each seed_results entry against the runs of that seed. */
#ifndef PG_CLAIMS_H
#define PG_CLAIMS_H

#include "packager/record.h"

/* Fills r->bpb_match, r->loss_match, r->seed_claims and r->log_claimed. */
int pg_claims_match(pg_record *r);

#endif
