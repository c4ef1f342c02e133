#include "packager/gptq.h"

#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "packager/quantize.h"

/* LAPACK's Fortran interface (OpenBLAS); the trailing arguments are the lengths of the
 * character arguments, which gfortran-built routines expect. */
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t);
void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t);
void sgesdd_(const char *jobz, const int *m, const int *n, float *a, const int *lda, float *s,
             float *u, const int *ldu, float *vt, const int *ldvt, float *work, const int *lwork,
             int *iwork, int *info, size_t);

#define GPTQ_BLOCK 128

/* The unbiased standard deviation (in double, as torch accumulates a float tensor's). */
static float row_std(const float *x, int n)
{
    double mean = 0, ss = 0;
    for (int i = 0; i < n; i++)
        mean += x[i];
    mean /= n;
    for (int i = 0; i < n; i++)
        ss += ((double)x[i] - mean) * ((double)x[i] - mean);
    return (float)sqrt(ss / (n - 1));
}

static const float *g_diag; /* qsort's key: the damped diagonal */

/* decreasing diagonal; ties in index order */
static int by_diag_desc(const void *pa, const void *pb)
{
    int a = *(const int *)pa, b = *(const int *)pb;
    if (g_diag[a] != g_diag[b])
        return g_diag[a] > g_diag[b] ? -1 : 1;
    return a - b;
}

/* The upper Cholesky factor of the inverse of the damped, permuted Hessian, column-major
 * in u [n][n] (U(i, j) = u[i + j n] for i <= j), as torch's cholesky, cholesky_inverse and
 * cholesky(upper) compute it with LAPACK. */
static int inverse_factor(const float *H, const int *perm, int n, float *u)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++)
            u[i + (size_t)j * n] = H[(size_t)perm[i] * n + perm[j]];
    int info = 0;
    spotrf_("L", &n, u, &n, &info, 1);
    if (info == 0)
        spotri_("L", &n, u, &n, &info, 1);
    if (info != 0)
        return pg_fail("GPTQ: the damped Hessian (%d x %d) is not positive definite (LAPACK "
                       "info %d)", n, n, info);
    for (int j = 0; j < n; j++) /* H^-1 symmetric: its lower triangle mirrored */
        for (int i = j + 1; i < n; i++)
            u[j + (size_t)i * n] = u[i + (size_t)j * n];
    spotrf_("U", &n, u, &n, &info, 1);
    if (info != 0)
        return pg_fail("GPTQ: the inverse Hessian (%d x %d) is not positive definite (LAPACK "
                       "info %d)", n, n, info);
    return 0;
}

int pg_gptq_quantize(const float *w, int rows, int cols, const float *H, double clip_sigmas,
                     int bits, int8_t *q, uint16_t *scale)
{
    size_t R = (size_t)rows, C = (size_t)cols;
    float *h = malloc(C * C * sizeof *h), *diag = malloc(C * sizeof *diag);
    float *u = malloc(C * C * sizeof *u), *work = malloc(R * C * sizeof *work);
    float *sf = malloc(R * sizeof *sf), *err = malloc(R * GPTQ_BLOCK * sizeof *err);
    float *tmp = malloc(R * C * sizeof *tmp);
    int *perm = malloc(C * sizeof *perm);
    int rc = -1;
    if (!h || !diag || !u || !work || !sf || !err || !tmp || !perm) {
        pg_fail("out of memory for GPTQ of a %d x %d matrix", rows, cols);
        goto out;
    }
    memcpy(h, H, C * C * sizeof *h);
    double dsum = 0;
    for (size_t i = 0; i < C; i++) {
        if (h[i * C + i] == 0) /* a dead column: never seen a nonzero input */
            h[i * C + i] = 1;
        dsum += h[i * C + i];
    }
    float damp = 0.01f * (float)(dsum / (double)C);
    for (size_t i = 0; i < C; i++) {
        h[i * C + i] += damp;
        diag[i] = h[i * C + i];
        perm[i] = (int)i;
    }
    g_diag = diag;
    qsort(perm, C, sizeof *perm, by_diag_desc);
    if (inverse_factor(h, perm, cols, u) != 0)
        goto out;
    int qmax = (1 << (bits - 1)) - 1;
    for (size_t r = 0; r < R; r++) {
        float s = ((float)clip_sigmas * row_std(w + r * C, cols)) / (float)qmax;
        scale[r] = pg_f32_to_f16(s > 1e-10f ? s : 1e-10f);
        sf[r] = pg_f16_to_f32(scale[r]);
        for (size_t j = 0; j < C; j++) /* permuted; dead columns zeroed */
            work[r * C + j] = H[(size_t)perm[j] * C + perm[j]] == 0 ? 0 : w[r * C + perm[j]];
    }
    for (int a = 0; a < cols; a += GPTQ_BLOCK) {
        int b = a + GPTQ_BLOCK < cols ? a + GPTQ_BLOCK : cols, bs = b - a;
        for (int j = 0; j < bs; j++) {
            const float *urow = u + (size_t)(a + j) + (size_t)a * C; /* U(a+j, a+k) at k C */
            float d = urow[(size_t)j * C];
            for (size_t r = 0; r < R; r++) {
                float *row = work + r * C + a;
                float qc = rintf(row[j] / sf[r]);
                qc = qc < -qmax ? (float)-qmax : qc > qmax ? (float)qmax : qc;
                q[r * C + perm[a + j]] = (int8_t)qc;
                float e = (row[j] - qc * sf[r]) / d;
                err[r * GPTQ_BLOCK + j] = e;
                for (int k = j; k < bs; k++)
                    row[k] -= e * urow[(size_t)k * C];
            }
        }
        if (b < cols) { /* the later columns take the block's errors: work -= err U[a:b, b:] */
            int rest = cols - b;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, rest, bs, 1.0f, err,
                        GPTQ_BLOCK, u + a + (size_t)b * C, cols, 0.0f, tmp, rest);
            for (size_t r = 0; r < R; r++)
                for (int k = 0; k < rest; k++)
                    work[r * C + b + k] -= tmp[r * (size_t)rest + k];
        }
    }
    rc = 0;
