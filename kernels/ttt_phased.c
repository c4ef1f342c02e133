/* The records' test-time training (TTT_OPTIMIZER=phased): per-document LoRA TTT over
 * chunks and global SGD phases on already-scored documents, in pgolf's canonical
 * schedule (ttt.h says it in full). Only calls the backend table through the model. */
#include "kernels/ttt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/progress.h"
#include "kernels/optim.h"

typedef struct {
    size_t start, len; /* from its BOS to the next BOS inclusive (or the stream's end) */
} doc_span;

typedef struct {
    int *docs; /* indices into the documents, in length order */
    int n, orig, max_chunks;
    size_t max_len;
} doc_batch;

typedef struct {
    int orig, pos; /* where a scored document sat: its batch (length order) and slot */
    int doc;
} scored_doc;

typedef struct {
    pg_model *m;
    const pg_ttt_opts *o;
    const uint16_t *stream;
    size_t total; /* targets */
    const pg_bpb_lut *lut;
    int seq_len;  /* the global phases' sequences (the eval's seq_len) */
    doc_span *docs;
    int ndocs;
    size_t to_score; /* the documents' targets */
    doc_batch *queue;
    int nbatches;
    /* the adapters of the document in hand, their AdamW moments, one pass's buffers */
    pg_lora lo;
    pg_real *adam_m, *adam_v, *grad;
    pg_acts acts;
    int *ids, *tgt;
    double *losses;
    pg_real **warm; /* [ranks][batch_size] a slot's adapters after its last batch */
    int *warm_phase;
    /* results */
    pg_eval_result *r;
    double *per_token;
    uint64_t *order;
} phased;

/* ---- documents and the queue ---- */

static int find_docs(phased *s, int bos)
{
    size_t n = s->total + 1, nb = 0;
    for (size_t i = 0; i < n; i++)
        nb += s->stream[i] == bos;
    if (nb == 0)
        return pg_fail("the phased TTT scores documents, and the stream holds no BOS_ID=%d", bos);
    s->docs = malloc(nb * sizeof *s->docs);
    if (!s->docs)
        return pg_fail("out of memory for %zu documents", nb);
    for (size_t i = 0; i < n; i++) {
        if (s->stream[i] != bos)
            continue;
        size_t e = i + 1;
        while (e < n && s->stream[e] != bos)
            e++;
        size_t len = e < n ? e + 1 - i : n - i;
        if (len >= 2) { /* a final lone BOS has no target */
            s->docs[s->ndocs++] = (doc_span){i, len};
            s->to_score += len - 1;
        }
    }
    return 0;
}

static const doc_span *g_sort_docs; /* qsort has no context argument in C11 */

static int by_length(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    size_t li = g_sort_docs[i].len, lj = g_sort_docs[j].len;
    return li != lj ? (li < lj ? -1 : 1) : (i > j) - (i < j); /* stable */
}

static int longest_first(const void *a, const void *b)
{
    const doc_batch *x = a, *y = b;
    if (x->max_len != y->max_len)
        return x->max_len > y->max_len ? -1 : 1;
    return (x->orig > y->orig) - (x->orig < y->orig);
}

static int chunks_of(const phased *s, const doc_span *d)
{
    size_t C = (size_t)s->o->chunk_size;
    return (int)((d->len - 1 + C - 1) / C);
}

static int build_queue(phased *s, int **sorted_out)
{
    int *sorted = malloc((size_t)s->ndocs * sizeof *sorted);
    int B = s->o->batch_size;
    s->nbatches = (s->ndocs + B - 1) / B;
    s->queue = calloc((size_t)s->nbatches, sizeof *s->queue);
    if (!sorted || !s->queue) {
        free(sorted);
        return pg_fail("out of memory for the TTT schedule");
    }
    for (int i = 0; i < s->ndocs; i++)
        sorted[i] = i;
    g_sort_docs = s->docs;
    qsort(sorted, (size_t)s->ndocs, sizeof *sorted, by_length);
    for (int b = 0; b < s->nbatches; b++) {
        doc_batch *q = &s->queue[b];
        q->docs = sorted + (size_t)b * B;
        q->n = s->ndocs - b * B < B ? s->ndocs - b * B : B;
        q->orig = b;
        for (int i = 0; i < q->n; i++) {
            const doc_span *d = &s->docs[q->docs[i]];
            q->max_len = d->len > q->max_len ? d->len : q->max_len;
            int nc = chunks_of(s, d);
            q->max_chunks = nc > q->max_chunks ? nc : q->max_chunks;
        }
    }
    qsort(s->queue, (size_t)s->nbatches, sizeof *s->queue, longest_first);
    *sorted_out = sorted;
    return 0;
}

