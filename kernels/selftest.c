/* pgolf selftest's engine: each op of a backend and of the CPU reference on identical
 * random inputs, outputs compared. Inputs that an op accumulates into start random too,
 * so the += contract is checked as well. */
#include "kernels/selftest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "kernels/config.h"
#include "kernels/rng.h"

#define TOL_FP32 PG_SELFTEST_TOL_FP32
#define TOL_ITER PG_SELFTEST_TOL_ITER
#define TOL_BF16 PG_SELFTEST_TOL_BF16

typedef struct {
    const pg_backend *ref, *dev;
    pg_rng rng;
    pg_selftest_report *r;
    const char *shape, *mode;
    int oom;
} ctx;

/* one tensor on both backends: h for the reference (host), d for the backend */
typedef struct {
    pg_real *h, *d;
    size_t n;
} pair;

static void *dev_alloc(ctx *c, size_t bytes)
{
    void *p = c->dev->alloc(bytes);
    if (!p)
        c->oom = 1;
    return p;
}

static pair pr_new(ctx *c, size_t n, double scale)
{
    pair p = {calloc(n ? n : 1, sizeof(pg_real)), dev_alloc(c, (n ? n : 1) * sizeof(pg_real)), n};
    if (!p.h)
        c->oom = 1;
    if (p.h && p.d) {
        for (size_t i = 0; i < n; i++)
            p.h[i] = (pg_real)(scale * pg_rng_normal(&c->rng));
        c->dev->to_device(p.d, p.h, n * sizeof(pg_real));
    }
    return p;
}

static void pr_free(ctx *c, pair *p)
{
    free(p->h);
    if (p->d)
        c->dev->free(p->d);
    p->h = p->d = NULL;
}

/* token ids in [0, vocab) with repeats, on both sides */
typedef struct {
    int *h, *d;
} ids;

static ids ids_new(ctx *c, int n, int vocab)
{
    ids v = {malloc((size_t)(n ? n : 1) * sizeof(int)), dev_alloc(c, (size_t)(n ? n : 1) * sizeof(int))};
    if (!v.h)
        c->oom = 1;
    if (v.h && v.d) {
        for (int i = 0; i < n; i++)
            v.h[i] = (int)(pg_rng_u64(&c->rng) % (uint64_t)(i % 3 == 0 ? 4 : vocab));
        c->dev->to_device(v.d, v.h, (size_t)n * sizeof(int));
    }
    return v;
}

static void ids_free(ctx *c, ids *v)
{
    free(v->h);
    if (v->d)
        c->dev->free(v->d);
}

int pg_selftest_add(pg_selftest_report *r, const char *op, const char *shape, const char *mode,
                    double max_abs, double scale, double tol)
{
    if (r->n == r->cap) {
        int nc = r->cap ? 2 * r->cap : 64;
        pg_selftest_row *rows = realloc(r->rows, (size_t)nc * sizeof *rows);
        if (!rows)
            return -1;
        r->rows = rows;
        r->cap = nc;
    }
    pg_selftest_row *w = &r->rows[r->n++];
    memset(w, 0, sizeof *w);
    snprintf(w->op, sizeof w->op, "%s", op);
    snprintf(w->shape, sizeof w->shape, "%s", shape);
    snprintf(w->mode, sizeof w->mode, "%s", mode);
    w->max_abs = max_abs;
    w->max_rel = scale > 0 ? max_abs / scale : max_abs;
    w->tol = tol;
    w->pass = isfinite(w->max_rel) && w->max_rel <= tol;
    r->failures += !w->pass;
    return 0;
}

void pg_selftest_diff(const pg_real *ref, const pg_real *got, size_t n, double *max_abs,
                      double *scale)
{
    *max_abs = 0;
    *scale = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]);
        if (!(d <= *max_abs)) /* NaN propagates */
            *max_abs = d;
        *scale = fmax(*scale, fabs((double)ref[i]));
    }
}

static void add_row(ctx *c, const char *op, double max_abs, double scale, double tol)
{
    if (pg_selftest_add(c->r, op, c->shape, c->mode, max_abs, scale, tol) != 0)
        c->oom = 1;
}

/* Compares the two sides of p (the backend's copied back) and records a row. */
static void check(ctx *c, const char *op, const pair *p, double tol)
{
    if (c->oom || !p->h || !p->d)
        return;
    pg_real *got = malloc((p->n ? p->n : 1) * sizeof *got);
    if (!got) {
        c->oom = 1;
        return;
    }
    c->dev->to_host(got, p->d, p->n * sizeof *got);
    double max_abs, scale;
    pg_selftest_diff(p->h, got, p->n, &max_abs, &scale);
    free(got);
    add_row(c, op, max_abs, scale, tol);
}

