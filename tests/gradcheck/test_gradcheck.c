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
    int f;          /* rope: the dims rotated (0: all of e) */
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

/* rope: x is [B=a][T=b][heads=d][hd=e], the leading f dims rotated (0: all) */
static int rot_of(const op_case *c)
{
    return c->f ? c->f : c->e;
}
static void rope_tabs(const op_case *c, double **cs, double **sn)
{
    *cs = malloc((size_t)c->b * rot_of(c) / 2 * sizeof **cs);
    *sn = malloc((size_t)c->b * rot_of(c) / 2 * sizeof **sn);
    pg_rope_tables(*cs, *sn, c->b, rot_of(c), 10000.0);
}
static void rope_f(const op_case *c, const double *x, double *y)
{
    double *cs, *sn;
    rope_tabs(c, &cs, &sn);
    memcpy(y, x, c->n_in * sizeof *y);
    pg_rope_fwd(y, cs, sn, c->a, c->b, c->d, c->e, rot_of(c));
    free(cs);
    free(sn);
}
static void rope_b(const op_case *c, const double *x, const double *dy, double *dx)
{
    (void)x;
    double *cs, *sn;
    rope_tabs(c, &cs, &sn);
    memcpy(dx, dy, c->n_in * sizeof *dx);
    pg_rope_bwd(dx, cs, sn, c->a, c->b, c->d, c->e, rot_of(c));
    free(cs);
    free(sn);
}

/* attention: T=a, H=b, KVH=d, hd=e; x = [q (T H hd) | k (T KVH hd) | v (T KVH hd)]; f = 1:
 * documents packed (kDocSpan: documents begin at 0, 3 and 7, and split every 64) */