/* ---- one document's LoRA TTT ---- */

/* The seed of A for a (kind, a, b, c) key: kind 1 = (phase, rank, slot) of a warm slot,
 * kind 2 = (queue entry, slot, 0) of a fresh draw. */
static uint64_t a_seed(long seed, uint64_t kind, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t k = (uint64_t)seed;
    const uint64_t mul = 1000003ULL;
    k = k * 31 + kind;
    k = k * mul + a;
    k = k * mul + b;
    return k * mul + c;
}

/* The chunk's window: inputs [ws, ws + wl) of the document; its targets are the window's
 * positions [off, off + clen). */
typedef struct {
    long ws;
    int wl, off, clen;
} chunk_window;

static chunk_window window_of(const phased *s, int ci, int nc, size_t pred)
{
    size_t C = (size_t)s->o->chunk_size, L = (size_t)s->o->eval_seq_len;
    size_t cs = (size_t)ci * C, ce = ci == nc - 1 ? pred : cs + C;
    long ws = ce > L ? (long)(ce - L) : 0;
    if (s->o->leak == PG_LEAK_CROSS_DOC) /* planted: context from before the document */
        ws = (long)ce - (long)L;
    chunk_window w = {ws, (int)((long)ce - ws), (int)((long)cs - ws), (int)(ce - cs)};
    return w;
}

/* A forward of the document's window; the chunk's targets scored when `score` */
static void doc_forward(phased *s, const doc_span *d, chunk_window w, int score, uint64_t key)
{
    long first = (long)d->start + w.ws;
    if (first < 0) { /* the planted cross-document leak near the stream's start */
        w.wl += (int)first;
        w.off += (int)first;
        first = 0;
    }
    for (int j = 0; j < w.wl; j++) {
        s->ids[j] = s->stream[(size_t)first + (size_t)j];
        s->tgt[j] = s->stream[(size_t)first + (size_t)j + 1];
    }
    pg_acts_set_shape(&s->acts, 1, w.wl);
    pg_acts_set_loss_from(&s->acts, w.off);
    pg_model_forward(s->m, &s->acts, s->ids, s->tgt);
    if (!score)
        return;
    s->m->be->to_host(s->losses, s->acts.losses, (size_t)w.wl * sizeof *s->losses);
    for (int j = w.off; j < w.off + w.clen; j++) {
        size_t p = (size_t)first + (size_t)j;
        s->r->loss_sum += s->losses[j];
        s->r->tokens += 1;
        s->r->bytes += pg_bpb_target_bytes(s->lut, s->stream, p);
        if (s->per_token)
            s->per_token[p] = s->losses[j];
        if (s->order)
            s->order[p] = key;
    }
}

/* One AdamW step of the adapters (decoupled decay, then Adam with eps 1e-10) */
static void adamw_step(phased *s, long t)
{
    const pg_ttt_opts *o = s->o;
    const pg_backend *be = s->m->be;
    if (o->weight_decay > 0)
        be->scale(s->lo.p, s->lo.n, 1.0 - o->lora_lr * o->weight_decay);
    pg_adam_config c = {o->beta1, o->beta2, 1e-10};
    pg_adam_step(be, s->lo.p, s->lo.g, s->adam_m, s->adam_v, s->lo.n, &c, o->lora_lr, t);
}

/* Scores document d (slot `slot` of a batch whose longest runs max_chunks chunks) and
 * trains its adapters; key0 is the schedule's place of the batch's first chunk. */
