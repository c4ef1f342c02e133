#include "kernels/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/progress.h"

size_t pg_eval_total_targets(size_t n, int seq_len)
{
    return n < 2 || seq_len < 1 ? 0 : ((n - 1) / (size_t)seq_len) * (size_t)seq_len;
}

double pg_bpb(double loss_sum, double tokens, double bytes)
{
    double val_loss = loss_sum / tokens;
    return (val_loss / log(2.0)) * (tokens / bytes);
}

int pg_eval_windows(const pg_eval_opts *o, size_t total, pg_eval_window **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    size_t L = (size_t)o->seq_len;
    if (o->seq_len < 1)
        return pg_fail("eval seq_len must be >= 1 (got %d)", o->seq_len);
    if (o->mode == PG_EVAL_SLIDING && (o->stride < 1 || o->stride > o->seq_len))
        return pg_fail("sliding stride %d must be in [1, seq_len=%d]", o->stride, o->seq_len);
    if (o->mode == PG_EVAL_DOCUMENTS) {
        if (o->pack < 0 || (size_t)(o->pack ? o->pack : 1) * L > (1u << 20))
            return pg_fail("documents eval: %d windows of %d per packed sequence is out of range",
                           o->pack, o->seq_len);
        L *= (size_t)(o->pack ? o->pack : 1); /* one packed sequence per window */
    }
    size_t step = o->mode == PG_EVAL_SLIDING ? (size_t)o->stride : L;
    size_t cap = total / step + 2;
    pg_eval_window *w = malloc(cap * sizeof *w);
    if (!w)
        return pg_fail("out of memory for %zu eval windows", cap);
    size_t n = 0;
    if (o->mode == PG_EVAL_DOCUMENTS && o->ranks >= 1) {
        /* rank r scores windows [total_w r / R, total_w (r+1) / R) of seq_len, in whole
         * packs only */
        size_t seq = (size_t)o->seq_len, pack = L / seq, tw = total / seq;
        for (size_t r = 0; r < (size_t)o->ranks; r++) {
            size_t s0 = tw * r / (size_t)o->ranks, s1 = tw * (r + 1) / (size_t)o->ranks;
            for (size_t k = s0; k + pack <= s1; k += pack)
                w[n++] = (pg_eval_window){k * seq, (int)L, 0};
        }
        *out = w;
        *count = n;
        return 0;
    }
    for (size_t ws = 0; ws < total; ws += step) {
        size_t len = total - ws < L ? total - ws : L;
        size_t from = ws == 0 || o->mode != PG_EVAL_SLIDING ? 0 : L - step;
        if (from >= len)
            break;
        w[n++] = (pg_eval_window){ws, (int)len, (int)from};
    }
    *out = w;
    *count = n;
    return 0;
}

int pg_eval_check_stream(const pg_model *m, const uint16_t *stream, size_t n,
                         const pg_bpb_lut *lut, int seq_len, size_t *total)
{
    *total = pg_eval_total_targets(n, seq_len);
    if (*total == 0)
        return pg_fail("validation stream of %zu tokens is too short for seq_len %d", n, seq_len);
    if (lut->size < m->cfg.vocab_size)
        return pg_fail("BPB table covers %d ids, the model has %d", lut->size, m->cfg.vocab_size);
    if (lut->sidecar && lut->sidecar_n < *total + 1)
        return pg_fail("the byte sidecar holds %zu counts, the stream's targets need %zu",
                       lut->sidecar_n, *total + 1);
    for (size_t i = 0; i <= *total; i++)
        if (stream[i] >= m->cfg.vocab_size)
            return pg_fail("validation token %u at %zu is >= model vocab %d", stream[i], i,
                           m->cfg.vocab_size);
    return 0;
}

static int score_windows(const pg_model *m, const uint16_t *stream, const pg_bpb_lut *lut,
                         const pg_eval_window *win, size_t nwin, int batch, int bf16,
                         pg_eval_result *r, double *per_token);

