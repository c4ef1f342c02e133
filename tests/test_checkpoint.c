/* Checkpoint files: bit-exact round trip and clean failures on damaged or hostile
 * files (the checksum is recomputed where the test targets a later check). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/sha256.h"
#include "kernels/checkpoint.h"
#include "tests/util.h"

static const char *save_tiny(pg_model *m)
{
    pg_model_config c = pg_config_tiny();
    c.num_layers = 2;
    ck_assert_int_eq(pg_model_create(m, &c), 0);
    pg_model_init(m, 9, PG_INIT_DENSE);
    const char *path = t_tmp_path("tiny.ckpt");
    json_t *meta = json_pack("{s:i}", "step", 17);
    ck_assert_int_eq(pg_checkpoint_save(path, m, meta, NULL, 0), 0);
    json_decref(meta);
    return path;
}

START_TEST(test_roundtrip)
{
    pg_model m, back;
    const char *path = save_tiny(&m);
    json_t *meta;
    ck_assert_msg(pg_checkpoint_load(path, &back, &meta) == 0, "%s", pg_errmsg());
    ck_assert_uint_eq(back.num_params, m.num_params);
    ck_assert_mem_eq(back.params, m.params, m.num_params * sizeof(float));
    ck_assert_int_eq(memcmp(&back.cfg, &m.cfg, sizeof m.cfg), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(meta, "step")), 17);
    json_decref(meta);
    /* saving again gives the same bytes */
    char h1[PG_SHA256_HEX_LEN], h2[PG_SHA256_HEX_LEN];
    ck_assert_int_eq(pg_sha256_file(path, h1), 0);
    const char *p2 = t_tmp_path("tiny2.ckpt");
    meta = json_pack("{s:i}", "step", 17);
    ck_assert_int_eq(pg_checkpoint_save(p2, &back, meta, NULL, 0), 0);
    json_decref(meta);
    ck_assert_int_eq(pg_sha256_file(p2, h2), 0);
    ck_assert_str_eq(h1, h2);
    pg_model_free(&back);
    pg_model_free(&m);
}
END_TEST

static void expect_load_error(const char *path, const char *want)
{
    pg_model m;
    ck_assert_int_eq(pg_checkpoint_load(path, &m, NULL), -1);
    ck_assert_ptr_null(m.params);
    ck_assert_msg(strstr(pg_errmsg(), want) != NULL, "got '%s', want '%s'", pg_errmsg(), want);
    ck_assert_msg(strstr(pg_errmsg(), path) != NULL, "error does not name the file");
}

START_TEST(test_truncated_everywhere)
{
    pg_model m;
    const char *path = save_tiny(&m);
    pg_model_free(&m);
    size_t len;
    unsigned char *raw = t_read_bytes(path, &len);
    const char *cut = t_tmp_path("cut.ckpt");
    size_t lens[] = {0, 5, 12, 16, 100, len / 2, len - 33, len - 1};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        t_write_bytes(cut, raw, lens[i]);
        pg_model back;
        ck_assert_msg(pg_checkpoint_load(cut, &back, NULL) == -1, "length %zu loaded", lens[i]);
    }
    t_write_bytes(cut, raw, len - 1);
    expect_load_error(cut, "truncated");
    t_write_bytes(cut, raw, 4);
    expect_load_error(cut, "bad magic");
    free(raw);
}
END_TEST

START_TEST(test_bit_flips)
{
    pg_model m;
    const char *path = save_tiny(&m);
    pg_model_free(&m);
    size_t len;
    unsigned char *raw = t_read_bytes(path, &len);
    const char *bad = t_tmp_path("flip.ckpt");
    /* a flip in the header JSON, the payload or the stored digest */
    size_t where[] = {40, len / 2, len - 40, len - 1};
    for (size_t i = 0; i < 4; i++) {
        raw[where[i]] ^= 0x10;
        t_write_bytes(bad, raw, len);
        expect_load_error(bad, "checksum mismatch");
        raw[where[i]] ^= 0x10;
    }
    raw[8] = 7; /* version */
    t_write_bytes(bad, raw, len);
    expect_load_error(bad, "version 7 is not supported");
    t_run_result r = t_pgolf("eval '%s' --data x --tokenizer y", bad);
    ck_assert_int_eq(r.status, 1);
    ck_assert_int_eq(t_count_lines(r.err), 1);
    free(raw);
}
END_TEST

