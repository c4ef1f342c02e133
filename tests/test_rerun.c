/* pgolf rerun and verify --rerun-logs on a records folder whose train_gpt.py is a small
 * Python program printing the logs' lines (the packaged pgolf folder is re-run in
 * test_packager.c): reproduced bit for bit, an altered claim not reproduced with the size
 * of the difference, a timeout and a crash reported, the folder never written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/util.h"

/* The folder: three seeds whose final roundtrip_exact line train_gpt.py prints again; it
 * needs NUM_LAYERS=11 from the README's command, hangs with HANG=1, exits 3 with CRASH=1. */
static const char *make_folder(const char *name)
{
    static char dir[1100];
    char cmd[2400];
    snprintf(dir, sizeof dir, "%s/track_10min_16mb/%s", t_tmp_path("rerun_tree"), name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    const double bpb[] = {1.2, 1.201, 1.202};
    for (int s = 1; s <= 3; s++) {
        char path[1200], text[1024];
        snprintf(path, sizeof path, "%s/train_seed%d.log", dir, s);
        snprintf(text, sizeof text,
                 "seed:%d\nstep:1/100 train_loss:6.9 train_time:10ms step_avg:10ms\n"
                 "step:100/100 val_loss:2.1 val_bpb:%.4f train_time:500000ms step_avg:50ms\n"
                 "Total submission size int8+zlib: 15000000 bytes\n"
                 "final_int8_zlib_roundtrip val_loss:2.1 val_bpb:%.4f eval_time:2000ms\n"
                 "final_int8_zlib_roundtrip_exact val_loss:2.10000000 val_bpb:%.8f\n",
                 s, bpb[s - 1], bpb[s - 1], bpb[s - 1]);
        t_write_bytes(path, text, strlen(text));
    }
    const char *py =
        "import os, sys, time\n"
        "if os.environ.get('HANG'):\n    time.sleep(600)\n"
        "if os.environ.get('CRASH'):\n    sys.exit(3)\n"
        "if os.environ.get('NUM_LAYERS') != '11' or 'DATA_PATH' in os.environ:\n    sys.exit(5)\n"
        "seed = int(os.environ['SEED'])\n"
        "bpb = {1: 1.2, 2: 1.201, 3: 1.202}[seed]\n"
        "open('scratch_output.txt', 'w').write('written in the copy')\n"
        "print(f'seed:{seed}')\n"
        "print('step:100/100 val_loss:2.1 val_bpb:%.4f train_time:500000ms step_avg:50ms' % bpb)\n"
        "print('Total submission size int8+zlib: 15000000 bytes')\n"
        "print('final_int8_zlib_roundtrip val_loss:2.1 val_bpb:%.4f eval_time:2000ms' % bpb)\n"
        "print('final_int8_zlib_roundtrip_exact val_loss:2.10000000 val_bpb:%.8f' % bpb)\n";
    const char *readme = "# fixture\n\n```sh\nNUM_LAYERS=11 DATA_PATH=/data SEED=1 torchrun "
                         "--standalone --nproc_per_node=8 train_gpt.py\n```\n";
    const char *json = "{\"name\":\"fx\",\"author\":\"me\",\"date\":\"2026-05-01\",\"val_bpb\":1.201,"
                       "\"val_loss\":2.1,\"seed_results\":{\"1\":{\"val_bpb\":1.2},\"2\":"
                       "{\"val_bpb\":1.201},\"3\":{\"val_bpb\":1.202}}}";
    const char *files[][2] = {{"train_gpt.py", py}, {"README.md", readme}, {"submission.json", json}};
    for (size_t i = 0; i < 3; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
        t_write_bytes(path, files[i][1], strlen(files[i][1]));
    }
    return dir;
}

/* The folder byte for byte as it was (a copy taken before). */
static void assert_unchanged(const char *dir, const char *before)
{
    char cmd[2600];
    snprintf(cmd, sizeof cmd, "diff -r '%s' '%s' > /dev/null", before, dir);
    ck_assert_msg(system(cmd) == 0, "%s was written by the re-run", dir);
}

static const char *snapshot(const char *dir, const char *name)
{
    static char copy[1100];
    char cmd[2600];
    snprintf(copy, sizeof copy, "%s", t_tmp_path(name));
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", copy, dir, copy);
    ck_assert_int_eq(system(cmd), 0);
    return copy;
}

START_TEST(test_rerun_reproduces)
{
    const char *dir = make_folder("reproduced");
    char before[1100], out[1100];
    snprintf(before, sizeof before, "%s", snapshot(dir, "rerun_before"));
    snprintf(out, sizeof out, "%s", t_tmp_path("rerun_out"));
    char cmd[4000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
    ck_assert_int_eq(system(cmd), 0);
    /* the seeds the claim rests on: all three */
    t_run_result r = t_pgolf("rerun '%s' --out '%s' --launcher python3 --timeout 120", dir, out);
    ck_assert_msg(r.status == 0, "%.1500s\n%.1500s", r.out, r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "executes"));
    ck_assert_ptr_nonnull(strstr(r.err, "the submission's own code"));
    ck_assert_ptr_nonnull(strstr(r.err, "    NUM_LAYERS=11\n")); /* shown before it runs */
    ck_assert_ptr_null(strstr(r.err, "DATA_PATH=/data"));      /* the original machine's */
    ck_assert_msg(strstr(r.out, "reproduced bit for bit: 3 of 3 seeds"), "%.2000s", r.out);
    ck_assert_msg(strstr(r.out, "PASS    reproduce.seed.2"), "%.2000s", r.out);
    snprintf(cmd, sizeof cmd, "test -s '%s/report.json' && test -s '%s/seed_1.log' && "
                              "test -s '%s/seed_1/scratch_output.txt'", out, out, out);
    ck_assert_int_eq(system(cmd), 0);
    assert_unchanged(dir, before);
    /* judged elsewhere from the logs alone */
    r = t_pgolf("verify '%s' --rerun-logs '%s'", dir, out);
    const char *v = strstr(r.out, "PASS    reproduce.verdict");
    ck_assert_msg(v, "%.2000s", r.out + (strlen(r.out) > 2000 ? strlen(r.out) - 2000 : 0));
    /* a second re-run into the same folder is refused */
    r = t_pgolf("rerun '%s' --out '%s' --seeds 1 --launcher python3", dir, out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "already holds a re-run"));
}
END_TEST

