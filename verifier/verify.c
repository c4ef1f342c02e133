#include "verifier/verify.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/fileio.h"


const char *pg_check_status_name(pg_check_status s)
{
    return s == PG_CHECK_PASS ? "PASS" : s == PG_CHECK_FAIL ? "FAIL" : s == PG_CHECK_NOTE ? "NOTE" : "UNKNOWN";
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

/* The 16 MB cap binds every *_16mb track (and the record track). */
static int has_byte_cap(const pg_record *r)
{
    char t[128];
    pg_track_norm(r, t, sizeof t);
    return pg_is_record_track(r) || strstr(t, "16mb") != NULL;
}

static pg_check_status breach(const pg_record *r)
{
    return pg_is_record_track(r) ? PG_CHECK_FAIL : PG_CHECK_NOTE;
}

static const char *base_of(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

static void check_files(const pg_record *r, pg_checks *c)
{
    int readme = file_exists(r->dir, "README.md");
    pg_checks_add(c, "files.readme", readme ? PG_CHECK_PASS : PG_CHECK_FAIL, "%s/README.md %s",
                  r->dir, readme ? "present" : "missing");
    if (r->submission)
        pg_checks_add(c, "files.submission_json", PG_CHECK_PASS, "%s parses", r->submission_path);
    else
        pg_checks_add(c, "files.submission_json", PG_CHECK_FAIL, "%s", r->submission_problem);
    if (file_exists(r->dir, "train_gpt.py"))
        pg_checks_add(c, "files.code", PG_CHECK_PASS, "%s/train_gpt.py present", r->dir);
    else
        pg_checks_add(c, "files.code", PG_CHECK_NOTE,
                      "%s/train_gpt.py not in this copy of the folder (code size unverifiable)",
                      r->dir);
    size_t scored = 0;
    for (size_t i = 0; i < r->nlogs; i++)
        scored += r->logs[i].nevals > 0;
    if (scored == 0)
        pg_checks_add(c, "files.logs", PG_CHECK_FAIL,
                      "%s: no run log (*.log, *.txt, also in subfolders) with a final val_bpb",
                      r->dir);
    else
        pg_checks_add(c, "files.logs", PG_CHECK_PASS, "%zu log(s), %zu with a final score, e.g. %s",
                      r->nlogs, scored, r->logs[0].path);
    for (size_t i = 0; i < r->nlog_problems; i++)
        pg_checks_add(c, "logs.not_a_log", PG_CHECK_NOTE, "%s", r->log_problems[i]);
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
                  "%s: %s%s", r->submission_path,
                  missing[0] ? "missing" : "has name, author, date, val_bpb", missing);
    if (json_object_get(r->submission, "val_bpb") &&
        !json_is_number(json_object_get(r->submission, "val_bpb")))
        pg_checks_add(c, "submission.val_bpb_type", PG_CHECK_FAIL, "%s: val_bpb is not a number",
                      r->submission_path);
    missing[0] = '\0';
    for (size_t i = 0; i < sizeof recommended / sizeof *recommended; i++)
        if (!json_object_get(r->submission, recommended[i]))
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " %s",
                     recommended[i]);
    pg_checks_add(c, "submission.recommended_keys", missing[0] ? PG_CHECK_NOTE : PG_CHECK_PASS,
                  "%s: %s%s", r->submission_path, missing[0] ? "not stated:" : "all present",
                  missing);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Why a submission.json number is impossible for its key, or NULL. */
static const char *impossible(const char *key, double v)
{
    if (!isfinite(v))
        return "not finite";
    /* differences are signed: a gain, delta, change or improvement may be negative */
    static const char *const signed_words[] = {"delta", "gain", "diff", "change", "improvement"};
    for (size_t i = 0; i < sizeof signed_words / sizeof *signed_words; i++)
        if (strstr(key, signed_words[i]))
            return NULL;
    if (strstr(key, "std"))
        return v >= 0 ? NULL : "a standard deviation below 0";
    if (strstr(key, "bpb"))
        return v > 0 && v <= 10 ? NULL : "bits per byte outside (0, 10]";
    if (strstr(key, "loss"))
        return v > 0 ? NULL : "a cross-entropy not above 0";
    if (strstr(key, "bytes") || strstr(key, "time") || strstr(key, "seconds") ||
        strstr(key, "step") || ends_with(key, "_ms") || ends_with(key, "_s"))
        return v >= 0 ? NULL : "a negative count";
    return NULL;
}

/* Every number under o (its path in `at`): impossible ones appended to bad. */
static size_t scan_values(json_t *o, const char *at, const char *key, char *bad, size_t n)
{
    size_t count = 0;
    if (json_is_number(o)) {
        const char *why = impossible(key, json_number_value(o));
        if (why && strlen(bad) + 120 < n)
            snprintf(bad + strlen(bad), n - strlen(bad), " %.60s=%g (%s);", at,
                     json_number_value(o), why);
        return 1;
    }
    char sub[160];
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(o))
        json_object_foreach(o, k, v) {
            snprintf(sub, sizeof sub, "%s%s%s", at, at[0] ? "." : "", k);
            count += scan_values(v, sub, k, bad, n);
        }
    if (json_is_array(o))
        json_array_foreach(o, i, v) {
            snprintf(sub, sizeof sub, "%s[%zu]", at, i);
            count += scan_values(v, sub, key, bad, n);
        }
    return count;
}

