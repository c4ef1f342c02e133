#include "verifier/ttt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/progress.h"
#include "kernels/optim.h"
#include "dataset/shard.h"

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

/* ---- LoRA TTT ---- */

#define LORA_SEED 0x10A4ULL /* every document's adapters start from the same init */

typedef struct {
    size_t start, end; /* targets */
    int doc_first;     /* the first piece of a document: reset before it */
    int doc_last;      /* the last piece of a document: nothing to train for */
} lora_piece;

/* Pieces of at most `chunk` targets, cut at every document start (a BOS input). */
static lora_piece *lora_pieces(const uint16_t *stream, size_t total, size_t chunk, size_t *count)
{
    lora_piece *p = malloc((total + 1) * sizeof *p);
    size_t n = 0, start = 0;
    int first = 1;
    for (size_t i = 1; i <= total; i++) {
        int doc_break = i < total && stream[i] == PG_BOS_ID;
        if (i == total || doc_break || i - start == chunk) {
            p[n++] = (lora_piece){start, i, first, i == total || doc_break};
            first = doc_break;
            start = i;
        }
    }
    *count = n;
    return p;
}

static void adam_step(pg_lora *lo, pg_real *mm, pg_real *vv, long t, double lr)
{
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double bc1 = 1.0 - pow(b1, (double)t), bc2s = sqrt(1.0 - pow(b2, (double)t));
    for (size_t j = 0; j < lo->n; j++) {
        double g = lo->g[j];
        mm[j] = (pg_real)(b1 * mm[j] + (1 - b1) * g);
        vv[j] = (pg_real)(b2 * vv[j] + (1 - b2) * g * g);
        lo->p[j] -= (pg_real)(lr / bc1 * mm[j] / (sqrt((double)vv[j]) / bc2s + eps));
    }
}

static int lora_run(pg_model *m, const uint16_t *stream, const pg_bpb_lut *lut,
                    const pg_eval_opts *eo, const pg_ttt_opts *o, size_t total,
                    const pg_eval_window *win, size_t nwin, pg_eval_result *r, double *per_token)
{
    int B = eo->batch > 0 ? eo->batch : 1, L = eo->seq_len;
    pg_lora lo;
    if (pg_lora_create(&lo, m, o->lora_rank, B * L) != 0)
        return -1;
    size_t np;
    lora_piece *pc = lora_pieces(stream, total, (size_t)o->lora_chunk, &np);
    pg_real *mm = calloc(lo.n, sizeof *mm), *vv = calloc(lo.n, sizeof *vv);
    pg_real *grad = calloc(m->num_params, sizeof *grad);
    int *ids = malloc((size_t)L * sizeof *ids), *tgt = malloc((size_t)L * sizeof *tgt);
    pg_eval_window *clip = malloc((nwin + 1) * sizeof *clip);
    pg_acts a;
    int rc = pg_acts_create(&a, &m->cfg, 1, L, 1);
    m->lora = &lo;
    long t = 0;
    size_t w0 = 0;
    double t0 = pg_now_seconds();
    for (size_t k = 0; k < np && rc == 0; k++) {
        if (pc[k].doc_first) {
            pg_lora_reset(&lo, m, LORA_SEED);
            memset(mm, 0, lo.n * sizeof *mm);
            memset(vv, 0, lo.n * sizeof *vv);
            t = 0;
        }
        /* the windows' scored targets inside this piece: a window that straddles a piece
         * boundary is clipped, so every target is scored by its own piece's adapters */
        size_t nclip = 0;
        while (w0 < nwin && win[w0].start + (size_t)win[w0].len <= pc[k].start)
            w0++;
        for (size_t w = w0; w < nwin && win[w].start + (size_t)win[w].score_from < pc[k].end; w++) {
            size_t a0 = win[w].start + (size_t)win[w].score_from, a1 = win[w].start + (size_t)win[w].len;
            size_t lo_t = a0 > pc[k].start ? a0 : pc[k].start, hi_t = a1 < pc[k].end ? a1 : pc[k].end;
            if (lo_t < hi_t)
                clip[nclip++] = (pg_eval_window){win[w].start, (int)(hi_t - win[w].start),
                                                 (int)(lo_t - win[w].start)};
        }
        rc = pg_score_windows(m, stream, lut, clip, nclip, B, r, per_token);
        /* train on the piece just scored, in sequences of at most seq_len */
        for (int ep = 0; rc == 0 && !pc[k].doc_last && ep < o->epochs; ep++)
            for (size_t s = pc[k].start; s < pc[k].end; s += (size_t)L) {
                int len = (int)(pc[k].end - s < (size_t)L ? pc[k].end - s : (size_t)L);
                for (int j = 0; j < len; j++) {
                    ids[j] = stream[s + (size_t)j];
                    tgt[j] = stream[s + (size_t)j + 1];
                }
                pg_acts_set_shape(&a, 1, len);
                memset(lo.g, 0, lo.n * sizeof *lo.g);
                pg_model_forward(m, &a, ids, tgt);
                pg_model_backward(m, &a, ids, tgt, grad, 1.0 / len);
                adam_step(&lo, mm, vv, ++t, o->lora_lr);
            }
        if (o->progress && rc == 0 && (k + 1 == np || (k + 1) % 64 == 0))
            fprintf(stderr, "ttt_chunk [%zu/%zu] bpb=%.6f time=%.1fs\n", k + 1, np,
                    pg_bpb(r->loss_sum, r->tokens, r->bytes), pg_now_seconds() - t0);
    }
    m->lora = NULL;
    if (a.buf)
        pg_acts_free(&a);
    free(ids);
    free(tgt);
    free(clip);
    free(grad);
    free(mm);
    free(vv);
    free(pc);
    pg_lora_free(&lo);
    return rc;
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
    if (o->optimizer == PG_TTT_LORA) {
        int rc = lora_run(m, stream, lut, eo, o, total, win, nwin, r, per_token);
        free(win);
        return rc == 0 ? pg_eval_finish(r) : rc;
    }
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
