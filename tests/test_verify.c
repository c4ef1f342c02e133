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

/* What a reviewer signs for each real folder of the sample, written down after reading
 * its files: FAIL and UNKNOWN findings expected (by name prefix, all others must be PASS
 * or NOTE), the runs the val_bpb claim rests on, and one check with its status. */
typedef struct {
    const char *folder;
    const char *fails;    /* space-separated check-name prefixes expected to FAIL */
    const char *unknowns; /* ... expected UNKNOWN */
    size_t seeds;         /* pg_record.nseeds */
    const char *check;
    pg_check_status status;
    const char *why;
} sample_expect;

static const sample_expect SAMPLE[] = {
    {"2026-03-17_LoRA_TTT", "limits.train_time.train_v1.txt hardware.world_size.train_v1.txt", "",
     1, "claim.val_bpb", PG_CHECK_PASS,
     "claim 1.1929 is train_v3.txt's final_int8_ttt_lora; v0-v2 are earlier versions of seed "
     "1337, and the README's p-value list (line 43) uses all four, so train_v1.txt, trained "
     "2400 s on 2 GPUs, is evidence held to the limits"},
    {"2026-03-17_NaiveBaseline", "", "", 1, "claim.bytes_total", PG_CHECK_PASS,
     "one run, claim = final_int8_zlib_roundtrip_exact, bytes_total = logged total"},
    {"2026-03-18_LongContextSeq2048", "", "", 3, "claim.val_bpb", PG_CHECK_NOTE,
     "claim is seed 1337's score (train.log), the README t-tests all 3 seeds"},
    {"2026-03-19_Seq2048_FP16Emb_TunedLR", "", "readme.val_bpb readme.val_loss", 3,
     "claim.bytes_total", PG_CHECK_PASS,
     "claim is seed 3's sliding score; bytes_total is seed 1337's (largest) total; the README "
     "states only the 3-seed means (1.1598, 1.9583), not the json's 1.15862 / 1.95628"},
    {"2026-03-19_int6_STE QAT_ MLP_bigram _U_Net", "files.readme files.submission_json limits.artifact_bytes", "",
     1, "limits.artifact_bytes.train.log", PG_CHECK_FAIL,
     "only a train.log: no README or submission.json, artifact 16,186,500 bytes > 16,000,000"},
    {"2026-03-20_11L_XSA4_EMA_Int6_MLP3x_WD04_1.1271", "", "", 3, "runs.shared_seed.1337", PG_CHECK_NOTE,
     "claim is seed 1337's score; train.log and train_seed1337.log are the same seed"},
    {"2026-03-23_LeakyReLU_LegalTTT_ParallelMuon", "", "", 3, "claim.val_bpb", PG_CHECK_PASS,
     "1.1194 = mean of the three legal_ttt_exact lines"},
    {"2026-03-24_74M_Ternary_UNet_FP8_10L_8192BPE_YaRN_NeoMuon", "", "readme.val_bpb", 3,
     "limits.artifact_bytes.ternary_log_42.txt", PG_CHECK_PASS,
     "submission_ternary.json; seeds as s:N; sizes as budget:N/16000000; claim = seed 42's "
     "1.1565 while the README's headline is the 3-seed mean 1.1570"},
    {"2026-04-01_Vocab4096_MLPMult4_WD085", "", "", 3, "claim.val_bpb_std", PG_CHECK_PASS,
     "3 seeds, claims, std and per-seed bytes/steps all match the logs"},
    {"2026-04-04_SP4096_DepthRecurrence_ParallelResid_MuonEqR", "", "tokenizer.byte_accounting", 3,
     "claim.seed_results.42", PG_CHECK_PASS,
     "seed 42's claim is the sliding line 133, not the failed extra TTT eval at 277; vocab 4096"},
    {"2026-04-09_SP8192_3LayerRecur_ParResid_QK525_LegalTTT", "", "limits.work_after_cap", 3,
     "claim.val_bpb", PG_CHECK_PASS,
     "GPTQ Hessians (12.7 s) after 588 s of training end at ~600.7 s"},
    {"2026-04-10_VarLenAttn", "", "", 3, "claim.seed_results.0", PG_CHECK_NOTE,
     "logs in logs/, named train0..2 with no seed printed: matched by value"},
    {"2026-04-18_PR1626_CaseOps_Taper", "", "claim.seed_results.0 tokenizer.byte_accounting", 3,
     "claim.seed_results.0", PG_CHECK_UNKNOWN,
     "train_seed0.log says seed: 1337; a byte sidecar computes the BPB"},
    {"2026-04-27_SP8192_LQER_SparseGate_BOSSmearFix_9HpStack_1.0611", "",
     "limits.work_after_cap tokenizer.byte_accounting", 3, "claim.val_loss", PG_CHECK_PASS,
     "GPTQ Hessians after a 599.5 s training; byte sidecar"},
    {"2026-04-29_SmearGateBOSFix_3Seed_1.06141", "", "limits.work_after_cap tokenizer.byte_accounting", 3,
     "claim.compliance_rerun.seed_results.42", PG_CHECK_PASS,
     "claims = the original runs, compliance_rerun claims = the reruns; originals calibrate past 600 s"},
    {"2026-03-18_Quasi10Bfrom50B_SP1024_9x512_KV4_4h_pgut3", "", "", 1, "limits.train_time.train.log",
     PG_CHECK_NOTE, "non-record-unlimited-compute-16mb: 4 h of training is allowed"},
    {"2026-03-31_LegendreGPT", "claim.val_bpb claim.val_loss", "claim.bytes_total", 1, "claim.val_bpb",
     PG_CHECK_FAIL,
     "1.2266 comes from an unlogged post-hoc quantization; the log's only final score is 1.2353"},
};