/* Negative sizes and times, scores outside (0, 10], negative std: impossible, never a PASS. */
static void check_values(const pg_record *r, pg_checks *c)
{
    if (!r->submission)
        return;
    char bad[600] = "";
    size_t n = scan_values(r->submission, "", "", bad, sizeof bad);
    if (bad[0])
        pg_checks_add(c, "submission.values", PG_CHECK_FAIL, "%s: impossible values:%s",
                      r->submission_path, bad);
    else
        pg_checks_add(c, "submission.values", PG_CHECK_PASS, "%s: %zu numbers, each in range",
                      r->submission_path, n);
}

static const pg_log_eval *ref_eval(const pg_record *r, pg_eval_ref x)
{
    return &r->logs[x.log].evals[x.eval];
}

/* "TAG VALUE at FILE:LINE" for one evaluation. */
static void describe(const pg_record *r, pg_eval_ref x, int loss, char *out, size_t n)
{
    const pg_log_eval *e = ref_eval(r, x);
    snprintf(out, n, "%s %.8g at %s:%d", e->tag, loss ? e->val_loss : e->val_bpb,
             r->logs[x.log].path, e->line);
}

/* Whether any run is behind a claim; without any matched claim every run counts. */
static int any_claimed(const pg_record *r)
{
    for (size_t i = 0; i < r->nlogs; i++)
        if (r->log_claimed[i])
            return 1;
    return 0;
}

static int counts(const pg_record *r, size_t i)
{
    return r->log_claimed[i] || !any_claimed(r);
}

static size_t seed_groups(const pg_record *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nlogs; i++) {
        if (!r->logs[i].nevals)
            continue;
        size_t j = 0;
        for (; j < i; j++)
            if (r->logs[j].nevals && r->logs[j].seed.line && r->logs[i].seed.line &&
                r->logs[j].seed.value == r->logs[i].seed.value)
                break;
        n += j == i;
    }
    return n;
}

/* Every seed submission.json claims has its log (and it claims at least one). */
static int all_seeds_logged(const pg_record *r)
{
    size_t seeds = 0;
    for (size_t i = 0; i < r->nseed_claims; i++) {
        if (strncmp(r->seed_claims[i].name, "seed_results.", 13) != 0)
            continue;
        if (r->seed_claims[i].how == PG_SEED_NOT_LOGGED)
            return 0;
        seeds++;
    }
    return seeds > 0;
}

static void check_claim(const pg_record *r, pg_checks *c, int loss)
{
    const pg_claim_match *m = loss ? &r->loss_match : &r->bpb_match;
    const char *key = loss ? "val_loss" : "val_bpb";
    char name[64], ev[900] = "", one[700];
    snprintf(name, sizeof name, "claim.%s", key);
    if (!isfinite(m->claim) || m->best.log < 0)
        return;
    for (size_t i = 0; i < m->nrefs && strlen(ev) + 200 < sizeof ev; i++) {
        describe(r, m->refs[i], loss, one, sizeof one);
        snprintf(ev + strlen(ev), sizeof ev - strlen(ev), "%s%s", i ? "; " : "", one);
    }
    describe(r, m->best, loss, one, sizeof one);
    size_t groups = seed_groups(r);
    if (m->kind == PG_CLAIM_MEAN)
        pg_checks_add(c, name, PG_CHECK_PASS, "%s %.8g = mean %.8g of %zu runs: %s", key,
                      m->claim, m->value, m->nrefs, ev);
    else if (m->kind == PG_CLAIM_ONE_RUN && groups < 2)
        pg_checks_add(c, name, PG_CHECK_PASS, "%s %.8g = %s", key, m->claim, ev);
    else if (m->kind == PG_CLAIM_ONE_RUN)
        pg_checks_add(c, name, PG_CHECK_NOTE,
                      "%s %.8g is one run's score (%s), not a mean over the %zu seeds logged", key,
                      m->claim, ev, groups);
    else if (m->kind == PG_CLAIM_BETTER_THAN_ALL)
        pg_checks_add(c, name, PG_CHECK_FAIL,
                      "%s %s %.8g is contradicted: better than every final evaluation in %zu "
                      "log(s); the best is %s",
                      r->submission_path, key, m->claim, r->nlogs, one);
    else if (all_seeds_logged(r))
        pg_checks_add(c, name, PG_CHECK_FAIL,
                      "%s %s %.8g is supported by none of the evidence: every claimed seed has "
                      "its log, and it equals no final evaluation and no mean over them; the "
                      "best is %s",
                      r->submission_path, key, m->claim, one);
    else
        pg_checks_add(c, name, PG_CHECK_UNKNOWN,
                      "%s %s %.8g equals no final evaluation and no per-seed mean; the best is %s",
                      r->submission_path, key, m->claim, one);
}

