/* The program train_gpt.py builds on the challenge's box (docs/box.md):
 *
 *   pgolf-box CODE_FILE OUT_DIR
 *
 * trains with the settings of the environment (PGOLF_PRESET tiny|baseline, then the
 * reference's variables: DATA_PATH, TOKENIZER_PATH (a pieces table), ITERATIONS, ...),
 * packs the final model (PGOLF_SCHEME int8|mixed) against the byte cap with CODE_FILE's
 * size as the code bytes, then scores the artifact as written, printing the reference's
 * final lines. The same library code as `pgolf train`, `pgolf pack` and `pgolf eval`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "dataset/val.h"
#include "kernels/checkpoint.h"
#include "kernels/eval.h"
#include "packager/box/dl.h"
#include "packager/pack.h"
#include "train/train.h"

static int fail_exit(void)
{
    fprintf(stderr, "pgolf-box: %s\n", pg_errmsg());
    return 1;
}

static int settings(pg_hparams *h, const char **scheme, pg_quant_plan *plan)
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
    return pg_hparams_from_env(h) != 0 || pg_hparams_validate(h) != 0 ? -1 : 0;
}

/* Scores the artifact as written, with the reference's final_<tag> lines. */
static int score(const char *art, const pg_hparams *h, const char *tag)
{
    pg_model m;
    if (pg_artifact_load(art, &m, NULL) != 0)
        return -1;
    pg_bpb_lut lut;
    uint16_t *val;
    size_t nval;
    int rc = pg_val_load(h->tokenizer_path, h->data_path, m.cfg.vocab_size, &lut, &val, &nval);
    if (rc != 0) {
        pg_model_free(&m);
        return -1;
    }
    pg_eval_opts o = {.mode = PG_EVAL_STANDARD, .seq_len = m.cfg.seq_len, .stride = 1,
                      .batch = 4, .progress = 1};
    pg_eval_result r;
    rc = pg_eval_run(&m, val, nval, &lut, &o, &r, NULL);
    if (rc == 0) {
        printf("final_%s_roundtrip val_loss:%.4f val_bpb:%.4f\n", tag, r.val_loss, r.val_bpb);
        printf("final_%s_roundtrip_exact val_loss:%.8f val_bpb:%.8f\n", tag, r.val_loss,
               r.val_bpb);
    }
    free(val);
    pg_bpb_lut_free(&lut);
    pg_model_free(&m);
    return rc;
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
    long long code_bytes;
    if (pg_box_libs_load() != 0 || settings(&h, &scheme, &plan) != 0 ||
        pg_ledger_code_bytes(code, &code_bytes) != 0)
        return fail_exit();
    pg_train_opts o = {.out_dir = out, .progress = 1};
    if (pg_train(&h, &o) != 0)
        return fail_exit();
    char final_path[PG_PATH_MAX + 16], art[PG_PATH_MAX + 16];
    snprintf(final_path, sizeof final_path, "%s/final.ckpt", out);
    snprintf(art, sizeof art, "%s/model.art", out);
    pg_model m;
    if (pg_checkpoint_load(final_path, &m, NULL) != 0)
        return fail_exit();
    pg_pack_stats st;
    pg_ledger led;
    int rc = pg_pack_model(art, &m, &plan, code_bytes, &st, &led);
    pg_model_free(&m);
    if (rc != 0)
        return fail_exit();
    char tag[64];
    pg_pack_tag(scheme, &st, tag, sizeof tag);
    pg_ledger_print(&led, tag, stdout);
    fflush(stdout);
    return score(art, &h, scheme) != 0 ? fail_exit() : 0;
}
