/* pgolf package --logs: records folders from the logs of train_gpt.py-style runs. Fixture
 * logs in the reference's line shapes with a fake user train_gpt.py (each refusal leaves
 * nothing, an earlier folder stays byte-identical), the logs of real records (skipped
 * without ../shared) packaged and verified, the SOTA from a leaderboard README, and every
 * SVG pgolf writes rendered to PNG with rsvg-convert (skipped without it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/chart.h"
#include "common/err.h"
#include "records/sota.h"
#include "tests/util.h"

/* One fixture log: train_gpt.py's lines for one seed. */
typedef struct {
    long seed;
    int print_seed, final;
    long long model, code;
    double bpb;
} fixture_log;

static void write_log(const char *path, const fixture_log *f)
{
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    double loss = f->bpb * 1.68842; /* val_loss = val_bpb * ln 2 / (tokens per byte) */
    fprintf(fp, "Running Python 3.12.3\nworld_size:8 grad_accum_steps:1\n");
    if (f->print_seed)
        fprintf(fp, "seed:%ld\n", f->seed);
    fprintf(fp, "step:0/400 val_loss:6.9357 val_bpb:4.1077 train_time:0ms step_avg:0.01ms\n");
    for (int s = 1; s <= 400; s += s < 10 ? 1 : 50)
        fprintf(fp, "step:%d/400 train_loss:%.4f train_time:%dms step_avg:%.2fms\n", s,
                2.2 + 4.7 / s + 0.001 * (double)f->seed, 1497 * s, 1497.0);
    fprintf(fp, "step:200/400 val_loss:%.4f val_bpb:%.4f train_time:299400ms step_avg:1497.00ms\n",
            loss + 0.2, f->bpb + 0.12);
    fprintf(fp, "step:400/400 val_loss:%.4f val_bpb:%.4f train_time:598800ms step_avg:1497.00ms\n"
                "peak memory allocated: 10184 MiB reserved: 10798 MiB\n"
                "Serialized model: 67224983 bytes\nCode size: %lld bytes\n"
                "Total submission size: %lld bytes\n"
                "Serialized model int8+zlib: %lld bytes (payload:17178912 raw_torch:17224025 "
                "payload_ratio:3.91x)\nTotal submission size int8+zlib: %lld bytes\n",
            loss, f->bpb, f->code, 67224983 + f->code, f->model, f->model + f->code);
    if (f->final)
        fprintf(fp, "final_int8_zlib_roundtrip val_loss:%.4f val_bpb:%.4f eval_time:1401ms\n"
                    "final_int8_zlib_roundtrip_exact val_loss:%.8f val_bpb:%.8f\n",
                loss, f->bpb, loss, f->bpb);
    fclose(fp);
}