/* submission.json per-seed bytes/steps against the run the seed's score came from. */
static void seed_extras(const pg_log_summary *l, json_t *v, char *bad, size_t n)
{
    json_t *ab = json_object_get(v, "artifact_bytes"), *st = json_object_get(v, "steps");
    if (json_is_number(ab) && l->artifact_bytes.line &&
        json_number_value(ab) != l->artifact_bytes.value &&
        json_number_value(ab) != l->model_bytes.value)
        snprintf(bad + strlen(bad), n - strlen(bad), " artifact_bytes %.0f vs %.0f at %s:%d",
                 json_number_value(ab), l->artifact_bytes.value, l->path, l->artifact_bytes.line);
    if (json_is_number(st) && l->steps.line && json_number_value(st) != l->steps.value)
        snprintf(bad + strlen(bad), n - strlen(bad), " steps %.0f vs %.0f at %s:%d",
                 json_number_value(st), l->steps.value, l->path, l->steps.line);
}

static json_t *seed_entry(const pg_record *r, const pg_seed_claim *s)
{
    char path[96];
    snprintf(path, sizeof path, "%s", s->name);
    json_t *o = r->submission;
    for (char *tok = strtok(path, "."); tok && o; tok = strtok(NULL, "."))
        o = json_object_get(o, tok);
    return o;
}

static void check_seed_claim(const pg_record *r, const pg_seed_claim *s, pg_checks *c)
{
    char name[128], where[700] = "";
    snprintf(name, sizeof name, "claim.%s", s->name);
    if (s->ref.log >= 0)
        describe(r, s->ref, 0, where, sizeof where);
    const pg_log_summary *l = s->ref.log >= 0 ? &r->logs[s->ref.log] : NULL;
    if (s->how == PG_SEED_NOT_LOGGED) {
        pg_checks_add(c, name, PG_CHECK_UNKNOWN,
                      "seed %s (val_bpb %.8g) is claimed but no log has that seed or value",
                      s->key, s->bpb);
        return;
    }
    if (s->how == PG_SEED_DIFFERS) {
        pg_checks_add(c, name, s->bpb < ref_eval(r, s->ref)->val_bpb ? PG_CHECK_FAIL : PG_CHECK_UNKNOWN,
                      "seed %s claims val_bpb %.8g; its log has no such evaluation (closest: %s)",
                      s->key, s->bpb, where);
        return;
    }
    if (s->how == PG_SEED_OTHER) {
        pg_checks_add(c, name, PG_CHECK_UNKNOWN,
                      "seed %s: its val_bpb %.8g is %s, but that log says seed: %.0f (line %d)",
                      s->key, s->bpb, where, l->printed_seed.value, l->printed_seed.line);
        return;
    }
    char bad[600] = "";
    seed_extras(l, seed_entry(r, s), bad, sizeof bad);
    if (bad[0]) /* the seed's own log contradicts the claim */
        pg_checks_add(c, name, PG_CHECK_FAIL, "seed %s: val_bpb matches %s, but%s", s->key,
                      where, bad);
    else if (s->how == PG_SEED_UNPRINTED)
        pg_checks_add(c, name, PG_CHECK_NOTE,
                      "seed %s: val_bpb %.8g is %s (the log states no seed)", s->key, s->bpb,
                      where);
    else
        pg_checks_add(c, name, PG_CHECK_PASS, "seed %s: val_bpb %.8g is %s", s->key, s->bpb,
                      where);
}

static void check_std(const pg_record *r, pg_checks *c)
{
    json_t *sd = r->submission ? json_object_get(r->submission, "val_bpb_std") : NULL;
    const pg_claim_match *m = &r->bpb_match;
    if (!json_is_number(sd) || m->kind != PG_CLAIM_MEAN || m->nrefs < 2)
        return;
    double mean = m->value, ss = 0, claim = json_number_value(sd);
    for (size_t i = 0; i < m->nrefs; i++) {
        double v = ref_eval(r, m->refs[i])->val_bpb;
        ss += (v - mean) * (v - mean);
    }
    double sample = sqrt(ss / (double)(m->nrefs - 1)), pop = sqrt(ss / (double)m->nrefs);
    double tol_s = fmax(pg_claim_tol(claim, 8), 0.1 * sample);
    double tol_p = fmax(pg_claim_tol(claim, 8), 0.1 * pop);
    int ok = fabs(claim - sample) <= tol_s || fabs(claim - pop) <= tol_p;
    pg_checks_add(c, "claim.val_bpb_std", ok ? PG_CHECK_PASS : PG_CHECK_FAIL,
                  "claimed %.8g; the %zu matched runs give %.6f (sample, n-1) / %.6f "
                  "(population, n)",
                  claim, m->nrefs, sample, pop);
}

