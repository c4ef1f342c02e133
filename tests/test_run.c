/* pgolf run / replay / status: manifest schema, stage cache, replay, kill safety and bad
 * inputs, on a small configuration over a copy of the shipped sample. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/sha256.h"
#include "pipeline/manifest.h"
#include "tests/util.h"

/* 2 seeds of a 2-layer d=32 model, 20 steps with checkpoints every 5, sliding + TTT eval. */
static const char *config(void)
{
    static char path[1024];
    if (path[0])
        return path;
    const char *data = t_tmp_path("rundata");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s'/*.bin '%s'/sample_1024_bpe.model '%s'/",
             data, t_repo_path("data/sample"), t_repo_path("data/sample"), data);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(path, sizeof path, "%s", t_tmp_path("run.conf"));
    FILE *f = fopen(path, "w");
    fprintf(f, "# test run\nDATA_PATH=%s\nTOKENIZER_PATH=%s/sample_1024_bpe.model\n"
               "NUM_LAYERS=2\nMODEL_DIM=32\nNUM_HEADS=2\nNUM_KV_HEADS=1\nTRAIN_SEQ_LEN=32\n"
               "ITERATIONS=20\nWARMDOWN_ITERS=5\nTRAIN_BATCH_TOKENS=512\nCHECKPOINT_EVERY=5\n"
               "MUON_MOMENTUM_WARMUP_STEPS=5\nRUN_SEEDS=1,2\nRUN_SLIDING_STRIDE=32\nRUN_TTT=1\n"
               "TTT_CHUNK_TOKENS=8192\nTTT_EPOCHS=1\nTTT_FREEZE_BLOCKS=0\nTTT_LR=0.01\n"
               "RUN_DATE=2026-11-24\n",
            data, data);
    fclose(f);
    return path;
}

static const char *run_dir(const char *name)
{
    return t_tmp_path(name);
}

static t_run_result run(const char *dir, const char *extra)
{
    return t_pgolf("run --config '%s' --out '%s' %s", config(), dir, extra);
}

static json_t *manifest(const char *dir)
{
    char p[1100];
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    return t_load_json(p);
}

static const char *stage_field(json_t *m, const char *id, const char *field)
{
    json_t *s = pg_manifest_stage(m, id);
    ck_assert_msg(s != NULL, "no stage %s", id);
    return json_string_value(json_object_get(s, field));
}

/* Every reproducible output of a equals b's. */
static void assert_same_outputs(const char *da, const char *db)
{
    json_t *a = manifest(da), *b = manifest(db);
    size_t i, k, nrepro = 0;
    json_t *s, *f;
    json_array_foreach(json_object_get(a, "stages"), i, s)
    {
        const char *id = json_string_value(json_object_get(s, "id"));
        json_t *sb = pg_manifest_stage(b, id);
        ck_assert_msg(sb && strcmp(stage_field(b, id, "status"), "done") == 0, "%s: %s not done",
                      db, id);
        json_array_foreach(json_object_get(s, "outputs"), k, f)
        {
            if (!json_is_true(json_object_get(f, "reproducible")))
                continue;
            json_t *g = json_array_get(json_object_get(sb, "outputs"), k);
            ck_assert_str_eq(json_string_value(json_object_get(f, "path")),
                             json_string_value(json_object_get(g, "path")));
            ck_assert_msg(json_equal(json_object_get(f, "sha256"), json_object_get(g, "sha256")),
                          "%s differs after resume", json_string_value(json_object_get(f, "path")));
            nrepro++;
        }
    }
    ck_assert_uint_ge(nrepro, 15); /* data, build x2, 2x(ckpt, q, art), records x3, 2 evals, stats x2 */
    json_decref(a);
    json_decref(b);
}

/* The uninterrupted reference run (made once). */
static const char *reference(void)
{
    static int done;
    const char *dir = run_dir("ref");
    if (!done) {
        t_run_result r = run(dir, "");
        ck_assert_msg(r.status == 0, "run failed: %s", r.err);
        done = 1;
    }
    return dir;
}

