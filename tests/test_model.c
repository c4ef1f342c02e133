/* CPU reference model: forward pass against the PyTorch golden files, parameter
 * layout, init, determinism and causality of the forward. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/sha256.h"
#include "kernels/cpu/gemm.h"
#include "kernels/model.h"
#include "tests/util.h"

/* Relative tolerance against the float32 PyTorch reference. Losses: per token,
 * |c - r| <= tol * |r|. Logits: max |c - r| <= tol * max |r| over the sequence
 * (element-wise relative error is meaningless for logits near zero). */
#define GOLDEN_RTOL 1e-5

static void load_golden_model(json_t *g, pg_model *m)
{
    pg_model_config cfg;
    ck_assert_msg(pg_config_from_json(json_object_get(g, "config"), &cfg, "golden") == 0, "%s",
                  pg_errmsg());
    ck_assert_int_eq(pg_model_create(m, &cfg), 0);
    int mode = strcmp(json_string_value(json_object_get(g, "init")), "dense") == 0
                   ? PG_INIT_DENSE
                   : PG_INIT_REFERENCE;
    pg_model_init(m, (uint64_t)json_integer_value(json_object_get(g, "seed")), mode);
    /* the golden was computed from the checkpoint of exactly these parameters */
    uint8_t d[PG_SHA256_LEN];
    char hex[PG_SHA256_HEX_LEN];
    pg_sha256(m->params, m->num_params * sizeof(float), d);
    pg_sha256_hex(d, hex);
    ck_assert_msg(strcmp(hex, json_string_value(json_object_get(g, "params_sha256"))) == 0,
                  "init changed: regenerate tests/golden with make golden");
}

/* The golden's batch: B x T ids and targets. */
typedef struct {
    int B, T, N;
    int *ids, *tgt;
} golden_batch;

static golden_batch golden_batch_of(json_t *g)
{
    golden_batch b;
    b.B = (int)json_integer_value(json_object_get(g, "batch"));
    b.T = (int)json_integer_value(json_object_get(g, "seq"));
    b.N = b.B * b.T;
    b.ids = malloc(b.N * sizeof *b.ids);
    b.tgt = malloc(b.N * sizeof *b.tgt);
    ck_assert(b.ids && b.tgt);
    for (int i = 0; i < b.N; i++) {
        b.ids[i] = (int)json_integer_value(json_array_get(json_object_get(g, "ids"), i));
        b.tgt[i] = (int)json_integer_value(json_array_get(json_object_get(g, "targets"), i));
    }
    return b;
}

static void golden_batch_free(golden_batch *b)
{
    free(b->ids);
    free(b->tgt);
}

/* Each per-token loss within tol of the golden's, relative; returns the worst. */
static double check_losses(json_t *g, const double *losses, int N, double tol, const char *name)
{
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double r = json_real_value(json_array_get(json_object_get(g, "losses"), i));
        double rel = fabs(losses[i] - r) / fabs(r);
        worst = fmax(worst, rel);
        ck_assert_msg(rel <= tol, "%s loss[%d] %.9g vs torch %.9g (rel %.3g)", name, i, losses[i],
                      r, rel);
    }
    return worst;
}

/* n logits against the golden's: max |c - r| within tol * max |r|; returns max |c - r|
 * and *max_ref = max |r|. */
static double check_logits(const float *ref, const pg_real *got, size_t n, double tol,
                           const char *name, double *max_ref)
{
    double max_diff = 0;
    *max_ref = 0;
    for (size_t i = 0; i < n; i++) {
        *max_ref = fmax(*max_ref, fabs(ref[i]));
        max_diff = fmax(max_diff, fabs(ref[i] - got[i]));
    }
    ck_assert_msg(max_diff <= tol * *max_ref, "%s logits differ by %g", name, max_diff);
    return max_diff;
}

