/* A device backend for tests on machines without a GPU: the CPU's ops on memory the host
 * cannot dereference. Its pointers are host addresses with the top bit set, which no
 * host load or store can follow (the address is not canonical: the process crashes), so
 * any code above the backend table that reads or writes backend memory directly, or
 * hands a host array to an op, fails here as it would on a GPU; each op checks every
 * pointer it is given and clears the bit before calling the CPU's op. Results are the
 * CPU's bits, so a test can demand exact equality with the CPU backend. */
#include "tests/emu_backend.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG ((uintptr_t)1 << 63)

static size_t n_uploads, n_downloads;

/* Backend memory to the host address it stands for; NULL stays NULL. */
static void *host_of(const void *p)
{
    if (!p)
        return NULL;
    if (!((uintptr_t)p & TAG)) {
        fprintf(stderr, "emu backend: host pointer %p passed where backend memory belongs\n", p);
        abort();
    }
    return (void *)((uintptr_t)p & ~TAG);
}

static const void *host_array(const void *p)
{
    if (p && ((uintptr_t)p & TAG)) {
        fprintf(stderr, "emu backend: backend memory %p passed where a host array belongs\n", p);
        abort();
    }
    return p;
}

#define D(p) ((__typeof__(p))host_of(p))
#define CPU pg_backend_cpu()

static void *emu_alloc(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    return p ? (void *)((uintptr_t)p | TAG) : NULL;
}

static void emu_free(void *p)
{
    free(host_of(p));
}

static void emu_to_device(void *dst, const void *src, size_t bytes)
{
    n_uploads++;
    memcpy(host_of(dst), host_array(src), bytes);
}

static void emu_to_host(void *dst, const void *src, size_t bytes)
{
    n_downloads++;
    memcpy((void *)host_array(dst), host_of(src), bytes);
}

static void emu_copy(void *dst, const void *src, size_t bytes)
{
    memmove(host_of(dst), host_of(src), bytes);
}

static void emu_zero(void *p, size_t bytes)
{
    memset(host_of(p), 0, bytes);
}

static void emu_describe(char *buf, size_t n)
{
    snprintf(buf, n, "emulated device memory on the CPU (tests)");
}

static void linear_fwd(pg_real *out, const pg_real *in, const pg_real *w, int n, int i, int o)
{
    CPU->linear_fwd(D(out), D(in), D(w), n, i, o);
}

static void linear_bwd(pg_real *din, pg_real *dw, const pg_real *dout, const pg_real *in,
                       const pg_real *w, int n, int i, int o)
{
    CPU->linear_bwd(D(din), D(dw), D(dout), D(in), D(w), n, i, o);
}

static void rmsnorm_fwd(pg_real *out, pg_real *rstd, const pg_real *in, int n, int dim, pg_real eps)
{
    CPU->rmsnorm_fwd(D(out), D(rstd), D(in), n, dim, eps);
}

static void rmsnorm_bwd(pg_real *din, const pg_real *dout, const pg_real *in, const pg_real *rstd,
                        int n, int dim)
{
    CPU->rmsnorm_bwd(D(din), D(dout), D(in), D(rstd), n, dim);
}

static void rope_tables(pg_real *c, pg_real *s, int T, int hd, pg_real base)
{
    CPU->rope_tables(D(c), D(s), T, hd, base);
}

static void rope_fwd(pg_real *x, const pg_real *c, const pg_real *s, int B, int T, int H, int hd,
                     int rd)
{
    CPU->rope_fwd(D(x), D(c), D(s), B, T, H, hd, rd);
}

static void rope_bwd(pg_real *x, const pg_real *c, const pg_real *s, int B, int T, int H, int hd,
                     int rd)
{
    CPU->rope_bwd(D(x), D(c), D(s), B, T, H, hd, rd);
}

static void xsa_fwd(pg_real *out, const pg_real *y, const pg_real *v, size_t n, int H, int KVH,
                    int hd)
{
    CPU->xsa_fwd(D(out), D(y), D(v), n, H, KVH, hd);
}

static void xsa_bwd(pg_real *dy, pg_real *dv, const pg_real *dout, const pg_real *y,
                    const pg_real *v, size_t n, int H, int KVH, int hd)
{
    CPU->xsa_bwd(D(dy), D(dv), D(dout), D(y), D(v), n, H, KVH, hd);
}

