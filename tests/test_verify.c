/* pgolf verify: no false FAIL on the real records sample, every planted problem caught
 * in fixture folders, and --rerun of pgolf artifacts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "train/train.h"
#include "verifier/verify.h"
#include "tests/util.h"

static const pg_check *find_check(const pg_checks *c, const char *prefix)
{
    for (size_t i = 0; i < c->n; i++)
        if (strncmp(c->v[i].name, prefix, strlen(prefix)) == 0)
            return &c->v[i];
    return NULL;
}

START_TEST(test_records_sample_no_false_fail)
{
    const char *tree = t_shared_path("records-sample");
    if (!tree)
        T_SKIP("../shared/data/records-sample is absent");
    char root[1024];
    snprintf(root, sizeof root, "%s", tree);
    char **dirs;
    size_t n;
    ck_assert_int_eq(pg_records_tree_list(root, &dirs, &n), 0);
    ck_assert_uint_eq(n, 9);
    for (size_t i = 0; i < n; i++) {
        pg_record r;
        pg_checks c;
        ck_assert_int_eq(pg_verify_record(dirs[i], &r, &c), 0);
        for (size_t k = 0; k < c.n; k++)
            ck_assert_msg(c.v[k].status != PG_CHECK_FAIL, "%s: %s %s", r.name, c.v[k].name,
                          c.v[k].evidence);
        /* the per-seed numbers extracted are the ones submission.json states */
        json_t *sr = json_object_get(r.submission, "seed_results");
        for (size_t s = 0; sr && s < r.nseeds; s++) {
            char key[32];
            snprintf(key, sizeof key, "%ld", r.seeds[s].seed);
            json_t *e = json_object_get(sr, key);
            ck_assert_ptr_nonnull(e);
            ck_assert(fabs(json_number_value(json_object_get(e, "val_bpb")) - r.seeds[s].val_bpb) < 6e-6);
            json_t *ab = json_object_get(e, "artifact_bytes");
            if (ab)
                ck_assert_double_eq(json_number_value(ab), r.seeds[s].artifact_bytes);
        }
        if (!sr && isfinite(r.claimed_bpb) && r.nseeds == 1)
            ck_assert(fabs(r.claimed_bpb - r.seeds[0].val_bpb) < 1e-4 ||
                      strstr(r.name, "LegendreGPT"));
        ck_assert_ptr_nonnull(find_check(&c, "limits.artifact_bytes"));
        pg_checks_free(&c);
        pg_record_free(&r);
        free(dirs[i]);
    }
    free(dirs);
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    t_write_bytes(path, text, strlen(text));
}

static void seed_log(const char *dir, int seed, double bpb, double bytes, double train_ms,
                     const char *extra)
{
    char name[64], text[1024];
    snprintf(name, sizeof name, "train_seed%d.log", seed);
    snprintf(text, sizeof text,
             "seed:%d\nstep:1/100 train_loss:6.9 train_time:10ms step_avg:10ms\n%s"
             "step:100/100 val_loss:2.1 val_bpb:%.4f train_time:%.0fms step_avg:50ms\n"
             "Code size: 50000 bytes\nTotal submission size int8+zlib: %.0f bytes\n"
             "final_int8_zlib_roundtrip val_loss:2.1 val_bpb:%.4f eval_time:2000ms\n"
             "final_int8_zlib_roundtrip_exact val_loss:2.10000000 val_bpb:%.8f\n",
             seed, extra, bpb, train_ms, bytes, bpb, bpb);
    write_file(dir, name, text);
}

/* A clean folder: 3 seeds, claims matching their mean. Returns its path. */
static const char *make_folder(const char *track, const char *name)
{
    static char dir[1100];
    char cmd[2400];
    snprintf(dir, sizeof dir, "%s/%s/%s", t_tmp_path("vtree"), track, name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    seed_log(dir, 1, 1.2000, 15000000, 500000, "");
    seed_log(dir, 2, 1.2010, 15000100, 500000, "");
    seed_log(dir, 3, 1.2020, 15000200, 500000, "");
    write_file(dir, "README.md", "# fixture\n");
    write_file(dir, "train_gpt.py", "print('hi')\n");
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"github_id\":\"me\",\"blurb\":\"b\","
               "\"date\":\"2026-05-01\",\"val_loss\":2.1,\"val_bpb\":1.2010,\"val_bpb_std\":0.001,"
               "\"bytes_total\":15000200,\"bytes_code\":50000,\"seed_results\":{\"1\":{\"val_bpb\":1.2,"
               "\"artifact_bytes\":15000000}}}");
    return dir;
}

static pg_check_status status_of(const char *dir, const char *check)
{
    pg_record r;
    pg_checks c;
    ck_assert_int_eq(pg_verify_record(dir, &r, &c), 0);
    const pg_check *k = find_check(&c, check);
    ck_assert_msg(k != NULL, "no check %s", check);
    pg_check_status s = k->status;
    pg_checks_free(&c);
    pg_record_free(&r);
    return s;
}