/* Runs no claim rests on, and seeds shared by several logs: reported, never dropped. */
static void check_runs(const pg_record *r, pg_checks *c)
{
    if (!any_claimed(r))
        return;
    for (size_t i = 0; i < r->nlogs; i++) {
        const pg_log_summary *l = &r->logs[i];
        char name[96];
        snprintf(name, sizeof name, "runs.unclaimed.%.70s", base_of(l->path));
        if (!r->log_claimed[i] && l->nevals)
            pg_checks_add(c, name, PG_CHECK_NOTE,
                          "%s: no claim rests on this run (seed %.0f, world_size %.0f, last "
                          "evaluation %s %.8g at line %d)",
                          l->path, l->seed.value, l->world_size.value,
                          l->evals[l->nevals - 1].tag, l->evals[l->nevals - 1].val_bpb,
                          l->evals[l->nevals - 1].line);
        if (!l->seed.line)
            continue;
        char also[400] = "";
        size_t j = 0;
        for (; j < i; j++)
            if (r->logs[j].seed.line && r->logs[j].seed.value == l->seed.value)
                break;
        if (j < i)
            continue;
        for (size_t k = i + 1; k < r->nlogs; k++)
            if (r->logs[k].seed.line && r->logs[k].seed.value == l->seed.value)
                snprintf(also + strlen(also), sizeof also - strlen(also), " %.80s",
                         base_of(r->logs[k].path));
        snprintf(name, sizeof name, "runs.shared_seed.%.0f", l->seed.value);
        if (also[0])
            pg_checks_add(c, name, PG_CHECK_NOTE, "seed %.0f is in %s and%s", l->seed.value,
                          base_of(l->path), also);
    }
}

/* The first final evaluation whose loss or score is NaN or infinite, or NULL. */
static const pg_log_eval *non_finite_eval(const pg_log_summary *l)
{
    for (int e = 0; e < l->nevals; e++)
        if (!isfinite(l->evals[e].val_loss) || !isfinite(l->evals[e].val_bpb))
            return &l->evals[e];
    return NULL;
}

static void check_per_log(const pg_record *r, pg_checks *c)
{
    for (size_t i = 0; i < r->nlogs; i++) {
        const pg_log_summary *l = &r->logs[i];
        char name[96];
        snprintf(name, sizeof name, "log.%.70s.final_score", base_of(l->path));
        const pg_log_eval *bad = non_finite_eval(l);
        if (bad)
            pg_checks_add(c, name, counts(r, i) ? PG_CHECK_FAIL : PG_CHECK_NOTE,
                          "%s:%d: final evaluation %s has val_loss %g val_bpb %g", l->path,
                          bad->line, bad->tag, bad->val_loss, bad->val_bpb);
        else if (l->nevals)
            pg_checks_add(c, name, PG_CHECK_PASS, "%s: %d final evaluation(s), last %s at line %d",
                          l->path, l->nevals, l->evals[l->nevals - 1].tag,
                          l->evals[l->nevals - 1].line);
        else
            pg_checks_add(c, name, PG_CHECK_NOTE, "%s: no final val_loss/val_bpb line", l->path);
        if (l->nan_line) {
            snprintf(name, sizeof name, "log.%.70s.finite_losses", base_of(l->path));
            pg_checks_add(c, name, counts(r, i) ? PG_CHECK_FAIL : PG_CHECK_NOTE,
                          "%s:%d: non-finite loss", l->path, l->nan_line);
        }
    }
}

static void check_bytes(const pg_record *r, pg_checks *c)
{
    char missing[400] = "";
    for (size_t i = 0; i < r->nlogs; i++) {
        const pg_log_summary *l = &r->logs[i];
        if (!counts(r, i) || !l->nevals)
            continue;
        char name[96];
        snprintf(name, sizeof name, "limits.artifact_bytes.%.70s", base_of(l->path));
        if (!l->artifact_bytes.line)
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " %.80s",
                     base_of(l->path));
        else
            pg_checks_add(c, name,
                          l->artifact_bytes.value <= PG_BYTE_CAP ? PG_CHECK_PASS
                          : has_byte_cap(r)                      ? PG_CHECK_FAIL
                                                                 : PG_CHECK_NOTE,
                          "%s:%d: artifact %.0f bytes; cap 16,000,000", l->path,
                          l->artifact_bytes.line, l->artifact_bytes.value);
    }
    if (missing[0])
        pg_checks_add(c, "limits.artifact_bytes", PG_CHECK_UNKNOWN,
                      "no submission size line (Total submission size, budget:N/16000000) in:%s",
                      missing);
    json_t *bt = r->submission ? json_object_get(r->submission, "bytes_total") : NULL;
    if (!json_is_number(bt) || !(json_number_value(bt) >= 0))
        return; /* an impossible value is submission.values' FAIL */
    double claim = json_number_value(bt), code = -1;
    json_t *bc = json_object_get(r->submission, "bytes_code");
    if (json_is_number(bc))
        code = json_number_value(bc);
    pg_checks_add(c, "limits.bytes_total_claim",
                  claim <= PG_BYTE_CAP ? PG_CHECK_PASS : has_byte_cap(r) ? PG_CHECK_FAIL : PG_CHECK_NOTE,
                  "%s bytes_total %.0f; cap 16,000,000", r->submission_path, claim);
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < r->nlogs; i++) {
        const pg_log_summary *l = &r->logs[i];
        if (!l->artifact_bytes.line)
            continue;
        if (counts(r, i)) {
            sum += l->artifact_bytes.value;
            n++;
        }
        if (claim == l->artifact_bytes.value ||
            (code >= 0 && l->model_bytes.line && claim == l->model_bytes.value + code)) {
            pg_checks_add(c, "claim.bytes_total", PG_CHECK_PASS,
                          "bytes_total %.0f = %s at %s:%d", claim,
                          claim == l->artifact_bytes.value ? "the logged total"
                                                           : "logged model bytes + bytes_code",
                          l->path, claim == l->artifact_bytes.value ? l->artifact_bytes.line
                                                                    : l->model_bytes.line);
            return;
        }
    }
    if (n && fabs(sum / (double)n - claim) <= 1.0)
        pg_checks_add(c, "claim.bytes_total", PG_CHECK_PASS,
                      "bytes_total %.0f = mean of %zu logged totals", claim, n);
    else if (n)
        pg_checks_add(c, "claim.bytes_total", PG_CHECK_UNKNOWN,
                      "bytes_total %.0f matches no logged total, no model bytes + bytes_code "
                      "and not the mean of the claimed runs' totals",
                      claim);
}