static void run_doc(phased *s, const doc_span *d, int max_chunks, uint64_t key0)
{
    const pg_backend *be = s->m->be;
    size_t pred = d->len - 1;
    int nc = chunks_of(s, d);
    be->zero(s->adam_m, s->lo.n * sizeof(pg_real));
    be->zero(s->adam_v, s->lo.n * sizeof(pg_real));
    long t = 0;
    for (int ci = 0; ci < max_chunks; ci++) {
        int trains = ci < nc - 1, steps = ci < max_chunks - 1;
        chunk_window w = ci < nc ? window_of(s, ci, nc, pred) : (chunk_window){0, 0, 0, 0};
        double dloss = 1.0 / (double)s->o->chunk_size;
        if (ci < nc && !(trains && s->o->leak == PG_LEAK_TRAIN_FIRST))
            doc_forward(s, d, w, 1, key0 + (uint64_t)ci);
        if (!steps)
            continue;
        for (int gi = 0; gi < s->o->grad_steps; gi++) {
            be->zero(s->lo.g, s->lo.n * sizeof(pg_real));
            if (trains) {
                if (gi > 0 || s->o->leak == PG_LEAK_TRAIN_FIRST)
                    doc_forward(s, d, w, 0, 0);
                pg_model_backward(s->m, &s->acts, s->ids, s->tgt, s->grad, dloss);
            }
            adamw_step(s, ++t);
        }
        if (trains && s->o->leak == PG_LEAK_TRAIN_FIRST) /* planted: scored after training */
            doc_forward(s, d, w, 1, key0 + (uint64_t)ci);
    }
}

/* The adapters a document starts from: a warm slot's A (B zeroed) or a fresh draw */
static int doc_adapters(phased *s, int q, int rank, int slot, int full, int phase)
{
    const pg_ttt_opts *o = s->o;
    if (o->warm_start_a && full) {
        size_t w = (size_t)rank * (size_t)o->batch_size + (size_t)slot;
        if (s->warm[w] && s->warm_phase[w] == phase) {
            s->m->be->copy(s->lo.p, s->warm[w], s->lo.n * sizeof(pg_real));
            pg_lora_zero_b(&s->lo, s->m);
            return 0;
        }
        return pg_lora_reset(&s->lo, s->m, a_seed(o->lora_seed, 1, (uint64_t)phase,
                                                  (uint64_t)rank, (uint64_t)slot));
    }
    return pg_lora_reset(&s->lo, s->m, a_seed(o->lora_seed, 2, (uint64_t)q, (uint64_t)slot, 0));
}

static int keep_warm(phased *s, int rank, int slot, int phase)
{
    size_t w = (size_t)rank * (size_t)s->o->batch_size + (size_t)slot;
    if (!s->warm[w] && !(s->warm[w] = s->m->be->alloc(s->lo.n * sizeof(pg_real))))
        return pg_fail("out of memory keeping warm adapters");
    s->m->be->copy(s->warm[w], s->lo.p, s->lo.n * sizeof(pg_real));
    s->warm_phase[w] = phase;
    return 0;
}

static int run_batch(phased *s, int q, int phase, uint64_t key0)
{
    const doc_batch *b = &s->queue[q];
    int rank = q % s->o->ranks, full = b->n == s->o->batch_size;
    for (int i = 0; i < b->n; i++) {
        if (doc_adapters(s, q, rank, i, full, phase) != 0)
            return -1;
        run_doc(s, &s->docs[b->docs[i]], b->max_chunks, key0);
        if (s->o->warm_start_a && full && keep_warm(s, rank, i, phase) != 0)
            return -1;
    }
    return 0;
}

/* ---- a global phase: SGD of the whole model on scored documents ---- */