static void head_gate_fwd(pg_real *out, const pg_real *y, const pg_real *src, const pg_real *w,
                          size_t n, int H, int hd, int sd, int win, pg_real scale, int mult)
{
    CPU->head_gate_fwd(D(out), D(y), D(src), D(w), n, H, hd, sd, win, scale, mult);
}

static void head_gate_bwd(pg_real *dy, pg_real *dsrc, pg_real *dw, const pg_real *dout,
                          const pg_real *y, const pg_real *src, const pg_real *w, size_t n, int H,
                          int hd, int sd, int win, pg_real scale, int mult)
{
    CPU->head_gate_bwd(D(dy), D(dsrc), D(dw), D(dout), D(y), D(src), D(w), n, H, hd, sd, win,
                       scale, mult);
}

static void smear_fwd(pg_real *out, const pg_real *e, const int *ids, const pg_real *w,
                      const pg_real *lam, int B, int T, int dim, int win, int bos)
{
    CPU->smear_fwd(D(out), D(e), D(ids), D(w), D(lam), B, T, dim, win, bos);
}

static void smear_bwd(pg_real *de, pg_real *dw, pg_real *dlam, const pg_real *dout,
                      const pg_real *e, const int *ids, const pg_real *w, const pg_real *lam, int B,
                      int T, int dim, int win, int bos)
{
    CPU->smear_bwd(D(de), D(dw), D(dlam), D(dout), D(e), D(ids), D(w), D(lam), B, T, dim, win,
                   bos);
}

static void round_bf16(pg_real *x, size_t n)
{
    CPU->round_bf16(D(x), n);
}

static void col_scale_fwd(pg_real *y, const pg_real *s, const pg_real *d, size_t n, int dim)
{
    CPU->col_scale_fwd(D(y), D(s), D(d), n, dim);
}

static void skip_gate_fwd(pg_real *out, const pg_real *x, const pg_real *skip, const pg_real *w,
                          const pg_real *z, size_t n, int dim)
{
    CPU->skip_gate_fwd(D(out), D(x), D(skip), D(w), D(z), n, dim);
}

static void skip_gate_bwd(pg_real *dx, pg_real *dskip, pg_real *dw, pg_real *dz,
                          const pg_real *dout, const pg_real *x, const pg_real *skip,
                          const pg_real *w, const pg_real *z, size_t n, int dim)
{
    CPU->skip_gate_bwd(D(dx), D(dskip), D(dw), D(dz), D(dout), D(x), D(skip), D(w), D(z), n, dim);
}

static void lane_mix_fwd(pg_real *y, const pg_real *lane, const pg_real *a, const pg_real *m,
                         const pg_real *r, const pg_real *pa, const pg_real *pm, size_t n)
{
    CPU->lane_mix_fwd(D(y), D(lane), D(a), D(m), D(r), D(pa), D(pm), n);
}

static void lane_mix_bwd(pg_real *dlane, pg_real *da, pg_real *dm, pg_real *dr, pg_real *dpa,
                         pg_real *dpm, const pg_real *dy, const pg_real *lane, const pg_real *a,
                         const pg_real *m, const pg_real *r, const pg_real *pa, const pg_real *pm,
                         size_t n)
{
    CPU->lane_mix_bwd(D(dlane), D(da), D(dm), D(dr), D(dpa), D(dpm), D(dy), D(lane), D(a), D(m),
                      D(r), D(pa), D(pm), n);
}

static void attention_fwd(pg_real *out, pg_real *probs, const pg_real *q, const pg_real *k,
                          const pg_real *v, const int *span, int B, int T, int H, int KVH, int hd)
{
    CPU->attention_fwd(D(out), D(probs), D(q), D(k), D(v), D(span), B, T, H, KVH, hd);
}

static void attention_bwd(pg_real *dq, pg_real *dk, pg_real *dv, const pg_real *dout,
                          const pg_real *out, const pg_real *probs, const pg_real *q,
                          const pg_real *k, const pg_real *v, const int *span, int B, int T,
                          int H, int KVH, int hd, pg_real *scratch)
{
    CPU->attention_bwd(D(dq), D(dk), D(dv), D(dout), D(out), D(probs), D(q), D(k), D(v), D(span),
                       B, T, H, KVH, hd, D(scratch));
}