static void check_golden(const char *name, int with_logits)
{
    char path[256];
    snprintf(path, sizeof path, "tests/golden/%s.json", name);
    json_t *g = t_load_json(t_repo_path(path));
    pg_model m;
    load_golden_model(g, &m);
    golden_batch b = golden_batch_of(g);
    int V = m.cfg.vocab_size;
    pg_acts a;
    ck_assert_int_eq(pg_acts_create(&a, &m, b.B, b.T, 1), 0);
    pg_model_forward(&m, &a, b.ids, b.tgt);
    double worst = check_losses(g, a.losses, b.N, GOLDEN_RTOL, name);
    fprintf(stderr, "golden %s: max loss rel err %.3g", name, worst);
    if (with_logits) {
        snprintf(path, sizeof path, "tests/golden/%s_logits.f32", name);
        size_t len;
        unsigned char *raw = t_read_bytes(t_repo_path(path), &len);
        ck_assert_uint_eq(len, (size_t)b.T * V * 4);
        double max_ref, max_diff = check_logits((const float *)raw, a.logits, (size_t)b.T * V,
                                                GOLDEN_RTOL, name, &max_ref);
        fprintf(stderr, ", logits max abs err %.3g (max |logit| %.3g)", max_diff, max_ref);
        free(raw);
    }
    fputc('\n', stderr);
    pg_acts_free(&a);
    pg_model_free(&m);
    golden_batch_free(&b);
    json_decref(g);
}

/* The records' model family against tests/golden/records_model.py: per-token losses,
 * sequence 0's logits and the gradient of the mean loss for every tensor, all in float32.
 * Gradients per tensor: max |c - r| <= tol * max(max |r| of the tensor, 1% of max |r| over
 * all tensors); the floor is for a tensor whose gradient nearly cancels (a q_gain: a sum
 * of terms far larger than itself), which carries those terms' float32 rounding. */
static void check_records_golden(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "tests/golden/%s.json", name);
    json_t *g = t_load_json(t_repo_path(path));
    pg_model m;
    load_golden_model(g, &m);
    ck_assert(!pg_config_is_baseline_graph(&m.cfg));
    golden_batch b = golden_batch_of(g);
    int T = b.T, V = m.cfg.vocab_size;
    pg_acts a;
    ck_assert_int_eq(pg_acts_create(&a, &m, b.B, T, 1), 0);
    pg_model_forward(&m, &a, b.ids, b.tgt);
    double worst = check_losses(g, a.losses, b.N, GOLDEN_RTOL, name);
    snprintf(path, sizeof path, "tests/golden/%s.f32", name);
    size_t len;
    unsigned char *raw = t_read_bytes(t_repo_path(path), &len);
    ck_assert_uint_eq(len, ((size_t)T * V + m.num_params) * 4);
    const float *ref = (const float *)raw;
    double max_ref, max_diff = check_logits(ref, a.logits, (size_t)T * V, GOLDEN_RTOL, name,
                                            &max_ref);
    float *grad = calloc(m.num_params, sizeof *grad);
    pg_model_backward(&m, &a, b.ids, b.tgt, grad, 1.0 / b.N);
    const float *gref = ref + (size_t)T * V;
    double worst_grad = 0, floor = 0;
    for (size_t j = 0; j < m.num_params; j++)
        floor = fmax(floor, 0.01 * fabs(gref[j]));
    for (int t = 0; t < m.num_tensors; t++) {
        const pg_tensor_info *ti = &m.tensors[t];
        double mr = floor, md = 0;
        for (size_t j = ti->offset; j < ti->offset + ti->numel; j++) {
            mr = fmax(mr, fabs(gref[j]));
            md = fmax(md, fabs(gref[j] - grad[j]));
        }
        ck_assert_msg(md <= GOLDEN_RTOL * mr, "%s: gradient of %s differs by %g (max |g| %g)",
                      name, ti->name, md, mr);
        worst_grad = fmax(worst_grad, mr > 0 ? md / mr : md);
    }
    fprintf(stderr,
            "golden %s: max loss rel err %.3g, logits %.3g of max |logit| %.3g, gradients "
            "(%d tensors) max rel err %.3g\n",
            name, worst, max_diff, max_ref, m.num_tensors, worst_grad);
    free(grad);
    free(raw);
    pg_acts_free(&a);
    pg_model_free(&m);
    golden_batch_free(&b);
    json_decref(g);
}

/* The bf16 mode against the reference's bf16 variant (records_model.set_bf16: the same
 * rounding points): per-token losses and logits within 1e-5, like float32. Each side
 * rounds float32 values that may differ in their last bits (sums in another order); on
 * these goldens every such difference rounds away and the logits come out identical, but
 * a difference at a rounding boundary would flip one bfloat16 value (2^-8 relative): the
 * mode matches the variant to bfloat16's resolution in general, not bit for bit. */
#define BF16_RTOL 1e-5