/* Whether name starts with one of the space-separated prefixes. */
static int listed(const char *list, const char *name)
{
    char buf[300];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "))
        if (strncmp(name, t, strlen(t)) == 0)
            return 1;
    return 0;
}

static const sample_expect *expectation(const char *folder)
{
    for (size_t i = 0; i < sizeof SAMPLE / sizeof *SAMPLE; i++)
        if (strcmp(SAMPLE[i].folder, folder) == 0)
            return &SAMPLE[i];
    return NULL;
}

START_TEST(test_records_sample_expectations)
{
    const char *tree = t_shared_path("records-sample");
    if (!tree)
        T_SKIP("../shared/data/records-sample is absent");
    char root[1024];
    snprintf(root, sizeof root, "%s", tree);
    char **dirs;
    size_t n;
    ck_assert_int_eq(pg_records_tree_list(root, &dirs, &n), 0);
    ck_assert_uint_eq(n, sizeof SAMPLE / sizeof *SAMPLE);
    for (size_t i = 0; i < n; i++) {
        pg_record r;
        pg_checks c;
        ck_assert_int_eq(pg_verify_record(dirs[i], &r, &c), 0);
        const sample_expect *x = expectation(r.name);
        ck_assert_msg(x != NULL, "%s: no expectation written down", r.name);
        for (size_t k = 0; k < c.n; k++) {
            const pg_check *f = &c.v[k];
            if (f->status == PG_CHECK_FAIL)
                ck_assert_msg(listed(x->fails, f->name), "%s: unexpected FAIL %s %s", r.name,
                              f->name, f->evidence);
            if (f->status == PG_CHECK_UNKNOWN)
                ck_assert_msg(listed(x->unknowns, f->name), "%s: unexpected UNKNOWN %s %s",
                              r.name, f->name, f->evidence);
        }
        char buf[300];
        snprintf(buf, sizeof buf, "%s %s", x->fails, x->unknowns);
        for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
            const pg_check *f = find_check(&c, t);
            ck_assert_msg(f && f->status != PG_CHECK_PASS, "%s: %s expected (%s)", r.name, t, x->why);
        }
        const pg_check *k = find_check(&c, x->check);
        ck_assert_msg(k && k->status == x->status, "%s: %s should be %s (%s): %s", r.name,
                      x->check, pg_check_status_name(x->status), x->why,
                      k ? k->evidence : "missing");
        ck_assert_msg(r.nseeds == x->seeds, "%s: %zu seeds, expected %zu", r.name, r.nseeds,
                      x->seeds);
        /* every number extracted names the log line it came from */
        for (size_t s = 0; s < r.nseeds; s++)
            ck_assert_msg(strchr(r.seeds[s].source, ':'), "%s: %s", r.name, r.seeds[s].source);
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
    ck_assert_int_eq(status_of(dir, "limits.artifact_bytes.train_seed2.log"), PG_CHECK_FAIL);
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "atcap"));
    seed_log(dir, 3, 1.2020, 16000000, 500000, "");
    ck_assert_int_eq(status_of(dir, "limits.artifact_bytes.train_seed3.log"), PG_CHECK_PASS);

    /* a claim better than every run is contradicted, on the record track and off it */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "overclaim"));
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":1.1500}");
    ck_assert_int_eq(status_of(dir, "claim.val_bpb"), PG_CHECK_FAIL);
    snprintf(dir, sizeof dir, "%s", make_folder("track_non_record_16mb", "overclaim"));
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":1.1500}");
    ck_assert_int_eq(status_of(dir, "claim.val_bpb"), PG_CHECK_FAIL);
    /* a claim between the runs that equals none of them nor their mean: unsupported */
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":1.2015}");
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

