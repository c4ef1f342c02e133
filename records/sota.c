#include "records/sota.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "packager/record.h"
#include "packager/submission.h"
#include "records/history.h"
#include "records/leaderboard.h"
#include "stats/judge.h"

int pg_sota_from_value(double v, pg_sota *s)
{
    memset(s, 0, sizeof *s);
    if (!isfinite(v) || v <= 0)
        return pg_fail("--sota %g: the SOTA is a val_bpb above 0", v);
    s->value = v;
    snprintf(s->desc, sizeof s->desc, "the given SOTA val_bpb %.8g", v);
    return 0;
}

int pg_sota_from_records(const char *path, pg_sota *s)
{
    memset(s, 0, sizeof *s);
    char dir[PG_PATH_MAX];
    pg_record rec;
    if (pg_history_current_sota(path, dir, sizeof dir) != 0 || pg_record_load(dir, &rec) != 0)
        return -1;
    double *loss = calloc(rec.nseeds + 1, sizeof *loss);
    s->seeds = calloc(rec.nseeds + 1, sizeof *s->seeds);
    int all_loss, rc = 0;
    if (!loss || !s->seeds)
        rc = pg_fail("%s: out of memory", dir);
    else
        s->nseeds = (size_t)pg_record_scores(&rec, s->seeds, loss, &all_loss);
    double sum = 0;
    for (size_t i = 0; i < s->nseeds; i++)
        sum += s->seeds[i];
    s->value = s->nseeds ? sum / (double)s->nseeds : rec.claimed_bpb;
    snprintf(s->record, sizeof s->record, "%s", rec.name);
    if (rc == 0 && !isfinite(s->value))
        rc = pg_fail("%s: no per-seed scores and no claimed val_bpb", dir);
    snprintf(s->desc, sizeof s->desc, "the records folder `%.500s` (val_bpb %.8f, %s)", dir,
             s->value, s->nseeds >= 2 ? "the mean of its seeds" : s->nseeds ? "its one seed"
                                                                 : "its claim");
    free(loss);
    pg_record_free(&rec);
    if (rc != 0)
        pg_sota_free(s);
    return rc;
}

/* ---- the challenge README's leaderboard tables (records/leaderboard.c) */

/* The best row of the wanted table kind. */
static int best_row(const pg_leaderboard *lb, const char *name, const char *track, pg_sota *s)
{
    int want_record = !pg_track_is_non_record(track);
    const pg_board_row *best = NULL;
    for (size_t i = 0; i < lb->n; i++)
        if (lb->rows[i].record_track == want_record && (!best || lb->rows[i].score < best->score))
            best = &lb->rows[i];
    if (!best)
        return pg_fail("%s: no %s leaderboard row", name, want_record ? "record-track" : "non-record");
    s->value = best->score;
    snprintf(s->desc, sizeof s->desc, "the leaderboard's best %s score, \"%.150s\" (%s), "
                                      "val_bpb %.8g at `%.300s:%d`",
             want_record ? "record-track" : "non-record", best->run, best->date, best->score,
             name, best->line);
    return 0;
}

int pg_sota_from_leaderboard_text(const char *name, const char *text, size_t len,
                                  const char *track, pg_sota *s)
{
    memset(s, 0, sizeof *s);
    pg_leaderboard lb;
    if (pg_leaderboard_parse_text(name, text, len, &lb) != 0)
        return -1;
    int rc = best_row(&lb, name, track, s);
    pg_leaderboard_free(&lb);
    return rc;
}

int pg_sota_from_leaderboard(const char *readme, const char *track, pg_sota *s)
{
    memset(s, 0, sizeof *s);
    pg_leaderboard lb;
    if (pg_leaderboard_load(readme, &lb) != 0)
        return -1;
    int rc = best_row(&lb, readme, track, s);
    pg_leaderboard_free(&lb);
    return rc;
}

void pg_sota_free(pg_sota *s)
{
    free(s->seeds);
    s->seeds = NULL;
    s->nseeds = 0;
}

/* ---- the README section */

static int judged(const double *bpb, const double *loss, size_t n, const pg_sota *s,
                  pg_text *out)
{
    pg_judge_opts o;
    pg_judgement j;
    pg_judge_opts_default(&o);
    if (pg_judge(bpb, loss, n, s->value, s->nseeds ? s->seeds : NULL, s->nseeds, &o, &j) != 0) {
        pg_text_printf(out, "The test could not be run: %s.", pg_errmsg());
        return 0;
    }
    char *printed = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&printed, &len);
    if (!mem)
        return pg_fail("significance: out of memory");
    pg_judgement_print(&j, &o, mem);
    fclose(mem);
    pg_text_printf(out, "**Verdict: %s** (one-sided one-sample t-test, p = %.3g%s)\n\n"
                        "```text\n%s```",
                   pg_verdict_name(j.verdict), j.one.p,
                   j.has_welch ? "; Welch's test below" : "", printed ? printed : "");
    free(printed);
    return 0;
}

int pg_significance_markdown(const double *bpb, const double *loss, size_t n, const pg_sota *s,
                             const char *track, pg_text *out)
{
    if (pg_track_is_non_record(track))
        pg_text_printf(out, "A non-record submission need not beat the SOTA; the test is for "
                            "information.\n\n");
    if (!s) {
        pg_text_printf(out, "No SOTA was given, so no test was run (give one with `--sota X`, "
                            "`--sota-record TREE` or `--leaderboard README.md`).");
        return out->oom ? pg_fail("significance: out of memory") : 0;
    }
    pg_text_printf(out, "Against %s. The record rule: beat the SOTA by at least 0.005 nats at "
                        "p < 0.01, by a one-sided one-sample t-test of the seeds against SOTA "
                        "- threshold (and Welch's t-test against the SOTA's own seeds when they "
                        "are known), the threshold converted to BPB at this submission's own "
                        "tokens per byte.\n\n",
                   s->desc);
    int rc = n < 2 ? (pg_text_printf(out, "One seed: the t-tests need at least two."), 0)
                   : judged(bpb, loss, n, s, out);
    return rc == 0 && out->oom ? pg_fail("significance: out of memory") : rc;
}
