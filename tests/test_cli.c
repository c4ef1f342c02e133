/* The pgolf command line: help, usage errors and init. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/checkpoint.h"
#include "pipeline/runconfig.h"
#include "tests/util.h"

START_TEST(test_help)
{
    t_run_result r = t_pgolf("help");
    ck_assert_int_eq(r.status, 0);
    const char *cmds[] = {"data", "tokenizer", "init", "eval"};
    for (int i = 0; i < 4; i++)
        ck_assert_ptr_nonnull(strstr(r.out, cmds[i]));
    r = t_pgolf("help eval");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "--stride"));
    r = t_pgolf("eval --help");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "--tokenizer"));
    r = t_pgolf("help nope");
    ck_assert_int_eq(r.status, 2);
    r = t_pgolf("nope");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "unknown command 'nope'"));
    r = t_pgolf("%s", "");
    ck_assert_int_eq(r.status, 2);
    r = t_pgolf("version");
    ck_assert_int_eq(r.status, 0);
}
END_TEST

START_TEST(test_init_flags_env)
{
    const char *p = t_tmp_path("cli.ckpt");
    /* env sets the shape, a flag overrides it */
    t_run_result r = t_pgolf("init --preset tiny --set NUM_LAYERS=2 --out '%s'", p);
    ck_assert_msg(r.status == 0, "%s", r.err);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "init --preset tiny --set MODEL_DIM=32 --out '%s'", p);
    r = t_pgolf("%s", cmd);
    ck_assert_int_eq(r.status, 0);
    pg_model m;
    ck_assert_int_eq(pg_checkpoint_load(p, &m, NULL), 0);
    ck_assert_int_eq(m.cfg.model_dim, 32);
    ck_assert_int_eq(m.cfg.num_layers, 4);
    pg_model_free(&m);
    snprintf(cmd, sizeof cmd, "init --preset tiny --out '%s'", p);
    char envcmd[1300];
    snprintf(envcmd, sizeof envcmd, "NUM_LAYERS=6 MODEL_DIM=16 \"$PGOLF_BIN\" %s >/dev/null", cmd);
    ck_assert_int_eq(system(envcmd) == 0 ? 0 : 1, 0);
    ck_assert_int_eq(pg_checkpoint_load(p, &m, NULL), 0);
    ck_assert_int_eq(m.cfg.num_layers, 6);
    ck_assert_int_eq(m.cfg.model_dim, 16);
    pg_model_free(&m);
    /* bad values: clear one-line errors, exit 1 */
    r = t_pgolf("init --preset tiny --set NUM_HEADS=5 --out '%s'", p);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "NUM_HEADS=5 does not divide MODEL_DIM=64"));
    ck_assert_int_eq(t_count_lines(r.err), 1);
    r = t_pgolf("init --preset tiny --set MODEL_DIM=abc --out '%s'", p);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "MODEL_DIM=abc is not an integer"));
    r = t_pgolf("init --preset huge --out '%s'", p);
    ck_assert_int_eq(r.status, 2);
    r = t_pgolf("init --preset tiny");
    ck_assert_int_eq(r.status, 2);
}
END_TEST

/* `pgolf help settings` lists every row of every table: its line names the setting, its
 * range (or choices), who reads it and its default, and the next line its help. */
START_TEST(test_help_settings)
{
    t_run_result r = t_pgolf("help settings");
    ck_assert_int_eq(r.status, 0);
    pg_run_config c;
    ck_assert_int_eq(pg_run_config_preset(&c, "baseline", "."), 0);
    pg_settings_bind b[PG_RUN_TABLES];
    int n = pg_run_config_bind(&c, b), rows = 0;
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < b[i].table->n; k++, rows++) {
            const pg_setting *s = &b[i].table->rows[k];
            char key[80], range[96], line[600];
            snprintf(key, sizeof key, "\n  %s ", s->name);
            const char *at = strstr(r.out, key);
            ck_assert_msg(at != NULL, "%s is not listed", s->name);
            const char *nl = strchr(at + 1, '\n'), *nl2 = strchr(nl + 1, '\n');
            snprintf(line, sizeof line, "%.*s", (int)(nl2 - at), at);
            pg_settings_range(s, range, sizeof range);
            ck_assert_msg(strstr(line, s->choices ? s->choices : range), "%s: range", line);
            ck_assert_msg(strstr(line, *s->def ? s->def : "\"\""), "%s: default", line);
            ck_assert_msg(strstr(line, s->help), "%s: help", line);
            static const char *const readers[] = {"model", "train", "ttt", "run"};
            for (int bit = 0; bit < 4; bit++)
                ck_assert_msg(!(s->readers & (1u << bit)) || strstr(line, readers[bit]),
                              "%s: readers", line);
        }
    ck_assert_int_gt(rows, 60);
    ck_assert_ptr_nonnull(strstr(r.out, "TTT_LORA_RANK"));
    ck_assert_ptr_nonnull(strstr(r.out, "[1, 4096]"));
    ck_assert_ptr_nonnull(strstr(r.out, "(read when TTT_OPTIMIZER=lora)"));
    r = t_pgolf("help");
    ck_assert_ptr_nonnull(strstr(r.out, "pgolf help settings"));
}
END_TEST

