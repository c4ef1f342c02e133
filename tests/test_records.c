/* Log parsing and records ingest: lenient shapes, a fixture tree with planted
 * problems, and the real records sample. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "records/history.h"
#include "packager/logparse.h"
#include "packager/readme.h"
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
    ck_assert_int_eq(pg_history_build(tree, NULL, 0.01, &t, &nt), 0);
    ck_assert_uint_eq(nt, 1);
    ck_assert_str_eq(t[0].name, "10min_16mb");
    ck_assert_uint_eq(t[0].n, 5);
    const pg_history_entry *base = find(&t[0], "Base"), *better = find(&t[0], "Better");
    const pg_history_entry *over = find(&t[0], "Overclaim"), *bad = find(&t[0], "BadJson");
    const pg_history_entry *one = find(&t[0], "OneSeed");
    ck_assert(!base->scored);
    ck_assert_ptr_nonnull(strstr(base->reason, "no earlier record-track score"));
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
    /* neither the overclaim nor the folder without a readable claim becomes the SOTA */
    ck_assert(!over->candidate && !bad->candidate);
    ck_assert_double_eq(one->sota_before, 1.1806);
    ck_assert_str_eq(one->sota_name, "2026-01-05_Better");
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

/* What a README states about itself and what it compared against. */
START_TEST(test_readme_statements)
{
    const char *text =
        "# Record: 1.1570 BPB \xe2\x80\x94 fixture\n"
        "Previous: [PR #70](https://x/pull/70) (9L, 1.1659) \xe2\x86\x92 [PR #198](https://x/pull/198) "
        "(11L, 1.1318) \xe2\x86\x92 this\n"
        "Pre-quant eval at stop: `val_loss:2.0606`, `val_bpb:1.2172`\n"
        "**Mean val_bpb (sliding): 1.1598** (std: 0.00120)\n"
        "| Seed | val_bpb |\n|---|---|\n| 1 | 1.1500 |\n"
        "```\nval_bpb: 1.0000\n```\n"
        "Original mean 1.06145 vs re-run mean 1.06141\n"
        "- Total submission size int8+zlib: `15,863,489 bytes` (cap 16,000,000 bytes)\n"
        "val_bpb_std: 0.0004\n";
    pg_readme r;
    ck_assert_int_eq(pg_readme_parse_text("R.md", text, strlen(text), &r), 0);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_int_eq(r.v[0].kind, PG_README_BPB); /* the title */
    ck_assert_double_eq(r.v[0].value, 1.157);
    ck_assert_int_eq(r.v[0].decimals, 4);
    ck_assert_int_eq(r.v[0].line, 1);
    ck_assert_int_eq(r.v[1].kind, PG_README_BPB); /* the mean, not the pre-quant line */
    ck_assert_double_eq(r.v[1].value, 1.1598);
    ck_assert(r.v[1].mean);
    ck_assert_int_eq(r.v[1].line, 4);
    ck_assert_int_eq(r.v[2].kind, PG_README_BYTES);
    ck_assert_double_eq(r.v[2].value, 15863489);
    /* the last of a chain of previous records */
    ck_assert_double_eq(r.stated_sota, 1.1318);
    ck_assert_int_eq(r.stated_sota_line, 2);
    pg_readme_free(&r);
    const char *cases[][2] = {
        {"Merged SOTA (PR #1019): **1.1147 BPB**. Delta: **-0.0250 BPB**.\n", "1.1147"},
        {"Statistical significance vs SOTA (1.2244 BPB / 2.0727 val_loss):\n", "1.2244"},
        {"Merged record bpb ([PR #1493](https://x/pull/1493)): bpb=1.0810 (**delta=0.0076**)\n",
         "1.081"},
        {"The public repo state has `Naive Baseline` at `1.2243657`.\n", "1.2243657"},
        {"**val_bpb: 1.0611** vs 1.0810\n", "1.081"},
        {"Original mean 1.06145 vs re-run mean 1.06141\n", "none"},
        {"| Baseline (cross-doc) | 2.0731 | 1.2278 |\n", "none"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ck_assert_int_eq(pg_readme_parse_text("R.md", cases[i][0], strlen(cases[i][0]), &r), 0);
        char got[32];
        snprintf(got, sizeof got, isfinite(r.stated_sota) ? "%.8g" : "none", r.stated_sota);
        ck_assert_msg(strcmp(got, cases[i][1]) == 0, "%s: %s", cases[i][0], got);
        pg_readme_free(&r);
    }
}
END_TEST

/* A leaderboard table made here, over the fixture tree: order, dates, the SOTA before
 * each record, the README's stated comparison, both tests, and the unknown tokens/byte. */
static const char *BOARD =
    "# Challenge\n\n## Leaderboard\n\n"
    "| Run | Score | Author | Summary | Date | Info |\n"
    "|-----|------:|--------|---------|------|------|\n"
    "| Better run | 1.1806 | b | x | 2026-01-05 | [info](records/track_10min_16mb/2026-01-05_Better/README.md) |\n"
    "| Outside | 1.2000 | o | not in the tree | 2026-01-03 | [info](https://github.com/x/pull/9) |\n"
    "| Base run | 1.2405 | a | matched by score and date | 2026-01-01 | [info](https://github.com/x/pull/1) |\n"
    "| Same day earlier | 1.2500 | a | x | 2026-01-01 | [info](https://github.com/x/pull/0) |\n"
    "\n#### Unlimited Compute Leaderboard & Non-record Submissions\n\n"
    "| Run | Score | Author | Summary | Date | Info |\n"
    "|-----|------:|--------|---------|------|------|\n"
    "| Long run | 1.0000 | z | x | 2026-01-02 | [info](records/track_non_record_16mb/2026-01-02_Long/README.md) |\n";

static const char *make_board_tree(void)
{
    const char *tree = make_tree();
    char tree_copy[1100];
    snprintf(tree_copy, sizeof tree_copy, "%s", tree);
    write_file(t_tmp_path("tree/track_10min_16mb/2026-01-05_Better"), "README.md",
               "Statistical significance vs SOTA (1.2405 BPB)\n");
    const char *d = make_dir("tree/track_10min_16mb/2026-01-07_NoLoss");
    write_file(d, "submission.json",
               "{\"date\":\"2026-01-07\",\"val_bpb\":1.17,\"seed_results\":{\"1\":{\"val_bpb\":1.169},"
               "\"2\":{\"val_bpb\":1.171}}}");
    d = make_dir("tree/track_non_record_16mb/2026-01-02_Long");
    seed_log(d, 1, 1.70, 1.0000);
    write_file(d, "submission.json", "{\"date\":\"2026-01-02\",\"val_bpb\":1.0}");
    t_write_bytes(t_tmp_path("board.md"), BOARD, strlen(BOARD));
    return t_tmp_path("tree");
}

START_TEST(test_leaderboard_fixture)
{
    char tree[1100], board_path[1100];
    snprintf(tree, sizeof tree, "%s", make_board_tree());
    snprintf(board_path, sizeof board_path, "%s", t_tmp_path("board.md"));
    pg_leaderboard b;
    ck_assert_msg(pg_leaderboard_load(board_path, &b) == 0, "%s", pg_errmsg());
    ck_assert_uint_eq(b.n, 5);
    ck_assert_str_eq(b.rows[0].folder, "2026-01-05_Better");
    ck_assert_int_eq(b.rows[0].line, 7);
    ck_assert(b.rows[3].record_track && !b.rows[4].record_track);
    /* time order: by date, and the lower of two same-day rows first */
    ck_assert_int_eq(b.rows[3].chrono, 0);
    ck_assert_int_eq(b.rows[2].chrono, 1);
    ck_assert_int_eq(b.rows[0].chrono, 4);

    pg_track_history *t;
    size_t nt;
    ck_assert_msg(pg_history_build(tree, &b, 0.01, &t, &nt) == 0, "%s", pg_errmsg());
    const pg_history_entry *base = find(&t[0], "Base"), *better = find(&t[0], "Better");
    const pg_history_entry *over = find(&t[0], "Overclaim"), *noloss = find(&t[0], "NoLoss");
    /* Base: matched by score and date; the row below it on its day came first */
    ck_assert_str_eq(base->board.run, "Base run");
    ck_assert_double_eq(base->sota_before, 1.25);
    ck_assert(base->scored && base->unshifted);
    /* Better: the best earlier row is one the tree lacks, so no Welch test */
    ck_assert_double_eq(better->sota_before, 1.2);
    ck_assert_str_eq(better->sota_name, "Outside");
    ck_assert_ptr_nonnull(strstr(better->sota_source, "board.md:8"));
    ck_assert(better->scored && !better->j.has_welch && !better->j0.has_welch);
    ck_assert_double_eq(better->stated_sota, 1.2405);
    ck_assert_int_eq(better->stated_line, 1);
    /* the thresholded test is the unshifted one moved by 0.005 nats in BPB */
    ck_assert(better->j.threshold_bpb > 0);
    ck_assert_double_eq_tol(better->j.one.target, 1.2 - better->j.threshold_bpb, 1e-12);
    ck_assert_double_eq(better->j0.one.target, 1.2);
    ck_assert(better->j.one.p > better->j0.one.p);
    /* not listed: the best row dated before it; Welch against that row's folder */
    ck_assert_int_eq(over->board.line, 0);
    ck_assert_double_eq(over->sota_before, 1.1806);
    ck_assert(over->scored && over->j.has_welch && over->j0.has_welch);
    ck_assert_uint_eq(over->j.sota_s.n, 3);
    /* no val_loss per seed: no BPB threshold is made up, the unshifted test still runs */
    ck_assert(!noloss->scored && noloss->unshifted);
    ck_assert_ptr_nonnull(strstr(noloss->threshold_reason, "tokens/byte unknown"));
    ck_assert_uint_eq(nt, 2);
    ck_assert(!t[1].e[0].record_track && !t[1].e[0].unshifted);
    ck_assert_ptr_nonnull(strstr(t[1].e[0].reason, "non-record"));
    pg_history_free(t, nt);
    pg_leaderboard_free(&b);

    t_run_result r = t_pgolf("records '%s' --leaderboard '%s'", tree, board_path);
    ck_assert_msg(r.status == 0, "%s", r.err);
    const char *want[] = {"SOTA to beat: 1.2 Outside", "README states 1.2405 (line 1)",
                          "unshifted (threshold 0): one-sample",
                          "thresholded test not run: tokens/byte unknown",
                          "leaderboard: \"Base run\" 1.2405", "leaderboard: not listed"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(strstr(r.out, want[i]), "%s not in:\n%s", want[i], r.out);
    r = t_pgolf("records '%s' --leaderboard '%s' --json", tree, board_path);
    json_t *j = json_loads(r.out, 0, NULL);
    json_t *arr = json_object_get(json_object_get(j, "tracks"), "10min_16mb");
    size_t i;
    json_t *e;
    int seen = 0;
    json_array_foreach(arr, i, e) if (strstr(json_string_value(json_object_get(e, "record")), "Better"))
    {
        seen = 1;
        ck_assert(json_is_real(json_object_get(json_object_get(e, "unshifted"), "p")));
        ck_assert(json_is_real(json_object_get(e, "p")));
        ck_assert_double_eq(json_real_value(json_object_get(json_object_get(e, "stated_sota"), "value")),
                            1.2405);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(e, "leaderboard"), "run")),
                         "Better run");
    }
    ck_assert(seen);
    json_decref(j);
}
END_TEST

