/* CPU training: parity with the PyTorch reference, the schedule, determinism, resume
 * after SIGKILL, and bad inputs. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/sha256.h"
#include "kernels/checkpoint.h"
#include "train/train.h"
#include "packager/logparse.h"
#include "tests/util.h"

typedef struct {
    double loss[64];
    long n;
} loss_trace;

static void record_step(void *ctx, long step, double loss)
{
    loss_trace *t = ctx;
    if (step <= 64)
        t->loss[step - 1] = loss;
    t->n = step;
}

static const char *fresh_dir(const char *name)
{
    static char buf[1100];
    snprintf(buf, sizeof buf, "rm -rf '%s'", t_tmp_path(name));
    ck_assert_int_eq(system(buf), 0);
    snprintf(buf, sizeof buf, "%s", t_tmp_path(name));
    return buf;
}

START_TEST(test_parity_with_pytorch)
{
    json_t *g = t_load_json(t_repo_path("tests/golden/train_trace.json"));
    pg_hparams h;
    pg_hparams_tiny(&h, t_root());
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(g, "settings"), key, v)
        ck_assert_msg(pg_hparams_set(&h, key, json_string_value(v)) == 0, "%s", pg_errmsg());
    ck_assert_int_eq(pg_hparams_set(&h, "VAL_LOSS_EVERY", "0"), 0);
    ck_assert_int_eq(pg_hparams_set(&h, "MAX_WALLCLOCK_SECONDS", "0"), 0);
    /* the init the trace started from */
    pg_model m;
    ck_assert_int_eq(pg_model_create(&m, &h.model), 0);
    pg_model_init(&m, (uint64_t)json_integer_value(json_object_get(g, "init_seed")), PG_INIT_DENSE);
    uint8_t d[PG_SHA256_LEN];
    char hex[PG_SHA256_HEX_LEN];
    pg_sha256(m.params, m.num_params * sizeof(pg_real), d);
    pg_sha256_hex(d, hex);
    ck_assert_str_eq(hex, json_string_value(json_object_get(g, "params_sha256")));
    char init_path[1100];
    snprintf(init_path, sizeof init_path, "%s", t_tmp_path("trace_init.ckpt"));
    ck_assert_int_eq(pg_checkpoint_save(init_path, &m, NULL, NULL, 0), 0);
    pg_model_free(&m);
    ck_assert_int_eq(pg_hparams_set(&h, "INIT_CHECKPOINT", init_path), 0);
    loss_trace tr = {0};
    pg_train_opts o = {.out_dir = fresh_dir("parity"), .quiet = 1, .on_step = record_step, .ctx = &tr};
    ck_assert_msg(pg_train(&h, &o) == 0, "%s", pg_errmsg());
    json_t *want = json_object_get(g, "losses");
    ck_assert_int_eq(tr.n, (long)json_array_size(want));
    double worst = 0;
    for (long i = 0; i < tr.n; i++) {
        double w = json_real_value(json_array_get(want, (size_t)i));
        double rel = fabs(tr.loss[i] - w) / fabs(w);
        worst = fmax(worst, rel);
        ck_assert_msg(rel <= 1e-4, "step %ld: pgolf %.8f torch %.8f (rel %.2e)", i + 1, tr.loss[i],
                      w, rel);
    }
    fprintf(stderr, "train parity vs torch: %ld steps, max rel loss diff %.2e (%.5f -> %.5f)\n",
            tr.n, worst, tr.loss[0], tr.loss[tr.n - 1]);
    json_decref(g);
}
END_TEST

