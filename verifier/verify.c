#include "verifier/verify.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/fileio.h"

#define CLAIM_TOL 1e-4 /* claims are often rounded to 4-5 decimals */

const char *pg_check_status_name(pg_check_status s)
{
    return s == PG_CHECK_PASS ? "PASS" : s == PG_CHECK_FAIL ? "FAIL" : "UNKNOWN";
}

void pg_checks_add(pg_checks *c, const char *name, pg_check_status s, const char *fmt, ...)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 32;
        pg_check *g = realloc(c->v, cap * sizeof *g);
        if (!g) {
            c->out_of_memory = 1;
            return;
        }
        c->v = g;
        c->cap = cap;
    }
    pg_check *k = &c->v[c->n++];
    snprintf(k->name, sizeof k->name, "%s", name);
    k->status = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->evidence, sizeof k->evidence, fmt, ap);
    va_end(ap);
}

void pg_checks_free(pg_checks *c)
{
    free(c->v);
    memset(c, 0, sizeof *c);
}

size_t pg_checks_count(const pg_checks *c, pg_check_status s)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        n += c->v[i].status == s;
    return n;
}

static int file_exists(const char *dir, const char *name)
{
    char *p = pg_path_join(dir, name);
    struct stat st;
    int ok = p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return ok;
}

/* The record track is held to the limits; others (non_record_*) are informational. */
static int is_record_track(const pg_record *r)
{
    return strstr(r->track, "non_record") == NULL;
}

static pg_check_status breach(const pg_record *r)
{
    return is_record_track(r) ? PG_CHECK_FAIL : PG_CHECK_UNKNOWN;
}

static void check_files(const pg_record *r, pg_checks *c)
{
    pg_checks_add(c, "files.readme", file_exists(r->dir, "README.md") ? PG_CHECK_PASS : PG_CHECK_FAIL,
                  "%s/README.md %s", r->dir, file_exists(r->dir, "README.md") ? "present" : "missing");
    if (r->submission)
        pg_checks_add(c, "files.submission_json", PG_CHECK_PASS, "%s/submission.json parses",
                      r->dir);
    else
        pg_checks_add(c, "files.submission_json", PG_CHECK_FAIL, "%s", r->submission_problem);
    if (file_exists(r->dir, "train_gpt.py"))
        pg_checks_add(c, "files.code", PG_CHECK_PASS, "%s/train_gpt.py present", r->dir);
    else
        pg_checks_add(c, "files.code", PG_CHECK_UNKNOWN,
                      "%s/train_gpt.py not in this copy of the folder (code size unverifiable)",
                      r->dir);
    if (r->nlogs == 0)
        pg_checks_add(c, "files.logs", PG_CHECK_FAIL, "%s: no readable run log (*.log, *.txt)",
                      r->dir);
    else
        pg_checks_add(c, "files.logs", PG_CHECK_PASS, "%zu log(s), e.g. %s", r->nlogs,
                      r->logs[0].path);
    for (size_t i = 0; i < r->nlog_problems; i++)
        pg_checks_add(c, "logs.parse", PG_CHECK_FAIL, "%s", r->log_problems[i]);
}

static void check_keys(const pg_record *r, pg_checks *c)
{
    if (!r->submission)
        return;
    static const char *required[] = {"name", "author", "date", "val_bpb"};
    static const char *recommended[] = {"val_loss", "bytes_total", "bytes_code", "github_id",
                                        "blurb"};
    char missing[300] = "";
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (!json_object_get(r->submission, required[i]))
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " %s",
                     required[i]);
    pg_checks_add(c, "submission.required_keys", missing[0] ? PG_CHECK_FAIL : PG_CHECK_PASS,
                  "%s/submission.json: %s%s", r->dir, missing[0] ? "missing" : "has name, author, date, val_bpb",
                  missing);
    if (json_object_get(r->submission, "val_bpb") && !json_is_number(json_object_get(r->submission, "val_bpb")))
        pg_checks_add(c, "submission.val_bpb_type", PG_CHECK_FAIL,
                      "%s/submission.json: val_bpb is not a number", r->dir);
    missing[0] = '\0';
    for (size_t i = 0; i < sizeof recommended / sizeof *recommended; i++)
        if (!json_object_get(r->submission, recommended[i]))
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " %s",
                     recommended[i]);
    pg_checks_add(c, "submission.recommended_keys", missing[0] ? PG_CHECK_UNKNOWN : PG_CHECK_PASS,
                  "%s/submission.json: %s%s", r->dir, missing[0] ? "not stated:" : "all present",
                  missing);
}