int pg_score_windows(const pg_model *m, const uint16_t *stream, const pg_bpb_lut *lut,
                     const pg_eval_window *win, size_t nwin, int batch, pg_eval_result *r,
                     double *per_token)
{
    return score_windows(m, stream, lut, win, nwin, batch, 0, r, per_token);
}

static int score_windows(const pg_model *m, const uint16_t *stream, const pg_bpb_lut *lut,
                         const pg_eval_window *win, size_t nwin, int batch, int bf16,
                         pg_eval_result *r, double *per_token)
{
    if (nwin == 0)
        return 0;
    int B = batch > 0 ? batch : 1, T = 0;
    for (size_t i = 0; i < nwin; i++)
        T = win[i].len > T ? win[i].len : T;
    pg_acts a;
    int *ids = malloc((size_t)B * T * sizeof *ids), *tgt = malloc((size_t)B * T * sizeof *tgt);
    double *losses = malloc((size_t)B * T * sizeof *losses); /* the batch's, on the host */
    if (!ids || !tgt || !losses || pg_acts_create(&a, m, B, T, 0) != 0) {
        free(ids);
        free(tgt);
        free(losses);
        return pg_fail("out of memory for an eval batch of %dx%d", B, T);
    }
    pg_acts_set_bf16(&a, bf16);
    for (size_t w0 = 0; w0 < nwin;) {
        /* a batch holds consecutive windows of one length */
        int len = win[w0].len, nb = 0;
        while (w0 + (size_t)nb < nwin && nb < B && win[w0 + (size_t)nb].len == len)
            nb++;
        pg_acts_set_shape(&a, nb, len);
        for (int b = 0; b < nb; b++)
            for (int j = 0; j < len; j++) {
                size_t p = win[w0 + (size_t)b].start + (size_t)j;
                ids[b * len + j] = stream[p];
                tgt[b * len + j] = stream[p + 1];
            }
        pg_model_forward(m, &a, ids, tgt);
        m->be->to_host(losses, a.losses, (size_t)nb * len * sizeof *losses);
        for (int b = 0; b < nb; b++) {
            const pg_eval_window *w = &win[w0 + (size_t)b];
            for (int j = w->score_from; j < len; j++) {
                size_t p = w->start + (size_t)j;
                double l = losses[b * len + j];
                r->loss_sum += l;
                r->tokens += 1;
                r->bytes += pg_bpb_target_bytes(lut, stream, p);
                if (per_token)
                    per_token[p] = l;
            }
        }
        w0 += (size_t)nb;
    }
    r->windows += nwin;
    pg_acts_free(&a);
    free(ids);
    free(tgt);
    free(losses);
    return 0;
}

const char *pg_eval_mode_name(int mode)
{
    return mode == PG_EVAL_SLIDING ? "sliding" : mode == PG_EVAL_DOCUMENTS ? "documents" : "standard";
}

void pg_doc_spans(const int *ids, int n, int bos, int max_len, int *span)
{
    int start = 0;
    for (int t = 0; t < n; t++) {
        if (t > 0 && ids[t] == bos)
            start = t;
        else if (t - start >= max_len)
            start += max_len; /* the next piece of a long document */
        span[t] = start;
    }
}

/* Documents mode: one packed sequence per window, its attention masked to the
 * documents' pieces; every target scored. */