START_TEST(test_schedule)
{
    pg_hparams h;
    pg_hparams_default(&h);
    h.max_wallclock_seconds = 0;
    h.iterations = 100;
    h.warmdown_iters = 20;
    ck_assert_double_eq(pg_lr_scale(&h, 0, 0), 1.0);
    ck_assert_double_eq(pg_lr_scale(&h, 79, 0), 1.0);
    ck_assert_double_eq(pg_lr_scale(&h, 80, 0), 1.0);
    ck_assert_double_eq(pg_lr_scale(&h, 90, 0), 0.5);
    ck_assert_double_eq(pg_lr_scale(&h, 99, 0), 0.05);
    /* wall clock: 600 s cap, 100 ms steps, 20 warmdown steps = the last 2 s */
    h.max_wallclock_seconds = 600;
    ck_assert_double_eq(pg_lr_scale(&h, 1000, 100000), 1.0);
    ck_assert_double_eq_tol(pg_lr_scale(&h, 5990, 599000), 0.5, 1e-12);
    ck_assert_double_eq(pg_lr_scale(&h, 6000, 600000), 0.0);
    h.warmdown_iters = 0;
    ck_assert_double_eq(pg_lr_scale(&h, 5990, 599000), 1.0);
    ck_assert_double_eq(pg_muon_momentum(&h, 0), 0.85);
    ck_assert_double_eq_tol(pg_muon_momentum(&h, 250), 0.90, 1e-12);
    ck_assert_double_eq(pg_muon_momentum(&h, 500), 0.95);
    ck_assert_double_eq(pg_muon_momentum(&h, 5000), 0.95);
}
END_TEST

static void sha_of(const char *path, char out[PG_SHA256_HEX_LEN])
{
    ck_assert_msg(pg_sha256_file(path, out) == 0, "%s", pg_errmsg());
}

START_TEST(test_learns_and_is_deterministic)
{
    pg_hparams h;
    t_small_hparams(&h);
    ck_assert_int_eq(pg_hparams_set(&h, "ITERATIONS", "40"), 0);
    ck_assert_int_eq(pg_hparams_set(&h, "WARMDOWN_ITERS", "10"), 0);
    ck_assert_int_eq(pg_hparams_set(&h, "VAL_LOSS_EVERY", "40"), 0);
    char dir1[1100], dir2[1100], p[1200];
    snprintf(dir1, sizeof dir1, "%s", fresh_dir("learn1"));
    snprintf(dir2, sizeof dir2, "%s", fresh_dir("learn2"));
    pg_train_opts o = {.out_dir = dir1, .quiet = 1};
    ck_assert_msg(pg_train(&h, &o) == 0, "%s", pg_errmsg());
    o.out_dir = dir2;
    ck_assert_msg(pg_train(&h, &o) == 0, "%s", pg_errmsg());
    char h1[PG_SHA256_HEX_LEN], h2[PG_SHA256_HEX_LEN];
    snprintf(p, sizeof p, "%s/final.ckpt", dir1);
    sha_of(p, h1);
    snprintf(p, sizeof p, "%s/final.ckpt", dir2);
    sha_of(p, h2);
    ck_assert_str_eq(h1, h2);
    /* our log parses with the lenient parser, in the reference's shapes */
    pg_log_summary s;
    snprintf(p, sizeof p, "%s/train.log", dir1);
    ck_assert_int_eq(pg_log_parse(p, &s), 0);
    ck_assert_str_eq(s.final_tag, "final_fp32_exact");
    ck_assert_double_eq(s.steps.value, 40);
    ck_assert_double_eq(s.seed.value, 1337);
    /* step 0 of the log is the untrained model; the final model is clearly better */
    FILE *fp = fopen(p, "r");
    char line[512];
    double first = 0;
    while (fgets(line, sizeof line, fp))
        if (strncmp(line, "step:0/40 val_loss:", 19) == 0)
            first = strtod(strstr(line, "val_bpb:") + 8, NULL);
    fclose(fp);
    ck_assert_double_gt(first, 3.0);
    ck_assert_msg(s.val_bpb.value < first - 0.5, "val_bpb %.4f -> %.4f", first, s.val_bpb.value);
}
END_TEST

/* The thread count does not change a bit: a few training steps of the tiny model (every
 * product, the attention and the row-wise ops large enough to be split over threads)
 * with 1, 2 and 3 OpenMP threads give the same final checkpoint. */
START_TEST(test_thread_count_independent)
{
    char h[3][PG_SHA256_HEX_LEN], p[1200];
    const int threads[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        char dir[1100], name[32];
        snprintf(name, sizeof name, "threads%d", threads[i]);
        snprintf(dir, sizeof dir, "%s", fresh_dir(name));
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 "OMP_NUM_THREADS=%d \"$PGOLF_BIN\" train --preset tiny --set "
                 "TRAIN_BATCH_TOKENS=1024 --set ITERATIONS=3 --set VAL_LOSS_EVERY=0 "
                 "--out '%s' >/dev/null",
                 threads[i], dir);
        ck_assert_int_eq(system(cmd), 0);
        snprintf(p, sizeof p, "%s/final.ckpt", dir);
        sha_of(p, h[i]);
    }
    ck_assert_str_eq(h[0], h[1]);
    ck_assert_str_eq(h[0], h[2]);
}
END_TEST

