/* SentencePiece reader and BPB table against tables computed with the sentencepiece
 * Python module (tests/golden/make_lut.py). */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/sha256.h"
#include "dataset/tokenizer.h"
#include "tests/util.h"

static void check_lut_against_golden(const char *model, const char *golden)
{
    json_t *g = t_load_json(golden);
    char sha[PG_SHA256_HEX_LEN];
    ck_assert_int_eq(pg_sha256_file(model, sha), 0);
    ck_assert_str_eq(sha, json_string_value(json_object_get(g, "model_sha256")));
    pg_tokenizer tok;
    ck_assert_msg(pg_tokenizer_load(model, &tok) == 0, "%s", pg_errmsg());
    pg_bpb_lut lut;
    ck_assert_int_eq(pg_bpb_lut_build(&tok, 0, &lut), 0);
    int n = (int)json_integer_value(json_object_get(g, "vocab_size"));
    ck_assert_int_eq(tok.vocab_size, n);
    ck_assert_int_eq(lut.size, n);
    json_t *bb = json_object_get(g, "base_bytes"), *ls = json_object_get(g, "has_leading_space"),
           *bd = json_object_get(g, "is_boundary");
    for (int i = 0; i < n; i++) {
        ck_assert_msg(lut.base_bytes[i] == json_integer_value(json_array_get(bb, i)),
                      "base_bytes[%d] (%s)", i, tok.pieces[i]);
        ck_assert_msg(lut.has_leading_space[i] == json_integer_value(json_array_get(ls, i)),
                      "has_leading_space[%d]", i);
        ck_assert_msg(lut.is_boundary[i] == json_integer_value(json_array_get(bd, i)),
                      "is_boundary[%d]", i);
    }
    ck_assert_int_eq(tok.model_type, 2); /* BPE */
    ck_assert_int_eq(tok.byte_fallback, 1);
    ck_assert_int_eq(tok.pad_id, 0);
    ck_assert_int_eq(tok.bos_id, 1);
    ck_assert_int_eq(tok.eos_id, 2);
    ck_assert_int_eq(tok.unk_id, 3);
    pg_bpb_lut_free(&lut);
    pg_tokenizer_free(&tok);
    json_decref(g);
}

START_TEST(test_sample_lut)
{
    check_lut_against_golden(t_repo_path("data/sample/sample_1024_bpe.model"),
                             t_repo_path("tests/golden/sample_1024_lut.json"));
}
END_TEST

START_TEST(test_sp8192_lut)
{
    const char *model = t_shared_path("fineweb_8192_bpe.model");
    if (!model)
        T_SKIP("../shared/data/fineweb_8192_bpe.model is absent");
    check_lut_against_golden(model, t_repo_path("tests/golden/fineweb_8192_lut.json"));
}
END_TEST

START_TEST(test_sp8192_cli_json)
{
    const char *model = t_shared_path("fineweb_8192_bpe.model");
    if (!model)
        T_SKIP("../shared/data/fineweb_8192_bpe.model is absent");
    t_run_result r = t_pgolf("tokenizer '%s' --json", model);
    ck_assert_int_eq(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    json_t *g = t_load_json(t_repo_path("tests/golden/fineweb_8192_lut.json"));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "vocab_size")), 8192);
    json_t *types = json_object_get(j, "piece_types");
    ck_assert_int_eq(json_integer_value(json_object_get(types, "byte")), 256);
    ck_assert_int_eq(json_integer_value(json_object_get(types, "control")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(types, "unknown")), 1);
    ck_assert(json_equal(json_object_get(j, "base_bytes"), json_object_get(g, "base_bytes")));
    json_t *ls = json_object_get(j, "has_leading_space"), *gls = json_object_get(g, "has_leading_space");
    for (size_t i = 0; i < json_array_size(ls); i++)
        ck_assert_int_eq(json_is_true(json_array_get(ls, i)),
                         json_integer_value(json_array_get(gls, i)));
    json_decref(g);
    json_decref(j);
}
END_TEST

START_TEST(test_lut_padding)
{
    pg_tokenizer tok;
    ck_assert_int_eq(pg_tokenizer_load(t_repo_path("data/sample/sample_1024_bpe.model"), &tok), 0);
    pg_bpb_lut lut;
    ck_assert_int_eq(pg_bpb_lut_build(&tok, 1030, &lut), 0);
    ck_assert_int_eq(lut.size, 1030);
    for (int i = 1024; i < 1030; i++) {
        ck_assert_int_eq(lut.is_boundary[i], 1);
        ck_assert_int_eq(lut.base_bytes[i], 0);
    }
    pg_bpb_lut_free(&lut);
    pg_tokenizer_free(&tok);
}
END_TEST

START_TEST(test_bad_models)
{
    const char *p = t_tmp_path("bad.model");
    pg_tokenizer tok;
    t_write_bytes(p, "\xff\xff\xff\xff garbage", 13);
    ck_assert_int_eq(pg_tokenizer_load(p, &tok), -1);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "not a SentencePiece model"));
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), p));
    t_write_bytes(p, "", 0);
    ck_assert_int_eq(pg_tokenizer_load(p, &tok), -1);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "no pieces"));
    /* a truncated copy of the real sample model */
    size_t len;
    unsigned char *d = t_read_bytes(t_repo_path("data/sample/sample_1024_bpe.model"), &len);
    t_write_bytes(p, d, len / 2);
    free(d);
    ck_assert_int_eq(pg_tokenizer_load(p, &tok), -1);
    t_run_result r = t_pgolf("tokenizer '%s'", p);
    ck_assert_int_eq(r.status, 1);
    ck_assert_int_eq(t_count_lines(r.err), 1);
    ck_assert_ptr_nonnull(strstr(r.err, p));
    r = t_pgolf("tokenizer '%s'", t_tmp_path("missing.model"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot open"));
}
END_TEST

Suite *suite_tokenizer(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("tokenizer");
    tcase_add_test(tc, test_sample_lut);
    tcase_add_test(tc, test_sp8192_lut);
    tcase_add_test(tc, test_sp8192_cli_json);
    tcase_add_test(tc, test_lut_padding);
    tcase_add_test(tc, test_bad_models);
    suite_add_tcase(s, tc);
    return s;
}
