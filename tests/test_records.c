/* Log parsing and records ingest: lenient shapes, a fixture tree with planted
 * problems, and the real records sample. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "records/history.h"
#include "packager/logparse.h"
#include "tests/util.h"

static void parse_text(const char *text, pg_log_summary *s)
{
    ck_assert_msg(pg_log_parse_text("mem/train_seed7.log", text, strlen(text), s) == 0, "%s",
                  pg_errmsg());
}

START_TEST(test_log_shapes)
{
    pg_log_summary s;
    parse_text("seed:1337\n"
               "step:0/20000 val_loss:6.9370 val_bpb:4.0978 train_time:0ms step_avg:0.01ms\n"
               "step:1/20000 train_loss:6.9357 train_time:27ms step_avg:27.39ms\n"
               "step:13780/20000 val_loss:2.0606 val_bpb:1.2172 train_time:600038ms step_avg:43.54ms\n"
               "stopping_early: wallclock_cap train_time:600038ms step:13780/20000\n"
               "Serialized model: 67224983 bytes\n"
               "Code size: 47642 bytes\n"
               "Total submission size: 67272625 bytes\n"
               "Total submission size int8+zlib: 15863489 bytes\n"
               "final_int8_zlib_roundtrip val_loss:2.0727 val_bpb:1.2244 eval_time:1401ms\n"
               "final_int8_zlib_roundtrip_exact val_loss:2.07269931 val_bpb:1.22436570\n",
               &s);
    ck_assert_double_eq(s.seed.value, 1337);
    ck_assert_int_eq(s.seed.line, 1);
    ck_assert_double_eq(s.val_bpb.value, 1.22436570);
    ck_assert_double_eq(s.val_loss.value, 2.07269931);
    ck_assert_int_eq(s.val_bpb.line, 11);
    ck_assert_str_eq(s.final_tag, "final_int8_zlib_roundtrip_exact");
    ck_assert_double_eq(s.train_ms.value, 600038);
    ck_assert_double_eq(s.steps.value, 13780);
    ck_assert_double_eq(s.max_steps.value, 20000);
    ck_assert_double_eq(s.artifact_bytes.value, 15863489);
    ck_assert_double_eq(s.code_bytes.value, 47642);
    ck_assert_double_eq(s.last_val_bpb.value, 1.2172);
    ck_assert_double_eq(s.eval_time_s.value, 1.401);
    ck_assert(s.stopped_early);
    ck_assert_int_eq(s.nan_line, 0);

    /* spaces after colons, yaml-ish seed, a bare "Total submission:", seconds */
    parse_text("  seed: 42\n"
               "4/20000 train_loss: 9.4 train_time: 120ms\n"
               "stopping_early: wallclock_cap train_time: 590009ms step: 5962/20000\n"
               "INT7+zlib model: 15,370,972 bytes | Total submission: 15441941 bytes\n"
               "quantized_ttt val_loss:2.79180191 val_bpb:1.08079352 eval_time:366525ms\n"
               "total_eval_time:508.8s\n",
               &s);
    ck_assert_double_eq(s.seed.value, 42);
    ck_assert_double_eq(s.train_ms.value, 590009);
    ck_assert_double_eq(s.steps.value, 5962);
    ck_assert_double_eq(s.artifact_bytes.value, 15441941);
    ck_assert_str_eq(s.final_tag, "quantized_ttt");
    ck_assert_double_eq(pg_log_eval_seconds(&s).value, 508.8);
    ck_assert_double_eq(s.eval_time_s.value, 366.525);

    /* the seed from the file name when the log has none; NaN losses found */
    parse_text("step:5/10 train_loss:nan train_time:10ms step_avg:2ms\n", &s);
    ck_assert_double_eq(s.seed.value, 7);
    ck_assert_int_eq(s.seed.line, -1);
    ck_assert_int_eq(s.nan_line, 1);
    ck_assert_int_eq(s.val_bpb.line, 0);

    /* every final evaluation kept with its line; periodic "N/M val_loss" lines are not
     * final ones; a timestamp prefix is skipped */
    parse_text("  seed: 42\n"
               "5449/20000 val_loss: 2.5263 val_bpb: 1.0979\n"
               "[12:00:01] final_int6_sliding_window val_loss:2.50671564 val_bpb:1.08938974 eval_time:76195ms\n"
               "final_int6_ttt val_loss:3.07421378 val_bpb:1.33603200 eval_time:405410ms\n",
               &s);
    ck_assert_int_eq(s.nevals, 2);
    ck_assert_str_eq(s.evals[0].tag, "final_int6_sliding_window");
    ck_assert_int_eq(s.evals[0].line, 3);
    ck_assert_int_eq(s.evals[0].bpb_decimals, 8);
    ck_assert_double_eq(s.evals[1].eval_s, 405.41);
    ck_assert_double_eq(s.last_val_bpb.value, 1.0979);

    /* nothing recognizable */
    ck_assert_int_eq(pg_log_parse_text("junk.log", "hello\nworld\n", 12, &s), -1);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "junk.log: no recognizable log lines"));
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    t_write_bytes(path, text, strlen(text));
}

