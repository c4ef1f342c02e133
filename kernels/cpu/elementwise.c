/* CPU reference of the model's elementwise ops: the embedding gather and scatter-add,
 * the residual mix, the scaled residual adds (branches and U-Net skips), the per-head
 * query gain, and the records' residual topologies (gated skips, the parallel residual's
 * lanes), forward and backward side by side. Vectors of `dim` broadcast over rows;
 * every column sum runs over rows in order, so results are bit-reproducible. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/cpu/ops.h"

void pg_embedding_fwd(pg_real *out, const pg_real *table, const int *ids, int n, int dim)
{
    for (int r = 0; r < n; r++)
        memcpy(out + (size_t)r * dim, table + (size_t)ids[r] * dim, (size_t)dim * sizeof *out);
}

void pg_embedding_bwd(pg_real *dtable, const pg_real *dout, const int *ids, int n, int dim)
{
    for (int r = 0; r < n; r++)
        for (int i = 0; i < dim; i++)
            dtable[(size_t)ids[r] * dim + i] += dout[(size_t)r * dim + i];
}

/* out[dim] += sum over rows of a (.) b: the gradient of a broadcast vector. Threads take
 * blocks of columns; each column is summed over the rows in order. */
static void acc_colsum_prod(pg_real *out, const pg_real *a, const pg_real *b, size_t n, int dim)
{
    enum { CB = 16 };
#pragma omp parallel for schedule(static) if (n * dim >= PG_OMP_MIN)
    for (int c0 = 0; c0 < dim; c0 += CB) {
        int c1 = c0 + CB < dim ? c0 + CB : dim;
        for (size_t r = 0; r < n; r++)
            for (int i = c0; i < c1; i++)
                out[i] += a[r * dim + i] * b[r * dim + i];
    }
}

void pg_resid_mix_fwd(pg_real *out, const pg_real *x, const pg_real *x0, const pg_real *mix,
                      size_t n, int dim)
{
    const pg_real *mix0 = mix, *mix1 = mix + dim;
#pragma omp parallel for schedule(static) if (n * dim >= PG_OMP_MIN)
    for (size_t r = 0; r < n; r++)
        for (int i = 0; i < dim; i++)
            out[r * dim + i] = mix0[i] * x[r * dim + i] + mix1[i] * x0[r * dim + i];
}

void pg_resid_mix_bwd(pg_real *dx, pg_real *dx0, pg_real *dmix, const pg_real *dout,
                      const pg_real *x, const pg_real *x0, const pg_real *mix, size_t n, int dim)
{
    const pg_real *mix0 = mix, *mix1 = mix + dim;
    acc_colsum_prod(dmix, dout, x, n, dim);
    acc_colsum_prod(dmix + dim, dout, x0, n, dim);
#pragma omp parallel for schedule(static) if (n * dim >= PG_OMP_MIN)
    for (size_t j = 0; j < n * (size_t)dim; j++) {
        dx0[j] += mix1[j % dim] * dout[j];
        dx[j] = mix0[j % dim] * dout[j];
    }
}

void pg_scaled_add_fwd(pg_real *y, const pg_real *x, const pg_real *s, const pg_real *d,
                       size_t n, int dim)
{
#pragma omp parallel for schedule(static) if (n * dim >= PG_OMP_MIN)
    for (size_t r = 0; r < n; r++)
        for (int i = 0; i < dim; i++)
            y[r * dim + i] = x[r * dim + i] + s[i] * d[r * dim + i];
}

void pg_scaled_add_bwd(pg_real *dd, pg_real *ds, const pg_real *dy, const pg_real *d,
                       const pg_real *s, size_t n, int dim)
{
    acc_colsum_prod(ds, dy, d, n, dim);
#pragma omp parallel for schedule(static) if (n * dim >= PG_OMP_MIN)
    for (size_t j = 0; j < n * (size_t)dim; j++)
        dd[j] = s[j % dim] * dy[j];
}

void pg_skip_add_bwd(pg_real *dd, pg_real *ds, const pg_real *dy, const pg_real *d,
                     const pg_real *s, size_t n, int dim)
{
    acc_colsum_prod(ds, dy, d, n, dim);
#pragma omp parallel for schedule(static) if (n * dim >= PG_OMP_MIN)
    for (size_t j = 0; j < n * (size_t)dim; j++)
        dd[j] += s[j % dim] * dy[j];
}

void pg_add(pg_real *y, const pg_real *x, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= PG_OMP_MIN)
    for (size_t j = 0; j < n; j++)
        y[j] += x[j];
}

