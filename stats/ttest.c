#include "stats/ttest.h"

#include <math.h>

#include "common/err.h"
#include "stats/tdist.h"

int pg_describe(const double *x, size_t n, pg_sample_stats *out)
{
    if (n < 2)
        return pg_fail("need at least 2 scores for a t-test, got %zu", n);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return pg_fail("score %zu is not a finite number", i + 1);
        sum += x[i];
    }
    double mean = sum / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - mean) * (x[i] - mean);
    out->n = n;
    out->mean = mean;
    out->std = sqrt(ss / (double)(n - 1));
    return 0;
}

const char *pg_verdict_name(pg_verdict v)
{
    switch (v) {
    case PG_VERDICT_RECORD: return "record";
    case PG_VERDICT_WORSE: return "worse";
    default: return "not significant";
    }
}

int pg_ttest_one_sample(const pg_sample_stats *s, double sota, double threshold,
                        pg_ttest_result *r)
{
    if (!isfinite(sota) || !isfinite(threshold))
        return pg_fail("SOTA score and threshold must be finite numbers");
    if (s->std == 0)
        return pg_fail("the %zu scores are identical (zero variance): the t statistic is undefined",
                       s->n);
    r->target = sota - threshold;
    r->improvement = sota - s->mean;
    r->t = (r->target - s->mean) / (s->std / sqrt((double)s->n));
    r->df = (double)(s->n - 1);
    r->p = pg_t_sf(r->t, r->df);
    return 0;
}

int pg_ttest_welch(const pg_sample_stats *new_s, const pg_sample_stats *sota_s, double threshold,
                   pg_ttest_result *r)
{
    if (!isfinite(threshold))
        return pg_fail("threshold must be a finite number");
    double v1 = new_s->std * new_s->std / (double)new_s->n;
    double v2 = sota_s->std * sota_s->std / (double)sota_s->n;
    if (v1 + v2 == 0)
        return pg_fail("both samples have zero variance: Welch's t is undefined");
    r->target = sota_s->mean - threshold;
    r->improvement = sota_s->mean - new_s->mean;
    r->t = (r->improvement - threshold) / sqrt(v1 + v2);
    r->df = (v1 + v2) * (v1 + v2) /
            (v1 * v1 / (double)(new_s->n - 1) + v2 * v2 / (double)(sota_s->n - 1));
    r->p = pg_t_sf(r->t, r->df);
    return 0;
}

pg_verdict pg_verdict_of(const pg_ttest_result *r, double alpha)
{
    if (r->improvement <= 0)
        return PG_VERDICT_WORSE;
    return r->p < alpha ? PG_VERDICT_RECORD : PG_VERDICT_NOT_SIGNIFICANT;
}

int pg_tokens_per_byte(const double *val_loss, const double *val_bpb, size_t n, double *tpb)
{
    if (n == 0)
        return pg_fail("no (val_loss, val_bpb) pairs to derive tokens per byte from");
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(val_loss[i] > 0) || !(val_bpb[i] > 0) || !isfinite(val_loss[i]) ||
            !isfinite(val_bpb[i]))
            return pg_fail("pair %zu (val_loss %g, val_bpb %g) is not usable", i + 1, val_loss[i],
                           val_bpb[i]);
        sum += val_bpb[i] * log(2.0) / val_loss[i];
    }
    *tpb = sum / (double)n;
    return 0;
}

double pg_nats_to_bpb(double nats, double tokens_per_byte)
{
    return nats / log(2.0) * tokens_per_byte;
}

size_t pg_seeds_needed(double std, double improvement, double threshold, double alpha,
                       double power, size_t max_n)
{
    double margin = improvement - threshold;
    if (!(margin > 0) || !(std > 0) || !(alpha > 0 && alpha < 1))
        return 0;
    for (size_t n = 2; n <= max_n; n++) {
        double df = (double)(n - 1), crit = pg_t_isf(alpha, df);
        double expected_t = margin / (std / sqrt((double)n));
        int ok = power > 0 ? pg_nct_sf(crit, df, expected_t) >= power : expected_t > crit;
        if (ok)
            return n;
    }
    return 0;
}
