/* Legal score-first test-time training (DESIGN §5).
 *
 * The scored stream is cut into chunks of TTT_CHUNK_TOKENS targets; each eval window
 * belongs to the chunk of its first scored target. For chunk i in order: (1) its
 * windows are scored with the current weights, no gradients; (2) unless it is the last
 * chunk, the model trains on the chunk's seq_len sequences for TTT_EPOCHS epochs in
 * batches of TTT_BATCH_SEQS, with grad-norm clipping, the first TTT_FREEZE_BLOCKS
 * blocks frozen and lr = TTT_LR * 0.5 * (1 + cos(pi * i / (n - 1))). So a token is
 * always scored before any update that has seen it.
 *
 * Optimizers: SGD with momentum (the seeds' recipe), or Muon for the block matrices
 * (LaCT, usually with TTT_EPOCHS=2 TTT_LR=0.02: Newton-Schulz updates; the other tensors
 * keep SGD). Variants: per-layer lr multipliers (MLP output, input projections) and
 * cosine decay within a chunk's epochs.
 *
 * LoRA TTT (TTT_OPTIMIZER=lora): the base weights stay fixed; rank-r adapters on every
 * block's Q and V projections are trained with Adam on each piece of TTT_LORA_CHUNK
 * targets after it is scored, and reset at every document (each BOS). */
#ifndef PG_TTT_H
#define PG_TTT_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <jansson.h>

#include "common/settings.h"
#include "kernels/model.h"
#include "kernels/eval.h"

enum { PG_TTT_SGD = 0, PG_TTT_MUON = 1, PG_TTT_LORA = 2 };

typedef struct {
    int chunk_tokens;      /* TTT_CHUNK_TOKENS, 32768 */
    int epochs;            /* TTT_EPOCHS, 3 */
    double lr;             /* TTT_LR, 0.002 */
    double momentum;       /* TTT_MOMENTUM, 0.9 */
    int batch_seqs;        /* TTT_BATCH_SEQS, 32 */
    double grad_clip;      /* TTT_GRAD_CLIP, 1.0 (0 = off) */
    int freeze_blocks;     /* TTT_FREEZE_BLOCKS, 2 */
    int optimizer;         /* TTT_OPTIMIZER: sgd | muon | lora */
    int lora_rank;         /* TTT_LORA_RANK, 8 */
    double lora_lr;        /* TTT_LORA_LR (Adam), 0.001 */
    double lora_beta1;     /* TTT_LORA_BETA1, 0.9 */
    double lora_beta2;     /* TTT_LORA_BETA2, 0.999 */
    double lora_eps;       /* TTT_LORA_EPS, 1e-8 */
    int lora_chunk;        /* TTT_LORA_CHUNK, 256 */
    int cosine_epochs;     /* TTT_COSINE_EPOCHS: also decay over a chunk's epochs */
    double mlp_out_mult;   /* TTT_MLP_OUT_LR_MULT: lr x for mlp.proj.weight, 1 */
    double in_proj_mult;   /* TTT_IN_PROJ_LR_MULT: lr x for c_q/c_k/c_v/fc, 1 */
    int progress;          /* ttt_chunk progress lines on stderr */
} pg_ttt_opts;

/* TTT_OPTIMIZER, TTT_LR, ...: one row per setting (ttt_settings.c). */
extern const pg_settings_table pg_ttt_settings;

/* The table's defaults; progress off. */
void pg_ttt_opts_default(pg_ttt_opts *o);
/* One TTT_* setting from text (range-checked); the environment's TTT_* names. */
int pg_ttt_set(pg_ttt_opts *o, const char *name, const char *value);
int pg_ttt_from_env(pg_ttt_opts *o);
/* {"TTT_OPTIMIZER": "lora", ...}: the optimizer and the settings it reads, typed. */
json_t *pg_ttt_report(const pg_ttt_opts *o);

/* The building blocks, public so tests can also assemble illegal orders. */
typedef struct pg_ttt_state pg_ttt_state;
pg_ttt_state *pg_ttt_begin(pg_model *m, const pg_ttt_opts *o);
void pg_ttt_end(pg_ttt_state *s);
/* Trains on targets [start, end) of the stream (whole seq_len sequences from start). */
int pg_ttt_train_span(pg_ttt_state *s, const uint16_t *stream, size_t n, size_t start,
                      size_t end, int seq_len, double lr);
/* lr of chunk ci of n. */
double pg_ttt_chunk_lr(const pg_ttt_opts *o, int ci, int n);

/* Scores the stream with legal TTT, adapting m in place (pass a copy). per_token (may be
 * NULL) gets each target's loss; r gets the post-TTT numbers. */
int pg_ttt_run(pg_model *m, const uint16_t *stream, size_t n, const pg_bpb_lut *lut,
               const pg_eval_opts *eo, const pg_ttt_opts *o, pg_eval_result *r,
               double *per_token);

#endif
