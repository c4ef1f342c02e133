#include "packager/package.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "kernels/checkpoint.h"
#include "packager/ledger.h"
#include "packager/selfextract.h"
#include "dataset/shard.h"
#include "dataset/tokenizer.h"
#include "packager/logparse.h"
#include "kernels/eval.h"

typedef struct {
    pg_log_summary log;
    long seed;
    double rt_loss, rt_bpb; /* the dequantized artifact's score (what is submitted) */
    unsigned char *log_text, *art;
    size_t log_len, art_len;
    long long total;
} seed_run;

/* growable text buffer */
typedef struct {
    char *s;
    size_t n, cap;
} text;

static void tput(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tput(text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
        va_end(ap);
        if (k >= 0 && (size_t)k < t->cap - t->n) {
            t->n += (size_t)k;
            return;
        }
        t->cap = 2 * t->cap + (size_t)k + 256;
        t->s = realloc(t->s, t->cap);
    }
}

/* The settings a run was trained with (its log's config: lines), data paths excluded. */
static int baked_settings(const seed_run *r, char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    const char *p = (const char *)r->log_text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > 7 && strncmp(p, "config:", 7) == 0 && strncmp(p + 7, "DATA_PATH=", 10) != 0 &&
            strncmp(p + 7, "TOKENIZER_PATH=", 15) != 0 && strncmp(p + 7, "INIT_CHECKPOINT=", 16) != 0) {
            *out = realloc(*out, (size_t)(*n + 1) * sizeof **out);
            (*out)[(*n)++] = strndup(p + 7, len - 7);
        }
        p = nl ? nl + 1 : NULL;
    }
    if (*n == 0)
        return pg_fail("%s: no config: lines (not a pgolf train log)", r->log.path);
    return 0;
}

/* Train loss per step and the validation points of one log, as an SVG. */
static char *loss_svg(const seed_run *r, size_t *len)
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
    text t = {malloc(4096), 0, 4096};
#define PX(x) (60 + (x) / x1 * 500)
#define PY(y) (30 + (y1 - (y)) / (y1 - y0) * 220)
    tput(&t, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"300\" "
             "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    tput(&t, "<text x=\"60\" y=\"20\">seed %ld: train loss (line) and val loss (dots) by step</text>\n",
         r->seed);
    tput(&t, "<text x=\"55\" y=\"%.1f\" text-anchor=\"end\">%.3f</text><text x=\"55\" y=\"%.1f\" "
             "text-anchor=\"end\">%.3f</text>\n", PY(y1) + 4, y1, PY(y0) + 4, y0);
    tput(&t, "<text x=\"560\" y=\"270\" text-anchor=\"end\">step %.0f</text>\n", x1);
    tput(&t, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"");
    for (int i = 0; i < n; i++)
        tput(&t, "%.1f,%.1f ", PX(xs[i]), PY(ys[i]));
    tput(&t, "\"/>\n");
    for (int i = 0; i < nv; i++)
        tput(&t, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#d62728\"/>\n", PX(vx[i]), PY(vy[i]));
    tput(&t, "</svg>\n");
#undef PX
#undef PY
    *len = t.n;
    return t.s;
}

/* A config: value of the run's log ("" if absent). */
static void log_setting(const seed_run *r, const char *name, char *out, size_t cap)
{
    char key[80];
    snprintf(key, sizeof key, "\nconfig:%s=", name);
    const char *p = strstr((const char *)r->log_text, key);
    out[0] = '\0';
    if (p) {
        p += strlen(key);
        snprintf(out, cap, "%.*s", (int)strcspn(p, "\n"), p);
    }
}

/* Scores the dequantized artifact on the run's validation data, standard eval. */
static int roundtrip_score(seed_run *r, const char *where)
{
    char data[PG_PATH_MAX], tokp[PG_PATH_MAX];
    log_setting(r, "DATA_PATH", data, sizeof data);
    log_setting(r, "TOKENIZER_PATH", tokp, sizeof tokp);
    pg_model q;
    if (pg_artifact_decode(where, r->art, r->art_len, &q, NULL) != 0)
        return -1;
    pg_tokenizer tok;
    pg_bpb_lut lut = {0};
    uint16_t *val = NULL;
    size_t nval;
    int rc = -1;
    if (pg_tokenizer_load(tokp, &tok) != 0) {
        pg_model_free(&q);
        return -1;
    }
    if (pg_bpb_lut_build(&tok, q.cfg.vocab_size, &lut) == 0 &&
        pg_shards_load(data, "val", q.cfg.vocab_size, &val, &nval) == 0) {
        pg_eval_opts eo = {.mode = PG_EVAL_STANDARD, .seq_len = q.cfg.seq_len, .batch = 8};
        pg_eval_result res;
        if (pg_eval_run(&q, val, nval, &lut, &eo, &res, NULL) == 0) {
            r->rt_loss = res.val_loss;
            r->rt_bpb = res.val_bpb;
            rc = 0;
        }
    }
    free(val);
    pg_bpb_lut_free(&lut);
    pg_tokenizer_free(&tok);
    pg_model_free(&q);
    return rc;
}