/* Writes a checkpoint with a hand-made header and a correct checksum. */
static const char *forge(const char *header, size_t payload_len, long declared_payload)
{
    size_t hlen = strlen(header), total = 16 + hlen + 8 + payload_len + 32;
    unsigned char *b = calloc(1, total);
    memcpy(b, "PGOLFCKP", 8);
    b[8] = 1;
    for (int i = 0; i < 4; i++)
        b[12 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(b + 16, header, hlen);
    unsigned long long d = declared_payload < 0 ? payload_len : (unsigned long long)declared_payload;
    for (int i = 0; i < 8; i++)
        b[16 + hlen + i] = (unsigned char)(d >> (8 * i));
    pg_sha256(b, total - 32, b + total - 32);
    const char *path = t_tmp_path("forged.ckpt");
    t_write_bytes(path, b, total);
    free(b);
    return path;
}

/* The real header of a 1-layer, vocab-8 model, with one substitution applied. */
static char *header_with(const char *from, const char *to)
{
    pg_model_config c = pg_config_tiny();
    c.num_layers = 1;
    c.vocab_size = 8;
    c.model_dim = 8;
    c.num_heads = 2;
    c.num_kv_heads = 1;
    pg_model m;
    ck_assert_int_eq(pg_model_create(&m, &c), 0);
    const char *path = t_tmp_path("small.ckpt");
    ck_assert_int_eq(pg_checkpoint_save(path, &m, NULL, NULL, 0), 0);
    pg_model_free(&m);
    size_t len;
    unsigned char *raw = t_read_bytes(path, &len);
    size_t hlen = raw[12] | raw[13] << 8;
    char *h = calloc(1, hlen + 256);
    memcpy(h, raw + 16, hlen);
    free(raw);
    if (from) {
        char *at = strstr(h, from);
        ck_assert_msg(at != NULL, "'%s' not in header", from);
        char *rest = strdup(at + strlen(from));
        strcpy(at, to);
        strcat(h, rest);
        free(rest);
    }
    return h;
}

static size_t small_payload(void)
{
    /* emb 64 + c_q 64 + c_k 32 + c_v 32 + proj 64 + q_gain 2 + fc 128 + proj 128
     * + scales 16 + resid_mix 16 + skip 0 */
    return 4 * (64 + 64 + 32 + 32 + 64 + 2 + 128 + 128 + 8 + 8 + 16);
}

START_TEST(test_hostile_headers)
{
    char *h = header_with(NULL, NULL);
    pg_model m;
    ck_assert_msg(pg_checkpoint_load(forge(h, small_payload(), -1), &m, NULL) == 0, "%s",
                  pg_errmsg());
    pg_model_free(&m);
    /* payload length that disagrees with the file */
    expect_load_error(forge(h, small_payload(), 1LL << 40), "truncated");
    expect_load_error(forge(h, small_payload(), 4), "oversized");
    free(h);
    /* not JSON */
    expect_load_error(forge("{\"format\": oops", small_payload(), -1), "header JSON");
    /* a config the model cannot have */
    h = header_with("\"num_heads\":2", "\"num_heads\":3");
    expect_load_error(forge(h, small_payload(), -1), "does not divide");
    free(h);
    /* huge shapes in the config: rejected before any allocation */
    h = header_with("\"num_layers\":1", "\"num_layers\":99999999999");
    expect_load_error(forge(h, small_payload(), -1), "not an integer in range");
    free(h);
    /* offset past the payload */
    h = header_with("\"offset\":256", "\"offset\":99999999");
    expect_load_error(forge(h, small_payload(), -1), "bad offset");
    free(h);
    /* overlapping tensors */
    h = header_with("\"offset\":256", "\"offset\":128");
    expect_load_error(forge(h, small_payload(), -1), "bad offset");
    free(h);
    /* wrong shape, wrong name, wrong dtype */
    h = header_with("\"shape\":[8,8]", "\"shape\":[8,9]");
    expect_load_error(forge(h, small_payload(), -1), "wrong shape");
    free(h);
    h = header_with("tok_emb.weight", "tok_emb.wEight");
    expect_load_error(forge(h, small_payload(), -1), "expected 'tok_emb.weight'");
    free(h);
    h = header_with("\"dtype\":\"f32\"", "\"dtype\":\"f16\"");
    expect_load_error(forge(h, small_payload(), -1), "dtype f16");
    free(h);
}
END_TEST

START_TEST(test_atomic_write_leaves_nothing)
{
    pg_model m;
    save_tiny(&m);
    /* a directory that does not exist: error, and no temp file anywhere */
    ck_assert_int_eq(pg_checkpoint_save(t_tmp_path("no/such/dir/x.ckpt"), &m, NULL, NULL, 0), -1);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "cannot create"));
    t_run_result r = t_pgolf("init --preset tiny --out '%s'", t_tmp_path("no/such/x.ckpt"));
    ck_assert_int_eq(r.status, 1);
    struct stat st;
    ck_assert_int_ne(stat(t_tmp_path("no"), &st), 0);
    pg_model_free(&m);
}
END_TEST

Suite *suite_checkpoint(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_truncated_everywhere);
    tcase_add_test(tc, test_bit_flips);
    tcase_add_test(tc, test_hostile_headers);
    tcase_add_test(tc, test_atomic_write_leaves_nothing);
    suite_add_tcase(s, tc);
    return s;
}
