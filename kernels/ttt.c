#include "kernels/ttt.h"

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
    pg_real *grad, *buf, *muon_buf, *scratch;
    double *mult;         /* lr multiplier per tensor; < 0 = frozen */
    pg_grad_span *spans;  /* the trainable tensors (the clip norm covers only them) */
    int nspans;
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
    const pg_backend *be = m->be;
    s->m = m;
    s->o = *o;
    size_t big = 1;
    s->mult = calloc((size_t)m->num_tensors, sizeof *s->mult);
    s->spans = calloc((size_t)m->num_tensors, sizeof *s->spans);
    if (!s->mult || !s->spans) {
        pg_ttt_end(s);
        return NULL;
    }
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
        s->spans[s->nspans++] = (pg_grad_span){t->offset, t->numel};
        size_t need = t->group == PG_GROUP_MATRIX ? be->muon_scratch(t->shape[0], t->shape[1]) : 0;
        big = need > big ? need : big;
    }
    s->grad = be->alloc(m->num_params * sizeof(pg_real));
    s->buf = be->alloc(m->num_params * sizeof(pg_real));
    s->muon_buf = be->alloc(m->num_params * sizeof(pg_real));
    s->scratch = be->alloc(big * sizeof(pg_real));
    if (!s->grad || !s->buf || !s->muon_buf || !s->scratch) {
        pg_ttt_end(s);
        return NULL;
    }
    return s;
}

void pg_ttt_end(pg_ttt_state *s)
{
    if (!s)
        return;
    const pg_backend *be = s->m->be;
    be->free(s->grad);
    be->free(s->buf);
    be->free(s->muon_buf);
    be->free(s->scratch);
    free(s->mult);
    free(s->spans);
    free(s->ids);
    free(s->tgt);
    if (s->acts.buf)
        pg_acts_free(&s->acts);
    free(s);
}

/* One optimizer step on the trainable tensors with the gradient in s->grad: clipped over
 * them, then Muon (LaCT) for the block matrices when chosen, SGD with momentum for the
 * rest. */