static void check_train_time(const pg_record *r, const pg_log_summary *l, pg_checks *c)
{
    char name[96];
    snprintf(name, sizeof name, "limits.train_time.%.70s", base_of(l->path));
    if (!l->train_ms.line) {
        pg_checks_add(c, name, pg_is_record_track(r) ? PG_CHECK_UNKNOWN : PG_CHECK_NOTE,
                      "%s: no train_time logged", l->path);
        return;
    }
    /* the reference checks the cap after each step, so a run stopped by the cap ends a
     * little past 600 s; allow two average steps plus 100 ms for that */
    double last_step = l->step_avg_ms.line ? l->step_avg_ms.value : 0;
    int ok = l->train_ms.value <= PG_TRAIN_CAP_MS ||
             (l->stopped_early && l->train_ms.value - 2 * last_step - 100 <= PG_TRAIN_CAP_MS);
    pg_checks_add(c, name, ok ? PG_CHECK_PASS : breach(r), "%s:%d: train_time %.0f ms%s; cap 600 s%s",
                  l->path, l->train_ms.line, l->train_ms.value,
                  ok && l->train_ms.value > PG_TRAIN_CAP_MS
                      ? " (stopped at the cap; the last step crossed it)"
                      : "",
                  pg_is_record_track(r) ? "" : " (not binding on this track)");
}

/* A FORCE_STOP_STEP setting ends training at a step instead of the wall clock: past
 * 600 s that is training after the cap. */
static void check_forced_stop(const pg_record *r, const pg_log_summary *l, pg_checks *c)
{
    if (!l->force_stop_step.line || !(l->force_stop_step.value > 0))
        return;
    char name[96];
    snprintf(name, sizeof name, "limits.forced_stop.%.70s", base_of(l->path));
    int past = l->train_ms.line && l->train_ms.value > PG_TRAIN_CAP_MS;
    pg_checks_add(c, name, past ? breach(r) : PG_CHECK_NOTE,
                  "%s:%d: FORCE_STOP_STEP=%.0f ends training at a set step, not at the 600 s "
                  "wall clock; %s",
                  l->path, l->force_stop_step.line, l->force_stop_step.value,
                  !l->train_ms.line ? "no train_time logged"
                  : past            ? "training ran past 600 s"
                                    : "training ended within 600 s");
}

/* GPTQ calibration logged after the wall-clock stop: its time counts against the cap
 * (reviewers asked for it to fit inside the training budget). */
static void check_work_after_cap(const pg_record *r, const pg_log_summary *l, pg_checks *c)
{
    check_forced_stop(r, l, c);
    if (!pg_is_record_track(r) || !l->train_ms.line || (!l->calib_s.line && !l->after_stop_line))
        return;
    char name[96];
    snprintf(name, sizeof name, "limits.work_after_cap.%.70s", base_of(l->path));
    if (!l->calib_s.line) {
        pg_checks_add(c, name, PG_CHECK_UNKNOWN,
                      "%s:%d: calibration work logged after the wall-clock stop (line %d) with "
                      "no time: whether training plus calibration fit in 600 s is unknown",
                      l->path, l->after_stop_line, l->stop_line);
        return;
    }
    double total = l->train_ms.value + 1000 * l->calib_s.value;
    pg_checks_add(c, name, total <= PG_TRAIN_CAP_MS ? PG_CHECK_PASS : PG_CHECK_UNKNOWN,
                  "%s: train_time %.1f s (line %d) + calibration on training data %.1f s "
                  "(line %d) = %.1f s%s",
                  l->path, l->train_ms.value / 1000, l->train_ms.line, l->calib_s.value,
                  l->calib_s.line, total / 1000,
                  total <= PG_TRAIN_CAP_MS ? " within 600 s"
                                           : " past 600 s: reviewers have asked for the "
                                             "calibration to fit inside the training budget");
}

/* An untimed evaluation repeating the one before it ("X_exact" after "X", or the same
 * numbers) is the same stage. */
static int same_stage(const pg_log_eval *prev, const pg_log_eval *e)
{
    return strncmp(e->tag, prev->tag, strlen(prev->tag)) == 0 ||
           fabs(e->val_bpb - prev->val_bpb) <= pg_claim_tol(prev->val_bpb, e->bpb_decimals);
}

