/* CPU reference of the attention variants of the records' model family (DESIGN §11),
 * forward and backward side by side: XSA, which removes from each head's output its
 * component along the normalized value of the same position, and the per-head output
 * gates. Dot products and norms run in double over the head's dims in order. */
#include <math.h>

#include "kernels/cpu/ops.h"

/* F.normalize's floor on the norm */
#define XSA_EPS 1e-12

static double dot(const pg_real *a, const pg_real *b, int hd)
{
    double s = 0;
    for (int i = 0; i < hd; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* vh = v / max(|v|, eps) into out; returns the divisor */
static double normalize(pg_real *out, const pg_real *v, int hd)
{
    double nrm = sqrt(dot(v, v, hd)), div = nrm > XSA_EPS ? nrm : XSA_EPS;
    for (int i = 0; i < hd; i++)
        out[i] = (pg_real)(v[i] / div);
    return div;
}

void pg_xsa_fwd(pg_real *out, const pg_real *y, const pg_real *v, size_t n, int H, int KVH,
                int hd)
{
    int group = H / KVH;
#pragma omp parallel for schedule(static) if (n * H * hd >= PG_OMP_MIN)
    for (size_t r = 0; r < n; r++) {
        pg_real vh[PG_MAX_HEAD_DIM];
        for (int kv = 0; kv < KVH; kv++) {
            normalize(vh, v + (r * KVH + kv) * hd, hd);
            for (int h = kv * group; h < (kv + 1) * group; h++) {
                const pg_real *yh = y + (r * H + h) * hd;
                pg_real *oh = out + (r * H + h) * hd;
                pg_real a = (pg_real)dot(yh, vh, hd);
                for (int i = 0; i < hd; i++)
                    oh[i] = yh[i] - a * vh[i];
            }
        }
    }
}

void pg_xsa_bwd(pg_real *dy, pg_real *dv, const pg_real *dout, const pg_real *y, const pg_real *v,
                size_t n, int H, int KVH, int hd)
{
    int group = H / KVH;
#pragma omp parallel for schedule(static) if (n * H * hd >= PG_OMP_MIN)
    for (size_t r = 0; r < n; r++) {
        pg_real vh[PG_MAX_HEAD_DIM];
        double g[PG_MAX_HEAD_DIM];
        for (int kv = 0; kv < KVH; kv++) {
            const pg_real *vk = v + (r * KVH + kv) * hd;
            double div = normalize(vh, vk, hd);
            for (int i = 0; i < hd; i++)
                g[i] = 0;
            for (int h = kv * group; h < (kv + 1) * group; h++) {
                size_t at = (r * H + h) * hd;
                double a = dot(y + at, vh, hd), b = dot(dout + at, vh, hd);
                for (int i = 0; i < hd; i++) {
                    dy[at + i] += (pg_real)(dout[at + i] - b * vh[i]);
                    g[i] -= a * dout[at + i] + b * y[at + i];
                }
            }
            /* d(v/|v|)/dv = (I - vh vh^T) / |v|; below the floor the divisor is constant */
            double gv = 0;
            for (int i = 0; i < hd; i++)
                gv += g[i] * vh[i];
            int projected = div > XSA_EPS;
            pg_real *dvk = dv + (r * KVH + kv) * hd;
            for (int i = 0; i < hd; i++)
                dvk[i] += (pg_real)((g[i] - (projected ? gv * vh[i] : 0)) / div);
        }
    }
}

/* the gate of row r, head h: mult * sigmoid(scale * W[h] . src[r][0:win]) */
static double head_gate(const pg_real *src, const pg_real *w, int h, int win, pg_real scale,
                        int mult, double *sig)
{
    double z = 0;
    for (int i = 0; i < win; i++)
        z += (double)w[(size_t)h * win + i] * src[i];
    *sig = 1.0 / (1.0 + exp(-(double)scale * z));
    return mult * *sig;
}

void pg_head_gate_fwd(pg_real *out, const pg_real *y, const pg_real *src, const pg_real *w,
                      size_t n, int H, int hd, int src_dim, int win, pg_real scale, int mult)
{
#pragma omp parallel for schedule(static) if (n * H * hd >= PG_OMP_MIN)
    for (size_t r = 0; r < n; r++)
        for (int h = 0; h < H; h++) {
            double sig;
            pg_real g = (pg_real)head_gate(src + r * src_dim, w, h, win, scale, mult, &sig);
            for (int i = 0; i < hd; i++)
                out[(r * H + h) * hd + i] = y[(r * H + h) * hd + i] * g;
        }
}

void pg_head_gate_bwd(pg_real *dy, pg_real *dsrc, pg_real *dw, const pg_real *dout,
                      const pg_real *y, const pg_real *src, const pg_real *w, size_t n, int H,
                      int hd, int src_dim, int win, pg_real scale, int mult)
{
    /* rows in order, so dw's sums have a fixed order */
    for (size_t r = 0; r < n; r++)
        for (int h = 0; h < H; h++) {
            double sig, s = 0;
            const pg_real *sr = src + r * src_dim;
            pg_real g = (pg_real)head_gate(sr, w, h, win, scale, mult, &sig);
            size_t at = (r * H + h) * hd;
            for (int i = 0; i < hd; i++) {
                s += (double)dout[at + i] * y[at + i];
                dy[at + i] += g * dout[at + i];
            }
            /* d out / d z = mult * sig (1 - sig) * scale, z = W[h] . src */
            double dz = s * mult * sig * (1 - sig) * scale;
            for (int i = 0; i < win; i++) {
                dw[(size_t)h * win + i] += (pg_real)(dz * sr[i]);
                dsrc[r * src_dim + i] += (pg_real)(dz * w[(size_t)h * win + i]);
            }
        }
}