START_TEST(test_manifest_schema)
{
    const char *dir = reference();
    json_t *m;
    ck_assert_msg(pg_manifest_load(dir, &m) == 0 && m, "%s", pg_errmsg());
    ck_assert_str_eq(json_string_value(json_object_get(m, "format")), "pgolf-run");
    ck_assert_int_eq(json_integer_value(json_object_get(m, "version")), 1);
    static const char *const versions[] = {"pgolf", "build_flags", "compiler", "openssl", "zstd",
                                           "brotli", "libarchive", "executable_sha256", NULL};
    for (int i = 0; versions[i]; i++)
        ck_assert_msg(json_is_string(json_object_get(json_object_get(m, "versions"), versions[i])),
                      "versions.%s", versions[i]);
    ck_assert(json_is_string(json_object_get(json_object_get(m, "host"), "name")));
    static const char *const ids[] = {"data", "build", "train/seed1", "train/seed2",
                                      "quantize/seed1", "compress/seed2", "eval/seed1",
                                      "eval/seed2", "package", "stats", NULL};
    for (int i = 0; ids[i]; i++) {
        json_t *s = pg_manifest_stage(m, ids[i]);
        ck_assert_msg(s, "no stage %s", ids[i]);
        ck_assert_str_eq(json_string_value(json_object_get(s, "status")), "done");
        ck_assert_int_eq(strlen(json_string_value(json_object_get(s, "key"))), 64);
        ck_assert(json_array_size(json_object_get(s, "inputs")) > 0);
        ck_assert(json_array_size(json_object_get(s, "outputs")) > 0);
        ck_assert(json_is_number(json_object_get(s, "wall_s")));
        ck_assert(json_is_string(json_object_get(s, "started")));
    }
    /* recorded hashes and sizes are the files' */
    json_t *out = json_array_get(json_object_get(pg_manifest_stage(m, "compress/seed1"), "outputs"), 0);
    char p[1100], hex[PG_SHA256_HEX_LEN];
    snprintf(p, sizeof p, "%s/%s", dir, json_string_value(json_object_get(out, "path")));
    ck_assert_int_eq(pg_sha256_file(p, hex), 0);
    ck_assert_str_eq(hex, json_string_value(json_object_get(out, "sha256")));
    /* the data stage hashed the shards by absolute path */
    json_t *in = json_array_get(json_object_get(pg_manifest_stage(m, "data"), "inputs"), 1);
    ck_assert(json_string_value(json_object_get(in, "path"))[0] == '/');
    /* the records folder verifies, its artifacts re-scored by the evaluations its logs
     * name (TTT included) with nothing left unknown, and the report has the verdict */
    t_run_result r = t_pgolf("verify '%s/records' --json --rerun --data '%s' --tokenizer "
                             "'%s/sample_1024_bpe.model'",
                             dir, t_tmp_path("rundata"), t_tmp_path("rundata"));
    ck_assert_msg(r.status == 0, "verify: %s%s", r.out, r.err);
    json_t *vj = json_loads(r.out, 0, NULL), *sum = json_object_get(vj, "summary");
    ck_assert_msg(json_integer_value(json_object_get(sum, "fail")) == 0 &&
                      json_integer_value(json_object_get(sum, "unknown")) == 0,
                  "verify: %s", r.out);
    int reruns = 0;
    json_t *chk;
    size_t ci;
    json_array_foreach(json_object_get(vj, "checks"), ci, chk)
    {
        if (strncmp(json_string_value(json_object_get(chk, "name")), "rerun.", 6) == 0) {
            ck_assert_str_eq(json_string_value(json_object_get(chk, "status")), "PASS");
            ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(chk, "evidence")),
                                         "legal_ttt"));
            reruns++;
        }
    }
    ck_assert_int_eq(reruns, 2);
    /* each seed's claim is found on its log's exact line, not on the rounded one */
    snprintf(p, sizeof p, "%s/records/submission.json", dir);
    json_t *sub = t_load_json(p), *seed_row;
    json_array_foreach(json_object_get(vj, "seeds"), ci, seed_row)
    {
        char key[24];
        snprintf(key, sizeof key, "%lld", json_integer_value(json_object_get(seed_row, "seed")));
        json_t *claimed = json_object_get(json_object_get(json_object_get(sub, "seed_results"), key),
                                          "val_bpb");
        ck_assert_msg(json_real_value(json_object_get(seed_row, "val_bpb")) ==
                          json_real_value(claimed),
                      "seed %s found at %s", key,
                      json_string_value(json_object_get(seed_row, "source")));
    }
    json_decref(sub);
    json_decref(vj);
    snprintf(p, sizeof p, "%s/stats/report.json", dir);
    json_t *rep = t_load_json(p);
    ck_assert_str_eq(json_string_value(json_object_get(rep, "metric")), "ttt");
    ck_assert_int_eq(json_array_size(json_object_get(rep, "seeds")), 2);
    ck_assert(json_is_true(json_object_get(rep, "under_cap")));
    ck_assert(json_is_object(json_object_get(rep, "judgement")));
    json_decref(rep);
    /* schema violations are named */
    json_t *bad = json_deep_copy(m);
    json_object_set_new(json_array_get(json_object_get(pg_manifest_stage(bad, "data"), "outputs"), 0),
                        "sha256", json_string("xyz"));
    char d[PG_SHA256_HEX_LEN];
    pg_manifest_digest(bad, d);
    json_object_set_new(bad, "digest", json_string(d));
    ck_assert_int_eq(pg_manifest_check("m.json", bad), -1);
    ck_assert_msg(strstr(pg_errmsg(), "stage data outputs[0]"), "%s", pg_errmsg());
    json_decref(bad);
    json_decref(m);
}
END_TEST