/* A fake user script of `bytes` bytes. */
static void write_code(const char *path, size_t bytes)
{
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    const char *line = "print('a user train_gpt.py: trains, quantizes, scores')  # padding\n";
    for (size_t n = 0; n < bytes; n += strlen(line))
        fputs(line, fp);
    fclose(fp);
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The fixtures: code, three logs of seeds 1-3 (one states its seed only in its name, one
 * has a name verify would not read as a log), and the logs of the refusals. */
static const char *fixture_dir(void)
{
    static char dir[600];
    if (dir[0])
        return dir;
    snprintf(dir, sizeof dir, "%s", t_tmp_path("pkglogs"));
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/a' '%s/b'", dir, dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    char p[700];
#define FX(name) (snprintf(p, sizeof p, "%s/%s", dir, name), p)
    write_code(FX("train_gpt.py"), 3000);
    write_code(FX("helpers.py"), 500);
    long long code = file_size(FX("train_gpt.py")) + file_size(FX("helpers.py"));
    fixture_log logs[] = {{1, 1, 1, 15000000, code, 1.20010000},
                          {2, 0, 1, 15001234, code, 1.20110000},
                          {3, 1, 1, 15002345, code, 1.19930000}};
    write_log(FX("run_a.txt"), &logs[0]);
    write_log(FX("train_seed2.log"), &logs[1]);
    write_log(FX("seed3.out"), &logs[2]);
    fixture_log noseed = {7, 0, 1, 15000000, code, 1.2}, nofinal = {8, 1, 0, 15000000, code, 1.2},
                dup = {1, 1, 1, 15000000, code, 1.21}, big = {9, 1, 1, 15999000, code, 1.18},
                small1 = {4, 1, 1, 5000, code, 1.3}, small2 = {5, 1, 1, 6000, code, 1.31};
    write_log(FX("noseed.log"), &noseed);
    write_log(FX("nofinal_seed8.log"), &nofinal);
    write_log(FX("dup.log"), &dup);
    write_log(FX("big.log"), &big);
    write_log(FX("small4.log"), &small1);
    write_log(FX("small5.log"), &small2);
    static const unsigned char zeros[6000];
    t_write_bytes(FX("a/final_model.int8.ptz"), zeros, 5000);
    t_write_bytes(FX("b/final_model.int8.ptz"), zeros, 6000);
#undef FX
    return dir;
}

#define PKG(extra, ...)                                                                          \
    t_pgolf("package --logs " extra " --code '%1$s/train_gpt.py' --code '%1$s/helpers.py' "      \
            "--name 'Fake Record v1' --author me --github-id me --date 2026-05-01 " __VA_ARGS__)

/* A refusal: exit 1, one line naming `names`, and nothing at `absent`. */
static void assert_refused(t_run_result r, const char *names, const char *absent)
{
    ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
    ck_assert_msg(t_count_lines(r.err) == 1, "not one line: %s", r.err);
    ck_assert_msg(strstr(r.err, names), "does not name %s: %s", names, r.err);
    ck_assert_msg(!exists(absent), "%s was left behind", absent);
}

START_TEST(test_package_logs_fixture)
{
    const char *d = fixture_dir();
    char root[700], rec[800], cmd[4000];
    snprintf(root, sizeof root, "%s/out/records", d);
    snprintf(rec, sizeof rec, "%s/track_10min_16mb/2026-05-01_Fake_Record_v1", root);
    t_run_result r = PKG("'%1$s/run_a.txt' '%1$s/train_seed2.log' '%1$s/seed3.out'",
                         "--sota 1.30 --out '%2$s'", d, root);
    ck_assert_msg(r.status == 0, "%s", r.err);
    const char *files[] = {"README.md", "submission.json", "loss.svg", "run_a.txt",
                           "train_seed2.log", "train_seed3.log", "train_gpt.py", "helpers.py"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(cmd, sizeof cmd, "test -s '%s/%s'", rec, files[i]);
        ck_assert_msg(system(cmd) == 0, "missing %s", files[i]);
    }
    snprintf(cmd, sizeof cmd, "cmp -s '%s/seed3.out' '%s/train_seed3.log' && cmp -s "
                              "'%s/train_gpt.py' '%s/train_gpt.py'", d, rec, d, rec);
    ck_assert_msg(system(cmd) == 0, "the logs and code are not copied as they are");
    char p[900];
    snprintf(p, sizeof p, "%s/submission.json", rec);
    json_t *j = t_load_json(p);
    long long code = file_size(t_tmp_path("pkglogs/train_gpt.py")) +
                     file_size(t_tmp_path("pkglogs/helpers.py"));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "bytes_code")), code);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "bytes_total")), 15002345 + code);
    ck_assert_str_eq(json_string_value(json_object_get(j, "track")), "10min_16mb");
    ck_assert_str_eq(json_string_value(json_object_get(j, "github_id")), "me");
    ck_assert(fabs(json_number_value(json_object_get(j, "val_bpb")) - 1.20016667) < 1e-12);
    ck_assert_int_eq(json_array_size(json_object_get(j, "seeds")), 3);
    json_t *s2 = json_object_get(json_object_get(j, "seed_results"), "2");
    ck_assert_int_eq(json_integer_value(json_object_get(s2, "artifact_bytes")), 15001234);
    ck_assert_int_eq(json_integer_value(json_object_get(s2, "steps")), 400);
    ck_assert(fabs(json_number_value(json_object_get(s2, "train_time_s")) - 598.8) < 1e-9);
    ck_assert(fabs(json_number_value(json_object_get(s2, "eval_time_s")) - 1.401) < 1e-9);
    const char *keys[] = {"name", "author", "date", "val_loss", "val_bpb_std", "hardware", "blurb"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(json_object_get(j, keys[i]), "no %s", keys[i]);
    json_decref(j);
    snprintf(p, sizeof p, "%s/README.md", rec);
    char *readme = t_read_text(p);
    const char *wants[] = {"`run_a.txt:", "`train_seed2.log:", "**Verdict: record**",
                           "](loss.svg)", "SEED=3 torchrun", "`helpers.py` (", "| **std** |"};
    for (size_t i = 0; i < sizeof wants / sizeof wants[0]; i++)
        ck_assert_msg(strstr(readme, wants[i]), "README lacks %s", wants[i]);
    free(readme);
    r = t_pgolf("verify '%s' --json", rec);
    j = json_loads(r.out, 0, NULL);
    json_t *sum = json_object_get(j, "summary");
    ck_assert_msg(json_integer_value(json_object_get(sum, "fail")) == 0 &&
                      json_integer_value(json_object_get(sum, "unknown")) == 0,
                  "%s", r.out);
    json_decref(j);

    /* an existing folder is kept byte-identical unless --force */
    snprintf(cmd, sizeof cmd, "rm -rf '%1$s/keep' && cp -r '%2$s' '%1$s/keep'", d, rec);
    ck_assert_int_eq(system(cmd), 0);
    r = PKG("'%1$s/run_a.txt' '%1$s/train_seed2.log'", "--blurb new --out '%2$s'", d, root);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "pass --force to replace it"));
    snprintf(cmd, sizeof cmd, "diff -r '%s/keep' '%s' >/dev/null", d, rec);
    ck_assert_msg(system(cmd) == 0, "the refused package changed the earlier folder");
    r = PKG("'%1$s/run_a.txt' '%1$s/train_seed2.log'", "--blurb 'A new idea.' --out '%2$s' --force",
            d, root);
    ck_assert_msg(r.status == 0, "%s", r.err);
    readme = t_read_text(p);
    ck_assert_ptr_nonnull(strstr(readme, "A new idea."));
    ck_assert_ptr_nonnull(strstr(readme, "No SOTA was given"));
    free(readme);
    snprintf(cmd, sizeof cmd, "test ! -e '%s/train_seed3.log'", rec);
    ck_assert_msg(system(cmd) == 0, "--force mixed the old folder into the new one");
}
END_TEST