static void check_eval_time(const pg_record *r, const pg_log_summary *l, pg_checks *c)
{
    char name[96], untimed[300] = "";
    snprintf(name, sizeof name, "limits.eval_time.%.70s", base_of(l->path));
    pg_check_status over = breach(r);
    if (l->total_eval_time_s.line) {
        pg_checks_add(c, name, l->total_eval_time_s.value <= PG_EVAL_CAP_S ? PG_CHECK_PASS : over,
                      "%s:%d: total_eval_time %.1f s; cap 600 s", l->path,
                      l->total_eval_time_s.line, l->total_eval_time_s.value);
        return;
    }
    double sum = 0;
    int timed = 0;
    for (int i = 0; i < l->nevals; i++) {
        const pg_log_eval *e = &l->evals[i];
        if (e->eval_s >= 0) {
            sum += e->eval_s;
            timed++;
        } else if (!(i > 0 && same_stage(&l->evals[i - 1], e)) &&
                   strlen(untimed) + 70 < sizeof untimed) {
            snprintf(untimed + strlen(untimed), sizeof untimed - strlen(untimed), " %s (line %d)",
                     e->tag, e->line);
        }
    }
    if (sum > PG_EVAL_CAP_S)
        pg_checks_add(c, name, over, "%s: %d timed eval stages take %.1f s; cap 600 s", l->path,
                      timed, sum);
    else if (untimed[0])
        pg_checks_add(c, name, PG_CHECK_NOTE,
                      "%s: %d timed eval stages take %.1f s; untimed:%s", l->path, timed, sum,
                      untimed);
    else if (timed)
        pg_checks_add(c, name, PG_CHECK_PASS, "%s: %d eval stages take %.1f s in all; cap 600 s",
                      l->path, timed, sum);
    else
        pg_checks_add(c, name, pg_is_record_track(r) ? PG_CHECK_UNKNOWN : PG_CHECK_NOTE,
                      "%s: no eval_time logged", l->path);
}

/* The hardware submission.json states ("hardware", else "gpu"), or NULL. */
static const char *stated_hardware(const pg_record *r, const char **key)
{
    static const char *keys[] = {"hardware", "gpu"};
    for (int k = 0; k < 2 && r->submission; k++) {
        const char *hw = json_string_value(json_object_get(r->submission, keys[k]));
        if (hw) {
            *key = keys[k];
            return hw;
        }
    }
    return NULL;
}

static int is_8xh100(const char *hw)
{
    return strstr(hw, "8xH100") || strstr(hw, "8x H100") || strstr(hw, "8 x H100");
}

/* A world size other than 8 breaks the track's rule, unless the submission openly
 * states other hardware (then hardware.stated carries the finding). */
static void check_world(const pg_record *r, const pg_log_summary *l, pg_checks *c)
{
    if (!l->world_size.line)
        return;
    const char *key, *hw = stated_hardware(r, &key);
    char name[96];
    snprintf(name, sizeof name, "hardware.world_size.%.70s", base_of(l->path));
    pg_checks_add(c, name,
                  l->world_size.value == 8       ? PG_CHECK_PASS
                  : hw && !is_8xh100(hw)         ? PG_CHECK_NOTE
                                                 : breach(r),
                  "%s:%d: world_size %.0f; the track runs on 8xH100", l->path, l->world_size.line,
                  l->world_size.value);
}

/* The line of text where the number appears printed with `decimals` digits (not inside
 * a longer number), or 0. */
static int number_line(const char *text, double v, int decimals)
{
    char want[64];
    snprintf(want, sizeof want, "%.*f", decimals, v);
    size_t k = strlen(want);
    for (const char *p = strstr(text, want); p; p = strstr(p + 1, want)) {
        int before = p > text && (isdigit((unsigned char)p[-1]) || p[-1] == '.');
        if (before || isdigit((unsigned char)p[k]))
            continue;
        int line = 1;
        for (const char *q = text; q < p; q++)
            line += *q == '\n';
        return line;
    }
    return 0;
}

/* A run no claim rests on whose final score the README quotes (a per-seed table, a
 * p-value list) is evidence too: it is held to the track's limits like a claimed one. */
static void mark_readme_evidence(pg_record *r, pg_checks *c)
{
    if (!r->readme.present || !any_claimed(r))
        return; /* with no claimed run every run is held to the limits already */
    unsigned char *text;
    size_t len;
    if (pg_read_file(r->readme.path, 1 << 22, &text, &len) != 0)
        return;
    for (size_t i = 0; i < r->nlogs; i++) {
        const pg_log_summary *l = &r->logs[i];
        if (r->log_claimed[i] || !l->nevals)
            continue;
        double v = l->evals[l->nevals - 1].val_bpb;
        static const int decimals[] = {8, 6, 5, 4};
        for (size_t d = 0; d < sizeof decimals / sizeof *decimals; d++) {
            int line = number_line((const char *)text, v, decimals[d]);
            if (!line)
                continue;
            r->log_claimed[i] = 1;
            char name[96];
            snprintf(name, sizeof name, "runs.evidence.%.70s", base_of(l->path));
            pg_checks_add(c, name, PG_CHECK_NOTE,
                          "%s:%d quotes %.*f, the final score of %s (line %d, seed %.0f, "
                          "world_size %.0f): held to the track's limits as evidence",
                          r->readme.path, line, decimals[d], v, l->path,
                          l->evals[l->nevals - 1].line, l->seed.value, l->world_size.value);
            break;
        }
    }
    free(text);
}