static void check_value(ctx *c, const char *op, double ref, double got, double tol)
{
    add_row(c, op, fabs(got - ref), fabs(ref), tol);
}

/* the shapes of one case */
typedef struct {
    int B, T, dim, H, KVH, hd, F, vocab;
} shape;

static pair scratch_for(ctx *c, size_t n)
{
    return pr_new(c, n, 0);
}

static void test_linear(ctx *c, const shape *s, double tol)
{
    int n = s->B * s->T, in = s->dim, out = s->F;
    pair x = pr_new(c, (size_t)n * in, 1), w = pr_new(c, (size_t)out * in, 0.05);
    pair y = pr_new(c, (size_t)n * out, 0), dy = pr_new(c, (size_t)n * out, 1);
    pair dx = pr_new(c, (size_t)n * in, 1), dw = pr_new(c, (size_t)out * in, 1);
    if (!c->oom) {
        c->ref->linear_fwd(y.h, x.h, w.h, n, in, out);
        c->dev->linear_fwd(y.d, x.d, w.d, n, in, out);
        check(c, "linear_fwd", &y, tol);
        c->ref->linear_bwd(dx.h, dw.h, dy.h, x.h, w.h, n, in, out);
        c->dev->linear_bwd(dx.d, dw.d, dy.d, x.d, w.d, n, in, out);
        check(c, "linear_bwd din", &dx, tol);
        check(c, "linear_bwd dw", &dw, tol);
    }
    pair *all[] = {&x, &w, &y, &dy, &dx, &dw};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        pr_free(c, all[i]);
}

static void test_norm_rope(ctx *c, const shape *s)
{
    int n = s->B * s->T, half = s->hd / 2;
    pair x = pr_new(c, (size_t)n * s->dim, 2), y = pr_new(c, (size_t)n * s->dim, 0);
    pair rstd = pr_new(c, (size_t)n, 0), dy = pr_new(c, (size_t)n * s->dim, 1);
    pair dx = pr_new(c, (size_t)n * s->dim, 1);
    pair cs = pr_new(c, (size_t)s->T * half, 0), sn = pr_new(c, (size_t)s->T * half, 0);
    pair q = pr_new(c, (size_t)n * s->H * s->hd, 1);
    if (!c->oom) {
        c->ref->rmsnorm_fwd(y.h, rstd.h, x.h, n, s->dim, 1e-6f);
        c->dev->rmsnorm_fwd(y.d, rstd.d, x.d, n, s->dim, 1e-6f);
        check(c, "rmsnorm_fwd", &y, TOL_FP32);
        check(c, "rmsnorm_fwd rstd", &rstd, TOL_FP32);
        c->ref->rmsnorm_bwd(dx.h, dy.h, x.h, rstd.h, n, s->dim);
        c->dev->rmsnorm_bwd(dx.d, dy.d, x.d, rstd.d, n, s->dim);
        check(c, "rmsnorm_bwd", &dx, TOL_FP32);
        c->ref->rope_tables(cs.h, sn.h, s->T, s->hd, 10000.0f);
        c->dev->rope_tables(cs.d, sn.d, s->T, s->hd, 10000.0f);
        check(c, "rope_tables cos", &cs, TOL_FP32);
        check(c, "rope_tables sin", &sn, TOL_FP32);
        /* both sides rotate with the reference's tables, so the rotation alone is tested */
        c->dev->to_device(cs.d, cs.h, cs.n * sizeof(pg_real));
        c->dev->to_device(sn.d, sn.h, sn.n * sizeof(pg_real));
        c->ref->rope_fwd(q.h, cs.h, sn.h, s->B, s->T, s->H, s->hd, s->hd);
        c->dev->rope_fwd(q.d, cs.d, sn.d, s->B, s->T, s->H, s->hd, s->hd);
        check(c, "rope_fwd", &q, TOL_FP32);
        c->ref->rope_bwd(q.h, cs.h, sn.h, s->B, s->T, s->H, s->hd, s->hd);
        c->dev->rope_bwd(q.d, cs.d, sn.d, s->B, s->T, s->H, s->hd, s->hd);
        check(c, "rope_bwd", &q, TOL_FP32);
        /* partial RoPE (the records' ROPE_DIMS): the leading half of each head rotates */
        int rot = s->hd / 4 * 2;
        pair pc = {cs.h, cs.d, (size_t)s->T * rot / 2}, ps = {sn.h, sn.d, pc.n};
        c->ref->rope_tables(cs.h, sn.h, s->T, rot, 10000.0f);
        c->dev->rope_tables(cs.d, sn.d, s->T, rot, 10000.0f);
        check(c, "rope_tables partial cos", &pc, TOL_FP32);
        check(c, "rope_tables partial sin", &ps, TOL_FP32);
        c->dev->to_device(cs.d, cs.h, pc.n * sizeof(pg_real));
        c->dev->to_device(sn.d, sn.h, ps.n * sizeof(pg_real));
        c->ref->rope_fwd(q.h, cs.h, sn.h, s->B, s->T, s->H, s->hd, rot);
        c->dev->rope_fwd(q.d, cs.d, sn.d, s->B, s->T, s->H, s->hd, rot);
        check(c, "rope_fwd partial", &q, TOL_FP32);
        c->ref->rope_bwd(q.h, cs.h, sn.h, s->B, s->T, s->H, s->hd, rot);
        c->dev->rope_bwd(q.d, cs.d, sn.d, s->B, s->T, s->H, s->hd, rot);
        check(c, "rope_bwd partial", &q, TOL_FP32);
    }
    pair *all[] = {&x, &y, &rstd, &dy, &dx, &cs, &sn, &q};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        pr_free(c, all[i]);
}

