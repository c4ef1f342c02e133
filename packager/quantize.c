#include "packager/quantize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define INT8_CLIP_Q (99.99984 / 100.0)

static const char *const kNames[] = {"fp32", "fp16", "int8_row", "int6_row", "int5_row"};

const char *pg_qscheme_name(pg_qscheme s)
{
    return (unsigned)s < 5 ? kNames[s] : "?";
}

int pg_qscheme_parse(const char *name, pg_qscheme *s)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(name, kNames[i]) == 0) {
            *s = (pg_qscheme)i;
            return 0;
        }
    return pg_fail("unknown quantization scheme '%s'", name);
}

/* IEEE 754 binary16 conversions, round to nearest even. */
uint16_t pg_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
    if (exp == 0xff) /* inf / nan */
        return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 0x1f)
        return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10)
            return (uint16_t)sign;
        man |= 0x800000u;
        int shift = 14 - e;
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1)))
        half++; /* may carry into the exponent, which is still correct */
    return (uint16_t)(sign | half);
}

float pg_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, x;
    if (exp == 0) {
        if (man == 0) {
            x = sign;
        } else { /* subnormal: normalize */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 0x1f) {
        x = sign | 0x7f800000u | (man << 13);
    } else {
        x = sign | ((exp - 15 + 127) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

long pg_first_nonfinite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return (long)i;
    return -1;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

float pg_quantile(float *s, size_t n, double q)
{
    if (n == 0)
        return 0.0f;
    qsort(s, n, sizeof *s, cmp_float);
    /* torch computes the rank and the weight in the input dtype (float32) and lerps */
    float pos = (float)q * (float)(n - 1);
    size_t lo = (size_t)floorf(pos), hi = lo + 1 < n ? lo + 1 : lo;
    float w = pos - (float)lo, a = s[lo], b = s[hi];
    return w < 0.5f ? a + w * (b - a) : b - (b - a) * (1.0f - w);
}

static int qmax_of(pg_qscheme s)
{
    return s == PG_Q_INT8_ROW ? 127 : s == PG_Q_INT6_ROW ? 31 : 15;
}

size_t pg_qscheme_bytes(pg_qscheme s, size_t rows, size_t cols)
{
    switch (s) {
    case PG_Q_FP32: return 4 * rows * cols;
    case PG_Q_FP16: return 2 * rows * cols;
    default: return rows * cols + 2 * rows;
    }
}

/* q for one row with a float32 scale, clipped to +-clip and +-qmax. */
static void quantize_row(const float *w, size_t n, float clip, float scale, int qmax, int8_t *q)
{
    for (size_t j = 0; j < n; j++) {
        float c = w[j] < -clip ? -clip : w[j] > clip ? clip : w[j];
        float r = nearbyintf(c / scale);
        q[j] = (int8_t)(r < -qmax ? -qmax : r > qmax ? qmax : r);
    }
}

/* Candidate clips of the int6/int5 search, as quantiles of |w| in the row. */
static const double kClipQuantiles[] = {1.0, 0.9999, 0.999, 0.995, 0.99, 0.98};

int pg_quantize(pg_qscheme s, const float *w, size_t rows, size_t cols, uint8_t *out)
{
    if (s == PG_Q_FP32) {
        memcpy(out, w, 4 * rows * cols);
        return 0;
    }
    if (s == PG_Q_FP16) {
        for (size_t i = 0; i < rows * cols; i++) {
            uint16_t h = pg_f32_to_f16(w[i]);
            memcpy(out + 2 * i, &h, 2);
        }
        return 0;
    }
    int qmax = qmax_of(s);
    int8_t *q = (int8_t *)out;
    uint8_t *scales = out + rows * cols;
    float *absrow = malloc((cols ? cols : 1) * sizeof *absrow);
    int8_t *trial = malloc(cols ? cols : 1);
    if (!absrow || !trial) {
        free(absrow);
        free(trial);
        return pg_fail("out of memory quantizing a %zu x %zu tensor", rows, cols);
    }
    for (size_t r = 0; r < rows; r++) {
        const float *row = w + r * cols;
        for (size_t j = 0; j < cols; j++)
            absrow[j] = fabsf(row[j]);
        float best_scale = 1.0f / qmax;
        if (s == PG_Q_INT8_ROW) {
            float clip = pg_quantile(absrow, cols, INT8_CLIP_Q);
            float scale = fmaxf(clip / 127.0f, 1.0f / 127.0f);
            quantize_row(row, cols, clip, scale, 127, q + r * cols);
            best_scale = scale;
        } else {
            double best_err = INFINITY;
            for (size_t k = 0; k < sizeof kClipQuantiles / sizeof *kClipQuantiles; k++) {
                float clip = pg_quantile(absrow, cols, kClipQuantiles[k]);
                float scale = fmaxf(clip / (float)qmax, 1e-8f);
                float stored = pg_f16_to_f32(pg_f32_to_f16(scale));
                if (!(stored > 0))
                    continue;
                quantize_row(row, cols, clip, stored, qmax, trial);
                double err = 0;
                for (size_t j = 0; j < cols; j++) {
                    double d = (double)row[j] - (double)trial[j] * stored;
                    err += d * d;
                }
                if (err < best_err) {
                    best_err = err;
                    best_scale = stored;
                    memcpy(q + r * cols, trial, cols);
                }
            }
        }
        uint16_t h = pg_f32_to_f16(best_scale);
        memcpy(scales + 2 * r, &h, 2);
    }
    free(absrow);
    free(trial);
    return 0;
}

int pg_quantize_int8_tensor(const float *w, size_t n, int8_t *q, float *scale)
{
    float *a = malloc((n ? n : 1) * sizeof *a);
    if (!a)
        return pg_fail("out of memory quantizing a tensor of %zu values", n);
    for (size_t i = 0; i < n; i++)
        a[i] = fabsf(w[i]);
    float clip = pg_quantile(a, n, INT8_CLIP_Q);
    free(a);
    *scale = clip > 0 ? clip / 127.0f : 1.0f;
    quantize_row(w, n, clip, *scale, 127, q);
    return 0;
}

void pg_dequantize(pg_qscheme s, const uint8_t *in, size_t rows, size_t cols, float *w)
{
    if (s == PG_Q_FP32) {
        memcpy(w, in, 4 * rows * cols);
        return;
    }
    if (s == PG_Q_FP16) {
        for (size_t i = 0; i < rows * cols; i++) {
            uint16_t h;
            memcpy(&h, in + 2 * i, 2);
            w[i] = pg_f16_to_f32(h);
        }
        return;
    }
    const int8_t *q = (const int8_t *)in;
    for (size_t r = 0; r < rows; r++) {
        uint16_t h;
        memcpy(&h, in + rows * cols + 2 * r, 2);
        float scale = pg_f16_to_f32(h);
        for (size_t j = 0; j < cols; j++)
            w[r * cols + j] = (float)q[r * cols + j] * scale;
    }
}