static int load_run(const char *dir, const char *artifact, const pg_package_opts *o, seed_run *r)
{
    memset(r, 0, sizeof *r);
    char *log = pg_path_join(dir, "train.log"), *ck = pg_path_join(dir, "final.ckpt");
    int rc = -1;
    pg_model m = {0};
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
    if (artifact) {
        if (pg_read_file(artifact, (size_t)4 << 30, &r->art, &r->art_len) != 0)
            goto out;
    } else {
        pg_pack_stats st;
        if (pg_checkpoint_load(ck, &m, NULL) != 0 ||
            pg_artifact_encode(ck, &m, &o->plan, &st, &r->art) != 0)
            goto out;
        r->art_len = st.file_bytes;
    }
    rc = roundtrip_score(r, artifact ? artifact : ck);
out:
    pg_model_free(&m);
    free(log);
    free(ck);
    return rc;
}

static int write_text(const char *dir, const char *name, const char *s, size_t n)
{
    char *p = pg_path_join(dir, name);
    int rc = pg_write_file_atomic(p, s, n);
    free(p);
    return rc;
}

int pg_package(const char *const *run_dirs, int nruns, const pg_package_opts *o)
{
    if (nruns < 1)
        return pg_fail("package needs at least one run directory");
    seed_run *runs = calloc((size_t)nruns, sizeof *runs);
    char **settings = NULL;
    int nsettings = 0, rc = -1;
    char tmp_py[1100];
    snprintf(tmp_py, sizeof tmp_py, "%s/.train_gpt.py.staging", o->out_dir);
    for (int i = 0; i < nruns; i++)
        if (load_run(run_dirs[i], o->artifacts ? o->artifacts[i] : NULL, o, &runs[i]) != 0)
            goto out;
    for (int i = 0; i < nruns; i++)
        for (int j = 0; j < i; j++)
            if (runs[i].seed == runs[j].seed) {
                pg_fail("%s and %s are the same seed %ld", run_dirs[j], run_dirs[i], runs[i].seed);
                goto out;
            }
    if (baked_settings(&runs[0], &settings, &nsettings) != 0 || pg_mkdir_p(o->out_dir) != 0)
        goto out;
    /* the code first (to a staging name), so the ledger is known before anything final */
    if ((o->source_archive
             ? pg_selfextract_write_archive(tmp_py, o->source_archive, o->source_archive_len,
                                            (const char *const *)settings, nsettings)
             : pg_selfextract_write(tmp_py, o->source_root, (const char *const *)settings,
                                    nsettings)) != 0)
        goto out;
    long long code;
    if (pg_ledger_code_bytes(tmp_py, &code) != 0)
        goto out;
    for (int i = 0; i < nruns; i++) {
        pg_ledger l;
        pg_ledger_compute(&l, code, (long long)runs[i].art_len);
        runs[i].total = l.total;
        if (l.total > PG_SUBMISSION_CAP) {
            pg_fail("%s: seed %ld would be %lld bytes (code %lld + model %zu), over the "
                    "16,000,000-byte cap; nothing written",
                    o->out_dir, runs[i].seed, l.total, code, runs[i].art_len);
            goto out;
        }
    }
    double mb = 0, ml = 0, sb = 0, sl = 0;
    long long max_total = 0;
    for (int i = 0; i < nruns; i++) {
        mb += runs[i].rt_bpb / nruns;
        ml += runs[i].rt_loss / nruns;
        max_total = runs[i].total > max_total ? runs[i].total : max_total;
    }
    for (int i = 0; nruns > 1 && i < nruns; i++) {
        sb += pow(runs[i].rt_bpb - mb, 2) / (nruns - 1);
        sl += pow(runs[i].rt_loss - ml, 2) / (nruns - 1);
    }
    json_t *seeds = json_array(), *results = json_object();
    text readme = {malloc(4096), 0, 4096};
    tput(&readme, "# %s\n\n%s\n\n", o->name, o->blurb);
    tput(&readme, "**val_bpb %.8f** (mean of %d seed%s, std %.8f) | %lld bytes at most | "
                  "built with pgolf\n\n", mb, nruns, nruns > 1 ? "s" : "", sqrt(sb), max_total);
    tput(&readme, "## Run\n\n```sh\nDATA_PATH=... TOKENIZER_PATH=... torchrun --standalone "
                  "--nproc_per_node=8 train_gpt.py\n```\n\n`train_gpt.py` carries the pgolf "
                  "sources, builds them and trains with the settings baked in (see its SETTINGS); "
                  "the environment overrides them.\n\n");
    tput(&readme, "## Results\n\nval_loss and val_bpb are the dequantized artifact's (what is "
                  "submitted); the full-precision model's are beside them.\n\n| seed | steps | "
                  "train time (ms) | fp32 val_bpb | val_loss | val_bpb | artifact bytes | total "
                  "bytes |\n|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < nruns; i++) {
        seed_run *r = &runs[i];
        char name[64], key[32];
        snprintf(key, sizeof key, "%ld", r->seed);
        tput(&readme, "| %ld | %.0f | %.0f | %.8f | %.8f | %.8f | %zu | %lld |\n", r->seed,
             r->log.steps.value, r->log.train_ms.value, r->log.val_bpb.value, r->rt_loss,
             r->rt_bpb, r->art_len, r->total);
        json_array_append_new(seeds, json_integer(r->seed));
        json_object_set_new(results, key,
                            json_pack("{s:f, s:f, s:I, s:I, s:f}", "val_loss", r->rt_loss,
                                      "val_bpb", r->rt_bpb, "artifact_bytes",
                                      (json_int_t)r->total, "steps", (json_int_t)r->log.steps.value,
                                      "step_avg_ms", r->log.step_avg_ms.value));
        /* the log, with the byte ledger appended in the reference's lines */
        text lg = {malloc(r->log_len + 512), 0, r->log_len + 512};
        memcpy(lg.s, r->log_text, r->log_len);
        lg.n = r->log_len;
        tput(&lg, "Serialized model %s: %zu bytes\nCode size: %lld bytes\n"
                  "Total submission size %s: %lld bytes\n",
             o->scheme_name, r->art_len, code, o->scheme_name, r->total);
        /* no eval time on these lines: the folder must come out byte-identical */
        tput(&lg, "final_%s_roundtrip val_loss:%.4f val_bpb:%.4f\n"
                  "final_%s_roundtrip_exact val_loss:%.8f val_bpb:%.8f\n",
             o->scheme_name, r->rt_loss, r->rt_bpb, o->scheme_name, r->rt_loss, r->rt_bpb);
        snprintf(name, sizeof name, "train_seed%ld.log", r->seed);
        int wl = write_text(o->out_dir, name, lg.s, lg.n);
        free(lg.s);
        if (wl != 0)
            goto out_json;
        snprintf(name, sizeof name, "model_seed%ld.art", r->seed);
        if (write_text(o->out_dir, name, (const char *)r->art, r->art_len) != 0)
            goto out_json;
        size_t slen;
        char *svg = loss_svg(r, &slen);
        snprintf(name, sizeof name, "loss_seed%ld.svg", r->seed);
        int w = write_text(o->out_dir, name, svg, slen);
        free(svg);
        if (w != 0)
            goto out_json;
    }
    tput(&readme, "| **mean** | | | | %.8f | %.8f | | |\n| **std** | | | | %.8f | %.8f | | |\n\n",
         ml, mb, sqrt(sl), sqrt(sb));
    tput(&readme, "Artifacts are quantized with the `%s` scheme. Byte ledger: code (train_gpt.py) "
                  "%lld bytes + the seed's artifact, each under 16,000,000.\n\n## Loss curves\n\n",
         o->scheme_name, code);
    for (int i = 0; i < nruns; i++)
        tput(&readme, "![seed %ld](loss_seed%ld.svg)\n", runs[i].seed, runs[i].seed);
    json_t *sub = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:f, s:I, s:I, s:o, s:o, s:s}",
                            "author", o->author, "github_id", o->github_id, "name", o->name,
                            "blurb", o->blurb, "date", o->date, "track", o->track, "val_loss", ml,
                            "val_bpb", mb, "val_bpb_std", sqrt(sb), "bytes_total",
                            (json_int_t)max_total, "bytes_code", (json_int_t)code, "seeds", seeds,
                            "seed_results", results, "hardware", "CPU (pgolf reference backend)");
    seeds = results = NULL;
    char *js = json_dumps(sub, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(sub);
    char *final_py = pg_path_join(o->out_dir, "train_gpt.py");
    if (write_text(o->out_dir, "submission.json", js, strlen(js)) == 0 &&
        write_text(o->out_dir, "README.md", readme.s, readme.n) == 0 &&
        rename(tmp_py, final_py) == 0)
        rc = 0;
    else if (rc != 0 && pg_errmsg()[0] == '\0')
        pg_fail("%s: cannot move train_gpt.py into place", o->out_dir);
    free(final_py);
    free(js);
out_json:
    json_decref(seeds);
    json_decref(results);
    free(readme.s);
out:
    remove(tmp_py);
    for (int i = 0; i < nruns; i++) {
        free(runs[i].log_text);
        free(runs[i].art);
    }
    free(runs);
    for (int i = 0; i < nsettings; i++)
        free(settings[i]);
    free(settings);
    return rc;
}