static void mlp_act_fwd(pg_real *out, const pg_real *in, size_t n, int act)
{
    CPU->mlp_act_fwd(D(out), D(in), n, act);
}

static void mlp_act_bwd(pg_real *din, const pg_real *dout, const pg_real *in, size_t n, int act)
{
    CPU->mlp_act_bwd(D(din), D(dout), D(in), n, act);
}

static void softcap_fwd(pg_real *x, size_t n, pg_real cap)
{
    CPU->softcap_fwd(D(x), n, cap);
}

static double xent_fwd(double *loss, const pg_real *logits, const int *targets, int n, int vocab)
{
    return CPU->xent_fwd(D(loss), D(logits), D(targets), n, vocab);
}

static void softcap_xent_bwd(pg_real *dlogits, const pg_real *z, const int *targets, int n,
                             int vocab, pg_real cap, double dloss)
{
    CPU->softcap_xent_bwd(D(dlogits), D(z), D(targets), n, vocab, cap, dloss);
}

static void embedding_fwd(pg_real *out, const pg_real *table, const int *ids, int n, int dim)
{
    CPU->embedding_fwd(D(out), D(table), D(ids), n, dim);
}

static void embedding_bwd(pg_real *dtable, const pg_real *dout, const int *ids, int n, int dim)
{
    CPU->embedding_bwd(D(dtable), D(dout), D(ids), n, dim);
}

static void resid_mix_fwd(pg_real *out, const pg_real *x, const pg_real *x0, const pg_real *mix,
                          size_t n, int dim)
{
    CPU->resid_mix_fwd(D(out), D(x), D(x0), D(mix), n, dim);
}

static void resid_mix_bwd(pg_real *dx, pg_real *dx0, pg_real *dmix, const pg_real *dout,
                          const pg_real *x, const pg_real *x0, const pg_real *mix, size_t n,
                          int dim)
{
    CPU->resid_mix_bwd(D(dx), D(dx0), D(dmix), D(dout), D(x), D(x0), D(mix), n, dim);
}

static void scaled_add_fwd(pg_real *y, const pg_real *x, const pg_real *s, const pg_real *d,
                           size_t n, int dim)
{
    CPU->scaled_add_fwd(D(y), D(x), D(s), D(d), n, dim);
}

static void scaled_add_bwd(pg_real *dd, pg_real *ds, const pg_real *dy, const pg_real *d,
                           const pg_real *s, size_t n, int dim)
{
    CPU->scaled_add_bwd(D(dd), D(ds), D(dy), D(d), D(s), n, dim);
}

static void skip_add_bwd(pg_real *dd, pg_real *ds, const pg_real *dy, const pg_real *d,
                         const pg_real *s, size_t n, int dim)
{
    CPU->skip_add_bwd(D(dd), D(ds), D(dy), D(d), D(s), n, dim);
}

static void add(pg_real *y, const pg_real *x, size_t n)
{
    CPU->add(D(y), D(x), n);
}

static void q_gain_fwd(pg_real *q, const pg_real *qn, const pg_real *gain, size_t n, int H, int hd)
{
    CPU->q_gain_fwd(D(q), D(qn), D(gain), n, H, hd);
}

static void q_gain_bwd(pg_real *dq, pg_real *dgain, const pg_real *qn, const pg_real *gain,
                       size_t n, int H, int hd)
{
    CPU->q_gain_bwd(D(dq), D(dgain), D(qn), D(gain), n, H, hd);
}

static void sumsq(double *acc, const pg_real *g, size_t n)
{
    CPU->sumsq((double *)host_array(acc), D(g), n);
}

static void scale(pg_real *g, size_t n, double coef)
{
    CPU->scale(D(g), n, coef);
}

static void sgd_update(pg_real *p, const pg_real *g, pg_real *buf, size_t n, pg_real mu, pg_real lr)
{
    CPU->sgd_update(D(p), D(g), D(buf), n, mu, lr);
}

