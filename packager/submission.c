#include "packager/submission.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/chart.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/text.h"
#include "packager/ledger.h"

int pg_sub_seed_from_log(pg_sub_seed *s, pg_log_summary *log, const char *tag)
{
    s->log = log;
    if (!log->seed.line)
        return pg_fail("%s: no seed (no seed:N line, no seedN in the file name)", s->source);
    s->seed = (long)log->seed.value;
    if (log->evals_dropped)
        return pg_fail("%s: more than %d final evaluation lines; cannot tell which is the score",
                       s->source, PG_LOG_MAX_EVALS);
    int pick = -1;
    for (int e = 0; e < log->nevals; e++)
        if (!tag || strcmp(log->evals[e].tag, tag) == 0)
            pick = e;
    if (pick < 0 && !tag)
        return pg_fail("%s: no final score (no val_loss/val_bpb line after training)", s->source);
    if (pick < 0)
        return pg_fail("%s: no final evaluation tagged %s (its last is %s at line %d)", s->source,
                       tag, log->evals[log->nevals - 1].tag, log->evals[log->nevals - 1].line);
    s->score = log->evals[pick];
    if (log->model_bytes.line) {
        s->model_bytes = (long long)log->model_bytes.value;
        s->model_line = log->model_bytes.line;
    }
    return 0;
}

int pg_sub_check(const pg_sub_seed *seeds, int n, long long code_bytes, const char *track)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) {
            if (seeds[i].seed == seeds[j].seed)
                return pg_fail("%s and %s are the same seed %ld: one log per seed",
                               seeds[j].source, seeds[i].source, seeds[i].seed);
            if (strcmp(seeds[i].score.tag, seeds[j].score.tag) != 0)
                return pg_fail("%s scores %s (line %d) but %s scores %s (line %d): the seeds "
                               "must report the same evaluation (pick one with --score TAG)",
                               seeds[j].source, seeds[j].score.tag, seeds[j].score.line,
                               seeds[i].source, seeds[i].score.tag, seeds[i].score.line);
        }
    for (int i = 0; i < n && !pg_track_is_non_record(track); i++) {
        long long total = code_bytes + seeds[i].model_bytes;
        if (total > PG_SUBMISSION_CAP)
            return pg_fail("%s: seed %ld would be %lld bytes (code %lld + model %lld), over the "
                           "16,000,000-byte cap of track %s; nothing written",
                           seeds[i].source, seeds[i].seed, total, code_bytes,
                           seeds[i].model_bytes, track);
    }
    return 0;
}

/* ---- the numbers of one seed, with the line each came from */

typedef struct {
    double value; /* NAN when the log does not say */
    char cite[400]; /* "`log:12`", "`log:12+15`" */
} cited;

/* A logged number (scaled), or NAN when the log does not have it. */
static double known(pg_log_num v, double scale)
{
    return v.line ? v.value * scale : NAN;
}

static cited cite_num(const pg_sub_seed *s, pg_log_num v, double scale)
{
    cited c = {.value = known(v, scale)};
    if (v.line > 0)
        snprintf(c.cite, sizeof c.cite, "`%s:%d`", s->log_name, v.line);
    return c;
}

/* The eval time: total_eval_time if logged, else the sum of the timed final evaluations. */
static cited eval_seconds(const pg_sub_seed *s)
{
    const pg_log_summary *l = s->log;
    if (l->total_eval_time_s.line)
        return cite_num(s, l->total_eval_time_s, 1);
    cited c = {.value = NAN};
    double sum = 0;
    int timed = 0;
    size_t k = (size_t)snprintf(c.cite, sizeof c.cite, "`%s:", s->log_name);
    for (int e = 0; e < l->nevals; e++) {
        if (l->evals[e].eval_s < 0)
            continue;
        sum += l->evals[e].eval_s;
        if (k + 16 < sizeof c.cite) /* the lines cited while they fit */
            k += (size_t)snprintf(c.cite + k, sizeof c.cite - k, "%s%d", timed ? "+" : "",
                                  l->evals[e].line);
        timed++;
    }
    snprintf(c.cite + k, sizeof c.cite - k, "`");
    if (timed)
        c.value = sum;
    else
        c.cite[0] = '\0';
    return c;
}

static double round_to(double v, int decimals)
{
    double s = pow(10.0, decimals);
    return round(v * s) / s;
}

