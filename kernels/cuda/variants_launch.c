/* Launches the kernels of variants.cu: XSA and the per-head output gates
 * (kernels/cpu/attn_variants.c is the definition). */
#include "kernels/cuda/host.h"

void pg_cuda_xsa_fwd(float *out, const float *y, const float *v, size_t n, int H, int KVH, int hd)
{
    size_t total = n * (size_t)KVH;
    if (total)
        PG_LAUNCH_N(xsa_fwd, total, &out, &y, &v, &n, &H, &KVH, &hd);
}

void pg_cuda_xsa_bwd(float *dy, float *dv, const float *dout, const float *y, const float *v,
                     size_t n, int H, int KVH, int hd)
{
    size_t heads = n * (size_t)H, kvs = n * (size_t)KVH;
    if (!heads)
        return;
    double *ab = pg_cuda_workspace(2 * heads * sizeof(double));
    if (!ab)
        return;
    PG_LAUNCH_N(xsa_bwd_dy, heads, &dy, &ab, &dout, &y, &v, &n, &H, &KVH, &hd);
    PG_LAUNCH_N(xsa_bwd_dv, kvs, &dv, &ab, &dout, &y, &v, &n, &H, &KVH, &hd);
}

void pg_cuda_head_gate_fwd(float *out, const float *y, const float *src, const float *w, size_t n,
                           int H, int hd, int src_dim, int win, float scale, int mult)
{
    size_t total = n * (size_t)H;
    if (total)
        PG_LAUNCH_N(head_gate_fwd, total, &out, &y, &src, &w, &n, &H, &hd, &src_dim, &win, &scale,
                    &mult);
}

void pg_cuda_head_gate_bwd(float *dy, float *dsrc, float *dw, const float *dout, const float *y,
                           const float *src, const float *w, size_t n, int H, int hd, int src_dim,
                           int win, float scale, int mult)
{
    size_t total = n * (size_t)H;
    if (!total)
        return;
    double *dz = pg_cuda_workspace(total * sizeof(double));
    if (!dz)
        return;
    PG_LAUNCH_N(head_gate_dy, total, &dy, &dz, &dout, &y, &src, &w, &n, &H, &hd, &src_dim, &win,
                &scale, &mult);
    size_t cells = n * (size_t)win, wn = (size_t)H * win;
    if (cells)
        PG_LAUNCH_N(head_gate_dsrc, cells, &dsrc, &dz, &w, &n, &H, &src_dim, &win);
    if (wn)
        PG_LAUNCH_N(head_gate_dw, wn, &dw, &dz, &src, &n, &H, &src_dim, &win);
}
