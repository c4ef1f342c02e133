/* Bugs the fuzzers found whose inputs (tests/fuzz/regressions/) fail only under
 * libFuzzer's malloc limit or clang's float-cast check, as assertions that fail without
 * the fix in any build. `make check` replays every regression input as well. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/container.h"
#include "common/err.h"
#include "common/fileio.h"
#include "kernels/checkpoint.h"
#include "packager/artifact.h"
#include "packager/logparse.h"
#include "tests/util.h"
#include "verifier/verify.h"

/* A 587M-parameter config (2.3 GB as float32). */
static void big_config(json_t *hdr)
{
    json_t *cfg = json_object_get(hdr, "config");
    json_object_set_new(cfg, "vocab_size", json_integer(65536));
    json_object_set_new(cfg, "model_dim", json_integer(2048));
    json_object_set_new(cfg, "num_layers", json_integer(9));
    json_object_set_new(cfg, "mlp_mult", json_integer(4));
}

/* A seed of tests/fuzz/corpus with its header and payload changed by the edits (either
 * may be NULL), re-sealed. */
static unsigned char *resealed(const char *seed, const pg_container_kind *k,
                               void (*edit)(json_t *hdr), void (*edit_payload)(unsigned char *p),
                               size_t *len)
{
    unsigned char *buf;
    size_t n;
    ck_assert_int_eq(pg_read_file(t_repo_path(seed), 1 << 20, &buf, &n), 0);
    json_t *hdr;
    const unsigned char *payload;
    size_t plen;
    ck_assert_int_eq(pg_container_parse(k, seed, buf, n, &hdr, &payload, &plen), 0);
    if (edit)
        edit(hdr);
    char *text = json_dumps(hdr, JSON_COMPACT);
    unsigned char *pl, *out = pg_container_build(k, text, plen, &pl, len);
    memcpy(pl, payload, plen);
    if (edit_payload)
        edit_payload(pl);
    pg_container_seal(out, *len);
    free(text);
    json_decref(hdr);
    free(buf);
    return out;
}

/* A config is bounded by the file before the model is allocated (a 3 KB file used to
 * allocate 2.3 GB): a checkpoint by its payload, an artifact by 64x its size. */
START_TEST(test_config_bounded_by_file)
{
    static const pg_container_kind ckpt = {PG_CKPT_MAGIC, PG_CKPT_VERSION, "checkpoint"};
    static const pg_container_kind art = {PG_ART_MAGIC, PG_ART_VERSION, "artifact"};
    size_t len;
    pg_model m;
    unsigned char *buf = resealed("tests/fuzz/corpus/checkpoint/l2.ckpt", &ckpt, big_config, NULL, &len);
    ck_assert_int_eq(pg_checkpoint_decode("big.ckpt", buf, len, &m, NULL, NULL, 0), -1);
    ck_assert_msg(strstr(pg_errmsg(), "big.ckpt: the config's 587284489 parameters") &&
                      strstr(pg_errmsg(), "exceed 1048 bytes, what this file can hold"),
                  "%s", pg_errmsg());
    free(buf);
    buf = resealed("tests/fuzz/corpus/artifact/raw_l2.art", &art, big_config, NULL, &len);
    ck_assert_int_eq(pg_write_file_atomic(t_tmp_path("big.art"), buf, len), 0);
    free(buf);
    t_run_result r = t_pgolf("unpack '%s' --out '%s'", t_tmp_path("big.art"),
                             t_tmp_path("big.ckpt"));
    ck_assert_int_ne(r.status, 0);
    ck_assert_msg(strstr(r.err, "big.art: the config's") && t_count_lines(r.err) == 1, "%s", r.err);
}
END_TEST

static void shuffle_1000(json_t *hdr)
{
    json_object_set_new(json_array_get(json_object_get(hdr, "blocks"), 0), "shuffle",
                        json_integer(1000));
}

