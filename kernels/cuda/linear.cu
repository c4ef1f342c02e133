// Linear layers through cuBLAS: out[n][o] = sum_i in[n][i] w[o][i] and its gradients.
// Row-major [r][c] is column-major [c][r], so each product is one GEMM without copies.
// float32 mode (the default, TF32 off) is the parity mode; bf16 mode rounds both inputs
// to bfloat16 and accumulates in float32, as the reference's autocast does.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cuda/common.cuh"

extern "C" {
#include "kernels/cuda/backend_cuda.h"
}

static int g_bf16;

extern "C" void pg_cuda_set_bf16(int on)
{
    g_bf16 = on;
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

static cublasHandle_t handle(void)
{
    static cublasHandle_t h;
    if (!h) {
        PG_CUBLAS(cublasCreate(&h));
        // no TF32, no reduced-precision shortcuts: float32 products as the CPU computes them
        PG_CUBLAS(cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH));
    }
    return h;
}

__global__ void to_bf16(__nv_bfloat16 *dst, const float *src, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        dst[i] = __float2bfloat16(src[i]);
}

// Column-major C (m x n, ldc) = beta C + op(A) op(B), in float32 or bf16 inputs.
static void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *A,
                 int lda, size_t a_elems, const float *B, int ldb, size_t b_elems, float beta,
                 float *C, int ldc)
{
    const float one = 1.0f;
    if (!g_bf16) {
        PG_CUBLAS(cublasSgemm(handle(), ta, tb, m, n, k, &one, A, lda, B, ldb, &beta, C, ldc));
        return;
    }
    __nv_bfloat16 *a16 = (__nv_bfloat16 *)pg_cuda_workspace((a_elems + b_elems) * sizeof *a16);
    __nv_bfloat16 *b16 = a16 + a_elems;
    to_bf16<<<pg_blocks(a_elems, 256), 256>>>(a16, A, a_elems);
    to_bf16<<<pg_blocks(b_elems, 256), 256>>>(b16, B, b_elems);
    PG_CUDA_LAUNCHED();
    PG_CUBLAS(cublasGemmEx(handle(), ta, tb, m, n, k, &one, a16, CUDA_R_16BF, lda, b16,
                           CUDA_R_16BF, ldb, &beta, C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F,
                           CUBLAS_GEMM_DEFAULT));
}

void pg_cuda_linear_fwd(float *out, const float *in, const float *w, int n, int in_dim, int out_dim)
{
    // out^T (o x n) = w_cm^T (w as column-major i x o) times in^T (i x n)
    gemm(CUBLAS_OP_T, CUBLAS_OP_N, out_dim, n, in_dim, w, in_dim, (size_t)out_dim * in_dim, in,
         in_dim, (size_t)n * in_dim, 0.0f, out, out_dim);
}

size_t pg_cuda_linear_bwd_scratch(int n, int in_dim, int out_dim)
{
    (void)n, (void)in_dim, (void)out_dim;
    return 0; // GEMMs accumulate in place (beta = 1)
}

void pg_cuda_linear_bwd(float *din, float *dw, const float *dout, const float *in, const float *w,
                        int n, int in_dim, int out_dim, float *scratch)
{
    (void)scratch;
    // din^T (i x n) += w (column-major i x o) dout^T (o x n)
    if (din)
        gemm(CUBLAS_OP_N, CUBLAS_OP_N, in_dim, n, out_dim, w, in_dim, (size_t)out_dim * in_dim,
             dout, out_dim, (size_t)n * out_dim, 1.0f, din, in_dim);
    // dw^T (i x o) += in^T (i x n) dout (n x o)
    gemm(CUBLAS_OP_N, CUBLAS_OP_T, in_dim, out_dim, n, in, in_dim, (size_t)n * in_dim, dout,
         out_dim, (size_t)n * out_dim, 1.0f, dw, in_dim);
}

void pg_cuda_matmul_nn(float *out, const float *a, const float *b, int m, int k, int n)
{
    // out^T (n x m) = b^T (column-major n x k) a^T (k x m)
    gemm(CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, b, n, (size_t)k * n, a, k, (size_t)m * k, 0.0f, out, n);
}