static int by_place(const void *a, const void *b)
{
    const scored_doc *x = a, *y = b;
    if (x->orig != y->orig)
        return (x->orig > y->orig) - (x->orig < y->orig);
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static double phase_lr(const pg_ttt_opts *o, int ci, int nchunks)
{
    int wc = o->global_warmup_chunks < nchunks - 1 ? o->global_warmup_chunks : nchunks - 1;
    wc = wc > 0 ? wc : 0;
    if (wc > 0 && ci < wc)
        return o->global_warmup_start_lr +
               (o->global_lr - o->global_warmup_start_lr) * ci / (double)(wc > 1 ? wc - 1 : 1);
    int decay = nchunks - 1 - wc > 1 ? nchunks - 1 - wc : 1;
    int dci = ci - wc > 0 ? ci - wc : 0;
    return o->global_lr * 0.5 * (1.0 + cos(M_PI * dci / decay));
}

typedef struct {
    pg_real *grad, *buf;
    pg_grad_span all;
    pg_acts acts;
    int *ids, *tgt, *span;
    int cap; /* tokens the buffers hold */
} phase_state;

static void phase_free(const pg_backend *be, phase_state *p)
{
    be->free(p->grad);
    be->free(p->buf);
    if (p->acts.buf)
        pg_acts_free(&p->acts);
    free(p->ids);
    free(p->tgt);
    free(p->span);
}

/* One rank's share of a step: the mean loss over tokens[start, start + nt], its gradient
 * scaled by 1 / ranks into p->grad */
static void phase_rank_grad(phased *s, phase_state *p, const uint16_t *tok, size_t start,
                            int nt)
{
    const pg_ttt_opts *o = s->o;
    int L = s->seq_len, masked = o->global_doc_masked;
    for (int j = 0; j < nt; j++) {
        p->ids[j] = tok[start + (size_t)j];
        p->tgt[j] = tok[start + (size_t)j + 1];
    }
    /* doc-masked: one packed row cut at each BOS and every seq_len; else rows of seq_len */
    pg_acts_set_shape(&p->acts, masked ? 1 : nt / L, masked ? nt : L);
    if (masked)
        pg_doc_spans(p->ids, nt, s->m->cfg.bos_id, L, p->span);
    pg_acts_set_spans(&p->acts, masked ? p->span : NULL);
    pg_model_forward(s->m, &p->acts, p->ids, p->tgt);
    pg_model_backward(s->m, &p->acts, p->ids, p->tgt, p->grad, 1.0 / ((double)o->ranks * nt));
}

static int run_phase(phased *s, const scored_doc *sd, int count)
{
    const pg_ttt_opts *o = s->o;
    pg_model *m = s->m;
    const pg_backend *be = m->be;
    size_t ntok = 0;
    for (int i = 0; i < count; i++)
        ntok += s->docs[sd[i].doc].len;
    uint16_t *tok = malloc((ntok ? ntok : 1) * sizeof *tok);
    if (!tok)
        return pg_fail("out of memory for a phase's %zu tokens", ntok);
    size_t at = 0;
    for (int i = 0; i < count; i++) {
        const doc_span *d = &s->docs[sd[i].doc];
        memcpy(tok + at, s->stream + d->start, d->len * sizeof *tok);
        at += d->len;
    }
    int L = s->seq_len, W = o->ranks, BS = o->global_batch_seqs;
    size_t G = (size_t)o->global_chunk_tokens, total = ntok > 0 ? ntok - 1 : 0;
    int nchunks = (int)((total + G - 1) / G);
    phase_state p = {0};
    int share = (int)((G / (size_t)L + (size_t)W - 1) / (size_t)W); /* a rank's most sequences */
    p.cap = (share < BS ? (share > 0 ? share : 1) : BS) * L;
    p.all = (pg_grad_span){0, m->num_params};
    p.grad = be->alloc(m->num_params * sizeof(pg_real));
    p.buf = be->alloc(m->num_params * sizeof(pg_real));
    p.ids = malloc((size_t)p.cap * sizeof *p.ids);
    p.tgt = malloc((size_t)p.cap * sizeof *p.tgt);
    p.span = malloc((size_t)p.cap * sizeof *p.span);
    int rc = 0;
    if (!p.grad || !p.buf || !p.ids || !p.tgt || !p.span)
        rc = pg_fail("out of memory for a global TTT phase");
    else if (o->global_doc_masked ? pg_acts_create(&p.acts, m, 1, p.cap, 1)
                                  : pg_acts_create(&p.acts, m, p.cap / L, L, 1))
        rc = -1;
    if (rc == 0)
        be->zero(p.buf, m->num_params * sizeof(pg_real));
    for (int ci = 0; rc == 0 && ci < nchunks - 1; ci++) { /* the last chunk is not trained */
        size_t cs = (size_t)ci * G, ce = cs + G < total ? cs + G : total;
        int seqs = (int)((ce - cs) / (size_t)L), longest = 0;
        if (seqs <= 0)
            continue;
        for (int r = 0; r < W; r++) {
            int mine = seqs * (r + 1) / W - seqs * r / W;
            longest = mine > longest ? mine : longest;
        }
        double lr = phase_lr(o, ci, nchunks);
        for (int ep = 0; ep < o->global_epochs; ep++)
            for (int bs = 0; bs < longest; bs += BS) {
                be->zero(p.grad, m->num_params * sizeof(pg_real));
                int ranks_in = 0;
                for (int r = 0; r < W; r++) {
                    int my_s = seqs * r / W, mine = seqs * (r + 1) / W - my_s;
                    if (bs >= mine)
                        continue; /* this rank has no batch: it adds nothing */
                    int be_ = bs + BS < mine ? bs + BS : mine;
                    size_t st = cs + (size_t)(my_s + bs) * L, en = cs + (size_t)(my_s + be_) * L + 1;
                    if (en > ntok)
                        continue;
                    phase_rank_grad(s, &p, tok, st, (int)(en - st - 1));
                    ranks_in++;
                }
                if (ranks_in == 0) /* torch's SGD steps no tensor without a gradient */
                    continue;
                pg_clip_grad(be, p.grad, &p.all, 1, o->global_grad_clip);
                be->sgd_update(m->params, p.grad, p.buf, m->num_params,
                               (pg_real)o->global_momentum, (pg_real)lr);
            }
    }
    phase_free(be, &p);
    free(tok);
    return rc;
}

/* The scored documents a phase trains on: the first `boundary` in (batch, slot) order, or
 * with the planted leak the stream's first documents, scored or not. */
static int phase_docs(phased *s, const scored_doc *sd, int nscored, int boundary,
                      scored_doc *pick)
{
    if (s->o->leak == PG_LEAK_PHASE_UNSCORED) {
        for (int i = 0; i < boundary; i++)
            pick[i] = (scored_doc){0, i, i};
        return boundary;
    }
    memcpy(pick, sd, (size_t)nscored * sizeof *pick);
    qsort(pick, (size_t)nscored, sizeof *pick, by_place);
    return boundary < nscored ? boundary : nscored;
}

/* ---- the evaluation ---- */

static void phased_free(phased *s)
{
    const pg_backend *be = s->m->be;
    s->m->lora = NULL;
    if (s->acts.buf)
        pg_acts_free(&s->acts);
    for (int i = 0; s->warm && i < s->o->ranks * s->o->batch_size; i++)
        be->free(s->warm[i]);
    free(s->warm);
    free(s->warm_phase);
    be->free(s->adam_m);
    be->free(s->adam_v);
    be->free(s->grad);
    free(s->ids);
    free(s->tgt);
    free(s->losses);
    free(s->docs);
    free(s->queue);
    pg_lora_free(&s->lo);
}

static int phased_create(phased *s)
{
    pg_model *m = s->m;
    const pg_ttt_opts *o = s->o;
    const pg_backend *be = m->be;
    int L = o->eval_seq_len;
    pg_lora_spec spec = {.rank = o->lora_rank, .k = o->k_lora, .o = o->o_lora,
                         .mlp = o->mlp_lora, .head = 1, .scale = o->lora_alpha / o->lora_rank};
    if (pg_lora_create(&s->lo, m, &spec, L) != 0)
        return -1;
    m->lora = &s->lo; /* attached before the activations, which size its workspace */
    size_t slots = (size_t)o->ranks * (size_t)o->batch_size;
    s->adam_m = be->alloc(s->lo.n * sizeof(pg_real));
    s->adam_v = be->alloc(s->lo.n * sizeof(pg_real));
    s->grad = be->alloc(m->num_params * sizeof(pg_real)); /* the frozen base's, unused */
    s->ids = malloc((size_t)L * sizeof *s->ids);
    s->tgt = malloc((size_t)L * sizeof *s->tgt);
    s->losses = malloc((size_t)L * sizeof *s->losses);
    s->warm = o->warm_start_a ? calloc(slots, sizeof *s->warm) : NULL;
    s->warm_phase = o->warm_start_a ? calloc(slots, sizeof *s->warm_phase) : NULL;
    if (!s->adam_m || !s->adam_v || !s->grad || !s->ids || !s->tgt || !s->losses ||
        (o->warm_start_a && (!s->warm || !s->warm_phase)))
        return pg_fail("out of memory for the phased TTT (rank %d)", o->lora_rank);
    return pg_acts_create(&s->acts, m, 1, L, 1);
}

int pg_ttt_phased_run(pg_model *m, const uint16_t *stream, size_t n, const pg_bpb_lut *lut,
                      const pg_eval_opts *eo, const pg_ttt_opts *o, pg_eval_result *r,
                      double *per_token, uint64_t *order)
{
    memset(r, 0, sizeof *r);
    phased s = {.m = m, .o = o, .stream = stream, .lut = lut, .seq_len = eo->seq_len,
                .r = r, .per_token = per_token, .order = order};
    if (pg_eval_check_stream(m, stream, n, lut, eo->seq_len, &s.total) != 0)
        return -1;
    if (o->eval_seq_len < o->chunk_size)
        return pg_fail("TTT_EVAL_SEQ_LEN=%d must be at least TTT_CHUNK_SIZE=%d (a chunk's "
                       "window holds the chunk)", o->eval_seq_len, o->chunk_size);
    for (size_t i = 0; i < s.total; i++) {
        if (per_token)
            per_token[i] = 0;
        if (order)
            order[i] = UINT64_MAX;
    }
    int *sorted = NULL, rc = find_docs(&s, m->cfg.bos_id);
    if (rc == 0)
        rc = build_queue(&s, &sorted);
    if (rc == 0)
        rc = phased_create(&s);
    int W = o->ranks, phase = 0, nscored = 0, boundary_hit = 0;
    int prefix = o->prefix_docs < s.ndocs ? o->prefix_docs : s.ndocs;
    int done = prefix == 0;
    scored_doc *sd = rc == 0 ? malloc(((size_t)s.ndocs + 1) * sizeof *sd) : NULL;
    scored_doc *pick = rc == 0 ? malloc(((size_t)s.ndocs + 1) * sizeof *pick) : NULL;
    if (rc == 0 && (!sd || !pick))
        rc = pg_fail("out of memory for the scored documents");
    uint64_t key = 0;
    double t0 = pg_now_seconds();
    for (int q0 = 0; rc == 0 && q0 < s.nbatches; q0 += W) {
        int q1 = q0 + W < s.nbatches ? q0 + W : s.nbatches;
        for (int q = q0; rc == 0 && q < q1; q++) {
            rc = run_batch(&s, q, phase, key);
            key += (uint64_t)s.queue[q].max_chunks;
            if (rc != 0 || done)
                continue;
            for (int i = 0; i < s.queue[q].n; i++)
                sd[nscored++] = (scored_doc){s.queue[q].orig, i, s.queue[q].docs[i]};
            boundary_hit |= nscored >= prefix * (phase + 1) / o->num_phases;
        }
        if (rc == 0 && boundary_hit && !done && q1 < s.nbatches) {
            int boundary = prefix * (phase + 1) / o->num_phases;
            int count = phase_docs(&s, sd, nscored, boundary, pick);
            m->lora = NULL; /* the phase trains the base model alone */
            rc = run_phase(&s, pick, count);
            m->lora = &s.lo;
            if (o->progress)
                fprintf(stderr, "ttpp: phase:%d/%d gd:%d t:%.1fs\n", phase + 1, o->num_phases,
                        count, pg_now_seconds() - t0);
            phase++; /* every rank's slots draw afresh */
            done = phase >= o->num_phases;
            boundary_hit = 0;
        }
        if (o->progress && rc == 0) {
            double dt = pg_now_seconds() - t0;
            fprintf(stderr, "ttp: b%d/%d rb:%.6f %.0f tokens/s t:%.1fs ETA %.0fs\n", q1,
                    s.nbatches, r->bytes > 0 ? pg_bpb(r->loss_sum, r->tokens, r->bytes) : 0.0,
                    dt > 0 ? r->tokens / dt : 0.0, dt,
                    r->tokens > 0 ? dt / r->tokens * ((double)s.to_score - r->tokens) : 0.0);
        }
    }
    free(sd);
    free(pick);
    free(sorted);
    phased_free(&s);
    return rc == 0 ? pg_eval_finish(r) : rc;
}