static void check_seeds(const pg_record *r, pg_checks *c)
{
    for (size_t i = 0; i < r->nlogs; i++) {
        const pg_log_summary *l = &r->logs[i];
        char name[96];
        const char *base = strrchr(l->path, '/');
        base = base ? base + 1 : l->path;
        snprintf(name, sizeof name, "log.%.70s.final_score", base);
        if (l->val_bpb.line)
            pg_checks_add(c, name, PG_CHECK_PASS, "%s:%d: %s val_loss %.8f val_bpb %.8f", l->path,
                          l->val_bpb.line, l->final_tag, l->val_loss.value, l->val_bpb.value);
        else
            pg_checks_add(c, name, PG_CHECK_FAIL, "%s: no final val_loss/val_bpb line", l->path);
        if (l->nan_line) {
            snprintf(name, sizeof name, "log.%.70s.finite_losses", base);
            pg_checks_add(c, name, PG_CHECK_FAIL, "%s:%d: non-finite loss", l->path, l->nan_line);
        }
    }
}

static double mean_of(const pg_record *r, int loss)
{
    double s = 0;
    for (size_t i = 0; i < r->nseeds; i++)
        s += loss ? r->seeds[i].val_loss : r->seeds[i].val_bpb;
    return s / (double)r->nseeds;
}

static void check_claim(const pg_record *r, pg_checks *c, int loss)
{
    double claim = loss ? r->claimed_loss : r->claimed_bpb;
    const char *key = loss ? "val_loss" : "val_bpb";
    char name[64];
    snprintf(name, sizeof name, "claim.%s", key);
    if (!isfinite(claim) || r->nseeds == 0 || !r->seeds_from_logs)
        return;
    if (loss)
        for (size_t i = 0; i < r->nseeds; i++)
            if (!r->seeds[i].has_loss)
                return;
    double mean = mean_of(r, loss);
    if (fabs(claim - mean) <= CLAIM_TOL) {
        pg_checks_add(c, name, PG_CHECK_PASS, "%s/submission.json %s %.8f = mean of %zu log(s) %.8f",
                      r->dir, key, claim, r->nseeds, mean);
        return;
    }
    for (size_t i = 0; i < r->nseeds; i++) {
        double v = loss ? r->seeds[i].val_loss : r->seeds[i].val_bpb;
        if (fabs(claim - v) <= CLAIM_TOL) {
            pg_checks_add(c, name, PG_CHECK_UNKNOWN,
                          "%s %.8f is one run's score (%s), not the mean %.8f of %zu runs",
                          key, claim, r->seeds[i].source, mean, r->nseeds);
            return;
        }
    }
    pg_checks_add(c, name, breach(r),
                  "%s/submission.json %s %.8f is not supported by the logs: mean %.8f over %zu "
                  "run(s), e.g. %s",
                  r->dir, key, claim, mean, r->nseeds, r->seeds[0].source);
}

static void check_seed_results(const pg_record *r, pg_checks *c)
{
    json_t *sr = r->submission ? json_object_get(r->submission, "seed_results") : NULL;
    if (!json_is_object(sr) || !r->seeds_from_logs)
        return;
    const char *key;
    json_t *v;
    json_object_foreach(sr, key, v)
    {
        char name[96];
        snprintf(name, sizeof name, "claim.seed_results.%.60s", key);
        const pg_seed_result *s = NULL;
        for (size_t i = 0; i < r->nseeds && !s; i++) {
            char k[32];
            snprintf(k, sizeof k, "%ld", r->seeds[i].seed);
            if (r->seeds[i].has_seed && strcmp(k, key) == 0)
                s = &r->seeds[i];
        }
        if (!s) {
            pg_checks_add(c, name, PG_CHECK_UNKNOWN, "seed %s has no log in %s", key, r->dir);
            continue;
        }
        char bad[400] = "";
        json_t *b = json_object_get(v, "val_bpb"), *l = json_object_get(v, "val_loss");
        json_t *ab = json_object_get(v, "artifact_bytes"), *st = json_object_get(v, "steps");
        if (json_is_number(b) && fabs(json_number_value(b) - s->val_bpb) > CLAIM_TOL)
            snprintf(bad + strlen(bad), sizeof bad - strlen(bad), " val_bpb %.6f vs log %.8f",
                     json_number_value(b), s->val_bpb);
        if (json_is_number(l) && s->has_loss && fabs(json_number_value(l) - s->val_loss) > CLAIM_TOL)
            snprintf(bad + strlen(bad), sizeof bad - strlen(bad), " val_loss %.6f vs log %.8f",
                     json_number_value(l), s->val_loss);
        if (json_is_number(ab) && s->artifact_bytes >= 0 &&
            json_number_value(ab) != s->artifact_bytes)
            snprintf(bad + strlen(bad), sizeof bad - strlen(bad), " artifact_bytes %.0f vs log %.0f",
                     json_number_value(ab), s->artifact_bytes);
        if (json_is_number(st) && s->steps >= 0 && json_number_value(st) != s->steps)
            snprintf(bad + strlen(bad), sizeof bad - strlen(bad), " steps %.0f vs log %.0f",
                     json_number_value(st), s->steps);
        if (bad[0])
            pg_checks_add(c, name, breach(r), "%s/submission.json seed %s:%s (%s)", r->dir, key,
                          bad, s->source);
        else
            pg_checks_add(c, name, PG_CHECK_PASS, "seed %s matches %s", key, s->source);
    }
}

