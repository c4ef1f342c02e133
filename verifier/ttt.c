#include "verifier/ttt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/progress.h"
#include "kernels/optim.h"

void pg_ttt_opts_default(pg_ttt_opts *o)
{
    *o = (pg_ttt_opts){.chunk_tokens = 32768,
                       .epochs = 3,
                       .lr = 0.002,
                       .momentum = 0.9,
                       .batch_seqs = 32,
                       .grad_clip = 1.0,
                       .freeze_blocks = 2,
                       .optimizer = PG_TTT_SGD,
                       .cosine_epochs = 0,
                       .mlp_out_mult = 1.0,
                       .in_proj_mult = 1.0,
                       .progress = 0};
}

static int parse_num(const char *name, const char *value, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (errno || end == value || *end || !isfinite(v))
        return pg_fail("%s=%s is not a number", name, value);
    if (v < lo || v > hi)
        return pg_fail("%s=%s is out of range [%g, %g]", name, value, lo, hi);
    *out = v;
    return 0;
}

int pg_ttt_set(pg_ttt_opts *o, const char *name, const char *value)
{
    double v = 0;
    if (strcmp(name, "TTT_OPTIMIZER") == 0) {
        if (strcmp(value, "sgd") == 0)
            o->optimizer = PG_TTT_SGD;
        else if (strcmp(value, "muon") == 0)
            o->optimizer = PG_TTT_MUON;
        else
            return pg_fail("TTT_OPTIMIZER=%s must be sgd or muon", value);
        return 0;
    }
    struct {
        const char *n;
        double lo, hi;
        int is_int;
        void *p;
    } f[] = {{"TTT_CHUNK_TOKENS", 1, 1e9, 1, &o->chunk_tokens},
             {"TTT_EPOCHS", 0, 1000, 1, &o->epochs},
             {"TTT_LR", 0, 1e6, 0, &o->lr},
             {"TTT_MOMENTUM", 0, 0.999999, 0, &o->momentum},
             {"TTT_BATCH_SEQS", 1, 1e6, 1, &o->batch_seqs},
             {"TTT_GRAD_CLIP", 0, 1e9, 0, &o->grad_clip},
             {"TTT_FREEZE_BLOCKS", 0, 1e6, 1, &o->freeze_blocks},
             {"TTT_COSINE_EPOCHS", 0, 1, 1, &o->cosine_epochs},
             {"TTT_MLP_OUT_LR_MULT", 0, 1e6, 0, &o->mlp_out_mult},
             {"TTT_IN_PROJ_LR_MULT", 0, 1e6, 0, &o->in_proj_mult}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (strcmp(f[i].n, name) != 0)
            continue;
        if (parse_num(name, value, f[i].lo, f[i].hi, &v) != 0)
            return -1;
        if (f[i].is_int) {
            if (v != floor(v))
                return pg_fail("%s=%s is not an integer", name, value);
            *(int *)f[i].p = (int)v;
        } else {
            *(double *)f[i].p = v;
        }
        return 0;
    }
    return pg_fail("unknown TTT setting %s", name);
}

int pg_ttt_from_env(pg_ttt_opts *o)
{
    const char *names[] = {"TTT_CHUNK_TOKENS", "TTT_EPOCHS", "TTT_LR", "TTT_MOMENTUM",
                           "TTT_BATCH_SEQS", "TTT_GRAD_CLIP", "TTT_FREEZE_BLOCKS",
                           "TTT_COSINE_EPOCHS", "TTT_MLP_OUT_LR_MULT", "TTT_IN_PROJ_LR_MULT",
                           "TTT_OPTIMIZER"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v && pg_ttt_set(o, names[i], v) != 0)
            return -1;
    }
    return 0;
}

double pg_ttt_chunk_lr(const pg_ttt_opts *o, int ci, int n)
{
    return o->lr * 0.5 * (1.0 + cos(M_PI * ci / (n > 1 ? n - 1 : 1)));
}

struct pg_ttt_state {
    pg_model *m;
    pg_ttt_opts o;
    pg_real *grad, *buf, *muon_buf, *scratch, *update;
    double *mult; /* lr multiplier per tensor; < 0 = frozen */
    pg_acts acts;
    int *ids, *tgt;
    int acts_T;
};

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

