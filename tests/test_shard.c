/* Token shards: round trip, every corrupt-input case, and `pgolf data check`. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "dataset/shard.h"
#include "tests/util.h"

static const uint16_t kTokens[] = {1, 100, 200, 300, 1, 5, 1023, 7};
#define N_TOKENS (sizeof kTokens / sizeof kTokens[0])

/* Writes a valid shard into a fresh directory and returns the shard's path. */
static const char *make_shard_dir(const char *dirname, const char *split)
{
    const char *dir = t_tmp_path(dirname);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    static char path[1100];
    snprintf(path, sizeof path, "%s/fineweb_%s_000000.bin", dir, split);
    ck_assert_int_eq(pg_shard_write(path, kTokens, N_TOKENS), 0);
    return path;
}

START_TEST(test_roundtrip)
{
    const char *path = make_shard_dir("rt", "val");
    uint16_t *t;
    size_t n;
    ck_assert_int_eq(pg_shard_read(path, 1024, &t, &n), 0);
    ck_assert_uint_eq(n, N_TOKENS);
    ck_assert_mem_eq(t, kTokens, sizeof kTokens);
    ck_assert_uint_eq(pg_count_documents(t, n), 2);
    free(t);
    size_t len;
    unsigned char *raw = t_read_bytes(path, &len);
    ck_assert_uint_eq(len, 1024 + 2 * N_TOKENS);
    /* header words are little-endian: 20240520 = 0x0134D888 */
    ck_assert_int_eq(raw[0], 0x88);
    ck_assert_int_eq(raw[3], 0x01);
    ck_assert_int_eq(raw[4], 1);
    ck_assert_int_eq(raw[8], N_TOKENS);
    ck_assert_int_eq(raw[1024 + 2 * 6], 0xff); /* 1023 low byte */
    ck_assert_int_eq(raw[1024 + 2 * 6 + 1], 0x03);
    free(raw);
}
END_TEST

/* Corrupts a copy of a valid shard and checks the one-line error. */
static void expect_corrupt(void (*damage)(unsigned char **buf, size_t *len), int vocab,
                           const char *want)
{
    const char *path = make_shard_dir("bad", "train");
    size_t len;
    unsigned char *buf = t_read_bytes(path, &len);
    damage(&buf, &len);
    t_write_bytes(path, buf, len);
    free(buf);
    uint16_t *t = NULL;
    size_t n = 99;
    ck_assert_int_eq(pg_shard_read(path, vocab, &t, &n), -1);
    ck_assert_ptr_null(t);
    ck_assert_uint_eq(n, 0);
    ck_assert_msg(strstr(pg_errmsg(), path) != NULL, "error does not name the file: %s",
                  pg_errmsg());
    ck_assert_msg(strstr(pg_errmsg(), want) != NULL, "got '%s', want '%s'", pg_errmsg(), want);
    ck_assert_ptr_null(strchr(pg_errmsg(), '\n'));
    /* the CLI reports the same problem on one line, exit 1 */
    const char *dir = t_tmp_path("bad");
    t_run_result r = t_pgolf("data check '%s' --vocab %d", dir, vocab ? vocab : 65536);
    ck_assert_int_eq(r.status, 1);
    ck_assert_int_eq(t_count_lines(r.err), 1);
    ck_assert_msg(strstr(r.err, want) && strstr(r.err, "fineweb_train_000000.bin"), "%s", r.err);
}

static void bad_magic(unsigned char **b, size_t *len) { (void)len; (*b)[0] ^= 0xff; }
static void bad_version(unsigned char **b, size_t *len) { (void)len; (*b)[4] = 2; }
static void truncate_body(unsigned char **b, size_t *len) { (void)b; *len -= 3; }
static void truncate_header(unsigned char **b, size_t *len) { (void)b; *len = 1000; }
static void trailing(unsigned char **b, size_t *len)
{
    *b = realloc(*b, *len + 2);
    (*b)[(*len)++] = 0;
    (*b)[(*len)++] = 0;
}
static void negative_count(unsigned char **b, size_t *len) { (void)len; (*b)[11] = 0x80; }
static void big_token(unsigned char **b, size_t *len) { (void)len; (*b)[1024 + 3] = 0x40; }