static void check_std(const pg_record *r, pg_checks *c)
{
    json_t *sd = r->submission ? json_object_get(r->submission, "val_bpb_std") : NULL;
    if (!json_is_number(sd) || r->nseeds < 2 || !r->seeds_from_logs)
        return;
    double mean = mean_of(r, 0), ss = 0, claim = json_number_value(sd);
    for (size_t i = 0; i < r->nseeds; i++)
        ss += (r->seeds[i].val_bpb - mean) * (r->seeds[i].val_bpb - mean);
    double sample = sqrt(ss / (double)(r->nseeds - 1)), pop = sqrt(ss / (double)r->nseeds);
    double tol_s = fmax(5e-5, 0.1 * sample), tol_p = fmax(5e-5, 0.1 * pop);
    int ok = fabs(claim - sample) <= tol_s || fabs(claim - pop) <= tol_p;
    pg_checks_add(c, "claim.val_bpb_std", ok ? PG_CHECK_PASS : breach(r),
                  "claimed %.5f; logs give %.6f (sample, n-1) / %.6f (population, n)", claim,
                  sample, pop);
}

static void check_limits(const pg_record *r, pg_checks *c)
{
    /* artifact bytes per seed, and the claimed total */
    double worst = -1;
    const char *src = NULL;
    for (size_t i = 0; i < r->nseeds; i++)
        if (r->seeds[i].artifact_bytes > worst) {
            worst = r->seeds[i].artifact_bytes;
            src = r->seeds[i].source;
        }
    if (worst >= 0)
        pg_checks_add(c, "limits.artifact_bytes", worst <= PG_BYTE_CAP ? PG_CHECK_PASS : breach(r),
                      "largest artifact %.0f bytes (%s); cap 16,000,000", worst, src);
    else
        pg_checks_add(c, "limits.artifact_bytes", PG_CHECK_UNKNOWN,
                      "no 'Total submission size' line in the logs");
    json_t *bt = r->submission ? json_object_get(r->submission, "bytes_total") : NULL;
    if (json_is_number(bt)) {
        double claim = json_number_value(bt);
        pg_checks_add(c, "limits.bytes_total_claim", claim <= PG_BYTE_CAP ? PG_CHECK_PASS : breach(r),
                      "submission.json bytes_total %.0f; cap 16,000,000", claim);
        if (worst >= 0) {
            double sum = 0;
            int match = 0;
            for (size_t i = 0; i < r->nseeds; i++) {
                sum += r->seeds[i].artifact_bytes;
                match |= r->seeds[i].artifact_bytes == claim;
            }
            match |= fabs(sum / (double)r->nseeds - claim) <= 1.0;
            pg_checks_add(c, "claim.bytes_total", match ? PG_CHECK_PASS : breach(r),
                          "bytes_total %.0f %s the logged artifact sizes (largest %.0f, %s)", claim,
                          match ? "matches one of, or the mean of," : "matches none of", worst, src);
        }
    }
    /* training time: the reference checks the cap after each step, so a run stopped by
     * the cap ends a little past 600 s (its last step and the bookkeeping after it);
     * allow two average steps plus 100 ms for that */
    for (size_t i = 0; i < r->nlogs; i++) {
        const pg_log_summary *l = &r->logs[i];
        const char *base = strrchr(l->path, '/');
        base = base ? base + 1 : l->path;
        char name[96];
        snprintf(name, sizeof name, "limits.train_time.%.70s", base);
        if (!l->train_ms.line) {
            pg_checks_add(c, name, PG_CHECK_UNKNOWN, "%s: no train_time logged", l->path);
        } else {
            double last_step = l->step_avg_ms.line ? l->step_avg_ms.value : 0;
            int ok = l->train_ms.value <= PG_TRAIN_CAP_MS ||
                     (l->stopped_early &&
                      l->train_ms.value - 2 * last_step - 100 <= PG_TRAIN_CAP_MS);
            pg_checks_add(c, name, ok ? PG_CHECK_PASS : breach(r),
                          "%s:%d: train_time %.0f ms%s; cap 600 s", l->path, l->train_ms.line,
                          l->train_ms.value,
                          ok && l->train_ms.value > PG_TRAIN_CAP_MS
                              ? " (stopped at the cap; the last step crossed it)"
                              : "");
        }
        snprintf(name, sizeof name, "limits.eval_time.%.70s", base);
        if (l->total_eval_time_s.line)
            pg_checks_add(c, name, l->total_eval_time_s.value <= PG_EVAL_CAP_S ? PG_CHECK_PASS : breach(r),
                          "%s:%d: total_eval_time %.1f s; cap 600 s", l->path,
                          l->total_eval_time_s.line, l->total_eval_time_s.value);
        else if (l->eval_lines > 0 && l->eval_lines_timed == l->eval_lines)
            pg_checks_add(c, name, l->eval_time_sum_s <= PG_EVAL_CAP_S ? PG_CHECK_PASS : breach(r),
                          "%s: %d eval stages take %.1f s in all; cap 600 s", l->path,
                          l->eval_lines, l->eval_time_sum_s);
        else if (l->eval_time_sum_s > PG_EVAL_CAP_S)
            pg_checks_add(c, name, breach(r), "%s: timed eval stages alone take %.1f s", l->path,
                          l->eval_time_sum_s);
        else
            pg_checks_add(c, name, PG_CHECK_UNKNOWN,
                          "%s: %d of %d eval stages timed (%.1f s); the total is not logged",
                          l->path, l->eval_lines_timed, l->eval_lines, l->eval_time_sum_s);
    }
}