/* Malformed leaderboards: one line naming FILE:LINE or the file. */
START_TEST(test_leaderboard_errors)
{
    char tree[1100];
    snprintf(tree, sizeof tree, "%s", make_tree());
    const char *bad = "## Leaderboard\n\n| Run | Score | Date | Info |\n|---|---|---|---|\n"
                      "| ok | 1.2 | 2026-01-01 | x |\n| bad | abc | 2026-01-02 | x |\n";
    t_write_bytes(t_tmp_path("bad_board.md"), bad, strlen(bad));
    t_run_result r = t_pgolf("records '%s' --leaderboard '%s'", tree, t_tmp_path("bad_board.md"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "bad_board.md:6: score 'abc'") && t_count_lines(r.err) == 1, "%s",
                  r.err);
    const char *bad_date = "| Run | Score | Date |\n|---|---|---|\n| x | 1.2 | someday |\n";
    t_write_bytes(t_tmp_path("bad_date.md"), bad_date, strlen(bad_date));
    r = t_pgolf("records '%s' --leaderboard '%s'", tree, t_tmp_path("bad_date.md"));
    ck_assert_msg(r.status == 1 && strstr(r.err, "bad_date.md:3: date 'someday'"), "%s", r.err);
    t_write_bytes(t_tmp_path("no_board.md"), "# nothing\n", 10);
    r = t_pgolf("records '%s' --leaderboard '%s'", tree, t_tmp_path("no_board.md"));
    ck_assert_msg(r.status == 1 && strstr(r.err, "no leaderboard table"), "%s", r.err);
}
END_TEST

