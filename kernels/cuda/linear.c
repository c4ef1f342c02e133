/* Linear layers through cuBLASLt: out[n][o] = sum_i in[n][i] w[o][i] and its gradients.
 * Row-major [r][c] is column-major [c][r], so each product is one GEMM without copies.
 * bf16 mode (the default) rounds both inputs to bfloat16 and accumulates in float32, as
 * the reference's autocast does; float32 mode (CUBLAS_COMPUTE_32F, which never uses TF32)
 * is the parity mode. Backward GEMMs accumulate in place (C = D, beta = 1).
 *
 * Determinism: the algorithm for a shape is chosen once and cached, so the same inputs
 * give the same bits run to run; split-K schemes that reduce in place in the output
 * (CUBLASLT_REDUCTION_SCHEME_INPLACE) are excluded besides, leaving only those whose
 * partial sums go through the workspace in a fixed order. */
#include <cublasLt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/backend_cuda.h"
#include "kernels/cuda/host.h"

/* -1 until first asked: then PGOLF_CUDA_LINEAR (bf16, the default, or fp32) */
static int g_bf16 = -1;

int pg_cuda_linear_mode_from_env(void)
{
    const char *s = getenv("PGOLF_CUDA_LINEAR");
    if (!s || !*s || strcmp(s, "bf16") == 0)
        return 1;
    return strcmp(s, "fp32") == 0 ? 0 : -1;
}

int pg_cuda_linear_bf16(int on)
{
    if (g_bf16 < 0)
        g_bf16 = pg_cuda_linear_mode_from_env() != 0;
    int was = g_bf16;
    if (on >= 0)
        g_bf16 = on;
    return was;
}

static void die_cublas(cublasStatus_t s, const char *what, int line)
{
    fprintf(stderr, "pgolf: cuBLAS error %d in %s at %s:%d\n", (int)s, what, __FILE__, line);
    exit(1);
}
#define PG_CUBLAS(x)                                                                     \
    do {                                                                                 \
        cublasStatus_t s_ = (x);                                                         \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                 \
            die_cublas(s_, #x, __LINE__);                                                \
    } while (0)

#define LT_WORKSPACE_BYTES ((size_t)32 << 20)

static cublasLtHandle_t lt_handle(void)
{
    static cublasLtHandle_t h;
    if (!h)
        PG_CUBLAS(cublasLtCreate(&h));
    return h;
}

/* cuBLASLt's own workspace (split-K partial sums), apart from pg_cuda_workspace, which
 * holds the bf16 copies of the inputs while the GEMM runs. */
static void *lt_workspace(void)
{
    static void *w;
    if (!w)
        PG_CUDA(cudaMalloc(&w, LT_WORKSPACE_BYTES));
    return w;
}

/* The largest power of two (at most 256) dividing the address: cuBLASLt assumes 256-byte
 * aligned buffers unless told, and our tensors sit at any float offset. */
static uint32_t alignment(const void *p)
{
    uint32_t a = 256;
    while (a > 1 && (uintptr_t)p % a)
        a >>= 1;
    return a;
}

typedef struct {
    int ta, tb, m, n, k, lda, ldb, ldc, bf16;
    uint32_t align[3];
} gemm_key;

typedef struct {
    gemm_key key;
    cublasLtMatmulAlgo_t algo;
} gemm_plan;

#define MAX_PLANS 256
static gemm_plan plans[MAX_PLANS];
static int n_plans, next_evict;

static const cublasLtMatmulAlgo_t *plan_for(const gemm_key *key, cublasLtMatmulDesc_t desc,
                                            cublasLtMatrixLayout_t la, cublasLtMatrixLayout_t lb,
                                            cublasLtMatrixLayout_t lc)
{
    for (int i = 0; i < n_plans; i++)
        if (!memcmp(&plans[i].key, key, sizeof *key))
            return &plans[i].algo;
    cublasLtMatmulPreference_t pref;
    PG_CUBLAS(cublasLtMatmulPreferenceCreate(&pref));
    uint64_t ws = LT_WORKSPACE_BYTES;
    uint32_t schemes = CUBLASLT_REDUCTION_SCHEME_MASK & ~(uint32_t)CUBLASLT_REDUCTION_SCHEME_INPLACE;
    PG_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                   &ws, sizeof ws));
    PG_CUBLAS(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &schemes, sizeof schemes));
    const cublasLtMatmulPreferenceAttributes_t align_attr[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (int i = 0; i < 4; i++)
        PG_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref, align_attr[i],
                                                       &key->align[i < 3 ? i : 2],
                                                       sizeof(uint32_t)));
    cublasLtMatmulHeuristicResult_t found;
    int count = 0;
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(lt_handle(), desc, la, lb, lc, lc, pref, 1,
                                                       &found, &count);
    PG_CUBLAS(cublasLtMatmulPreferenceDestroy(pref));
    if (st != CUBLAS_STATUS_SUCCESS || count < 1 || found.state != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr,
                "pgolf: cuBLASLt has no algorithm for a %dx%dx%d %s GEMM (alignments %u/%u/%u)\n",
                key->m, key->n, key->k, key->bf16 ? "bf16" : "float32", key->align[0],
                key->align[1], key->align[2]);
        exit(1);
    }
    int slot = n_plans < MAX_PLANS ? n_plans++ : next_evict++ % MAX_PLANS;
    plans[slot].key = *key;
    plans[slot].algo = found.algo;
    return &plans[slot].algo;
}