START_TEST(test_package_logs_refusals)
{
    const char *d = fixture_dir();
    char out[700];
    snprintf(out, sizeof out, "%s/refused", d);
    assert_refused(PKG("'%1$s/run_a.txt' '%1$s/noseed.log'", "--out '%2$s'", d, out),
                   "noseed.log: no seed", out);
    assert_refused(PKG("'%1$s/nofinal_seed8.log'", "--out '%2$s'", d, out),
                   "nofinal_seed8.log: no final score", out);
    t_run_result r = PKG("'%1$s/run_a.txt' '%1$s/dup.log'", "--out '%2$s'", d, out);
    assert_refused(r, "same seed 1", out);
    ck_assert_msg(strstr(r.err, "run_a.txt") && strstr(r.err, "dup.log"), "%s", r.err);
    assert_refused(t_pgolf("package --logs '%1$s/run_a.txt' --code '%1$s/nothere.py' --name n "
                           "--author a --github-id g --out '%2$s'", d, out),
                   "nothere.py", out);
    assert_refused(PKG("'%1$s/run_a.txt' '%1$s/big.log'", "--out '%2$s'", d, out),
                   "seed 9 would be", out);
    ck_assert_ptr_nonnull(strstr(PKG("'%1$s/big.log'", "--out '%2$s'", d, out).err,
                                 "over the 16,000,000-byte cap"));
    assert_refused(PKG("'%1$s/run_a.txt'", "--score final_sliding_window --out '%2$s'", d, out),
                   "no final evaluation tagged final_sliding_window", out);
    assert_refused(PKG("'%1$s/small4.log' '%1$s/small5.log'", "--with-artifacts '%1$s/b/final_model.int8.ptz' "
                       "--with-artifacts '%1$s/a/final_model.int8.ptz' --out '%2$s'", d, out),
                   "6000 bytes but", out);
    /* a non-record track takes a submission over the cap */
    r = PKG("'%1$s/big.log'", "--track non-record --out '%2$s'", d, out);
    ck_assert_msg(r.status == 0, "%s", r.err);
    char p[900];
    snprintf(p, sizeof p, "%s/track_non_record_16mb/2026-05-01_Fake_Record_v1/README.md", out);
    ck_assert(exists(p));
    /* model files are copied only when given, one name per seed when they share one */
    r = PKG("'%1$s/small4.log' '%1$s/small5.log'", "--with-artifacts '%1$s/a/final_model.int8.ptz' "
            "--with-artifacts '%1$s/b/final_model.int8.ptz' --out '%2$s/2026-05-02_arts'", d, d);
    ck_assert_msg(r.status == 0, "%s", r.err);
    snprintf(p, sizeof p, "%s/2026-05-02_arts/final_model_seed5.int8.ptz", d);
    ck_assert_int_eq(file_size(p), 6000);
    snprintf(p, sizeof p, "%s/2026-05-02_arts/final_model_seed4.int8.ptz", d);
    ck_assert_int_eq(file_size(p), 5000);
    snprintf(p, sizeof p, "%s/track_10min_16mb/2026-05-01_Fake_Record_v1/final_model.int8.ptz", out);
    ck_assert(!exists(p));
}
END_TEST