/* Names of the stages that ran (not cached) in the last run. */
static int ran(const char *dir, const char *id)
{
    json_t *m = manifest(dir);
    int r = strcmp(stage_field(m, id, "last_run"), "ran") == 0;
    json_decref(m);
    return r;
}

START_TEST(test_cache_hit_and_miss)
{
    const char *dir = run_dir("cache");
    t_run_result r = run(dir, "");
    ck_assert_msg(r.status == 0, "%s", r.err);
    static const char *const all[] = {"data", "build", "train/seed1", "train/seed2",
                                      "quantize/seed1", "quantize/seed2", "compress/seed1",
                                      "compress/seed2", "eval/seed1", "eval/seed2", "package",
                                      "stats", NULL};
    /* the same arguments: every stage is skipped with a line saying so */
    r = run(dir, "");
    ck_assert_int_eq(r.status, 0);
    for (int i = 0; all[i]; i++)
        ck_assert_msg(!ran(dir, all[i]), "%s re-ran", all[i]);
    ck_assert_int_eq(t_count_lines(r.out) > 12, 1);
    ck_assert_ptr_nonnull(strstr(r.out, "cached (key"));
    ck_assert_ptr_nonnull(strstr(r.out, "mean val_bpb"));
    /* other settings without --force: refused, naming the setting, nothing changed */
    char before[700], cmd[1500];
    snprintf(before, sizeof before, "%s.before", dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", before, dir, before);
    ck_assert_int_eq(system(cmd), 0);
    r = run(dir, "--set RUN_SLIDING_STRIDE=16");
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "holds a run made with other settings (RUN_SLIDING_STRIDE 32 -> 16)") &&
                      strstr(r.err, "--force") && t_count_lines(r.err) == 1, "%s", r.err);
    snprintf(cmd, sizeof cmd, "diff -r '%s' '%s' >/dev/null", before, dir);
    ck_assert_msg(system(cmd) == 0, "the refused run changed %s", dir);
    /* an eval setting with --force: exactly the eval stages and what reads their results
     * (package, stats) re-run */
    r = run(dir, "--set RUN_SLIDING_STRIDE=16 --force");
    ck_assert_int_eq(r.status, 0);
    for (int i = 0; all[i]; i++) {
        int want = strncmp(all[i], "eval/", 5) == 0 || strcmp(all[i], "package") == 0 ||
                   strcmp(all[i], "stats") == 0;
        ck_assert_msg(ran(dir, all[i]) == want, "%s: ran=%d want %d", all[i], ran(dir, all[i]), want);
    }
    /* a packaging setting: package re-runs, not eval (its input, the compressed artifact, is
     * unchanged) */
    r = run(dir, "--set RUN_SLIDING_STRIDE=16 --set RUN_NAME=other --force");
    ck_assert_int_eq(r.status, 0);
    ck_assert(ran(dir, "package") && !ran(dir, "eval/seed1") && !ran(dir, "compress/seed1"));
    /* a training setting: the training stages and everything after them, not data/build */
    r = run(dir, "--set RUN_SLIDING_STRIDE=16 --set RUN_NAME=other --set ITERATIONS=15 --force");
    ck_assert_int_eq(r.status, 0);
    ck_assert(!ran(dir, "data") && !ran(dir, "build"));
    for (int i = 2; all[i]; i++)
        ck_assert_msg(ran(dir, all[i]), "%s did not re-run", all[i]);
    /* status reports it all done */
    r = t_pgolf("status '%s'", dir);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "train/seed2"));
    ck_assert_ptr_null(strstr(r.out, "stale"));
}
END_TEST