typedef struct {
    double mean_bpb, mean_loss, std_bpb, std_loss;
    long long max_total;
} summary;

static void summarize(const pg_sub_seed *seeds, int n, long long code, summary *s)
{
    double mb = 0, ml = 0, sb = 0, sl = 0;
    s->max_total = 0;
    for (int i = 0; i < n; i++) {
        mb += seeds[i].score.val_bpb / n;
        ml += seeds[i].score.val_loss / n;
        if (code + seeds[i].model_bytes > s->max_total)
            s->max_total = code + seeds[i].model_bytes;
    }
    for (int i = 0; n > 1 && i < n; i++) {
        sb += pow(seeds[i].score.val_bpb - mb, 2) / (n - 1);
        sl += pow(seeds[i].score.val_loss - ml, 2) / (n - 1);
    }
    s->mean_bpb = round_to(mb, 8), s->mean_loss = round_to(ml, 8);
    s->std_bpb = round_to(sqrt(sb), 8), s->std_loss = round_to(sqrt(sl), 8);
}

/* ---- README.md */

static void cell(pg_text *t, cited c, int decimals)
{
    if (isfinite(c.value))
        pg_text_printf(t, " %.*f (%s) |", decimals, c.value, c.cite);
    else
        pg_text_printf(t, " not logged |");
}

static void readme_results(const pg_sub_seed *seeds, int n, const summary *s, pg_text *t)
{
    pg_text_printf(t, "## Results\n\nEach number is the one the seed's log prints, at the "
                      "`file:line` beside it. The score is the `%s` evaluation.\n\n"
                      "| seed | val_loss | val_bpb | score line | steps | train time (s) | "
                      "eval time (s) |\n|---|---|---|---|---|---|---|\n",
                   seeds[0].score.tag);
    for (int i = 0; i < n; i++) {
        const pg_sub_seed *r = &seeds[i];
        const pg_log_summary *l = r->log;
        pg_text_printf(t, "| %ld | %.*f | %.*f | `%s:%d` |", r->seed, r->score.loss_decimals,
                       r->score.val_loss, r->score.bpb_decimals, r->score.val_bpb, r->log_name,
                       r->score.line);
        cell(t, cite_num(r, l->steps, 1), 0);
        cell(t, cite_num(r, l->train_ms, 1e-3), 3);
        cell(t, eval_seconds(r), 3);
        pg_text_printf(t, "\n");
    }
    pg_text_printf(t, "| **mean** | %.8f | %.8f | | | | |\n", s->mean_loss, s->mean_bpb);
    if (n > 1)
        pg_text_printf(t, "| **std** | %.8f | %.8f | | | | |\n\nstd is the sample standard "
                          "deviation (n - 1).\n",
                       s->std_loss, s->std_bpb);
    pg_text_printf(t, "\n");
}

static void readme_bytes(const pg_sub_seed *seeds, int n, const pg_sub_info *info, pg_text *t)
{
    pg_text_printf(t, "## Bytes\n\nThe counted code is the same for every seed:");
    for (int i = 0; i < info->ncode; i++)
        pg_text_printf(t, "%s `%s` (%lld bytes)", i ? " +" : "", info->code_names[i],
                       info->code_sizes[i]);
    pg_text_printf(t, " = %lld bytes.\n\n| seed | model bytes | code bytes | total bytes | "
                      "16,000,000-byte cap |\n|---|---|---|---|---|\n",
                   info->code_bytes);
    for (int i = 0; i < n; i++) {
        const pg_sub_seed *r = &seeds[i];
        long long total = info->code_bytes + r->model_bytes;
        char from[300];
        if (r->model_line)
            snprintf(from, sizeof from, "`%s:%d`", r->log_name, r->model_line);
        else
            snprintf(from, sizeof from, "the size of `%s`", r->artifact_name);
        pg_text_printf(t, "| %ld | %lld (%s) | %lld | %lld | %s %lld bytes |\n", r->seed,
                       r->model_bytes, from, info->code_bytes, total,
                       total <= PG_SUBMISSION_CAP ? "under by" : "OVER by",
                       llabs(PG_SUBMISSION_CAP - total));
    }
    pg_text_printf(t, "\n");
    int notes = 0;
    for (int i = 0; i < n; i++) {
        const pg_log_summary *l = seeds[i].log;
        if (l->code_bytes.line && (long long)l->code_bytes.value != info->code_bytes)
            pg_text_printf(t, "- `%s:%d` prints a code size of %.0f bytes, not the %lld bytes "
                              "of the code in this folder.\n",
                           seeds[i].log_name, l->code_bytes.line, l->code_bytes.value,
                           info->code_bytes),
                notes++;
    }
    if (notes)
        pg_text_printf(t, "\n");
}

