/* Multi-process runs without GPUs: the launcher's environment, the rendezvous (ranks as
 * forked processes on loopback), the CPU all-reduce, and `pgolf train` as two real
 * processes giving the bits of the one-process WORLD_SIZE=2 emulation. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/dist.h"
#include "common/err.h"
#include "tests/util.h"
#ifdef PGOLF_CUDA
#include "kernels/cuda/backend_cuda.h"
#endif

typedef struct {
    int ok;
    uint8_t id[PG_DIST_ID_LEN];
    float sum[5];
    char msg[300];
} rank_result;

/* Runs ranks 0..n-1 as processes: rank i says world[i]; file or TCP port rendezvous;
 * each (when joined) all-reduces {i+0.1, 1e8, -1e8, i, 1/3} and reports. */
static void run_ranks(int n, const int *world, const char *file, int port, double timeout,
                      const uint8_t *id0, rank_result *res)
{
    int fds[16][2];
    pid_t pids[16];
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(pipe(fds[i]), 0);
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            rank_result r;
            memset(&r, 0, sizeof r);
            pg_dist_env e = {.rank = i, .world = world[i], .port = port, .source = "test"};
            snprintf(e.addr, sizeof e.addr, "127.0.0.1");
            if (file)
                snprintf(e.file, sizeof e.file, "%s", file);
            pg_dist d;
            if (pg_dist_connect(&d, &e, timeout, i == 0 ? id0 : NULL) == 0) {
                float x[5] = {(float)i + 0.1f, 1e8f, -1e8f, (float)i, 1.0f / 3.0f};
                r.ok = pg_dist_all_reduce_sum(&d, x, 5) == 0;
                memcpy(r.id, d.id, sizeof r.id);
                memcpy(r.sum, x, sizeof x);
                pg_dist_close(&d);
            }
            snprintf(r.msg, sizeof r.msg, "%s", r.ok ? "" : pg_errmsg());
            ssize_t w = write(fds[i][1], &r, sizeof r);
            _exit(w == (ssize_t)sizeof r ? 0 : 1);
        }
        close(fds[i][1]);
    }
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(read(fds[i][0], &res[i], sizeof res[i]), (ssize_t)sizeof res[i]);
        close(fds[i][0]);
        waitpid(pids[i], NULL, 0);
    }
}

START_TEST(rendezvous_file_and_all_reduce)
{
    int world[4] = {4, 4, 4, 4};
    rank_result r[4];
    run_ranks(4, world, t_tmp_path("rdv"), 0, 20, NULL, r);
    float want[5] = {0, 0, 0, 0, 0};
    for (int i = 0; i < 4; i++) { /* 0 + x_0 + x_1 + ... in rank order, in float */
        float x[5] = {(float)i + 0.1f, 1e8f, -1e8f, (float)i, 1.0f / 3.0f};
        for (int k = 0; k < 5; k++)
            want[k] += x[k];
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(r[i].ok, "rank %d: %s", i, r[i].msg);
        ck_assert_int_eq(memcmp(r[i].id, r[0].id, PG_DIST_ID_LEN), 0);
        ck_assert_int_eq(memcmp(r[i].sum, want, sizeof want), 0);
    }
}
END_TEST

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

START_TEST(rendezvous_tcp_port)
{
    int world[2] = {2, 2};
    rank_result r[2];
    run_ranks(2, world, NULL, free_port(), 20, NULL, r);
    ck_assert_msg(r[0].ok && r[1].ok, "%s / %s", r[0].msg, r[1].msg);
    ck_assert_int_eq(memcmp(r[0].id, r[1].id, PG_DIST_ID_LEN), 0);
}
END_TEST

START_TEST(rendezvous_missing_rank_times_out)
{
    int world[2] = {3, 3}; /* rank 2 never starts */
    rank_result r[2];
    run_ranks(2, world, t_tmp_path("rdv_missing"), 0, 1, NULL, r);
    ck_assert(!r[0].ok);
    ck_assert_msg(strstr(r[0].msg, "rank 2 of 3 did not arrive within 1 s"), "%s", r[0].msg);
    ck_assert(!r[1].ok);
}
END_TEST

