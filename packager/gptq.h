/* The April records' export quantization (DESIGN §11), in float32 as their code runs it on
 * the CPU, with LAPACK (OpenBLAS) for the factorizations:
 *
 *  GPTQ with an SD clip: w [rows][cols] becomes signed `bits`-bit integers with one
 *    float16 scale per row, clip_sigmas * std(row) / (2^(bits-1) - 1) (unbiased std).
 *    Columns are visited in decreasing order of the Hessian's diagonal (dead columns, a
 *    zero diagonal, get 1 there and are zeroed in w), H is damped by 1% of its mean
 *    diagonal, and each column's rounding error is spread over the later columns through
 *    the upper Cholesky factor of H^-1, 128 columns at a time.
 *  LQER: the quantization error E = w - q scale of the tensors with the largest |E|_F gets
 *    a rank-r correction A B (A = U_r S_r, B = V_r^T from E's SVD), stored quantized:
 *    asymmetric (A int2 in [-2, 1] with one scale |A|max / 1.5, B int4 in [-8, 7] with a
 *    scale |g|max / 7.5 per group of `group` consecutive values) or per-row symmetric.
 *    Each singular pair's sign is pgolf's choice (the records leave it to the GPU's
 *    SVD): the largest-magnitude entry of B's row is positive. */
#ifndef PG_GPTQ_H
#define PG_GPTQ_H

#include <stdint.h>

/* q [rows][cols] in the original column order, scale [rows] float16 bits. Fails (message)
 * when out of memory or when the damped Hessian is not positive definite. */
int pg_gptq_quantize(const float *w, int rows, int cols, const float *H, double clip_sigmas,
                     int bits, int8_t *q, uint16_t *scale);

/* A [rows][r], B [r][cols] with r = min(rank, rows, cols) (returned). -1: out of memory
 * or the SVD failed (message). */
int pg_lqer_factors(const float *E, int rows, int cols, int rank, float *A, float *B);

/* The asymmetric packing: qa [rows*r], *sa, qb [r*cols], sb [r*cols/group]. */
void pg_lqer_pack_asym(const float *A, const float *B, int rows, int r, int cols, int group,
                       int8_t *qa, uint16_t *sa, int8_t *qb, uint16_t *sb);
/* The symmetric packing at `bits` bits: per-row scales sa [rows], sb [r]. */
void pg_lqer_pack_sym(const float *A, const float *B, int rows, int r, int cols, int bits,
                      int8_t *qa, uint16_t *sa, int8_t *qb, uint16_t *sb);

#endif
