/* The records' TTT (TTT_OPTIMIZER=phased): pgolf against tests/golden/records_ttt.py on
 * four settings, the schedule's determinism, and its legality audits both ways. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/sha256.h"
#include "common/text.h"
#include "kernels/final_eval.h"
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

/* ---- determinism and the audits ---- */

typedef struct {
    const golden *f;
    pg_ttt_opts o;
} scorer_ctx;

static int score_ordered(void *ctx, const uint16_t *stream, size_t n, double *loss, uint64_t *order)
{
    scorer_ctx *c = ctx;
    pg_model copy;
    if (pg_model_clone(&copy, &c->f->m) != 0)
        return -1;
    pg_eval_opts eo = {.mode = PG_EVAL_STANDARD, .seq_len = c->f->seq_len, .batch = 1};
    pg_eval_result r;
    int rc = pg_ttt_phased_run(&copy, stream, n, &c->f->lut, &eo, &c->o, &r, loss, order);
    pg_model_free(&copy);
    return rc;
}

static int score_plain(void *ctx, const uint16_t *stream, size_t n, double *loss)
{
    uint64_t *order = malloc((n - 1) * sizeof *order);
    int rc = order ? score_ordered(ctx, stream, n, loss, order) : -1;
    free(order);
    return rc;
}

/* The stream position of document k's BOS. */
static size_t doc_start(const golden *f, int k)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->stream[i] == f->m.cfg.bos_id && k-- == 0)
            return i;
    ck_abort_msg("no document %d", k);
    return 0;
}

/* A position in the middle of a chunk of the stream's last document. */
static size_t mid_last_doc(const golden *f)
{
    size_t s = 0;
    for (size_t i = 0; i < f->n; i++)
        if (f->stream[i] == f->m.cfg.bos_id)
            s = i;
    return s + 6; /* chunks of 4: target 6 of the document is inside its second chunk */
}

START_TEST(test_same_inputs_same_bits)
{
    golden f;
    golden_load(&f);
    scorer_ctx c = {&f, {0}};
    case_opts(&f, "phased_3", &c.o);
    size_t total = f.n - 1;
    double *a = malloc(total * sizeof *a), *b = malloc(total * sizeof *b);
    uint64_t *oa = malloc(total * sizeof *oa), *ob = malloc(total * sizeof *ob);
    ck_assert_int_eq(score_ordered(&c, f.stream, f.n, a, oa), 0);
    ck_assert_int_eq(score_ordered(&c, f.stream, f.n, b, ob), 0);
    ck_assert(memcmp(a, b, total * sizeof *a) == 0);
    ck_assert(memcmp(oa, ob, total * sizeof *oa) == 0);
    free(a);
    free(b);
    free(oa);
    free(ob);
    golden_free(&f);
}
END_TEST

START_TEST(test_audits_pass_legal)
{
    golden f;
    golden_load(&f);
    int V = f.m.cfg.vocab_size, bos = f.m.cfg.bos_id;
    size_t total = f.n - 1;
    const char *cases[] = {"lora_fresh", "phased_1"};
    for (int k = 0; k < 2; k++) {
        scorer_ctx c = {&f, {0}};
        case_opts(&f, cases[k], &c.o);
        pg_order_audit_result fr, orr;
        ck_assert_msg(pg_audit_future(score_ordered, &c, f.stream, f.n, total, V, bos,
                                      mid_last_doc(&f), &fr) == 0, "%s", pg_errmsg());
        ck_assert_msg(fr.first_diff < 0, "%s: future audit: target %ld changed", cases[k],
                      fr.first_diff);
        ck_assert(fr.changed_inside && fr.protected_targets > 0);
        /* the stream's second document: scored in a later round, after others */
        ck_assert_msg(pg_audit_order(score_ordered, &c, f.stream, f.n, total, V, bos,
                                     doc_start(&f, 1), &orr) == 0, "%s", pg_errmsg());
        ck_assert_msg(orr.first_diff < 0, "%s: order audit: target %ld changed", cases[k],
                      orr.first_diff);
        ck_assert(orr.changed_inside);
        pg_doc_audit_result dr;
        ck_assert_int_eq(pg_audit_documents(score_plain, &c, f.stream, f.n, total, V, bos,
                                            doc_start(&f, 1), &dr), 0);
        if (k == 0) { /* fresh adapters, no phase: documents are independent */
            ck_assert_uint_eq(orr.later_changed, 0);
            ck_assert_msg(dr.first_diff < 0, "independence: target %ld changed", dr.first_diff);
        } else { /* warm A and a phase: later documents depend on earlier ones, reported */
            ck_assert(orr.later_changed > 0 && orr.later_docs > 0);
            ck_assert(dr.first_diff >= 0);
        }
        fprintf(stderr, "records TTT %s audits: future PASS (%zu protected), order PASS (%zu "
                "protected, %zu later targets in %zu documents depend on it)\n", cases[k],
                fr.protected_targets, orr.protected_targets, orr.later_changed, orr.later_docs);
    }
    golden_free(&f);
}
END_TEST

