/* Shared helpers of the Check test suite. */
#ifndef PG_TEST_UTIL_H
#define PG_TEST_UTIL_H

#include <check.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "train/hparams.h"

/* Repository root (PGOLF_ROOT, else "."). */
const char *t_root(void);
/* root-relative path in a static ring of buffers. */
const char *t_repo_path(const char *rel);
/* ../shared/data/<rel> if ../shared exists beside the repo, else NULL (tests skip). */
const char *t_shared_path(const char *rel);
/* A fresh temporary directory (removed at exit). */
const char *t_tmpdir(void);
/* <tmpdir>/<name>. */
const char *t_tmp_path(const char *name);

/* Runs `pgolf ARGS` (a shell fragment) and captures stdout, stderr and exit status.
 * The returned strings stay valid until the next call. */
typedef struct {
    int status;
    char *out;
    char *err;
} t_run_result;
t_run_result t_pgolf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Counts '\n' in s. */
int t_count_lines(const char *s);

void t_write_bytes(const char *path, const void *data, size_t len);
unsigned char *t_read_bytes(const char *path, size_t *len);
/* The file as a NUL-terminated string (malloc'ed). */
char *t_read_text(const char *path);
json_t *t_load_json(const char *path);

/* Prints a skip line (Check has no skip status; the test passes with this note). */
#define T_SKIP(why)                                               \
    do {                                                          \
        fprintf(stderr, "SKIP %s: %s\n", __func__, (why));        \
        return;                                                   \
    } while (0)

Suite *suite_shard(void);
Suite *suite_tokenizer(void);
Suite *suite_model(void);
Suite *suite_checkpoint(void);
Suite *suite_eval(void);
Suite *suite_cli(void);
Suite *suite_settings(void);
Suite *suite_stats(void);
Suite *suite_records(void);
Suite *suite_train(void);
Suite *suite_ttt(void);
Suite *suite_ttt_phased(void);
Suite *suite_recipe(void);
Suite *suite_gptq(void);
Suite *suite_caseops(void);
Suite *suite_sp_encode(void);
Suite *suite_rerun(void);
Suite *suite_verify(void);
Suite *suite_packager(void);
Suite *suite_package(void);
Suite *suite_run(void);
Suite *suite_device(void);
Suite *suite_hostile(void);
Suite *suite_malformed(void);
Suite *suite_fuzz(void);
Suite *suite_torch(void);
Suite *suite_dist(void);
Suite *suite_shrink(void);
Suite *suite_first_contact(void);
Suite *suite_cuda(void); /* CUDA builds only */

/* A small, fast training configuration on the shipped sample (2x32, seq 32, 512 tokens a
 * step, 16 iterations, no validation, a log line every step). */
void t_small_hparams(pg_hparams *h);

#endif
