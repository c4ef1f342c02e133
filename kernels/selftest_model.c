/* pgolf selftest's model rows: the whole graph, five training steps and one legal-TTT
 * chunk on a backend against the CPU reference, from the same parameters and tokens.
 * Each side is a model on its own backend; only the host copies are compared. */
#include "kernels/selftest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "kernels/model.h"
#include "kernels/optim.h"
#include "kernels/rng.h"
#include "kernels/ttt.h"

#define TRAIN_STEPS 5

/* one model with its activations, gradient and optimizer on one backend */
typedef struct {
    const pg_backend *be;
    pg_model m;
    pg_acts a;
    pg_optim opt;
    pg_real *grad;
} side;

typedef struct {
    pg_selftest_report *r;
    const char *shape, *mode;
    int oom;
} rows;

static void side_close(side *s)
{
    if (s->a.buf)
        pg_acts_free(&s->a);
    if (s->grad)
        s->be->free(s->grad);
    pg_optim_free(&s->opt);
    pg_model_free(&s->m);
}

static int side_open(side *s, const pg_backend *be, const pg_model_config *cfg, int B, int T)
{
    memset(s, 0, sizeof *s);
    s->be = be;
    if (pg_model_create_on(&s->m, cfg, be) != 0 || pg_model_init(&s->m, 7, PG_INIT_DENSE) != 0 ||
        pg_acts_create(&s->a, &s->m, B, T, 1) != 0 || pg_optim_create(&s->opt, &s->m, 1) != 0)
        return -1;
    s->grad = be->alloc(s->m.num_params * sizeof(pg_real));
    return s->grad ? 0 : pg_fail("selftest: out of memory for a gradient");
}

/* Records max |dev - ref| over n reals of each side's memory. */
static void compare(rows *w, const char *op, const side *ref, const pg_real *rp, const side *dev,
                    const pg_real *dp, size_t n, double tol)
{
    pg_real *a = malloc((n ? n : 1) * sizeof *a), *b = malloc((n ? n : 1) * sizeof *b);
    if (a && b) {
        ref->be->to_host(a, rp, n * sizeof *a);
        dev->be->to_host(b, dp, n * sizeof *b);
        double max_abs, scale;
        pg_selftest_diff(a, b, n, &max_abs, &scale);
        if (pg_selftest_add(w->r, op, w->shape, w->mode, max_abs, scale, tol) != 0)
            w->oom = 1;
    } else {
        w->oom = 1;
    }
    free(a);
    free(b);
}

static void compare_value(rows *w, const char *op, double ref, double got, double tol)
{
    if (pg_selftest_add(w->r, op, w->shape, w->mode, fabs(got - ref), fabs(ref), tol) != 0)
        w->oom = 1;
}

/* Forward and backward of the mean loss over N positions; returns the loss. */
static double pass(side *s, const int *ids, const int *tgt, int N)
{
    s->be->zero(s->grad, s->m.num_params * sizeof(pg_real));
    double loss = pg_model_forward(&s->m, &s->a, ids, tgt) / N;
    pg_model_backward(&s->m, &s->a, ids, tgt, s->grad, 1.0 / N);
    return loss;
}

static void draw_tokens(pg_rng *rng, int *ids, int *tgt, int N, int vocab)
{
    for (int i = 0; i < N; i++) {
        ids[i] = (int)(pg_rng_u64(rng) % (uint64_t)vocab);
        tgt[i] = (int)(pg_rng_u64(rng) % (uint64_t)vocab);
    }
}