/* Runs `pgolf train` with the small settings in the background and SIGKILLs it as soon as
 * its log shows the checkpoint of `kill_after`; then resumes. */
static pid_t spawn_train(const char *dir, int resume)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(98);
        char *bin = getenv("PGOLF_BIN");
        char out[1200];
        snprintf(out, sizeof out, "%s", dir);
        char *argv[] = {bin, "train", "--preset", "tiny", "--set", "NUM_LAYERS=2", "--set",
                        "MODEL_DIM=32", "--set", "TRAIN_SEQ_LEN=32", "--set",
                        "TRAIN_BATCH_TOKENS=1024", "--set", "ITERATIONS=24", "--set",
                        "WARMDOWN_ITERS=8", "--set", "VAL_LOSS_EVERY=0", "--set",
                        "CHECKPOINT_EVERY=4", "--out", out, resume ? "--resume" : NULL, NULL};
        execv(bin, argv);
        _exit(99);
    }
    return pid;
}

static int log_has(const char *dir, const char *needle)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/train.log", dir);
    FILE *fp = fopen(p, "r");
    if (!fp)
        return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, fp))
        found = strstr(line, needle) != NULL;
    fclose(fp);
    return found;
}

START_TEST(test_resume_after_sigkill)
{
    char ref[1100], killed[1100], p[1200];
    snprintf(ref, sizeof ref, "%s", fresh_dir("resume_ref"));
    snprintf(killed, sizeof killed, "%s", fresh_dir("resume_killed"));
    int st;
    pid_t pid = spawn_train(ref, 0);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char want[PG_SHA256_HEX_LEN], got[PG_SHA256_HEX_LEN];
    snprintf(p, sizeof p, "%s/final.ckpt", ref);
    sha_of(p, want);
    /* kill at two points: right after an early checkpoint, and later */
    const char *marks[] = {"checkpoint: step:4 ", "checkpoint: step:12 "};
    pid = spawn_train(killed, 0);
    for (int k = 0; k < 2; k++) {
        while (!log_has(killed, marks[k])) {
            ck_assert_int_eq(waitpid(pid, &st, WNOHANG), 0); /* still running */
            usleep(500);
        }
        kill(pid, SIGKILL);
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert(WIFSIGNALED(st));
        snprintf(p, sizeof p, "%s/final.ckpt", killed);
        struct stat sb;
        ck_assert_int_ne(stat(p, &sb), 0); /* not finished */
        pid = spawn_train(killed, 1);
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert(log_has(killed, "resume: from"));
    sha_of(p, got);
    ck_assert_str_eq(want, got);
    /* no temp files left behind by the killed writers */
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", killed);
    ck_assert_int_ne(system(cmd), 0);
}
END_TEST

/* An earlier run is never overwritten: a second `pgolf train` into it is refused with
 * the files named and nothing changed; --resume continues it, --force starts over. Without
 * --out, the reference's layout: logs/RUN_ID.txt and its checkpoints beside it. */
START_TEST(test_existing_run_refused)
{
    const char *base = "train --preset tiny --set NUM_LAYERS=2 --set MODEL_DIM=32 "
                       "--set TRAIN_SEQ_LEN=32 --set TRAIN_BATCH_TOKENS=512 --set ITERATIONS=3 "
                       "--set VAL_LOSS_EVERY=0";
    char dir[1100], copy[1200], cmd[4096];
    snprintf(dir, sizeof dir, "%s", fresh_dir("existing"));
    t_run_result r = t_pgolf("%s --out '%s'", base, dir);
    ck_assert_msg(r.status == 0, "%s", r.err);
    snprintf(copy, sizeof copy, "%s.copy", dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", copy, dir, copy);
    ck_assert_int_eq(system(cmd), 0);
    r = t_pgolf("%s --set MATRIX_LR=0.03 --out '%s'", base, dir);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "holds a training run") && strstr(r.err, "train.log") &&
                      strstr(r.err, "final.ckpt") && strstr(r.err, "--resume") &&
                      t_count_lines(r.err) == 1, "%s", r.err);
    snprintf(cmd, sizeof cmd, "diff -r '%s' '%s' >/dev/null", dir, copy);
    ck_assert_msg(system(cmd) == 0, "the refused run changed %s", dir);
    r = t_pgolf("%s --out '%s' --resume --force", base, dir);
    ck_assert_int_eq(r.status, 2);
    r = t_pgolf("%s --out '%s' --resume", base, dir);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert(log_has(dir, "resume: from"));
    r = t_pgolf("%s --out '%s' --force", base, dir);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert(!log_has(dir, "resume: from"));

    /* RUN_ID: logs/RUN_ID.txt in the working directory, then refused like --out */
    const char *bin = getenv("PGOLF_BIN");
    snprintf(cmd, sizeof cmd, "cd '%s' && RUN_ID=r1 PGOLF_ROOT='%s' '%s' %s >/dev/null 2>&1 && "
             "test -s logs/r1.txt && test -s logs/r1_final.ckpt && test -s logs/r1_state.ckpt && "
             "grep -q '^run_id:r1 log:logs/r1.txt' logs/r1.txt",
             dir, t_repo_path("."), bin && *bin ? bin : "./pgolf", base);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "cd '%s' && RUN_ID=r1 PGOLF_ROOT='%s' '%s' %s 2>&1 | "
             "grep -q 'logs holds a training run (logs/r1.txt'",
             dir, t_repo_path("."), bin && *bin ? bin : "./pgolf", base);
    ck_assert_int_eq(system(cmd), 0);
    /* no RUN_ID: a fresh UUID each time */
    snprintf(cmd, sizeof cmd, "cd '%s' && PGOLF_ROOT='%s' '%s' %s >/dev/null 2>&1 && "
             "ls logs | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
             "[0-9a-f]{12}\\.txt$'",
             dir, t_repo_path("."), bin && *bin ? bin : "./pgolf", base);
    ck_assert_int_eq(system(cmd), 0);
    /* the baseline's settings on the CPU: a warning before anything else */
    r = t_pgolf("train --set DATA_PATH=/nonexistent/data --out '%s/baseline'", dir);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "warning: one training step is about") &&
                      strstr(r.err, "TRAIN_BATCH_TOKENS=524288"), "%s", r.err);
}
END_TEST