/* The logs of real records folders, packaged with a stand-in train_gpt.py: pgolf verify
 * finds every claim (no FAIL, no UNKNOWN). */
START_TEST(test_package_logs_real)
{
    const char *tree = t_shared_path("records-sample");
    if (!tree)
        T_SKIP("../shared/data/records-sample is absent");
    static const char *const folders[] = {"2026-03-18_LongContextSeq2048",
                                          "2026-03-19_Seq2048_FP16Emb_TunedLR",
                                          "2026-03-23_LeakyReLU_LegalTTT_ParallelMuon"};
    const char *d = fixture_dir();
    char cmd[4096], logs[2048], out[700];
    snprintf(out, sizeof out, "%s/real", d);
    for (size_t k = 0; k < sizeof folders / sizeof folders[0]; k++) {
        snprintf(cmd, sizeof cmd, "ls '%s/track_10min_16mb/%s/'*.log", tree, folders[k]);
        FILE *ls = popen(cmd, "r");
        size_t n = 0;
        char line[1024];
        while (fgets(line, sizeof line, ls)) {
            line[strcspn(line, "\n")] = '\0';
            n += (size_t)snprintf(logs + n, sizeof logs - n, "'%s' ", line);
        }
        pclose(ls);
        /* the first folder is judged against the records sample's SOTA (Welch's test too) */
        char sota[1200] = "";
        if (k == 0)
            snprintf(sota, sizeof sota, "--sota-record '%s'", tree);
        t_run_result r = t_pgolf("package --logs %s --code '%s/train_gpt.py' --name '%s' "
                                 "--author a --github-id g --date 2026-06-0%zu %s --out '%s'",
                                 logs, d, folders[k], k + 1, sota, out);
        ck_assert_msg(r.status == 0, "%s: %s", folders[k], r.err);
        char rec[1200];
        snprintf(rec, sizeof rec, "%s/track_10min_16mb/2026-06-0%zu_%s", out, k + 1, folders[k]);
        r = t_pgolf("verify '%s' --json", rec);
        json_t *j = json_loads(r.out, 0, NULL);
        json_t *sum = json_object_get(j, "summary");
        fprintf(stderr, "package --logs %s: verify %lld PASS, %lld FAIL, %lld UNKNOWN\n", folders[k],
                (long long)json_integer_value(json_object_get(sum, "pass")),
                (long long)json_integer_value(json_object_get(sum, "fail")),
                (long long)json_integer_value(json_object_get(sum, "unknown")));
        ck_assert_msg(json_integer_value(json_object_get(sum, "fail")) == 0 &&
                          json_integer_value(json_object_get(sum, "unknown")) == 0 &&
                          json_integer_value(json_object_get(sum, "pass")) >= 25,
                      "%s", r.out);
        json_decref(j);
        if (k == 0) {
            snprintf(cmd, sizeof cmd, "grep -q \"Welch's t-test vs the SOTA's\" '%s/README.md'", rec);
            ck_assert_msg(system(cmd) == 0, "no Welch test against the records sample's SOTA");
        }
    }
}
END_TEST

