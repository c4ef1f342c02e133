#include "stats/judge.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"

#define SEEDS_NEEDED_MAX 1000

void pg_judge_opts_default(pg_judge_opts *o)
{
    o->threshold = 0.005;
    o->threshold_is_bpb = 0;
    o->scores_are_loss = 0;
    o->alpha = 0.01;
    o->power = 0;
}

/* Sets the threshold in the scores' unit and both named units where derivable. */
static int resolve_threshold(const double *scores, const double *losses, size_t n,
                             const pg_judge_opts *o, pg_judgement *j)
{
    j->tokens_per_byte = NAN;
    if (losses && !o->scores_are_loss &&
        pg_tokens_per_byte(losses, scores, n, &j->tokens_per_byte) != 0)
        return -1;
    double tpb = j->tokens_per_byte;
    if (o->threshold_is_bpb) {
        j->threshold_bpb = o->threshold;
        j->threshold_nats = isfinite(tpb) ? o->threshold * log(2.0) / tpb : NAN;
    } else {
        j->threshold_nats = o->threshold;
        j->threshold_bpb = isfinite(tpb) ? pg_nats_to_bpb(o->threshold, tpb) : NAN;
    }
    if (o->scores_are_loss) {
        if (o->threshold_is_bpb)
            return pg_fail("scores are val_loss (nats) but the threshold is in BPB: give the "
                           "threshold in nats");
        j->threshold_used = j->threshold_nats;
        snprintf(j->threshold_note, sizeof j->threshold_note, "%g nats, scores in nats",
                 o->threshold);
    } else if (o->threshold_is_bpb) {
        j->threshold_used = j->threshold_bpb;
        snprintf(j->threshold_note, sizeof j->threshold_note,
                 "%g taken as BPB (as early records did)", o->threshold);
    } else {
        if (!isfinite(tpb))
            return pg_fail("cannot convert %g nats to BPB without the seeds' val_loss: give "
                           "val_loss per seed, or take the threshold as BPB",
                           o->threshold);
        j->threshold_used = j->threshold_bpb;
        snprintf(j->threshold_note, sizeof j->threshold_note,
                 "%g nats = %.6f BPB at the submission's %.6f tokens/byte", o->threshold,
                 j->threshold_bpb, tpb);
    }
    return 0;
}

int pg_judge_check_opts(const pg_judge_opts *o)
{
    if (!(o->alpha > 0 && o->alpha < 1))
        return pg_fail("alpha %g must be in (0, 1)", o->alpha);
    if (!(o->threshold >= 0) || !isfinite(o->threshold))
        return pg_fail("threshold %g must be a finite number >= 0", o->threshold);
    if (!(o->power >= 0 && o->power < 1))
        return pg_fail("power %g must be in (0, 1)", o->power);
    return 0;
}

