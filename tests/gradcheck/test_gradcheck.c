/* Gradient checks: every op's backward and the whole model's against central finite
 * differences. Built with -DPG_REAL_DOUBLE (kernels/real.h), so the same sources run
 * in double precision and a difference quotient with h = 1e-6 is accurate to ~1e-9;
 * the tolerance 1e-6 (relative to max(1, |grad|)) leaves three orders of margin while
 * catching any wrong term (those are O(1) off). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/config.h"
#include "kernels/cpu/ops.h"
#include "kernels/model.h"
#include "kernels/rng.h"

#ifndef PG_REAL_DOUBLE
#error "gradient checks need the double build (-DPG_REAL_DOUBLE)"
#endif

#define FD_H 1e-6
#define FD_TOL 1e-6

static pg_rng g_rng;

static void fill(double *x, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = scale * pg_rng_normal(&g_rng);
}

/* An op under test: loss(x) = sum(R (.) f(x)) for fixed random R, and its gradient. */
typedef struct op_case op_case;
struct op_case {
    const char *name;
    size_t n_in;  /* length of the flat input x */
    size_t n_out; /* length of f(x) */
    void (*fwd)(const op_case *c, const double *x, double *y);
    void (*bwd)(const op_case *c, const double *x, const double *dy, double *dx);
    int a, b, d, e; /* shape parameters, meaning per op */
};

static double loss_of(const op_case *c, const double *x, const double *R)
{
    double *y = calloc(c->n_out, sizeof *y), s = 0;
    c->fwd(c, x, y);
    for (size_t i = 0; i < c->n_out; i++)
        s += R[i] * y[i];
    free(y);
    return s;
}

static void check_op(const op_case *c)
{
    double *x = malloc(c->n_in * sizeof *x), *R = malloc(c->n_out * sizeof *R);
    double *dx = calloc(c->n_in, sizeof *dx);
    fill(x, c->n_in, 1.0);
    fill(R, c->n_out, 1.0);
    c->bwd(c, x, R, dx);
    double worst = 0;
    for (size_t i = 0; i < c->n_in; i++) {
        double keep = x[i];
        x[i] = keep + FD_H;
        double lp = loss_of(c, x, R);
        x[i] = keep - FD_H;
        double lm = loss_of(c, x, R);
        x[i] = keep;
        double num = (lp - lm) / (2 * FD_H);
        double err = fabs(num - dx[i]) / fmax(1.0, fabs(num));
        worst = fmax(worst, err);
        ck_assert_msg(err <= FD_TOL, "%s: d/dx[%zu] analytic %.10g, numeric %.10g", c->name, i,
                      dx[i], num);
    }
    fprintf(stderr, "gradcheck %-14s %4zu inputs, max rel err %.2e\n", c->name, c->n_in, worst);
    free(x);
    free(R);
    free(dx);
}

/* linear: x = [in (a x b) | w (d x b)], out a x d */
static void linear_f(const op_case *c, const double *x, double *y)
{
    pg_linear_fwd(y, x, x + c->a * c->b, c->a, c->b, c->d);
}
static void linear_b(const op_case *c, const double *x, const double *dy, double *dx)
{
    pg_linear_bwd(dx, dx + c->a * c->b, dy, x, x + c->a * c->b, c->a, c->b, c->d);
}

static void rms_f(const op_case *c, const double *x, double *y)
{
    double *rstd = malloc(c->a * sizeof *rstd);
    pg_rmsnorm_fwd(y, rstd, x, c->a, c->b, 1e-6);
    free(rstd);
}
static void rms_b(const op_case *c, const double *x, const double *dy, double *dx)
{
    double *y = malloc(c->n_out * sizeof *y), *rstd = malloc(c->a * sizeof *rstd);
    pg_rmsnorm_fwd(y, rstd, x, c->a, c->b, 1e-6);
    pg_rmsnorm_bwd(dx, dy, x, rstd, c->a, c->b);
    free(y);
    free(rstd);
}

/* rope: x is [B=a][T=b][heads=d][hd=e] */
static void rope_tabs(const op_case *c, double **cs, double **sn)
{
    *cs = malloc((size_t)c->b * c->e / 2 * sizeof **cs);
    *sn = malloc((size_t)c->b * c->e / 2 * sizeof **sn);
    pg_rope_tables(*cs, *sn, c->b, c->e, 10000.0);
}
static void rope_f(const op_case *c, const double *x, double *y)
{
    double *cs, *sn;
    rope_tabs(c, &cs, &sn);
    memcpy(y, x, c->n_in * sizeof *y);
    pg_rope_fwd(y, cs, sn, c->a, c->b, c->d, c->e);
    free(cs);
    free(sn);
}
static void rope_b(const op_case *c, const double *x, const double *dy, double *dx)
{
    (void)x;
    double *cs, *sn;
    rope_tabs(c, &cs, &sn);
    memcpy(dx, dy, c->n_in * sizeof *dx);
    pg_rope_bwd(dx, cs, sn, c->a, c->b, c->d, c->e);
    free(cs);
    free(sn);
}

