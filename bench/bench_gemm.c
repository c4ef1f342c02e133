/* The CPU backend's linear layers against the BLAS's own peak on this machine. First the
 * peak: OpenBLAS's cblas_sgemm with its own threads (one per OpenMP thread pgolf uses) on
 * two large products, the best of several calls. Then each linear shape of the 9x512
 * baseline at one sequence of 1024 tokens, forward (pg_linear_fwd: 2 n in out flops)
 * and backward (pg_linear_bwd: both products, 4 n in out flops), in GFLOP/s and as a
 * fraction of the peak. Lines:
 *   bench_gemm peak shape=MxNxK threads=<t> gflops=<g>
 *   bench_gemm layer=<name> pass=<fwd|bwd> n=<n> in=<i> out=<o> best_s=<s> gflops=<g>
 *              of_peak=<r> */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "common/progress.h"
#include "kernels/config.h"
#include "kernels/cpu/ops.h"

static float *filled(size_t n)
{
    float *x = malloc(n * sizeof *x);
    if (!x) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
    return x;
}

static double peak(int M, int N, int K, int threads)
{
    float *a = filled((size_t)M * K), *b = filled((size_t)K * N), *c = filled((size_t)M * N);
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = pg_now_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, a, K, b, N, 0, c, N);
        double dt = pg_now_seconds() - t0;
        best = dt < best ? dt : best;
    }
    double g = 2.0 * M * N * K / best / 1e9;
    printf("bench_gemm peak shape=%dx%dx%d threads=%d gflops=%.1f\n", M, N, K, threads, g);
    free(a);
    free(b);
    free(c);
    return g;
}

static void layer(const char *name, int n, int in, int out, double pk)
{
    float *x = filled((size_t)n * in), *w = filled((size_t)out * in), *y = filled((size_t)n * out);
    float *dx = filled((size_t)n * in), *dw = filled((size_t)out * in);
    double fwd = 1e30, bwd = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = pg_now_seconds();
        pg_linear_fwd(y, x, w, n, in, out);
        double t1 = pg_now_seconds();
        pg_linear_bwd(dx, dw, y, x, w, n, in, out);
        double t2 = pg_now_seconds();
        fwd = t1 - t0 < fwd ? t1 - t0 : fwd;
        bwd = t2 - t1 < bwd ? t2 - t1 : bwd;
    }
    double gf = 2.0 * n * in * out / fwd / 1e9, gb = 4.0 * n * in * out / bwd / 1e9;
    printf("bench_gemm layer=%s pass=fwd n=%d in=%d out=%d best_s=%.5f gflops=%.1f of_peak=%.2f\n",
           name, n, in, out, fwd, gf, gf / pk);
    printf("bench_gemm layer=%s pass=bwd n=%d in=%d out=%d best_s=%.5f gflops=%.1f of_peak=%.2f\n",
           name, n, in, out, bwd, gb, gb / pk);
    free(x);
    free(w);
    free(y);
    free(dx);
    free(dw);
}

int main(void)
{
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    /* pgolf keeps OpenBLAS at one thread per call; the peak uses OpenBLAS's own threads */
    openblas_set_num_threads(threads);
    double p1 = peak(1024, 1536, 512, threads), p2 = peak(2048, 2048, 2048, threads);
    double pk = p1 > p2 ? p1 : p2;
    openblas_set_num_threads(1);
    pg_model_config c = pg_config_baseline();
    int n = c.seq_len, D = c.model_dim, kvd = c.num_kv_heads * (D / c.num_heads);
    int F = c.mlp_mult * D;
    layer("attn.c_q", n, D, D, pk);
    layer("attn.c_k/c_v", n, D, kvd, pk);
    layer("attn.proj", n, D, D, pk);
    layer("mlp.fc", n, D, F, pk);
    layer("mlp.proj", n, F, D, pk);
    layer("lm_head", n, D, c.vocab_size, pk);
    return 0;
}
