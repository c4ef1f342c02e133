/* The records' TTT (TTT_OPTIMIZER=phased): pgolf against tests/golden/records_ttt.py on
 * four settings, the schedule's determinism, and its legality audits both ways. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/sha256.h"
#include "kernels/ttt.h"
#include "verifier/audit.h"
#include "tests/util.h"

/* The golden's model, stream and byte rule (make_records_ttt.py: token_bytes). */
typedef struct {
    json_t *g;
    pg_model m;
    pg_bpb_lut lut;
    uint16_t *stream;
    size_t n;
    int seq_len;
} golden;

static void golden_load(golden *f)
{
    f->g = t_load_json(t_repo_path("tests/golden/records_ttt.json"));
    pg_model_config cfg;
    ck_assert_msg(pg_config_from_json(json_object_get(f->g, "config"), &cfg, "golden") == 0, "%s",
                  pg_errmsg());
    ck_assert_int_eq(pg_model_create(&f->m, &cfg), 0);
    pg_model_init(&f->m, (uint64_t)json_integer_value(json_object_get(f->g, "seed")), PG_INIT_DENSE);
    uint8_t d[PG_SHA256_LEN];
    char hex[PG_SHA256_HEX_LEN];
    pg_sha256(f->m.params, f->m.num_params * sizeof(float), d);
    pg_sha256_hex(d, hex);
    ck_assert_msg(strcmp(hex, json_string_value(json_object_get(f->g, "params_sha256"))) == 0,
                  "init changed: regenerate tests/golden with make golden");
    json_t *st = json_object_get(f->g, "stream");
    f->n = json_array_size(st);
    f->stream = malloc(f->n * sizeof *f->stream);
    for (size_t i = 0; i < f->n; i++)
        f->stream[i] = (uint16_t)json_integer_value(json_array_get(st, i));
    f->seq_len = (int)json_integer_value(json_object_get(f->g, "seq_len"));
    int V = cfg.vocab_size;
    memset(&f->lut, 0, sizeof f->lut);
    f->lut.size = V;
    f->lut.base_bytes = calloc((size_t)V, sizeof *f->lut.base_bytes);
    f->lut.has_leading_space = calloc((size_t)V, 1);
    f->lut.is_boundary = calloc((size_t)V, 1);
    for (int t = 0; t < V; t++) {
        f->lut.base_bytes[t] = (int16_t)(1 + t % 3);
        f->lut.has_leading_space[t] = t % 5 == 0;
        f->lut.is_boundary[t] = t == 0 || t == 1;
    }
}

static void golden_free(golden *f)
{
    json_decref(f->g);
    pg_model_free(&f->m);
    free(f->lut.base_bytes);
    free(f->lut.has_leading_space);
    free(f->lut.is_boundary);
    free(f->stream);
}

static void case_opts(const golden *f, const char *name, pg_ttt_opts *o)
{
    pg_ttt_opts_default(o);
    json_t *s = json_object_get(json_object_get(json_object_get(f->g, "cases"), name), "settings");
    const char *k;
    json_t *v;
    json_object_foreach(s, k, v)
        ck_assert_msg(pg_ttt_set(o, k, json_string_value(v)) == 0, "%s", pg_errmsg());
}

/* Runs case `name` on a copy of the golden model. */
static void run_case(const golden *f, const pg_ttt_opts *o, pg_eval_result *r, double *loss,
                     uint64_t *order)
{
    pg_model copy;
    ck_assert_int_eq(pg_model_clone(&copy, &f->m), 0);
    pg_eval_opts eo = {.mode = PG_EVAL_STANDARD, .seq_len = f->seq_len, .batch = 1};
    ck_assert_msg(pg_ttt_phased_run(&copy, f->stream, f->n, &f->lut, &eo, o, r, loss, order) == 0,
                  "%s", pg_errmsg());
    pg_model_free(&copy);
}

static void check_case(const char *name)
{
    golden f;
    golden_load(&f);
    pg_ttt_opts o;
    case_opts(&f, name, &o);
    size_t total = f.n - 1;
    double *loss = malloc(total * sizeof *loss);
    uint64_t *order = malloc(total * sizeof *order);
    pg_eval_result r;
    run_case(&f, &o, &r, loss, order);
    json_t *c = json_object_get(json_object_get(f.g, "cases"), name);
    json_t *gl = json_object_get(c, "per_token"), *go = json_object_get(c, "order");
    ck_assert_uint_eq(json_array_size(gl), total);
    double worst = 0;
    size_t scored = 0;
    for (size_t i = 0; i < total; i++) {
        json_int_t want_order = json_integer_value(json_array_get(go, i));
        if (want_order < 0) {
            ck_assert_msg(order[i] == UINT64_MAX, "%s: target %zu scored, the reference did not",
                          name, i);
            continue;
        }
        ck_assert_msg(order[i] == (uint64_t)want_order, "%s: target %zu scored at %llu, reference %lld",
                      name, i, (unsigned long long)order[i], (long long)want_order);
        double want = json_real_value(json_array_get(gl, i));
        double rel = fabs(loss[i] - want) / fmax(fabs(want), 1e-3);
        worst = fmax(worst, rel);
        ck_assert_msg(rel <= 1e-5, "%s: target %zu loss %.9g, reference %.9g", name, i, loss[i], want);
        scored++;
    }
    double want_bpb = json_real_value(json_object_get(c, "val_bpb"));
    double bpb_rel = fabs(r.val_bpb - want_bpb) / want_bpb;
    ck_assert_msg(bpb_rel <= 1e-5, "%s: val_bpb %.9f, reference %.9f", name, r.val_bpb, want_bpb);
    ck_assert_uint_eq((size_t)r.tokens, scored);
    fprintf(stderr, "records TTT %s: %zu targets, per-target loss within %.2e, val_bpb %.8f (%.2e)\n",
            name, scored, worst, r.val_bpb, bpb_rel);
    free(loss);
    free(order);
    golden_free(&f);
}

START_TEST(test_golden_lora_fresh) { check_case("lora_fresh"); }
END_TEST
START_TEST(test_golden_lora_warm) { check_case("lora_warm"); }
END_TEST
START_TEST(test_golden_phased_1) { check_case("phased_1"); }
END_TEST
START_TEST(test_golden_phased_3) { check_case("phased_3"); }
END_TEST

Suite *suite_ttt_phased(void)
{
    Suite *s = suite_create("ttt_phased");
    TCase *tc = tcase_create("ttt_phased");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_golden_lora_fresh);
    tcase_add_test(tc, test_golden_lora_warm);
    tcase_add_test(tc, test_golden_phased_1);
    tcase_add_test(tc, test_golden_phased_3);
    suite_add_tcase(s, tc);
    return s;
}