/* attention: T=a, H=b, KVH=d, hd=e; x = [q (T H hd) | k (T KVH hd) | v (T KVH hd)] */
static void attn_f(const op_case *c, const double *x, double *y)
{
    size_t nq = (size_t)c->a * c->b * c->e, nk = (size_t)c->a * c->d * c->e;
    double *p = malloc(pg_attention_state_size(c->a, c->b, c->e) * sizeof *p);
    pg_attention_fwd(y, p, x, x + nq, x + nq + nk, c->a, c->b, c->d, c->e);
    free(p);
}
static void attn_b(const op_case *c, const double *x, const double *dy, double *dx)
{
    size_t nq = (size_t)c->a * c->b * c->e, nk = (size_t)c->a * c->d * c->e;
    double *p = malloc(pg_attention_state_size(c->a, c->b, c->e) * sizeof *p);
    double *y = malloc(nq * sizeof *y);
    pg_attention_fwd(y, p, x, x + nq, x + nq + nk, c->a, c->b, c->d, c->e);
    double *ws = malloc(pg_attention_bwd_scratch(c->a, c->d, c->e) * sizeof *ws);
    pg_attention_bwd(dx, dx + nq, dx + nq + nk, dy, p, x, x + nq, x + nq + nk, c->a, c->b, c->d,
                     c->e, ws);
    free(ws);
    free(p);
    free(y);
}

static void act_f(const op_case *c, const double *x, double *y)
{
    pg_mlp_act_fwd(y, x, c->n_in, c->a);
}
static void act_b(const op_case *c, const double *x, const double *dy, double *dx)
{
    pg_mlp_act_bwd(dx, dy, x, c->n_in, c->a);
}

/* softcapped cross-entropy: rows a, vocab b, cap 30 (d = 1: large logits) */
static const int kTargets[] = {3, 0, 7, 5, 1};
static void xent_f(const op_case *c, const double *x, double *y)
{
    double *z = malloc(c->n_in * sizeof *z), *loss = malloc(c->a * sizeof *loss);
    memcpy(z, x, c->n_in * sizeof *z);
    pg_softcap_fwd(z, c->n_in, 30.0);
    pg_xent_fwd(loss, z, kTargets, c->a, c->b);
    for (int r = 0; r < c->a; r++)
        y[r] = loss[r];
    free(z);
    free(loss);
}
static void xent_b(const op_case *c, const double *x, const double *dy, double *dx)
{
    /* the op's own backward takes one dloss for all rows: check each row's share */
    double *z = malloc(c->n_in * sizeof *z), *g = malloc(c->n_in * sizeof *g);
    memcpy(z, x, c->n_in * sizeof *z);
    pg_softcap_fwd(z, c->n_in, 30.0);
    for (int r = 0; r < c->a; r++) {
        pg_softcap_xent_bwd(g + (size_t)r * c->b, z + (size_t)r * c->b, kTargets + r, 1, c->b,
                            30.0, dy[r]);
        for (int j = 0; j < c->b; j++)
            dx[(size_t)r * c->b + j] += g[(size_t)r * c->b + j];
    }
    free(z);
    free(g);
}