static void check_records_golden_bf16(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "tests/golden/%s.json", name);
    json_t *g = t_load_json(t_repo_path(path));
    pg_model m;
    load_golden_model(g, &m);
    ck_assert_str_eq(json_string_value(json_object_get(g, "precision")), "bf16");
    pg_model_round_bf16(&m);
    golden_batch b = golden_batch_of(g);
    int T = b.T, V = m.cfg.vocab_size;
    pg_acts a;
    ck_assert_int_eq(pg_acts_create(&a, &m, b.B, T, 0), 0);
    pg_acts_set_bf16(&a, 1);
    pg_model_forward(&m, &a, b.ids, b.tgt);
    double worst = check_losses(g, a.losses, b.N, BF16_RTOL, name), sum = 0, ref_sum = 0;
    for (int i = 0; i < b.N; i++) {
        sum += a.losses[i];
        ref_sum += json_real_value(json_array_get(json_object_get(g, "losses"), i));
    }
    snprintf(path, sizeof path, "tests/golden/%s.f32", name);
    size_t len;
    unsigned char *raw = t_read_bytes(t_repo_path(path), &len);
    ck_assert_uint_eq(len, (size_t)T * V * 4);
    double max_ref, max_diff = check_logits((const float *)raw, a.logits, (size_t)T * V, BF16_RTOL,
                                            name, &max_ref);
    fprintf(stderr,
            "golden %s: max loss rel err %.3g, mean loss rel err %.3g, logits %.3g of max "
            "|logit| %.3g\n",
            name, worst, fabs(sum - ref_sum) / fabs(ref_sum), max_diff, max_ref);
    free(raw);
    pg_acts_free(&a);
    pg_model_free(&m);
    golden_batch_free(&b);
    json_decref(g);
}

START_TEST(test_golden_records_bf16)
{
    check_records_golden_bf16("records_core_bf16");
    check_records_golden_bf16("records_sparse_smear_bf16");
}
END_TEST

START_TEST(test_golden_records_core) { check_records_golden("records_core"); }
END_TEST
START_TEST(test_golden_records_variant) { check_records_golden("records_variant"); }
END_TEST
START_TEST(test_golden_records_gates)
{
    check_records_golden("records_sparse_smear");
    check_records_golden("records_dense_smear_leak");
    check_records_golden("records_attn_out_gate");
}
END_TEST

START_TEST(test_golden_tiny) { check_golden("tiny_forward", 1); }
END_TEST
START_TEST(test_golden_leaky) { check_golden("tiny_forward_leaky", 0); }
END_TEST