/* package runs after eval, takes its results as inputs, and its scores are theirs. */
START_TEST(test_package_takes_eval_results)
{
    const char *dir = reference();
    json_t *m = manifest(dir), *stages = json_object_get(m, "stages");
    size_t pkg = 0, i;
    json_t *s;
    json_array_foreach(stages, i, s)
    {
        if (strcmp(json_string_value(json_object_get(s, "id")), "package") == 0)
            pkg = i;
    }
    json_t *in = json_object_get(json_array_get(stages, pkg), "inputs");
    for (long seed = 1; seed <= 2; seed++) {
        char want[64], id[32], p[1100];
        snprintf(want, sizeof want, "eval/seed%ld/eval.json", seed);
        int listed = 0;
        json_array_foreach(in, i, s)
        {
            listed |= strcmp(json_string_value(json_object_get(s, "path")), want) == 0;
        }
        ck_assert_msg(listed, "package does not list %s as an input", want);
        snprintf(id, sizeof id, "eval/seed%ld", seed);
        json_array_foreach(stages, i, s)
        {
            if (strcmp(json_string_value(json_object_get(s, "id")), id) == 0)
                ck_assert_msg(i < pkg, "%s runs after package", id);
        }
        /* one score story: the eval stage's final (TTT) evaluation is what the log's last
         * score line, submission.json, the README and the run's report say */
        snprintf(p, sizeof p, "%s/%s", dir, want);
        json_t *ev = t_load_json(p), *fin = json_object_get(ev, "final");
        ck_assert_str_eq(json_string_value(json_object_get(fin, "mode")), "ttt");
        json_t *ttt = json_object_get(ev, "ttt");
        double loss = json_real_value(json_object_get(ttt, "val_loss"));
        double bpb = json_real_value(json_object_get(ttt, "val_bpb"));
        ck_assert(json_real_value(json_object_get(fin, "val_bpb")) == bpb);
        snprintf(p, sizeof p, "%s/records/submission.json", dir);
        json_t *sub = t_load_json(p);
        char key[24];
        snprintf(key, sizeof key, "%ld", seed);
        json_t *res = json_object_get(json_object_get(sub, "seed_results"), key);
        char line[160], printed[32];
        snprintf(printed, sizeof printed, "%.8f", loss);
        ck_assert(json_real_value(json_object_get(res, "val_loss")) == strtod(printed, NULL));
        snprintf(printed, sizeof printed, "%.8f", bpb);
        ck_assert(json_real_value(json_object_get(res, "val_bpb")) == strtod(printed, NULL));
        snprintf(p, sizeof p, "%s/records/README.md", dir);
        size_t len;
        char *md = (char *)t_read_bytes(p, &len);
        md = realloc(md, len + 1);
        md[len] = '\0';
        ck_assert_msg(strstr(md, printed), "%s does not give seed %ld's %s", p, seed, printed);
        free(md);
        snprintf(p, sizeof p, "%s/stats/report.json", dir);
        json_t *rep = t_load_json(p);
        ck_assert_str_eq(json_string_value(json_object_get(rep, "metric")), "ttt");
        json_t *row = json_array_get(json_object_get(rep, "seeds"), (size_t)(seed - 1));
        ck_assert(json_real_value(json_object_get(row, "val_bpb")) == bpb);
        json_decref(rep);
        /* the log carries the evaluations' settings and every score line in order, the
         * claim last */
        snprintf(line, sizeof line, "legal_ttt_exact val_loss:%.8f val_bpb:%.8f\n", loss, bpb);
        snprintf(p, sizeof p, "%s/records/train_seed%ld.log", dir, seed);
        char *log = (char *)t_read_bytes(p, &len);
        log = realloc(log, len + 1);
        log[len] = '\0';
        const char *rt = strstr(log, "final_int8_roundtrip_exact "),
                   *sl = strstr(log, "final_int8_sliding_window_exact "),
                   *tt = strstr(log, line), *cf = strstr(log, "config:RUN_TTT=1\n");
        ck_assert_msg(rt && sl && tt && cf && cf < rt && rt < sl && sl < tt,
                      "%s lacks the settings or score lines in order", p);
        ck_assert_msg(tt[strlen(line)] == '\0', "%s: %s is not the last line", p, line);
        ck_assert_ptr_nonnull(strstr(log, "config:TTT_CHUNK_TOKENS=8192\n"));
        ck_assert_ptr_nonnull(strstr(log, "\nlegal_ttt val_loss:"));
        free(log);
        json_decref(sub);
        json_decref(ev);
    }
    json_decref(m);
}
END_TEST