START_TEST(test_planted_problems)
{
    char dir[1100], cmd[2400];
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "clean"));
    t_run_result r = t_pgolf("verify '%s' --json", dir);
    ck_assert_msg(r.status == 0, "%s %s", r.out, r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "summary"), "fail")), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "seeds")), 3);
    json_t *s0 = json_array_get(json_object_get(j, "seeds"), 0);
    const char *keys[] = {"seed", "val_loss", "val_bpb", "artifact_bytes", "train_ms"};
    for (int i = 0; i < 5; i++)
        ck_assert_ptr_nonnull(json_object_get(s0, keys[i]));
    json_t *c0 = json_array_get(json_object_get(j, "checks"), 0);
    ck_assert_ptr_nonnull(json_object_get(c0, "evidence"));
    json_decref(j);

    /* missing file */
    snprintf(cmd, sizeof cmd, "rm '%s/README.md'", dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(status_of(dir, "files.readme"), PG_CHECK_FAIL);
    r = t_pgolf("verify '%s'", dir);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.out, "FAIL    files.readme"));

    /* bad JSON */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "badjson"));
    write_file(dir, "submission.json", "{\"name\": ");
    ck_assert_int_eq(status_of(dir, "files.submission_json"), PG_CHECK_FAIL);

    /* a seed over the byte cap */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "oversize"));
    seed_log(dir, 2, 1.2010, 16000001, 500000, "");
    ck_assert_int_eq(status_of(dir, "limits.artifact_bytes"), PG_CHECK_FAIL);
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "atcap"));
    seed_log(dir, 3, 1.2020, 16000000, 500000, "");
    ck_assert_int_eq(status_of(dir, "limits.artifact_bytes"), PG_CHECK_PASS);

    /* claim != logs, on the record track and off it */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "overclaim"));
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":1.1500}");
    ck_assert_int_eq(status_of(dir, "claim.val_bpb"), PG_CHECK_FAIL);
    snprintf(dir, sizeof dir, "%s", make_folder("track_non_record_16mb", "overclaim"));
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":1.1500}");
    ck_assert_int_eq(status_of(dir, "claim.val_bpb"), PG_CHECK_UNKNOWN);

    /* per-seed claim that disagrees with its log; missing required keys */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "seedclaim"));
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"date\":\"2026-05-01\",\"val_bpb\":1.2010,"
               "\"seed_results\":{\"2\":{\"val_bpb\":1.19,\"artifact_bytes\":15000100}}}");
    ck_assert_int_eq(status_of(dir, "claim.seed_results.2"), PG_CHECK_FAIL);
    ck_assert_int_eq(status_of(dir, "submission.required_keys"), PG_CHECK_FAIL);

    /* training past the cap without a wall-clock stop; a NaN loss */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "slow"));
    seed_log(dir, 1, 1.2000, 15000000, 700000, "");
    ck_assert_int_eq(status_of(dir, "limits.train_time.train_seed1.log"), PG_CHECK_FAIL);
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "nan"));
    seed_log(dir, 2, 1.2010, 15000100, 500000, "step:2/100 train_loss:nan train_time:20ms\n");
    ck_assert_int_eq(status_of(dir, "log.train_seed2.log.finite_losses"), PG_CHECK_FAIL);
    /* a claimed std the logs do not give */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "std"));
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":1.2010,"
               "\"val_bpb_std\":0.01}");
    ck_assert_int_eq(status_of(dir, "claim.val_bpb_std"), PG_CHECK_FAIL);
    /* an unreadable folder is an error, not a report */
    r = t_pgolf("verify '%s/nope'", t_tmpdir());
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot open directory"));
}
END_TEST

START_TEST(test_rerun)
{
    pg_hparams h;
    pg_hparams_tiny(&h, t_root());
    const char *sets[][2] = {{"NUM_LAYERS", "2"},     {"MODEL_DIM", "32"},
                             {"TRAIN_SEQ_LEN", "32"}, {"TRAIN_BATCH_TOKENS", "512"},
                             {"ITERATIONS", "8"},     {"VAL_LOSS_EVERY", "0"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        ck_assert_int_eq(pg_hparams_set(&h, sets[i][0], sets[i][1]), 0);
    char dir[1100], cmd[2400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t_tmp_path("rerun"));
    ck_assert_int_eq(system(cmd), 0);
    snprintf(dir, sizeof dir, "%s", t_tmp_path("rerun"));
    pg_train_opts o = {.out_dir = dir, .quiet = 1};
    ck_assert_msg(pg_train(&h, &o) == 0, "%s", pg_errmsg());
    char data[1100], tok[1100];
    snprintf(data, sizeof data, "%s", t_repo_path("data/sample"));
    snprintf(tok, sizeof tok, "%s", t_repo_path("data/sample/sample_1024_bpe.model"));
    t_run_result r = t_pgolf("verify '%s' --rerun --data '%s' --tokenizer '%s'", dir, data, tok);
    ck_assert_msg(strstr(r.out, "PASS    rerun.final.ckpt"), "%s", r.out);
    /* an artifact is re-scored too: fp32 packing is lossless, so it matches the log */
    r = t_pgolf("pack '%s/final.ckpt' --out '%s/model.art' --scheme mixed --group embed=fp32 --group attn=fp32 "
                "--group mlp=fp32", dir, dir);
    ck_assert_msg(r.status == 0, "%s", r.err);
    r = t_pgolf("verify '%s' --rerun --data '%s' --tokenizer '%s'", dir, data, tok);
    ck_assert_msg(strstr(r.out, "PASS    rerun.model.art"), "%s", r.out);
    /* a log whose final score was edited no longer matches the artifact */
    snprintf(cmd, sizeof cmd, "sed -i 's/^\\(final_fp32_exact .*val_bpb:\\)[0-9.]*/\\19.87654321/' "
             "'%s/train.log'", dir);
    ck_assert_int_eq(system(cmd), 0);
    r = t_pgolf("verify '%s' --rerun --data '%s' --tokenizer '%s'", dir, data, tok);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.out, "FAIL    rerun.final.ckpt"), "%s", r.out);
}
END_TEST

Suite *suite_verify(void)
{
    Suite *s = suite_create("verify");
    TCase *tc = tcase_create("verify");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_records_sample_no_false_fail);
    tcase_add_test(tc, test_planted_problems);
    tcase_add_test(tc, test_rerun);
    suite_add_tcase(s, tc);
    return s;
}