/* pgolf stats --sota-record takes a records tree: its current SOTA, the best record-track
 * claim its logs support (not the overclaim, nor a folder without a readable claim). */
START_TEST(test_stats_sota_tree)
{
    char tree[1100];
    snprintf(tree, sizeof tree, "%s", make_tree());
    /* OneSeed's single supported run is the best: the SOTA, with no seeds for Welch */
    t_run_result r = t_pgolf("stats 1.10,1.12,1.11 --losses 1.85,1.88,1.86 --sota-record '%s' --json",
                             tree);
    ck_assert_msg(r.status == 0, "%s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    ck_assert_double_eq_tol(json_real_value(json_object_get(j, "sota")), 1.05, 1e-9);
    ck_assert_ptr_null(json_object_get(j, "welch"));
    json_decref(j);
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/track_10min_16mb/2026-01-12_OneSeed'", tree);
    ck_assert_int_eq(system(cmd), 0);
    r = t_pgolf("stats 1.10,1.12,1.11 --losses 1.85,1.88,1.86 --sota-record '%s' --json", tree);
    j = json_loads(r.out, 0, NULL);
    ck_assert_double_eq_tol(json_real_value(json_object_get(j, "sota")), 1.1806, 1e-9);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "welch"), "n_sota")), 3);
    json_decref(j);
    snprintf(cmd, sizeof cmd, "cd '%s/track_10min_16mb' && rm -rf 2026-01-05_Better 2026-01-01_Base",
             tree);
    ck_assert_int_eq(system(cmd), 0);
    r = t_pgolf("stats 1.10,1.12,1.11 --losses 1.85,1.88,1.86 --sota-record '%s'", tree);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, tree) && strstr(r.err, "no record-track folder") &&
                      t_count_lines(r.err) == 1,
                  "%s", r.err);
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
    ck_assert_int_eq(pg_history_build(tree_copy, NULL, 0.01, &t, &nt), 0);
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