START_TEST(rendezvous_wrong_world_size_refused)
{
    int world[2] = {2, 3};
    rank_result r[2];
    run_ranks(2, world, t_tmp_path("rdv_world"), 0, 10, NULL, r);
    ck_assert(!r[0].ok && !r[1].ok);
    ck_assert_msg(strstr(r[0].msg, "rank 1 says WORLD_SIZE=3 but rank 0 has WORLD_SIZE=2"), "%s", r[0].msg);
    ck_assert_msg(strstr(r[1].msg, "rank 0 refused rank 1"), "%s", r[1].msg);
}
END_TEST

START_TEST(rendezvous_unreachable_rank0)
{
    /* rank 1 alone: rank 0 never writes the rendezvous file */
    pg_dist_env e = {.rank = 1, .world = 2, .source = "test"};
    snprintf(e.addr, sizeof e.addr, "127.0.0.1");
    snprintf(e.file, sizeof e.file, "%s", t_tmp_path("rdv_never"));
    pg_dist d;
    ck_assert_int_eq(pg_dist_connect(&d, &e, 0.3, NULL), -1);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "rank 1 could not reach rank 0"));
}
END_TEST

static void clear_env(void)
{
    const char *vars[] = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                          "PGOLF_RENDEZVOUS_FILE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
                          "OMPI_COMM_WORLD_LOCAL_RANK", "PMI_RANK", "PMI_SIZE", "TORCHELASTIC_USE_AGENT_STORE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

START_TEST(launcher_environment)
{
    pg_dist_env e;
    int launched;
    clear_env();
    setenv("WORLD_SIZE", "4", 1); /* alone: the one-process emulation */
    ck_assert_int_eq(pg_dist_env_read(&e, &launched), 0);
    ck_assert_int_eq(launched, 0);
    setenv("RANK", "2", 1);
    setenv("LOCAL_RANK", "2", 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", "29500", 1);
    ck_assert_int_eq(pg_dist_env_read(&e, &launched), 0);
    ck_assert(launched && e.rank == 2 && e.world == 4 && e.local_rank == 2 && e.port == 29500);
    ck_assert_str_eq(e.source, "torchrun");
    setenv("TORCHELASTIC_USE_AGENT_STORE", "True", 1); /* torchrun's store holds MASTER_PORT */
    ck_assert_int_eq(pg_dist_env_read(&e, &launched), 0);
    ck_assert_int_eq(e.port, 29501);
    setenv("RANK", "4", 1);
    ck_assert_int_eq(pg_dist_env_read(&e, &launched), -1);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "RANK=4 is not below WORLD_SIZE=4"));
    clear_env();
    setenv("OMPI_COMM_WORLD_RANK", "1", 1);
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    ck_assert_int_eq(pg_dist_env_read(&e, &launched), -1);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "neither MASTER_ADDR and MASTER_PORT nor "
                                              "PGOLF_RENDEZVOUS_FILE"));
    setenv("PGOLF_RENDEZVOUS_FILE", "/tmp/x", 1);
    ck_assert_int_eq(pg_dist_env_read(&e, &launched), 0);
    ck_assert(launched && e.rank == 1 && e.world == 2);
    ck_assert_str_eq(e.source, "mpirun (OpenMPI)");
    clear_env();
    setenv("RANK", "0", 1);
    ck_assert_int_eq(pg_dist_env_read(&e, &launched), -1);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "RANK=0 is set but WORLD_SIZE is not"));
    clear_env();
}
END_TEST

static const char *pgolf_bin(void)
{
    const char *bin = getenv("PGOLF_BIN");
    return bin && *bin ? bin : "./pgolf";
}

/* `pgolf SUB COMMON --out OUT` as ranks 0 and 1 of a 2-process launch (file rendezvous)
 * in d; returns rank 0's exit status and rank 1's in *rc1. Output in OUT.r0 / OUT.r1. */
