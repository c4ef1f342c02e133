/* CaseOps against tests/golden/records_caseops.json (made by make_records_caseops.py from
 * records_caseops.py, itself checked against the records' lossless_caps.py): the
 * transform of mixed-case, all-capitals, Unicode and operator-escaping strings, its
 * inverse, the original bytes of each piece of cut transforms, and the refusal of
 * malformed transforms and of invalid UTF-8. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "dataset/caseops.h"
#include "tests/util.h"

START_TEST(test_caseops_matches_the_records)
{
    json_t *g = t_load_json(t_repo_path("tests/golden/records_caseops.json")), *c, *m;
    size_t i, total = 0;
    json_array_foreach(json_object_get(g, "cases"), i, c)
    {
        const char *text = json_string_value(json_object_get(c, "text"));
        const char *want = json_string_value(json_object_get(c, "encoded"));
        pg_text enc = {0}, dec = {0};
        ck_assert_msg(pg_caseops_encode(text, strlen(text), &enc, "case") == 0, "%s", pg_errmsg());
        ck_assert_msg(strcmp(enc.s ? enc.s : "", want) == 0, "case %zu: encoded differently", i);
        ck_assert_int_eq(pg_caseops_decode(want, strlen(want), &dec, "case"), 0);
        ck_assert_str_eq(dec.s ? dec.s : "", text);
        json_t *pieces = json_object_get(c, "pieces"), *bytes = json_object_get(c, "bytes");
        size_t n = json_array_size(pieces);
        const char **s = malloc((n + 1) * sizeof *s);
        int *counts = malloc((n + 1) * sizeof *counts);
        for (size_t k = 0; k < n; k++)
            s[k] = json_string_value(json_array_get(pieces, k));
        ck_assert_msg(pg_caseops_piece_bytes(s, n, counts, "case") == 0, "%s", pg_errmsg());
        for (size_t k = 0; k < n; k++)
            ck_assert_msg(counts[k] == json_integer_value(json_array_get(bytes, k)),
                          "case %zu piece %zu: %d bytes, the records' %lld", i, k, counts[k],
                          (long long)json_integer_value(json_array_get(bytes, k)));
        total += n;
        free(s), free(counts);
        pg_text_free(&enc), pg_text_free(&dec);
    }
    json_array_foreach(json_object_get(g, "malformed"), i, m)
    {
        const char *t = json_string_value(m);
        pg_text dec = {0};
        int count;
        ck_assert_int_ne(pg_caseops_decode(t, strlen(t), &dec, "bad"), 0);
        ck_assert_int_ne(pg_caseops_piece_bytes(&t, 1, &count, "bad"), 0);
        pg_text_free(&dec);
    }
    pg_text out = {0};
    ck_assert_int_ne(pg_caseops_encode("ab\xC3(", 4, &out, "doc 7"), 0);
    ck_assert_str_eq(pg_errmsg(), "doc 7: invalid UTF-8 at byte 2");
    pg_text_free(&out);
    fprintf(stderr, "CaseOps: %zu strings and %zu pieces as the records' definition\n",
            json_array_size(json_object_get(g, "cases")), total);
    json_decref(g);
}
END_TEST

Suite *suite_caseops(void)
{
    Suite *s = suite_create("caseops");
    TCase *tc = tcase_create("caseops");
    tcase_add_test(tc, test_caseops_matches_the_records);
    suite_add_tcase(s, tc);
    return s;
}
