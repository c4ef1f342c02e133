/* A significance verdict for a set of seed scores against the SOTA: threshold
 * conversion (nats <-> BPB with the submission's own tokens per byte), the one-sample
 * test, Welch's test when the SOTA's seeds are known, and the seeds needed. */
#ifndef PG_JUDGE_H
#define PG_JUDGE_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "stats/ttest.h"

typedef struct {
    double threshold;     /* default 0.005 */
    int threshold_is_bpb; /* 1: the threshold is in BPB already (early records) */
    int scores_are_loss;  /* 1: scores are val_loss (nats), else val_bpb */
    double alpha;         /* default 0.01 */
    double power;         /* > 0: seeds needed for this power (noncentral t) */
} pg_judge_opts;

void pg_judge_opts_default(pg_judge_opts *o);

typedef struct {
    pg_sample_stats s;
    double sota;                /* the SOTA score (mean of its seeds when given) */
    double tokens_per_byte;     /* NAN when no (loss, bpb) pairs */
    double threshold_nats, threshold_bpb; /* NAN where not derivable */
    double threshold_used;      /* in the scores' unit */
    char threshold_note[160];   /* how the threshold was taken, for people */
    pg_ttest_result one;
    pg_verdict verdict;
    int has_welch;
    pg_sample_stats sota_s;
    pg_ttest_result welch;
    pg_verdict welch_verdict;
    size_t seeds_needed; /* 0: not reachable (improvement <= threshold) */
} pg_judgement;

/* alpha in (0, 1), a finite threshold >= 0, power in [0, 1): else a one-line error. */
int pg_judge_check_opts(const pg_judge_opts *o);

/* scores[n] (val_bpb or val_loss per opts), losses[n] (the val_loss of each seed, or
 * NULL) for the nats->BPB conversion. The one-sample test uses `sota`, or the mean of
 * sota_scores when sota is NAN; Welch's test runs when sota_scores has >= 2 values.
 * Every bad input is a one-line error; no NaN reaches a verdict. */
int pg_judge(const double *scores, const double *losses, size_t n, double sota,
             const double *sota_scores, size_t n_sota, const pg_judge_opts *o, pg_judgement *j);

/* {"test","n","mean","std","t","df","p","threshold_nats","threshold_bpb","verdict",...};
 * NULL when out of memory. */
json_t *pg_judgement_json(const pg_judgement *j, const pg_judge_opts *o);

/* The verdict for people, one finding per line. */
void pg_judgement_print(const pg_judgement *j, const pg_judge_opts *o, FILE *out);
#endif
