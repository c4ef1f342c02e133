// The embedding gather and scatter-add, the residual mix, the scaled residual adds, the
// per-head query gain, the gated skips and parallel-residual lanes, and the bf16 rounding
// of GEMM inputs, forward and backward side by side (kernels/cpu/elementwise.c is the
// definition; elementwise_launch.c launches them).
// Every column sum is one thread adding rows in order, as the CPU does, so the bits do not
// depend on scheduling; the embedding's scatter-add likewise gives each column to one
// thread, which adds the rows in position order.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/sizes.h"

PG_KERNEL embedding_fwd(float *out, const float *table, const int *ids, int n, int dim)
{
    size_t j = pg_thread_index();
    if (j < (size_t)n * dim)
        out[j] = table[(size_t)ids[j / dim] * dim + j % dim];
}

PG_KERNEL embedding_bwd(float *dtable, const float *dout, const int *ids, int n, int dim)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= dim)
        return;
    for (int r = 0; r < n; r++)
        dtable[(size_t)ids[r] * dim + i] += dout[(size_t)r * dim + i];
}

// out[i] += sum over rows of a[r][i] b[r][i], rows in order
PG_KERNEL colsum_prod(float *out, const float *a, const float *b, size_t n, int dim)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= dim)
        return;
    float acc = out[i];
    for (size_t r = 0; r < n; r++)
        acc += a[r * dim + i] * b[r * dim + i];
    out[i] = acc;
}

PG_KERNEL resid_mix_fwd(float *out, const float *x, const float *x0, const float *mix,
                        size_t total, int dim)
{
    size_t j = pg_thread_index();
    if (j < total)
        out[j] = mix[j % dim] * x[j] + mix[dim + j % dim] * x0[j];
}

// dx0 += mix1 dout; dx = mix0 dout (dx may alias dout: one thread per element)
PG_KERNEL resid_mix_bwd(float *dx, float *dx0, const float *dout, const float *mix, size_t total,
                        int dim)
{
    size_t j = pg_thread_index();
    if (j < total) {
        float g = dout[j];
        dx0[j] += mix[dim + j % dim] * g;
        dx[j] = mix[j % dim] * g;
    }
}

PG_KERNEL scaled_add_fwd(float *y, const float *x, const float *s, const float *d, size_t total,
                         int dim)
{
    size_t j = pg_thread_index();
    if (j < total)
        y[j] = x[j] + s[j % dim] * d[j];
}

// dd = s dy (accumulate 0) or dd += s dy (accumulate 1)
PG_KERNEL scaled_grad(float *dd, const float *s, const float *dy, size_t total, int dim,
                      int accumulate)
{
    size_t j = pg_thread_index();
    if (j < total) {
        float g = s[j % dim] * dy[j];
        dd[j] = accumulate ? dd[j] + g : g;
    }
}

PG_KERNEL add_kernel(float *y, const float *x, size_t n)
{
    size_t j = pg_thread_index();
    if (j < n)
        y[j] += x[j];
}

PG_KERNEL q_gain_fwd(float *q, const float *qn, const float *gain, size_t total, int H, int hd)
{
    size_t j = pg_thread_index();
    if (j < total)
        q[j] = qn[j] * gain[(j / hd) % H];
}

// dgain[h] += sum over rows r and i of dq qn, r then i in order (one thread per head)
PG_KERNEL q_gain_dgain(float *dgain, const float *dq, const float *qn, size_t n, int H, int hd)
{
    int h = blockIdx.x * blockDim.x + threadIdx.x;
    if (h >= H)
        return;
    float acc = dgain[h];
    for (size_t r = 0; r < n; r++)
        for (int i = 0; i < hd; i++) {
            size_t j = (r * H + h) * hd + i;
            acc += dq[j] * qn[j];
        }
    dgain[h] = acc;
}

PG_KERNEL q_gain_scale(float *dq, const float *gain, size_t total, int H, int hd)
{
    size_t j = pg_thread_index();
    if (j < total)
        dq[j] *= gain[(j / hd) % H];
}

