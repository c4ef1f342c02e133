#include "packager/package.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/text.h"
#include "packager/ledger.h"
#include "packager/logparse.h"
#include "packager/selfextract.h"
#include "packager/submission.h"

/* One seed: its packaged log (train.log with the byte ledger and the roundtrip score
 * appended), parsed, and what the folder says about it. */
typedef struct {
    const pg_package_seed *in;
    pg_text log_text;
    pg_log_summary log;
} seed_run;

/* The settings train_gpt.py carries: the given ones less the data paths, the scheme
 * (PGOLF_SCHEME=...) and the evaluations' settings, so that it runs and prints the
 * evaluations the folder claims. The added strings live in store. */
static int baked_settings(const pg_package_opts *o, pg_text *store, const char ***out, int *n)
{
    static const char *const skip[] = {"DATA_PATH=", "TOKENIZER_PATH=", "INIT_CHECKPOINT=",
                                       "PGOLF_SCHEME="};
    *n = 0;
    pg_text_printf(store, "PGOLF_SCHEME=%s\n", o->scheme_name);
    pg_final_settings_lines(store, o->evals, "");
    if (store->oom)
        return pg_fail("%s: out of memory", o->out_dir);
    int nadd = 0;
    for (size_t i = 0; i < store->n; i++)
        nadd += store->s[i] == '\n';
    *out = malloc((size_t)(o->nsettings + nadd) * sizeof **out);
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
    for (char *p = store->s, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        *nl = '\0';
        (*out)[(*n)++] = p;
    }
    return 0;
}

/* The run's train.log with the reference's ledger, the evaluations' settings and their
 * score lines appended (what train_gpt.py prints), parsed. */
static int load_run(const pg_package_seed *in, long long code, const pg_package_opts *o,
                    seed_run *r, pg_sub_seed *sub)
{
    r->in = in;
    sub->source = in->run_dir;
    char *path = pg_path_join(in->run_dir, "train.log");
    unsigned char *raw = NULL;
    size_t len;
    int rc = path ? pg_read_file(path, (size_t)64 << 20, &raw, &len)
                  : pg_fail("%s: out of memory", in->run_dir);
    if (rc == 0) {
        pg_ledger l;
        pg_ledger_compute(&l, code, (long long)in->artifact_len);
        pg_text_append(&r->log_text, raw, len);
        pg_text_printf(&r->log_text, "Serialized model %s: %zu bytes\nCode size: %lld bytes\n"
                                     "Total submission size %s: %lld bytes\n",
                       o->scheme_name, in->artifact_len, code, o->scheme_name, l.total);
        pg_final_settings_lines(&r->log_text, o->evals, "config:");
        pg_final_score_lines(&r->log_text, o->scheme_name, &in->scores);
        rc = r->log_text.oom ? pg_fail("%s: out of memory", path) : 0;
    }
    if (rc == 0)
        rc = pg_log_parse_text(path, r->log_text.s, r->log_text.n, &r->log);
    if (rc == 0)
        rc = pg_sub_seed_from_log(sub, &r->log, NULL);
    if (rc == 0) {
        snprintf(sub->log_name, sizeof sub->log_name, "train_seed%ld.log", sub->seed);
        snprintf(sub->artifact_name, sizeof sub->artifact_name, "model_seed%ld.art", sub->seed);
        sub->log_text = r->log_text.s;
        sub->log_len = r->log_text.n;
    }
    free(raw);
    free(path);
    return rc;
}

