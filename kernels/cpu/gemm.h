/* The CPU reference's one matrix product: every matmul-shaped op (linear layers, the
 * attention's score and value products, Newton-Schulz) calls pg_gemm.
 *
 * C[M][N] = alpha * op(A) op(B) + beta * C, row-major, where op(A) is M x K (A itself,
 * or A^T when ta) and op(B) is K x N (B, or B^T when tb); lda, ldb and ldc are row
 * strides. C is cut into tiles of PG_GEMM_ROWS rows and up to PG_GEMM_COLS columns, and
 * each tile is one single-threaded BLAS call (CBLAS over OpenBLAS; cblas_dgemm in the
 * double build) of exactly PG_GEMM_ROWS rows: a last, shorter row tile is computed
 * zero-padded. So the BLAS sees the same call shapes whatever the thread count and
 * whatever M is, and a row of C gets the same bits from 1 or many threads, alone or in
 * any batch (a BLAS may pick another kernel for another shape; pgolf's causality audit
 * and sliding windows rely on a row's bits not depending on the rows around it). N and
 * K must be the same for every call of an op whose rows vary (a layer's widths). The
 * bits are those of the machine's OpenBLAS kernels: another CPU family may differ in
 * the last bits. */
#ifndef PG_GEMM_H
#define PG_GEMM_H

#include "kernels/real.h"

enum { PG_GEMM_ROWS = 256, PG_GEMM_COLS = 256 };

void pg_gemm(int ta, int tb, int M, int N, int K, pg_real alpha, const pg_real *A, int lda,
             const pg_real *B, int ldb, pg_real beta, pg_real *C, int ldc);

/* The same tiles without the padding, for products whose row count never changes
 * between calls of an op (Newton-Schulz on one matrix, a weight gradient's out_dim rows):
 * the same bits for any thread count. */
void pg_gemm_fixed(int ta, int tb, int M, int N, int K, pg_real alpha, const pg_real *A, int lda,
                   const pg_real *B, int ldb, pg_real beta, pg_real *C, int ldc);

/* The same product as one single-threaded BLAS call, untiled: for callers whose shapes
 * are fixed blocks already (the attention's), inside their own parallel loop. */
void pg_gemm_block(int ta, int tb, int M, int N, int K, pg_real alpha, const pg_real *A, int lda,
                   const pg_real *B, int ldb, pg_real beta, pg_real *C, int ldc);

/* The hand-written product instead of the BLAS (1), or the BLAS (0, the default): for
 * `make bench`'s before/after figures. The box build uses it where the machine has no
 * OpenBLAS pthreads build. */
void pg_gemm_use_portable(int on);

/* Which products the CPU backend computes with, for its description. */
const char *pg_gemm_describe(void);

#endif
