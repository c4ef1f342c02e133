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

/* A pieces table (what train_gpt.py writes with sentencepiece) of a loaded tokenizer. */
static unsigned char *pieces_table(const pg_tokenizer *tok, size_t *len)
{
    size_t cap = 12;
    for (int i = 0; i < tok->vocab_size; i++)
        cap += 3 + strlen(tok->pieces[i]);
    unsigned char *b = malloc(cap), *p = b + 12;
    memcpy(b, PG_PIECES_MAGIC, 8);
    for (int k = 0; k < 4; k++)
        b[8 + k] = (unsigned char)((unsigned)tok->vocab_size >> (8 * k));
    for (int i = 0; i < tok->vocab_size; i++) {
        size_t n = strlen(tok->pieces[i]);
        /* USER_DEFINED pieces read as NORMAL through sentencepiece's API: same bytes */
        *p++ = tok->types[i] == PG_PIECE_USER_DEFINED ? PG_PIECE_NORMAL : tok->types[i];
        *p++ = (unsigned char)(n & 0xff);
        *p++ = (unsigned char)(n >> 8);
        memcpy(p, tok->pieces[i], n);
        p += n;
    }
    *len = (size_t)(p - b);
    return b;
}

/* The pieces table gives the same BPB table as the .model it came from, and each kind of
 * damage is refused with a message naming the file. */
START_TEST(test_pieces_table)
{
    pg_tokenizer tok, back;
    ck_assert_int_eq(pg_tokenizer_load(t_repo_path("data/sample/sample_1024_bpe.model"), &tok), 0);
    size_t len;
    unsigned char *b = pieces_table(&tok, &len);
    const char *path = t_tmp_path("pieces.bin");
    t_write_bytes(path, b, len);
    ck_assert_int_eq(pg_tokenizer_load(path, &back), 0);
    pg_bpb_lut l1, l2;
    ck_assert_int_eq(pg_bpb_lut_build(&tok, 1024, &l1), 0);
    ck_assert_int_eq(pg_bpb_lut_build(&back, 1024, &l2), 0);
    ck_assert_int_eq(l1.size, l2.size);
    ck_assert_mem_eq(l1.base_bytes, l2.base_bytes, (size_t)l1.size * sizeof *l1.base_bytes);
    ck_assert_mem_eq(l1.has_leading_space, l2.has_leading_space, (size_t)l1.size);
    ck_assert_mem_eq(l1.is_boundary, l2.is_boundary, (size_t)l1.size);
    pg_bpb_lut_free(&l1);
    pg_bpb_lut_free(&l2);
    pg_tokenizer_free(&back);
    /* damaged copies: header cut, zero pieces, a bad type, a piece cut short, a NUL in a
     * piece, bytes after the last piece */
    struct {
        size_t keep;
        size_t at;
        unsigned char value;
        int extra;
        const char *why;
    } cases[] = {
        {10, 0, 0, 0, "truncated in its header"},
        {len, 8, 0, 0, "declares"},
        {len, 12, 9, 0, "unknown type 9"},
        {len - 1, 0, 0, 0, "truncated or over"},
        {len, 0, 0, 0, "NUL byte"},
        {len, 0, 0, 1, "after the last piece"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        unsigned char *d = malloc(len + 1);
        memcpy(d, b, len);
        if (cases[i].at)
            d[cases[i].at] = cases[i].value;
        if (cases[i].at == 8)
            d[9] = d[10] = d[11] = 0;
        if (strcmp(cases[i].why, "NUL byte") == 0)
            d[12 + 3] = 0; /* the first piece's first byte (its length is >= 1) */
        if (cases[i].extra)
            d[len] = 'x';
        t_write_bytes(path, d, cases[i].keep + (size_t)cases[i].extra);
        ck_assert_int_ne(pg_tokenizer_load(path, &back), 0);
        ck_assert_msg(strstr(pg_errmsg(), cases[i].why) && strstr(pg_errmsg(), path),
                      "case %zu: %s", i, pg_errmsg());
        free(d);
    }
    free(b);
    pg_tokenizer_free(&tok);
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
    tcase_add_test(tc, test_pieces_table);
    suite_add_tcase(s, tc);
    return s;
}
