#include "kernels/cpu/gemm.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* The full build links OpenBLAS and keeps it to one thread per call: the parallelism is
 * pgolf's own, over fixed tiles. The box build's stand-in <cblas.h>
 * (packager/box/include/) calls the machine's OpenBLAS when it loaded its pthreads build
 * (pg_cblas_available, which also sets one thread) and the hand-written product
 * otherwise. */
#include <cblas.h>
#ifdef PG_CBLAS_OPTIONAL
static int blas_ready(void)
{
    return pg_cblas_available();
}
#else
#include <pthread.h>
/* Only OpenBLAS's pthreads build may be called from several threads at once (its
 * sequential build shares its buffers unguarded, its OpenMP build would set pgolf's own
 * thread count): anything else would silently corrupt results. */
static void one_thread(void)
{
    if (openblas_get_parallel() != 1) {
        fprintf(stderr, "pgolf: the OpenBLAS loaded is not its pthreads build (Debian's "
                        "libopenblas0-pthread); see BLAS_DIR in the GNUmakefile\n");
        abort();
    }
    openblas_set_num_threads(1);
}
static int blas_ready(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, one_thread);
    return 1;
}
#endif

static int use_portable;

void pg_gemm_use_portable(int on)
{
    use_portable = on;
}

const char *pg_gemm_describe(void)
{
    return !use_portable && blas_ready() ? "OpenBLAS products" : "hand-written products";
}

/* Dot product with 8 partial sums combined in a fixed order: vectorizes without
 * -ffast-math. */
static pg_real dot(const pg_real *a, const pg_real *b, int n)
{
    pg_real acc[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += a[i + j] * b[i + j];
    pg_real tail = 0;
    for (; i < n; i++)
        tail += a[i] * b[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) +
           tail;
}

/* This thread's buffers, grown as needed and kept (slot 0: a padded tile; slot 1: the
 * hand-written product's contiguous copies): the one memory the CPU backend's ops take
 * for themselves, since a tile's operands are not workspace a caller can size without
 * knowing the tiling. */
static _Thread_local pg_real *buffers[2];
static _Thread_local size_t buffer_cap[2];

static pg_real *thread_buffer(int slot, size_t n)
{
    if (n > buffer_cap[slot]) {
        free(buffers[slot]);
        buffers[slot] = malloc(n * sizeof(pg_real));
        if (!buffers[slot]) {
            fprintf(stderr, "pgolf: out of memory for a matrix product's tile (%zu bytes)\n",
                    n * sizeof(pg_real));
            abort();
        }
        buffer_cap[slot] = n;
    }
    return buffers[slot];
}

/* The hand-written product of one tile, as the CPU backend computed its products before
 * the BLAS: op(A)'s rows and op(B)'s columns copied contiguous, each element one dot
 * product, output columns in blocks of 16 so that a few columns stay in cache. */
static void tile_portable(int ta, int tb, int M, int N, int K, pg_real alpha, const pg_real *A,
                          int lda, const pg_real *B, int ldb, pg_real beta, pg_real *C, int ldc)
{
    enum { OB = 16 };
    pg_real *a = thread_buffer(1, (size_t)(M + N) * K), *bt = a + (size_t)M * K;
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++)
            a[(size_t)i * K + k] = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
    for (int j = 0; j < N; j++)
        for (int k = 0; k < K; k++)
            bt[(size_t)j * K + k] = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
    for (int j0 = 0; j0 < N; j0 += OB) {
        int j1 = j0 + OB < N ? j0 + OB : N;
        for (int i = 0; i < M; i++) {
            pg_real *c = C + (size_t)i * ldc;
            for (int j = j0; j < j1; j++) {
                pg_real d = alpha * dot(a + (size_t)i * K, bt + (size_t)j * K, K);
                c[j] = beta == 0 ? d : beta * c[j] + d;
            }
        }
    }
}