int pg_verify_record(const char *dir, pg_record *rec, pg_checks *c)
{
    memset(c, 0, sizeof *c);
    if (pg_record_load(dir, rec) != 0)
        return -1;
    check_files(rec, c);
    check_keys(rec, c);
    check_seeds(rec, c);
    check_claim(rec, c, 0);
    check_claim(rec, c, 1);
    check_seed_results(rec, c);
    check_std(rec, c);
    check_limits(rec, c);
    if (c->out_of_memory)
        return pg_fail("%s: out of memory for the audit's findings", dir);
    return 0;
}

/* Numbers taken from files, for the report: null when not finite; for a field where a
 * negative value means unknown, null then too, and a count is an integer while it fits. */
static json_t *real_json(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *known_json(double v, int count)
{
    if (!(v >= 0))
        return json_null();
    return count && v < 0x1p63 ? json_integer((json_int_t)v) : real_json(v);
}

json_t *pg_verify_json(const pg_record *r, const pg_checks *c)
{
    json_t *seeds = json_array(), *checks = json_array();
    for (size_t i = 0; i < r->nseeds; i++) {
        const pg_seed_result *s = &r->seeds[i];
        json_array_append_new(
            seeds, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s}", "seed",
                             s->has_seed ? json_integer(s->seed) : json_null(), "val_loss",
                             s->has_loss ? real_json(s->val_loss) : json_null(), "val_bpb",
                             real_json(s->val_bpb), "artifact_bytes",
                             known_json(s->artifact_bytes, 1), "train_ms",
                             known_json(s->train_ms, 0), "steps", known_json(s->steps, 1),
                             "eval_s", known_json(s->eval_s, 0),
                             "source", s->source));
    }
    for (size_t i = 0; i < c->n; i++)
        json_array_append_new(checks, json_pack("{s:s, s:s, s:s}", "name", c->v[i].name, "status",
                                                pg_check_status_name(c->v[i].status), "evidence",
                                                c->v[i].evidence));
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:{s:I, s:I, s:I}}", "record", r->name,
                     "dir", r->dir, "track", r->track, "seeds_source",
                     r->seeds_from_logs ? "logs" : "submission.json", "seeds", seeds, "checks",
                     checks, "summary", "pass", (json_int_t)pg_checks_count(c, PG_CHECK_PASS),
                     "fail", (json_int_t)pg_checks_count(c, PG_CHECK_FAIL), "unknown",
                     (json_int_t)pg_checks_count(c, PG_CHECK_UNKNOWN));
}
