/* The settings registry: every table's rows, exact read-back of printed values, the
 * error of each kind of bad value, and the order of the sources. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "kernels/config.h"
#include "pipeline/runconfig.h"
#include "tests/util.h"

/* Names are unique across the tables; defaults (applied by the presets) are in range. */
START_TEST(test_tables)
{
    pg_run_config c;
    ck_assert_int_eq(pg_run_config_preset(&c, "baseline", "."), 0);
    pg_settings_bind b[PG_RUN_TABLES];
    int n = pg_run_config_bind(&c, b);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(pg_settings_check(b[i].table, b[i].obj) == 0, "%s", pg_errmsg());
        for (size_t k = 0; k < b[i].table->n; k++) {
            const pg_setting *s = &b[i].table->rows[k];
            void *obj;
            ck_assert_ptr_eq(pg_settings_find(b, n, s->name, &obj), s);
            ck_assert_ptr_eq(obj, b[i].obj);
            ck_assert_msg(s->help && *s->help && s->readers, "%s: help and readers", s->name);
        }
    }
    ck_assert_int_eq(pg_run_config_preset(&c, "tiny", t_root()), 0);
    for (int i = 0; i < n; i++)
        ck_assert_msg(pg_settings_check(b[i].table, b[i].obj) == 0, "%s", pg_errmsg());
}
END_TEST

/* Every printed value reads back to the same value, awkward doubles and floats included. */
START_TEST(test_roundtrip)
{
    pg_run_config a, z;
    ck_assert_int_eq(pg_run_config_preset(&a, "tiny", t_root()), 0);
    const char *sets[][2] = {{"TTT_LR", "0.30000000000000004"}, {"MATRIX_LR", "0.1"},
                             {"TIED_EMBED_INIT_STD", "0.3"},   {"ADAM_EPS", "1e-300"},
                             {"TTT_OPTIMIZER", "lora"},         {"RUN_SEEDS", "7,3,2147483647"},
                             {"MLP_ACT", "leaky_relu2"},        {"RUN_ALPHA", "0.049999999999999996"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        ck_assert_msg(pg_run_config_set(&a, sets[i][0], sets[i][1]) == 0, "%s", pg_errmsg());
    json_t *text = pg_run_config_settings(&a);
    ck_assert_int_eq(pg_run_config_preset(&z, "baseline", "."), 0);
    const char *k;
    json_t *v;
    json_object_foreach(text, k, v)
    {
        ck_assert_msg(pg_run_config_set(&z, k, json_string_value(v)) == 0, "%s", pg_errmsg());
    }
    json_t *again = pg_run_config_settings(&z);
    ck_assert(json_equal(text, again));
    json_t *ha = pg_hparams_to_json(&a.h), *hz = pg_hparams_to_json(&z.h);
    ck_assert(json_equal(ha, hz));
    json_t *ta = pg_ttt_report(&a.fin.ttt_opts), *tz = pg_ttt_report(&z.fin.ttt_opts);
    ck_assert(json_equal(ta, tz));
    ck_assert(z.fin.ttt_opts.lr == 0.1 + 0.2 && z.alpha == a.alpha && z.nseeds == 3);
    ck_assert(z.h.model.tied_embed_init_std == 0.3f && z.h.adam_eps == 1e-300);
    ck_assert_str_eq(json_string_value(json_object_get(text, "TTT_LR")), "0.30000000000000004");
    ck_assert_ptr_null(json_object_get(text, "SEED")); /* per stage in a run */
    json_decref(text);
    json_decref(again);
    json_decref(ha);
    json_decref(hz);
    json_decref(ta);
    json_decref(tz);
}
END_TEST

static void expect_error(int rc, const char *want)
{
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(pg_errmsg(), want) != NULL, "got '%s', want '%s'", pg_errmsg(), want);
    ck_assert_ptr_null(strchr(pg_errmsg(), '\n'));
}

START_TEST(test_errors)
{
    pg_run_config c;
    ck_assert_int_eq(pg_run_config_preset(&c, "baseline", "."), 0);
    /* ranges checked when set (TTT_*, RUN_*) */
    expect_error(pg_run_config_set(&c, "TTT_LR", "-1"), "TTT_LR=-1 is out of range: must be in [0, 1e+06]");
    expect_error(pg_run_config_set(&c, "RUN_ALPHA", "1"), "RUN_ALPHA=1 is out of range: must be in (0, 1)");
    expect_error(pg_run_config_set(&c, "TTT_EPOCHS", "1.5"), "TTT_EPOCHS=1.5 is not an integer");
    ck_assert_int_eq(pg_run_config_set(&c, "TTT_EPOCHS", "2e1"), 0); /* 3e4-style integers */
    ck_assert_int_eq(c.fin.ttt_opts.epochs, 20);
    expect_error(pg_run_config_set(&c, "TTT_OPTIMIZER", "adam"),
                 "TTT_OPTIMIZER=adam must be sgd, muon, lora or phased");
    expect_error(pg_run_config_set(&c, "RUN_QUANT", "int3"), "RUN_QUANT=int3 must be int8 or mixed");
    expect_error(pg_run_config_set(&c, "RUN_NAME", "two\nlines"), "RUN_NAME must be one line");
    expect_error(pg_run_config_set(&c, "RUN_DATE", "2026-1-1"), "RUN_DATE=2026-1-1 is not YYYY-MM-DD");
    expect_error(pg_run_config_set(&c, "RUN_SOTA", "best"), "RUN_SOTA=best must be a val_bpb");
    expect_error(pg_run_config_set(&c, "RUN_SEEDS", "1,1"), "seed 1 is listed twice");
    expect_error(pg_run_config_set(&c, "SEED", "1"), "SEED is per stage");
    expect_error(pg_run_config_set(&c, "NOPE", "1"), "unknown setting NOPE");
    expect_error(pg_run_config_set(&c, "LOGIT_SOFTCAP", "inf"), "LOGIT_SOFTCAP=inf is not a number");
    /* ranges of training and the model checked once every source applied */
    ck_assert_int_eq(pg_run_config_set(&c, "BETA2", "1.5"), 0);
    expect_error(pg_hparams_validate(&c.h), "BETA2=1.5 must be in [0, 1)");
    ck_assert_int_eq(pg_run_config_set(&c, "BETA2", "0.5"), 0);
    ck_assert_int_eq(pg_run_config_set(&c, "VOCAB_SIZE", "3"), 0);
    expect_error(pg_hparams_validate(&c.h), "VOCAB_SIZE=3 must be in [4, 65536]");
    ck_assert_int_eq(pg_run_config_set(&c, "VOCAB_SIZE", "1024"), 0);
    ck_assert_int_eq(pg_run_config_set(&c, "MATRIX_LR", "-1"), 0);
    expect_error(pg_hparams_validate(&c.h), "MATRIX_LR=-1 must be >= 0");
    /* a config file: file:line */
    const char *cfg = t_tmp_path("settings-bad.cfg");
    const char *text = "TTT_LR=0.1\nTTT_EPOCHS=x\n";
    t_write_bytes(cfg, text, strlen(text));
    expect_error(pg_run_config_load_file(&c, cfg), "settings-bad.cfg:2: TTT_EPOCHS=x is not an integer");
    /* the environment */
    setenv("TTT_LORA_RANK", "0", 1);
    expect_error(pg_run_config_from_env(&c), "TTT_LORA_RANK=0 is out of range");
    unsetenv("TTT_LORA_RANK");
}
END_TEST

/* preset < config file < environment < set */
/* Settings added later (omit_default): out of the JSON at their default, so the
 * baseline's config JSON is what it was, read back as the default when absent, present
 * when set; each such row's default is written as pgolf prints it. */
START_TEST(test_omit_default)
{
    char text[PG_SETTING_TEXT_MAX];
    pg_model_config c = pg_config_baseline();
    for (size_t i = 0; i < pg_model_settings.n; i++) {
        const pg_setting *s = &pg_model_settings.rows[i];
        if (!s->omit_default)
            continue;
        pg_settings_format(s, &c, text, sizeof text);
        ck_assert_msg(strcmp(text, s->def) == 0, "%s: default %s prints as %s", s->name, s->def,
                      text);
    }
    json_t *j = pg_config_to_json(&c);
    ck_assert_int_eq(json_object_size(j), 12); /* the baseline's twelve keys */
    ck_assert_ptr_null(json_object_get(j, "rope_dims"));
    pg_model_config back;
    ck_assert_int_eq(pg_config_from_json(j, &back, "baseline"), 0);
    ck_assert_mem_eq(&back, &c, sizeof c);
    json_decref(j);
    ck_assert_int_eq(pg_config_set(&c, "ROPE_DIMS", "16"), 0);
    ck_assert_int_eq(pg_config_set(&c, "SPARSE_ATTN_GATE_SCALE", "0.5"), 0);
    j = pg_config_to_json(&c);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "rope_dims")), 16);
    ck_assert(json_real_value(json_object_get(j, "sparse_attn_gate_scale")) == 0.5);
    ck_assert_int_eq(pg_config_from_json(j, &back, "family"), 0);
    ck_assert_int_eq(back.rope_dims, 16);
    json_decref(j);
}
END_TEST