START_TEST(test_rerun_altered_claim)
{
    const char *dir = make_folder("altered");
    char cmd[2600], out[1100];
    /* seed 2's claim moved from 1.201 to 1.203 (both of its lines) */
    snprintf(cmd, sizeof cmd, "sed -i -e 's/val_bpb:1.2010/val_bpb:1.2030/' '%s/train_seed2.log'",
             dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(out, sizeof out, "%s", t_tmp_path("rerun_altered"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
    ck_assert_int_eq(system(cmd), 0);
    t_run_result r = t_pgolf("rerun '%s' --out '%s' --seeds 1,2 --launcher python3", dir, out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.out, "FAIL    reproduce.seed.2") &&
                      strstr(r.out, "1.20300000 claimed") && strstr(r.out, "difference -2.00e-03"),
                  "%.2000s", r.out);
    ck_assert_msg(strstr(r.out, "FAIL    reproduce.verdict") && strstr(r.out, "not reproduced") &&
                      strstr(r.out, "-0.001000 BPB"),
                  "%.2000s", r.out);
    r = t_pgolf("verify '%s' --rerun-logs '%s'", dir, out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.out, "FAIL    reproduce.verdict"));
}
END_TEST

START_TEST(test_rerun_timeout_and_crash)
{
    const char *dir = make_folder("broken");
    char before[1100], out[1100], cmd[4000];
    snprintf(before, sizeof before, "%s", snapshot(dir, "rerun_broken_before"));
    snprintf(out, sizeof out, "%s", t_tmp_path("rerun_hang"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
    ck_assert_int_eq(system(cmd), 0);
    t_run_result r = t_pgolf("rerun '%s' --out '%s' --seeds 1 --launcher python3 --env HANG=1 "
                             "--timeout 2",
                             dir, out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.out, "timed out after 2 s and was killed"), "%.2000s", r.out);
    snprintf(out, sizeof out, "%s", t_tmp_path("rerun_crash"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
    ck_assert_int_eq(system(cmd), 0);
    r = t_pgolf("rerun '%s' --out '%s' --seeds 3 --launcher python3 --env CRASH=1", dir, out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.out, "crashed: exit status 3"), "%.2000s", r.out);
    r = t_pgolf("rerun '%s' --out '%s/inner' --launcher python3", dir, dir);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "the records folder is never written"));
    assert_unchanged(dir, before);
    /* usage errors: no --out, a bad --env, a bad seed list */
    r = t_pgolf("rerun '%s'", dir);
    ck_assert_int_eq(r.status, 2);
    r = t_pgolf("rerun '%s' --out '%s/x' --env NOEQUALS", dir, out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "--env NOEQUALS: expected NAME=VALUE"));
    r = t_pgolf("rerun '%s' --out '%s/y' --seeds 1,x", dir, out);
    ck_assert_int_eq(r.status, 1);
}
END_TEST

Suite *suite_rerun(void)
{
    Suite *s = suite_create("rerun");
    TCase *tc = tcase_create("rerun");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_rerun_reproduces);
    tcase_add_test(tc, test_rerun_altered_claim);
    tcase_add_test(tc, test_rerun_timeout_and_crash);
    suite_add_tcase(s, tc);
    return s;
}