START_TEST(test_bad_magic) { expect_corrupt(bad_magic, 1024, "bad magic"); }
END_TEST
START_TEST(test_bad_version) { expect_corrupt(bad_version, 1024, "unsupported version 2"); }
END_TEST
START_TEST(test_truncated) { expect_corrupt(truncate_body, 1024, "truncated"); }
END_TEST
START_TEST(test_truncated_header) { expect_corrupt(truncate_header, 1024, "truncated header"); }
END_TEST
START_TEST(test_trailing) { expect_corrupt(trailing, 1024, "2 trailing bytes"); }
END_TEST
START_TEST(test_negative_count) { expect_corrupt(negative_count, 1024, "negative token count"); }
END_TEST
START_TEST(test_token_range)
{
    /* token 1 (index 1) becomes 0x4064 = 16484 */
    expect_corrupt(big_token, 1024, "token 16484 at index 1 is >= vocab size 1024");
}
END_TEST

START_TEST(test_empty_dir)
{
    const char *dir = t_tmp_path("empty");
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    char **paths;
    size_t count;
    ck_assert_int_eq(pg_shard_list(dir, NULL, &paths, &count), -1);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "no shard files"));
    t_run_result r = t_pgolf("data check '%s'", dir);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, dir));
    r = t_pgolf("data check '%s/does-not-exist'", dir);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot open directory"));
}
END_TEST

START_TEST(test_list_sorted_and_concat)
{
    const char *dir = t_tmp_path("multi");
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    char path[1100];
    const uint16_t a[] = {1, 2, 3}, b[] = {1, 4};
    snprintf(path, sizeof path, "%s/fineweb_val_000001.bin", dir);
    ck_assert_int_eq(pg_shard_write(path, b, 2), 0);
    snprintf(path, sizeof path, "%s/fineweb_val_000000.bin", dir);
    ck_assert_int_eq(pg_shard_write(path, a, 3), 0);
    snprintf(path, sizeof path, "%s/fineweb_train_000000.bin", dir);
    ck_assert_int_eq(pg_shard_write(path, a, 3), 0);
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    t_write_bytes(path, "x", 1);
    uint16_t *t;
    size_t n;
    ck_assert_int_eq(pg_shards_load(dir, "val", 0, &t, &n), 0);
    ck_assert_uint_eq(n, 5);
    const uint16_t want[] = {1, 2, 3, 1, 4};
    ck_assert_mem_eq(t, want, sizeof want);
    free(t);
    t_run_result r = t_pgolf("data check '%s' --json", dir);
    ck_assert_int_eq(r.status, 0);
    json_error_t e;
    json_t *j = json_loads(r.out, 0, &e);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "val"), "tokens")), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "val"), "documents")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "train"), "files")), 1);
    json_decref(j);
}
END_TEST

START_TEST(test_pack_cli)
{
    const char *ids = t_tmp_path("ids.txt");
    t_write_bytes(ids, "1 5 6\n1 7\n", 10);
    const char *out = t_tmp_path("packed.bin");
    t_run_result r = t_pgolf("data pack '%s' '%s' --vocab 8", ids, out);
    ck_assert_int_eq(r.status, 0);
    uint16_t *t;
    size_t n;
    ck_assert_int_eq(pg_shard_read(out, 8, &t, &n), 0);
    ck_assert_uint_eq(n, 5);
    free(t);
    t_write_bytes(ids, "1 5 9\n", 6);
    r = t_pgolf("data pack '%s' '%s.2' --vocab 8", ids, out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "token 2"));
    t_write_bytes(ids, "1 x\n", 4);
    r = t_pgolf("data pack '%s' '%s.2'", ids, out);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "not an integer"));
}
END_TEST

START_TEST(test_sample_data_valid)
{
    t_run_result r = t_pgolf("data check '%s' --tokenizer '%s' --json", t_repo_path("data/sample"),
                             t_repo_path("data/sample/sample_1024_bpe.model"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    ck_assert_int_gt(json_integer_value(json_object_get(json_object_get(j, "train"), "tokens")),
                     100000);
    ck_assert_int_gt(json_integer_value(json_object_get(json_object_get(j, "val"), "documents")),
                     5);
    json_decref(j);
}
END_TEST

Suite *suite_shard(void)
{
    Suite *s = suite_create("shard");
    TCase *tc = tcase_create("shard");
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_bad_magic);
    tcase_add_test(tc, test_bad_version);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_truncated_header);
    tcase_add_test(tc, test_trailing);
    tcase_add_test(tc, test_negative_count);
    tcase_add_test(tc, test_token_range);
    tcase_add_test(tc, test_empty_dir);
    tcase_add_test(tc, test_list_sorted_and_concat);
    tcase_add_test(tc, test_pack_cli);
    tcase_add_test(tc, test_sample_data_valid);
    suite_add_tcase(s, tc);
    return s;
}
