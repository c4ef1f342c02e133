// Causal GQA attention, flash-style: the forward streams key tiles through shared memory
// with an online softmax and keeps only each row's log-sum-exp (never the T x T
// probabilities); the backward recomputes the probabilities tile by tile from it.
// Forward and backward side by side. q [B*T][H][hd], k and v [B*T][KVH][hd],
// out [B*T][H][hd], state (the log-sum-exp) [B][H][T]. span (NULL: none) masks packed
// documents: query t reads keys span[b*T + t] .. t only.
//
// One thread owns one query row (forward, dq) or one key row (dk, dv) and sums over the
// other side in position order, so no result depends on scheduling and no atomics are
// used: the same inputs give the same bits every run. Arithmetic is float32; head_dim is
// padded up to a compile-time HD (32, 64 or 128) so the row lives in registers.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/sizes.h"

#define FA_ROWS PG_CU_FA_ROWS
#define FA_TILE PG_CU_FA_TILE

// Copies rows [r0, r0 + FA_TILE) of one head of a [B*T][heads][hd] tensor into a zero-padded
// [FA_TILE][HD] tile (rows past T are zeros).
template <int HD>
__device__ void load_tile(float (*tile)[HD], const float *x, size_t row, int r0, int T, int heads,
                          int head, int hd)
{
    for (int e = threadIdx.x; e < FA_TILE * HD; e += blockDim.x) {
        int j = e / HD, i = e % HD, r = r0 + j;
        tile[j][i] = (r < T && i < hd) ? x[((row + r) * heads + head) * hd + i] : 0.0f;
    }
}

// Loads one head_dim row into registers, zero-padded to HD.
template <int HD> __device__ void load_row(float *reg, const float *x, int hd, bool live)
{
#pragma unroll
    for (int i = 0; i < HD; i++)
        reg[i] = (live && i < hd) ? x[i] : 0.0f;
}

template <int HD> __device__ float dot_row(const float *reg, const float *tile_row)
{
    float d = 0;
#pragma unroll
    for (int i = 0; i < HD; i++)
        d += reg[i] * tile_row[i];
    return d;
}

// One block per (query tile, head h, sequence b).
// The first key query row t (of sequence row `row`) reads.
__device__ inline int span_lo(const int *span, size_t row, int t)
{
    return span ? span[row + t] : 0;
}

template <int HD>
__device__ void flash_fwd(float *out, float *lse, const float *q, const float *k, const float *v,
                          const int *span, int T, int H, int KVH, int hd, float scale)
{
    __shared__ float ks[FA_TILE][HD], vs[FA_TILE][HD];
    int h = blockIdx.y, b = blockIdx.z, g = h / (H / KVH);
    int t0 = blockIdx.x * FA_ROWS, t = t0 + threadIdx.x;
    int t_last = min(t0 + FA_ROWS, T) - 1;
    size_t row = (size_t)b * T;
    bool live = t < T;
    int lo = live ? span_lo(span, row, t) : 0;
    float qr[HD], o[HD];
    load_row<HD>(qr, q + ((row + (live ? t : 0)) * H + h) * hd, hd, live);
#pragma unroll
    for (int i = 0; i < HD; i++)
        o[i] = 0.0f;
    float m = -PG_INF, l = 0.0f; // running max and sum of exp(score - m)
    for (int s0 = 0; s0 <= t_last; s0 += FA_TILE) {
        __syncthreads(); // the previous tile is consumed
        load_tile<HD>(ks, k, row, s0, T, KVH, g, hd);
        load_tile<HD>(vs, v, row, s0, T, KVH, g, hd);
        __syncthreads();
        if (!live || s0 > t || s0 + FA_TILE <= lo)
            continue; // the whole tile is after this row, or before its document
        float sc[FA_TILE], tile_max = -PG_INF;
#pragma unroll
        for (int j = 0; j < FA_TILE; j++) {
            sc[j] = s0 + j <= t && s0 + j >= lo ? dot_row<HD>(qr, ks[j]) * scale : -PG_INF;
            tile_max = fmaxf(tile_max, sc[j]);
        }
        float m_new = fmaxf(m, tile_max), corr = expf(m - m_new);
        l *= corr;
#pragma unroll
        for (int i = 0; i < HD; i++)
            o[i] *= corr;
#pragma unroll
        for (int j = 0; j < FA_TILE; j++) {
            float p = expf(sc[j] - m_new); // 0 for the masked keys
            l += p;
#pragma unroll
            for (int i = 0; i < HD; i++)
                o[i] += p * vs[j][i];
        }
        m = m_new;
    }
    if (!live)
        return;
    float *ot = out + ((row + t) * H + h) * hd, inv = 1.0f / l;
#pragma unroll
    for (int i = 0; i < HD; i++)
        if (i < hd)
            ot[i] = o[i] * inv;
    lse[((size_t)b * H + h) * T + t] = m + logf(l);
}