/* docs: documents packed in each sequence (the span mask), beginning at 0, 5, 23, 40, 41
 * and 66, rows "attention_* docs" */
static void test_attention(ctx *c, const shape *s, int docs)
{
    int n = s->B * s->T;
    static const int kStarts[] = {0, 5, 23, 40, 41, 66};
    ids span = {NULL, NULL};
    if (docs) {
        span = (ids){malloc((size_t)n * sizeof(int)), dev_alloc(c, (size_t)n * sizeof(int))};
        if (!span.h)
            c->oom = 1;
        for (int r = 0; r < n && span.h; r++) {
            int t = r % s->T, lo = 0;
            for (size_t j = 0; j < sizeof kStarts / sizeof *kStarts; j++)
                lo = kStarts[j] <= t ? kStarts[j] : lo;
            span.h[r] = lo;
        }
        if (span.h && span.d)
            c->dev->to_device(span.d, span.h, (size_t)n * sizeof(int));
    }
    const char *tag = docs ? " docs" : "";
    char op[40];
    size_t qn = (size_t)n * s->H * s->hd, kn = (size_t)n * s->KVH * s->hd;
    pair q = pr_new(c, qn, 1), k = pr_new(c, kn, 1), v = pr_new(c, kn, 1);
    /* each backend keeps its own state: compared only when the forms agree (same size) */
    size_t ref_state = c->ref->attention_state_size(s->B, s->T, s->H, s->hd);
    size_t dev_state = c->dev->attention_state_size(s->B, s->T, s->H, s->hd);
    pair out = pr_new(c, qn, 0), st_ref = pr_new(c, ref_state, 0);
    pg_real *st_dev = dev_alloc(c, (dev_state ? dev_state : 1) * sizeof(pg_real));
    pair dout = pr_new(c, qn, 1), dq = pr_new(c, qn, 1), dk = pr_new(c, kn, 1), dv = pr_new(c, kn, 1);
    size_t ref_scratch = c->ref->attention_bwd_scratch(s->T, s->KVH, s->hd) + 1;
    pair rs = {calloc(ref_scratch, sizeof(pg_real)), NULL, 0};
    pair ds = scratch_for(c, c->dev->attention_bwd_scratch(s->T, s->KVH, s->hd) + 1);
    if (!c->oom && rs.h) {
        c->ref->attention_fwd(out.h, st_ref.h, q.h, k.h, v.h, span.h, s->B, s->T, s->H, s->KVH,
                              s->hd);
        c->dev->attention_fwd(out.d, st_dev, q.d, k.d, v.d, span.d, s->B, s->T, s->H, s->KVH,
                              s->hd);
        snprintf(op, sizeof op, "attention_fwd%s", tag);
        check(c, op, &out, TOL_FP32);
        if (ref_state == dev_state) {
            pair st = {st_ref.h, st_dev, ref_state};
            snprintf(op, sizeof op, "attention_fwd state%s", tag);
            check(c, op, &st, TOL_FP32);
        }
        c->ref->attention_bwd(dq.h, dk.h, dv.h, dout.h, out.h, st_ref.h, q.h, k.h, v.h, span.h,
                              s->B, s->T, s->H, s->KVH, s->hd, rs.h);
        c->dev->attention_bwd(dq.d, dk.d, dv.d, dout.d, out.d, st_dev, q.d, k.d, v.d, span.d,
                              s->B, s->T, s->H, s->KVH, s->hd, ds.d);
        snprintf(op, sizeof op, "attention_bwd dq%s", tag);
        check(c, op, &dq, TOL_FP32);
        snprintf(op, sizeof op, "attention_bwd dk%s", tag);
        check(c, op, &dk, TOL_FP32);
        snprintf(op, sizeof op, "attention_bwd dv%s", tag);
        check(c, op, &dv, TOL_FP32);
    }
    free(rs.h);
    if (docs)
        ids_free(c, &span);
    if (st_dev)
        c->dev->free(st_dev);
    pair *all[] = {&q, &k, &v, &out, &st_ref, &dout, &dq, &dk, &dv, &ds};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        pr_free(c, all[i]);
}