/* The real records sample against the challenge README's leaderboard: the SOTA before
 * each record, the comparison its README states, and the folders the table lists. */
START_TEST(test_records_sample_leaderboard)
{
    const char *tree = t_shared_path("records-sample");
    const char *readme = t_shared_path("../ref/parameter-golf-README.md");
    if (!tree || !readme)
        T_SKIP("../shared/data/records-sample or ../shared/ref is absent");
    char tree_copy[1024], readme_copy[1024];
    snprintf(tree_copy, sizeof tree_copy, "%s", tree);
    snprintf(readme_copy, sizeof readme_copy, "%s", readme);
    pg_leaderboard b;
    ck_assert_msg(pg_leaderboard_load(readme_copy, &b) == 0, "%s", pg_errmsg());
    pg_track_history *t;
    size_t nt, listed = 0;
    ck_assert_int_eq(pg_history_build(tree_copy, &b, 0.01, &t, &nt), 0);
    static const struct {
        const char *folder;
        double sota, stated;
        int stated_line;
    } want[] = {
        {"2026-03-18_LongContextSeq2048", 1.2147, 1.2243657, 44}, /* int6 mixed precision, 03-18 */
        {"2026-03-19_Seq2048_FP16Emb_TunedLR", 1.163, 1.2244, 56},
        {"2026-03-20_11L_XSA4_EMA_Int6_MLP3x_WD04_1.1271", 1.1307, 1.1318, 5},
        {"2026-04-04_SP4096_DepthRecurrence_ParallelResid_MuonEqR", 1.0912, 1.1147, 14},
        {"2026-04-09_SP8192_3LayerRecur_ParResid_QK525_LegalTTT", 1.0822, 1.1147, 15},
        {"2026-04-10_VarLenAttn", 1.0758, 1.081, 14},
        {"2026-04-27_SP8192_LQER_SparseGate_BOSSmearFix_9HpStack_1.0611", 1.0614, 1.081, 5},
        {"2026-04-29_SmearGateBOSFix_3Seed_1.06141", 1.0634, NAN, 0},
    };
    for (size_t k = 0; k < nt; k++)
        for (size_t i = 0; i < t[k].n; i++) {
            const pg_history_entry *e = &t[k].e[i];
            listed += e->board.line > 0;
            if (!e->record_track)
                ck_assert_msg(!e->unshifted, "%s judged off the record track", e->rec.name);
            for (size_t w = 0; w < sizeof want / sizeof *want; w++) {
                if (strcmp(e->rec.name, want[w].folder) != 0)
                    continue;
                ck_assert_msg(e->sota_before == want[w].sota, "%s: SOTA %g", e->rec.name,
                              e->sota_before);
                ck_assert_msg(want[w].stated_line == e->stated_line &&
                                  (!want[w].stated_line || e->stated_sota == want[w].stated),
                              "%s: stated %g at %d", e->rec.name, e->stated_sota, e->stated_line);
            }
            /* the SOTA before LQER is the SmearGate row, whose folder gives Welch's test */
            if (strstr(e->rec.name, "LQER"))
                ck_assert(e->scored && e->j.has_welch && e->j0.has_welch);
        }
    ck_assert_uint_eq(listed, 16); /* all but the lone int6_STE train.log */
    pg_history_free(t, nt);
    pg_leaderboard_free(&b);
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
    tcase_add_test(tc, test_readme_statements);
    tcase_add_test(tc, test_leaderboard_fixture);
    tcase_add_test(tc, test_leaderboard_errors);
    tcase_add_test(tc, test_stats_sota_tree);
    tcase_add_test(tc, test_records_sample_leaderboard);
    suite_add_tcase(s, tc);
    return s;
}