out:
    free(h), free(diag), free(u), free(work), free(sf), free(err), free(tmp), free(perm);
    return rc;
}

int pg_lqer_factors(const float *E, int rows, int cols, int rank, float *A, float *B)
{
    int k = rows < cols ? rows : cols, r = rank < k ? rank : k;
    size_t R = (size_t)rows, C = (size_t)cols;
    float *a = malloc(R * C * sizeof *a), *s = malloc((size_t)k * sizeof *s);
    float *uu = malloc(R * (size_t)k * sizeof *uu), *vt = malloc((size_t)k * C * sizeof *vt);
    int *iwork = malloc(8 * (size_t)k * sizeof *iwork), info = 0, lwork = -1;
    float *wk = NULL, query = 0;
    if (!a || !s || !uu || !vt || !iwork) {
        r = pg_fail("out of memory for the SVD of a %d x %d error", rows, cols);
        goto out;
    }
    for (size_t i = 0; i < R; i++) /* column-major, as torch hands it to LAPACK */
        for (size_t j = 0; j < C; j++)
            a[i + j * R] = E[i * C + j];
    sgesdd_("S", &rows, &cols, a, &rows, s, uu, &rows, vt, &k, &query, &lwork, iwork, &info, 1);
    lwork = (int)query;
    if (info == 0 && !(wk = malloc((size_t)(lwork > 1 ? lwork : 1) * sizeof *wk))) {
        r = pg_fail("out of memory for the SVD of a %d x %d error", rows, cols);
        goto out;
    }
    if (info == 0)
        sgesdd_("S", &rows, &cols, a, &rows, s, uu, &rows, vt, &k, wk, &lwork, iwork, &info, 1);
    if (info != 0) {
        r = pg_fail("LQER: the SVD of a %d x %d error failed (LAPACK info %d)", rows, cols, info);
        goto out;
    }
    for (int c = 0; c < r; c++) {
        size_t big = 0; /* the sign: B's row has its largest-magnitude entry positive */
        for (size_t j = 1; j < C; j++)
            if (fabsf(vt[c + j * k]) > fabsf(vt[c + big * k]))
                big = j;
        float sign = vt[c + big * k] < 0 ? -1.0f : 1.0f;
        for (size_t j = 0; j < C; j++)
            B[c * C + j] = sign * vt[c + j * k];
        for (size_t i = 0; i < R; i++)
            A[i * r + c] = (sign * uu[i + (size_t)c * R]) * s[c];
    }
out:
    free(a), free(s), free(uu), free(vt), free(iwork), free(wk);
    return r;
}

static int8_t clamp_round(float x, int lo, int hi)
{
    float v = rintf(x);
    return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

static float absmax(const float *x, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
    return m > 1e-10f ? m : 1e-10f;
}

void pg_lqer_pack_asym(const float *A, const float *B, int rows, int r, int cols, int group,
                       int8_t *qa, uint16_t *sa, int8_t *qb, uint16_t *sb)
{
    size_t na = (size_t)rows * r, nb = (size_t)r * cols;
    *sa = pg_f32_to_f16(absmax(A, na) / 1.5f);
    float s = pg_f16_to_f32(*sa);
    for (size_t i = 0; i < na; i++)
        qa[i] = clamp_round(A[i] / s, -2, 1);
    for (size_t g = 0; g < nb / (size_t)group; g++) {
        const float *x = B + g * group;
        sb[g] = pg_f32_to_f16(absmax(x, (size_t)group) / 7.5f);
        float t = pg_f16_to_f32(sb[g]);
        for (int i = 0; i < group; i++)
            qb[g * group + i] = clamp_round(x[i] / t, -8, 7);
    }
}

/* each row of x [n][len] at `bits` bits with its own scale */
static void pack_rows(const float *x, int n, int len, int bits, int8_t *q, uint16_t *s)
{
    int lim = (1 << (bits - 1)) - 1;
    for (int i = 0; i < n; i++) {
        const float *row = x + (size_t)i * len;
        s[i] = pg_f32_to_f16(absmax(row, (size_t)len) / (float)lim);
        float t = pg_f16_to_f32(s[i]);
        for (int j = 0; j < len; j++)
            q[(size_t)i * len + j] = clamp_round(row[j] / t, -lim, lim);
    }
}

void pg_lqer_pack_sym(const float *A, const float *B, int rows, int r, int cols, int bits,
                      int8_t *qa, uint16_t *sa, int8_t *qb, uint16_t *sb)
{
    pack_rows(A, rows, r, bits, qa, sa);
    pack_rows(B, r, cols, bits, qb, sb);
}
