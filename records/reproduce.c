#include "records/reproduce.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "stats/tdist.h"
#include "stats/ttest.h"

#define ALPHA 0.01
#define THRESHOLD_NATS 0.005

size_t pg_reproduce_claimed_seeds(const pg_record *r, long *seeds, size_t cap)
{
    size_t n = 0;
    const pg_claim_match *m = &r->bpb_match;
    int claimed = m->kind == PG_CLAIM_MEAN || m->kind == PG_CLAIM_ONE_RUN;
    size_t count = claimed ? m->nrefs : r->nlogs;
    for (size_t i = 0; i < count && n < cap; i++) {
        const pg_log_summary *l = &r->logs[claimed ? (size_t)m->refs[i].log : i];
        if (!l->seed.line || !l->nevals)
            continue;
        size_t j = 0;
        while (j < n && seeds[j] != (long)l->seed.value)
            j++;
        if (j == n)
            seeds[n++] = (long)l->seed.value;
    }
    return n;
}

/* The claimed evaluation's tag: the val_bpb claim's, else the log's last. */
static const char *claimed_tag(const pg_record *r, const pg_log_summary *l)
{
    const pg_claim_match *m = &r->bpb_match;
    if ((m->kind == PG_CLAIM_MEAN || m->kind == PG_CLAIM_ONE_RUN) && m->nrefs > 0)
        return r->logs[m->refs[0].log].evals[m->refs[0].eval].tag;
    return l->nevals ? l->evals[l->nevals - 1].tag : "";
}

static const pg_log_eval *last_eval(const pg_log_summary *l, const char *tag)
{
    const pg_log_eval *e = NULL;
    for (int i = 0; i < l->nevals; i++)
        if (strcmp(l->evals[i].tag, tag) == 0)
            e = &l->evals[i];
    return e;
}

const pg_log_summary *pg_reproduce_log_of(const pg_record *r, long seed)
{
    const pg_log_summary *found = NULL;
    for (size_t i = 0; i < r->nlogs; i++)
        if (r->logs[i].seed.line && (long)r->logs[i].seed.value == seed && r->logs[i].nevals &&
            (!found || r->log_claimed[i]))
            found = &r->logs[i];
    return found;
}

/* "A vs B" of two optional numbers (line 0: not logged) */
static void pair(char *buf, size_t cap, const char *what, const pg_log_num *a, const pg_log_num *b,
                 const char *unit)
{
    char x[32] = "not logged", y[32] = "not logged";
    if (a->line)
        snprintf(x, sizeof x, "%.0f%s", a->value, unit);
    if (b->line)
        snprintf(y, sizeof y, "%.0f%s", b->value, unit);
    snprintf(buf + strlen(buf), cap - strlen(buf), "; %s %s claimed, %s re-run", what, x, y);
}

/* Two-sided Welch test of a against b; p = 1 when both are constant and equal. */
static void welch(const double *a, const double *b, size_t n, double *t, double *df, double *p)
{
    pg_sample_stats sa = {0}, sb = {0};
    pg_describe(a, n, &sa);
    pg_describe(b, n, &sb);
    double va = sa.std * sa.std / (double)n, vb = sb.std * sb.std / (double)n;
    if (va + vb == 0) {
        *t = sa.mean == sb.mean ? 0 : INFINITY;
        *df = (double)(2 * n - 2);
        *p = sa.mean == sb.mean ? 1 : 0;
        return;
    }
    *t = (sa.mean - sb.mean) / sqrt(va + vb);
    *df = (va + vb) * (va + vb) / (va * va / (double)(n - 1) + vb * vb / (double)(n - 1));
    *p = 2 * pg_t_sf(fabs(*t), *df);
}