START_TEST(test_bad_inputs)
{
    const char *base = "train --preset tiny --set NUM_LAYERS=2 --set MODEL_DIM=32 "
                       "--set TRAIN_SEQ_LEN=32 --set TRAIN_BATCH_TOKENS=512 --set ITERATIONS=6 "
                       "--set VAL_LOSS_EVERY=0";
    char out[1100];
    snprintf(out, sizeof out, "%s", fresh_dir("bad"));
    struct {
        const char *extra;
        const char *want;
    } cases[] = {
        {"--set MATRIX_LR=-1", "MATRIX_LR=-1 must be >= 0"},
        {"--set NUM_HEADS=5", "NUM_HEADS=5 does not divide MODEL_DIM=32"},
        {"--set DATA_PATH=/nonexistent/data", "/nonexistent/data"},
        {"--set TRAIN_SEQ_LEN=20000 --set TRAIN_BATCH_TOKENS=160000", "shorter than TRAIN_SEQ_LEN"},
        {"--set TRAIN_BATCH_TOKENS=500", "TRAIN_BATCH_TOKENS=500 must split"},
        {"--set WORLD_SIZE=3", "WORLD_SIZE=3 must divide 8"},
        {"--set BETA2=1.5", "BETA2=1.5 must be in [0, 1)"},
        {"--set NOT_A_SETTING=1", "unknown setting NOT_A_SETTING"},
        {"--set SEED=abc", "SEED=abc is not an integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t_run_result r = t_pgolf("%s %s --out '%s/c%zu'", base, cases[i].extra, out, i);
        ck_assert_msg(r.status == 1, "'%s' exited %d", cases[i].extra, r.status);
        ck_assert_msg(strstr(r.err, cases[i].want) != NULL, "'%s': %s", cases[i].extra, r.err);
        ck_assert_int_eq(t_count_lines(r.err), 1);
    }
    /* a config file with a broken line */
    const char *cfg = t_tmp_path("bad.cfg");
    t_write_bytes(cfg, "# comment\nMATRIX_LR=0.02\nthis line is wrong\n", 43);
    t_run_result r = t_pgolf("%s --config '%s' --out '%s/cfg'", base, cfg, out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "bad.cfg:3: expected NAME=VALUE"), "%s", r.err);
}
END_TEST