/* The leaderboard tables of a README: the best Score of the track's table. */
START_TEST(test_leaderboard_sota)
{
    const char *text = "# Challenge\n\n## Leaderboard\n\n| Run | Score | Author | Date |\n"
                       "|-----|------:|--------|------|\n| Fast | 1.0810 | a | 2026-04-09 |\n"
                       "| Faster | 1.0611 | b | 2026-04-27 |\n\n"
                       "#### Unlimited Compute Leaderboard & Non-record Submissions\n\n"
                       "| Run | Score | Author | Date |\n|---|---|---|---|\n"
                       "| Long | 1.0500 | d | 2026-03-24 |\n";
    pg_sota s;
    ck_assert_int_eq(pg_sota_from_leaderboard_text("README.md", text, strlen(text), "10min_16mb", &s), 0);
    ck_assert(s.value == 1.0611);
    ck_assert_ptr_nonnull(strstr(s.desc, "\"Faster\" (2026-04-27)"));
    ck_assert_ptr_nonnull(strstr(s.desc, "README.md:8"));
    ck_assert_int_eq(pg_sota_from_leaderboard_text("README.md", text, strlen(text),
                                                   "non_record_16mb", &s), 0);
    ck_assert(s.value == 1.05);
    const char *none = "# Nothing\n| a | b |\n";
    ck_assert_int_eq(pg_sota_from_leaderboard_text("R.md", none, strlen(none), "10min_16mb", &s), -1);
    ck_assert_msg(strstr(pg_errmsg(), "R.md") && strstr(pg_errmsg(), "leaderboard"), "%s",
                  pg_errmsg());
    const char *broken = "## Leaderboard\n\n| Run | Score | Author | Date |\n|---|---|---|---|\n"
                         "| Broken | n/a | c | x |\n";
    ck_assert_int_eq(pg_sota_from_leaderboard_text("B.md", broken, strlen(broken), "10min_16mb", &s), -1);
    ck_assert_msg(strstr(pg_errmsg(), "B.md:5"), "%s", pg_errmsg());
    const char *readme = t_shared_path("../ref/parameter-golf-README.md");
    if (!readme)
        T_SKIP("../shared/ref/parameter-golf-README.md is absent");
    ck_assert_int_eq(pg_sota_from_leaderboard(readme, "10min_16mb", &s), 0);
    ck_assert(s.value > 0.9 && s.value < 1.3);
}
END_TEST

/* Every SVG pgolf writes (a records folder's loss.svg, the leaderboard history of
 * `pgolf records --svg`) renders to a non-empty PNG and carries its axis labels, tick
 * labels and legend entries as text. */