// float32 -> bfloat16 bits, rounded to nearest even (as __float2bfloat16; NaN gives its
// canonical 0x7fff)
PG_KERNEL to_bf16(unsigned short *dst, const float *src, size_t n)
{
    size_t i = pg_thread_index();
    if (i >= n)
        return;
    unsigned u = __float_as_uint(src[i]);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        dst[i] = 0x7fff;
    else
        dst[i] = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

PG_KERNEL col_scale_fwd(float *y, const float *s, const float *d, size_t total, int dim)
{
    size_t j = pg_thread_index();
    if (j < total)
        y[j] = s[j % dim] * d[j];
}

__device__ inline float pg_sigmoid(float z)
{
    return (float)(1.0 / (1.0 + exp(-(double)z)));
}

// torch.lerp(k, x, g) from the nearer end, as the CPU
PG_KERNEL skip_gate_fwd(float *out, const float *x, const float *skip, const float *w,
                        const float *z, size_t total, int dim)
{
    size_t j = pg_thread_index();
    if (j < total) {
        float k = w[j % dim] * skip[j], g = pg_sigmoid(z[j % dim]);
        out[j] = g < 0.5f ? k + g * (x[j] - k) : x[j] - (x[j] - k) * (1 - g);
    }
}

// dw, dz: one thread per column adds the rows in order
PG_KERNEL skip_gate_cols(float *dw, float *dz, const float *dout, const float *x,
                         const float *skip, const float *w, const float *z, size_t n, int dim)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= dim)
        return;
    float g = pg_sigmoid(z[i]), aw = dw[i], az = dz[i];
    for (size_t r = 0; r < n; r++) {
        size_t j = r * dim + i;
        float k = w[i] * skip[j];
        aw += (1 - g) * skip[j] * dout[j];
        az += g * (1 - g) * (x[j] - k) * dout[j];
    }
    dw[i] = aw;
    dz[i] = az;
}

// dskip += (1 - g) w dout; dx = g dout (dx may alias dout: one thread per element)
PG_KERNEL skip_gate_grad(float *dx, float *dskip, const float *dout, const float *w,
                         const float *z, size_t total, int dim)
{
    size_t j = pg_thread_index();
    if (j < total) {
        float g = pg_sigmoid(z[j % dim]), d = dout[j];
        dskip[j] += (1 - g) * w[j % dim] * d;
        dx[j] = g * d;
    }
}

PG_KERNEL lane_mix_fwd(float *y, const float *lane, const float *a, const float *m,
                       const float *r, const float *pa, const float *pm, size_t n)
{
    size_t j = pg_thread_index();
    if (j < n)
        y[j] = *r * lane[j] + *pa * a[j] + *pm * m[j];
}

// The three scalars' gradients in one block: double sums in a fixed tree order.
PG_KERNEL lane_mix_sums(float *dr, float *dpa, float *dpm, const float *dy, const float *lane,
                        const float *a, const float *m, size_t n)
{
    __shared__ double sh[PG_CU_ROW_THREADS];
    double sr = 0, sa = 0, sm = 0;
    for (size_t j = threadIdx.x; j < n; j += blockDim.x) {
        sr += (double)dy[j] * lane[j];
        sa += (double)dy[j] * a[j];
        sm += (double)dy[j] * m[j];
    }
    sr = pg_block_sum(sr, sh);
    sa = pg_block_sum(sa, sh);
    sm = pg_block_sum(sm, sh);
    if (threadIdx.x == 0) {
        *dr += (float)sr;
        *dpa += (float)sa;
        *dpm += (float)sm;
    }
}

PG_KERNEL lane_mix_grad(float *dlane, float *da, float *dm, const float *dy, const float *r,
                        const float *pa, const float *pm, size_t n)
{
    size_t j = pg_thread_index();
    if (j < n) {
        float g = dy[j];
        dlane[j] += *r * g;
        da[j] += *pa * g;
        dm[j] += *pm * g;
    }
}