void pg_reproduce_report(const pg_record *r, const pg_rerun_seed *runs, size_t n, pg_checks *c)
{
    double claimed_loss[64], rerun_loss[64], claimed_bpb[64], rerun_bpb[64];
    size_t both = 0, same = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        const pg_rerun_seed *s = &runs[i];
        char name[64], ev[700] = "";
        snprintf(name, sizeof name, "reproduce.seed.%ld", s->seed);
        const pg_log_summary *l = pg_reproduce_log_of(r, s->seed);
        const char *tag = l ? claimed_tag(r, l) : "";
        const pg_log_eval *want = l ? last_eval(l, tag) : NULL;
        const pg_log_eval *got = s->parsed ? last_eval(&s->s, tag) : NULL;
        if (!want) {
            pg_checks_add(c, name, PG_CHECK_UNKNOWN, "seed %ld: the folder logs no claimed "
                          "evaluation for it", s->seed);
            failed++;
            continue;
        }
        if (!s->ran || !got) {
            pg_checks_add(c, name, PG_CHECK_FAIL, "seed %ld: the re-run %s (%s); claimed %s "
                          "val_bpb %.8f at %s:%d",
                          s->seed, !s->ran ? s->failure : "printed no such line", s->log, tag,
                          want->val_bpb, l->path, want->line);
            failed++;
            continue;
        }
        claimed_loss[both] = want->val_loss;
        rerun_loss[both] = got->val_loss;
        claimed_bpb[both] = want->val_bpb;
        rerun_bpb[both++] = got->val_bpb;
        int identical = want->val_bpb == got->val_bpb && want->val_loss == got->val_loss;
        same += identical;
        snprintf(ev, sizeof ev, "seed %ld %s: val_bpb %.8f claimed (%s:%d), %.8f re-run (%s:%d), "
                 "difference %.2e",
                 s->seed, tag, want->val_bpb, l->path, want->line, got->val_bpb, s->log,
                 got->line, got->val_bpb - want->val_bpb);
        pair(ev, sizeof ev, "bytes", &l->artifact_bytes, &s->s.artifact_bytes, "");
        pair(ev, sizeof ev, "train", &l->train_ms, &s->s.train_ms, " ms");
        pg_log_num ew = {want->eval_s, want->eval_s >= 0 ? want->line : 0};
        pg_log_num eg = {got->eval_s, got->eval_s >= 0 ? got->line : 0};
        if (!ew.line)
            ew = l->eval_time_s;
        if (!eg.line)
            eg = s->s.eval_time_s;
        pair(ev, sizeof ev, "eval", &ew, &eg, " s");
        pg_checks_add(c, name, identical ? PG_CHECK_PASS : PG_CHECK_FAIL, "%s%s", ev,
                      identical ? " (bit for bit at the printed digits)" : "");
    }
    if (failed > 0 || both == 0) {
        pg_checks_add(c, "reproduce.verdict", PG_CHECK_FAIL,
                      "not reproduced: %zu of %zu seeds did not give the claimed evaluation",
                      failed, n);
        return;
    }
    if (same == both) {
        pg_checks_add(c, "reproduce.verdict", PG_CHECK_PASS,
                      "reproduced bit for bit: %zu of %zu seeds re-ran to the claimed val_loss "
                      "and val_bpb at every printed digit", same, both);
        return;
    }
    double dl = 0, db = 0;
    for (size_t i = 0; i < both; i++) {
        dl += (rerun_loss[i] - claimed_loss[i]) / (double)both;
        db += (rerun_bpb[i] - claimed_bpb[i]) / (double)both;
    }
    char test[300] = "one seed: no Welch test";
    if (both >= 2) {
        double t, df, p;
        welch(rerun_loss, claimed_loss, both, &t, &df, &p);
        snprintf(test, sizeof test, "Welch's test of re-run against claimed val_loss: t %.3f, "
                 "df %.1f, two-sided p %.3g, %s at alpha %.2f",
                 t, df, p, p < ALPHA ? "significant" : "not significant", ALPHA);
    }
    pg_checks_add(c, "reproduce.verdict", PG_CHECK_FAIL,
                  "not reproduced: the re-runs differ from the claims by %+.6f nats (%+.6f BPB) "
                  "on the mean over %zu seeds, %s the %.3f-nat threshold; %s",
                  dl, db, both, fabs(dl) < THRESHOLD_NATS ? "within" : "beyond", THRESHOLD_NATS,
                  test);
}