static int two_ranks(const char *d, const char *sub, const char *common, const char *out, int *rc1)
{
    const char *bin = pgolf_bin();
    char cmd[4096], p[600];
    snprintf(cmd, sizeof cmd,
             "cd %s && (RANK=1 WORLD_SIZE=2 PGOLF_RENDEZVOUS_FILE=%s.rz %s %s %s --out %s "
             ">%s.r1 2>&1; echo $? >%s.rc1) & cd %s && RANK=0 WORLD_SIZE=2 "
             "PGOLF_RENDEZVOUS_FILE=%s.rz %s %s %s --out %s >%s.r0 2>&1; rc=$?; wait; exit $rc",
             d, out, bin, sub, common, out, out, out, d, out, bin, sub, common, out, out);
    int st = system(cmd);
    snprintf(p, sizeof p, "%s/%s.rc1", d, out);
    size_t n;
    char *rc = (char *)t_read_bytes(p, &n);
    *rc1 = n >= 1 ? atoi(rc) : -1;
    free(rc);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Two `pgolf train` processes (RANK=0/1, WORLD_SIZE=2) write the same final.ckpt and log
 * as one process emulating WORLD_SIZE=2. */
START_TEST(train_two_processes_match_emulation)
{
    const char *d = t_tmpdir();
    const char *common = "--preset tiny --set ITERATIONS=3 --set VAL_LOSS_EVERY=0";
    char cmd[4096];
    const char *bin = pgolf_bin();
    clear_env();
    snprintf(cmd, sizeof cmd, "cd %s && WORLD_SIZE=2 %s train %s --out emu >/dev/null 2>&1", d, bin, common);
    ck_assert_int_eq(system(cmd), 0);
    int rc1;
    ck_assert_int_eq(two_ranks(d, "train", common, "mp", &rc1), 0);
    ck_assert_msg(rc1 == 0, "rank 1 failed");
    char p[600];
    size_t n;
    size_t na, nb;
    snprintf(p, sizeof p, "%s/emu/final.ckpt", d);
    unsigned char *a = t_read_bytes(p, &na);
    snprintf(p, sizeof p, "%s/mp/final.ckpt", d);
    unsigned char *b = t_read_bytes(p, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(a, b, na) == 0, "final.ckpt of 2 processes differs from the emulation");
    free(a);
    free(b);
    /* rank 1 wrote nothing of its own: one log, rank 0's */
    snprintf(p, sizeof p, "%s/mp/train.log", d);
    unsigned char *log = t_read_bytes(p, &n);
    ck_assert_ptr_nonnull(strstr((char *)log, "world_size:2 grad_accum_steps:4"));
    free(log);
}
END_TEST

/* Two processes killed after a checkpoint and started again with --resume end with the
 * bits of the same two processes run through. */
START_TEST(train_two_processes_resume)
{
    const char *d = t_tmpdir();
    /* a small model and many steps: quick even under ASan, and still running when the
     * step-4 checkpoint appears */
    const char *common = "--preset tiny --set NUM_LAYERS=2 --set MODEL_DIM=32 --set "
                         "TRAIN_SEQ_LEN=32 --set TRAIN_BATCH_TOKENS=512 --set ITERATIONS=60 "
                         "--set CHECKPOINT_EVERY=4 --set VAL_LOSS_EVERY=0";
    const char *bin = pgolf_bin();
    clear_env();
    char cmd[4096];
    /* both ranks of one run in DIR; $1 extra flags */
    const char *pair = "run2() { dir=$1; shift; "
                       "(RANK=1 WORLD_SIZE=2 PGOLF_RENDEZVOUS_FILE=$dir.rz %s train %s --out $dir "
                       "\"$@\" >/dev/null 2>&1 &); RANK=0 WORLD_SIZE=2 "
                       "PGOLF_RENDEZVOUS_FILE=$dir.rz %s train %s --out $dir \"$@\" >/dev/null 2>&1; }";
    char fn[2048];
    snprintf(fn, sizeof fn, pair, bin, common, bin, common);
    snprintf(cmd, sizeof cmd,
             "cd %s && %s; run2 through && test -s through/final.ckpt && "
             "( run2 killed & ) ; "
             "i=0; until grep -q 'checkpoint: step:4 ' killed/train.log 2>/dev/null; do "
             "i=$((i+1)); [ $i -gt 9000 ] && exit 3; sleep 0.01; done; "
             "pkill -9 -f '[o]ut killed' ; sleep 0.5; test ! -e killed/final.ckpt || exit 4; "
             "run2 killed --resume && grep -q 'resume: from' killed/train.log && "
             "cmp through/final.ckpt killed/final.ckpt",
             d, fn);
    int st = system(cmd);
    ck_assert_msg(st == 0, "resumed 2-process run differs or failed (shell status %d)", st);
}
END_TEST

/* `pgolf run` under a launcher: rank 0 runs the pipeline and rank 1 trains beside it; the
 * checkpoints are those of one process emulating WORLD_SIZE=2, rank 1 writes nothing,
 * and the manifest says 2 ranks. */
START_TEST(run_two_processes_match_emulation)
{
    const char *d = t_tmpdir();
    const char *common = "--preset tiny --set NUM_LAYERS=2 --set MODEL_DIM=32 --set NUM_HEADS=2 "
                         "--set NUM_KV_HEADS=1 --set TRAIN_SEQ_LEN=32 --set ITERATIONS=6 "
                         "--set WARMDOWN_ITERS=2 --set TRAIN_BATCH_TOKENS=512 "
                         "--set MUON_MOMENTUM_WARMUP_STEPS=2 --set RUN_SEEDS=1,2 "
                         "--set RUN_SLIDING_STRIDE=32";
    const char *bin = pgolf_bin();
    clear_env();
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd %s && WORLD_SIZE=2 %s run %s --out run_emu >run_emu.out 2>&1", d, bin,
             common);
    ck_assert_msg(system(cmd) == 0, "the one-process run failed (see %s/run_emu.out)", d);
    int rc1;
    ck_assert_msg(two_ranks(d, "run", common, "run_mp", &rc1) == 0,
                  "rank 0 of the launched run failed (see %s/run_mp.r0)", d);
    ck_assert_msg(rc1 == 0, "rank 1 failed (see %s/run_mp.r1)", d);
    char p[600];
    for (int seed = 1; seed <= 2; seed++) {
        size_t na, nb;
        snprintf(p, sizeof p, "%s/run_emu/train/seed%d/final.ckpt", d, seed);
        unsigned char *a = t_read_bytes(p, &na);
        snprintf(p, sizeof p, "%s/run_mp/train/seed%d/final.ckpt", d, seed);
        unsigned char *b = t_read_bytes(p, &nb);
        ck_assert_msg(na == nb && memcmp(a, b, na) == 0, "seed %d: the launched run's checkpoint "
                      "differs from the emulation's", seed);
        free(a);
        free(b);
    }
    snprintf(p, sizeof p, "%s/run_mp/manifest.json", d);
    json_t *m = t_load_json(p);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(m, "backend"), "ranks")), 2);
    json_decref(m);
    snprintf(p, sizeof p, "%s/run_emu/manifest.json", d);
    m = t_load_json(p);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(m, "backend"), "ranks")), 1);
    json_decref(m);
}
END_TEST