// SmearGate (kernels/cpu/embedding_extras.c is the definition): whether position r takes
// from r - 1, and its sigmoid.
__device__ inline int pg_smears(const int *ids, size_t r, int T, int bos)
{
    return r % (size_t)T != 0 && !(bos >= 0 && ids[r] == bos);
}

__device__ inline double pg_smear_sig(const float *e, const float *w, int win)
{
    double z = 0;
    for (int i = 0; i < win; i++)
        z += (double)w[i] * e[i];
    return 1.0 / (1.0 + exp(-z));
}

// One thread per row.
PG_KERNEL smear_fwd(float *out, const float *e, const int *ids, const float *w,
                    const float *lam, size_t n, int T, int dim, int win, int bos)
{
    size_t r = pg_thread_index();
    if (r >= n)
        return;
    const float *er = e + r * dim;
    int on = pg_smears(ids, r, T, bos);
    float g = on ? (float)(*lam * pg_smear_sig(er, w, win)) : 0;
    for (int i = 0; i < dim; i++)
        out[r * dim + i] = on ? er[i] + g * er[i - dim] : er[i];
}

// Per row (one thread each): g, s = dout_r . e_{r-1} and dz = lam sig (1 - sig) s, into
// rowv [n][3] (zeros where the row takes nothing).
PG_KERNEL smear_rows(double *rowv, const float *dout, const float *e, const int *ids,
                     const float *w, const float *lam, size_t n, int T, int dim, int win, int bos)
{
    size_t r = pg_thread_index();
    if (r >= n)
        return;
    double g = 0, sl = 0, dz = 0;
    if (pg_smears(ids, r, T, bos)) {
        const float *er = e + r * dim, *dr = dout + r * dim;
        double sig = pg_smear_sig(er, w, win), s = 0;
        for (int i = 0; i < dim; i++)
            s += (double)dr[i] * er[i - dim];
        g = (float)(*lam * sig);
        sl = sig * s;
        dz = *lam * sig * (1 - sig) * s;
    }
    rowv[3 * r] = g;
    rowv[3 * r + 1] = sl;
    rowv[3 * r + 2] = dz;
}

// de[r][i] += dout[r][i] + g_{r+1} dout[r+1][i] + (i < win) dz_r w[i]: one thread per
// element.
PG_KERNEL smear_de(float *de, const double *rowv, const float *dout, const float *w, size_t n,
                   int dim, int win)
{
    size_t j = pg_thread_index();
    if (j >= n * dim)
        return;
    size_t r = j / dim;
    int i = (int)(j % dim);
    float acc = de[j] + dout[j];
    if (r + 1 < n)
        acc += (float)rowv[3 * (r + 1)] * dout[j + dim];
    if (i < win)
        acc += (float)(rowv[3 * r + 2] * w[i]);
    de[j] = acc;
}

// dw[i] (i < win) and dlam (i == win): one thread each, rows in order.
PG_KERNEL smear_dw(float *dw, float *dlam, const double *rowv, const float *e, size_t n, int dim,
                   int win)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i > win)
        return;
    if (i == win) {
        double s = 0;
        for (size_t r = 0; r < n; r++)
            s += rowv[3 * r + 1];
        *dlam += (float)s;
        return;
    }
    float acc = dw[i];
    for (size_t r = 0; r < n; r++)
        acc += (float)(rowv[3 * r + 2] * e[r * dim + i]);
    dw[i] = acc;
}

// x rounded to bfloat16 in place, kept as float (the CPU's rule: finite values to nearest
// even, NaN and infinities as they are)
PG_KERNEL round_bf16(float *x, size_t n)
{
    size_t i = pg_thread_index();
    if (i >= n)
        return;
    unsigned u = __float_as_uint(x[i]);
    if ((u & 0x7f800000u) != 0x7f800000u)
        u += 0x7fffu + ((u >> 16) & 1u);
    x[i] = __uint_as_float(u & 0xffff0000u);
}