START_TEST(test_replay)
{
    const char *dir = reference();
    t_run_result r = t_pgolf("replay '%s'", dir);
    ck_assert_msg(r.status == 0, "%s%s", r.out, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, " 0 reproducible outputs differ"));
    ck_assert_ptr_nonnull(strstr(r.out, "identical"));
    /* a manifest that records another hash for an output: replay names it with both */
    const char *copy = run_dir("replay-copy");
    char cmd[2300];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", dir, copy);
    ck_assert_int_eq(system(cmd), 0);
    json_t *m = manifest(copy);
    json_t *o = json_array_get(json_object_get(pg_manifest_stage(m, "compress/seed2"), "outputs"), 0);
    json_object_set_new(o, "sha256", json_string("0000000000000000000000000000000000000000000000000000000000000000"));
    ck_assert_int_eq(pg_manifest_save(copy, m), 0);
    json_decref(m);
    r = t_pgolf("replay '%s' --json", copy);
    ck_assert_int_eq(r.status, 1);
    json_t *j = json_loads(r.out, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "differ")), 1);
    ck_assert_ptr_nonnull(strstr(r.err, "DIFFERS"));
    ck_assert_ptr_nonnull(strstr(r.err, "compress/seed2/model.art"));
    json_decref(j);
}
END_TEST

/* Starts `pgolf run` on dir in the background, its output into log; returns its pid. */
static pid_t spawn_run(const char *dir, const char *log)
{
    char cmd[4096];
    const char *bin = getenv("PGOLF_BIN");
    snprintf(cmd, sizeof cmd, "exec %s run --config '%s' --out '%s' >'%s' 2>&1",
             bin && *bin ? bin : "./pgolf", config(), dir, log);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Starts `pgolf run` and SIGKILLs it once `path` exists; returns 1 if it was killed. */
static int kill_when_exists(const char *dir, const char *rel)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    pid_t pid = spawn_run(dir, "/dev/null");
    int st;
    struct stat sb;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (stat(path, &sb) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return 1;
        }
        usleep(200);
    }
    return 0;
}

START_TEST(test_sigkill_resume)
{
    const char *ref = reference();
    static const struct {
        const char *name, *when, *stage;
    } points[] = {
        {"kill-train", "train/seed2/state.ckpt", "train/seed2"}, /* inside training */
        {"kill-package", "records", "package"},                  /* inside packaging */
        {"kill-compress", "compress/seed1/model.art", NULL},      /* between stages */
    };
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        const char *dir = run_dir(points[i].name);
        ck_assert_msg(kill_when_exists(dir, points[i].when), "%s: the run ended first",
                      points[i].name);
        if (points[i].stage) {
            json_t *m = manifest(dir);
            ck_assert_str_eq(stage_field(m, points[i].stage, "status"), "running");
            json_decref(m);
        }
        t_run_result r = t_pgolf("status '%s'", dir);
        ck_assert_int_eq(r.status, 0);
        r = run(dir, "");
        ck_assert_msg(r.status == 0, "%s resume: %s", points[i].name, r.err);
        if (points[i].stage && strncmp(points[i].stage, "train", 5) == 0)
            ck_assert_ptr_nonnull(strstr(r.out, "resuming from its checkpoint"));
        assert_same_outputs(ref, dir);
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "test -z \"$(find '%s' -name '*.tmp.*' -o -name '*.staging')\"", dir);
        ck_assert_msg(system(cmd) == 0, "%s: temporary files left behind", points[i].name);
    }
}
END_TEST

