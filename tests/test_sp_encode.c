/* SentencePiece encoding against tests/golden/sp_encode.json (Python's sentencepiece, the
 * library behind the challenge's shards): every id and every surface, on the shipped
 * sample's model, the challenge's SP8192 model (../shared) and, when PGOLF_CASEOPS_MODEL
 * names it, the records' CaseOps model. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "dataset/sp_encode.h"
#include "tests/util.h"

static void check_model(const json_t *g, const char *name, const char *path)
{
    pg_tokenizer tok;
    ck_assert_msg(pg_tokenizer_load(path, &tok) == 0, "%s", pg_errmsg());
    pg_sp_encoder *e;
    ck_assert_msg(pg_sp_encoder_create(&e, &tok, path) == 0, "%s", pg_errmsg());
    json_t *rows = json_object_get(json_object_get(g, "models"), name), *text;
    size_t i, ids = 0;
    json_array_foreach(json_object_get(g, "texts"), i, text)
    {
        const char *t = json_string_value(text);
        json_t *row = json_array_get(rows, i), *want = json_object_get(row, "ids");
        json_t *surf = json_object_get(row, "surfaces");
        pg_sp_tokens out = {0};
        ck_assert_int_eq(pg_sp_encode(e, t, strlen(t), &out), 0);
        ck_assert_msg(out.n == json_array_size(want), "%s text %zu: %zu ids, sentencepiece %zu",
                      name, i, out.n, json_array_size(want));
        for (size_t k = 0; k < out.n; k++) {
            ck_assert_msg(out.ids[k] == json_integer_value(json_array_get(want, k)),
                          "%s text %zu id %zu: %d, sentencepiece %lld", name, i, k, out.ids[k],
                          (long long)json_integer_value(json_array_get(want, k)));
            const char *s = json_string_value(json_array_get(surf, k));
            ck_assert_msg(strlen(s) == out.end[k] - out.begin[k] &&
                              memcmp(s, t + out.begin[k], strlen(s)) == 0,
                          "%s text %zu id %zu: surface [%zu, %zu), sentencepiece '%s'", name, i,
                          k, out.begin[k], out.end[k], s);
        }
        ids += out.n;
        pg_sp_tokens_free(&out);
    }
    fprintf(stderr, "sentencepiece encoding (%s): %zu texts, %zu ids and surfaces identical\n",
            name, json_array_size(json_object_get(g, "texts")), ids);
    pg_sp_encoder_free(e);
    pg_tokenizer_free(&tok);
}

START_TEST(test_encoding_matches_sentencepiece)
{
    json_t *g = t_load_json(t_repo_path("tests/golden/sp_encode.json"));
    check_model(g, "sample_1024", t_repo_path("data/sample/sample_1024_bpe.model"));
    const char *shared = t_shared_path("fineweb_8192_bpe.model");
    if (shared)
        check_model(g, "fineweb_8192", shared);
    else
        fprintf(stderr, "SKIP the SP8192 model: ../shared is absent\n");
    const char *caseops = getenv("PGOLF_CASEOPS_MODEL");
    if (caseops && *caseops)
        check_model(g, "caseops_8192", caseops);
    json_decref(g);
}
END_TEST

Suite *suite_sp_encode(void)
{
    Suite *s = suite_create("sp_encode");
    TCase *tc = tcase_create("sp_encode");
    tcase_add_test(tc, test_encoding_matches_sentencepiece);
    suite_add_tcase(s, tc);
    return s;
}