static int doc_span[128];
static const int *span_of(const op_case *c)
{
    if (!c->f)
        return NULL;
    for (int t = 0; t < c->a; t++)
        doc_span[t] = t < 3 ? 0 : t < 7 ? 3 : t < 64 ? 7 : 64;
    return doc_span;
}
static void attn_f(const op_case *c, const double *x, double *y)
{
    size_t nq = (size_t)c->a * c->b * c->e, nk = (size_t)c->a * c->d * c->e;
    double *p = malloc(pg_attention_state_size(c->a, c->b, c->e) * sizeof *p);
    pg_attention_fwd(y, p, x, x + nq, x + nq + nk, span_of(c), c->a, c->b, c->d, c->e);
    free(p);
}
static void attn_b(const op_case *c, const double *x, const double *dy, double *dx)
{
    size_t nq = (size_t)c->a * c->b * c->e, nk = (size_t)c->a * c->d * c->e;
    double *p = malloc(pg_attention_state_size(c->a, c->b, c->e) * sizeof *p);
    double *y = malloc(nq * sizeof *y);
    pg_attention_fwd(y, p, x, x + nq, x + nq + nk, span_of(c), c->a, c->b, c->d, c->e);
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

/* XSA: n=a rows, H=b, KVH=d, hd=e; x = [y (n H hd) | v (n KVH hd)] */
static void xsa_f(const op_case *c, const double *x, double *y)
{
    pg_xsa_fwd(y, x, x + (size_t)c->a * c->b * c->e, (size_t)c->a, c->b, c->d, c->e);
}
static void xsa_b(const op_case *c, const double *x, const double *dy, double *dx)
{
    size_t ny = (size_t)c->a * c->b * c->e;
    pg_xsa_bwd(dx, dx + ny, dy, x, x + ny, (size_t)c->a, c->b, c->d, c->e);
}

/* col_scale: rows a, dim b; x = [s (b) | d (a b)] */
static void col_scale_f(const op_case *c, const double *x, double *y)
{
    pg_col_scale_fwd(y, x, x + c->b, (size_t)c->a, c->b);
}
static void col_scale_b(const op_case *c, const double *x, const double *dy, double *dx)
{
    pg_scaled_add_bwd(dx + c->b, dx, dy, x + c->b, x, (size_t)c->a, c->b);
}

/* gated skip: rows a, dim b; x = [x (a b) | skip (a b) | w (b) | z (b)] */
static void skip_gate_f(const op_case *c, const double *x, double *y)
{
    size_t nd = (size_t)c->a * c->b;
    pg_skip_gate_fwd(y, x, x + nd, x + 2 * nd, x + 2 * nd + c->b, (size_t)c->a, c->b);
}
static void skip_gate_b(const op_case *c, const double *x, const double *dy, double *dx)
{
    size_t nd = (size_t)c->a * c->b;
    pg_skip_gate_bwd(dx, dx + nd, dx + 2 * nd, dx + 2 * nd + c->b, dy, x, x + nd, x + 2 * nd,
                     x + 2 * nd + c->b, (size_t)c->a, c->b);
}

/* a parallel lane: n = a; x = [lane (n) | a (n) | m (n) | r, pa, pm] */
static void lane_f(const op_case *c, const double *x, double *y)
{
    size_t n = (size_t)c->a;
    pg_lane_mix_fwd(y, x, x + n, x + 2 * n, x + 3 * n, x + 3 * n + 1, x + 3 * n + 2, n);
}
static void lane_b(const op_case *c, const double *x, const double *dy, double *dx)
{
    size_t n = (size_t)c->a;
    pg_lane_mix_bwd(dx, dx + n, dx + 2 * n, dx + 3 * n, dx + 3 * n + 1, dx + 3 * n + 2, dy, x,
                    x + n, x + 2 * n, x + 3 * n, x + 3 * n + 1, x + 3 * n + 2, n);
}

/* output gate: n=a rows, H=b, hd=d, win=e, src_dim = e + 2, f: 0 sigmoid (scale 0.5), 1 the
 * 2 sigmoid AttnOutGate; x = [y (n H hd) | src (n src_dim) | W (H win)] */
static void gate_f(const op_case *c, const double *x, double *y)
{
    size_t ny = (size_t)c->a * c->b * c->d, ns = (size_t)c->a * (c->e + 2);
    pg_head_gate_fwd(y, x, x + ny, x + ny + ns, (size_t)c->a, c->b, c->d, c->e + 2, c->e,
                     c->f ? 1.0 : 0.5, c->f ? 2 : 1);
}
static void gate_b(const op_case *c, const double *x, const double *dy, double *dx)
{
    size_t ny = (size_t)c->a * c->b * c->d, ns = (size_t)c->a * (c->e + 2);
    pg_head_gate_bwd(dx, dx + ny, dx + ny + ns, dy, x, x + ny, x + ny + ns, (size_t)c->a, c->b,
                     c->d, c->e + 2, c->e, c->f ? 1.0 : 0.5, c->f ? 2 : 1);
}

/* SmearGate: B=a rows of T=b, dim d, win e; f: 1 masks BOS (id 1); x = [e | w | lam] */
static const int kSmearIds[] = {1, 5, 1, 7, 2, 1, 1, 3, 4, 1, 6, 2};
static void smear_f(const op_case *c, const double *x, double *y)
{
    size_t ne = (size_t)c->a * c->b * c->d;
    pg_smear_fwd(y, x, kSmearIds, x + ne, x + ne + c->e, c->a, c->b, c->d, c->e, c->f ? 1 : -1);
}
static void smear_b(const op_case *c, const double *x, const double *dy, double *dx)
{
    size_t ne = (size_t)c->a * c->b * c->d;
    pg_smear_bwd(dx, dx + ne, dx + ne + c->e, dy, x, kSmearIds, x + ne, x + ne + c->e, c->a, c->b,
                 c->d, c->e, c->f ? 1 : -1);
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
        /* the records' model family (drawn after the baseline's, whose draws stay as
         * they were) */
        {"rope_partial", 2 * 3 * 2 * 8, 2 * 3 * 2 * 8, rope_f, rope_b, 2, 3, 2, 8, 4},
        {"xsa", 3 * 4 * 5 + 3 * 2 * 5, 3 * 4 * 5, xsa_f, xsa_b, 3, 4, 2, 5},
        {"col_scale", 6 + 4 * 6, 4 * 6, col_scale_f, col_scale_b, 4, 6, 0, 0},
        {"skip_gate", 2 * 4 * 6 + 2 * 6, 4 * 6, skip_gate_f, skip_gate_b, 4, 6, 0, 0},
        {"lane_mix", 3 * 10 + 3, 10, lane_f, lane_b, 10, 0, 0, 0},
        {"head_gate", 3 * 4 * 5 + 3 * 8 + 4 * 6, 3 * 4 * 5, gate_f, gate_b, 3, 4, 5, 6, 0},
        {"head_gate_2sig", 3 * 4 * 5 + 3 * 8 + 4 * 6, 3 * 4 * 5, gate_f, gate_b, 3, 4, 5, 6, 1},
        {"smear", 2 * 6 * 5 + 3 + 1, 2 * 6 * 5, smear_f, smear_b, 2, 6, 5, 3, 1},
        {"smear_nomask", 2 * 6 * 5 + 3 + 1, 2 * 6 * 5, smear_f, smear_b, 2, 6, 5, 3, 0},
        {"attention_docs", 10 * 4 * 3 + 2 * 10 * 2 * 3, 10 * 4 * 3, attn_f, attn_b, 10, 4, 2, 3, 1},
        {"attention_docs_70", 70 * 2 * 3 + 2 * 70 * 3, 70 * 2 * 3, attn_f, attn_b, 70, 2, 1, 3, 1},
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

static pg_model_config tiny_config(int layers, int act)
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
    return c;
}

/* The records' core on the tiny shape: 5 layers, layers 1..2 looped once (7 steps),
 * partial RoPE, LN scale, XSA on the last 4, gated skips, lanes from layer 3. */
static pg_model_config record_config(int final_lane)
{
    pg_model_config c = tiny_config(5, PG_MLP_LEAKY_RELU2);
    c.model_dim = 16;
    c.num_heads = 2; /* head_dim 8: the leading 4 rotate */
    c.num_kv_heads = 1;
    c.rope_dims = 4;
    c.ln_scale = 1;
    c.xsa_last_n = 4;
    c.num_loops = 1;
    c.loop_start = 1;
    c.loop_end = 2;
    c.parallel_start = 3;
    c.parallel_final = final_lane;
    c.skip_gates = 1;
    return c;
}

static void check_model_config(const pg_model_config *cfg, const char *what, uint64_t seed)
{
    pg_model_config c = *cfg;
    pg_model m;
    ck_assert_int_eq(pg_model_create(&m, &c), 0);
    pg_model_init(&m, seed, PG_INIT_DENSE);
    int B = 2, T = 6, N = B * T;
    int ids[12], tgt[12];
    for (int i = 0; i < N; i++) {
        ids[i] = (int)(pg_rng_u64(&g_rng) % (uint64_t)c.vocab_size);
        tgt[i] = (int)(pg_rng_u64(&g_rng) % (uint64_t)c.vocab_size);
    }
    if (c.smear_gate) /* BOS inside both sequences: the mask's path is live */
        ids[3] = ids[9] = c.bos_id;
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
    fprintf(stderr, "gradcheck model %s: %zu parameters, max rel err %.2e\n", what, m.num_params,
            worst);
    free(grad);
    pg_acts_free(&a);
    pg_model_free(&m);
}

static void check_model(int layers, int act, uint64_t seed)
{
    pg_model_config c = tiny_config(layers, act);
    char what[64];
    snprintf(what, sizeof what, "L=%d %s", layers, act == PG_MLP_RELU2 ? "relu2" : "leaky_relu2");
    check_model_config(&c, what, seed);
}

/* LoRA adapters on Q and V: the adapter gradients against finite differences, on the
 * baseline graph and on the records' looped one (a set per virtual layer). */
static void check_lora(const pg_model_config *cfg, const pg_lora_spec *spec, const char *what)
{
    pg_model_config c = *cfg;
    c.logit_softcap = 30.0f;
    pg_model m;
    ck_assert_int_eq(pg_model_create(&m, &c), 0);
    pg_model_init(&m, 8, PG_INIT_DENSE);
    int N = 6, ids[6], tgt[6];
    for (int i = 0; i < N; i++) {
        ids[i] = (int)(pg_rng_u64(&g_rng) % 24);
        tgt[i] = (int)(pg_rng_u64(&g_rng) % 24);
    }
    pg_lora lo;
    ck_assert_int_eq(pg_lora_create(&lo, &m, spec, N), 0);
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
    fprintf(stderr, "gradcheck lora adapters %s: %zu parameters, max rel err %.2e\n", what, lo.n,
            worst);
    m.lora = NULL;
    free(grad);
    pg_acts_free(&a);
    pg_lora_free(&lo);
    pg_model_free(&m);
}

START_TEST(test_lora)
{
    pg_rng_seed(&g_rng, 91);
    pg_model_config base = tiny_config(3, PG_MLP_RELU2), rec = record_config(PG_LANE_MEAN);
    pg_lora_spec march = {.rank = 2, .scale = 1.0};
    pg_lora_spec all = {.rank = 2, .k = 1, .o = 1, .mlp = 1, .head = 1, .scale = 1.5};
    check_lora(&base, &march, "baseline L=3, q and v");
    check_lora(&rec, &march, "records' core (7 steps), q and v");
    check_lora(&rec, &all, "records' core (7 steps), q k v o mlp head, scale 1.5");
}
END_TEST

START_TEST(test_model)
{
    pg_rng_seed(&g_rng, 77);
    check_model(3, PG_MLP_RELU2, 5);       /* one skip, one decoder block without */
    check_model(4, PG_MLP_LEAKY_RELU2, 6); /* two skips */
}
END_TEST

/* The records' model family: the core with each final lane, and each option alone. */
START_TEST(test_record_model)
{
    pg_rng_seed(&g_rng, 78);
    static const char *lanes[] = {"mean", "attn", "mlp"};
    for (int f = PG_LANE_MEAN; f <= PG_LANE_MLP; f++) {
        pg_model_config c = record_config(f);
        char what[64];
        snprintf(what, sizeof what, "records' core, lanes end as %s", lanes[f]);
        check_model_config(&c, what, 10 + (uint64_t)f);
    }
    pg_model_config one = tiny_config(4, PG_MLP_LEAKY_RELU2);
    one.xsa_last_n = 2;
    check_model_config(&one, "XSA alone", 20);
    one = tiny_config(4, PG_MLP_LEAKY_RELU2);
    one.skip_gates = 1;
    check_model_config(&one, "gated skips alone", 21);
    one = tiny_config(4, PG_MLP_LEAKY_RELU2);
    one.parallel_start = 2;
    check_model_config(&one, "lanes alone", 22);
    /* the gates and SmearGate (the ids hold the BOS id 1 often: vocab 24) */
    pg_model_config g = record_config(PG_LANE_MEAN);
    g.gate_window = 5;
    g.sparse_gate = 1;
    g.sparse_gate_scale = 0.5f;
    g.smear_gate = 1;
    check_model_config(&g, "records' core + sparse gate + SmearGate", 23);
    g.sparse_gate = 0;
    g.gated_attn = 1;
    g.smear_bos_mask = 0;
    check_model_config(&g, "records' core + dense gate + unmasked SmearGate", 24);
    g.gated_attn = 0;
    g.attn_out_gate = 1;
    check_model_config(&g, "records' core + AttnOutGate", 25);
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
    tcase_add_test(tc, test_record_model);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