static void readme_files(const pg_sub_seed *seeds, int n, const pg_sub_info *info, pg_text *t)
{
    pg_text_printf(t, "## Files\n\n- `README.md`, `submission.json`, `loss.svg`\n- logs:");
    for (int i = 0; i < n; i++)
        pg_text_printf(t, "%s `%s` (seed %ld)", i ? "," : "", seeds[i].log_name, seeds[i].seed);
    pg_text_printf(t, "\n- code:");
    for (int i = 0; i < info->ncode; i++)
        pg_text_printf(t, "%s `%s`", i ? "," : "", info->code_names[i]);
    pg_text_printf(t, "\n- models:");
    int any = 0;
    for (int i = 0; i < n; i++)
        if (seeds[i].artifact_name[0])
            pg_text_printf(t, "%s `%s` (seed %ld)", any++ ? "," : "", seeds[i].artifact_name,
                           seeds[i].seed);
    pg_text_printf(t, "%s\n", any ? "" : " not included (records folders do not carry them)");
}

static void readme_text(const pg_sub_seed *seeds, int n, const summary *s, const pg_sub_info *info,
                        int plotted, pg_text *t)
{
    pg_text_printf(t, "# %s\n\n%s\n\n", info->name, info->blurb);
    pg_text_printf(t, "**val_bpb %.8f** (mean of %d seed%s", s->mean_bpb, n, n > 1 ? "s" : "");
    if (n > 1)
        pg_text_printf(t, ", std %.8f", s->std_bpb);
    pg_text_printf(t, ") | val_loss %.8f | at most %lld bytes (code %lld + model) | track %s | "
                      "%s | by %s (@%s), %s\n\n",
                   s->mean_loss, s->max_total, info->code_bytes, info->track, info->hardware,
                   info->author, info->github_id, info->date);
    readme_results(seeds, n, s, t);
    readme_bytes(seeds, n, info, t);
    pg_text_printf(t, "## Significance\n\n%s\n\n## Reproduce\n\n%s\n\n## Loss curves\n\n",
                   info->significance ? info->significance : "No SOTA was given: no test was run.",
                   info->reproduce);
    if (plotted)
        pg_text_printf(t, "![Train and validation loss (nats) by step, every seed](loss.svg)\n\n");
    else
        pg_text_printf(t, "The logs have no step lines with a train_loss or val_loss: nothing "
                          "to plot.\n\n");
    readme_files(seeds, n, info, t);
}

/* ---- submission.json */

static int set_known(json_t *o, const char *key, double v, int decimals)
{
    if (!isfinite(v))
        return 0;
    return json_object_set_new(o, key, decimals == 0 ? json_integer((json_int_t)llround(v))
                                                     : json_real(round_to(v, decimals)));
}