// The softmax backward's row term delta_t = dout_t . out_t (= sum_s p_s dp_s), summed in
// index order by the one thread that needs it.
__device__ float row_delta(const float *dout_t, const float *out_t, int hd)
{
    float d = 0;
    for (int i = 0; i < hd; i++)
        d += dout_t[i] * out_t[i];
    return d;
}

// dq for one (query tile, h, b): with p_s = exp(scale q.k_s - lse), dp_s = dout . v_s,
// dq += scale sum_s p_s (dp_s - delta) k_s.
template <int HD>
__device__ void flash_bwd_dq(float *dq, const float *dout, const float *out, const float *lse,
                             const float *q, const float *k, const float *v, const int *span,
                             int T, int H, int KVH, int hd, float scale)
{
    __shared__ float ks[FA_TILE][HD], vs[FA_TILE][HD];
    int h = blockIdx.y, b = blockIdx.z, g = h / (H / KVH);
    int t0 = blockIdx.x * FA_ROWS, t = t0 + threadIdx.x;
    int t_last = min(t0 + FA_ROWS, T) - 1;
    size_t row = (size_t)b * T, at = ((row + (t < T ? t : 0)) * H + h) * hd;
    bool live = t < T;
    int lo = live ? span_lo(span, row, t) : 0;
    float qr[HD], dor[HD], acc[HD];
    load_row<HD>(qr, q + at, hd, live);
    load_row<HD>(dor, dout + at, hd, live);
#pragma unroll
    for (int i = 0; i < HD; i++)
        acc[i] = 0.0f;
    size_t bht = ((size_t)b * H + h) * T + (live ? t : 0);
    float L = live ? lse[bht] : 0.0f, dl = live ? row_delta(dout + at, out + at, hd) : 0.0f;
    for (int s0 = 0; s0 <= t_last; s0 += FA_TILE) {
        __syncthreads();
        load_tile<HD>(ks, k, row, s0, T, KVH, g, hd);
        load_tile<HD>(vs, v, row, s0, T, KVH, g, hd);
        __syncthreads();
        if (!live || s0 > t || s0 + FA_TILE <= lo)
            continue;
        for (int j = 0; j < FA_TILE && s0 + j <= t; j++) {
            if (s0 + j < lo)
                continue; // before this row's document
            float p = expf(dot_row<HD>(qr, ks[j]) * scale - L);
            float ds = p * (dot_row<HD>(dor, vs[j]) - dl) * scale;
#pragma unroll
            for (int i = 0; i < HD; i++)
                acc[i] += ds * ks[j][i];
        }
    }
    if (!live)
        return;
#pragma unroll
    for (int i = 0; i < HD; i++)
        if (i < hd)
            dq[at + i] += acc[i];
}