/* The records' attention variants (XSA, the output gates) and SmearGate. */
static void test_variants(ctx *c, const shape *s)
{
    int n = s->B * s->T, win = 12 < s->dim ? 12 : s->dim;
    size_t qn = (size_t)n * s->H * s->hd, kn = (size_t)n * s->KVH * s->hd;
    size_t nd = (size_t)n * s->dim;
    pair y = pr_new(c, qn, 1), v = pr_new(c, kn, 1), out = pr_new(c, qn, 0);
    pair dout = pr_new(c, qn, 1), dy = pr_new(c, qn, 1), dv = pr_new(c, kn, 1);
    pair src = pr_new(c, nd, 1), dsrc = pr_new(c, nd, 1);
    pair w = pr_new(c, (size_t)s->H * s->dim, 0.3), dw = pr_new(c, (size_t)s->H * s->dim, 1);
    pair e = pr_new(c, nd, 1), sm = pr_new(c, nd, 0), dsm = pr_new(c, nd, 1);
    pair de = pr_new(c, nd, 1), sw = pr_new(c, (size_t)win + 1, 0.5), dsw = pr_new(c, (size_t)win + 1, 1);
    ids id = ids_new(c, n, s->vocab); /* ids below 4 often: BOS (1) among them */
    if (!c->oom) {
        c->ref->head_gate_fwd(out.h, y.h, src.h, w.h, (size_t)n, s->H, s->hd, s->dim, s->dim, 1.0f, 1);
        c->dev->head_gate_fwd(out.d, y.d, src.d, w.d, (size_t)n, s->H, s->hd, s->dim, s->dim, 1.0f, 1);
        check(c, "head_gate_fwd dense", &out, TOL_FP32);
        c->ref->head_gate_fwd(out.h, y.h, src.h, w.h, (size_t)n, s->H, s->hd, s->dim, win, 0.5f, 2);
        c->dev->head_gate_fwd(out.d, y.d, src.d, w.d, (size_t)n, s->H, s->hd, s->dim, win, 0.5f, 2);
        check(c, "head_gate_fwd window", &out, TOL_FP32);
        c->ref->head_gate_bwd(dy.h, dsrc.h, dw.h, dout.h, y.h, src.h, w.h, (size_t)n, s->H, s->hd,
                              s->dim, win, 0.5f, 2);
        c->dev->head_gate_bwd(dy.d, dsrc.d, dw.d, dout.d, y.d, src.d, w.d, (size_t)n, s->H, s->hd,
                              s->dim, win, 0.5f, 2);
        check(c, "head_gate_bwd dy", &dy, TOL_FP32);
        check(c, "head_gate_bwd dsrc", &dsrc, TOL_FP32);
        check(c, "head_gate_bwd dw", &dw, TOL_FP32);
        for (int bos = -1; bos <= 1; bos += 2) {
            const char *tag = bos < 0 ? "" : " bos";
            char op[40];
            c->ref->smear_fwd(sm.h, e.h, id.h, sw.h, sw.h + win, s->B, s->T, s->dim, win, bos);
            c->dev->smear_fwd(sm.d, e.d, id.d, sw.d, sw.d + win, s->B, s->T, s->dim, win, bos);
            snprintf(op, sizeof op, "smear_fwd%s", tag);
            check(c, op, &sm, TOL_FP32);
            c->ref->smear_bwd(de.h, dsw.h, dsw.h + win, dsm.h, e.h, id.h, sw.h, sw.h + win, s->B,
                              s->T, s->dim, win, bos);
            c->dev->smear_bwd(de.d, dsw.d, dsw.d + win, dsm.d, e.d, id.d, sw.d, sw.d + win, s->B,
                              s->T, s->dim, win, bos);
            snprintf(op, sizeof op, "smear_bwd de%s", tag);
            check(c, op, &de, TOL_FP32);
            snprintf(op, sizeof op, "smear_bwd dw dlam%s", tag);
            check(c, op, &dsw, TOL_FP32);
        }
        c->ref->xsa_fwd(out.h, y.h, v.h, (size_t)n, s->H, s->KVH, s->hd);
        c->dev->xsa_fwd(out.d, y.d, v.d, (size_t)n, s->H, s->KVH, s->hd);
        check(c, "xsa_fwd", &out, TOL_FP32);
        c->dev->to_device(dy.d, dy.h, dy.n * sizeof(pg_real)); /* each check from equal inputs */
        c->ref->xsa_bwd(dy.h, dv.h, dout.h, y.h, v.h, (size_t)n, s->H, s->KVH, s->hd);
        c->dev->xsa_bwd(dy.d, dv.d, dout.d, y.d, v.d, (size_t)n, s->H, s->KVH, s->hd);
        check(c, "xsa_bwd dy", &dy, TOL_FP32);
        check(c, "xsa_bwd dv", &dv, TOL_FP32);
    }
    ids_free(c, &id);
    pair *all[] = {&y, &v, &out, &dout, &dy, &dv, &src, &dsrc, &w, &dw, &e, &sm, &dsm, &de, &sw, &dsw};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        pr_free(c, all[i]);
}