START_TEST(test_baseline_layout)
{
    pg_model_config c = pg_config_baseline();
    pg_model m;
    ck_assert_int_eq(pg_model_create(&m, &c), 0);
    /* the reference's count, as its logs print it (model_params:17059912) */
    ck_assert_uint_eq(m.num_params, 17059912);
    ck_assert_int_eq(m.num_tensors, 2 + 9 * 10);
    const char *names[] = {"tok_emb.weight",       "blocks.0.attn.c_q.weight",
                           "blocks.0.attn.c_k.weight", "blocks.0.attn.c_v.weight",
                           "blocks.0.attn.proj.weight", "blocks.0.attn.q_gain",
                           "blocks.8.mlp.fc.weight", "blocks.8.mlp.proj.weight",
                           "blocks.3.attn_scale",  "blocks.3.mlp_scale",
                           "blocks.3.resid_mix",   "skip_weights"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_msg(pg_model_find_tensor(&m, names[i]) != NULL, "missing %s", names[i]);
    const pg_tensor_info *k = pg_model_find_tensor(&m, "blocks.0.attn.c_k.weight");
    ck_assert_int_eq(k->shape[0], 256);
    ck_assert_int_eq(k->shape[1], 512);
    ck_assert_int_eq(pg_model_find_tensor(&m, "skip_weights")->shape[0], 4);
    ck_assert_int_eq(pg_model_find_tensor(&m, "blocks.3.resid_mix")->shape[0], 2);
    pg_model_free(&m);
}
END_TEST

START_TEST(test_reference_init)
{
    pg_model_config c = pg_config_tiny();
    pg_model m;
    ck_assert_int_eq(pg_model_create(&m, &c), 0);
    pg_model_init(&m, 42, PG_INIT_REFERENCE);
    int D = c.model_dim;
    for (size_t i = 0; i < (size_t)D * D; i++) {
        ck_assert(m.w.blocks[1].attn_proj[i] == 0.0f);
        ck_assert(m.w.blocks[1].mlp_proj[i] == 0.0f);
    }
    for (int i = 0; i < D; i++) {
        ck_assert(m.w.blocks[2].resid_mix[i] == 1.0f);
        ck_assert(m.w.blocks[2].resid_mix[D + i] == 0.0f);
        ck_assert(m.w.blocks[2].attn_scale[i] == 1.0f);
        ck_assert(m.w.skip_weights[i] == 1.0f);
    }
    ck_assert(m.w.blocks[0].q_gain[3] == 1.5f);
    double ss = 0, bound = 1.0 / sqrt(D), mx = 0;
    size_t ne = (size_t)c.vocab_size * D;
    for (size_t i = 0; i < ne; i++)
        ss += (double)m.w.tok_emb[i] * m.w.tok_emb[i];
    ck_assert_double_eq_tol(sqrt(ss / ne), 0.005, 0.0002);
    for (size_t i = 0; i < (size_t)D * D; i++)
        mx = fmax(mx, fabs(m.w.blocks[0].c_q[i]));
    ck_assert(mx <= bound && mx > 0.9 * bound);
    /* same seed, same bits; another seed, other bits */
    pg_model m2;
    ck_assert_int_eq(pg_model_create(&m2, &c), 0);
    pg_model_init(&m2, 42, PG_INIT_REFERENCE);
    ck_assert_mem_eq(m.params, m2.params, m.num_params * sizeof(float));
    pg_model_init(&m2, 43, PG_INIT_REFERENCE);
    ck_assert(memcmp(m.params, m2.params, m.num_params * sizeof(float)) != 0);
    pg_model_free(&m2);
    pg_model_free(&m);
}
END_TEST

/* A dense tiny model and a run of sample-like ids for the properties below. */
static void make_dense(pg_model *m, int layers)
{
    pg_model_config c = pg_config_tiny();
    c.num_layers = layers;
    c.tied_embed_init_std = 0.3f;
    ck_assert_int_eq(pg_model_create(m, &c), 0);
    pg_model_init(m, 5, PG_INIT_DENSE);
}

START_TEST(test_batch_independent_and_deterministic)
{
    pg_model m;
    make_dense(&m, 5);
    int T = 40, V = m.cfg.vocab_size;
    int ids[80], tgt[80];
    for (int i = 0; i < 80; i++) {
        ids[i] = (i * 37 + 11) % V;
        tgt[i] = (i * 53 + 7) % V;
    }
    pg_acts a2, a1;
    ck_assert_int_eq(pg_acts_create(&a2, &m, 2, T, 0), 0);
    ck_assert_int_eq(pg_acts_create(&a1, &m, 1, T, 1), 0);
    pg_model_forward(&m, &a2, ids, tgt);
    /* sequence 1 alone, through the keep-layers path, gives the same bits */
    pg_model_forward(&m, &a1, ids + T, tgt + T);
    ck_assert_mem_eq(a1.losses, a2.losses + T, T * sizeof(double));
    ck_assert_mem_eq(a1.logits, a2.logits + (size_t)T * V, (size_t)T * V * sizeof(float));
    double before[80];
    memcpy(before, a2.losses, sizeof before);
    pg_model_forward(&m, &a2, ids, tgt);
    ck_assert_mem_eq(before, a2.losses, sizeof before);
    pg_acts_free(&a1);
    pg_acts_free(&a2);
    pg_model_free(&m);
}
END_TEST

START_TEST(test_forward_is_causal)
{
    pg_model m;
    make_dense(&m, 4);
    int T = 48, V = m.cfg.vocab_size, cut = 30;
    int ids[48], tgt[48];
    for (int i = 0; i < T; i++) {
        ids[i] = (i * 91 + 3) % V;
        tgt[i] = (i * 29 + 1) % V;
    }
    pg_acts a;
    ck_assert_int_eq(pg_acts_create(&a, &m, 1, T, 0), 0);
    pg_model_forward(&m, &a, ids, tgt);
    double base[48];
    memcpy(base, a.losses, sizeof base);
    for (int i = cut; i < T; i++)
        ids[i] = (ids[i] + 500) % V;
    pg_model_forward(&m, &a, ids, tgt);
    ck_assert_mem_eq(base, a.losses, cut * sizeof(double));
    ck_assert(memcmp(base + cut, a.losses + cut, (T - cut) * sizeof(double)) != 0);
    /* a shorter pass over the prefix agrees bit for bit too */
    ck_assert_int_eq(pg_acts_set_shape(&a, 1, cut), 0);
    pg_model_forward(&m, &a, ids, tgt);
    ck_assert_mem_eq(base, a.losses, cut * sizeof(double));
    ck_assert_int_eq(pg_acts_set_shape(&a, 1, T + 1), -1);
    pg_acts_free(&a);
    pg_model_free(&m);
}
END_TEST

START_TEST(test_bad_configs)
{
    pg_model_config c = pg_config_tiny();
    pg_model m;
    c.num_heads = 3;
    ck_assert_int_eq(pg_model_create(&m, &c), -1);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "does not divide MODEL_DIM"));
    c = pg_config_tiny();
    c.num_kv_heads = 3;
    ck_assert_int_eq(pg_config_validate(&c), -1);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "NUM_KV_HEADS=3"));
    c = pg_config_tiny();
    c.model_dim = 4 * 3; /* head_dim 3 is odd */
    ck_assert_int_eq(pg_config_validate(&c), -1);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "even"));
    c = pg_config_tiny();
    ck_assert_int_eq(pg_config_set(&c, "MODEL_DIM", "12x"), -1);
    ck_assert_int_eq(pg_config_set(&c, "NOPE", "1"), -1);
    ck_assert_int_eq(pg_config_set(&c, "LOGIT_SOFTCAP", "nan"), -1);
}
END_TEST

