/* Training with the reference's loop (DESIGN §4): schedule, optimizers, data order,
 * periodic validation, log lines in the reference's shapes, atomic checkpoints and
 * bit-identical resume.
 *
 * Files in the output directory:
 *   train.log   the log (also echoed to stdout); appended to on resume
 *   state.ckpt  the training checkpoint (model + optimizer state + data position)
 *   final.ckpt  the trained model (model tensors only), written at the end */
#ifndef PG_TRAIN_H
#define PG_TRAIN_H

#include <signal.h>
#include "common/dist.h"
#include "kernels/backend.h"
#include "train/hparams.h"

typedef struct {
    const char *out_dir;
    /* NULL: out_dir/train.log, state.ckpt and final.ckpt. Set (the reference's RUN_ID):
     * out_dir/RUN_ID.txt, RUN_ID_state.ckpt and RUN_ID_final.ckpt. */
    const char *run_id;
    int resume;   /* continue from the state checkpoint when it exists */
    int force;    /* replace an earlier run's files instead of refusing */
    int progress; /* live bar on stderr when it is a terminal */
    int quiet;    /* log to train.log only, not to stdout */
    /* called after every optimizer step with rank 0's train loss (may be NULL) */
    void (*on_step)(void *ctx, long step, double train_loss);
    void *ctx;
    /* when set (e.g. by a SIGINT handler), training saves state.ckpt after the current step
     * and fails with "interrupted" (may be NULL) */
    volatile sig_atomic_t *stop;
    /* the processes of a launched run (NULL: one process, which emulates WORLD_SIZE ranks);
     * rank 0 logs, validates and writes checkpoints, every rank trains on its data slice */
    pg_dist *dist;
    /* where the model trains (NULL: the CPU); checkpoints are the same on every backend */
    const pg_backend *backend;
} pg_train_opts;

/* Fails (message) on bad inputs, a non-finite loss (the last good state.ckpt is kept),
 * or I/O errors. Files of an earlier run (log, state, final checkpoint) are never replaced
 * unless resume (continue it) or force (start over) says so. */
int pg_train(const pg_hparams *h, const pg_train_opts *o);

/* The training time cap in ms: MAX_WALLCLOCK_SECONDS less GPTQ_RESERVE_SECONDS; -1
 * without a cap. */
double pg_train_cap_ms(const pg_hparams *h);
/* The fraction of training done before `step`: of the wall clock when a cap is set
 * (elapsed / pg_train_cap_ms), else of the steps (step / ITERATIONS), as the records
 * count it. */
double pg_train_frac(const pg_hparams *h, long step, double elapsed_ms);
/* lr multiplier. With WARMDOWN_FRAC, the records': 1, then over the last WARMDOWN_FRAC
 * of training (pg_train_frac) max((1 - frac) / WARMDOWN_FRAC, MIN_LR). Otherwise the
 * March reference's: linear warmdown over the last WARMDOWN_ITERS steps, or by wall clock
 * (remaining / (warmdown_iters * avg step)) when a cap is set. */
double pg_lr_scale(const pg_hparams *h, long step, double elapsed_ms);
/* Whether the NUM_LOOPS recurrence runs at `step`: from ENABLE_LOOPING_AT of training on. */
int pg_loops_on(const pg_hparams *h, long step, double elapsed_ms);
/* Muon momentum warm-up from MUON_MOMENTUM_WARMUP_START to MUON_MOMENTUM. */
double pg_muon_momentum(const pg_hparams *h, long step);

#endif
