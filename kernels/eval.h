/* Validation scoring (DESIGN §5): val_loss (mean token cross-entropy in nats) and
 * val_bpb = (val_loss / ln 2) * (tokens / bytes), sums in float64.
 *
 * The validation stream is the val tokens truncated to ((N-1)//seq_len)*seq_len + 1;
 * it holds `total = ((N-1)//seq_len)*seq_len` targets: target i is stream[i+1] predicted
 * after stream[..i]. */
#ifndef PG_EVAL_H
#define PG_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/model.h"
#include "dataset/tokenizer.h"

/* Standard: non-overlapping windows. Sliding: overlapping windows, each target scored
 * once. Documents: the records' document-packed diagnostic eval (DESIGN §11): `pack`
 * consecutive windows make one packed sequence whose attention is masked to documents
 * (cut at each BOS and every seq_len tokens from a document's start); every target
 * scored once. */
enum { PG_EVAL_STANDARD = 0, PG_EVAL_SLIDING = 1, PG_EVAL_DOCUMENTS = 2 };

typedef struct {
    int mode;    /* PG_EVAL_* */
    int seq_len; /* window length (eval seq len) */
    int stride;  /* sliding only: 1..seq_len */
    int batch;   /* windows per forward pass */
    int pack;    /* documents only: windows per packed sequence (0: 1) */
    int ranks;   /* documents only: >= 1 splits the windows over that many ranks as the
                    records' loop does, each rank's last partial pack left out; 0 scores
                    every window (the last pack may be partial) */
    int bf16;    /* the bf16 mode (pg_acts_set_bf16) on a bf16-rounded copy of the model;
                    0: float32 */
    int progress; /* print progress on stderr */
} pg_eval_opts;

typedef struct {
    double loss_sum, tokens, bytes;
    double val_loss, val_bpb;
    size_t windows;
} pg_eval_result;

/* One window of the stream: the model sees stream[start .. start+len) and its losses at
 * window positions [score_from, len) are scored (targets start+score_from .. start+len-1). */
typedef struct {
    size_t start;
    int len, score_from;
} pg_eval_window;

/* Windows of a mode over `total` targets; every target is scored exactly once.
 * Standard: [k*L, (k+1)*L) scoring all. Sliding with stride s: starts 0, s, 2s, ...;
 * window 0 scores all it sees, window ws > 0 scores [ws+L-s, min(ws+L, total)), and a
 * window is kept while that range is non-empty. */
int pg_eval_windows(const pg_eval_opts *o, size_t total, pg_eval_window **out, size_t *count);

/* Scores windows with the model as it is, adding loss, token and byte sums into r (and
 * each target's loss into per_token when not NULL). Windows are batched `batch` at a
 * time when they have the same length. */
int pg_score_windows(const pg_model *m, const uint16_t *stream, const pg_bpb_lut *lut,
                     const pg_eval_window *w, size_t nw, int batch, pg_eval_result *r,
                     double *per_token);

/* val_loss and val_bpb from r's sums; fails when no bytes were scored. */
int pg_eval_finish(pg_eval_result *r);

/* Checks a stream against the model and LUT, returning its number of targets. */
int pg_eval_check_stream(const pg_model *m, const uint16_t *stream, size_t n,
                         const pg_bpb_lut *lut, int seq_len, size_t *total);

/* Number of targets of a raw val stream of n tokens at seq_len. */
size_t pg_eval_total_targets(size_t n, int seq_len);

/* Scores the stream. per_token (may be NULL, length total targets) receives each
 * target's loss. Fails on bad options or a stream too short for one window. */
int pg_eval_run(const pg_model *m, const uint16_t *stream, size_t n, const pg_bpb_lut *lut,
                const pg_eval_opts *o, pg_eval_result *r, double *per_token);

/* The document spans of one packed sequence of n ids (the records' cu_seqlens): a
 * document begins at 0 and at every `bos`, and is cut every max_len tokens from its
 * start; span[t] is the first position of t's piece. */
void pg_doc_spans(const int *ids, int n, int bos, int max_len, int *span);

/* The eval's name for logs and JSON: "standard", "sliding" or "documents". */
const char *pg_eval_mode_name(int mode);

/* val_bpb from sums: (loss_sum / tokens / ln 2) * (tokens / bytes). */
double pg_bpb(double loss_sum, double tokens, double bytes);

#endif
