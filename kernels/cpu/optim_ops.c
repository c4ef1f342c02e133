/* CPU reference of the optimizer updates every pgolf optimizer is built from (training's
 * Muon + Adam, TTT's SGD / Muon, LoRA's Adam): gradient norm and clipping, SGD with
 * momentum, Adam, Muon with Newton-Schulz (classic or Polar Express, rows normalized
 * first for MuonEq-R), and the weights' EMA. */
#include <math.h>
#include <string.h>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/ops.h"

void pg_sumsq(double *acc, const pg_real *g, size_t n)
{
    double ss = *acc;
    for (size_t i = 0; i < n; i++)
        ss += (double)g[i] * g[i];
    *acc = ss;
}

void pg_scale(pg_real *g, size_t n, double coef)
{
    for (size_t i = 0; i < n; i++)
        g[i] = (pg_real)(g[i] * coef);
}

void pg_sgd_update(pg_real *p, const pg_real *g, pg_real *buf, size_t n, pg_real momentum,
                   pg_real lr)
{
    for (size_t j = 0; j < n; j++) {
        buf[j] = momentum * buf[j] + g[j];
        p[j] -= lr * buf[j];
    }
}

void pg_adam_update(pg_real *p, const pg_real *g, pg_real *m, pg_real *v, size_t n,
                    double beta1, double beta2, double eps, double lr, double bc1,
                    double bc2_sqrt)
{
    pg_real b1 = (pg_real)beta1, b2 = (pg_real)beta2;
    for (size_t j = 0; j < n; j++) {
        m[j] = b1 * m[j] + (1 - b1) * g[j];
        v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j];
        double denom = sqrt((double)v[j]) / bc2_sqrt + eps;
        p[j] -= (pg_real)(lr / bc1 * m[j] / denom);
    }
}

static void transpose(pg_real *dst, const pg_real *src, int rows, int cols)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
}

void pg_newton_schulz5(pg_real *x, int rows, int cols, int steps, int coeffs, pg_real *scratch)
{
    int tr = rows > cols;
    int m = tr ? cols : rows, n = tr ? rows : cols; /* X is m x n with m <= n */
    size_t mn = (size_t)m * n, mm = (size_t)m * m;
    pg_real *X = scratch, *BX = X + mn, *A = BX + mn, *AA = A + mm, *Bm = AA + mm;
    double ss = 0;
    for (size_t i = 0; i < mn; i++)
        ss += (double)x[i] * x[i];
    pg_real inv = (pg_real)(1.0 / (sqrt(ss) + 1e-7));
    if (tr)
        transpose(X, x, rows, cols);
    else
        memcpy(X, x, mn * sizeof *X);
    for (size_t i = 0; i < mn; i++)
        X[i] *= inv;
    for (int s = 0, iters = pg_ns_iterations(coeffs, steps); s < iters; s++) {
        float abc[3];
        pg_ns_coeffs(coeffs, s, abc);
        const pg_real a = abc[0], b = abc[1], c = abc[2];
        pg_gemm_fixed(0, 1, m, m, n, 1, X, n, X, n, 0, A, m);  /* A = X X^T */
        pg_gemm_fixed(0, 0, m, m, m, 1, A, m, A, m, 0, AA, m); /* A A */
        for (size_t i = 0; i < mm; i++)
            Bm[i] = b * A[i] + c * AA[i];
        pg_gemm_fixed(0, 0, m, n, m, 1, Bm, m, X, n, 0, BX, n); /* B X */
        for (size_t i = 0; i < mn; i++)
            X[i] = a * X[i] + BX[i];
    }
    if (tr)
        transpose(x, X, m, n);
    else
        memcpy(x, X, mn * sizeof *X);
}

/* Newton-Schulz's workspace, then the update u [rows][cols] */
size_t pg_muon_scratch(int rows, int cols)
{
    size_t lo = (size_t)(rows < cols ? rows : cols), hi = (size_t)(rows < cols ? cols : rows);
    return 3 * lo * lo + 2 * lo * hi + (size_t)rows * cols;
}

/* u's rows divided by their L2 norms, clamped at 1e-7 (MuonEq-R) */
static void normalize_rows(pg_real *u, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        pg_real *row = u + (size_t)r * cols;
        double ss = 0;
        for (int c = 0; c < cols; c++)
            ss += (double)row[c] * row[c];
        pg_real norm = (pg_real)fmax(sqrt(ss), 1e-7);
        for (int c = 0; c < cols; c++)
            row[c] /= norm;
    }
}

void pg_muon_update(pg_real *p, const pg_real *g, pg_real *buf, int rows, int cols,
                    pg_real momentum, pg_real lr, const pg_muon_ns *ns, pg_real *scratch)
{
    size_t n = (size_t)rows * cols;
    pg_real *u = scratch + pg_muon_scratch(rows, cols) - n;
    /* Nesterov momentum: buf = mu buf + g, update from g + mu buf */
    for (size_t j = 0; j < n; j++) {
        buf[j] = momentum * buf[j] + g[j];
        u[j] = g[j] + momentum * buf[j];
    }
    if (ns->row_normalize)
        normalize_rows(u, rows, cols);
    pg_newton_schulz5(u, rows, cols, ns->steps, ns->coeffs, scratch);
    for (size_t j = 0; j < n; j++)
        p[j] -= lr * u[j];
}

void pg_ema_update(pg_real *ema, const pg_real *p, size_t n, double decay)
{
    float keep = (float)decay, take = (float)(1.0 - decay);
    for (size_t j = 0; j < n; j++)
        ema[j] = fmaf(p[j], take, ema[j] * keep);
}