void pg_gemm_block(int ta, int tb, int M, int N, int K, pg_real alpha, const pg_real *A, int lda,
                   const pg_real *B, int ldb, pg_real beta, pg_real *C, int ldc)
{
    if (!use_portable && blas_ready()) {
        enum CBLAS_TRANSPOSE a = ta ? CblasTrans : CblasNoTrans, b = tb ? CblasTrans : CblasNoTrans;
#ifdef PG_REAL_DOUBLE
        cblas_dgemm(CblasRowMajor, a, b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
        cblas_sgemm(CblasRowMajor, a, b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
        return;
    }
    tile_portable(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* A last tile of m < PG_GEMM_ROWS rows: its rows of op(A) and of C are copied into
 * zero-padded operands of PG_GEMM_ROWS rows (op(A) kept in A's own orientation, so the
 * BLAS takes the same path as for a full tile), computed, and its m rows copied back. */
static void tile_padded(int ta, int tb, int m, int N, int K, pg_real alpha, const pg_real *A,
                        int lda, const pg_real *B, int ldb, pg_real beta, pg_real *C, int ldc)
{
    enum { R = PG_GEMM_ROWS };
    pg_real *Ap = thread_buffer(0, (size_t)R * K + (size_t)R * N), *Cp = Ap + (size_t)R * K;
    memset(Ap, 0, ((size_t)R * K + (size_t)R * N) * sizeof *Ap);
    for (int r = 0; r < m; r++) {
        if (ta)
            for (int k = 0; k < K; k++)
                Ap[(size_t)k * R + r] = A[(size_t)k * lda + r];
        else
            memcpy(Ap + (size_t)r * K, A + (size_t)r * lda, (size_t)K * sizeof *Ap);
        if (beta != 0)
            memcpy(Cp + (size_t)r * N, C + (size_t)r * ldc, (size_t)N * sizeof *Cp);
    }
    pg_gemm_block(ta, tb, R, N, K, alpha, Ap, ta ? R : K, B, ldb, beta, Cp, N);
    for (int r = 0; r < m; r++)
        memcpy(C + (size_t)r * ldc, Cp + (size_t)r * N, (size_t)N * sizeof *C);
}

static void tiles(int pad_rows, int ta, int tb, int M, int N, int K, pg_real alpha,
                  const pg_real *A, int lda, const pg_real *B, int ldb, pg_real beta, pg_real *C,
                  int ldc)
{
    enum { R = PG_GEMM_ROWS, W = PG_GEMM_COLS };
    int tm = (M + R - 1) / R, tn = (N + W - 1) / W;
#ifdef _OPENMP
    /* Threads only when the call is not already inside a parallel region and there is
     * work for more than one tile. */
    int par = tm * tn > 1 && (double)M * N * K >= (double)(1 << 20) && !omp_in_parallel();
#endif
#pragma omp parallel for collapse(2) schedule(static) if (par)
    for (int bi = 0; bi < tm; bi++) {
        for (int bj = 0; bj < tn; bj++) {
            int i0 = bi * R, j0 = bj * W;
            int m = M - i0 < R ? M - i0 : R, n = N - j0 < W ? N - j0 : W;
            const pg_real *a = ta ? A + i0 : A + (size_t)i0 * lda;
            const pg_real *b = tb ? B + (size_t)j0 * ldb : B + j0;
            pg_real *c = C + (size_t)i0 * ldc + j0;
            if (m < R && pad_rows)
                tile_padded(ta, tb, m, n, K, alpha, a, lda, b, ldb, beta, c, ldc);
            else
                pg_gemm_block(ta, tb, m, n, K, alpha, a, lda, b, ldb, beta, c, ldc);
        }
    }
}

void pg_gemm(int ta, int tb, int M, int N, int K, pg_real alpha, const pg_real *A, int lda,
             const pg_real *B, int ldb, pg_real beta, pg_real *C, int ldc)
{
    tiles(1, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void pg_gemm_fixed(int ta, int tb, int M, int N, int K, pg_real alpha, const pg_real *A, int lda,
                   const pg_real *B, int ldb, pg_real beta, pg_real *C, int ldc)
{
    tiles(0, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