/* The classes of wrong findings seen on real folders, each planted in a fixture. */
START_TEST(test_wrong_finding_classes)
{
    char dir[1100], cmd[4000];
    /* several final evaluations: the claim is the sliding one, a failed TTT eval follows */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "multieval"));
    seed_log(dir, 2, 1.2010, 15000100, 500000, "");
    snprintf(cmd, sizeof cmd, "printf 'final_ttt val_loss:3.07 val_bpb:1.33603200 eval_time:405410ms\\n' >> '%s/train_seed2.log'", dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(status_of(dir, "claim.val_bpb"), PG_CHECK_PASS);
    ck_assert_int_eq(status_of(dir, "claim.seed_results.1"), PG_CHECK_PASS);

    /* the same seed twice (original + re-run): both kept, claims matched to the originals */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "rerun"));
    snprintf(cmd, sizeof cmd, "cd '%s' && sed 's/1.20100000/1.20500000/' train_seed2.log > train_seed2_rerun.log", dir);
    ck_assert_int_eq(system(cmd), 0);
    pg_record r;
    pg_checks c;
    ck_assert_int_eq(pg_verify_record(dir, &r, &c), 0);
    ck_assert_uint_eq(r.nlogs, 4);
    ck_assert_uint_eq(r.nseeds, 3);
    ck_assert_int_eq(find_check(&c, "claim.val_bpb")->status, PG_CHECK_PASS);
    ck_assert_int_eq(find_check(&c, "runs.shared_seed.2")->status, PG_CHECK_NOTE);
    ck_assert_int_eq(find_check(&c, "runs.unclaimed.train_seed2_rerun.log")->status, PG_CHECK_NOTE);
    pg_checks_free(&c);
    pg_record_free(&r);
    /* notes are hidden unless --all */
    t_run_result tr = t_pgolf("verify '%s'", dir);
    ck_assert_ptr_null(strstr(tr.out, "runs.shared_seed"));
    tr = t_pgolf("verify '%s' --all", dir);
    ck_assert_ptr_nonnull(strstr(tr.out, "NOTE    runs.shared_seed.2"));

    /* logs in a subfolder, no "train" in the name, seed_N / s:N / timestamps,
     * submission_*.json, sizes as budget:N/16000000 */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "shapes"));
    snprintf(cmd, sizeof cmd,
             "cd '%s' && mkdir logs && mv train_seed1.log logs/run_seed_1.txt && "
             "sed -i 's/^seed:1/[2026-04-01 10:00:00] params:9 ws:8 s:1/' logs/run_seed_1.txt && "
             "sed -i 's/^Total submission size int8+zlib: \\([0-9]*\\) bytes/budget:\\1\\/16000000 FITS/' logs/run_seed_1.txt && "
             "sed -i 's/^/2026-04-01 10:00:00 - /' train_seed3.log && mv submission.json submission_fx.json",
             dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(pg_verify_record(dir, &r, &c), 0);
    ck_assert_ptr_nonnull(r.submission);
    ck_assert_uint_eq(r.nlogs, 3);
    ck_assert_int_eq(find_check(&c, "claim.val_bpb")->status, PG_CHECK_PASS);
    ck_assert_int_eq(find_check(&c, "limits.artifact_bytes.run_seed_1.txt")->status, PG_CHECK_PASS);
    ck_assert_int_eq(find_check(&c, "limits.artifact_bytes.train_seed3.log")->status, PG_CHECK_PASS);
    for (size_t i = 0; i < r.nlogs; i++)
        ck_assert_msg(r.logs[i].seed.line > 0, "%s: seed not read", r.logs[i].path);
    pg_checks_free(&c);
    pg_record_free(&r);

    /* a file name saying one seed and the log another */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "misnamed"));
    snprintf(cmd, sizeof cmd, "sed -i 's/^seed:1$/seed:1337/' '%s/train_seed1.log'", dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(pg_verify_record(dir, &r, &c), 0);
    const pg_check *k = find_check(&c, "claim.seed_results.1");
    ck_assert_int_eq(k->status, PG_CHECK_UNKNOWN);
    ck_assert_msg(strstr(k->evidence, "that log says seed: 1337 (line 1)"), "%s", k->evidence);
    pg_checks_free(&c);
    pg_record_free(&r);

    /* the track from the json, hyphens as underscores: unlimited compute is not held to 600 s */
    snprintf(dir, sizeof dir, "%s", make_folder("track_non_record_16mb", "unlimited"));
    seed_log(dir, 1, 1.2000, 15000000, 14400000, "");
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":1.2010,"
               "\"track\":\"non-record-unlimited-compute-16mb\"}");
    ck_assert_int_eq(status_of(dir, "limits.train_time.train_seed1.log"), PG_CHECK_NOTE);
    seed_log(dir, 1, 1.2000, 16500000, 500000, "");
    ck_assert_int_eq(status_of(dir, "limits.artifact_bytes.train_seed1.log"), PG_CHECK_FAIL);

    /* bytes_total = logged model bytes + the submitted bytes_code */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "modelcode"));
    snprintf(cmd, sizeof cmd, "sed -i 's/^Code size: 50000 bytes/Serialized model int8+zlib: 14900000 bytes/' '%s/train_seed1.log'", dir);
    ck_assert_int_eq(system(cmd), 0);
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":1.2010,"
               "\"bytes_total\":14958000,\"bytes_code\":58000}");
    ck_assert_int_eq(status_of(dir, "claim.bytes_total"), PG_CHECK_PASS);

    /* a claimed run with another world size, one with other settings */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "world"));
    seed_log(dir, 3, 1.2020, 15000200, 500000, "");
    snprintf(cmd, sizeof cmd, "sed -i '1a world_size:2 grad_accum_steps:4' '%s/train_seed3.log' && "
             "sed -i '1a world_size:8 grad_accum_steps:1' '%s/train_seed1.log' '%s/train_seed2.log'", dir, dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(status_of(dir, "hardware.world_size.train_seed3.log"), PG_CHECK_FAIL);
    ck_assert_int_eq(status_of(dir, "runs.same_config"), PG_CHECK_FAIL);
    ck_assert_int_eq(status_of(dir, "hardware.world_size.train_seed1.log"), PG_CHECK_PASS);

    /* pgolf train's output directory (its first line's out:) is not a setting */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "outdirs"));
    seed_log(dir, 3, 1.2020, 15000200, 500000, "");
    snprintf(cmd, sizeof cmd, "for s in 1 2 3; do sed -i \"1i pgolf_train version:x backend:cpu "
             "out:run$s\" '%s/train_seed'$s.log; done", dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(status_of(dir, "runs.same_config"), PG_CHECK_PASS);
}
END_TEST

