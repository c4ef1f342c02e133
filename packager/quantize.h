/* Quantization schemes of the artifact (DESIGN §6). Every scheme stores integers and
 * scales; dequantization is exactly q * scale with the stored (fp16) scale.
 *
 *  int8_row  the reference's export: per row, clip at the 99.99984th percentile of |w|
 *            (linear interpolation, as torch.quantile), scale = max(clip/127, 1/127)
 *            kept as fp16, q = clamp(round_half_even(clamp(w, +-clip) / scale), +-127)
 *            with the float32 scale, as the reference computes it
 *  int6_row, int5_row  per row, |q| <= 31 / 15; each row's clip is chosen from a few
 *            candidates (GPTQ-lite) by the reconstruction error with the fp16 scale
 *  fp16      kept as IEEE half (the reference keeps tensors of <= 65,536 elements so)
 *  fp32      kept exactly (control tensors: scales, mixes, gains, skip weights) */
#ifndef PG_QUANTIZE_H
#define PG_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PG_Q_FP32 = 0, PG_Q_FP16, PG_Q_INT8_ROW, PG_Q_INT6_ROW, PG_Q_INT5_ROW } pg_qscheme;

const char *pg_qscheme_name(pg_qscheme s);
int pg_qscheme_parse(const char *name, pg_qscheme *s);

uint16_t pg_f32_to_f16(float f);
float pg_f16_to_f32(uint16_t h);

/* The index of the first NaN or infinity in x[0..n), or -1: weights that would make
 * every score meaningless are refused where models are packed or imported. */
long pg_first_nonfinite(const float *x, size_t n);

/* The q-quantile of x[0..n) (linear interpolation), as torch.quantile; sorts x. */
float pg_quantile(float *x, size_t n, double q);

/* Bytes a tensor of rows x cols takes under a scheme (integers + scales). */
size_t pg_qscheme_bytes(pg_qscheme s, size_t rows, size_t cols);

/* Quantizes w [rows][cols] into out (pg_qscheme_bytes long): for the row schemes the
 * int8 values row by row, then the fp16 scales; for fp16/fp32 the values. Fails (message)
 * only when out of memory. */
int pg_quantize(pg_qscheme s, const float *w, size_t rows, size_t cols, uint8_t *out);
/* The reference's per-tensor int8 export of a tensor that is not a matrix: clip at the
 * 99.99984th percentile of |w| over all n values, one float32 scale clip/127 (1 when
 * the clip is 0) in *scale, q[0..n) = clamp(round_half_even(clamp(w, +-clip) / scale),
 * +-127). Fails (-1, message) only when out of memory. */
int pg_quantize_int8_tensor(const float *w, size_t n, int8_t *q, float *scale);

/* The exact inverse of the stored integers and scales. */
void pg_dequantize(pg_qscheme s, const uint8_t *in, size_t rows, size_t cols, float *w);

#endif