static void check_limits(const pg_record *r, pg_checks *c)
{
    check_bytes(r, c);
    for (size_t i = 0; i < r->nlogs; i++) {
        if (!counts(r, i) || !r->logs[i].nevals)
            continue;
        check_train_time(r, &r->logs[i], c);
        check_work_after_cap(r, &r->logs[i], c);
        check_eval_time(r, &r->logs[i], c);
        check_world(r, &r->logs[i], c);
    }
}

static void check_hardware(const pg_record *r, pg_checks *c)
{
    const char *key, *hw = stated_hardware(r, &key);
    if (!hw)
        return;
    int ok = is_8xh100(hw);
    pg_checks_add(c, "hardware.stated",
                  ok ? PG_CHECK_PASS : pg_is_record_track(r) ? PG_CHECK_UNKNOWN : PG_CHECK_NOTE,
                  "%s %s: \"%s\"%s", r->submission_path, key, hw,
                  ok ? "" : "; the record track runs on 8xH100");
}

/* A vocabulary other than the 1024/8192 sp models, or a byte sidecar: the BPB byte
 * accounting is the submission's own and must be proven. */
static void check_tokenizer(const pg_record *r, pg_checks *c)
{
    for (size_t i = 0; i < r->nlogs; i++) {
        const pg_log_summary *l = &r->logs[i];
        if (!counts(r, i) || !l->nevals)
            continue;
        if (l->byte_sidecar_line) {
            pg_checks_add(c, "tokenizer.byte_accounting", PG_CHECK_UNKNOWN,
                          "%s:%d: bytes per token come from a sidecar: the BPB computation "
                          "must be proven",
                          l->path, l->byte_sidecar_line);
            return;
        }
        if (l->vocab_size.line && l->vocab_size.value != 1024 && l->vocab_size.value != 8192) {
            pg_checks_add(c, "tokenizer.byte_accounting", PG_CHECK_UNKNOWN,
                          "%s:%d: vocab %.0f is not one of the 1024/8192 sp models: the BPB "
                          "byte accounting must be proven",
                          l->path, l->vocab_size.line, l->vocab_size.value);
            return;
        }
    }
}

/* Settings that may differ between seeds: the seed, paths, data shard counts; eval-time
 * TTT settings unless the claimed evaluation is a TTT one. */
static int ignored_key(const char *k, int ttt_claimed)
{
    if (!ttt_claimed && strncmp(k, "ttt", 3) == 0)
        return 1;
    static const char *skip[] = {"seed", "path", "dir", "file", "run_id", "log", "shards",
                                 "val_tokens", "warmup_step", "s"};
    for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
        if (strcmp(k, skip[i]) == 0 || (strlen(skip[i]) > 1 && strstr(k, skip[i])))
            return 1;
    return strcmp(k, "out") == 0; /* pgolf train's output directory (its first line) */
}

/* The printed hyperparameters of the runs behind the val_bpb claim must agree. */
static void check_config(const pg_record *r, pg_checks *c)
{
    const pg_claim_match *m = &r->bpb_match;
    if (m->kind != PG_CLAIM_MEAN || m->nrefs < 2)
        return;
    const pg_log_summary *a = &r->logs[m->refs[0].log];
    int ttt = strstr(ref_eval(r, m->refs[0])->tag, "ttt") != NULL;
    char diff[600] = "";
    for (size_t k = 1; k < m->nrefs; k++) {
        const pg_log_summary *b = &r->logs[m->refs[k].log];
        for (int i = 0; i < a->nconfig; i++) {
            if (ignored_key(a->config[i].key, ttt))
                continue;
            for (int j = 0; j < b->nconfig; j++)
                if (strcmp(a->config[i].key, b->config[j].key) == 0 &&
                    strcmp(a->config[i].value, b->config[j].value) != 0 &&
                    strlen(diff) + 150 < sizeof diff)
                    snprintf(diff + strlen(diff), sizeof diff - strlen(diff),
                             " %s=%s (%.60s:%d) vs %s (%.60s:%d);", a->config[i].key,
                             a->config[i].value, base_of(a->path), a->config[i].line,
                             b->config[j].value, base_of(b->path), b->config[j].line);
        }
    }
    if (diff[0])
        pg_checks_add(c, "runs.same_config", breach(r),
                      "the claimed runs were run with different settings:%s", diff);
    else
        pg_checks_add(c, "runs.same_config", PG_CHECK_PASS,
                      "the %zu claimed runs print the same settings (seed aside)", m->nrefs);
}

size_t pg_verify_all_seed_scores(const pg_record *r, double *bpb, double *loss, size_t cap)
{
    const pg_claim_match *m = &r->bpb_match;
    if (m->kind != PG_CLAIM_MEAN || m->nrefs < 1)
        return 0;
    const char *tag = ref_eval(r, m->refs[0])->tag;
    size_t n = 0;
    double seen[PG_MAX_REFS * 4];
    for (size_t i = 0; i < r->nlogs && n < cap && n < sizeof seen / sizeof *seen; i++) {
        const pg_log_summary *l = &r->logs[i];
        const pg_log_eval *last = NULL;
        for (int e = 0; e < l->nevals; e++)
            if (strcmp(l->evals[e].tag, tag) == 0)
                last = &l->evals[e];
        if (!last || !l->seed.line)
            continue;
        size_t j = 0;
        while (j < n && seen[j] != l->seed.value)
            j++;
        if (j < n)
            continue; /* one score per seed */
        seen[n] = l->seed.value;
        bpb[n] = last->val_bpb;
        loss[n++] = last->val_loss;
    }
    return n;
}