int pg_judge(const double *scores, const double *losses, size_t n, double sota,
             const double *sota_scores, size_t n_sota, const pg_judge_opts *o, pg_judgement *j)
{
    *j = (pg_judgement){0};
    if (pg_judge_check_opts(o) != 0)
        return -1;
    if (pg_describe(scores, n, &j->s) != 0 || resolve_threshold(scores, losses, n, o, j) != 0)
        return -1;
    if (sota_scores && !isfinite(sota)) {
        if (n_sota == 0)
            return pg_fail("the SOTA has no scores");
        double sum = 0;
        for (size_t i = 0; i < n_sota; i++) {
            if (!isfinite(sota_scores[i]))
                return pg_fail("SOTA score %zu is not a finite number", i + 1);
            sum += sota_scores[i];
        }
        sota = sum / (double)n_sota;
    }
    if (!isfinite(sota))
        return pg_fail("no SOTA score to test against");
    j->sota = sota;
    if (pg_ttest_one_sample(&j->s, sota, j->threshold_used, &j->one) != 0)
        return -1;
    j->verdict = pg_verdict_of(&j->one, o->alpha);
    for (size_t i = 0; sota_scores && i < n_sota; i++)
        if (!isfinite(sota_scores[i]))
            return pg_fail("SOTA score %zu is not a finite number", i + 1);
    if (sota_scores && n_sota >= 2 && pg_describe(sota_scores, n_sota, &j->sota_s) == 0 &&
        pg_ttest_welch(&j->s, &j->sota_s, j->threshold_used, &j->welch) == 0) {
        j->has_welch = 1;
        j->welch_verdict = pg_verdict_of(&j->welch, o->alpha);
    }
    j->seeds_needed = pg_seeds_needed(j->s.std, j->one.improvement, j->threshold_used, o->alpha,
                                      o->power, SEEDS_NEEDED_MAX);
    return 0;
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *pg_judgement_json(const pg_judgement *j, const pg_judge_opts *o)
{
    json_t *out = json_pack(
        "{s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:o, s:o, s:f, s:s, s:s, s:f, s:f, s:f, s:f, s:o}",
        "test", "one-sample", "n", (json_int_t)j->s.n, "mean", j->s.mean, "std", j->s.std, "t",
        j->one.t, "df", j->one.df, "p", j->one.p, "threshold_nats", num_or_null(j->threshold_nats),
        "threshold_bpb", num_or_null(j->threshold_bpb), "threshold_used", j->threshold_used,
        "threshold_note", j->threshold_note, "verdict", pg_verdict_name(j->verdict), "sota",
        j->sota, "target", j->one.target, "improvement", j->one.improvement, "alpha", o->alpha,
        "tokens_per_byte", num_or_null(j->tokens_per_byte));
    int ok = out &&
             json_object_set_new(out, "metric",
                                 json_string(o->scores_are_loss ? "val_loss" : "val_bpb")) == 0;
    if (ok && j->has_welch)
        ok = json_object_set_new(out, "welch",
                                 json_pack("{s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:s}", "test",
                                           "welch", "n_sota", (json_int_t)j->sota_s.n,
                                           "sota_std", j->sota_s.std, "t", j->welch.t, "df",
                                           j->welch.df, "p", j->welch.p, "improvement",
                                           j->welch.improvement, "verdict",
                                           pg_verdict_name(j->welch_verdict))) == 0;
    if (ok)
        ok = json_object_set_new(out, "seeds_needed",
                                 j->seeds_needed ? json_integer((json_int_t)j->seeds_needed)
                                                 : json_null()) == 0;
    if (ok && o->power > 0)
        ok = json_object_set_new(out, "power", json_real(o->power)) == 0;
    if (!ok) {
        json_decref(out);
        return NULL;
    }
    return out;
}

void pg_judgement_print(const pg_judgement *j, const pg_judge_opts *o, FILE *out)
{
    const char *unit = o->scores_are_loss ? "val_loss" : "val_bpb";
    fprintf(out, "scores: n=%zu mean=%.8f std=%.8f (%s)\n", j->s.n, j->s.mean, j->s.std, unit);
    fprintf(out, "threshold: %s\n", j->threshold_note);
    fprintf(out, "SOTA: %.8f  target (SOTA - threshold): %.8f  improvement: %.8f\n", j->sota,
           j->one.target, j->one.improvement);
    fprintf(out, "one-sample t-test (one-sided): t=%.4f df=%.0f p=%.6g\n", j->one.t, j->one.df, j->one.p);
    if (j->has_welch)
        fprintf(out, "Welch's t-test vs the SOTA's %zu seeds: t=%.4f df=%.3f p=%.6g -> %s\n",
               j->sota_s.n, j->welch.t, j->welch.df, j->welch.p,
               pg_verdict_name(j->welch_verdict));
    fprintf(out, "verdict: %s (alpha %g, one-sample test)\n", pg_verdict_name(j->verdict), o->alpha);
    if (j->seeds_needed)
        fprintf(out, "seeds needed: %zu (observed std and improvement%s)\n", j->seeds_needed,
               o->power > 0 ? ", for the requested power" : "");
    else
        fprintf(out, "seeds needed: none reach p < %g (the improvement does not clear the threshold)\n",
               o->alpha);
}