/* The other ranks stop with rank 0 when its run fails before training. */
START_TEST(run_rank0_failure_releases_ranks)
{
    const char *d = t_tmpdir();
    clear_env();
    /* an unreadable data folder: rank 0's data stage fails */
    const char *common = "--preset tiny --set DATA_PATH=/nonexistent/data";
    int rc1;
    ck_assert_msg(two_ranks(d, "run", common, "fail_mp", &rc1) != 0, "rank 0 succeeded without data");
    ck_assert_msg(rc1 == 1, "rank 1 did not fail with rank 0 (exit %d)", rc1);
    char p[600];
    size_t n;
    snprintf(p, sizeof p, "%s/fail_mp.r1", d);
    unsigned char *out = t_read_bytes(p, &n);
    ck_assert_msg(strstr((char *)out, "rank 0's run failed"), "%s", (char *)out);
    free(out);
}
END_TEST

/* An interrupt (a launcher signals every rank) stops both ranks at the step rank 0 stops
 * at: rank 0 saves the state and exits 130, rank 1 follows instead of hanging. */
START_TEST(run_two_processes_interrupted)
{
    const char *d = t_tmpdir();
    clear_env();
    const char *bin = pgolf_bin();
    const char *common = "--preset tiny --set NUM_LAYERS=2 --set MODEL_DIM=32 --set NUM_HEADS=2 "
                         "--set NUM_KV_HEADS=1 --set TRAIN_SEQ_LEN=32 --set ITERATIONS=100000 "
                         "--set TRAIN_BATCH_TOKENS=512 --set RUN_SEEDS=1";
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             /* the signal goes to the two pgolf processes only: their command lines hold
              * "out sig_mp", this shell's holds "out $o" */
             "cd %s && export WORLD_SIZE=2 PGOLF_RENDEZVOUS_FILE=%s/sig.rz; o=sig_mp; "
             "(RANK=1 %s run %s --out $o >sig.r1 2>&1; echo $? >sig.rc1) & "
             "(RANK=0 %s run %s --out $o >sig.r0 2>&1; echo $? >sig.rc0) & "
             "i=0; until grep -q '^step:10/' $o/train/seed1/train.log 2>/dev/null; do "
             "i=$((i+1)); [ $i -gt 12000 ] && pkill -f 'out sig[_]mp'; [ $i -gt 12000 ] && exit 3; "
             "sleep 0.01; done; pkill -INT -f 'out sig[_]mp'; wait; "
             "test \"$(cat sig.rc0)\" = 130 && test \"$(cat sig.rc1)\" != 0 && "
             "grep -q '^interrupted: step:' $o/train/seed1/train.log",
             d, d, bin, common, bin, common);
    int st = system(cmd);
    ck_assert_msg(st == 0, "the interrupted launch did not end as expected (shell status %d; see %s)",
                  st, d);
}
END_TEST