static void model_case(rows *w, const pg_backend *rb, const pg_backend *db,
                       const pg_model_config *cfg, int B, int T, int (*set_bf16)(int on))
{
    int N = B * T, V = cfg->vocab_size;
    side ref, dev;
    int *ids = malloc((size_t)N * sizeof *ids), *tgt = malloc((size_t)N * sizeof *tgt);
    uint16_t *stream = malloc(((size_t)N + 1) * sizeof *stream);
    int ok = ids && tgt && stream;
    ok = side_open(&ref, rb, cfg, B, T) == 0 && ok;
    ok = side_open(&dev, db, cfg, B, T) == 0 && ok;
    if (!ok) {
        w->oom = 1;
        goto out;
    }
    pg_rng rng;
    pg_rng_seed(&rng, 99);
    draw_tokens(&rng, ids, tgt, N, V);

    w->mode = "fp32";
    double lr = pass(&ref, ids, tgt, N), ld = pass(&dev, ids, tgt, N);
    compare_value(w, "model loss", lr, ld, PG_SELFTEST_TOL_FP32);
    compare(w, "model logits", &ref, ref.a.logits, &dev, dev.a.logits, (size_t)N * V,
            PG_SELFTEST_TOL_FP32);
    compare(w, "model grad", &ref, ref.grad, &dev, dev.grad, ref.m.num_params,
            PG_SELFTEST_TOL_ITER);
    if (set_bf16) {
        w->mode = "bf16";
        set_bf16(1);
        lr = pass(&ref, ids, tgt, N);
        ld = pass(&dev, ids, tgt, N);
        set_bf16(0);
        compare_value(w, "model loss", lr, ld, PG_SELFTEST_TOL_BF16);
        compare(w, "model grad", &ref, ref.grad, &dev, dev.grad, ref.m.num_params,
                PG_SELFTEST_TOL_BF16_GRAD);
        w->mode = "fp32";
    }

    /* the reference's optimizers at its default rates, from the same state */
    pg_optim_config oc = {.embed_lr = 0.05, .matrix_lr = 0.04, .scalar_lr = 0.04,
                          .beta1 = 0.9, .beta2 = 0.95, .adam_eps = 1e-8,
                          .ns = {5, PG_NS_CLASSIC, 0}, .grad_clip = 0};
    for (int step = 0; step < TRAIN_STEPS; step++) {
        draw_tokens(&rng, ids, tgt, N, V);
        lr = pass(&ref, ids, tgt, N);
        ld = pass(&dev, ids, tgt, N);
        pg_optim_step(&ref.opt, &ref.m, ref.grad, &oc, 1.0, 0.95);
        pg_optim_step(&dev.opt, &dev.m, dev.grad, &oc, 1.0, 0.95);
    }
    compare_value(w, "train 5 steps loss", lr, ld, PG_SELFTEST_TOL_ITER);
    compare(w, "train 5 steps params", &ref, ref.m.params, &dev, dev.m.params, ref.m.num_params,
            PG_SELFTEST_TOL_ITER);
    /* the April records' optimizers: MuonEq-R with Polar Express, decoupled decays, clipping
     * and the EMA, two steps on */
    pg_optim_config rec = {.embed_lr = 0.03, .matrix_lr = 0.026, .scalar_lr = 0.02,
                           .beta1 = 0.9, .beta2 = 0.95, .adam_eps = 1e-8,
                           .ns = {5, PG_NS_POLAR_EXPRESS, 1}, .grad_clip = 0.3,
                           .embed_wd = 0.085, .muon_wd = 0.095, .adam_wd = 0.02,
                           .ema_decay = 0.9965};
    pg_optim_ema_start(&ref.opt, &ref.m);
    pg_optim_ema_start(&dev.opt, &dev.m);
    for (int step = 0; step < 2; step++) {
        draw_tokens(&rng, ids, tgt, N, V);
        pass(&ref, ids, tgt, N);
        pass(&dev, ids, tgt, N);
        pg_optim_step(&ref.opt, &ref.m, ref.grad, &rec, 0.5, 0.97);
        pg_optim_step(&dev.opt, &dev.m, dev.grad, &rec, 0.5, 0.97);
    }
    compare(w, "records optimizer params", &ref, ref.m.params, &dev, dev.m.params,
            ref.m.num_params, PG_SELFTEST_TOL_ITER);
    compare(w, "records optimizer ema", &ref, ref.opt.ema, &dev, dev.opt.ema, ref.m.num_params,
            PG_SELFTEST_TOL_ITER);

    /* one chunk of legal TTT: SGD over B sequences of the stream, then the next loss */
    for (int i = 0; i <= N; i++)
        stream[i] = (uint16_t)(pg_rng_u64(&rng) % (uint64_t)V);
    pg_ttt_opts to;
    pg_ttt_opts_default(&to);
    to.batch_seqs = B;
    to.epochs = 1;
    side *both[2] = {&ref, &dev};
    for (int k = 0; k < 2 && ok; k++) {
        pg_ttt_state *st = pg_ttt_begin(&both[k]->m, &to);
        ok = st && pg_ttt_train_span(st, stream, (size_t)N + 1, 0, (size_t)N, T, to.lr) == 0;
        if (st)
            pg_ttt_end(st);
    }
    if (!ok) {
        w->oom = 1;
        goto out;
    }
    compare(w, "ttt chunk params", &ref, ref.m.params, &dev, dev.m.params, ref.m.num_params,
            PG_SELFTEST_TOL_ITER);
    draw_tokens(&rng, ids, tgt, N, V);
    lr = pass(&ref, ids, tgt, N);
    ld = pass(&dev, ids, tgt, N);
    compare_value(w, "ttt chunk next loss", lr, ld, PG_SELFTEST_TOL_ITER);
out:
    side_close(&ref);
    side_close(&dev);
    free(ids);
    free(tgt);
    free(stream);
}

int pg_selftest_model(const pg_backend *ref, const pg_backend *dev, int baseline,
                      int (*set_bf16)(int on), pg_selftest_report *r)
{
    rows w = {.r = r};
    pg_model_config tiny = pg_config_tiny();
    tiny.num_layers = 3;
    tiny.model_dim = 32;
    tiny.num_heads = 4;
    tiny.num_kv_heads = 2;
    tiny.mlp_mult = 2;
    tiny.vocab_size = 64;
    tiny.seq_len = 32;
    w.shape = "tiny";
    int was = set_bf16 ? set_bf16(0) : 0; /* fp32 first: the parity mode */
    model_case(&w, ref, dev, &tiny, 2, 32, set_bf16);
    if (baseline && !w.oom) {
        pg_model_config base = pg_config_baseline();
        base.seq_len = 256;
        w.shape = "baseline";
        model_case(&w, ref, dev, &base, 1, 256, set_bf16);
    }
    if (set_bf16)
        set_bf16(was);
    return w.oom ? pg_fail("selftest: out of memory for the model rows") : 0;
}