START_TEST(test_sigint_finishes_cleanly)
{
    const char *dir = run_dir("sigint");
    char ck[1100];
    snprintf(ck, sizeof ck, "%s/train/seed1/state.ckpt", dir);
    pid_t pid = spawn_run(dir, t_tmp_path("sigint.out"));
    int st, sent = 0;
    struct stat sb;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (!sent && stat(ck, &sb) == 0) {
            kill(pid, SIGINT);
            sent = 1;
        }
        usleep(200);
    }
    ck_assert(sent);
    ck_assert_int_eq(WEXITSTATUS(st), 130);
    json_t *m = manifest(dir);
    ck_assert_str_eq(stage_field(m, "train/seed1", "status"), "interrupted");
    json_decref(m);
    size_t len;
    char *log = (char *)t_read_bytes(t_tmp_path("sigint.out"), &len);
    log = realloc(log, len + 1);
    log[len] = '\0';
    ck_assert_ptr_nonnull(strstr(log, "interrupted during train/seed1"));
    free(log);
    t_run_result r = run(dir, "");
    ck_assert_msg(r.status == 0, "%s", r.err);
    assert_same_outputs(reference(), dir);
}
END_TEST

static unsigned char *slurp_file(const char *dir, const char *rel, size_t *len)
{
    char p[1100];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return t_read_bytes(p, len);
}

/* Runs `run` on a copy of the reference, expecting exit 1, an error containing `want`
 * and the manifest left byte for byte as it was. */
static void assert_refused(const char *dir, const char *extra, const char *want)
{
    size_t n0, n1;
    unsigned char *before = slurp_file(dir, "manifest.json", &n0);
    t_run_result r = run(dir, extra);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, want) != NULL, "want '%s' in: %s", want, r.err);
    ck_assert_int_eq(t_count_lines(r.err), 1);
    unsigned char *after = slurp_file(dir, "manifest.json", &n1);
    ck_assert(n0 == n1 && memcmp(before, after, n0) == 0);
    free(before);
    free(after);
}