START_TEST(test_audits_catch_leaks)
{
    golden f;
    golden_load(&f);
    int V = f.m.cfg.vocab_size, bos = f.m.cfg.bos_id;
    size_t total = f.n - 1;
    scorer_ctx c = {&f, {0}};
    /* a chunk trained on before it is scored */
    case_opts(&f, "lora_fresh", &c.o);
    c.o.leak = PG_LEAK_TRAIN_FIRST;
    pg_order_audit_result r;
    ck_assert_int_eq(pg_audit_future(score_ordered, &c, f.stream, f.n, total, V, bos,
                                     mid_last_doc(&f), &r), 0);
    ck_assert_msg(r.first_diff >= 0, "training before scoring was not caught");
    fprintf(stderr, "leak train-first: future audit FAIL at target %ld\n", r.first_diff);
    /* a cross-document path: windows reaching into the previous document */
    case_opts(&f, "lora_fresh", &c.o);
    c.o.leak = PG_LEAK_CROSS_DOC;
    pg_doc_audit_result dr;
    ck_assert_int_eq(pg_audit_documents(score_plain, &c, f.stream, f.n, total, V, bos,
                                        doc_start(&f, 1), &dr), 0);
    ck_assert_msg(dr.first_diff >= 0, "a cross-document window was not caught");
    fprintf(stderr, "leak cross-doc: independence audit FAIL at target %ld\n", dr.first_diff);
    /* a phase that trains on documents not scored yet: some document among the stream's
     * first eight (trained on by the leaky phase) is scored after the phase */
    int caught = 0;
    for (int k = 0; k < 8 && !caught; k++) {
        case_opts(&f, "phased_1", &c.o);
        ck_assert_int_eq(pg_audit_order(score_ordered, &c, f.stream, f.n, total, V, bos,
                                        doc_start(&f, k), &r), 0);
        ck_assert_msg(r.first_diff < 0, "legal phase: document %d changed target %ld", k,
                      r.first_diff);
        c.o.leak = PG_LEAK_PHASE_UNSCORED;
        ck_assert_int_eq(pg_audit_order(score_ordered, &c, f.stream, f.n, total, V, bos,
                                        doc_start(&f, k), &r), 0);
        caught = r.first_diff >= 0;
        if (caught)
            fprintf(stderr, "leak phase-unscored: order audit FAIL on document %d at target %ld\n",
                    k, r.first_diff);
    }
    ck_assert_msg(caught, "a phase on unscored documents was not caught");
    golden_free(&f);
}
END_TEST

/* RUN_TTT=1 with TTT_OPTIMIZER=phased: the final evaluations run the records' TTT (a
 * pgolf submission can claim it) and name every setting it read in their config lines. */
START_TEST(test_final_evals_run_it)
{
    golden f;
    golden_load(&f);
    pg_final_opts fo;
    pg_final_opts_default(&fo);
    fo.ttt = 1;
    case_opts(&f, "phased_1", &fo.ttt_opts);
    pg_final_scores fs;
    ck_assert_msg(pg_final_evals(&f.m, f.stream, f.n, &f.lut, &fo, 0, &fs) == 0, "%s", pg_errmsg());
    ck_assert(fs.has_ttt);
    pg_model copy;
    ck_assert_int_eq(pg_model_clone(&copy, &f.m), 0);
    pg_eval_opts eo = {.mode = PG_EVAL_STANDARD, .seq_len = f.m.cfg.seq_len, .batch = 1};
    pg_eval_result r;
    ck_assert_int_eq(pg_ttt_phased_run(&copy, f.stream, f.n, &f.lut, &eo, &fo.ttt_opts, &r, NULL,
                                       NULL), 0);
    pg_model_free(&copy);
    ck_assert(fs.ttt.val_bpb == r.val_bpb && fs.ttt.val_bpb != fs.standard.val_bpb);
    pg_text t = {0};
    pg_final_settings_lines(&t, &fo, "config:");
    ck_assert_ptr_nonnull(strstr(t.s, "config:TTT_OPTIMIZER=phased\n"));
    ck_assert_ptr_nonnull(strstr(t.s, "config:PHASED_TTT_PREFIX_DOCS=8\n"));
    ck_assert_ptr_nonnull(strstr(t.s, "config:TTT_CHUNK_SIZE=4\n"));
    ck_assert_ptr_null(strstr(t.s, "config:TTT_CHUNK_TOKENS="));
    pg_text_free(&t);
    golden_free(&f);
}
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
    tcase_add_test(tc, test_same_inputs_same_bits);
    tcase_add_test(tc, test_audits_pass_legal);
    tcase_add_test(tc, test_audits_catch_leaks);
    tcase_add_test(tc, test_final_evals_run_it);
    suite_add_tcase(s, tc);
    return s;
}