/* The records' residual topologies: gated skips and the parallel lanes. */
static void test_topology(ctx *c, const shape *s)
{
    int n = s->B * s->T, D = s->dim;
    size_t nd = (size_t)n * D;
    pair x = pr_new(c, nd, 1), skip = pr_new(c, nd, 1), m = pr_new(c, nd, 1), y = pr_new(c, nd, 0);
    pair w = pr_new(c, (size_t)D, 1), z = pr_new(c, (size_t)D, 2), dy = pr_new(c, nd, 1);
    pair dx = pr_new(c, nd, 1), dskip = pr_new(c, nd, 1), dm = pr_new(c, nd, 1);
    pair dw = pr_new(c, (size_t)D, 1), dz = pr_new(c, (size_t)D, 1);
    pair sc = pr_new(c, 6, 1); /* r, pa, pm, then their gradients */
    if (!c->oom) {
        c->ref->col_scale_fwd(y.h, w.h, x.h, (size_t)n, D);
        c->dev->col_scale_fwd(y.d, w.d, x.d, (size_t)n, D);
        check(c, "col_scale_fwd", &y, TOL_FP32);
        c->ref->round_bf16(y.h, nd);
        c->dev->round_bf16(y.d, nd);
        check(c, "round_bf16", &y, 0);
        c->ref->skip_gate_fwd(y.h, x.h, skip.h, w.h, z.h, (size_t)n, D);
        c->dev->skip_gate_fwd(y.d, x.d, skip.d, w.d, z.d, (size_t)n, D);
        check(c, "skip_gate_fwd", &y, TOL_FP32);
        c->ref->skip_gate_bwd(dx.h, dskip.h, dw.h, dz.h, dy.h, x.h, skip.h, w.h, z.h, (size_t)n, D);
        c->dev->skip_gate_bwd(dx.d, dskip.d, dw.d, dz.d, dy.d, x.d, skip.d, w.d, z.d, (size_t)n, D);
        check(c, "skip_gate_bwd dx", &dx, TOL_FP32);
        check(c, "skip_gate_bwd dskip", &dskip, TOL_FP32);
        check(c, "skip_gate_bwd dw", &dw, TOL_FP32);
        check(c, "skip_gate_bwd dz", &dz, TOL_FP32);
        c->ref->lane_mix_fwd(y.h, x.h, skip.h, m.h, sc.h, sc.h + 1, sc.h + 2, nd);
        c->dev->lane_mix_fwd(y.d, x.d, skip.d, m.d, sc.d, sc.d + 1, sc.d + 2, nd);
        check(c, "lane_mix_fwd", &y, TOL_FP32);
        c->ref->lane_mix_bwd(dx.h, dskip.h, dm.h, sc.h + 3, sc.h + 4, sc.h + 5, dy.h, x.h, skip.h,
                             m.h, sc.h, sc.h + 1, sc.h + 2, nd);
        c->dev->lane_mix_bwd(dx.d, dskip.d, dm.d, sc.d + 3, sc.d + 4, sc.d + 5, dy.d, x.d, skip.d,
                             m.d, sc.d, sc.d + 1, sc.d + 2, nd);
        check(c, "lane_mix_bwd dlane", &dx, TOL_FP32);
        check(c, "lane_mix_bwd da", &dskip, TOL_FP32);
        check(c, "lane_mix_bwd dm", &dm, TOL_FP32);
        check(c, "lane_mix_bwd dscalars", &sc, TOL_FP32);
    }
    pair *all[] = {&x, &skip, &m, &y, &w, &z, &dy, &dx, &dskip, &dm, &dw, &dz, &sc};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        pr_free(c, all[i]);
}