// dk (DK) or dv (!DK) for one (key tile, kv head g, b): the query heads of the group, then
// the positions t >= s, in order. dv_s += sum p_ts dout_t; dk_s += scale sum ds_ts q_t.
// Split in two launches (dv needs neither v nor delta) to keep fewer rows in registers.
template <int HD, bool DK>
__device__ void flash_bwd_kv(float *dkv, const float *dout, const float *out, const float *lse,
                             const float *q, const float *k, const float *v, const int *span,
                             int T, int H, int KVH, int hd, float scale)
{
    __shared__ float qs[FA_TILE][HD], dos[FA_TILE][HD], ls[FA_TILE], dls[FA_TILE];
    __shared__ int los[FA_TILE];
    int g = blockIdx.y, b = blockIdx.z, group = H / KVH;
    int s0 = blockIdx.x * FA_ROWS, s = s0 + threadIdx.x;
    size_t row = (size_t)b * T, at = ((row + (s < T ? s : 0)) * KVH + g) * hd;
    bool live = s < T;
    float kr[HD], vr[HD], acc[HD];
    load_row<HD>(kr, k + at, hd, live);
    if (DK)
        load_row<HD>(vr, v + at, hd, live);
#pragma unroll
    for (int i = 0; i < HD; i++)
        acc[i] = 0.0f;
    for (int h = g * group; h < (g + 1) * group; h++) {
        size_t bh = ((size_t)b * H + h) * T;
        for (int q0 = s0; q0 < T; q0 += FA_TILE) {
            __syncthreads();
            load_tile<HD>(qs, q, row, q0, T, H, h, hd);
            load_tile<HD>(dos, dout, row, q0, T, H, h, hd);
            for (int j = threadIdx.x; j < FA_TILE; j += blockDim.x) {
                size_t at_q = ((row + q0 + j) * H + h) * hd;
                bool in = q0 + j < T;
                ls[j] = in ? lse[bh + q0 + j] : 0.0f;
                los[j] = in ? span_lo(span, row, q0 + j) : 0;
                if (DK)
                    dls[j] = in ? row_delta(dout + at_q, out + at_q, hd) : 0.0f;
            }
            __syncthreads();
            if (!live)
                continue;
            for (int j = 0; j < FA_TILE && q0 + j < T; j++) {
                if (q0 + j < s || s < los[j])
                    continue; // the query precedes this key, or its document begins after it
                float p = expf(dot_row<HD>(kr, qs[j]) * scale - ls[j]);
                float c = DK ? p * (dot_row<HD>(vr, dos[j]) - dls[j]) * scale : p;
#pragma unroll
                for (int i = 0; i < HD; i++)
                    acc[i] += c * (DK ? qs[j][i] : dos[j][i]);
            }
        }
    }
    if (!live)
        return;
#pragma unroll
    for (int i = 0; i < HD; i++)
        if (i < hd)
            dkv[at + i] += acc[i];
}

// The entry points the host finds by name (attention_launch.c): one per padded head_dim,
// and dk and dv apart. Each takes the same arguments as its device function.
#define FA_ARGS(first)                                                                          \
    first, const float *a1, const float *a2, const float *a3, const float *q, const float *k, \
        const float *v, const int *span, int T, int H, int KVH, int hd, float scale
#define FA_ENTRY(name, call, HD)                                                             \
    PG_KERNEL __launch_bounds__(FA_ROWS) name##_##HD(FA_ARGS(float *d))                     \
    {                                                                                        \
        call(d, a1, a2, a3, q, k, v, span, T, H, KVH, hd, scale);                            \
    }
#define FA_ENTRIES(HD)                                                                       \
    FA_ENTRY(flash_bwd_dq, flash_bwd_dq<HD>, HD)                                             \
    FA_ENTRY(flash_bwd_dk, (flash_bwd_kv<HD, true>), HD)                                     \
    FA_ENTRY(flash_bwd_dv, (flash_bwd_kv<HD, false>), HD)                                    \
    PG_KERNEL __launch_bounds__(FA_ROWS) flash_fwd_##HD(float *out, float *lse, const float *q, \
                                                        const float *k, const float *v,       \
                                                        const int *span, int T, int H, int KVH, \
                                                        int hd, float scale)                  \
    {                                                                                        \
        flash_fwd<HD>(out, lse, q, k, v, span, T, H, KVH, hd, scale);                        \
    }
// PG_FA_HD: only that padded head_dim's entries, or none (0): NVRTC and the box's nvcc
// compile them on first use (kernels/cuda/module.c), as head_dim 128 alone takes most of
// the module's compile time.
#ifndef PG_FA_HD
FA_ENTRIES(32)
FA_ENTRIES(64)
FA_ENTRIES(128)
#elif PG_FA_HD > 0
#define FA_ENTRIES_OF(HD) FA_ENTRIES(HD) // expands PG_FA_HD before ## pastes it
FA_ENTRIES_OF(PG_FA_HD)
#endif