pg_ttt_state *pg_ttt_begin(pg_model *m, const pg_ttt_opts *o)
{
    pg_ttt_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->m = m;
    s->o = *o;
    size_t big = 1;
    s->mult = calloc((size_t)m->num_tensors, sizeof *s->mult);
    for (int i = 0; i < m->num_tensors; i++) {
        const pg_tensor_info *t = &m->tensors[i];
        int block = -1;
        if (sscanf(t->name, "blocks.%d.", &block) == 1 && block < o->freeze_blocks) {
            s->mult[i] = -1; /* frozen */
            continue;
        }
        double mult = 1.0;
        if (ends_with(t->name, "mlp.proj.weight"))
            mult = o->mlp_out_mult;
        else if (ends_with(t->name, "c_q.weight") || ends_with(t->name, "c_k.weight") ||
                 ends_with(t->name, "c_v.weight") || ends_with(t->name, "mlp.fc.weight"))
            mult = o->in_proj_mult;
        s->mult[i] = mult;
        if (t->group == PG_GROUP_MATRIX) {
            size_t lo = (size_t)(t->shape[0] < t->shape[1] ? t->shape[0] : t->shape[1]);
            size_t hi = (size_t)(t->shape[0] < t->shape[1] ? t->shape[1] : t->shape[0]);
            big = 3 * lo * lo + 3 * lo * hi > big ? 3 * lo * lo + 3 * lo * hi : big;
        }
    }
    s->grad = calloc(m->num_params, sizeof(pg_real));
    s->buf = calloc(m->num_params, sizeof(pg_real));
    s->muon_buf = calloc(m->num_params, sizeof(pg_real));
    s->update = calloc(m->num_params, sizeof(pg_real));
    s->scratch = calloc(big, sizeof(pg_real));
    if (!s->grad || !s->buf || !s->muon_buf || !s->update || !s->scratch || !s->mult) {
        pg_ttt_end(s);
        return NULL;
    }
    return s;
}

void pg_ttt_end(pg_ttt_state *s)
{
    if (!s)
        return;
    free(s->grad);
    free(s->buf);
    free(s->muon_buf);
    free(s->update);
    free(s->scratch);
    free(s->mult);
    free(s->ids);
    free(s->tgt);
    if (s->acts.buf)
        pg_acts_free(&s->acts);
    free(s);
}

/* One optimizer step on the trainable tensors with the gradient in s->grad. */
static void ttt_step(pg_ttt_state *s, double lr)
{
    pg_model *m = s->m;
    double ss = 0; /* the clip norm covers the trainable tensors only */
    for (int i = 0; i < m->num_tensors; i++) {
        const pg_tensor_info *t = &m->tensors[i];
        for (size_t j = 0; s->mult[i] >= 0 && j < t->numel; j++)
            ss += (double)s->grad[t->offset + j] * s->grad[t->offset + j];
    }
    double coef = 1.0;
    if (s->o.grad_clip > 0 && s->o.grad_clip / (sqrt(ss) + 1e-6) < 1)
        coef = s->o.grad_clip / (sqrt(ss) + 1e-6);
    pg_real mu = (pg_real)s->o.momentum;
    for (int i = 0; i < m->num_tensors; i++) {
        const pg_tensor_info *t = &m->tensors[i];
        if (s->mult[i] < 0)
            continue;
        pg_real *p = m->params + t->offset, *g = s->grad + t->offset;
        pg_real step_lr = (pg_real)(lr * s->mult[i]);
        if (s->o.optimizer == PG_TTT_MUON && t->group == PG_GROUP_MATRIX) {
            /* Muon: Nesterov momentum, Newton-Schulz-5 orthogonalized, shape-scaled */
            pg_real *b = s->muon_buf + t->offset, *u = s->update + t->offset;
            for (size_t j = 0; j < t->numel; j++) {
                pg_real gj = (pg_real)(g[j] * coef);
                b[j] = mu * b[j] + gj;
                u[j] = gj + mu * b[j];
            }
            pg_newton_schulz5(u, t->shape[0], t->shape[1], 5, s->scratch);
            pg_real sc = (pg_real)sqrt(fmax(1.0, (double)t->shape[0] / t->shape[1]));
            for (size_t j = 0; j < t->numel; j++)
                p[j] -= step_lr * sc * u[j];
        } else {
            /* SGD with momentum, as torch.optim.SGD (no dampening, no Nesterov) */
            pg_real *b = s->buf + t->offset;
            for (size_t j = 0; j < t->numel; j++) {
                b[j] = mu * b[j] + (pg_real)(g[j] * coef);
                p[j] -= step_lr * b[j];
            }
        }
    }
}