static json_t *seed_result(const pg_sub_seed *r)
{
    const pg_log_summary *l = r->log;
    json_t *o = json_pack("{s:f, s:f, s:I}", "val_loss", r->score.val_loss, "val_bpb",
                          r->score.val_bpb, "artifact_bytes", (json_int_t)r->model_bytes);
    if (o && (set_known(o, "steps", known(l->steps, 1), 0) != 0 ||
              set_known(o, "step_avg_ms", known(l->step_avg_ms, 1), 2) != 0 ||
              set_known(o, "train_time_s", known(l->train_ms, 1e-3), 3) != 0 ||
              set_known(o, "eval_time_s", eval_seconds(r).value, 3) != 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *submission_json(const pg_sub_seed *seeds, int n, const summary *s,
                               const pg_sub_info *info)
{
    json_t *list = json_array(), *results = json_object();
    int ok = list && results;
    for (int i = 0; ok && i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "%ld", seeds[i].seed);
        ok = json_array_append_new(list, json_integer(seeds[i].seed)) == 0 &&
             json_object_set_new(results, key, seed_result(&seeds[i])) == 0;
    }
    json_t *o = ok ? json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:f}", "name", info->name,
                               "author", info->author, "github_id", info->github_id, "date",
                               info->date, "track", info->track, "val_loss", s->mean_loss,
                               "val_bpb", s->mean_bpb)
                   : NULL;
    ok = o && (n < 2 || json_object_set_new(o, "val_bpb_std", json_real(s->std_bpb)) == 0) &&
         json_object_set_new(o, "bytes_total", json_integer(s->max_total)) == 0 &&
         json_object_set_new(o, "bytes_code", json_integer(info->code_bytes)) == 0 &&
         json_object_set(o, "seeds", list) == 0 &&
         json_object_set(o, "seed_results", results) == 0 &&
         json_object_set_new(o, "hardware", json_string(info->hardware)) == 0 &&
         json_object_set_new(o, "blurb", json_string(info->blurb)) == 0;
    json_decref(list);
    json_decref(results);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- loss.svg: every seed's train and val curves in one chart */

/* The first steps' losses (near ln(vocab)) would flatten the rest of the curves: the y
 * axis ends at the highest loss after the first 5% of the steps, and the legend says so. */
static void clip_early_steps(pg_chart *c, char *note, size_t cap)
{
    double last = 0, top = -INFINITY, all = -INFINITY;
    for (size_t k = 0; k < c->nseries; k++)
        for (size_t i = 0; i < c->series[k].n; i++)
            last = fmax(last, c->series[k].x[i]);
    for (size_t k = 0; k < c->nseries; k++)
        for (size_t i = 0; i < c->series[k].n; i++) {
            all = fmax(all, c->series[k].y[i]);
            if (c->series[k].x[i] >= 0.05 * last)
                top = fmax(top, c->series[k].y[i]);
        }
    c->has_y_top = isfinite(top) && top < all;
    c->y_top = top;
    snprintf(note, cap, "y axis cut at %.3f nats", top);
}

static int loss_svg(const pg_sub_seed *seeds, int n, const pg_sub_info *info, pg_text *svg,
                    int *plotted)
{
    pg_log_curves *curves = calloc((size_t)n, sizeof *curves);
    pg_chart_series *series = calloc(2 * (size_t)n, sizeof *series);
    char (*labels)[48] = calloc(2 * (size_t)n, sizeof *labels);
    int rc = curves && series && labels ? 0 : pg_fail("%s: out of memory for the plot", info->name);
    size_t ns = 0, points = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = pg_log_curves_text(seeds[i].log_name, seeds[i].log_text, seeds[i].log_len, &curves[i]);
        const pg_log_series *parts[2] = {&curves[i].train, &curves[i].val};
        for (int k = 0; k < 2 && rc == 0; k++) {
            if (parts[k]->n == 0)
                continue;
            snprintf(labels[ns], sizeof labels[ns], "seed %ld %s", seeds[i].seed,
                     k ? "val_loss" : "train_loss");
            series[ns] = (pg_chart_series){.label = labels[ns], .colour = pg_chart_colour((size_t)i),
                                           .line = 1, .dashed = k, .marker = k ? 2.5 : 0,
                                           .x = parts[k]->step, .y = parts[k]->loss,
                                           .n = parts[k]->n};
            points += parts[k]->n;
            ns++;
        }
    }
    char title[300], note[96];
    snprintf(title, sizeof title, "%.200s: loss by step (solid: train, dashed: val)", info->name);
    pg_chart c = {.title = title, .x_label = "step", .y_label = "loss (nats)",
                  .series = series, .nseries = ns};
    const char *notes[2] = {note, "(earlier steps are higher)"};
    clip_early_steps(&c, note, sizeof note);
    c.notes = notes;
    c.nnotes = c.has_y_top ? 2 : 0;
    *plotted = rc == 0 && points > 0;
    if (*plotted)
        rc = pg_chart_svg(&c, svg, "loss.svg");
    else if (rc == 0) /* the file is always there; it says why it is empty */
        pg_text_printf(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" "
                            "height=\"60\"><text x=\"10\" y=\"35\">No step lines with a "
                            "train_loss or val_loss in the logs: nothing to plot.</text></svg>\n");
    for (int i = 0; curves && i < n; i++)
        pg_log_curves_free(&curves[i]);
    free(curves);
    free(series);
    free(labels);
    return rc;
}

