/* The stats stage of `pgolf run`: per-seed scores from the eval stages, the byte ledger
 * from the records folder, the significance test against the configured SOTA, and the
 * final report (stats/report.json and stats/report.txt). */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/fileio.h"
#include "packager/ledger.h"
#include "pipeline/manifest.h"
#include "pipeline/run_stages.h"
#include "records/history.h"
#include "records/sota.h"
#include "packager/record.h"
#include "stats/judge.h"

#define REPORT_TXT "stats/report.txt"

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int pg_run_stats_inputs(pg_run_state *r, pg_stage *s, json_t *list)
{
    (void)s;
    for (int i = 0; i < r->c->nseeds; i++) {
        char rel[96];
        snprintf(rel, sizeof rel, "eval/seed%ld/eval.json", r->c->seeds[i]);
        if (pg_run_add_file(r, list, rel, -1) != 0)
            return -1;
    }
    if (pg_run_add_file(r, list, "records/train_gpt.py", -1) != 0 ||
        pg_run_add_file(r, list, "data/data.json", -1) != 0)
        return -1;
    if (!r->c->sota_record[0])
        return 0;
    char dir[PG_PATH_MAX];
    if (pg_history_current_sota(r->c->sota_record, dir, sizeof dir) != 0)
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return pg_fail("%s: cannot open the SOTA records folder", dir);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *p = pg_path_join(dir, e->d_name);
        struct stat st;
        if (p && (stat(p, &st) != 0 || !S_ISREG(st.st_mode))) {
            free(p);
            continue;
        }
        char **g = p ? realloc(names, (n + 1) * sizeof *names) : NULL;
        if (!g) {
            free(p);
            rc = pg_fail("%s: out of memory listing the SOTA records folder", dir);
            break;
        }
        names = g;
        names[n++] = p;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = pg_run_add_file(r, list, names[i], -1);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Reads the eval results into the report's seed table and arrays. */
static int collect(pg_run_state *r, json_t *seeds, double *bpb, double *loss, long long code,
                   long long *max_total, const char **metric)
{
    for (int i = 0; i < r->c->nseeds; i++) {
        char rel[96];
        snprintf(rel, sizeof rel, "eval/seed%ld/eval.json", r->c->seeds[i]);
        json_t *ev = pg_run_load_json(r, rel);
        if (!ev)
            return -1;
        json_t *fin = json_object_get(ev, "final");
        json_t *art = json_object_get(ev, "artifact_bytes");
        if (!json_is_number(json_object_get(fin, "val_bpb")) || !json_is_integer(art)) {
            json_decref(ev);
            return pg_fail("%s/%s: no final val_bpb or artifact_bytes", r->dir, rel);
        }
        bpb[i] = json_number_value(json_object_get(fin, "val_bpb"));
        loss[i] = json_number_value(json_object_get(fin, "val_loss"));
        *metric = r->c->fin.ttt ? "ttt" : r->c->fin.sliding_stride > 0 ? "sliding" : "standard";
        long long total = code + json_integer_value(art);
        *max_total = total > *max_total ? total : *max_total;
        json_t *row = json_pack("{s:I, s:f, s:f, s:I, s:I}", "seed", (json_int_t)r->c->seeds[i],
                                "val_bpb", bpb[i], "val_loss", loss[i], "artifact_bytes",
                                json_integer_value(art), "total_bytes", (json_int_t)total);
        static const char *const modes[] = {"standard", "sliding", "ttt"};
        for (int k = 0; k < 3 && row; k++) {
            json_t *m = json_object_get(ev, modes[k]);
            char key[32];
            snprintf(key, sizeof key, "%s_val_bpb", modes[k]);
            if (m && json_object_set(row, key, json_object_get(m, "val_bpb")) != 0) {
                json_decref(row);
                row = NULL;
            }
        }
        json_decref(ev);
        if (json_array_append_new(seeds, row) != 0)
            return pg_fail("%s/%s: out of memory", r->dir, REPORT_TXT);
    }
    return 0;
}

/* The SOTA: a records folder's seeds, a number, the unigram baseline or none. */
static int sota_of(pg_run_state *r, double *sota, double **scores, size_t *n, json_t **desc)
{
    const pg_run_config *c = r->c;
    *sota = NAN;
    *scores = NULL;
    *n = 0;
    if (c->sota_record[0]) {
        pg_sota st;
        if (pg_sota_from_records(c->sota_record, &st) != 0)
            return -1;
        *sota = st.value; /* the mean of its seeds (Welch's test with two or more) */
        *scores = st.seeds;
        *n = st.nseeds >= 2 ? st.nseeds : 0; /* one seed: its score is the SOTA, no Welch */
        *desc = json_pack("{s:s, s:s, s:I}", "kind", "record", "record", st.record, "seeds",
                          (json_int_t)st.nseeds);
        return *desc ? 0 : pg_fail("%s: out of memory", c->sota_record);
    }
    if (strcmp(c->sota, "none") == 0)
        *desc = json_pack("{s:s}", "kind", "none");
    if (strcmp(c->sota, "unigram") == 0) {
        json_t *d = pg_run_load_json(r, "data/data.json");
        if (!d)
            return -1;
        *sota = json_number_value(json_object_get(json_object_get(d, "unigram"), "val_bpb"));
        json_decref(d);
        *desc = json_pack("{s:s, s:f}", "kind", "unigram", "val_bpb", *sota);
    }
    if (strcmp(c->sota, "none") != 0 && strcmp(c->sota, "unigram") != 0) {
        *sota = strtod(c->sota, NULL);
        *desc = json_pack("{s:s, s:f}", "kind", "value", "val_bpb", *sota);
    }
    return *desc ? 0 : pg_fail("%s/%s: out of memory", r->dir, REPORT_TXT);
}

static void report_text(FILE *f, const json_t *rep, const pg_judgement *j, const pg_judge_opts *o)
{
    const char *metric = json_string_value(json_object_get(rep, "metric"));
    fprintf(f, "== report: %s val_bpb per seed (the packaged artifacts) ==\n", metric);
    fprintf(f, "%-8s %-12s %-12s %-12s %-12s %-12s %s\n", "seed", "standard", "sliding", "ttt",
            "val_bpb", "val_loss", "total bytes");
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(rep, "seeds"), i, row)
    {
        char cells[3][16];
        static const char *const keys[] = {"standard_val_bpb", "sliding_val_bpb", "ttt_val_bpb"};
        for (int k = 0; k < 3; k++) {
            json_t *v = json_object_get(row, keys[k]);
            snprintf(cells[k], sizeof cells[k], v ? "%.6f" : "-", json_number_value(v));
        }
        fprintf(f, "%-8lld %-12s %-12s %-12s %-12.8f %-12.8f %lld\n",
                (long long)json_integer_value(json_object_get(row, "seed")), cells[0], cells[1],
                cells[2], json_number_value(json_object_get(row, "val_bpb")),
                json_number_value(json_object_get(row, "val_loss")),
                (long long)json_integer_value(json_object_get(row, "total_bytes")));
    }
    fprintf(f, "mean val_bpb %.8f  std %.8f  (%zu seeds)\n",
            json_number_value(json_object_get(rep, "mean_val_bpb")),
            json_number_value(json_object_get(rep, "std_val_bpb")),
            json_array_size(json_object_get(rep, "seeds")));
    long long total = json_integer_value(json_object_get(rep, "max_total_bytes"));
    fprintf(f, "bytes: at most %lld of %lld (code %lld + artifact): %s\n", total,
            PG_SUBMISSION_CAP, (long long)json_integer_value(json_object_get(rep, "code_bytes")),
            total <= PG_SUBMISSION_CAP ? "under the cap" : "OVER THE CAP");
    json_t *sota = json_object_get(rep, "sota");
    const char *kind = json_string_value(json_object_get(sota, "kind"));
    if (j) {
        fprintf(f, "significance against the SOTA (%s%s%s):\n", kind,
                json_object_get(sota, "record") ? " " : "",
                json_object_get(sota, "record")
                    ? json_string_value(json_object_get(sota, "record"))
                    : "");
        pg_judgement_print(j, o, f);
    } else {
        fprintf(f, "significance: %s\n",
                json_string_value(json_object_get(rep, "significance_note")));
    }
}

