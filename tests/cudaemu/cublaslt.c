/* The cuBLASLt calls of kernels/cuda/linear.c on the CPU, with cuBLASLt's documented
 * semantics: D = alpha op(A) op(B) + beta C on column-major matrices with leading
 * dimensions, op() a transpose or not; A and B float32 or bfloat16 (widened exactly),
 * C and D float32, accumulation in float32 in k order (so one engine run gives the same
 * bits as the next); C is not read when beta is 0. Descriptors live in cuBLASLt's own
 * semi-opaque structs. What the engine does not implement (another compute or scale
 * type, data type, attribute, a stream) is an error with a report, never ignored.
 *
 * The heuristic returns one algorithm, which records the problem it was chosen for and
 * the buffer alignments the preference promised (256 bytes unless set, as cuBLASLt
 * assumes); cublasLtMatmul fails when the algorithm meets another problem or a buffer
 * less aligned than promised, where a real algorithm may compute garbage. */
#include <cublasLt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/cudaemu/engine.h"

#define ALGO_MAGIC 0x70676c74u

typedef struct {
    int compute, scale, op[2]; /* op[0] of A, op[1] of B */
} desc_t;
typedef struct {
    int type;
    uint64_t rows, cols;
    int64_t ld;
} layout_t;
typedef struct {
    uint64_t max_workspace;
    uint32_t schemes, align[4];
} pref_t;
typedef struct {
    uint32_t magic, op[2], type, m, n, k, align[4];
} algo_t;

typedef union {
    cublasLtMatmulDescOpaque_t opaque;
    desc_t d;
} desc_u;
typedef union {
    cublasLtMatrixLayoutOpaque_t opaque;
    layout_t l;
} layout_u;
typedef union {
    cublasLtMatmulPreferenceOpaque_t opaque;
    pref_t p;
} pref_u;
typedef union {
    cublasLtMatmulAlgo_t opaque;
    algo_t a;
} algo_u;

_Static_assert(sizeof(desc_t) <= sizeof(cublasLtMatmulDescOpaque_t), "desc fits");
_Static_assert(sizeof(algo_t) <= sizeof(cublasLtMatmulAlgo_t), "algo fits");

static struct cublasLtContext *const HANDLE = (struct cublasLtContext *)&HANDLE;

static cublasStatus_t unsupported(const char *what, long value)
{
    pg_emu_report("cudaemu cuBLASLt: %s %ld is not implemented by the engine", what, value);
    return CUBLAS_STATUS_NOT_SUPPORTED;
}

static cublasStatus_t invalid(const char *what)
{
    pg_emu_report("cudaemu cuBLASLt: %s", what);
    return CUBLAS_STATUS_INVALID_VALUE;
}

size_t cublasLtGetVersion(void)
{
    return CUBLAS_VERSION;
}

