/* The reference's optimizers (DESIGN §4): Adam for the embedding and the scalar group,
 * Muon (momentum, Nesterov, Newton-Schulz-5 orthogonalization, shape scale) for the 2-D
 * block matrices; optional global grad-norm clipping. State is laid out like the
 * parameters so checkpoints store it as whole arrays. */
#ifndef PG_OPTIM_H
#define PG_OPTIM_H

#include "kernels/model.h"

typedef struct {
    double embed_lr, matrix_lr, scalar_lr; /* TIED_EMBED_LR, MATRIX_LR, SCALAR_LR */
    double beta1, beta2, adam_eps;         /* BETA1, BETA2, ADAM_EPS */
    int ns_steps;                          /* MUON_BACKEND_STEPS */
    double grad_clip;                      /* GRAD_CLIP_NORM, 0 = off */
} pg_optim_config;

typedef struct {
    pg_real *adam_m, *adam_v; /* Adam moments (embedding and scalar groups) */
    pg_real *muon_buf;        /* Muon momentum (matrix group) */
    long step;                /* optimizer steps taken (Adam bias correction) */
    size_t n;
    pg_real *scratch;         /* Newton-Schulz workspace */
} pg_optim;

int pg_optim_create(pg_optim *o, const pg_model *m);
void pg_optim_free(pg_optim *o);

/* One step: lr = group lr * lr_scale, Muon momentum `momentum`. Clips grad in place
 * when configured. Returns the gradient's global L2 norm before clipping. */
double pg_optim_step(pg_optim *o, pg_model *m, pg_real *grad, const pg_optim_config *c,
                     double lr_scale, double momentum);

/* Orthogonalizes X [rows][cols] in place: X/(||X||_F + 1e-7), transposed when
 * rows > cols, then `steps` iterations of X <- aX + (bA + cA^2)X with A = X X^T and
 * (a, b, c) = (3.4445, -4.7750, 2.0315). scratch holds 3*m*m + 3*m*n reals for
 * m = min(rows, cols), n = max(rows, cols). */
void pg_newton_schulz5(pg_real *x, int rows, int cols, int steps, pg_real *scratch);

#endif