/* The CPU backend's matrix product (kernels/cpu/gemm.c), through the BLAS and through the
 * hand-written path: every transpose combination, alpha and beta, shapes that leave
 * partial tiles, against a double-precision loop; and a row's bits do not depend on how
 * many rows the call has (the padding of the last tile). */
START_TEST(test_gemm)
{
    enum { M = 300, N = 270, K = 37 };
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
    float *C = malloc(sizeof(float) * M * N), *C0 = malloc(sizeof(float) * M * N);
    float *few = malloc(sizeof(float) * 5 * N);
    for (int i = 0; i < M * K; i++)
        A[i] = (float)((i * 37 % 101) - 50) / 50.0f;
    for (int i = 0; i < K * N; i++)
        B[i] = (float)((i * 53 % 97) - 48) / 48.0f;
    for (int i = 0; i < M * N; i++)
        C0[i] = (float)((i * 29 % 89) - 44) / 44.0f;
    for (int portable = 0; portable < 2; portable++) {
        pg_gemm_use_portable(portable);
        for (int t = 0; t < 4; t++) {
            int ta = t & 1, tb = t >> 1, lda = ta ? M : K, ldb = tb ? K : N;
            for (int with_beta = 0; with_beta < 2; with_beta++) {
                float beta = with_beta ? 0.75f : 0.0f;
                memcpy(C, C0, sizeof(float) * M * N);
                pg_gemm(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, beta, C, N);
                double worst = 0;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        double ref = beta * (double)C0[i * N + j];
                        for (int k = 0; k < K; k++)
                            ref += 0.5 * (double)(ta ? A[k * M + i] : A[i * K + k]) *
                                   (double)(tb ? B[j * K + k] : B[k * N + j]);
                        worst = fmax(worst, fabs(C[i * N + j] - ref) / fmax(1.0, fabs(ref)));
                    }
                ck_assert_msg(worst < 1e-5, "portable %d ta %d tb %d beta %g: rel err %g",
                              portable, ta, tb, beta, worst);
                if (ta)
                    continue; /* rows of op(A) are rows of A: the first 5 alone */
                memcpy(few, C0, sizeof(float) * 5 * N);
                pg_gemm(ta, tb, 5, N, K, 0.5f, A, lda, B, ldb, beta, few, N);
                ck_assert_msg(memcmp(few, C, sizeof(float) * 5 * N) == 0,
                              "portable %d tb %d beta %g: rows differ alone", portable, tb, beta);
            }
        }
    }
    pg_gemm_use_portable(0);
    free(A);
    free(B);
    free(C);
    free(C0);
    free(few);
}
END_TEST

Suite *suite_model(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_golden_tiny);
    tcase_add_test(tc, test_golden_leaky);
    tcase_add_test(tc, test_golden_records_core);
    tcase_add_test(tc, test_golden_records_variant);
    tcase_add_test(tc, test_golden_records_gates);
    tcase_add_test(tc, test_golden_records_bf16);
    tcase_add_test(tc, test_baseline_layout);
    tcase_add_test(tc, test_reference_init);
    tcase_add_test(tc, test_batch_independent_and_deterministic);
    tcase_add_test(tc, test_forward_is_causal);
    tcase_add_test(tc, test_gemm);
    tcase_add_test(tc, test_bad_configs);
    suite_add_tcase(s, tc);
    return s;
}