START_TEST(test_ops)
{
    pg_rng_seed(&g_rng, 2024);
    op_case cases[] = {
        {"linear", 3 * 5 + 4 * 5, 3 * 4, linear_f, linear_b, 3, 5, 4, 0},
        {"rmsnorm", 3 * 7, 3 * 7, rms_f, rms_b, 3, 7, 0, 0},
        {"rope", 2 * 3 * 2 * 6, 2 * 3 * 2 * 6, rope_f, rope_b, 2, 3, 2, 6},
        /* 300 x 520 outputs: several of the product's fixed tiles (kernels/cpu/gemm.c) */
        {"linear_tiles", 300 * 3 + 520 * 3, 300 * 520, linear_f, linear_b, 300, 3, 520, 0},
        {"attention", 5 * 4 * 3 + 2 * 5 * 2 * 3, 5 * 4 * 3, attn_f, attn_b, 5, 4, 2, 3},
        /* 70 positions: two blocks of query rows */
        {"attention_70", 70 * 2 * 3 + 2 * 70 * 3, 70 * 2 * 3, attn_f, attn_b, 70, 2, 1, 3},
        {"relu2", 40, 40, act_f, act_b, PG_MLP_RELU2, 0, 0, 0},
        {"leaky_relu2", 40, 40, act_f, act_b, PG_MLP_LEAKY_RELU2, 0, 0, 0},
        {"softcap_xent", 5 * 9, 5, xent_f, xent_b, 5, 9, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_op(&cases[i]);
}
END_TEST

/* The whole model: mean token loss of a dense tiny model, gradient of every parameter
 * of every tensor (all of them; the model is small). */
static double model_loss(const pg_model *m, pg_acts *a, const int *ids, const int *tgt, int N)
{
    return pg_model_forward(m, a, ids, tgt) / N;
}

static void check_model(int layers, int act, uint64_t seed)
{
    pg_model_config c = pg_config_tiny();
    c.vocab_size = 24;
    c.num_layers = layers;
    c.model_dim = 16;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.seq_len = 6;
    c.mlp_act = act;
    c.tied_embed_init_std = 0.5f;
    c.logit_softcap = 5.0f; /* small cap so the tanh is far from linear */
    pg_model m;
    ck_assert_int_eq(pg_model_create(&m, &c), 0);
    pg_model_init(&m, seed, PG_INIT_DENSE);
    int B = 2, T = 6, N = B * T;
    int ids[12], tgt[12];
    for (int i = 0; i < N; i++) {
        ids[i] = (int)(pg_rng_u64(&g_rng) % (uint64_t)c.vocab_size);
        tgt[i] = (int)(pg_rng_u64(&g_rng) % (uint64_t)c.vocab_size);
    }
    pg_acts a;
    ck_assert_int_eq(pg_acts_create(&a, &m, B, T, 1), 0);
    double *grad = calloc(m.num_params, sizeof *grad);
    pg_model_forward(&m, &a, ids, tgt);
    pg_model_backward(&m, &a, ids, tgt, grad, 1.0 / N);
    double worst = 0;
    for (int t = 0; t < m.num_tensors; t++) {
        const pg_tensor_info *ti = &m.tensors[t];
        for (size_t j = 0; j < ti->numel; j++) {
            size_t i = ti->offset + j;
            double keep = m.params[i];
            m.params[i] = keep + FD_H;
            double lp = model_loss(&m, &a, ids, tgt, N);
            m.params[i] = keep - FD_H;
            double lm = model_loss(&m, &a, ids, tgt, N);
            m.params[i] = keep;
            double num = (lp - lm) / (2 * FD_H);
            double err = fabs(num - grad[i]) / fmax(1.0, fabs(num));
            worst = fmax(worst, err);
            ck_assert_msg(err <= FD_TOL, "%s[%zu]: analytic %.10g numeric %.10g", ti->name, j,
                          grad[i], num);
        }
    }
    fprintf(stderr, "gradcheck model L=%d %s: %zu parameters, max rel err %.2e\n", layers,
            act == PG_MLP_RELU2 ? "relu2" : "leaky_relu2", m.num_params, worst);
    free(grad);
    pg_acts_free(&a);
    pg_model_free(&m);
}

/* LoRA adapters on Q and V: the adapter gradients against finite differences. */
START_TEST(test_lora)
{
    pg_rng_seed(&g_rng, 91);
    pg_model_config c = pg_config_tiny();
    c.vocab_size = 24;
    c.num_layers = 3;
    c.model_dim = 16;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.seq_len = 6;
    c.tied_embed_init_std = 0.5f;
    pg_model m;
    ck_assert_int_eq(pg_model_create(&m, &c), 0);
    pg_model_init(&m, 8, PG_INIT_DENSE);
    int N = 6, ids[6], tgt[6];
    for (int i = 0; i < N; i++) {
        ids[i] = (int)(pg_rng_u64(&g_rng) % 24);
        tgt[i] = (int)(pg_rng_u64(&g_rng) % 24);
    }
    pg_lora lo;
    ck_assert_int_eq(pg_lora_create(&lo, &m, 2, N), 0);
    pg_lora_reset(&lo, &m, 3);
    for (size_t j = 0; j < lo.n; j++) /* B nonzero too, so every path is live */
        lo.p[j] += 0.3 * pg_rng_normal(&g_rng);
    m.lora = &lo;
    pg_acts a;
    ck_assert_int_eq(pg_acts_create(&a, &m, 1, N, 1), 0);
    double *grad = calloc(m.num_params, sizeof *grad), worst = 0;
    pg_model_forward(&m, &a, ids, tgt);
    pg_model_backward(&m, &a, ids, tgt, grad, 1.0 / N);
    for (size_t j = 0; j < lo.n; j++) {
        double keep = lo.p[j];
        lo.p[j] = keep + FD_H;
        double lp = model_loss(&m, &a, ids, tgt, N);
        lo.p[j] = keep - FD_H;
        double lm = model_loss(&m, &a, ids, tgt, N);
        lo.p[j] = keep;
        double num = (lp - lm) / (2 * FD_H), err = fabs(num - lo.g[j]) / fmax(1.0, fabs(num));
        worst = fmax(worst, err);
        ck_assert_msg(err <= FD_TOL, "lora[%zu]: analytic %.10g numeric %.10g", j, lo.g[j], num);
    }
    fprintf(stderr, "gradcheck lora adapters: %zu parameters, max rel err %.2e\n", lo.n, worst);
    m.lora = NULL;
    free(grad);
    pg_acts_free(&a);
    pg_lora_free(&lo);
    pg_model_free(&m);
}
END_TEST

START_TEST(test_model)
{
    pg_rng_seed(&g_rng, 77);
    check_model(3, PG_MLP_RELU2, 5);       /* one skip, one decoder block without */
    check_model(4, PG_MLP_LEAKY_RELU2, 6); /* two skips */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gradcheck");
    TCase *tc = tcase_create("gradcheck");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_ops);
    tcase_add_test(tc, test_model);
    tcase_add_test(tc, test_lora);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