static void assert_renders(const char *svg, const char *const *texts, size_t n)
{
    char cmd[2400], png[1100];
    snprintf(png, sizeof png, "%s.png", svg);
    snprintf(cmd, sizeof cmd, "rsvg-convert '%s' -o '%s'", svg, png);
    ck_assert_msg(system(cmd) == 0, "rsvg-convert could not render %s", svg);
    size_t len;
    unsigned char *b = t_read_bytes(png, &len);
    ck_assert_msg(len > 2000 && memcmp(b, "\x89PNG", 4) == 0, "%s: not a PNG of a plot", png);
    free(b);
    char *s = t_read_text(svg);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(strstr(s, texts[i]), "%s lacks \"%s\"", svg, texts[i]);
    int yticks = 0;
    for (const char *p = s; (p = strstr(p, "text-anchor=\"end\"")) != NULL; p++)
        yticks++;
    ck_assert_msg(yticks >= 3, "%s: %d y tick labels", svg, yticks);
    free(s);
}

START_TEST(test_svgs_render)
{
    if (system("command -v rsvg-convert >/dev/null 2>&1") != 0)
        T_SKIP("rsvg-convert is absent (Debian's librsvg2-bin): the SVGs are not rendered");
    const char *d = fixture_dir();
    char root[700], svg[900];
    snprintf(root, sizeof root, "%s/plots", d);
    t_run_result r = PKG("'%1$s/run_a.txt' '%1$s/train_seed2.log'", "--out '%2$s'", d, root);
    ck_assert_msg(r.status == 0, "%s", r.err);
    r = PKG("'%1$s/seed3.out'", "--date 2026-05-09 --sota 1.2 --out '%2$s'", d, root);
    ck_assert_msg(r.status == 0, "%s", r.err);
    snprintf(svg, sizeof svg, "%s/track_10min_16mb/2026-05-01_Fake_Record_v1/loss.svg", root);
    const char *loss[] = {">step<", ">loss (nats)<", ">seed 1 train_loss<", ">seed 1 val_loss<",
                          ">seed 2 train_loss<", ">seed 2 val_loss<", ">400<"};
    assert_renders(svg, loss, sizeof loss / sizeof loss[0]);
    snprintf(svg, sizeof svg, "%s/history.svg", d);
    r = t_pgolf("records '%s' --svg '%s'", root, svg);
    ck_assert_msg(r.status == 0, "%s", r.err);
    const char *hist[] = {">date (UTC)<", ">val_bpb (bits per byte)<", ">10min_16mb: SOTA<",
                          ">10min_16mb: records<", ">2026-05-0"};
    assert_renders(svg, hist, sizeof hist / sizeof hist[0]);
}
END_TEST

/* A chart with nothing finite to plot is an error naming it, not an empty picture. */
START_TEST(test_chart_empty)
{
    double x[] = {NAN}, y[] = {1};
    pg_chart_series s = {.label = "a", .colour = "#000", .line = 1, .x = x, .y = y, .n = 1};
    pg_chart c = {.title = "t", .x_label = "step", .y_label = "loss", .series = &s, .nseries = 1};
    pg_text t = {0};
    ck_assert_int_eq(pg_chart_svg(&c, &t, "empty.svg"), -1);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "empty.svg: nothing to plot"));
    pg_text_free(&t);
}
END_TEST

Suite *suite_package(void)
{
    Suite *s = suite_create("package");
    TCase *tc = tcase_create("package");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_package_logs_fixture);
    tcase_add_test(tc, test_package_logs_refusals);
    tcase_add_test(tc, test_package_logs_real);
    tcase_add_test(tc, test_leaderboard_sota);
    tcase_add_test(tc, test_svgs_render);
    tcase_add_test(tc, test_chart_empty);
    suite_add_tcase(s, tc);
    return s;
}