/* How to run train_gpt.py, one line per seed. */
static void reproduce_text(const pg_sub_seed *subs, int n, const pg_package_opts *o, pg_text *t)
{
    pg_text_printf(t, "Box setup: nothing beyond the challenge's image (it needs a C compiler, "
                      "Python 3 with `sentencepiece`, libcrypto and libzstd.so.1, and on GPUs "
                      "the `nvidia-*` wheels PyTorch installs: CUDA runtime, cuBLAS, NCCL, "
                      "NVRTC; pgolf's docs/box.md).\n\n```sh\n");
    for (int i = 0; i < n; i++)
        pg_text_printf(t, "DATA_PATH=... TOKENIZER_PATH=... SEED=%ld torchrun --standalone "
                          "--nproc_per_node=8 train_gpt.py\n",
                       subs[i].seed);
    const pg_final_opts *e = o->evals;
    char claim[160];
    if (e->ttt)
        snprintf(claim, sizeof claim, "legal score-first TTT (%s windows; the `legal_ttt` lines)",
                 e->ttt_stride > 0 ? "sliding" : "standard");
    else if (e->sliding_stride > 0)
        snprintf(claim, sizeof claim, "a sliding-window eval at stride %ld (the `sliding_window` "
                                      "lines)", e->sliding_stride);
    else
        snprintf(claim, sizeof claim, "the standard eval (the roundtrip lines)");
    pg_text_printf(t, "```\n\n`train_gpt.py` carries pgolf's training, packing and scoring "
                      "sources, builds them with the C compiler (printing `pgolf_build:`, not "
                      "counted in the training time) and trains on rank 0's CPU with the "
                      "settings baked in (its `S`); the environment overrides them. The "
                      "artifacts are quantized with the `%s` scheme; the dequantized model is "
                      "scored by %s, and each evaluation's settings and time are logged "
                      "(`eval_time`).",
                   o->scheme_name, claim);
}

/* The logs, artifacts, README.md, submission.json and loss.svg. */
static int write_folder(const seed_run *runs, const pg_sub_seed *subs, int n, long long code,
                        const pg_package_opts *o)
{
    pg_text repro = {0};
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = pg_write_file_in(o->out_dir, subs[i].log_name, runs[i].log_text.s, runs[i].log_text.n);
        if (rc == 0)
            rc = pg_write_file_in(o->out_dir, subs[i].artifact_name, runs[i].in->artifact,
                             runs[i].in->artifact_len);
    }
    reproduce_text(subs, n, o, &repro);
    const char *code_name = "train_gpt.py";
    pg_sub_info info = {.name = o->name, .author = o->author, .github_id = o->github_id,
                        .date = o->date, .track = o->track, .blurb = o->blurb,
                        .hardware = "CPU (pgolf reference backend)", .code_names = &code_name,
                        .code_sizes = &code, .ncode = 1, .code_bytes = code,
                        .reproduce = repro.s, .significance = o->significance};
    if (rc == 0)
        rc = repro.oom ? pg_fail("%s: out of memory", o->out_dir)
                       : pg_submission_write(o->out_dir, subs, n, &info);
    pg_text_free(&repro);
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
    pg_sub_seed *subs = calloc((size_t)nseeds, sizeof *subs);
    char *tmp_py = pg_path_join(o->out_dir, ".train_gpt.py.staging");
    char *final_py = pg_path_join(o->out_dir, "train_gpt.py");
    const char **baked = NULL;
    pg_text store = {0};
    int rc = -1, nbaked;
    long long code;
    if (!runs || !subs || !tmp_py || !final_py) {
        pg_fail("%s: out of memory", o->out_dir);
        goto out;
    }
    if (baked_settings(o, &store, &baked, &nbaked) != 0 || pg_mkdir_p(o->out_dir) != 0 ||
        write_code(tmp_py, o, baked, nbaked) != 0 || pg_ledger_code_bytes(tmp_py, &code) != 0)
        goto out;
    for (int i = 0; i < nseeds; i++)
        if (load_run(&seeds[i], code, o, &runs[i], &subs[i]) != 0)
            goto out;
    if (pg_sub_check(subs, nseeds, code, o->track) != 0 ||
        write_folder(runs, subs, nseeds, code, o) != 0)
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
        pg_text_free(&runs[i].log_text);
    free(runs);
    free(subs);
    free(baked);
    pg_text_free(&store);
    free(tmp_py);
    free(final_py);
    return rc;
}