static int write_text(const char *dir, const char *name, const pg_text *t)
{
    return t->oom ? pg_fail("%s/%s: out of memory", dir, name)
                  : pg_write_file_in(dir, name, t->s ? t->s : "", t->n);
}

int pg_submission_write(const char *dir, const pg_sub_seed *seeds, int n, const pg_sub_info *info)
{
    summary s;
    summarize(seeds, n, info->code_bytes, &s);
    pg_text js = {0}, readme = {0}, svg = {0};
    int plotted = 0;
    json_t *sub = submission_json(seeds, n, &s, info);
    char *dump = sub ? json_dumps(sub, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(sub);
    if (dump) {
        pg_text_printf(&js, "%s\n", dump);
        free(dump);
    } else {
        js.oom = 1;
    }
    int rc = loss_svg(seeds, n, info, &svg, &plotted);
    readme_text(seeds, n, &s, info, plotted, &readme);
    if (rc == 0)
        rc = write_text(dir, "submission.json", &js);
    if (rc == 0)
        rc = write_text(dir, "loss.svg", &svg);
    if (rc == 0)
        rc = write_text(dir, "README.md", &readme);
    pg_text_free(&js);
    pg_text_free(&readme);
    pg_text_free(&svg);
    return rc;
}

/* ---- where the folder goes */

int pg_track_canonical(const char *track, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = track; *p && n + 1 < cap; p++) {
        char c = (char)tolower((unsigned char)*p);
        if (!isalnum((unsigned char)c) && c != '_' && c != '-')
            return pg_fail("--track %s: a track is a plain name such as 10min_16mb or "
                           "non_record_16mb", track);
        out[n++] = c == '-' ? '_' : c;
    }
    out[n] = '\0';
    if (n == 0 || strlen(track) >= cap)
        return pg_fail("--track '%s': a track is a plain name such as 10min_16mb", track);
    if (strcmp(out, "non_record") == 0 || strcmp(out, "nonrecord") == 0)
        snprintf(out, cap, "non_record_16mb");
    return 0;
}

int pg_track_is_non_record(const char *track)
{
    return strstr(track, "non_record") != NULL || strstr(track, "non-record") != NULL;
}

static int valid_date(const char *d)
{
    int y, m, day, used = 0;
    if (strlen(d) != 10 || sscanf(d, "%4d-%2d-%2d%n", &y, &m, &day, &used) != 3 || used != 10 ||
        d[4] != '-' || d[7] != '-' || m < 1 || m > 12 || day < 1)
        return 0;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = day};
    time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    return tm.tm_mday == day; /* 2026-02-30 comes back as March */
}

/* The name as a folder name: letters, digits, '-', '.', '+'; runs of anything else '_'. */
static int folder_name(const char *name, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if (isalnum(c) || c == '-' || c == '.' || c == '+')
            out[n++] = (char)c;
        else if (n > 0 && out[n - 1] != '_')
            out[n++] = '_';
    }
    while (n > 0 && (out[n - 1] == '_' || out[n - 1] == '.'))
        n--;
    out[n] = '\0';
    return n > 0 ? 0 : pg_fail("--name '%s' has no letter or digit to name a folder with", name);
}

static int starts_with_date(const char *base)
{
    char d[11];
    if (strlen(base) < 11 || base[10] != '_')
        return 0;
    memcpy(d, base, 10);
    d[10] = '\0';
    return valid_date(d);
}

int pg_records_folder(const char *out, const char *track, const char *date, const char *name,
                      char **dir)
{
    *dir = NULL;
    if (!valid_date(date))
        return pg_fail("--date %s: not a date in the form YYYY-MM-DD", date);
    size_t ol = strlen(out);
    while (ol > 1 && out[ol - 1] == '/')
        ol--;
    const char *base = out + ol;
    while (base > out && base[-1] != '/')
        base--;
    char fname[200];
    if (starts_with_date(base))
        *dir = strndup(out, ol);
    else if (folder_name(name, fname, sizeof fname) != 0)
        return -1;
    else if ((*dir = malloc(ol + strlen(track) + strlen(fname) + 32)) != NULL)
        sprintf(*dir, "%.*s/track_%s/%s_%s", (int)ol, out, track, date, fname);
    return *dir ? 0 : pg_fail("%s: out of memory", out);
}