START_TEST(test_bad_inputs)
{
    const char *ref = reference();
    const char *dir = run_dir("bad");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dir, ref, dir);
    ck_assert_int_eq(system(cmd), 0);
    /* a manifest edited by hand */
    snprintf(cmd, sizeof cmd, "sed -i 's/\"status\": \"done\"/\"status\": \"pending\"/' '%s/manifest.json'", dir);
    ck_assert_int_eq(system(cmd), 0);
    assert_refused(dir, "", "digest does not match the contents (edited by hand?)");
    t_run_result r = t_pgolf("status '%s'", dir);
    ck_assert_int_eq(r.status, 1);
    r = t_pgolf("replay '%s'", dir);
    ck_assert_int_eq(r.status, 1);
    /* malformed JSON */
    snprintf(cmd, sizeof cmd, "printf '{\"format\": ' > '%s/manifest.json'", dir);
    ck_assert_int_eq(system(cmd), 0);
    assert_refused(dir, "", "manifest.json:1: malformed JSON");
    /* a RUN_DIR from another manifest version (a consistent digest) */
    snprintf(cmd, sizeof cmd, "cp '%s/manifest.json' '%s/manifest.json'", ref, dir);
    ck_assert_int_eq(system(cmd), 0);
    json_t *m = manifest(dir);
    json_object_set_new(m, "version", json_integer(2));
    ck_assert_int_eq(pg_manifest_save(dir, m), 0);
    json_decref(m);
    assert_refused(dir, "", "manifest version 2");
    /* a modified input file names the file, both runs and replay refuse */
    snprintf(cmd, sizeof cmd, "cp '%s/manifest.json' '%s/manifest.json'", ref, dir);
    ck_assert_int_eq(system(cmd), 0);
    const char *shard = t_tmp_path("rundata/fineweb_val_000000.bin");
    size_t n;
    unsigned char *orig = t_read_bytes(shard, &n);
    unsigned char *mod = malloc(n);
    memcpy(mod, orig, n);
    mod[n - 1] ^= 1; /* still a valid token id */
    t_write_bytes(shard, mod, n);
    assert_refused(dir, "", "fineweb_val_000000.bin: SHA-256 differs from the manifest");
    r = t_pgolf("replay '%s'", dir);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "fineweb_val_000000.bin"));
    r = t_pgolf("status '%s'", dir);
    ck_assert_ptr_nonnull(strstr(r.out, "stale: input"));
    /* a missing one */
    ck_assert_int_eq(remove(shard), 0);
    assert_refused(dir, "", "fineweb_val_000000.bin: missing");
    t_write_bytes(shard, orig, n);
    free(orig);
    free(mod);
    /* an output modified outside pgolf */
    size_t an;
    unsigned char *art = slurp_file(dir, "records/model_seed1.art", &an);
    art[an / 2] ^= 0x10;
    char p[1100];
    snprintf(p, sizeof p, "%s/records/model_seed1.art", dir);
    t_write_bytes(p, art, an);
    free(art);
    assert_refused(dir, "", "an output of stage package");
    /* --refresh accepts it: package re-runs and restores the recorded bytes */
    r = run(dir, "--refresh");
    ck_assert_msg(r.status == 0, "%s", r.err);
    assert_same_outputs(ref, dir);
    /* a directory that is not a run */
    const char *other = run_dir("not-a-run");
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && echo keep > '%s/notes.txt'", other, other);
    ck_assert_int_eq(system(cmd), 0);
    r = run(other, "");
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "not a pgolf run directory"));
    snprintf(p, sizeof p, "%s/manifest.json", other);
    struct stat sb;
    ck_assert_int_ne(stat(p, &sb), 0);
    /* bad settings */
    r = run(run_dir("bad-set"), "--set RUN_QUANT=int3");
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "RUN_QUANT=int3 must be int8 or mixed"));
    r = run(run_dir("bad-set"), "--seeds 1,1");
    ck_assert_ptr_nonnull(strstr(r.err, "seed 1 is listed twice"));
}
END_TEST

START_TEST(test_sota_from_records_tree)
{
    const char *tree = t_shared_path("records-sample");
    if (!tree)
        T_SKIP("../shared/data/records-sample is absent");
    const char *dir = run_dir("sota");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dir, reference(), dir);
    ck_assert_int_eq(system(cmd), 0);
    char extra[1200];
    snprintf(extra, sizeof extra, "--sota-record '%s' --force", tree);
    t_run_result r = run(dir, extra);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert(ran(dir, "stats") && !ran(dir, "eval/seed1"));
    /* the tree's current SOTA on the main track, with Welch's test against its seeds */
    ck_assert_ptr_nonnull(strstr(r.out, "LQER"));
    ck_assert_ptr_nonnull(strstr(r.out, "Welch's t-test vs the SOTA's 3 seeds"));
    char p[1100];
    snprintf(p, sizeof p, "%s/stats/report.json", dir);
    json_t *rep = t_load_json(p);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rep, "sota"), "kind")), "record");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rep, "judgement"), "verdict")), "worse");
    json_decref(rep);
    /* the SOTA folder's files are inputs of the stats stage */
    json_t *m = manifest(dir);
    json_t *in = json_object_get(pg_manifest_stage(m, "stats"), "inputs");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(json_array_get(in, json_array_size(in) - 1), "path")), "LQER"));
    json_decref(m);
}
END_TEST

Suite *suite_run(void)
{
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("run");
    tcase_set_timeout(tc, 1800);
    tcase_add_test(tc, test_manifest_schema);
    tcase_add_test(tc, test_cache_hit_and_miss);
    tcase_add_test(tc, test_package_takes_eval_results);
    tcase_add_test(tc, test_replay);
    tcase_add_test(tc, test_sigkill_resume);
    tcase_add_test(tc, test_sigint_finishes_cleanly);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_sota_from_records_tree);
    suite_add_tcase(s, tc);
    return s;
}
