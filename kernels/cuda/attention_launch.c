/* Launches the flash-style attention of attention.cu: one block of PG_CU_FA_ROWS rows per
 * (row tile, head, sequence), the kernel instantiated for head_dim padded to 32, 64 or
 * 128. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "kernels/cuda/backend_cuda.h"
#include "kernels/cuda/host.h"

enum { FWD, BWD_DQ, BWD_DK, BWD_DV };

/* The entry point of `which` for head_dim hd padded to 32, 64 or 128 (hd <= 128). */
static pg_cuda_kernel *entry(int which, int hd)
{
    static pg_cuda_kernel k[4][3] = {
        {{"flash_fwd_32"}, {"flash_fwd_64"}, {"flash_fwd_128"}},
        {{"flash_bwd_dq_32"}, {"flash_bwd_dq_64"}, {"flash_bwd_dq_128"}},
        {{"flash_bwd_dk_32"}, {"flash_bwd_dk_64"}, {"flash_bwd_dk_128"}},
        {{"flash_bwd_dv_32"}, {"flash_bwd_dv_64"}, {"flash_bwd_dv_128"}}};
    if (hd > 128) {
        fprintf(stderr, "pgolf: the CUDA attention supports head_dim <= 128, not %d\n", hd);
        exit(1);
    }
    if (pg_cuda_prepare_head_dim(hd) != 0) {
        fprintf(stderr, "pgolf: %s\n", pg_errmsg());
        exit(1);
    }
    return &k[which][pg_cuda_padded_head_dim(hd) / 64]; /* 32, 64, 128 -> 0, 1, 2 */
}

size_t pg_cuda_attention_state_size(int B, int T, int H, int hd)
{
    (void)hd;
    return (size_t)B * H * T;
}

size_t pg_cuda_attention_bwd_scratch(int T, int KVH, int hd)
{
    (void)T, (void)KVH, (void)hd;
    return 0; /* each kernel computes the softmax's row terms it needs */
}

void pg_cuda_attention_fwd(float *out, float *lse, const float *q, const float *k, const float *v,
                           const int *span, int B, int T, int H, int KVH, int hd)
{
    if (B == 0 || T == 0)
        return;
    float scale = (float)(1.0 / sqrt((double)hd));
    void *args[] = {&out, &lse, &q, &k, &v, &span, &T, &H, &KVH, &hd, &scale};
    pg_cuda_launch(entry(FWD, hd), pg_blocks((size_t)T, PG_CU_FA_ROWS), (unsigned)H,
                   (unsigned)B, PG_CU_FA_ROWS, args);
}

/* dq over query tiles of each head; dk and dv over key tiles of each kv head. */
void pg_cuda_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *out,
                           const float *lse, const float *q, const float *k, const float *v,
                           const int *span, int B, int T, int H, int KVH, int hd, float *scratch)
{
    (void)scratch;
    if (B == 0 || T == 0)
        return;
    float scale = (float)(1.0 / sqrt((double)hd));
    unsigned tiles = pg_blocks((size_t)T, PG_CU_FA_ROWS);
    float *grad[3] = {dq, dk, dv};
    for (int i = 0; i < 3; i++) {
        void *args[] = {&grad[i], &dout, &out, &lse, &q, &k, &v, &span, &T, &H, &KVH, &hd, &scale};
        pg_cuda_launch(entry(BWD_DQ + i, hd), tiles, (unsigned)(i == 0 ? H : KVH), (unsigned)B,
                       PG_CU_FA_ROWS, args);
    }
}
