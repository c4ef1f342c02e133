/* The training optimizers: Adam (AdamW with a decay) for the embedding and the scalar
 * group, Muon (momentum, Nesterov, Newton-Schulz orthogonalization, shape scale) for the
 * 2-D block matrices, optional global grad-norm clipping, and optionally the weights'
 * EMA. The March reference (DESIGN §4) runs classic Newton-Schulz-5 and no decay; the
 * April records run MuonEq-R (rows normalized), Polar Express coefficients, decoupled
 * decays (p *= 1 - lr wd before each update, lr the group's scheduled lr) and an EMA
 * updated after every step. State is laid out like the parameters so checkpoints store
 * it as whole arrays. */
#ifndef PG_OPTIM_H
#define PG_OPTIM_H

#include "kernels/model.h"

typedef struct {
    double embed_lr, matrix_lr, scalar_lr; /* TIED_EMBED_LR, MATRIX_LR, SCALAR_LR */
    double beta1, beta2, adam_eps;         /* BETA1, BETA2, ADAM_EPS */
    pg_muon_ns ns;                         /* MUON_BACKEND_STEPS, MUON_NS_COEFFS, MUON_ROW_NORMALIZE */
    double grad_clip;                      /* GRAD_CLIP_NORM, 0 = off */
    double embed_wd, muon_wd, adam_wd;     /* EMBED_WD, MUON_WD, ADAM_WD (decoupled) */
    double ema_decay;                      /* EMA_DECAY, 0 = no EMA */
} pg_optim_config;

typedef struct {
    const pg_backend *be;
    pg_real *adam_m, *adam_v; /* Adam moments (embedding and scalar groups) */
    pg_real *muon_buf;        /* Muon momentum (matrix group) */
    pg_real *ema;             /* the weights' EMA (NULL without one) */
    long step;                /* optimizer steps taken (Adam bias correction) */
    size_t n;
    pg_real *scratch;         /* Muon's workspace (the largest matrix's) */
} pg_optim;

/* With `ema`, room for the weights' EMA, which pg_optim_ema_start sets to the model's
 * current weights. */
int pg_optim_create(pg_optim *o, const pg_model *m, int ema);
void pg_optim_ema_start(pg_optim *o, const pg_model *m);
void pg_optim_free(pg_optim *o);

/* One step: lr = group lr * lr_scale, Muon momentum `momentum`. Clips grad in place
 * when configured; decays, updates, then moves the EMA when there is one. Returns the
 * gradient's global L2 norm before clipping. */
double pg_optim_step(pg_optim *o, pg_model *m, pg_real *grad, const pg_optim_config *c,
                     double lr_scale, double momentum);

/* ---- the updates every optimizer of pgolf is made of (training and every TTT variant) ---- */

/* A range of a gradient array (a tensor, or the whole array). */
typedef struct {
    size_t offset, numel;
} pg_grad_span;

/* Global L2 norm over the spans (summed in their order), then, when max_norm > 0 and the
 * norm exceeds it, every span scaled by max_norm / (norm + 1e-6). Returns the norm. */
double pg_clip_grad(const pg_backend *be, pg_real *grad, const pg_grad_span *spans, int nspans,
                    double max_norm);

typedef struct {
    double beta1, beta2, eps;
} pg_adam_config;

/* Adam's update of n parameters at optimizer step `step` (1-based, for bias correction). */
void pg_adam_step(const pg_backend *be, pg_real *p, const pg_real *g, pg_real *m, pg_real *v,
                  size_t n, const pg_adam_config *c, double lr, long step);

/* Muon's learning rate for a [rows][cols] matrix: lr * max(1, rows/cols)^0.5. */
pg_real pg_muon_lr(double lr, int rows, int cols);

#endif