static void test_head(ctx *c, const shape *s)
{
    int n = s->B * s->T;
    size_t nv = (size_t)n * s->vocab, nf = (size_t)n * s->F;
    pair x = pr_new(c, nf, 1), y = pr_new(c, nf, 0), dy = pr_new(c, nf, 1), dx = pr_new(c, nf, 1);
    pair z = pr_new(c, nv, 20), dz = pr_new(c, nv, 0);
    ids t = ids_new(c, n, s->vocab);
    double *loss_h = calloc((size_t)n + 1, sizeof(double));
    double *loss_d = dev_alloc(c, ((size_t)n + 1) * sizeof(double));
    if (!loss_h)
        c->oom = 1;
    for (int act = PG_MLP_RELU2; act <= PG_MLP_LEAKY_RELU2 && !c->oom; act++) {
        const char *name = act == PG_MLP_RELU2 ? "relu2" : "leaky_relu2";
        char op[40];
        c->ref->mlp_act_fwd(y.h, x.h, nf, act);
        c->dev->mlp_act_fwd(y.d, x.d, nf, act);
        snprintf(op, sizeof op, "mlp_act_fwd %s", name);
        check(c, op, &y, TOL_FP32);
        c->ref->mlp_act_bwd(dx.h, dy.h, x.h, nf, act);
        c->dev->mlp_act_bwd(dx.d, dy.d, x.d, nf, act);
        snprintf(op, sizeof op, "mlp_act_bwd %s", name);
        check(c, op, &dx, TOL_FP32);
    }
    if (!c->oom) {
        c->ref->softcap_fwd(z.h, nv, 30.0f);
        c->dev->softcap_fwd(z.d, nv, 30.0f);
        check(c, "softcap_fwd", &z, TOL_FP32);
        double tr = c->ref->xent_fwd(loss_h, z.h, t.h, n, s->vocab);
        double td = c->dev->xent_fwd(loss_d, z.d, t.d, n, s->vocab);
        check_value(c, "xent_fwd total", tr, td, TOL_FP32);
        c->ref->softcap_xent_bwd(dz.h, z.h, t.h, n, s->vocab, 30.0f, 1.0 / n);
        c->dev->softcap_xent_bwd(dz.d, z.d, t.d, n, s->vocab, 30.0f, 1.0 / n);
        check(c, "softcap_xent_bwd", &dz, TOL_FP32);
    }
    free(loss_h);
    if (loss_d)
        c->dev->free(loss_d);
    ids_free(c, &t);
    pair *all[] = {&x, &y, &dy, &dx, &z, &dz};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        pr_free(c, all[i]);
}

