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
 * cases (baseline only when `baseline`), appending a row per op output. set_bf16, when
 * not NULL, switches dev's linear layers to bf16 for a second pass over them. Returns -1
 * (message) when out of memory. */
int pg_selftest_ops(const pg_backend *ref, const pg_backend *dev, int baseline,
                    void (*set_bf16)(int on), pg_selftest_report *r);
void pg_selftest_report_free(pg_selftest_report *r);

#endif