/* Writes len bytes to RUN_DIR/rel and records the file as a reproducible output. */
static int write_output(pg_run_state *r, const char *rel, const char *text, size_t len,
                        json_t *outputs)
{
    char *p = pg_run_path(r, rel);
    int rc = p ? pg_write_file_atomic(p, text, len) : -1;
    free(p);
    return rc == 0 ? pg_run_add_file(r, outputs, rel, 1) : -1;
}

/* The significance test against the SOTA (or why there is none) into the report. */
static int judge(pg_run_state *r, json_t *rep, const double *bpb, const double *loss,
                 double sota, const double *sota_scores, size_t nsota, pg_judge_opts *o,
                 pg_judgement *j, int *judged)
{
    const pg_run_config *c = r->c;
    size_t n = (size_t)c->nseeds;
    pg_judge_opts_default(o);
    o->threshold = c->threshold;
    o->threshold_is_bpb = c->threshold_bpb;
    o->alpha = c->alpha;
    *judged = 0;
    const char *note = !isfinite(sota) && nsota == 0 ? "no SOTA given (RUN_SOTA=none)"
                       : n < 2                       ? "one seed: the t-tests need at least two"
                                                     : NULL;
    if (!note && pg_judge(bpb, loss, n, sota, sota_scores, nsota, o, j) != 0)
        return -1;
    *judged = !note;
    if ((note && json_object_set_new(rep, "significance_note", json_string(note)) != 0) ||
        json_object_set_new(rep, "judgement", note ? json_null() : pg_judgement_json(j, o)) != 0)
        return pg_fail("%s/%s: out of memory", r->dir, REPORT_TXT);
    return 0;
}