/* Column-major C (m x n, ldc) = beta C + op(A) op(B), in float32 or bf16 inputs. */
static void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *A,
                 int lda, size_t a_elems, const float *B, int ldb, size_t b_elems, float beta,
                 float *C, int ldc)
{
    const float one = 1.0f;
    const void *a = A, *b = B;
    cudaDataType_t in_type = CUDA_R_32F;
    int bf16 = pg_cuda_linear_bf16(-1);
    if (bf16) {
        uint16_t *a16 = pg_cuda_workspace((a_elems + b_elems) * sizeof *a16), *b16 = a16 + a_elems;
        pg_cuda_to_bf16(a16, A, a_elems);
        pg_cuda_to_bf16(b16, B, b_elems);
        a = a16, b = b16, in_type = CUDA_R_16BF;
    }
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    PG_CUBLAS(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    PG_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    PG_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    /* layouts describe the stored matrices, before op() */
    PG_CUBLAS(cublasLtMatrixLayoutCreate(&la, in_type, ta == CUBLAS_OP_N ? m : k,
                                         ta == CUBLAS_OP_N ? k : m, lda));
    PG_CUBLAS(cublasLtMatrixLayoutCreate(&lb, in_type, tb == CUBLAS_OP_N ? k : n,
                                         tb == CUBLAS_OP_N ? n : k, ldb));
    PG_CUBLAS(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, m, n, ldc));
    gemm_key key;
    memset(&key, 0, sizeof key); /* the padding too: keys are compared with memcmp */
    key.ta = ta, key.tb = tb, key.m = m, key.n = n, key.k = k;
    key.lda = lda, key.ldb = ldb, key.ldc = ldc, key.bf16 = bf16;
    key.align[0] = alignment(a), key.align[1] = alignment(b), key.align[2] = alignment(C);
    const cublasLtMatmulAlgo_t *algo = plan_for(&key, desc, la, lb, lc);
    PG_CUBLAS(cublasLtMatmul(lt_handle(), desc, &one, a, la, b, lb, &beta, C, lc, C, lc, algo,
                             lt_workspace(), LT_WORKSPACE_BYTES, 0));
    PG_CUBLAS(cublasLtMatrixLayoutDestroy(la));
    PG_CUBLAS(cublasLtMatrixLayoutDestroy(lb));
    PG_CUBLAS(cublasLtMatrixLayoutDestroy(lc));
    PG_CUBLAS(cublasLtMatmulDescDestroy(desc));
}

void pg_cuda_linear_fwd(float *out, const float *in, const float *w, int n, int in_dim, int out_dim)
{
    /* out^T (o x n) = w_cm^T (w as column-major i x o) times in^T (i x n) */
    gemm(CUBLAS_OP_T, CUBLAS_OP_N, out_dim, n, in_dim, w, in_dim, (size_t)out_dim * in_dim, in,
         in_dim, (size_t)n * in_dim, 0.0f, out, out_dim);
}

void pg_cuda_linear_bwd(float *din, float *dw, const float *dout, const float *in, const float *w,
                        int n, int in_dim, int out_dim)
{
    /* the GEMMs accumulate in place (beta = 1) */
    /* din^T (i x n) += w (column-major i x o) dout^T (o x n) */
    if (din)
        gemm(CUBLAS_OP_N, CUBLAS_OP_N, in_dim, n, out_dim, w, in_dim, (size_t)out_dim * in_dim,
             dout, out_dim, (size_t)n * out_dim, 1.0f, din, in_dim);
    /* dw^T (i x o) += in^T (i x n) dout (n x o) */
    gemm(CUBLAS_OP_N, CUBLAS_OP_T, in_dim, out_dim, n, in, in_dim, (size_t)n * in_dim, dout,
         out_dim, (size_t)n * out_dim, 1.0f, dw, in_dim);
}

void pg_cuda_matmul_nn(float *out, const float *a, const float *b, int m, int k, int n)
{
    /* out^T (n x m) = b^T (column-major n x k) a^T (k x m) */
    gemm(CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, b, n, (size_t)k * n, a, k, (size_t)m * k, 0.0f, out, n);
}