static const char *make_dir(const char *rel)
{
    static char buf[1100];
    snprintf(buf, sizeof buf, "mkdir -p '%s'", t_tmp_path(rel));
    ck_assert_int_eq(system(buf), 0);
    snprintf(buf, sizeof buf, "%s", t_tmp_path(rel));
    return buf;
}

static void seed_log(const char *dir, int seed, double loss, double bpb)
{
    char name[64], text[512];
    snprintf(name, sizeof name, "train_seed%d.log", seed);
    snprintf(text, sizeof text,
             "seed:%d\nstep:100/100 val_loss:%.4f val_bpb:%.4f train_time:500000ms "
             "step_avg:5000ms\nTotal submission size int8+zlib: 15000000 bytes\n"
             "final_int8_zlib_roundtrip_exact val_loss:%.8f val_bpb:%.8f\n",
             seed, loss, bpb, loss, bpb);
    write_file(dir, name, text);
}

/* A tree: base (2 seeds), a real improvement (3 seeds), a record whose claim beats its
 * logs, one with bad JSON and an unreadable log, and one with a single seed. */
static const char *make_tree(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t_tmp_path("tree"));
    ck_assert_int_eq(system(cmd), 0);
    const char *d = make_dir("tree/track_10min_16mb/2026-01-01_Base");
    seed_log(d, 1, 2.10, 1.2400);
    seed_log(d, 2, 2.11, 1.2410);
    write_file(d, "submission.json", "{\"name\":\"Base\",\"date\":\"2026-01-01\",\"val_bpb\":1.2405}");
    d = make_dir("tree/track_10min_16mb/2026-01-05_Better");
    seed_log(d, 1, 2.00, 1.1800);
    seed_log(d, 2, 2.002, 1.1812);
    seed_log(d, 3, 2.001, 1.1806);
    write_file(d, "submission.json", "{\"name\":\"Better\",\"date\":\"2026-01-05\",\"val_bpb\":1.1806}");
    d = make_dir("tree/track_10min_16mb/2026-01-09_Overclaim");
    seed_log(d, 1, 1.99, 1.1790);
    seed_log(d, 2, 1.995, 1.1795);
    write_file(d, "submission.json", "{\"name\":\"Over\",\"date\":\"2026-01-09\",\"val_bpb\":1.1500}");
    d = make_dir("tree/track_10min_16mb/2026-01-10_BadJson");
    seed_log(d, 1, 1.90, 1.1000);
    seed_log(d, 2, 1.91, 1.1010);
    write_file(d, "garbage.log", "nothing to see\n");
    write_file(d, "submission.json", "{\"name\": \"x\", ");
    d = make_dir("tree/track_10min_16mb/2026-01-12_OneSeed");
    seed_log(d, 1, 1.80, 1.0500);
    write_file(d, "submission.json", "{\"date\":\"2026-01-12\",\"val_bpb\":1.05}");
    return t_tmp_path("tree");
}

static const pg_history_entry *find(const pg_track_history *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strstr(t->e[i].rec.name, name))
            return &t->e[i];
    ck_abort_msg("no record %s", name);
    return NULL;
}

