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

enum { PG_TTT_SGD = 0, PG_TTT_MUON = 1, PG_TTT_LORA = 2, PG_TTT_PHASED = 3 };

/* Planted leaks, for the audits' tests only (no setting reaches them): a chunk trained
 * before it is scored; a phase that trains on the first documents of the stream, scored
 * or not; windows that reach back into the previous document. */
enum { PG_LEAK_NONE = 0, PG_LEAK_TRAIN_FIRST, PG_LEAK_PHASE_UNSCORED, PG_LEAK_CROSS_DOC };

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
    /* TTT_OPTIMIZER=phased (ttt_phased.c): the records' evaluation; LoRA rank and lr
     * are TTT_LORA_RANK and TTT_LORA_LR */
    int chunk_size;        /* TTT_CHUNK_SIZE, 48: targets scored, then trained on */
    int eval_seq_len;      /* TTT_EVAL_SEQ_LEN, 2048: the longest window of a chunk */
    int batch_size;        /* TTT_BATCH_SIZE, 64 documents */
    int grad_steps;        /* TTT_GRAD_STEPS, 1 */
    double weight_decay;   /* TTT_WEIGHT_DECAY, 1 (AdamW, decoupled) */
    double beta1, beta2;   /* TTT_BETA1 0, TTT_BETA2 0.999 (AdamW eps 1e-10) */
    int k_lora, o_lora, mlp_lora; /* TTT_K_LORA, TTT_O_LORA, TTT_MLP_LORA: 1 */
    double lora_alpha;     /* TTT_LORA_ALPHA, 144: adapters scaled by alpha / rank */
    int warm_start_a;      /* TTT_WARM_START_A, 1: a rank's slots keep A across batches */
    long lora_seed;        /* TTT_LORA_SEED: pgolf's draws of A */
    int ranks;             /* TTT_RANKS, 8: the ranks the schedule emulates */
    int prefix_docs;       /* PHASED_TTT_PREFIX_DOCS, 2000 (0: no global phase) */
    int num_phases;        /* PHASED_TTT_NUM_PHASES, 1 */
    double global_lr;      /* GLOBAL_TTT_LR, 0.001 */
    double global_momentum; /* GLOBAL_TTT_MOMENTUM, 0.9 */
    int global_epochs;     /* GLOBAL_TTT_EPOCHS, 1 */
    int global_chunk_tokens; /* GLOBAL_TTT_CHUNK_TOKENS, 32768 */
    int global_batch_seqs; /* GLOBAL_TTT_BATCH_SEQS, 32 (per rank) */
    double global_warmup_start_lr; /* GLOBAL_TTT_WARMUP_START_LR, 0 */
    int global_warmup_chunks; /* GLOBAL_TTT_WARMUP_CHUNKS, 0 */
    double global_grad_clip; /* GLOBAL_TTT_GRAD_CLIP, 1 */
    int global_doc_masked; /* GLOBAL_TTT_RESPECT_DOC_BOUNDARIES, 1 */
    int progress;          /* ttt_chunk progress lines on stderr */
    int leak;              /* PG_LEAK_*: tests only */
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

/* The records' evaluation (TTT_OPTIMIZER=phased, ttt_phased.c; DESIGN §11):
 * - Documents run from each BOS to the next one inclusive. Sorted by length (stable),
 *   they are cut into batches of TTT_BATCH_SIZE; the queue takes the batches longest
 *   first (ties in batch order).
 * - Canonical schedule: queue entry q belongs to rank q mod TTT_RANKS and the ranks move
 *   in rounds of TTT_RANKS entries. After each batch its documents join the scored set;
 *   once that set reaches the phase's boundary (PHASED_TTT_PREFIX_DOCS * (i+1) /
 *   PHASED_TTT_NUM_PHASES), a phase runs after the round ends (every rank finishes the
 *   batch it holds): SGD of the whole model on the first `boundary` scored documents in
 *   (batch, position) order, concatenated, doc-masked, with the gradient averaged over
 *   the emulated ranks' shares; then every rank's adapters are drawn afresh. At most one
 *   phase per round; none after the last batch (it could change no score).
 * - Each document's targets are cut into chunks of TTT_CHUNK_SIZE; chunk c is scored in a
 *   window of at most TTT_EVAL_SEQ_LEN tokens of its own document ending at the chunk's
 *   end, then (unless it is the document's last) the document's adapters take one AdamW
 *   step on the chunk's mean loss. Every document of a batch steps while any has a later
 *   chunk (a zero gradient for the others: weight decay still moves them), so a warm
 *   A carries exactly what the records' batched adapters carry.
 * - Adapters: q, v, head and as set k, o, mlp, rank TTT_LORA_RANK, scale alpha/rank. A is
 *   drawn by pgolf's generator from TTT_LORA_SEED and (phase, rank, slot) when warm
 *   started (full batches only), else from (queue entry, slot); B starts at zero.
 * Documents are independent in float32, so each is run alone (the records batch them).
 * order (may be NULL) gets each target's place in the schedule: targets with a smaller
 * value were scored earlier; UINT64_MAX for targets before the first BOS (not scored). */
int pg_ttt_phased_run(pg_model *m, const uint16_t *stream, size_t n, const pg_bpb_lut *lut,
                      const pg_eval_opts *eo, const pg_ttt_opts *o, pg_eval_result *r,
                      double *per_token, uint64_t *order);

/* Scores the stream with legal TTT, adapting m in place (pass a copy). per_token (may be
 * NULL) gets each target's loss; r gets the post-TTT numbers. */
int pg_ttt_run(pg_model *m, const uint16_t *stream, size_t n, const pg_bpb_lut *lut,
               const pg_eval_opts *eo, const pg_ttt_opts *o, pg_eval_result *r,
               double *per_token);

#endif
