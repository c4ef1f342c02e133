/* CaseOps against tests/golden/records_caseops.json (made by make_records_caseops.py from
 * records_caseops.py, itself checked against the records' lossless_caps.py): the
 * transform of mixed-case, all-capitals, Unicode and operator-escaping strings, its
 * inverse, the original bytes of each piece of cut transforms, and the refusal of
 * malformed transforms and of invalid UTF-8. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/sha256.h"
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

/* `pgolf data caseops` on the sample's tokenizer: the shards and sidecar the records'
 * preparation makes (tests/golden/caseops_data.json, by make_caseops_data.py), file for
 * file; an existing folder and a bad line are refused, leaving nothing behind. */
START_TEST(test_data_caseops_makes_the_records_shards)
{
    json_t *g = t_load_json(t_repo_path("tests/golden/caseops_data.json"));
    const char *out = t_tmp_path("caseops_out");
    t_run_result r = t_pgolf("data caseops --docs '%s' --tokenizer '%s' --out '%s' --val-docs %lld "
                             "--shard-tokens %lld",
                             t_repo_path("tests/golden/caseops_docs.jsonl"),
                             t_repo_path("data/sample/sample_1024_bpe.model"), out,
                             (long long)json_integer_value(json_object_get(g, "val_docs")),
                             (long long)json_integer_value(json_object_get(g, "shard_tokens")));
    ck_assert_msg(r.status == 0, "%s", r.err);
    char want[160];
    snprintf(want, sizeof want, "val %lld tokens in 1 shard(s) with %lld original bytes",
             (long long)json_integer_value(json_object_get(g, "val_tokens")),
             (long long)json_integer_value(json_object_get(g, "val_bytes")));
    ck_assert_msg(strstr(r.out, want), "%s", r.out);
    const char *name;
    json_t *sha;
    size_t files = 0;
    json_object_foreach(json_object_get(g, "files"), name, sha)
    {
        char path[1200], hex[PG_SHA256_HEX_LEN];
        snprintf(path, sizeof path, "%s/%s", out, name);
        ck_assert_msg(pg_sha256_file(path, hex) == 0, "%s", pg_errmsg());
        ck_assert_msg(strcmp(hex, json_string_value(sha)) == 0, "%s differs from the records' "
                      "preparation", name);
        files++;
    }
    DIR *d = opendir(out);
    struct dirent *de;
    size_t seen = 0;
    while ((de = readdir(d)))
        seen += de->d_name[0] != '.';
    closedir(d);
    ck_assert_uint_eq(seen, files);
    /* an existing folder is refused */
    r = t_pgolf("data caseops --docs '%s' --tokenizer '%s' --out '%s'",
                t_repo_path("tests/golden/caseops_docs.jsonl"),
                t_repo_path("data/sample/sample_1024_bpe.model"), out);
    ck_assert_int_ne(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.err, "exists"));
    /* a line that is not a document: named, and no folder left */
    const char *bad = t_tmp_path("bad_docs.jsonl"), *out2 = t_tmp_path("caseops_bad");
    t_write_bytes(bad, "{\"text\": \"fine\"}\n{\"title\": 3}\n", 30);
    r = t_pgolf("data caseops --docs '%s' --tokenizer '%s' --out '%s'", bad,
                t_repo_path("data/sample/sample_1024_bpe.model"), out2);
    ck_assert_int_ne(r.status, 0);
    ck_assert_msg(strstr(r.err, "bad_docs.jsonl:2: neither a JSON string nor an object"), "%s",
                  r.err);
    struct stat st;
    ck_assert_int_ne(stat(out2, &st), 0);
    d = opendir(t_tmpdir()); /* out2's folder */
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)))
        ck_assert_msg(!strstr(de->d_name, "caseops_bad.partial"), "left %s", de->d_name);
    closedir(d);
    json_decref(g);
}
END_TEST

Suite *suite_caseops(void)
{
    Suite *s = suite_create("caseops");
    TCase *tc = tcase_create("caseops");
    tcase_add_test(tc, test_caseops_matches_the_records);
    tcase_add_test(tc, test_data_caseops_makes_the_records_shards);
    suite_add_tcase(s, tc);
    return s;
}
