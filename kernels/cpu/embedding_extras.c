/* CPU reference of the embedding extras of the records' model family (DESIGN §11),
 * forward and backward side by side: SmearGate, which adds to each token's embedding a
 * gated share of the previous token's. Sums run in double in index order. */
#include <math.h>

#include "kernels/cpu/ops.h"

/* Whether position r (of rows of T) takes from r - 1. */
static int smears(const int *ids, size_t r, int T, int bos)
{
    return r % (size_t)T != 0 && !(bos >= 0 && ids[r] == bos);
}

/* sigmoid(W . e[0:win]) */
static double smear_sig(const pg_real *e, const pg_real *w, int win)
{
    double z = 0;
    for (int i = 0; i < win; i++)
        z += (double)w[i] * e[i];
    return 1.0 / (1.0 + exp(-z));
}

void pg_smear_fwd(pg_real *out, const pg_real *e, const int *ids, const pg_real *w,
                  const pg_real *lam, int B, int T, int dim, int win, int bos)
{
    size_t n = (size_t)B * T;
#pragma omp parallel for schedule(static) if (n * dim >= PG_OMP_MIN)
    for (size_t r = 0; r < n; r++) {
        const pg_real *er = e + r * dim;
        int on = smears(ids, r, T, bos);
        pg_real g = on ? (pg_real)(*lam * smear_sig(er, w, win)) : 0;
        for (int i = 0; i < dim; i++)
            out[r * dim + i] = on ? er[i] + g * er[i - dim] : er[i];
    }
}

void pg_smear_bwd(pg_real *de, pg_real *dw, pg_real *dlam, const pg_real *dout, const pg_real *e,
                  const int *ids, const pg_real *w, const pg_real *lam, int B, int T, int dim,
                  int win, int bos)
{
    size_t n = (size_t)B * T;
    double acc_lam = 0;
    for (size_t r = 0; r < n; r++) {
        const pg_real *er = e + r * dim, *dr = dout + r * dim;
        for (int i = 0; i < dim; i++)
            de[r * dim + i] += dr[i];
        if (!smears(ids, r, T, bos))
            continue;
        double sig = smear_sig(er, w, win), s = 0;
        pg_real g = (pg_real)(*lam * sig);
        for (int i = 0; i < dim; i++) {
            s += (double)dr[i] * er[i - dim];
            de[(r - 1) * dim + i] += g * dr[i];
        }
        /* out = e + lam sig(z) e_prev: d/dlam = sig s, d/dz = lam sig (1 - sig) s */
        acc_lam += sig * s;
        double dz = *lam * sig * (1 - sig) * s;
        for (int i = 0; i < win; i++) {
            dw[i] += (pg_real)(dz * er[i]);
            de[r * dim + i] += (pg_real)(dz * w[i]);
        }
    }
    *dlam += (pg_real)acc_lam;
}