void pg_q_gain_fwd(pg_real *q, const pg_real *qn, const pg_real *gain, size_t n, int H, int hd)
{
#pragma omp parallel for schedule(static) if (n * H * hd >= PG_OMP_MIN)
    for (size_t r = 0; r < n; r++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < hd; i++)
                q[(r * H + h) * hd + i] = qn[(r * H + h) * hd + i] * gain[h];
}

void pg_q_gain_bwd(pg_real *dq, pg_real *dgain, const pg_real *qn, const pg_real *gain,
                   size_t n, int H, int hd)
{
    for (size_t r = 0; r < n; r++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < hd; i++) {
                size_t j = (r * H + h) * hd + i;
                dgain[h] += dq[j] * qn[j];
                dq[j] *= gain[h];
            }
}

void pg_col_scale_fwd(pg_real *y, const pg_real *s, const pg_real *d, size_t n, int dim)
{
#pragma omp parallel for schedule(static) if (n * dim >= PG_OMP_MIN)
    for (size_t j = 0; j < n * (size_t)dim; j++)
        y[j] = s[j % dim] * d[j];
}

static pg_real sigmoid(pg_real z)
{
    return (pg_real)(1.0 / (1.0 + exp(-(double)z)));
}

/* torch.lerp(start, end, g): from the nearer end, as torch computes it */
static pg_real lerp(pg_real start, pg_real end, pg_real g)
{
    return g < (pg_real)0.5 ? start + g * (end - start) : end - (end - start) * (1 - g);
}

void pg_skip_gate_fwd(pg_real *out, const pg_real *x, const pg_real *skip, const pg_real *w,
                      const pg_real *z, size_t n, int dim)
{
#pragma omp parallel for schedule(static) if (n * dim >= PG_OMP_MIN)
    for (size_t j = 0; j < n * (size_t)dim; j++)
        out[j] = lerp(w[j % dim] * skip[j], x[j], sigmoid(z[j % dim]));
}

void pg_skip_gate_bwd(pg_real *dx, pg_real *dskip, pg_real *dw, pg_real *dz, const pg_real *dout,
                      const pg_real *x, const pg_real *skip, const pg_real *w, const pg_real *z,
                      size_t n, int dim)
{
    /* column sums first: dx may alias dout */
    for (size_t r = 0; r < n; r++)
        for (int i = 0; i < dim; i++) {
            size_t j = r * dim + i;
            pg_real g = sigmoid(z[i]), k = w[i] * skip[j];
            dw[i] += (1 - g) * skip[j] * dout[j];
            dz[i] += g * (1 - g) * (x[j] - k) * dout[j];
        }
#pragma omp parallel for schedule(static) if (n * dim >= PG_OMP_MIN)
    for (size_t j = 0; j < n * (size_t)dim; j++) {
        pg_real g = sigmoid(z[j % dim]);
        dskip[j] += (1 - g) * w[j % dim] * dout[j];
        dx[j] = g * dout[j];
    }
}

void pg_lane_mix_fwd(pg_real *y, const pg_real *lane, const pg_real *a, const pg_real *m,
                     const pg_real *r, const pg_real *pa, const pg_real *pm, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= PG_OMP_MIN)
    for (size_t j = 0; j < n; j++)
        y[j] = *r * lane[j] + *pa * a[j] + *pm * m[j];
}

void pg_lane_mix_bwd(pg_real *dlane, pg_real *da, pg_real *dm, pg_real *dr, pg_real *dpa,
                     pg_real *dpm, const pg_real *dy, const pg_real *lane, const pg_real *a,
                     const pg_real *m, const pg_real *r, const pg_real *pa, const pg_real *pm,
                     size_t n)
{
    double sr = 0, sa = 0, sm = 0;
    for (size_t j = 0; j < n; j++) {
        sr += (double)dy[j] * lane[j];
        sa += (double)dy[j] * a[j];
        sm += (double)dy[j] * m[j];
    }
    *dr += (pg_real)sr;
    *dpa += (pg_real)sa;
    *dpm += (pg_real)sm;
#pragma omp parallel for schedule(static) if (n >= PG_OMP_MIN)
    for (size_t j = 0; j < n; j++) {
        dlane[j] += *r * dy[j];
        da[j] += *pa * dy[j];
        dm[j] += *pm * dy[j];
    }
}

void pg_round_bf16(pg_real *x, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= PG_OMP_MIN)
    for (size_t i = 0; i < n; i++) {
        float f = (float)x[i];
        uint32_t u;
        memcpy(&u, &f, 4);
        if ((u & 0x7f800000u) != 0x7f800000u) /* finite: round the low 16 bits away */
            u += 0x7fffu + ((u >> 16) & 1u);
        u &= 0xffff0000u;
        memcpy(&f, &u, 4);
        x[i] = f;
    }
}