static void ttt_step(pg_ttt_state *s, double lr)
{
    static const pg_muon_ns kLaCT = {5, PG_NS_CLASSIC, 0};
    pg_model *m = s->m;
    const pg_backend *be = m->be;
    pg_clip_grad(be, s->grad, s->spans, s->nspans, s->o.grad_clip);
    pg_real mu = (pg_real)s->o.momentum;
    for (int i = 0; i < m->num_tensors; i++) {
        const pg_tensor_info *t = &m->tensors[i];
        if (s->mult[i] < 0)
            continue;
        pg_real *p = m->params + t->offset, *g = s->grad + t->offset;
        if (s->o.optimizer == PG_TTT_MUON && t->group == PG_GROUP_MATRIX)
            be->muon_update(p, g, s->muon_buf + t->offset, t->shape[0], t->shape[1], mu,
                            pg_muon_lr(lr * s->mult[i], t->shape[0], t->shape[1]), &kLaCT,
                            s->scratch);
        else
            be->sgd_update(p, g, s->buf + t->offset, t->numel, mu, (pg_real)(lr * s->mult[i]));
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
        if (!s->ids || !s->tgt || pg_acts_create(&s->acts, s->m, B, seq_len, 1) != 0)
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
            s->m->be->zero(s->grad, s->m->num_params * sizeof(pg_real));
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
    if (!p)
        return NULL;
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

/* LoRA TTT's working state: adapters, their Adam moments, and one training pass's buffers. */
typedef struct {
    pg_lora lo;
    pg_real *adam_m, *adam_v, *grad; /* grad: the base weights' (unused, frozen) */
    int *ids, *tgt;
    pg_eval_window *clip;
    lora_piece *pieces;
    size_t npieces;
    pg_acts acts;
} lora_state;

static void lora_state_free(pg_model *m, lora_state *st)
{
    const pg_backend *be = m->be;
    m->lora = NULL;
    if (st->acts.buf)
        pg_acts_free(&st->acts);
    be->free(st->adam_m);
    be->free(st->adam_v);
    be->free(st->grad);
    free(st->ids);
    free(st->tgt);
    free(st->clip);
    free(st->pieces);
    pg_lora_free(&st->lo);
}

static int lora_state_create(pg_model *m, const uint16_t *stream, size_t total,
                             const pg_eval_opts *eo, const pg_ttt_opts *o, size_t nwin,
                             lora_state *st)
{
    const pg_backend *be = m->be;
    int B = eo->batch > 0 ? eo->batch : 1, L = eo->seq_len;
    memset(st, 0, sizeof *st);
    pg_lora_spec spec = {.rank = o->lora_rank, .scale = 1.0}; /* March: q and v only */
    if (pg_lora_create(&st->lo, m, &spec, B * L) != 0)
        return -1;
    m->lora = &st->lo; /* attached before the activations, which size its workspace */
    st->pieces = lora_pieces(stream, total, (size_t)o->lora_chunk, &st->npieces);
    st->adam_m = be->alloc(st->lo.n * sizeof(pg_real));
    st->adam_v = be->alloc(st->lo.n * sizeof(pg_real));
    st->grad = be->alloc(m->num_params * sizeof(pg_real));
    st->ids = malloc((size_t)L * sizeof *st->ids);
    st->tgt = malloc((size_t)L * sizeof *st->tgt);
    st->clip = malloc((nwin + 1) * sizeof *st->clip);
    if (!st->pieces || !st->adam_m || !st->adam_v || !st->grad || !st->ids || !st->tgt ||
        !st->clip) {
        lora_state_free(m, st);
        return pg_fail("out of memory for LoRA TTT (rank %d, %zu windows)", o->lora_rank, nwin);
    }
    if (pg_acts_create(&st->acts, m, 1, L, 1) != 0) {
        lora_state_free(m, st);
        return -1;
    }
    return 0;
}

static int lora_run(pg_model *m, const uint16_t *stream, const pg_bpb_lut *lut,
                    const pg_eval_opts *eo, const pg_ttt_opts *o, size_t total,
                    const pg_eval_window *win, size_t nwin, pg_eval_result *r, double *per_token)
{
    const pg_backend *be = m->be;
    int B = eo->batch > 0 ? eo->batch : 1, L = eo->seq_len;
    lora_state st;
    if (lora_state_create(m, stream, total, eo, o, nwin, &st) != 0)
        return -1;
    pg_lora *lo = &st.lo;
    const lora_piece *pc = st.pieces;
    pg_adam_config adam = {o->lora_beta1, o->lora_beta2, o->lora_eps};
    long t = 0;
    size_t w0 = 0;
    int rc = 0;
    double t0 = pg_now_seconds();
    for (size_t k = 0; k < st.npieces && rc == 0; k++) {
        if (pc[k].doc_first) {
            if (pg_lora_reset(lo, m, LORA_SEED) != 0) {
                rc = -1;
                break;
            }
            be->zero(st.adam_m, lo->n * sizeof(pg_real));
            be->zero(st.adam_v, lo->n * sizeof(pg_real));
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
                st.clip[nclip++] = (pg_eval_window){win[w].start, (int)(hi_t - win[w].start),
                                                    (int)(lo_t - win[w].start)};
        }
        rc = pg_score_windows(m, stream, lut, st.clip, nclip, B, r, per_token);
        /* train on the piece just scored, in sequences of at most seq_len */
        for (int ep = 0; rc == 0 && !pc[k].doc_last && ep < o->epochs; ep++)
            for (size_t s = pc[k].start; s < pc[k].end; s += (size_t)L) {
                int len = (int)(pc[k].end - s < (size_t)L ? pc[k].end - s : (size_t)L);
                for (int j = 0; j < len; j++) {
                    st.ids[j] = stream[s + (size_t)j];
                    st.tgt[j] = stream[s + (size_t)j + 1];
                }
                pg_acts_set_shape(&st.acts, 1, len);
                be->zero(lo->g, lo->n * sizeof(pg_real));
                pg_model_forward(m, &st.acts, st.ids, st.tgt);
                pg_model_backward(m, &st.acts, st.ids, st.tgt, st.grad, 1.0 / len);
                pg_adam_step(be, lo->p, lo->g, st.adam_m, st.adam_v, lo->n, &adam, o->lora_lr, ++t);
            }
        if (o->progress && rc == 0 && (k + 1 == st.npieces || (k + 1) % 64 == 0))
            fprintf(stderr, "ttt_chunk [%zu/%zu] bpb=%.6f time=%.1fs\n", k + 1, st.npieces,
                    pg_bpb(r->loss_sum, r->tokens, r->bytes), pg_now_seconds() - t0);
    }
    lora_state_free(m, &st);
    return rc;
}

int pg_ttt_run(pg_model *m, const uint16_t *stream, size_t n, const pg_bpb_lut *lut,
               const pg_eval_opts *eo, const pg_ttt_opts *o, pg_eval_result *r,
               double *per_token)
{
    if (o->optimizer == PG_TTT_PHASED) /* scores documents in its own schedule */
        return pg_ttt_phased_run(m, stream, n, lut, eo, o, r, per_token, NULL);
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