/* The evidence of one check of dir (a static copy), after asserting its status. */
static const char *evidence_of(const char *dir, const char *check, pg_check_status want)
{
    static char ev[700];
    pg_record r;
    pg_checks c;
    ck_assert_int_eq(pg_verify_record(dir, &r, &c), 0);
    const pg_check *k = find_check(&c, check);
    ck_assert_msg(k && k->status == want, "%s: %s %s", check,
                  k ? pg_check_status_name(k->status) : "", k ? k->evidence : "missing");
    snprintf(ev, sizeof ev, "%s", k->evidence);
    pg_checks_free(&c);
    pg_record_free(&r);
    return ev;
}

static void append(const char *dir, const char *name, const char *text)
{
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "printf '%%s' '%s' >> '%s/%s'", text, dir, name);
    ck_assert_int_eq(system(cmd), 0);
}

/* Impossible numbers and misleading file problems (issue 15): never a PASS. */
START_TEST(test_impossible_values)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "negative"));
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":-1,"
               "\"bytes_total\":-5,\"val_bpb_std\":-0.1,\"val_loss\":0,"
               "\"seed_results\":{\"1\":{\"val_bpb\":11,\"artifact_bytes\":-2}}}");
    const char *ev = evidence_of(dir, "submission.values", PG_CHECK_FAIL);
    const char *want[] = {"val_bpb=-1", "bytes_total=-5", "val_bpb_std=-0.1", "val_loss=0",
                          "seed_results.1.val_bpb=11", "seed_results.1.artifact_bytes=-2"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(strstr(ev, want[i]), "%s not in %s", want[i], ev);
    /* no check passes on the impossible bytes_total */
    pg_record r;
    pg_checks c;
    ck_assert_int_eq(pg_verify_record(dir, &r, &c), 0);
    ck_assert_ptr_null(find_check(&c, "limits.bytes_total_claim"));
    ck_assert_ptr_null(find_check(&c, "claim.bytes_total"));
    ck_assert_int_eq(find_check(&c, "claim.val_bpb")->status, PG_CHECK_FAIL);
    pg_checks_free(&c);
    pg_record_free(&r);
    t_run_result tr = t_pgolf("verify '%s'", dir);
    ck_assert_int_eq(tr.status, 1);
    ck_assert_ptr_null(strstr(tr.out, "PASS    limits.bytes_total"));

    /* a final score of nan in a log never passes */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "nanscore"));
    append(dir, "train_seed2.log", "final_sliding_window val_loss:2.1 val_bpb:nan eval_time:1000ms\n");
    ck_assert_int_eq(status_of(dir, "log.train_seed2.log.final_score"), PG_CHECK_FAIL);
    ck_assert_int_eq(status_of(dir, "log.train_seed2.log.finite_losses"), PG_CHECK_FAIL);

    /* submission.json as a directory, and as a loop of symbolic links */
    char cmd[2400];
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "jsondir"));
    snprintf(cmd, sizeof cmd, "cd '%s' && rm submission.json && mkdir submission.json", dir);
    ck_assert_int_eq(system(cmd), 0);
    ev = evidence_of(dir, "files.submission_json", PG_CHECK_FAIL);
    ck_assert_msg(strstr(ev, "is a directory") && !strstr(ev, "invalid JSON"), "%s", ev);
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "jsonloop"));
    snprintf(cmd, sizeof cmd,
             "cd '%s' && rm submission.json && ln -s loop_a loop_b && ln -s loop_b loop_a && "
             "ln -s loop_a submission.json",
             dir);
    ck_assert_int_eq(system(cmd), 0);
    ev = evidence_of(dir, "files.submission_json", PG_CHECK_FAIL);
    ck_assert_msg(strstr(ev, "loop of symbolic links") && !strstr(ev, "missing"), "%s", ev);

    /* off the record track a claim better than every run still FAILs, and verify exits 1 */
    snprintf(dir, sizeof dir, "%s", make_folder("track_non_record_16mb", "overclaim_exit"));
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":1.1900,"
               "\"track\":\"non-record-16mb\"}");
    tr = t_pgolf("verify '%s'", dir);
    ck_assert_int_eq(tr.status, 1);
    ck_assert_msg(strstr(tr.out, "FAIL    claim.val_bpb"), "%s", tr.out);
}
END_TEST

