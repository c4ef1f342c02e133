// The attention variants of the records' model family, forward and backward side by side
// (kernels/cpu/attn_variants.c is the definition; variants_launch.c launches them): XSA
// and the per-head output gates. XSA: one thread per (row, KV head) walks its group's
// heads, with dot products and the norm in double over the head's dims in order, as the
// CPU does.
#include "kernels/cuda/common.cuh"

#define PG_XSA_EPS 1e-12

__device__ inline double pg_xsa_dot(const float *a, const float *b, int hd)
{
    double s = 0;
    for (int i = 0; i < hd; i++)
        s += (double)a[i] * b[i];
    return s;
}

// the divisor of F.normalize: max(|v|, eps)
__device__ inline double pg_xsa_div(const float *v, int hd)
{
    double nrm = sqrt(pg_xsa_dot(v, v, hd));
    return nrm > PG_XSA_EPS ? nrm : PG_XSA_EPS;
}

PG_KERNEL xsa_fwd(float *out, const float *y, const float *v, size_t n, int H, int KVH, int hd)
{
    size_t j = pg_thread_index();
    if (j >= n * KVH)
        return;
    size_t r = j / KVH;
    int kv = (int)(j % KVH), group = H / KVH;
    const float *vk = v + j * hd;
    double div = pg_xsa_div(vk, hd);
    for (int h = kv * group; h < (kv + 1) * group; h++) {
        const float *yh = y + (r * H + h) * hd;
        float *oh = out + (r * H + h) * hd;
        double a = 0;
        for (int i = 0; i < hd; i++)
            a += (double)yh[i] * (float)(vk[i] / div);
        float af = (float)a;
        for (int i = 0; i < hd; i++)
            oh[i] = yh[i] - af * (float)(vk[i] / div);
    }
}

// One thread per (row, head): ab[.][0] = y_h . vh, ab[.][1] = dout_h . vh (kept for
// xsa_bwd_dv), and dy_h += dout_h - (dout_h . vh) vh.
PG_KERNEL xsa_bwd_dy(float *dy, double *ab, const float *dout, const float *y, const float *v,
                     size_t n, int H, int KVH, int hd)
{
    size_t j = pg_thread_index();
    if (j >= n * H)
        return;
    size_t r = j / H;
    int h = (int)(j % H);
    const float *vk = v + (r * KVH + h / (H / KVH)) * hd;
    double div = pg_xsa_div(vk, hd), a = 0, b = 0;
    const float *yh = y + j * hd, *gh = dout + j * hd;
    for (int i = 0; i < hd; i++) {
        float vh = (float)(vk[i] / div);
        a += (double)yh[i] * vh;
        b += (double)gh[i] * vh;
    }
    ab[2 * j] = a;
    ab[2 * j + 1] = b;
    for (int i = 0; i < hd; i++)
        dy[j * hd + i] += (float)(gh[i] - b * (float)(vk[i] / div));
}

// One thread per (row, KV head): g = -sum over the group's heads of a_h dout_h + b_h y_h,
// then dv += (g - (g . vh) vh) / |v| (below the norm's floor, g / eps).
PG_KERNEL xsa_bwd_dv(float *dv, const double *ab, const float *dout, const float *y,
                     const float *v, size_t n, int H, int KVH, int hd)
{
    size_t j = pg_thread_index();
    if (j >= n * KVH)
        return;
    size_t r = j / KVH;
    int kv = (int)(j % KVH), group = H / KVH;
    const float *vk = v + j * hd;
    double div = pg_xsa_div(vk, hd), gv = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < hd; i++) {
            double gi = 0;
            for (int h = kv * group; h < (kv + 1) * group; h++) {
                size_t at = r * H + h;
                gi -= ab[2 * at] * dout[at * hd + i] + ab[2 * at + 1] * y[at * hd + i];
            }
            float vh = (float)(vk[i] / div);
            if (pass == 0)
                gv += gi * vh;
            else
                dv[j * hd + i] += (float)((gi - (div > PG_XSA_EPS ? gv * vh : 0)) / div);
        }
}

// The gate of (row r, head h): mult * sigmoid(scale * W[h] . src[r][0:win]); *sig gets
// the sigmoid. Sums in double in index order, as the CPU.
__device__ inline double pg_head_gate(const float *src, const float *w, int h, int win,
                                      float scale, int mult, double *sig)
{
    double z = 0;
    for (int i = 0; i < win; i++)
        z += (double)w[(size_t)h * win + i] * src[i];
    *sig = 1.0 / (1.0 + exp(-(double)scale * z));
    return mult * *sig;
}

// One thread per (row, head).
PG_KERNEL head_gate_fwd(float *out, const float *y, const float *src, const float *w, size_t n,
                        int H, int hd, int src_dim, int win, float scale, int mult)
{
    size_t j = pg_thread_index();
    if (j >= n * H)
        return;
    double sig;
    float g = (float)pg_head_gate(src + (j / H) * src_dim, w, (int)(j % H), win, scale, mult, &sig);
    for (int i = 0; i < hd; i++)
        out[j * hd + i] = y[j * hd + i] * g;
}

// One thread per (row, head): dy += g dout, and dz (the gradient of the gate's
// pre-activation) kept for the sums below.
PG_KERNEL head_gate_dy(float *dy, double *dz, const float *dout, const float *y, const float *src,
                       const float *w, size_t n, int H, int hd, int src_dim, int win, float scale,
                       int mult)
{
    size_t j = pg_thread_index();
    if (j >= n * H)
        return;
    double sig, s = 0;
    float g = (float)pg_head_gate(src + (j / H) * src_dim, w, (int)(j % H), win, scale, mult, &sig);
    for (int i = 0; i < hd; i++) {
        s += (double)dout[j * hd + i] * y[j * hd + i];
        dy[j * hd + i] += g * dout[j * hd + i];
    }
    dz[j] = s * mult * sig * (1 - sig) * scale;
}

// dsrc[r][i] += sum over heads of dz[r][h] W[h][i]: one thread per (row, i < win).
PG_KERNEL head_gate_dsrc(float *dsrc, const double *dz, const float *w, size_t n, int H,
                         int src_dim, int win)
{
    size_t j = pg_thread_index();
    if (j >= n * win)
        return;
    size_t r = j / win;
    int i = (int)(j % win);
    float acc = dsrc[r * src_dim + i];
    for (int h = 0; h < H; h++)
        acc += (float)(dz[r * H + h] * w[(size_t)h * win + i]);
    dsrc[r * src_dim + i] = acc;
}

// dw[h][i] += sum over rows (in order) of dz[r][h] src[r][i]: one thread per (h, i).
PG_KERNEL head_gate_dw(float *dw, const double *dz, const float *src, size_t n, int H,
                       int src_dim, int win)
{
    size_t j = pg_thread_index();
    if (j >= (size_t)H * win)
        return;
    int h = (int)(j / win), i = (int)(j % win);
    float acc = dw[j];
    for (size_t r = 0; r < n; r++)
        acc += (float)(dz[r * H + h] * src[r * src_dim + i]);
    dw[j] = acc;
}
