/* The records' GPTQ with SD clip and LQER against tests/golden/records_gptq.json (made by
 * make_records_gptq.py from the torch reference records_gptq.py): on the same weights and
 * Hessian, the quantized integers and float16 scales are identical; the LQER factors of
 * the error agree and pack to the same integers and scales. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "packager/gptq.h"
#include "packager/quantize.h"
#include "tests/util.h"

static long ival(const json_t *a, size_t i)
{
    return (long)json_integer_value(json_array_get(a, i));
}

/* the same integers, element for element */
static void same_ints(const char *what, const char *name, const int8_t *got, const json_t *want,
                      size_t n)
{
    ck_assert_uint_eq(json_array_size(want), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == ival(want, i), "%s %s[%zu]: pgolf %d, torch %ld", name, what, i,
                      got[i], ival(want, i));
}

static void same_scales(const char *what, const char *name, const uint16_t *got,
                        const json_t *want, size_t n)
{
    ck_assert_uint_eq(json_array_size(want), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == (uint16_t)ival(want, i), "%s %s[%zu]: pgolf %g, torch %g", name,
                      what, i, pg_f16_to_f32(got[i]), pg_f16_to_f32((uint16_t)ival(want, i)));
}

START_TEST(test_gptq_and_lqer_match_torch)
{
    json_t *g = t_load_json(t_repo_path("tests/golden/records_gptq.json")), *c;
    json_t *lq = json_object_get(g, "lqer");
    int rank = (int)json_integer_value(json_object_get(lq, "rank"));
    int group = (int)json_integer_value(json_object_get(lq, "group"));
    int fbits = (int)json_integer_value(json_object_get(lq, "factor_bits"));
    size_t blob_len, at = 0, k;
    unsigned char *blob = t_read_bytes(t_repo_path("tests/golden/records_gptq.f32"), &blob_len);
    json_array_foreach(json_object_get(g, "cases"), k, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        int rows = (int)json_integer_value(json_object_get(c, "rows"));
        int cols = (int)json_integer_value(json_object_get(c, "cols"));
        size_t n = (size_t)rows * cols, hn = (size_t)cols * cols;
        ck_assert_uint_le(at + 4 * (n + hn), blob_len);
        float *w = malloc(n * sizeof *w), *H = malloc(hn * sizeof *H), *E = malloc(n * sizeof *E);
        memcpy(w, blob + at, 4 * n);
        memcpy(H, blob + at + 4 * n, 4 * hn);
        at += 4 * (n + hn);
        int8_t *q = malloc(n);
        uint16_t *s = malloc((size_t)rows * sizeof *s);
        ck_assert_msg(pg_gptq_quantize(w, rows, cols, H,
                                       json_real_value(json_object_get(c, "clip_sigmas")),
                                       (int)json_integer_value(json_object_get(c, "bits")), q,
                                       s) == 0,
                      "%s", pg_errmsg());
        same_scales("scale", name, s, json_object_get(c, "scale"), (size_t)rows);
        same_ints("q", name, q, json_object_get(c, "q"), n);
        /* LQER on the error the reference saw */
        for (size_t i = 0; i < n; i++)
            E[i] = w[i] - (float)q[i] * pg_f16_to_f32(s[i / (size_t)cols]);
        float *A = malloc((size_t)rows * rank * sizeof *A), *B = malloc((size_t)rank * cols * sizeof *B);
        int r = pg_lqer_factors(E, rows, cols, rank, A, B);
        ck_assert_int_eq(r, rank);
        double da = 0, db = 0, amax = 0, bmax = 0;
        json_t *wa = json_object_get(c, "A"), *wb = json_object_get(c, "B");
        for (size_t i = 0; i < (size_t)rows * r; i++) {
            da = fmax(da, fabs(A[i] - json_real_value(json_array_get(wa, i))));
            amax = fmax(amax, fabs(A[i]));
        }
        for (size_t i = 0; i < (size_t)r * cols; i++) {
            db = fmax(db, fabs(B[i] - json_real_value(json_array_get(wb, i))));
            bmax = fmax(bmax, fabs(B[i]));
        }
        ck_assert_msg(da <= 1e-5 * amax && db <= 1e-5 * bmax,
                      "%s: LQER factors differ by %.2e (A) / %.2e (B) of their largest", name,
                      da / amax, db / bmax);
        size_t na = (size_t)rows * r, nb = (size_t)r * cols;
        int8_t *qa = malloc(na), *qb = malloc(nb);
        uint16_t *sa = malloc(((size_t)rows + 1) * sizeof *sa), *sb = malloc(nb * sizeof *sb);
        int asym = strcmp(json_string_value(json_object_get(c, "packing")), "asym") == 0;
        ck_assert_int_eq(asym, nb % (size_t)group == 0);
        if (asym)
            pg_lqer_pack_asym(A, B, rows, r, cols, group, qa, sa, qb, sb);
        else
            pg_lqer_pack_sym(A, B, rows, r, cols, fbits, qa, sa, qb, sb);
        same_scales("lqer A scales", name, sa, json_object_get(c, "sA"), asym ? 1 : (size_t)rows);
        same_scales("lqer B scales", name, sb, json_object_get(c, "sB"),
                    asym ? nb / (size_t)group : (size_t)r);
        same_ints("lqer A", name, qa, json_object_get(c, "qA"), na);
        same_ints("lqer B", name, qb, json_object_get(c, "qB"), nb);
        fprintf(stderr, "GPTQ %s [%d][%d]: q and scales identical to torch; LQER rank %d (%s) "
                        "factors within %.1e, packed identically\n",
                name, rows, cols, r, asym ? "asym" : "sym", fmax(da / amax, db / bmax));
        free(w), free(H), free(E), free(q), free(s), free(A), free(B);
        free(qa), free(qb), free(sa), free(sb);
    }
    free(blob);
    json_decref(g);
}
END_TEST

START_TEST(test_gptq_refuses_an_indefinite_hessian)
{
    float w[2 * 3] = {1, 2, 3, 4, 5, 6}, H[9] = {1, 0, 0, 0, -50, 0, 0, 0, 1};
    int8_t q[6];
    uint16_t s[2];
    ck_assert_int_ne(pg_gptq_quantize(w, 2, 3, H, 3.0, 6, q, s), 0);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "not positive definite"));
}
END_TEST

Suite *suite_gptq(void)
{
    Suite *s = suite_create("gptq");
    TCase *tc = tcase_create("gptq");
    tcase_add_test(tc, test_gptq_and_lqer_match_torch);
    tcase_add_test(tc, test_gptq_refuses_an_indefinite_hessian);
    suite_add_tcase(s, tc);
    return s;
}