START_TEST(test_fixture_tree)
{
    char tree[1100];
    snprintf(tree, sizeof tree, "%s", make_tree());
    pg_track_history *t;
    size_t nt;
    ck_assert_int_eq(pg_history_build(tree, 0.01, &t, &nt), 0);
    ck_assert_uint_eq(nt, 1);
    ck_assert_str_eq(t[0].name, "10min_16mb");
    ck_assert_uint_eq(t[0].n, 5);
    const pg_history_entry *base = find(&t[0], "Base"), *better = find(&t[0], "Better");
    const pg_history_entry *over = find(&t[0], "Overclaim"), *bad = find(&t[0], "BadJson");
    const pg_history_entry *one = find(&t[0], "OneSeed");
    ck_assert(!base->scored);
    ck_assert_ptr_nonnull(strstr(base->reason, "first record"));
    ck_assert(better->scored);
    ck_assert_double_eq(better->sota_before, 1.2405);
    ck_assert_int_eq(better->j.verdict, PG_VERDICT_RECORD);
    ck_assert(better->j.has_welch); /* the SOTA had 2 seeds */
    ck_assert_str_eq(better->claim_check, "mean");
    ck_assert(!better->flagged);
    ck_assert_str_eq(over->claim_check, "unsupported");
    ck_assert(over->flagged);
    ck_assert_double_eq(over->sota_before, 1.1806);
    /* bad submission.json: reported, scored from logs, its date from the folder name */
    ck_assert_ptr_null(bad->rec.submission);
    ck_assert_ptr_nonnull(strstr(bad->rec.submission_problem, "invalid JSON"));
    ck_assert_uint_eq(bad->rec.nlog_problems, 1);
    ck_assert_ptr_nonnull(strstr(bad->rec.log_problems[0], "garbage.log"));
    ck_assert_str_eq(bad->rec.date, "2026-01-10");
    ck_assert_uint_eq(bad->rec.nseeds, 2);
    ck_assert(!one->scored);
    ck_assert_ptr_nonnull(strstr(one->reason, "1 seed"));
    /* the overclaim became the SOTA (claims are what the leaderboard shows) */
    ck_assert_double_eq(one->sota_before, 1.1005);
    pg_history_free(t, nt);

    t_run_result r = t_pgolf("records '%s' --json --svg '%s'", tree, t_tmp_path("h.svg"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    json_t *arr = json_object_get(json_object_get(j, "tracks"), "10min_16mb");
    ck_assert_uint_eq(json_array_size(arr), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *e = json_array_get(arr, i);
        const char *keys[] = {"record", "date", "val_bpb", "seeds", "sota_before", "t", "df",
                              "p", "verdict"};
        for (int k = 0; k < 9; k++)
            ck_assert_msg(json_object_get(e, keys[k]) != NULL, "missing %s", keys[k]);
        /* unscored records carry null statistics, never NaN */
        if (strcmp(json_string_value(json_object_get(e, "verdict")), "unscored") == 0)
            ck_assert(json_is_null(json_object_get(e, "p")));
    }
    json_decref(j);
    size_t len;
    unsigned char *svg = t_read_bytes(t_tmp_path("h.svg"), &len);
    svg = realloc(svg, len + 1);
    svg[len] = 0;
    ck_assert_ptr_nonnull(strstr((char *)svg, "<polyline"));
    ck_assert_ptr_nonnull(strstr((char *)svg, "Overclaim"));
    free(svg);
    r = t_pgolf("records '%s'", t_tmpdir());
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "no track_"));
}
END_TEST

/* Runs behind each real folder's val_bpb claim (one run's score: that run plus the same
 * evaluation of each other seed, as its README tests them), written down per folder. */