/* An out-of-range shuffle is named as such (it was reported as a bad offset/size). */
START_TEST(test_bad_shuffle_named)
{
    static const pg_container_kind art = {PG_ART_MAGIC, PG_ART_VERSION, "artifact"};
    size_t len;
    pg_model m;
    unsigned char *buf = resealed("tests/fuzz/corpus/artifact/raw_l2.art", &art, shuffle_1000, NULL, &len);
    ck_assert_int_eq(pg_artifact_decode("shuf.art", buf, len, &m, NULL), -1);
    ck_assert_msg(strstr(pg_errmsg(), "shuf.art: block embed has shuffle 1000"), "%s", pg_errmsg());
    free(buf);
}
END_TEST

static void first_weight_nan(unsigned char *payload)
{
    const float nan_value = NAN;
    memcpy(payload, &nan_value, sizeof nan_value); /* tok_emb.weight[0], stored as raw fp32 */
}

/* A decoded NaN weight is refused by unpack (and so by eval and verify --rerun). */
START_TEST(test_nan_artifact_refused)
{
    static const pg_container_kind art = {PG_ART_MAGIC, PG_ART_VERSION, "artifact"};
    size_t len;
    unsigned char *buf = resealed("tests/fuzz/corpus/artifact/raw_l2.art", &art, NULL,
                                  first_weight_nan, &len);
    const char *path = t_tmp_path("nan.art"), *out = t_tmp_path("nan_unpacked.ckpt");
    ck_assert_int_eq(pg_write_file_atomic(path, buf, len), 0);
    free(buf);
    t_run_result r = t_pgolf("unpack '%s' --out '%s'", path, out);
    ck_assert_int_ne(r.status, 0);
    ck_assert_msg(strstr(r.err, "nan.art: tensor tok_emb.weight decodes to nan at index 0") &&
                      t_count_lines(r.err) == 1, "%s", r.err);
    ck_assert_int_ne(access(out, F_OK), 0);
}
END_TEST

/* A "seed" too large for a long is no seed (it was cast from 1e20 to a long). */
START_TEST(test_seed_out_of_range)
{
    static const char text[] = "final val_loss:2 val_bpb:1\n";
    pg_log_summary s;
    ck_assert_int_eq(pg_log_parse_text("train_seed99999999999999999999.log", text,
                                       sizeof text - 1, &s), 0);
    ck_assert_int_eq(s.seed.line, 0);
    ck_assert_int_eq(pg_log_parse_text("train_seed1337.log", text, sizeof text - 1, &s), 0);
    ck_assert_int_eq(s.seed.line, -1);
    ck_assert_double_eq(s.seed.value, 1337);
}
END_TEST

/* Numbers from files reach the JSON report as they are (a byte count of 7.8e21 was cast
 * to an integer). */
START_TEST(test_report_numbers)
{
    pg_seed_result seed = {.val_bpb = 1, .artifact_bytes = 7.8e21, .steps = INFINITY,
                           .train_ms = -1, .eval_s = -1};
    pg_record rec = {.seeds = &seed, .nseeds = 1};
    pg_checks checks = {0};
    json_t *j = pg_verify_json(&rec, &checks, 1);
    json_t *s = json_array_get(json_object_get(j, "seeds"), 0);
    ck_assert_double_eq(json_real_value(json_object_get(s, "artifact_bytes")), 7.8e21);
    ck_assert(json_is_null(json_object_get(s, "steps")));
    json_decref(j);
}
END_TEST

Suite *suite_fuzz(void)
{
    Suite *s = suite_create("fuzz");
    TCase *tc = tcase_create("fuzz");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_config_bounded_by_file);
    tcase_add_test(tc, test_seed_out_of_range);
    tcase_add_test(tc, test_bad_shuffle_named);
    tcase_add_test(tc, test_nan_artifact_refused);
    tcase_add_test(tc, test_report_numbers);
    suite_add_tcase(s, tc);
    return s;
}