START_TEST(test_precedence)
{
    pg_run_config c;
    ck_assert_int_eq(pg_run_config_preset(&c, "tiny", t_root()), 0);
    ck_assert(c.fin.ttt_opts.lr == 0.03);
    const char *cfg = t_tmp_path("settings-prec.cfg");
    const char *text = "TTT_LR=0.1\nTTT_MOMENTUM=0.5\nRUN_NAME='quoted name'\n";
    t_write_bytes(cfg, text, strlen(text));
    ck_assert_msg(pg_run_config_load_file(&c, cfg) == 0, "%s", pg_errmsg());
    ck_assert(c.fin.ttt_opts.lr == 0.1 && c.fin.ttt_opts.momentum == 0.5);
    ck_assert_str_eq(c.name, "quoted name");
    setenv("TTT_LR", "0.2", 1);
    setenv("TTT_GRAD_CLIP", "", 1); /* empty: not set */
    ck_assert_int_eq(pg_run_config_from_env(&c), 0);
    unsetenv("TTT_LR");
    unsetenv("TTT_GRAD_CLIP");
    ck_assert(c.fin.ttt_opts.lr == 0.2 && c.fin.ttt_opts.momentum == 0.5 && c.fin.ttt_opts.grad_clip == 1);
    ck_assert_int_eq(pg_run_config_set(&c, "TTT_LR", "0.3"), 0);
    ck_assert(c.fin.ttt_opts.lr == 0.3);
}
END_TEST

Suite *suite_settings(void)
{
    Suite *s = suite_create("settings");
    TCase *tc = tcase_create("settings");
    tcase_add_test(tc, test_tables);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_precedence);
    tcase_add_test(tc, test_omit_default);
    suite_add_tcase(s, tc);
    return s;
}