int pg_ttt_train_span(pg_ttt_state *s, const uint16_t *stream, size_t n, size_t start,
                      size_t end, int seq_len, double lr)
{
    size_t L = (size_t)seq_len, nseq = (end - start) / L;
    int B = s->o.batch_seqs;
    if (nseq == 0)
        return 0;
    if (s->acts_T != seq_len) {
        if (s->acts.buf)
            pg_acts_free(&s->acts);
        free(s->ids);
        free(s->tgt);
        s->ids = malloc((size_t)B * L * sizeof *s->ids);
        s->tgt = malloc((size_t)B * L * sizeof *s->tgt);
        if (!s->ids || !s->tgt || pg_acts_create(&s->acts, &s->m->cfg, B, seq_len, 1) != 0)
            return pg_fail("out of memory for a TTT batch of %d x %d", B, seq_len);
        s->acts_T = seq_len;
    }
    for (int ep = 0; ep < s->o.epochs; ep++) {
        double lr_ep = s->o.cosine_epochs
                           ? lr * 0.5 * (1.0 + cos(M_PI * ep / (double)s->o.epochs))
                           : lr;
        for (size_t bs = 0; bs < nseq; bs += (size_t)B) {
            size_t be = bs + (size_t)B < nseq ? bs + (size_t)B : nseq;
            size_t first = start + bs * L, end_tok = start + be * L + 1;
            if (end_tok > n)
                continue;
            int nb = (int)(be - bs);
            for (size_t j = 0; j < (size_t)nb * L; j++) {
                s->ids[j] = stream[first + j];
                s->tgt[j] = stream[first + j + 1];
            }
            pg_acts_set_shape(&s->acts, nb, seq_len);
            memset(s->grad, 0, s->m->num_params * sizeof(pg_real));
            pg_model_forward(s->m, &s->acts, s->ids, s->tgt);
            pg_model_backward(s->m, &s->acts, s->ids, s->tgt, s->grad, 1.0 / ((double)nb * L));
            ttt_step(s, lr_ep);
        }
    }
    return 0;
}

int pg_ttt_run(pg_model *m, const uint16_t *stream, size_t n, const pg_bpb_lut *lut,
               const pg_eval_opts *eo, const pg_ttt_opts *o, pg_eval_result *r,
               double *per_token)
{
    memset(r, 0, sizeof *r);
    size_t total;
    if (pg_eval_check_stream(m, stream, n, lut, eo->seq_len, &total) != 0)
        return -1;
    pg_eval_window *win;
    size_t nwin;
    if (pg_eval_windows(eo, total, &win, &nwin) != 0)
        return -1;
    size_t chunk = (size_t)o->chunk_tokens;
    int nchunks = (int)((total + chunk - 1) / chunk);
    pg_ttt_state *s = pg_ttt_begin(m, o);
    if (!s) {
        free(win);
        return pg_fail("out of memory for TTT state");
    }
    double t0 = pg_now_seconds();
    int rc = 0;
    size_t w0 = 0;
    for (int ci = 0; ci < nchunks && rc == 0; ci++) {
        /* windows whose first scored target falls in this chunk (they are in order) */
        size_t w1 = w0;
        while (w1 < nwin && (win[w1].start + (size_t)win[w1].score_from) / chunk == (size_t)ci)
            w1++;
        rc = pg_score_windows(m, stream, lut, win + w0, w1 - w0, eo->batch, r, per_token);
        w0 = w1;
        if (rc == 0 && ci < nchunks - 1 && o->epochs > 0) {
            size_t cs = (size_t)ci * chunk, ce = cs + chunk < total ? cs + chunk : total;
            rc = pg_ttt_train_span(s, stream, n, cs, ce, eo->seq_len,
                                   pg_ttt_chunk_lr(o, ci, nchunks));
        }
        if (o->progress && rc == 0)
            fprintf(stderr, "ttt_chunk [%d/%d] bpb=%.6f time=%.1fs\n", ci + 1, nchunks,
                    r->bytes > 0 ? pg_bpb(r->loss_sum, r->tokens, r->bytes) : 0.0,
                    pg_now_seconds() - t0);
    }
    pg_ttt_end(s);
    free(win);
    if (rc == 0)
        rc = pg_eval_finish(r);
    return rc;
}
