/* Every op of a backend against the CPU reference on the same random inputs: the
 * differences per op and shape, against the tolerance each must meet (pgolf selftest). */
#ifndef PG_SELFTEST_H
#define PG_SELFTEST_H

#include <stddef.h>

#include "kernels/backend.h"

typedef struct {
    char op[40];
    char shape[24];   /* "tiny" or "baseline" (9x512-shaped: dim 512, 8 heads, vocab 1024) */
    char mode[8];     /* "fp32" or "bf16" (the linear layers' precision) */
    double max_abs;   /* max |dev - ref| over the op's outputs */
    double max_rel;   /* max_abs / max |ref| */
    double tol;       /* the bound on max_rel */
    int pass;
} pg_selftest_row;

typedef struct {
    pg_selftest_row *rows;
    int n, cap;
    int failures;
} pg_selftest_report;

/* Runs every op of dev against ref (the CPU backend) on the tiny and baseline-shaped
 * cases (baseline only when `baseline`), appending a row per op output. set_bf16 (the
 * backend's linear_bf16), when not NULL, puts dev's linear layers in float32 for the
 * parity rows, then in bf16 for a second pass over them, and restores the mode. Returns -1
 * (message) when out of memory. */
int pg_selftest_ops(const pg_backend *ref, const pg_backend *dev, int baseline,
                    int (*set_bf16)(int on), pg_selftest_report *r);
/* The whole model on dev against ref, appended to r: a tiny config (3 layers, so a U-Net
 * skip, GQA) and, with `baseline`, the 9x512 baseline at sequence length 256. Rows: the
 * forward's loss and logits, the backward's gradient, 5 optimizer steps (Muon and Adam,
 * their last loss and the parameters after), and one legal-TTT chunk (SGD over a chunk,
 * the parameters after and the next loss); with set_bf16 the forward and backward again
 * in bf16. Returns -1 (message) when out of memory. */
int pg_selftest_model(const pg_backend *ref, const pg_backend *dev, int baseline,
                      int (*set_bf16)(int on), pg_selftest_report *r);
void pg_selftest_report_free(pg_selftest_report *r);

/* Appends a row: max_abs over the outputs and scale = max |ref| (max_rel = their ratio)
 * against tol. Returns -1 when out of memory. */
int pg_selftest_add(pg_selftest_report *r, const char *op, const char *shape, const char *mode,
                    double max_abs, double scale, double tol);
/* max |got - ref| (NaN propagates) and max |ref| over n host reals. */
void pg_selftest_diff(const pg_real *ref, const pg_real *got, size_t n, double *max_abs,
                      double *scale);

/* The bounds on max_rel: float32 parity (reordered float sums); iterated updates
 * (Newton-Schulz and Muon amplify rounding over five iterations); bf16 linear layers
 * (bf16 inputs, float32 accumulation) on values, and on gradients. */
#define PG_SELFTEST_TOL_FP32 1e-5
#define PG_SELFTEST_TOL_ITER 1e-4
#define PG_SELFTEST_TOL_BF16 2e-2
#define PG_SELFTEST_TOL_BF16_GRAD 5e-2

#endif