cublasStatus_t cublasLtCreate(cublasLtHandle_t *h)
{
    *h = HANDLE;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *desc, cublasComputeType_t compute,
                                        cudaDataType_t scale)
{
    if (compute != CUBLAS_COMPUTE_32F)
        return unsupported("compute type", compute);
    if (scale != CUDA_R_32F)
        return unsupported("scale type", scale);
    desc_u *u = calloc(1, sizeof *u);
    if (!u)
        return CUBLAS_STATUS_ALLOC_FAILED;
    u->d = (desc_t){compute, scale, {CUBLAS_OP_N, CUBLAS_OP_N}};
    *desc = &u->opaque;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc)
{
    free(desc);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc,
                                              cublasLtMatmulDescAttributes_t attr, const void *buf,
                                              size_t size)
{
    desc_t *d = &((desc_u *)desc)->d;
    if (attr != CUBLASLT_MATMUL_DESC_TRANSA && attr != CUBLASLT_MATMUL_DESC_TRANSB)
        return unsupported("matmul descriptor attribute", attr);
    int32_t op;
    if (size != sizeof op)
        return invalid("a transpose attribute is an int32");
    memcpy(&op, buf, sizeof op);
    if (op != CUBLAS_OP_N && op != CUBLAS_OP_T)
        return unsupported("operation", op);
    d->op[attr == CUBLASLT_MATMUL_DESC_TRANSB] = op;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType type,
                                          uint64_t rows, uint64_t cols, int64_t ld)
{
    if (type != CUDA_R_32F && type != CUDA_R_16BF)
        return unsupported("data type", type);
    if (rows > INT32_MAX || cols > INT32_MAX || ld < (int64_t)(rows ? rows : 1))
        return invalid("a layout's leading dimension is below its rows");
    layout_u *u = calloc(1, sizeof *u);
    if (!u)
        return CUBLAS_STATUS_ALLOC_FAILED;
    u->l = (layout_t){type, rows, cols, ld};
    *layout = &u->opaque;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout)
{
    free(layout);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref)
{
    pref_u *u = calloc(1, sizeof *u);
    if (!u)
        return CUBLAS_STATUS_ALLOC_FAILED;
    u->p = (pref_t){0, CUBLASLT_REDUCTION_SCHEME_MASK, {256, 256, 256, 256}};
    *pref = &u->opaque;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref)
{
    free(pref);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr,
                                                    const void *buf, size_t size)
{
    pref_t *p = &((pref_u *)pref)->p;
    switch (attr) {
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES:
        if (size != sizeof p->max_workspace)
            return invalid("the workspace preference is a uint64");
        memcpy(&p->max_workspace, buf, size);
        return CUBLAS_STATUS_SUCCESS;
    case CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK:
        if (size != sizeof p->schemes)
            return invalid("the reduction scheme mask is a uint32");
        memcpy(&p->schemes, buf, size);
        return CUBLAS_STATUS_SUCCESS;
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES:
        if (size != sizeof(uint32_t))
            return invalid("an alignment preference is a uint32");
        memcpy(&p->align[attr - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES], buf, size);
        return CUBLAS_STATUS_SUCCESS;
    default:
        return unsupported("preference attribute", attr);
    }
}

/* The problem the descriptors state, or a reason it is not one. */
static const char *problem(const desc_t *d, const layout_t *a, const layout_t *b,
                           const layout_t *c, const layout_t *dl, algo_t *out)
{
    uint64_t m = d->op[0] == CUBLAS_OP_N ? a->rows : a->cols;
    uint64_t k = d->op[0] == CUBLAS_OP_N ? a->cols : a->rows;
    uint64_t kb = d->op[1] == CUBLAS_OP_N ? b->rows : b->cols;
    uint64_t n = d->op[1] == CUBLAS_OP_N ? b->cols : b->rows;
    if (a->type != b->type)
        return "A and B have different data types";
    if (c->type != CUDA_R_32F || dl->type != CUDA_R_32F)
        return "C and D must be float32";
    if (k != kb)
        return "op(A)'s columns differ from op(B)'s rows";
    if (c->rows != m || c->cols != n || dl->rows != m || dl->cols != n || c->ld != dl->ld)
        return "C and D are not the m x n of op(A) op(B) with one leading dimension";
    *out = (algo_t){ALGO_MAGIC, {(uint32_t)d->op[0], (uint32_t)d->op[1]}, (uint32_t)a->type,
                    (uint32_t)m, (uint32_t)n, (uint32_t)k, {0}};
    return NULL;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t la, cublasLtMatrixLayout_t lb,
                                              cublasLtMatrixLayout_t lc, cublasLtMatrixLayout_t ld,
                                              cublasLtMatmulPreference_t pref, int requested,
                                              cublasLtMatmulHeuristicResult_t results[],
                                              int *count)
{
    if (h != HANDLE || requested < 1)
        return invalid("a heuristic needs the handle and room for one result");
    algo_u u;
    memset(&u, 0, sizeof u);
    const char *why = problem(&((desc_u *)desc)->d, &((layout_u *)la)->l, &((layout_u *)lb)->l,
                              &((layout_u *)lc)->l, &((layout_u *)ld)->l, &u.a);
    if (why)
        return invalid(why);
    memcpy(u.a.align, ((pref_u *)pref)->p.align, sizeof u.a.align);
    memset(&results[0], 0, sizeof results[0]);
    results[0].algo = u.opaque;
    results[0].workspaceSize = 0; /* no split-K: any reduction-scheme mask allows it */
    results[0].state = CUBLAS_STATUS_SUCCESS;
    results[0].wavesCount = 1.0f;
    *count = 1;
    return CUBLAS_STATUS_SUCCESS;
}