static int score_documents(const pg_model *m, const uint16_t *stream, const pg_bpb_lut *lut,
                           const pg_eval_window *win, size_t nwin, int max_len, int bf16,
                           pg_eval_result *r, double *per_token)
{
    int T = 0;
    for (size_t i = 0; i < nwin; i++)
        T = win[i].len > T ? win[i].len : T;
    if (nwin == 0)
        return 0;
    pg_acts a;
    int *ids = malloc((size_t)T * sizeof *ids), *tgt = malloc((size_t)T * sizeof *tgt);
    int *span = malloc((size_t)T * sizeof *span);
    double *losses = malloc((size_t)T * sizeof *losses);
    if (!ids || !tgt || !span || !losses || pg_acts_create(&a, m, 1, T, 0) != 0) {
        free(ids);
        free(tgt);
        free(span);
        free(losses);
        return pg_fail("out of memory for a packed eval sequence of %d", T);
    }
    pg_acts_set_bf16(&a, bf16);
    for (size_t w = 0; w < nwin; w++) {
        int len = win[w].len;
        pg_acts_set_shape(&a, 1, len);
        for (int j = 0; j < len; j++) {
            ids[j] = stream[win[w].start + (size_t)j];
            tgt[j] = stream[win[w].start + (size_t)j + 1];
        }
        pg_doc_spans(ids, len, m->cfg.bos_id, max_len, span);
        pg_acts_set_spans(&a, span);
        pg_model_forward(m, &a, ids, tgt);
        m->be->to_host(losses, a.losses, (size_t)len * sizeof *losses);
        for (int j = 0; j < len; j++) {
            size_t p = win[w].start + (size_t)j;
            r->loss_sum += losses[j];
            r->tokens += 1;
            r->bytes += pg_bpb_target_bytes(lut, stream, p);
            if (per_token)
                per_token[p] = losses[j];
        }
    }
    r->windows += nwin;
    pg_acts_free(&a);
    free(ids);
    free(tgt);
    free(span);
    free(losses);
    return 0;
}

int pg_eval_finish(pg_eval_result *r)
{
    if (!(r->bytes > 0))
        return pg_fail("scored text has 0 bytes: val_bpb is undefined");
    r->val_loss = r->loss_sum / r->tokens;
    r->val_bpb = pg_bpb(r->loss_sum, r->tokens, r->bytes);
    if (!isfinite(r->val_loss))
        return pg_fail("val_loss is %g over %.0f tokens: the model's losses are not finite "
                       "(NaN or Inf weights)", r->val_loss, r->tokens);
    return 0;
}

int pg_eval_run(const pg_model *m, const uint16_t *stream, size_t n, const pg_bpb_lut *lut,
                const pg_eval_opts *o, pg_eval_result *r, double *per_token)
{
    memset(r, 0, sizeof *r);
    size_t total;
    if (pg_eval_check_stream(m, stream, n, lut, o->seq_len, &total) != 0)
        return -1;
    pg_eval_window *win;
    size_t nwin;
    if (pg_eval_windows(o, total, &win, &nwin) != 0)
        return -1;
    pg_model rounded; /* the bf16 mode scores a bf16-rounded copy */
    if (o->bf16) {
        if (pg_model_clone(&rounded, m) != 0) {
            free(win);
            return -1;
        }
        pg_model_round_bf16(&rounded);
        m = &rounded;
    }
    pg_progress prog;
    if (o->progress)
        pg_progress_start(&prog, o->mode == PG_EVAL_SLIDING     ? "eval sliding"
                                 : o->mode == PG_EVAL_DOCUMENTS ? "eval documents"
                                                                : "eval",
                          "windows", nwin);
    /* score in slices so progress can be shown between them */
    size_t slice = o->progress ? 64 * (size_t)(o->batch > 0 ? o->batch : 1) : nwin;
    int rc = 0;
    for (size_t w0 = 0; w0 < nwin && rc == 0; w0 += slice) {
        size_t k = nwin - w0 < slice ? nwin - w0 : slice;
        rc = o->mode == PG_EVAL_DOCUMENTS
                 ? score_documents(m, stream, lut, win + w0, k, o->seq_len, o->bf16, r, per_token)
                 : score_windows(m, stream, lut, win + w0, k, o->batch, o->bf16, r, per_token);
        if (o->progress && rc == 0) {
            char extra[64];
            snprintf(extra, sizeof extra, "loss %.4f", r->loss_sum / r->tokens);
            pg_progress_update(&prog, w0 + k, extra);
        }
    }
    free(win);
    if (o->bf16)
        pg_model_free(&rounded);
    if (rc == 0)
        rc = pg_eval_finish(r);
    if (o->progress && rc == 0) {
        char extra[64];
        snprintf(extra, sizeof extra, "loss %.4f", r->val_loss);
        pg_progress_finish(&prog, extra);
    }
    return rc;
}