/* A claim over a subset of the logged seeds: which ones, and the mean over all. */
static void check_seed_selection(const pg_record *r, pg_checks *c)
{
    double bpb[64], loss[64];
    size_t n = pg_verify_all_seed_scores(r, bpb, loss, 64), k = r->bpb_match.nrefs;
    if (n <= k)
        return;
    double mean = 0;
    for (size_t i = 0; i < n; i++)
        mean += bpb[i] / (double)n;
    char used[300] = "";
    for (size_t i = 0; i < k && strlen(used) + 80 < sizeof used; i++) {
        const pg_log_summary *l = &r->logs[r->bpb_match.refs[i].log];
        snprintf(used + strlen(used), sizeof used - strlen(used), "%s%.0f", i ? ", " : "",
                 l->seed.value);
    }
    pg_checks_add(c, "runs.seed_selection", PG_CHECK_NOTE,
                  "val_bpb %.8g is the mean of %zu of the %zu seeds logged (seeds %s; the "
                  "claimed evaluation %s); the mean over all %zu would be %.8g",
                  r->bpb_match.claim, k, n, used, ref_eval(r, r->bpb_match.refs[0])->tag, n,
                  mean);
}

/* Whether a README number is the json's number at the README's precision. */
static int readme_agrees(const pg_readme_number *x, double json)
{
    if (x->kind == PG_README_BYTES)
        return x->value == json;
    return fabs(x->value - json) <= pg_claim_tol(json, x->decimals);
}

/* The README's statements of one number (val_bpb, val_loss, bytes_total) against
 * submission.json's: one that agrees is enough (READMEs also quote means and other runs). */
static void check_readme_number(const pg_record *r, pg_readme_kind kind, const char *key,
                                pg_checks *c)
{
    json_t *v = r->submission ? json_object_get(r->submission, key) : NULL;
    if (!json_is_number(v))
        return;
    double json = json_number_value(v);
    char name[64], said[500] = "";
    snprintf(name, sizeof name, "readme.%s", key);
    for (size_t i = 0; i < r->readme.n; i++) {
        const pg_readme_number *x = &r->readme.v[i];
        if (x->kind != kind)
            continue;
        if (readme_agrees(x, json)) {
            pg_checks_add(c, name, PG_CHECK_PASS, "%s:%d states %s %.*f, as %s does", r->readme.path,
                          x->line, key, x->decimals, x->value, base_of(r->submission_path));
            return;
        }
        if (strlen(said) + 80 < sizeof said)
            snprintf(said + strlen(said), sizeof said - strlen(said), "%s%.*f%s at line %d",
                     said[0] ? ", " : "", x->decimals, x->value, x->mean ? " (a mean)" : "",
                     x->line);
    }
    if (said[0])
        pg_checks_add(c, name, PG_CHECK_UNKNOWN,
                      "%s states %s %s; %s says %.8g: which is claimed?", r->readme.path, key,
                      said, r->submission_path, json);
}

static void check_readme(const pg_record *r, pg_checks *c)
{
    check_readme_number(r, PG_README_BPB, "val_bpb", c);
    check_readme_number(r, PG_README_LOSS, "val_loss", c);
    check_readme_number(r, PG_README_BYTES, "bytes_total", c);
}

int pg_verify_record(const char *dir, pg_record *rec, pg_checks *c)
{
    memset(c, 0, sizeof *c);
    if (pg_record_load(dir, rec) != 0)
        return -1;
    check_files(rec, c);
    check_keys(rec, c);
    check_values(rec, c);
    check_per_log(rec, c);
    check_claim(rec, c, 0);
    check_claim(rec, c, 1);
    for (size_t i = 0; i < rec->nseed_claims; i++)
        check_seed_claim(rec, &rec->seed_claims[i], c);
    check_std(rec, c);
    check_readme(rec, c);
    mark_readme_evidence(rec, c);
    check_runs(rec, c);
    check_limits(rec, c);
    check_hardware(rec, c);
    check_tokenizer(rec, c);
    check_config(rec, c);
    check_seed_selection(rec, c);
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

json_t *pg_verify_json(const pg_record *r, const pg_checks *c, int all)
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
        if (all || c->v[i].status != PG_CHECK_NOTE)
            json_array_append_new(checks, json_pack("{s:s, s:s, s:s}", "name", c->v[i].name, "status",
                                                pg_check_status_name(c->v[i].status), "evidence",
                                                c->v[i].evidence));
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:{s:I, s:I, s:I, s:I}}", "record", r->name,
                     "dir", r->dir, "track", r->track, "seeds_source",
                     r->seeds_from_logs ? "logs" : "submission.json", "seeds", seeds, "checks",
                     checks, "summary", "pass", (json_int_t)pg_checks_count(c, PG_CHECK_PASS),
                     "fail", (json_int_t)pg_checks_count(c, PG_CHECK_FAIL), "unknown",
                     (json_int_t)pg_checks_count(c, PG_CHECK_UNKNOWN), "note",
                     (json_int_t)pg_checks_count(c, PG_CHECK_NOTE));
}