static float element(const void *base, int type, int64_t at)
{
    if (type == CUDA_R_32F)
        return ((const float *)base)[at];
    uint32_t bits = (uint32_t)((const uint16_t *)base)[at] << 16; /* bfloat16 widened */
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t desc, const void *alpha,
                              const void *A, cublasLtMatrixLayout_t la, const void *B,
                              cublasLtMatrixLayout_t lb, const void *beta, const void *C,
                              cublasLtMatrixLayout_t lc, void *D, cublasLtMatrixLayout_t ldd,
                              const cublasLtMatmulAlgo_t *algo, void *workspace,
                              size_t workspace_bytes, cudaStream_t stream)
{
    (void)workspace_bytes;
    if (h != HANDLE)
        return invalid("cublasLtMatmul without the handle");
    if (stream)
        return unsupported("stream (only the default is emulated)", 1);
    if (pg_emu_is_device(alpha) || pg_emu_is_device(beta))
        return unsupported("device pointer mode for alpha and beta", 1);
    const desc_t *d = &((desc_u *)desc)->d;
    const layout_t *a = &((layout_u *)la)->l, *b = &((layout_u *)lb)->l;
    const layout_t *c = &((layout_u *)lc)->l, *dl = &((layout_u *)ldd)->l;
    algo_u want;
    memset(&want, 0, sizeof want);
    const char *why = problem(d, a, b, c, dl, &want.a);
    if (why)
        return invalid(why);
    if (!algo)
        return unsupported("matmul without an algorithm", 0);
    algo_t got;
    memcpy(&got, algo, sizeof got);
    memcpy(want.a.align, got.align, sizeof got.align);
    if (memcmp(&got, &want.a, sizeof got) != 0)
        return invalid("the algorithm was chosen for another problem");
    const void *ptrs[4] = {A, B, C, D};
    for (int i = 0; i < 4; i++)
        if ((uintptr_t)ptrs[i] % got.align[i])
            return invalid("a buffer is less aligned than the preference promised");
    if (workspace && !pg_emu_is_device(workspace))
        return invalid("the workspace is not device memory");
    float al, be;
    memcpy(&al, alpha, sizeof al);
    memcpy(&be, beta, sizeof be);
    const void *ha = pg_emu_host_addr(A, "cublasLtMatmul A");
    const void *hb = pg_emu_host_addr(B, "cublasLtMatmul B");
    const float *hc = pg_emu_host_addr(C, "cublasLtMatmul C");
    float *hd = pg_emu_host_addr(D, "cublasLtMatmul D");
    if (!ha || !hb || !hc || !hd)
        return CUBLAS_STATUS_INVALID_VALUE;
    int64_t m = got.m, n = got.n, k = got.k;
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < m; i++) {
            float acc = 0.0f;
            for (int64_t p = 0; p < k; p++) {
                int64_t at_a = d->op[0] == CUBLAS_OP_N ? i + p * a->ld : p + i * a->ld;
                int64_t at_b = d->op[1] == CUBLAS_OP_N ? p + j * b->ld : j + p * b->ld;
                acc += element(ha, a->type, at_a) * element(hb, b->type, at_b);
            }
            float r = al * acc;
            if (be != 0.0f)
                r += be * hc[i + j * c->ld];
            hd[i + j * dl->ld] = r;
        }
    return CUBLAS_STATUS_SUCCESS;
}