/* The README's numbers against submission.json, and work after the training cap. */
/* Reviewer round 2 (findings on real folders): a signed gain is not impossible; a per-seed
 * field its own log contradicts FAILs; a val_bpb no evidence supports FAILs when every
 * claimed seed has its log; unix-time prefixed logs parse, and progress or timing lines
 * after training are not settings. */
START_TEST(test_round2_findings)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "signed_gain"));
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":1.2010,"
               "\"val_loss\":2.1,\"seed_results\":{\"1\":{\"val_bpb\":1.2,\"ttt_gain_bpb\":-0.0123,"
               "\"delta_nats\":-0.02}}}");
    ck_assert_int_eq(status_of(dir, "submission.values"), PG_CHECK_PASS);

    /* artifact_bytes 15000000 claimed for all three seeds; the logs say ...000, ...100, ...200 */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "seed_bytes"));
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":1.2010,"
               "\"val_loss\":2.1,\"seed_results\":{"
               "\"1\":{\"val_bpb\":1.2,\"artifact_bytes\":15000000},"
               "\"2\":{\"val_bpb\":1.201,\"artifact_bytes\":15000000},"
               "\"3\":{\"val_bpb\":1.202,\"artifact_bytes\":15000000}}}");
    ck_assert_int_eq(status_of(dir, "claim.seed_results.1"), PG_CHECK_PASS);
    const char *ev = evidence_of(dir, "claim.seed_results.2", PG_CHECK_FAIL);
    ck_assert_msg(strstr(ev, "artifact_bytes 15000000 vs 15000100"), "%s", ev);
    ck_assert_int_eq(status_of(dir, "claim.seed_results.3"), PG_CHECK_FAIL);

    /* 1.2050: no run, no mean over the logged seeds, not better than all; every claimed
     * seed has its log -> FAIL (UNKNOWN while a claimed seed's log is missing) */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "unsupported"));
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":1.2050,"
               "\"val_loss\":2.1,\"seed_results\":{\"1\":{\"val_bpb\":1.2},\"2\":{\"val_bpb\":1.201}}}");
    ev = evidence_of(dir, "claim.val_bpb", PG_CHECK_FAIL);
    ck_assert_msg(strstr(ev, "supported by none of the evidence"), "%s", ev);
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":1.2050,"
               "\"val_loss\":2.1,\"seed_results\":{\"1\":{\"val_bpb\":1.2},\"9\":{\"val_bpb\":1.21}}}");
    ck_assert_int_eq(status_of(dir, "claim.val_bpb"), PG_CHECK_UNKNOWN);

    /* logs as the April records keep them in logs/: every line after a unix time; their
     * hyperparameter dump agrees, their TTT progress and timings differ */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "unix_time"));
    for (int seed = 1; seed <= 3; seed++) {
        char name[64], text[2048];
        snprintf(name, sizeof name, "train_seed%d.log", seed);
        snprintf(text, sizeof text,
                 "1776142360.540 Hyperparameters:\n1776142360.540   seed: %d\n"
                 "1776142360.540   num_layers: 11\n1776142360.541   ttt_lora_rank: 96\n"
                 "1776142684.924 warmup_step: 1/20\n"
                 "1776142690.001 1/20000 train_loss: 9.0089 train_time: 0.0m tok/s: 16515307\n"
                 "1776143349.278 stopping_early: wallclock_cap train_time: 58709%dms step: 483%d/20000\n"
                 "1776143349.300 Total submission size quantized+brotli: 1500000%d bytes\n"
                 "1776143501.933 diagnostic quantized val_loss:2.79852399 val_bpb:1.%d0000000 eval_time:55851ms\n"
                 "1776143600.000 ttpp: phase:1/1 pd:2000 gd:2000 t:25%d.3s\n"
                 "1776144156.999 quantized_ttt_phased val_loss:2.76951521 val_bpb:1.20%d00000 eval_time:500104ms\n"
                 "1776144157.000 total_eval_time:41%d.5s\n",
                 seed, seed, seed, seed, seed, seed, seed - 1, seed);
        write_file(dir, name, text);
    }
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":1.201,"
               "\"seed_results\":{\"1\":{\"val_bpb\":1.2},\"2\":{\"val_bpb\":1.201},\"3\":{\"val_bpb\":1.202}}}");
    pg_record r;
    pg_checks c;
    ck_assert_int_eq(pg_verify_record(dir, &r, &c), 0);
    for (size_t i = 0; i < r.nlogs; i++) {
        ck_assert_msg(r.logs[i].train_ms.line > 0 && r.logs[i].steps.line > 0,
                      "%s: no train_time or steps", r.logs[i].path);
        ck_assert_int_eq(r.logs[i].nconfig, 3); /* seed, num_layers, ttt_lora_rank */
    }
    ck_assert_int_eq(find_check(&c, "claim.val_bpb")->status, PG_CHECK_PASS);
    ck_assert_ptr_null(find_check(&c, "runs.seed_selection"));
    const pg_check *same = find_check(&c, "runs.same_config");
    ck_assert_msg(same && same->status == PG_CHECK_PASS, "%s", same ? same->evidence : "none");
    pg_checks_free(&c);
    pg_record_free(&r);

    /* the best 3 of 5 logged seeds claimed: the subset, the mean over all five and the
     * significance test on all five against the README's SOTA are reported */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "best_subset"));
    seed_log(dir, 4, 1.2100, 15000000, 500000, "");
    seed_log(dir, 5, 1.2200, 15000000, 500000, "");
    write_file(dir, "README.md", "# fixture\n\nBeats the previous SOTA 1.2500.\n");
    write_file(dir, "submission.json",
               "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":1.2010,"
               "\"val_loss\":2.1,\"seed_results\":{\"1\":{\"val_bpb\":1.2},\"2\":{\"val_bpb\":1.201},"
               "\"3\":{\"val_bpb\":1.202}}}");
    ev = evidence_of(dir, "runs.seed_selection", PG_CHECK_NOTE);
    ck_assert_msg(strstr(ev, "mean of 3 of the 5 seeds logged (seeds 1, 2, 3") &&
                      strstr(ev, "the mean over all 5 would be 1.2066"),
                  "%s", ev);
    t_run_result tr = t_pgolf("verify '%s' --all", dir);
    const char *sig = strstr(tr.out, "NOTE    runs.seed_selection.significance");
    ck_assert_msg(sig && strstr(sig, "on all 5 logged seeds against the README's SOTA 1.25"),
                  "%s", tr.out);
}
END_TEST

