/* The record significance tests (DESIGN §2): beat the SOTA by a threshold (0.005 nats
 * by default) with p < alpha (0.01), judged by a one-sided one-sample t-test of the
 * new seeds against (SOTA - threshold) and by Welch's t-test against the SOTA's seeds. */
#ifndef PG_TTEST_H
#define PG_TTEST_H

#include <stddef.h>

typedef struct {
    size_t n;
    double mean, std; /* sample std (n - 1) */
} pg_sample_stats;

/* Fails (message) for n < 2 or a non-finite score. */
int pg_describe(const double *x, size_t n, pg_sample_stats *out);

typedef enum { PG_VERDICT_RECORD, PG_VERDICT_NOT_SIGNIFICANT, PG_VERDICT_WORSE } pg_verdict;
const char *pg_verdict_name(pg_verdict v);

typedef struct {
    double t, df, p;
    double target; /* one-sample: SOTA - threshold */
    double improvement; /* SOTA mean - new mean */
} pg_ttest_result;

/* One-sided one-sample test of H1: mean < target = sota - threshold.
 * t = (target - mean) / (s / sqrt(n)), df = n - 1, p = P(T > t).
 * Zero variance fails with a message (t is undefined). */
int pg_ttest_one_sample(const pg_sample_stats *s, double sota, double threshold,
                        pg_ttest_result *r);

/* Welch's test of H1: mean(sota) - mean(new) > threshold.
 * t = ((m_sota - m_new) - threshold) / sqrt(s1^2/n1 + s2^2/n2), Welch-Satterthwaite df. */
int pg_ttest_welch(const pg_sample_stats *new_s, const pg_sample_stats *sota_s, double threshold,
                   pg_ttest_result *r);

/* record if p < alpha; worse if the new mean is not below the SOTA; else not significant. */
pg_verdict pg_verdict_of(const pg_ttest_result *r, double alpha);

/* Tokens per byte from (val_loss, val_bpb) pairs: val_bpb = val_loss / ln 2 * tokens/bytes,
 * so tokens/bytes = val_bpb * ln 2 / val_loss; the mean over the pairs. */
int pg_tokens_per_byte(const double *val_loss, const double *val_bpb, size_t n, double *tpb);

/* A threshold in nats expressed in BPB: nats / ln 2 * tokens_per_byte. */
double pg_nats_to_bpb(double nats, double tokens_per_byte);

/* Smallest n in [2, max_n] at which a one-sample test with the observed std and
 * improvement reaches p < alpha (power = 0) or the given power under the noncentral t
 * (power > 0). Returns 0 when the improvement does not exceed the threshold (never),
 * or when max_n is not enough. */
size_t pg_seeds_needed(double std, double improvement, double threshold, double alpha,
                       double power, size_t max_n);

#endif