static void test_elementwise(ctx *c, const shape *s)
{
    int n = s->B * s->T, D = s->dim;
    size_t nd = (size_t)n * D, nq = (size_t)n * s->H * s->hd;
    pair table = pr_new(c, (size_t)s->vocab * D, 1), dtable = pr_new(c, (size_t)s->vocab * D, 1);
    pair x = pr_new(c, nd, 1), x0 = pr_new(c, nd, 1), y = pr_new(c, nd, 0), dy = pr_new(c, nd, 1);
    pair dx = pr_new(c, nd, 1), dx0 = pr_new(c, nd, 1), mix = pr_new(c, 2 * (size_t)D, 1);
    pair dmix = pr_new(c, 2 * (size_t)D, 1), sc = pr_new(c, (size_t)D, 1), dsc = pr_new(c, (size_t)D, 1);
    pair qn = pr_new(c, nq, 1), q = pr_new(c, nq, 0), gain = pr_new(c, (size_t)s->H, 1);
    pair dgain = pr_new(c, (size_t)s->H, 1), dq = pr_new(c, nq, 1);
    ids id = ids_new(c, n, s->vocab);
    if (!c->oom) {
        c->ref->embedding_fwd(y.h, table.h, id.h, n, D);
        c->dev->embedding_fwd(y.d, table.d, id.d, n, D);
        check(c, "embedding_fwd", &y, TOL_FP32);
        c->ref->embedding_bwd(dtable.h, dy.h, id.h, n, D);
        c->dev->embedding_bwd(dtable.d, dy.d, id.d, n, D);
        check(c, "embedding_bwd", &dtable, TOL_FP32);
        c->ref->resid_mix_fwd(y.h, x.h, x0.h, mix.h, (size_t)n, D);
        c->dev->resid_mix_fwd(y.d, x.d, x0.d, mix.d, (size_t)n, D);
        check(c, "resid_mix_fwd", &y, TOL_FP32);
        c->ref->resid_mix_bwd(dx.h, dx0.h, dmix.h, dy.h, x.h, x0.h, mix.h, (size_t)n, D);
        c->dev->resid_mix_bwd(dx.d, dx0.d, dmix.d, dy.d, x.d, x0.d, mix.d, (size_t)n, D);
        check(c, "resid_mix_bwd dx", &dx, TOL_FP32);
        check(c, "resid_mix_bwd dx0", &dx0, TOL_FP32);
        check(c, "resid_mix_bwd dmix", &dmix, TOL_FP32);
        c->ref->scaled_add_fwd(y.h, x.h, sc.h, x0.h, (size_t)n, D);
        c->dev->scaled_add_fwd(y.d, x.d, sc.d, x0.d, (size_t)n, D);
        check(c, "scaled_add_fwd", &y, TOL_FP32);
        c->ref->scaled_add_bwd(dx.h, dsc.h, dy.h, x0.h, sc.h, (size_t)n, D);
        c->dev->scaled_add_bwd(dx.d, dsc.d, dy.d, x0.d, sc.d, (size_t)n, D);
        check(c, "scaled_add_bwd dd", &dx, TOL_FP32);
        check(c, "scaled_add_bwd ds", &dsc, TOL_FP32);
        c->ref->skip_add_bwd(dx0.h, dsc.h, dy.h, x.h, sc.h, (size_t)n, D);
        c->dev->skip_add_bwd(dx0.d, dsc.d, dy.d, x.d, sc.d, (size_t)n, D);
        check(c, "skip_add_bwd dd", &dx0, TOL_FP32);
        check(c, "skip_add_bwd ds", &dsc, TOL_FP32);
        c->ref->add(y.h, x.h, nd);
        c->dev->add(y.d, x.d, nd);
        check(c, "add", &y, TOL_FP32);
        c->ref->q_gain_fwd(q.h, qn.h, gain.h, (size_t)n, s->H, s->hd);
        c->dev->q_gain_fwd(q.d, qn.d, gain.d, (size_t)n, s->H, s->hd);
        check(c, "q_gain_fwd", &q, TOL_FP32);
        c->ref->q_gain_bwd(dq.h, dgain.h, qn.h, gain.h, (size_t)n, s->H, s->hd);
        c->dev->q_gain_bwd(dq.d, dgain.d, qn.d, gain.d, (size_t)n, s->H, s->hd);
        check(c, "q_gain_bwd dq", &dq, TOL_FP32);
        check(c, "q_gain_bwd dgain", &dgain, TOL_FP32);
    }
    ids_free(c, &id);
    pair *all[] = {&table, &dtable, &x, &x0, &y, &dy, &dx, &dx0, &mix, &dmix, &sc, &dsc, &qn, &q,
                   &gain, &dgain, &dq};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        pr_free(c, all[i]);
}