static const struct {
    const char *folder;
    size_t seeds;
} SAMPLE_SEEDS[] = {
    {"2026-03-17_LoRA_TTT", 1}, /* four versions of one seed-1337 run; v3 is claimed */
    {"2026-03-17_NaiveBaseline", 1},
    {"2026-03-18_LongContextSeq2048", 3},
    {"2026-03-19_Seq2048_FP16Emb_TunedLR", 3},
    {"2026-03-19_int6_STE QAT_ MLP_bigram _U_Net", 1}, /* a lone train.log, no claim */
    {"2026-03-20_11L_XSA4_EMA_Int6_MLP3x_WD04_1.1271", 3}, /* train.log repeats seed 1337 */
    {"2026-03-23_LeakyReLU_LegalTTT_ParallelMuon", 3},
    {"2026-03-24_74M_Ternary_UNet_FP8_10L_8192BPE_YaRN_NeoMuon", 3},
    {"2026-04-01_Vocab4096_MLPMult4_WD085", 3},
    {"2026-04-04_SP4096_DepthRecurrence_ParallelResid_MuonEqR", 3},
    {"2026-04-09_SP8192_3LayerRecur_ParResid_QK525_LegalTTT", 3},
    {"2026-04-10_VarLenAttn", 3}, /* logs/train0..2.txt */
    {"2026-04-18_PR1626_CaseOps_Taper", 3},
    {"2026-04-27_SP8192_LQER_SparseGate_BOSSmearFix_9HpStack_1.0611", 3},
    {"2026-04-29_SmearGateBOSFix_3Seed_1.06141", 3}, /* the originals, not the re-runs */
    {"2026-03-18_Quasi10Bfrom50B_SP1024_9x512_KV4_4h_pgut3", 1},
    {"2026-03-31_LegendreGPT", 1},
};

static size_t expected_seeds(const char *folder)
{
    for (size_t i = 0; i < sizeof SAMPLE_SEEDS / sizeof *SAMPLE_SEEDS; i++)
        if (strcmp(SAMPLE_SEEDS[i].folder, folder) == 0)
            return SAMPLE_SEEDS[i].seeds;
    ck_abort_msg("%s: no expectation written down", folder);
    return 0;
}

/* The seed_results entry whose val_bpb is v (NULL if none). */
static json_t *claimed_entry(json_t *sr, double v)
{
    const char *key;
    json_t *e;
    json_object_foreach(sr, key, e)
        if (fabs(json_number_value(json_object_get(e, "val_bpb")) - v) < 6e-6)
            return e;
    return NULL;
}

/* Per-seed numbers of every folder in the records sample, as their submission.json
 * states them where it does. */
START_TEST(test_records_sample)
{
    const char *tree = t_shared_path("records-sample");
    if (!tree)
        T_SKIP("../shared/data/records-sample is absent");
    char tree_copy[1024];
    snprintf(tree_copy, sizeof tree_copy, "%s", tree);
    pg_track_history *t;
    size_t nt;
    ck_assert_int_eq(pg_history_build(tree_copy, 0.01, &t, &nt), 0);
    size_t folders = 0;
    for (size_t k = 0; k < nt; k++)
        for (size_t i = 0; i < t[k].n; i++) {
            const pg_history_entry *e = &t[k].e[i];
            folders++;
            ck_assert_msg(e->rec.seeds_from_logs, "%s: no scores in logs", e->rec.name);
            ck_assert_msg(e->rec.nseeds == expected_seeds(e->rec.name), "%s: %zu seeds",
                          e->rec.name, e->rec.nseeds);
            json_t *sr = json_object_get(e->rec.submission, "seed_results");
            for (size_t s = 0; sr && s < e->rec.nseeds; s++) {
                json_t *claim = claimed_entry(sr, e->rec.seeds[s].val_bpb);
                ck_assert_msg(claim != NULL, "%s: %s's val_bpb %.8f is in no seed_results entry",
                              e->rec.name, e->rec.seeds[s].source, e->rec.seeds[s].val_bpb);
                json_t *bytes = json_object_get(claim, "artifact_bytes");
                if (bytes && e->rec.seeds[s].artifact_bytes >= 0)
                    ck_assert_double_eq(e->rec.seeds[s].artifact_bytes,
                                        json_number_value(bytes));
            }
        }
    ck_assert_uint_eq(folders, sizeof SAMPLE_SEEDS / sizeof *SAMPLE_SEEDS);
    for (size_t k = 0; k < nt; k++)
        for (size_t i = 0; i < t[k].n; i++)
            if (strstr(t[k].e[i].rec.name, "LegendreGPT")) /* claims 1.2266, log says 1.2353 */
                ck_assert_str_eq(t[k].e[i].claim_check, "unsupported");
    pg_history_free(t, nt);
}
END_TEST

Suite *suite_records(void)
{
    Suite *s = suite_create("records");
    TCase *tc = tcase_create("records");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_log_shapes);
    tcase_add_test(tc, test_fixture_tree);
    tcase_add_test(tc, test_records_sample);
    suite_add_tcase(s, tc);
    return s;
}