static void adam_update(pg_real *p, const pg_real *g, pg_real *m, pg_real *v, size_t n,
                        double b1, double b2, double eps, double lr, double bc1, double bc2)
{
    CPU->adam_update(D(p), D(g), D(m), D(v), n, b1, b2, eps, lr, bc1, bc2);
}

static void muon_update(pg_real *p, const pg_real *g, pg_real *buf, int rows, int cols,
                        pg_real mu, pg_real lr, const pg_muon_ns *ns, pg_real *scratch)
{
    CPU->muon_update(D(p), D(g), D(buf), rows, cols, mu, lr, ns, D(scratch));
}

static void newton_schulz5(pg_real *x, int rows, int cols, int steps, int coeffs,
                           pg_real *scratch)
{
    CPU->newton_schulz5(D(x), rows, cols, steps, coeffs, D(scratch));
}

static void ema_update(pg_real *ema, const pg_real *p, size_t n, double decay)
{
    CPU->ema_update(D(ema), D(p), n, decay);
}

static int all_reduce_sum(pg_real *x, size_t n)
{
    return CPU->all_reduce_sum(D(x), n);
}

static size_t attention_state_size(int B, int T, int H, int hd)
{
    return CPU->attention_state_size(B, T, H, hd);
}

static size_t attention_bwd_scratch(int T, int KVH, int hd)
{
    return CPU->attention_bwd_scratch(T, KVH, hd);
}

static size_t muon_scratch(int rows, int cols)
{
    return CPU->muon_scratch(rows, cols);
}

static const pg_backend kEmu = {
    .name = "emu",
    .host_memory = 0,
    .describe = emu_describe,
    .alloc = emu_alloc,
    .free = emu_free,
    .to_device = emu_to_device,
    .to_host = emu_to_host,
    .copy = emu_copy,
    .zero = emu_zero,
    .linear_fwd = linear_fwd,
    .linear_bwd = linear_bwd,
    .rmsnorm_fwd = rmsnorm_fwd,
    .rmsnorm_bwd = rmsnorm_bwd,
    .rope_tables = rope_tables,
    .rope_fwd = rope_fwd,
    .rope_bwd = rope_bwd,
    .xsa_fwd = xsa_fwd,
    .xsa_bwd = xsa_bwd,
    .head_gate_fwd = head_gate_fwd,
    .head_gate_bwd = head_gate_bwd,
    .smear_fwd = smear_fwd,
    .smear_bwd = smear_bwd,
    .col_scale_fwd = col_scale_fwd,
    .round_bf16 = round_bf16,
    .skip_gate_fwd = skip_gate_fwd,
    .skip_gate_bwd = skip_gate_bwd,
    .lane_mix_fwd = lane_mix_fwd,
    .lane_mix_bwd = lane_mix_bwd,
    .attention_fwd = attention_fwd,
    .attention_bwd = attention_bwd,
    .attention_state_size = attention_state_size,
    .attention_bwd_scratch = attention_bwd_scratch,
    .mlp_act_fwd = mlp_act_fwd,
    .mlp_act_bwd = mlp_act_bwd,
    .softcap_fwd = softcap_fwd,
    .xent_fwd = xent_fwd,
    .softcap_xent_bwd = softcap_xent_bwd,
    .embedding_fwd = embedding_fwd,
    .embedding_bwd = embedding_bwd,
    .resid_mix_fwd = resid_mix_fwd,
    .resid_mix_bwd = resid_mix_bwd,
    .scaled_add_fwd = scaled_add_fwd,
    .scaled_add_bwd = scaled_add_bwd,
    .skip_add_bwd = skip_add_bwd,
    .add = add,
    .q_gain_fwd = q_gain_fwd,
    .q_gain_bwd = q_gain_bwd,
    .sumsq = sumsq,
    .scale = scale,
    .sgd_update = sgd_update,
    .adam_update = adam_update,
    .muon_update = muon_update,
    .muon_scratch = muon_scratch,
    .newton_schulz5 = newton_schulz5,
    .ema_update = ema_update,
    .all_reduce_sum = all_reduce_sum,
};

const pg_backend *t_emu_backend(void)
{
    return &kEmu;
}

void t_emu_transfers(size_t *uploads, size_t *downloads)
{
    *uploads = n_uploads;
    *downloads = n_downloads;
}