static void test_optim(ctx *c, const shape *s)
{
    int rows = s->F, cols = s->dim;
    size_t n = (size_t)rows * cols;
    pair p = pr_new(c, n, 1), g = pr_new(c, n, 1), buf = pr_new(c, n, 1), m = pr_new(c, n, 1);
    pair v = pr_new(c, n, 0);
    size_t rsn = c->ref->muon_scratch(rows, cols), dsn = c->dev->muon_scratch(rows, cols);
    pair rs = {calloc(rsn + 1, sizeof(pg_real)), NULL, 0}, ds = scratch_for(c, dsn + 1);
    if (!c->oom && rs.h) {
        for (size_t i = 0; i < n; i++)
            v.h[i] = (pg_real)fabs((double)v.h[i]);
        double ar = 0.5, ad = 0.5;
        c->ref->sumsq(&ar, g.h, n);
        c->dev->sumsq(&ad, g.d, n);
        check_value(c, "sumsq", ar, ad, TOL_FP32);
        c->ref->scale(g.h, n, 0.37);
        c->dev->scale(g.d, n, 0.37);
        check(c, "scale", &g, TOL_FP32);
        c->ref->sgd_update(p.h, g.h, buf.h, n, 0.9f, 0.01f);
        c->dev->sgd_update(p.d, g.d, buf.d, n, 0.9f, 0.01f);
        check(c, "sgd_update p", &p, TOL_FP32);
        check(c, "sgd_update buf", &buf, TOL_FP32);
        c->dev->to_device(v.d, v.h, n * sizeof(pg_real));
        c->ref->adam_update(p.h, g.h, m.h, v.h, n, 0.9, 0.95, 1e-8, 0.01, 0.1, 0.2);
        c->dev->adam_update(p.d, g.d, m.d, v.d, n, 0.9, 0.95, 1e-8, 0.01, 0.1, 0.2);
        check(c, "adam_update p", &p, TOL_FP32);
        check(c, "adam_update m", &m, TOL_FP32);
        check(c, "adam_update v", &v, TOL_FP32);
        pg_muon_ns classic = {5, PG_NS_CLASSIC, 0}, eq_r = {5, PG_NS_POLAR_EXPRESS, 1};
        c->ref->muon_update(p.h, g.h, buf.h, rows, cols, 0.95f, 0.02f, &classic, rs.h);
        c->dev->muon_update(p.d, g.d, buf.d, rows, cols, 0.95f, 0.02f, &classic, ds.d);
        check(c, "muon_update p", &p, TOL_ITER);
        check(c, "muon_update buf", &buf, TOL_FP32);
        /* MuonEq-R with Polar Express, on the transposed shape */
        c->ref->muon_update(p.h, g.h, buf.h, cols, rows, 0.9f, 0.03f, &eq_r, rs.h);
        c->dev->muon_update(p.d, g.d, buf.d, cols, rows, 0.9f, 0.03f, &eq_r, ds.d);
        check(c, "muon_update MuonEq-R p", &p, TOL_ITER);
        check(c, "muon_update MuonEq-R buf", &buf, TOL_FP32);
        c->ref->ema_update(m.h, p.h, n, 0.9965);
        c->dev->ema_update(m.d, p.d, n, 0.9965);
        check(c, "ema_update", &m, TOL_FP32);
        c->ref->newton_schulz5(g.h, cols, rows, 5, PG_NS_CLASSIC, rs.h); /* wide too */
        c->dev->newton_schulz5(g.d, cols, rows, 5, PG_NS_CLASSIC, ds.d);
        check(c, "newton_schulz5", &g, TOL_ITER);
        c->ref->newton_schulz5(g.h, rows, cols, 7, PG_NS_POLAR_EXPRESS, rs.h);
        c->dev->newton_schulz5(g.d, rows, cols, 7, PG_NS_POLAR_EXPRESS, ds.d);
        check(c, "newton_schulz5 polar", &g, TOL_ITER);
    }
    free(rs.h);
    pair *all[] = {&p, &g, &buf, &m, &v, &ds};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        pr_free(c, all[i]);
}

int pg_selftest_ops(const pg_backend *ref, const pg_backend *dev, int baseline,
                    int (*set_bf16)(int on), pg_selftest_report *r)
{
    static const shape kTiny = {2, 32, 32, 4, 2, 8, 64, 64};
    static const shape kBase = {1, 256, 512, 8, 4, 64, 1024, 1024};
    /* The attention again across tiles: 70 positions span three key tiles and two query
     * blocks of the CUDA kernels (partial ones included), at head_dims padded to each of
     * their instantiations (32, 64, 128). */
    static const struct {
        const char *name;
        shape s;
    } kTiles[] = {{"T70/hd8", {1, 70, 16, 2, 1, 8, 0, 0}},
                  {"T70/hd40", {1, 70, 80, 2, 1, 40, 0, 0}},
                  {"T70/hd100", {1, 70, 200, 2, 1, 100, 0, 0}}};
    memset(r, 0, sizeof *r);
    ctx c = {.ref = ref, .dev = dev, .r = r};
    pg_rng_seed(&c.rng, 1234);
    int was = set_bf16 ? set_bf16(0) : 0; /* fp32 first: the parity mode */
    for (int k = 0; k < (baseline ? 2 : 1) && !c.oom; k++) {
        const shape *s = k ? &kBase : &kTiny;
        c.shape = k ? "baseline" : "tiny";
        c.mode = "fp32";
        test_linear(&c, s, TOL_FP32);
        test_norm_rope(&c, s);
        test_attention(&c, s, 0);
        test_attention(&c, s, 1);
        for (size_t i = 0; k == 0 && i < sizeof kTiles / sizeof *kTiles; i++) {
            c.shape = kTiles[i].name;
            test_attention(&c, &kTiles[i].s, 0);
            test_attention(&c, &kTiles[i].s, 1);
            c.shape = "tiny";
        }
        test_variants(&c, s);
        test_head(&c, s);
        test_elementwise(&c, s);
        test_topology(&c, s);
        test_optim(&c, s);
        if (set_bf16) {
            c.mode = "bf16";
            set_bf16(1);
            test_linear(&c, s, TOL_BF16);
            set_bf16(0);
        }
    }
    if (set_bf16)
        set_bf16(was);
    if (c.oom) {
        pg_selftest_report_free(r);
        return pg_fail("selftest: out of memory");
    }
    return 0;
}

void pg_selftest_report_free(pg_selftest_report *r)
{
    free(r->rows);
    memset(r, 0, sizeof *r);
}