START_TEST(test_readme_and_work_after_cap)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "readme"));
    write_file(dir, "README.md",
               "# Record: fixture, val_bpb 1.2010\n\n"
               "Pre-quant eval: val_bpb:1.1500\n"
               "Statistical significance vs SOTA (1.2244 BPB)\n"
               "| seed | val_bpb |\n|---|---|\n| 1 | 1.2000 |\n"
               "- Total submission size int8+zlib: `15,000,200 bytes`\n");
    const char *ev = evidence_of(dir, "readme.val_bpb", PG_CHECK_PASS);
    ck_assert_msg(strstr(ev, "README.md:1 states val_bpb 1.2010"), "%s", ev);
    ck_assert_int_eq(status_of(dir, "readme.bytes_total"), PG_CHECK_PASS);
    pg_record r;
    pg_checks c;
    ck_assert_int_eq(pg_verify_record(dir, &r, &c), 0);
    ck_assert_ptr_null(find_check(&c, "readme.val_loss")); /* the README states none */
    pg_checks_free(&c);
    pg_record_free(&r);
    /* a headline the json does not carry, named with its line */
    write_file(dir, "README.md",
               "# fixture\n\n**val_bpb = 1.1900** (3-seed mean)\n\n"
               "Total submission size: 15,999,999 bytes\n");
    ev = evidence_of(dir, "readme.val_bpb", PG_CHECK_UNKNOWN);
    ck_assert_msg(strstr(ev, "1.1900 (a mean) at line 3") && strstr(ev, "1.201"), "%s", ev);
    ck_assert_int_eq(status_of(dir, "readme.bytes_total"), PG_CHECK_UNKNOWN);

    /* GPTQ calibration logged after the wall-clock stop, with no time */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "calib"));
    write_file(dir, "train_seed1.log",
               "seed:1\nstep:100/100 val_loss:2.1 val_bpb:1.2000 train_time:599000ms step_avg:50ms\n"
               "stopping_early: wallclock_cap train_time:599000ms step:100/20000\n"
               "GPTQ:collecting Hessians from calibration data...\n"
               "Total submission size int8+zlib: 15000000 bytes\n"
               "final_int8_zlib_roundtrip_exact val_loss:2.10000000 val_bpb:1.20000000 eval_time:2000ms\n");
    ev = evidence_of(dir, "limits.work_after_cap.train_seed1.log", PG_CHECK_UNKNOWN);
    ck_assert_msg(strstr(ev, "train_seed1.log:4") && strstr(ev, "(line 3)"), "%s", ev);
    /* with its time: training + calibration against 600 s */
    append(dir, "train_seed1.log", "GPTQ:collected 66 Hessians in 8.2s\n");
    ck_assert_int_eq(status_of(dir, "limits.work_after_cap.train_seed1.log"), PG_CHECK_UNKNOWN);

    /* FORCE_STOP_STEP: training stopped at a set step; past 600 s it breaks the cap */
    snprintf(dir, sizeof dir, "%s", make_folder("track_10min_16mb", "forced"));
    seed_log(dir, 1, 1.2000, 15000000, 500000, "FORCE_STOP_STEP=100\n");
    ck_assert_int_eq(status_of(dir, "limits.forced_stop.train_seed1.log"), PG_CHECK_NOTE);
    seed_log(dir, 1, 1.2000, 15000000, 650000, "");
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "sed -i '1i   force_stop_step: 100' '%s/train_seed1.log'", dir);
    ck_assert_int_eq(system(cmd), 0);
    ev = evidence_of(dir, "limits.forced_stop.train_seed1.log", PG_CHECK_FAIL);
    ck_assert_msg(strstr(ev, "train_seed1.log:1: FORCE_STOP_STEP=100"), "%s", ev);
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
    tcase_add_test(tc, test_records_sample_expectations);
    tcase_add_test(tc, test_planted_problems);
    tcase_add_test(tc, test_wrong_finding_classes);
    tcase_add_test(tc, test_impossible_values);
    tcase_add_test(tc, test_round2_findings);
    tcase_add_test(tc, test_readme_and_work_after_cap);
    tcase_add_test(tc, test_rerun);
    suite_add_tcase(s, tc);
    return s;
}