/* Long options are spelled in full; near misses are named. */
START_TEST(test_abbreviated_options_refused)
{
    const char *out = t_tmp_path("abbrev_run");
    t_run_result r = t_pgolf("run --preset tiny --seed 42 --out %s", out);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--seed is not an option here; did you mean --seeds?"));
    ck_assert_int_ne(access(out, F_OK), 0); /* nothing was started */
    r = t_pgolf("eval x --dat y");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "did you mean --data?"));
    r = t_pgolf("init --preset tiny --out=%s --seed=3", t_tmp_path("full.ckpt"));
    ck_assert_msg(r.status == 0, "%s", r.err); /* --name=value spelled in full still works */
}
END_TEST

/* An environment variable one edit from a setting, or with a settings prefix, is a
 * warning; real settings and pgolf's other variables are not. */
START_TEST(test_env_near_miss_warned)
{
    setenv("ITERATION", "5", 1);
    setenv("TTT_EPOCHZ", "2", 1);
    setenv("TTT_EPOCHS", "2", 1);
    setenv("PGOLF_X", "1", 1);
    t_run_result r = t_pgolf("train --preset tiny --set ITERATIONS=1 --set VAL_LOSS_EVERY=0 --out %s",
                             t_tmp_path("env1"));
    unsetenv("ITERATION");
    unsetenv("TTT_EPOCHZ");
    unsetenv("TTT_EPOCHS");
    unsetenv("PGOLF_X");
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "ITERATION is not a setting; did you mean ITERATIONS?"));
    ck_assert_ptr_nonnull(strstr(r.err, "TTT_EPOCHZ is not a setting; did you mean TTT_EPOCHS?"));
    ck_assert_ptr_null(strstr(r.err, "PGOLF_X"));
    ck_assert_ptr_null(strstr(r.err, "variable TTT_EPOCHS "));
}
END_TEST

/* The selftest harness against itself (the CPU backend's ops must agree bit for bit),
 * then the CUDA backend: its table on a GPU, or one SKIP line and exit 77 without one. */
START_TEST(test_selftest)
{
    t_run_result r = t_pgolf("selftest --backend cpu --tiny");
    ck_assert_msg(r.status == 0, "%s%s", r.out, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "selftest: 125 checks, 0 failed"));
    ck_assert_ptr_nonnull(strstr(r.out, "attention_bwd dk       "));
    r = t_pgolf("selftest --backend cuda");
    if (r.status == 77) {
        ck_assert_msg(strncmp(r.out, "SKIP: pgolf selftest: --backend cuda: ", 38) == 0 &&
                          t_count_lines(r.out) == 1, "%s", r.out);
        fprintf(stderr, "%s", r.out); /* the skip, said once in the test log */
        return;
    }
    ck_assert_msg(r.status == 0, "selftest --backend cuda failed:\n%s%s", r.out, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, " 0 failed ("));
}
END_TEST

/* make install PREFIX=P, then P/bin/pgolf finds its sample and sources from any working
 * directory; a lone copy of the binary says how to point it at them. */
START_TEST(test_install_runs_from_anywhere)
{
    const char *bin = getenv("PGOLF_BIN");
    char prefix[600], cmd[4096];
    snprintf(prefix, sizeof prefix, "%s", t_tmp_path("prefix"));
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C '%s' install "
             "PREFIX='%s' PGOLF='%s' -o '%s' >/dev/null",
             prefix, t_repo_path("."), prefix, bin, bin);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/elsewhere' && cd '%s/elsewhere' && env -u PGOLF_ROOT '%s/bin/pgolf' "
             "train --preset tiny --set ITERATIONS=2 --set VAL_LOSS_EVERY=0 --set "
             "TRAIN_BATCH_TOKENS=1024 --set TRAIN_SEQ_LEN=64 --out t >/dev/null 2>&1 && "
             "grep -q '^config:DATA_PATH=.*/share/pgolf/data/sample$' t/train.log",
             prefix, prefix, prefix);
    ck_assert_int_eq(system(cmd), 0);
    /* outside the prefix: no ../share/pgolf beside it */
    char lonely[600], lone[700];
    snprintf(lonely, sizeof lonely, "%s", t_tmp_path("lonely"));
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s/bin/pgolf' '%s/lone'", lonely, prefix, lonely);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(lone, sizeof lone, "cd '%s' && env -u PGOLF_ROOT ./lone", lonely);
    snprintf(cmd, sizeof cmd, "%s train --preset tiny --out t2 2>&1 | grep -q 'set PGOLF_ROOT'",
             lone);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

Suite *suite_cli(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_init_flags_env);
    tcase_add_test(tc, test_help_settings);
    tcase_add_test(tc, test_abbreviated_options_refused);
    tcase_add_test(tc, test_env_near_miss_warned);
    tcase_add_test(tc, test_selftest);
    tcase_add_test(tc, test_install_runs_from_anywhere);
    suite_add_tcase(s, tc);
    return s;
}
