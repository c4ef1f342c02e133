/* The evaluations a submission is scored by (DESIGN §5): the standard eval of the model
 * as it comes back from its artifact (the reference's roundtrip lines), then, as
 * configured, sliding windows and legal score-first TTT. The last one run is the claim.
 *
 * One definition for `pgolf run`'s eval stage, `pgolf package` and the box build's
 * train_gpt.py, so that all three run, print, log and claim the same evaluation: the
 * lines below are what train_gpt.py prints and what a packaged log carries. */
#ifndef PG_FINAL_EVAL_H
#define PG_FINAL_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/settings.h"
#include "common/text.h"
#include "kernels/eval.h"
#include "kernels/ttt.h"

typedef struct {
    long sliding_stride; /* RUN_SLIDING_STRIDE: 0 none, else a sliding eval at this stride */
    int ttt;             /* RUN_TTT: 1 adds legal score-first TTT (TTT_*) */
    long ttt_stride;     /* RUN_TTT_STRIDE: TTT's windows, 0 standard, else sliding */
    pg_ttt_opts ttt_opts;
} pg_final_opts;

/* RUN_SLIDING_STRIDE, RUN_TTT, RUN_TTT_STRIDE (final_eval.c); TTT_* are pg_ttt_settings. */
extern const pg_settings_table pg_final_settings;
#define PG_FINAL_TABLES 2
/* Both tables bound to o; returns PG_FINAL_TABLES. */
int pg_final_opts_bind(const pg_final_opts *o, pg_settings_bind b[PG_FINAL_TABLES]);
void pg_final_opts_default(pg_final_opts *o);
/* The strides must fit a window of seq_len. */
int pg_final_opts_check(const pg_final_opts *o, int seq_len);

typedef struct {
    pg_eval_result standard, sliding, ttt;
    double standard_s, sliding_s, ttt_s; /* wall seconds of each */
    long sliding_stride, ttt_stride;
    int has_sliding, has_ttt;
} pg_final_scores;

/* Runs the configured evaluations of m (left unchanged: TTT adapts a copy) on the val
 * stream. progress: lines on stderr. */
int pg_final_evals(const pg_model *m, const uint16_t *val, size_t nval, const pg_bpb_lut *lut,
                   const pg_final_opts *o, int progress, pg_final_scores *s);

/* The claimed evaluation (the last one run); *mode gets standard, sliding or ttt. */
const pg_eval_result *pg_final_claim(const pg_final_scores *s, const char **mode);

/* "<prefix>NAME=VALUE" lines, one per setting of the evaluations that applies: with
 * prefix "config:" a log says how to re-run them (pgolf verify --rerun reads them back). */
void pg_final_settings_lines(pg_text *t, const pg_final_opts *o, const char *prefix);

/* The reference-shaped score lines, in the order run: final_<scheme>_roundtrip(_exact),
 * final_<scheme>_sliding_window(_exact) and legal_ttt(_exact); the rounded lines carry
 * eval_time, the _exact lines only the scores. */
void pg_final_score_lines(pg_text *t, const char *scheme, const pg_final_scores *s);

#endif
