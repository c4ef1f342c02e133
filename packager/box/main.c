/* The program train_gpt.py builds on the challenge's box (docs/box.md):
 *
 *   pgolf-box CODE_FILE OUT_DIR
 *
 * trains with the settings of the environment (PGOLF_PRESET tiny|baseline, then the
 * reference's variables: DATA_PATH, TOKENIZER_PATH (a pieces table), ITERATIONS, ...) on
 * PGOLF_BACKEND (auto: the GPU when there is one), as every rank of a torchrun launch;
 * rank 0 then packs the final model (PGOLF_SCHEME int8|mixed) against the byte cap with
 * CODE_FILE's size as the code bytes, and scores the artifact as written with the
 * evaluations of RUN_SLIDING_STRIDE, RUN_TTT and TTT_* (kernels/final_eval.h), printing
 * their settings and the reference's final lines. The same library code as `pgolf train`,
 * `pgolf pack` and `pgolf run`'s eval stage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "dataset/val.h"
#include "kernels/checkpoint.h"
#include "kernels/final_eval.h"
#include "packager/box/dl.h"
#include "packager/pack.h"
#include "train/launch.h"
#include "train/train.h"

static int fail_exit(void)
{
    fprintf(stderr, "pgolf-box: %s\n", pg_errmsg());
    return 1;
}

static int settings(pg_hparams *h, const char **scheme, pg_quant_plan *plan, pg_final_opts *fin)
{
    const char *preset = getenv("PGOLF_PRESET");
    if (!preset || strcmp(preset, "baseline") == 0)
        pg_hparams_default(h);
    else if (strcmp(preset, "tiny") == 0)
        pg_hparams_tiny(h, ".");
    else
        return pg_fail("PGOLF_PRESET=%s: must be tiny or baseline", preset);
    *scheme = getenv("PGOLF_SCHEME") ? getenv("PGOLF_SCHEME") : "int8";
    if (strcmp(*scheme, "int8") == 0)
        pg_quant_plan_int8(plan);
    else if (strcmp(*scheme, "mixed") == 0)
        pg_quant_plan_mixed(plan);
    else
        return pg_fail("PGOLF_SCHEME=%s: must be int8 or mixed", *scheme);
    pg_final_opts_default(fin);
    pg_settings_bind b[PG_FINAL_TABLES];
    return pg_hparams_from_env(h) != 0 || pg_hparams_validate(h) != 0 ||
                   pg_settings_from_env(b, pg_final_opts_bind(fin, b)) != 0 ||
                   pg_final_opts_check(fin, h->model.seq_len) != 0
               ? -1
               : 0;
}

/* Scores the artifact as written: the evaluations' settings and score lines. */
static int score(const char *art, const pg_hparams *h, const char *scheme, const pg_final_opts *fin,
                 const pg_backend *be)
{
    pg_model m;
    if (pg_artifact_load(art, &m, NULL) != 0)
        return -1;
    if (pg_model_to_backend(&m, be) != 0) {
        pg_model_free(&m);
        return -1;
    }
    pg_bpb_lut lut;
    uint16_t *val;
    size_t nval;
    int rc = pg_val_load(h->tokenizer_path, h->data_path, m.cfg.vocab_size, &lut, &val, &nval);
    if (rc != 0) {
        pg_model_free(&m);
        return -1;
    }
    pg_final_scores s;
    rc = pg_final_evals(&m, val, nval, &lut, fin, 1, &s);
    if (rc == 0) {
        pg_text t = {0};
        pg_final_settings_lines(&t, fin, "config:");
        pg_final_score_lines(&t, scheme, &s);
        rc = t.oom ? pg_fail("out of memory") : 0;
        if (rc == 0)
            fputs(t.s, stdout);
        pg_text_free(&t);
    }
    free(val);
    pg_bpb_lut_free(&lut);
    pg_model_free(&m);
    return rc;
}

/* PGOLF_BACKEND (default auto: CUDA when this build has it and a GPU is there), readied
 * for the model (the attention's kernels compiled before training when they are compiled
 * at run time), and the line that says what it is. */
static int backend(const pg_hparams *h, const pg_backend **be, char *line, size_t n)
{
    const char *name = getenv("PGOLF_BACKEND");
    char note[600], desc[600];
    if (pg_backend_select(name && *name ? name : "auto", be, note, sizeof note) != 0 ||
        ((*be)->prepare_head_dim &&
         (*be)->prepare_head_dim(pg_config_head_dim(&h->model)) != 0))
        return -1;
    (*be)->describe(desc, sizeof desc);
    snprintf(line, n, "pgolf_backend:%s %s%s%s", (*be)->name, desc, *note ? "; " : "", note);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: pgolf-box CODE_FILE OUT_DIR (settings from the environment)\n");
        return 2;
    }
    const char *code = argv[1], *out = argv[2];
    pg_hparams h;
    const char *scheme;
    pg_quant_plan plan;
    pg_final_opts fin;
    long long code_bytes;
    const pg_backend *be;
    pg_dist dist;
    int joined;
    char line[1400];
    if (pg_box_libs_load() != 0 || settings(&h, &scheme, &plan, &fin) != 0 ||
        pg_ledger_code_bytes(code, &code_bytes) != 0 || backend(&h, &be, line, sizeof line) != 0 ||
        pg_train_join_launch(be, &dist, &joined) != 0)
        return fail_exit();
    if (!joined || dist.rank == 0)
        printf("%s\n", line);
    /* every rank trains; rank 0 then packs and scores */
    pg_train_opts o = {.out_dir = out, .progress = 1, .backend = be, .dist = joined ? &dist : NULL};
    int rc = pg_train(&h, &o);
    int rank = joined ? dist.rank : 0;
    if (joined)
        pg_dist_close(&dist);
    if (rc != 0)
        return fail_exit();
    if (rank != 0)
        return 0;
    char final_path[PG_PATH_MAX + 16], art[PG_PATH_MAX + 16];
    snprintf(final_path, sizeof final_path, "%s/final.ckpt", out);
    snprintf(art, sizeof art, "%s/model.art", out);
    pg_model m;
    if (pg_checkpoint_load(final_path, &m, NULL) != 0)
        return fail_exit();
    pg_pack_stats st;
    pg_ledger led;
    rc = pg_pack_model(art, &m, &plan, code_bytes, &st, &led);
    pg_model_free(&m);
    if (rc != 0)
        return fail_exit();
    char tag[64];
    pg_pack_tag(scheme, &st, tag, sizeof tag);
    pg_ledger_print(&led, tag, stdout);
    fflush(stdout);
    return score(art, &h, scheme, &fin, be) != 0 ? fail_exit() : 0;
}