START_TEST(test_precedence_and_nan)
{
    char out[1100], cfgp[1100];
    snprintf(out, sizeof out, "%s", fresh_dir("prec"));
    snprintf(cfgp, sizeof cfgp, "%s", t_tmp_path("prec.cfg"));
    t_write_bytes(cfgp, "MATRIX_LR=0.01\nSCALAR_LR=0.01\nTIED_EMBED_LR=0.01\n", 48);
    /* file < env < flag: MATRIX_LR from the flag, SCALAR_LR from env, TIED_EMBED_LR file */
    t_run_result r = t_pgolf("train --preset tiny --set NUM_LAYERS=2 --set MODEL_DIM=32 --set "
                             "TRAIN_SEQ_LEN=32 --set TRAIN_BATCH_TOKENS=512 --set ITERATIONS=2 "
                             "--set VAL_LOSS_EVERY=0 --config '%s' --set MATRIX_LR=0.03 "
                             "--out '%s/ok'",
                             cfgp, out);
    ck_assert_msg(r.status == 0, "%s", r.err);
    char logp[1200], cmd[4096];
    snprintf(logp, sizeof logp, "%s/ok/train.log", out);
    snprintf(cmd, sizeof cmd, "grep -q '^config:MATRIX_LR=0.03$' '%s' && grep -q "
             "'^config:TIED_EMBED_LR=0.01$' '%s'", logp, logp);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "SCALAR_LR=0.02 \"$PGOLF_BIN\" train --preset tiny --set NUM_LAYERS=2 "
             "--set MODEL_DIM=32 --set TRAIN_SEQ_LEN=32 --set TRAIN_BATCH_TOKENS=512 --set "
             "ITERATIONS=2 --set VAL_LOSS_EVERY=0 --config '%s' --out '%s/env' >/dev/null && "
             "grep -q '^config:SCALAR_LR=0.02$' '%s/env/train.log'",
             cfgp, out, out);
    ck_assert_int_eq(system(cmd), 0);
    /* the same --out again needs --resume */
    r = t_pgolf("train --preset tiny --set NUM_LAYERS=2 --set MODEL_DIM=32 --set TRAIN_SEQ_LEN=32 "
                "--set TRAIN_BATCH_TOKENS=512 --set ITERATIONS=2 --set VAL_LOSS_EVERY=0 "
                "--config '%s' --set MATRIX_LR=0.03 --out '%s/ok'",
                cfgp, out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "--resume"));
    /* an exploding learning rate: stops with a clear message, keeps the last checkpoint */
    r = t_pgolf("train --preset tiny --set NUM_LAYERS=2 --set MODEL_DIM=32 --set TRAIN_SEQ_LEN=32 "
                "--set TRAIN_BATCH_TOKENS=512 --set ITERATIONS=30 --set VAL_LOSS_EVERY=0 "
                "--set CHECKPOINT_EVERY=1 --set TIED_EMBED_LR=1e30 --set SCALAR_LR=1e30 "
                "--out '%s/nan'",
                out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "train_loss is") && strstr(r.err, "last good checkpoint"), "%s",
                  r.err);
    char state[1200];
    snprintf(state, sizeof state, "%s/nan/state.ckpt", out);
    pg_model m;
    ck_assert_msg(pg_checkpoint_load(state, &m, NULL) == 0, "%s", pg_errmsg());
    for (size_t i = 0; i < m.num_params; i++)
        ck_assert(isfinite(m.params[i]));
    pg_model_free(&m);
}
END_TEST

Suite *suite_train(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_schedule);
    tcase_add_test(tc, test_parity_with_pytorch);
    tcase_add_test(tc, test_learns_and_is_deterministic);
    tcase_add_test(tc, test_thread_count_independent);
    tcase_add_test(tc, test_resume_after_sigkill);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_existing_run_refused);
    tcase_add_test(tc, test_precedence_and_nan);
    suite_add_tcase(s, tc);
    return s;
}