/* stats/report.txt and stats/report.json. */
static int write_report(pg_run_state *r, pg_stage *s, const json_t *rep, const pg_judgement *j,
                        const pg_judge_opts *o, json_t *outputs)
{
    char *text = NULL, *d = pg_run_path(r, s->dir);
    size_t len = 0;
    FILE *mem = d ? open_memstream(&text, &len) : NULL;
    if (mem) {
        report_text(mem, rep, j, o);
        fclose(mem);
    }
    int rc = !d                                ? -1
             : !text                           ? pg_fail("%s/%s: out of memory", r->dir, REPORT_TXT)
             : pg_mkdir_p(d) != 0              ? -1
             : write_output(r, REPORT_TXT, text, len, outputs);
    free(text);
    free(d);
    if (rc != 0)
        return -1;
    char *js = json_dumps(rep, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    rc = js ? write_output(r, "stats/report.json", js, strlen(js), outputs)
            : pg_fail("%s/stats/report.json: out of memory", r->dir);
    free(js);
    return rc;
}

int pg_run_stats(pg_run_state *r, pg_stage *s, json_t *outputs)
{
    const pg_run_config *c = r->c;
    int n = c->nseeds, rc = -1, judged;
    double *bpb = calloc((size_t)n, sizeof *bpb), *loss = calloc((size_t)n, sizeof *loss);
    double sota, *sota_scores = NULL;
    size_t nsota = 0;
    long long code = 0, max_total = 0;
    const char *metric = "standard";
    json_t *seeds = json_array(), *desc = NULL, *rep = NULL;
    char *py = pg_run_path(r, "records/train_gpt.py");
    pg_judge_opts o;
    pg_judgement j;
    if (!bpb || !loss || !seeds) {
        pg_fail("%s/%s: out of memory", r->dir, REPORT_TXT);
        goto out;
    }
    if (!py || pg_ledger_code_bytes(py, &code) != 0 ||
        collect(r, seeds, bpb, loss, code, &max_total, &metric) != 0 ||
        sota_of(r, &sota, &sota_scores, &nsota, &desc) != 0)
        goto out;
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++)
        mean += bpb[i] / n;
    for (int i = 0; n > 1 && i < n; i++)
        var += (bpb[i] - mean) * (bpb[i] - mean) / (n - 1);
    rep = json_pack("{s:s, s:O, s:f, s:f, s:I, s:I, s:I, s:b, s:O}", "metric", metric, "seeds",
                    seeds, "mean_val_bpb", mean, "std_val_bpb", sqrt(var), "code_bytes",
                    (json_int_t)code, "max_total_bytes", (json_int_t)max_total, "cap",
                    (json_int_t)PG_SUBMISSION_CAP, "under_cap", max_total <= PG_SUBMISSION_CAP,
                    "sota", desc);
    if (!rep) {
        pg_fail("%s/%s: out of memory", r->dir, REPORT_TXT);
        goto out;
    }
    if (judge(r, rep, bpb, loss, sota, sota_scores, nsota, &o, &j, &judged) == 0 &&
        write_report(r, s, rep, judged ? &j : NULL, &o, outputs) == 0)
        rc = 0;
out:
    free(py);
    json_decref(rep);
    json_decref(desc);
    json_decref(seeds);
    free(bpb);
    free(loss);
    free(sota_scores);
    return rc;
}

int pg_run_print_report(pg_run_state *r)
{
    if (!r->o->out)
        return 0;
    char *p = pg_run_path(r, REPORT_TXT);
    unsigned char *text;
    size_t len;
    int rc = p ? pg_read_file(p, (size_t)1 << 20, &text, &len) : -1;
    if (rc == 0) {
        fwrite(text, 1, len, r->o->out);
        fprintf(r->o->out, "records folder: %s/records\nreport: %s (and stats/report.json); "
                           "manifest: %s/%s\n",
                r->dir, p, r->dir, PG_MANIFEST_NAME);
        free(text);
    }
    free(p);
    return rc;
}