#ifdef PGOLF_CUDA
/* NCCL's unique id needs no GPU: rank 0 draws it before the rendezvous, which hands that
 * id (not a random one) to every rank, as `pgolf train --backend cuda` does. */
START_TEST(nccl_id_through_rendezvous)
{
    char nccl[64];
    pg_cuda_nccl_describe(nccl, sizeof nccl);
    if (strcmp(nccl, "NCCL not found") == 0) {
        printf("SKIP: nccl id through the rendezvous: %s\n", pg_errmsg());
        return;
    }
    ck_assert_msg(strncmp(nccl, "NCCL 2.", 7) == 0, "%s", nccl);
    uint8_t id[PG_DIST_ID_LEN] = {0}, zero[PG_DIST_ID_LEN] = {0};
    ck_assert_int_eq(pg_cuda_group_id(id, 16), -1);
    ck_assert_msg(strstr(pg_errmsg(), "128 bytes, not 16"), "%s", pg_errmsg());
    ck_assert_msg(pg_cuda_group_id(id, sizeof id) == 0, "%s", pg_errmsg());
    ck_assert(memcmp(id, zero, sizeof id) != 0);
    int world[2] = {2, 2};
    rank_result r[2];
    run_ranks(2, world, t_tmp_path("rdv_nccl"), 0, 20, id, r);
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(r[i].ok, "rank %d: %s", i, r[i].msg);
        ck_assert_int_eq(memcmp(r[i].id, id, sizeof id), 0);
    }
}
END_TEST

/* A missing NCCL is one line naming the file and PGOLF_NCCL. In a child, before any test
 * loads NCCL: a process loads it once (the tests run in one process). */
START_TEST(nccl_missing_library)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setenv("PGOLF_NCCL", "/nonexistent/libnccl.so.2", 1);
        uint8_t id[PG_DIST_ID_LEN];
        int refused = pg_cuda_group_id(id, sizeof id) == -1 &&
                      strstr(pg_errmsg(), "/nonexistent/libnccl.so.2: cannot load NCCL") &&
                      strstr(pg_errmsg(), "PGOLF_NCCL");
        if (!refused)
            fprintf(stderr, "nccl_missing_library: %s\n", pg_errmsg());
        _exit(refused ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a missing NCCL was not refused");
}
END_TEST
#endif

Suite *suite_dist(void)
{
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("dist");
    tcase_set_timeout(tc, 900); /* two-process training and pipelines under ASan */
    tcase_add_test(tc, rendezvous_file_and_all_reduce);
    tcase_add_test(tc, rendezvous_tcp_port);
    tcase_add_test(tc, rendezvous_missing_rank_times_out);
    tcase_add_test(tc, rendezvous_wrong_world_size_refused);
    tcase_add_test(tc, rendezvous_unreachable_rank0);
    tcase_add_test(tc, launcher_environment);
    tcase_add_test(tc, train_two_processes_match_emulation);
    tcase_add_test(tc, train_two_processes_resume);
    tcase_add_test(tc, run_two_processes_match_emulation);
    tcase_add_test(tc, run_rank0_failure_releases_ranks);
    tcase_add_test(tc, run_two_processes_interrupted);
#ifdef PGOLF_CUDA
    tcase_add_test(tc, nccl_missing_library); /* first: NCCL stays loaded once loaded */
    tcase_add_test(tc, nccl_id_through_rendezvous);
#endif
    suite_add_tcase(s, tc);
    return s;
}
