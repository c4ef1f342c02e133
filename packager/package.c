#include "packager/package.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/fileio.h"
#include "packager/ledger.h"
#include "packager/logparse.h"
#include "packager/selfextract.h"

typedef struct {
    const pg_package_seed *in;
    pg_log_summary log;
    long seed;
    unsigned char *log_text;
    size_t log_len;
    long long total;
} seed_run;

/* growable text buffer; a failed allocation marks it (oom) and stops it growing */
typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} text;

/* Room for `extra` more bytes and a NUL. */
static int reserve(text *t, size_t extra)
{
    if (t->oom)
        return -1;
    if (t->n + extra < t->cap)
        return 0;
    size_t cap = 2 * t->cap + extra + 256;
    char *g = realloc(t->s, cap);
    if (!g) {
        t->oom = 1;
        return -1;
    }
    t->s = g;
    t->cap = cap;
    return 0;
}

static void tput(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tput(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0 || reserve(t, (size_t)k) != 0) {
        t->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
    t->n += (size_t)k;
}

static void tappend(text *t, const void *p, size_t n)
{
    if (reserve(t, n) == 0) {
        memcpy(t->s + t->n, p, n);
        t->n += n;
    }
}

/* The settings train_gpt.py carries: the given ones less the data paths. */
static int baked_settings(const pg_package_opts *o, const char ***out, int *n)
{
    static const char *const skip[] = {"DATA_PATH=", "TOKENIZER_PATH=", "INIT_CHECKPOINT="};
    *n = 0;
    *out = malloc((size_t)(o->nsettings + 1) * sizeof **out);
    if (!*out)
        return pg_fail("%s: out of memory", o->out_dir);
    for (int i = 0; i < o->nsettings; i++) {
        int keep = 1;
        for (size_t k = 0; k < sizeof skip / sizeof skip[0]; k++)
            keep = keep && strncmp(o->settings[i], skip[k], strlen(skip[k])) != 0;
        if (keep)
            (*out)[(*n)++] = o->settings[i];
    }
    if (*n == 0)
        return pg_fail("%s: no training settings to bake into train_gpt.py", o->out_dir);
    return 0;
}

/* Train loss per step and the validation points of one log, as an SVG. */
static void loss_svg(const seed_run *r, text *t)
{
    double xs[4096], ys[4096], vx[256], vy[256];
    int n = 0, nv = 0;
    const char *p = (const char *)r->log_text;
    while (p && *p) {
        long step;
        double v;
        if (sscanf(p, "step:%ld/%*d train_loss:%lf", &step, &v) == 2 && n < 4096) {
            xs[n] = (double)step;
            ys[n++] = v;
        } else if (sscanf(p, "step:%ld/%*d val_loss:%lf", &step, &v) == 2 && nv < 256) {
            vx[nv] = (double)step;
            vy[nv++] = v;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    double x1 = 1, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < n; i++)
        x1 = fmax(x1, xs[i]), y0 = fmin(y0, ys[i]), y1 = fmax(y1, ys[i]);
    for (int i = 0; i < nv; i++)
        x1 = fmax(x1, vx[i]), y0 = fmin(y0, vy[i]), y1 = fmax(y1, vy[i]);
    if (!isfinite(y0))
        y0 = 0, y1 = 1;
    if (y1 - y0 < 1e-9)
        y1 = y0 + 1;
#define PX(x) (60 + (x) / x1 * 500)
#define PY(y) (30 + (y1 - (y)) / (y1 - y0) * 220)
    tput(t, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"300\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    tput(t, "<text x=\"60\" y=\"20\">seed %ld: train loss (line) and val loss (dots) by step</text>\n",
         r->seed);
    tput(t, "<text x=\"55\" y=\"%.1f\" text-anchor=\"end\">%.3f</text><text x=\"55\" y=\"%.1f\" "
            "text-anchor=\"end\">%.3f</text>\n", PY(y1) + 4, y1, PY(y0) + 4, y0);
    tput(t, "<text x=\"560\" y=\"270\" text-anchor=\"end\">step %.0f</text>\n", x1);
    tput(t, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"");
    for (int i = 0; i < n; i++)
        tput(t, "%.1f,%.1f ", PX(xs[i]), PY(ys[i]));
    tput(t, "\"/>\n");
    for (int i = 0; i < nv; i++)
        tput(t, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#d62728\"/>\n", PX(vx[i]), PY(vy[i]));
    tput(t, "</svg>\n");
#undef PX
#undef PY
}

/* Reads and parses the seed's train.log. */
static int load_run(const pg_package_seed *in, seed_run *r)
{
    memset(r, 0, sizeof *r);
    r->in = in;
    char *log = pg_path_join(in->run_dir, "train.log");
    int rc = -1;
    if (!log)
        return pg_fail("%s: out of memory", in->run_dir);
    if (pg_read_file(log, (size_t)64 << 20, &r->log_text, &r->log_len) != 0)
        goto out;
    unsigned char *z = realloc(r->log_text, r->log_len + 1); /* NUL-terminated for scanning */
    if (!z) {
        pg_fail("%s: out of memory", log);
        goto out;
    }
    r->log_text = z;
    r->log_text[r->log_len] = '\0';
    if (pg_log_parse_text(log, (const char *)r->log_text, r->log_len, &r->log) != 0)
        goto out;
    if (!r->log.val_bpb.line || !r->log.seed.line || r->log.seed.line < 0) {
        pg_fail("%s: no seed or final val_bpb line", log);
        goto out;
    }
    r->seed = (long)r->log.seed.value;
    rc = 0;
out:
    free(log);
    return rc;
}

static int load_runs(const pg_package_seed *seeds, int n, seed_run *runs)
{
    for (int i = 0; i < n; i++)
        if (load_run(&seeds[i], &runs[i]) != 0)
            return -1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (runs[i].seed == runs[j].seed)
                return pg_fail("%s and %s are the same seed %ld", seeds[j].run_dir,
                               seeds[i].run_dir, runs[i].seed);
    return 0;
}

/* Every seed's code + artifact bytes against the cap. */
static int check_ledger(seed_run *runs, int n, long long code, const char *out_dir)
{
    for (int i = 0; i < n; i++) {
        pg_ledger l;
        pg_ledger_compute(&l, code, (long long)runs[i].in->artifact_len);
        runs[i].total = l.total;
        if (l.total > PG_SUBMISSION_CAP)
            return pg_fail("%s: seed %ld would be %lld bytes (code %lld + model %zu), over the "
                           "16,000,000-byte cap; nothing written",
                           out_dir, runs[i].seed, l.total, code, runs[i].in->artifact_len);
    }
    return 0;
}

static int write_bytes(const char *dir, const char *name, const void *data, size_t len)
{
    char *p = pg_path_join(dir, name);
    int rc = p ? pg_write_file_atomic(p, data, len) : pg_fail("%s/%s: out of memory", dir, name);
    free(p);
    return rc;
}

static int write_text(const char *dir, const char *name, const text *t)
{
    return t->oom ? pg_fail("%s/%s: out of memory", dir, name)
                  : write_bytes(dir, name, t->s, t->n);
}

/* train_seedS.log (the training log with the byte ledger and the roundtrip score appended
 * in the reference's lines), model_seedS.art and loss_seedS.svg. */
static int write_seed_files(const seed_run *r, long long code, const pg_package_opts *o)
{
    char log_name[64], art_name[64], svg_name[64];
    snprintf(log_name, sizeof log_name, "train_seed%ld.log", r->seed);
    snprintf(art_name, sizeof art_name, "model_seed%ld.art", r->seed);
    snprintf(svg_name, sizeof svg_name, "loss_seed%ld.svg", r->seed);
    text lg = {0}, svg = {0};
    tappend(&lg, r->log_text, r->log_len);
    tput(&lg, "Serialized model %s: %zu bytes\nCode size: %lld bytes\n"
              "Total submission size %s: %lld bytes\n",
         o->scheme_name, r->in->artifact_len, code, o->scheme_name, r->total);
    /* no eval time on these lines: the folder must come out byte-identical */
    tput(&lg, "final_%s_roundtrip val_loss:%.4f val_bpb:%.4f\n"
              "final_%s_roundtrip_exact val_loss:%.8f val_bpb:%.8f\n",
         o->scheme_name, r->in->val_loss, r->in->val_bpb, o->scheme_name, r->in->val_loss,
         r->in->val_bpb);
    loss_svg(r, &svg);
    int rc = write_text(o->out_dir, log_name, &lg) == 0 &&
                     write_bytes(o->out_dir, art_name, r->in->artifact, r->in->artifact_len) == 0 &&
                     write_text(o->out_dir, svg_name, &svg) == 0
                 ? 0
                 : -1;
    free(lg.s);
    free(svg.s);
    return rc;
}

typedef struct {
    double mean_bpb, mean_loss, std_bpb, std_loss;
    long long max_total, code;
} summary;

static void summarize(const seed_run *runs, int n, long long code, summary *s)
{
    double mb = 0, ml = 0, sb = 0, sl = 0;
    s->max_total = 0;
    s->code = code;
    for (int i = 0; i < n; i++) {
        mb += runs[i].in->val_bpb / n;
        ml += runs[i].in->val_loss / n;
        s->max_total = runs[i].total > s->max_total ? runs[i].total : s->max_total;
    }
    for (int i = 0; n > 1 && i < n; i++) {
        sb += pow(runs[i].in->val_bpb - mb, 2) / (n - 1);
        sl += pow(runs[i].in->val_loss - ml, 2) / (n - 1);
    }
    s->mean_bpb = mb, s->mean_loss = ml, s->std_bpb = sqrt(sb), s->std_loss = sqrt(sl);
}

static void readme_text(const seed_run *runs, int n, const summary *s, const pg_package_opts *o,
                        text *t)
{
    tput(t, "# %s\n\n%s\n\n", o->name, o->blurb);
    tput(t, "**val_bpb %.8f** (mean of %d seed%s, std %.8f) | %lld bytes at most | "
            "built with pgolf\n\n", s->mean_bpb, n, n > 1 ? "s" : "", s->std_bpb, s->max_total);
    tput(t, "## Run\n\n```sh\nDATA_PATH=... TOKENIZER_PATH=... torchrun --standalone "
            "--nproc_per_node=8 train_gpt.py\n```\n\n`train_gpt.py` carries the pgolf "
            "sources, builds them and trains with the settings baked in (see its SETTINGS); "
            "the environment overrides them.\n\n");
    tput(t, "## Results\n\nval_loss and val_bpb are the dequantized artifact's (what is "
            "submitted); the full-precision model's are beside them.\n\n| seed | steps | "
            "train time (ms) | fp32 val_bpb | val_loss | val_bpb | artifact bytes | total "
            "bytes |\n|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        const seed_run *r = &runs[i];
        tput(t, "| %ld | %.0f | %.0f | %.8f | %.8f | %.8f | %zu | %lld |\n", r->seed,
             r->log.steps.value, r->log.train_ms.value, r->log.val_bpb.value, r->in->val_loss,
             r->in->val_bpb, r->in->artifact_len, r->total);
    }
    tput(t, "| **mean** | | | | %.8f | %.8f | | |\n| **std** | | | | %.8f | %.8f | | |\n\n",
         s->mean_loss, s->mean_bpb, s->std_loss, s->std_bpb);
    tput(t, "Artifacts are quantized with the `%s` scheme. Byte ledger: code (train_gpt.py) "
            "%lld bytes + the seed's artifact, each under 16,000,000.\n\n## Loss curves\n\n",
         o->scheme_name, s->code);
    for (int i = 0; i < n; i++)
        tput(t, "![seed %ld](loss_seed%ld.svg)\n", runs[i].seed, runs[i].seed);
}

static json_t *submission_json(const seed_run *runs, int n, const summary *s,
                               const pg_package_opts *o)
{
    json_t *seeds = json_array(), *results = json_object();
    int ok = seeds && results;
    for (int i = 0; ok && i < n; i++) {
        const seed_run *r = &runs[i];
        char key[32];
        snprintf(key, sizeof key, "%ld", r->seed);
        ok = json_array_append_new(seeds, json_integer(r->seed)) == 0 &&
             json_object_set_new(results, key,
                                 json_pack("{s:f, s:f, s:I, s:I, s:f}", "val_loss", r->in->val_loss,
                                           "val_bpb", r->in->val_bpb, "artifact_bytes",
                                           (json_int_t)r->total, "steps",
                                           (json_int_t)r->log.steps.value, "step_avg_ms",
                                           r->log.step_avg_ms.value)) == 0;
    }
    if (!ok) {
        json_decref(seeds);
        json_decref(results);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:f, s:I, s:I, s:o, s:o, s:s}",
                     "author", o->author, "github_id", o->github_id, "name", o->name, "blurb",
                     o->blurb, "date", o->date, "track", o->track, "val_loss", s->mean_loss,
                     "val_bpb", s->mean_bpb, "val_bpb_std", s->std_bpb, "bytes_total",
                     (json_int_t)s->max_total, "bytes_code", (json_int_t)s->code, "seeds", seeds,
                     "seed_results", results, "hardware", "CPU (pgolf reference backend)");
}

/* submission.json and README.md. */
static int write_summary(const seed_run *runs, int n, long long code, const pg_package_opts *o)
{
    summary s;
    summarize(runs, n, code, &s);
    json_t *sub = submission_json(runs, n, &s, o);
    char *js = sub ? json_dumps(sub, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(sub);
    int rc = js ? write_bytes(o->out_dir, "submission.json", js, strlen(js))
                : pg_fail("%s/submission.json: out of memory", o->out_dir);
    free(js);
    text readme = {0};
    readme_text(runs, n, &s, o, &readme);
    if (rc == 0)
        rc = write_text(o->out_dir, "README.md", &readme);
    free(readme.s);
    return rc;
}

/* train_gpt.py to a staging name, so the ledger is known before anything final. */
static int write_code(const char *path, const pg_package_opts *o, const char **settings, int n)
{
    return o->source_archive ? pg_selfextract_write_archive(path, o->source_archive,
                                                            o->source_archive_len, settings, n)
                             : pg_selfextract_write(path, o->source_root, settings, n);
}

int pg_package(const pg_package_seed *seeds, int nseeds, const pg_package_opts *o)
{
    if (nseeds < 1)
        return pg_fail("package needs at least one run directory");
    seed_run *runs = calloc((size_t)nseeds, sizeof *runs);
    char *tmp_py = pg_path_join(o->out_dir, ".train_gpt.py.staging");
    char *final_py = pg_path_join(o->out_dir, "train_gpt.py");
    const char **baked = NULL;
    int rc = -1, nbaked;
    long long code;
    if (!runs || !tmp_py || !final_py) {
        pg_fail("%s: out of memory", o->out_dir);
        goto out;
    }
    if (load_runs(seeds, nseeds, runs) != 0 || baked_settings(o, &baked, &nbaked) != 0 ||
        pg_mkdir_p(o->out_dir) != 0)
        goto out;
    if (write_code(tmp_py, o, baked, nbaked) != 0 || pg_ledger_code_bytes(tmp_py, &code) != 0 ||
        check_ledger(runs, nseeds, code, o->out_dir) != 0)
        goto out;
    for (int i = 0; i < nseeds; i++)
        if (write_seed_files(&runs[i], code, o) != 0)
            goto out;
    if (write_summary(runs, nseeds, code, o) != 0)
        goto out;
    if (rename(tmp_py, final_py) != 0) {
        pg_fail("%s: cannot move train_gpt.py into place", o->out_dir);
        goto out;
    }
    rc = 0;
out:
    if (tmp_py)
        remove(tmp_py);
    for (int i = 0; runs && i < nseeds; i++)
        free(runs[i].log_text);
    free(runs);
    free(baked);
    free(tmp_py);
    free(final_py);
    return rc;
}
