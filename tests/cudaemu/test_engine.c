/* The engine's own tests: each deliberately wrong kernel of checks.cu is reported by its
 * check, the right ones by none, and the runtime and cuBLASLt calls keep CUDA's rules.
 * Checks that end the process (ASan's memcheck, a host dereference of device memory) run
 * in a forked child whose stderr is read back. Prints one line per case; exits 1 if any
 * failed. */
#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <math.h>
#include <nccl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/cudaemu/engine.h"

static int g_failed;
static cudaLibrary_t g_lib;

static void expect(int ok, const char *name, const char *why)
{
    printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", name, ok ? "" : ": ", ok ? "" : why);
    g_failed += !ok;
}

static cudaError_t launch(const char *name, unsigned grid, unsigned threads, void **args)
{
    cudaKernel_t k;
    cudaError_t e = cudaLibraryGetKernel(&k, g_lib, name);
    if (e != cudaSuccess)
        return e;
    dim3 g = {grid, 1, 1}, b = {threads, 1, 1};
    return cudaLaunchKernel((const void *)k, g, b, args, 0, 0);
}

static float *dev_floats(size_t n)
{
    float *p = NULL;
    if (cudaMalloc((void **)&p, n * sizeof *p) != cudaSuccess) {
        fprintf(stderr, "test_engine: cudaMalloc failed\n");
        exit(1);
    }
    return p;
}

static void to_host(void *dst, const void *src, size_t bytes)
{
    if (cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost) != cudaSuccess) {
        fprintf(stderr, "test_engine: cudaMemcpy failed\n");
        exit(1);
    }
}

/* A kernel that must fail its launch with a report containing each of `needles`. */
static void expect_report(const char *kernel, unsigned grid, unsigned threads,
                          const char *const *needles)
{
    float *out = dev_floats((size_t)grid * threads);
    void *args[] = {&out};
    int before = pg_emu_report_count();
    cudaError_t e = launch(kernel, grid, threads, args);
    int ok = e == cudaErrorLaunchFailure && pg_emu_report_count() == before + 1;
    for (int i = 0; ok && needles[i]; i++)
        ok = strstr(pg_emu_last_report(), needles[i]) != NULL;
    /* the context stays broken until reset, as a real one after a fault */
    ok = ok && cudaMemset(out, 0, 4) == cudaErrorLaunchFailure;
    cudaDeviceReset();
    cudaFree(out);
    char why[1200];
    snprintf(why, sizeof why, "launch gave %s; last report: %s", cudaGetErrorName(e),
             pg_emu_last_report());
    expect(ok, kernel, why);
}

static void test_races(void)
{
    const char *const raw[] = {"racecheck: read-after-write", "kernel shift_no_barrier",
                               "block (0,0,0)", "shared offset", "checks.cu:", NULL};
    expect_report("shift_no_barrier", 1, 64, raw);
    const char *const waw[] = {"racecheck: write-after-write", "all_write_one", NULL};
    expect_report("all_write_one", 1, 32, waw);
    const char *const war[] = {"racecheck: write-after-read", "read_then_overwrite",
                               "thread 1 and thread 0", NULL};
    expect_report("read_then_overwrite", 1, 64, war);
    const char *const sync1[] = {"synccheck", "barrier_after_return",
                                 "not reached by every thread", NULL};
    expect_report("barrier_after_return", 1, 64, sync1);
    const char *const sync2[] = {"synccheck", "split_barriers", "different __syncthreads", NULL};
    expect_report("split_barriers", 1, 64, sync2);
}

static void test_right_kernels(void)
{
    int before = pg_emu_report_count();
    float *out = dev_floats(64), host[64];
    void *args[] = {&out};
    int ok = launch("shift_with_barrier", 1, 64, args) == cudaSuccess;
    to_host(host, out, sizeof host);
    for (int i = 0; ok && i < 64; i++)
        ok = host[i] == (float)((i + 63) % 64);
    expect(ok && pg_emu_report_count() == before, "shift_with_barrier", "wrong values or a report");

    /* a block sum per block, the same bits on a second launch */
    float *x = dev_floats(1024), hx[1024];
    double *sums = NULL, s1[4], s2[4];
    cudaMalloc((void **)&sums, sizeof s1);
    for (int i = 0; i < 1024; i++)
        hx[i] = (float)sin(i * 0.37);
    cudaMemcpy(x, hx, sizeof hx, cudaMemcpyHostToDevice);
    void *sargs[] = {&sums, &x};
    ok = launch("block_sums", 4, 256, sargs) == cudaSuccess;
    to_host(s1, sums, sizeof s1);
    ok = ok && launch("block_sums", 4, 256, sargs) == cudaSuccess;
    to_host(s2, sums, sizeof s2);
    for (int b = 0; ok && b < 4; b++) {
        double want = 0;
        for (int i = 0; i < 256; i++)
            want += hx[b * 256 + i];
        ok = fabs(s1[b] - want) < 1e-9 && memcmp(&s1[b], &s2[b], sizeof s1[b]) == 0;
    }
    expect(ok && pg_emu_report_count() == before, "block_sums", "wrong or unstable sums");
    cudaFree(x);
    cudaFree(sums);
    cudaFree(out);
}

/* Reads of memory nobody wrote give the 0xff fill: NaN. */
static void test_uninitialized(void)
{
    float *src = dev_floats(100), *dst = dev_floats(100), h[128];
    int n = 100;
    void *args[] = {&dst, &src, &n};
    int ok = launch("copy", 1, 128, args) == cudaSuccess;
    to_host(h, dst, 100 * sizeof *h);
    for (int i = 0; ok && i < 100; i++)
        ok = isnan(h[i]);
    expect(ok, "uninitialized device memory reads as NaN", "a copy of fresh memory is not NaN");
    float *out = dev_floats(128);
    void *sargs[] = {&out};
    ok = launch("shared_from_block_0", 2, 64, sargs) == cudaSuccess;
    to_host(h, out, sizeof h);
    for (int i = 0; ok && i < 128; i++)
        ok = i < 64 ? h[i] == 5.0f : isnan(h[i]);
    expect(ok, "uninitialized shared memory reads as NaN",
           "block 1 saw what block 0 left in shared memory");
    ok = launch("shared_never_written", 1, 64, sargs) == cudaSuccess;
    to_host(h, out, 64 * sizeof *h);
    for (int i = 0; ok && i < 64; i++)
        ok = isnan(h[i]);
    expect(ok, "shared memory never written reads as NaN in the first block",
           "it read as a number");
    cudaFree(src);
    cudaFree(dst);
    cudaFree(out);
}

static void test_runtime_rules(void)
{
    float *out = dev_floats(64);
    void *args[] = {&out};
    expect(launch("shift_with_barrier", 1, 2048, args) == cudaErrorInvalidConfiguration,
           "a block of 2048 threads is refused", "it launched");
    cudaGetLastError();
    expect(launch("no_such_kernel", 1, 1, args) == cudaErrorSymbolNotFound,
           "an unknown kernel name is refused", "it was found");
    cudaGetLastError();
    float host[64];
    float *hp = host;
    void *hargs[] = {&hp};
    int before = pg_emu_report_count();
    cudaError_t e = launch("shift_with_barrier", 1, 64, hargs);
    expect(e == cudaErrorLaunchFailure && pg_emu_report_count() == before + 1 &&
               strstr(pg_emu_last_report(), "argument 0") &&
               strstr(pg_emu_last_report(), "not device memory"),
           "a host array as a kernel argument is reported", pg_emu_last_report());
    cudaDeviceReset();
    expect(cudaMemcpy(host, out, 16, cudaMemcpyHostToDevice) == cudaErrorInvalidValue,
           "a copy against its direction is refused", "it copied");
    cudaGetLastError();
    cudaLibrary_t lib;
    expect(cudaLibraryLoadData(&lib, "a cubin", NULL, NULL, 0, NULL, NULL, 0) ==
               cudaErrorInvalidKernelImage,
           "an image that names no engine module is refused", "it loaded");
    cudaGetLastError();
    cudaFree(out);
}

static void test_cublaslt(void)
{
    /* D (3 x 2) = op(A) op(B) with A stored 4 x 3 (op = T, k = 4), B stored 4 x 2, ld 5 */
    enum { M = 3, N = 2, K = 4, LDA = 5, LDB = 5 };
    float a[LDA * M], b[LDB * N], d[M * N];
    for (int i = 0; i < LDA * M; i++)
        a[i] = (float)(i % 7) - 3.0f;
    for (int i = 0; i < LDB * N; i++)
        b[i] = (float)(i % 5) * 0.5f;
    float *da = dev_floats(LDA * M), *db = dev_floats(LDB * N), *dd = dev_floats(M * N);
    cudaMemcpy(da, a, sizeof a, cudaMemcpyHostToDevice);
    cudaMemcpy(db, b, sizeof b, cudaMemcpyHostToDevice);
    cublasLtHandle_t h;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulPreference_t pref;
    cublasLtCreate(&h);
    cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    cublasOperation_t t = CUBLAS_OP_T;
    cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t);
    cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, K, M, LDA);
    cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, K, N, LDB);
    cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, M, N, M);
    cublasLtMatmulPreferenceCreate(&pref);
    cublasLtMatmulHeuristicResult_t found;
    int count = 0;
    int ok = cublasLtMatmulAlgoGetHeuristic(h, desc, la, lb, lc, lc, pref, 1, &found, &count) ==
                 CUBLAS_STATUS_SUCCESS &&
             count == 1;
    float one = 1.0f, zero = 0.0f;
    ok = ok && cublasLtMatmul(h, desc, &one, da, la, db, lb, &zero, dd, lc, dd, lc, &found.algo,
                              NULL, 0, 0) == CUBLAS_STATUS_SUCCESS;
    to_host(d, dd, sizeof d);
    for (int j = 0; ok && j < N; j++)
        for (int i = 0; ok && i < M; i++) {
            float want = 0;
            for (int p = 0; p < K; p++)
                want += a[p + i * LDA] * b[p + j * LDB];
            ok = d[i + j * M] == want; /* C was NaN-filled: beta 0 must not read it */
        }
    expect(ok, "cuBLASLt transposed GEMM with leading dimensions", "wrong product");
    /* a buffer less aligned than the preference's default 256 bytes */
    expect(cublasLtMatmul(h, desc, &one, da + 1, la, db, lb, &zero, dd, lc, dd, lc, &found.algo,
                          NULL, 0, 0) == CUBLAS_STATUS_INVALID_VALUE &&
               strstr(pg_emu_last_report(), "less aligned"),
           "cuBLASLt: a misaligned buffer is refused", pg_emu_last_report());
    /* the algorithm of one problem used for another (one column of B and D) */
    cublasLtMatrixLayout_t lb2, lc2;
    cublasLtMatrixLayoutCreate(&lb2, CUDA_R_32F, K, 1, LDB);
    cublasLtMatrixLayoutCreate(&lc2, CUDA_R_32F, M, 1, M);
    expect(cublasLtMatmul(h, desc, &one, da, la, db, lb2, &zero, dd, lc2, dd, lc2, &found.algo,
                          NULL, 0, 0) == CUBLAS_STATUS_INVALID_VALUE &&
               strstr(pg_emu_last_report(), "another problem"),
           "cuBLASLt: an algorithm chosen for another problem is refused", pg_emu_last_report());
    int epilogue = 2;
    expect(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue,
                                          sizeof epilogue) == CUBLAS_STATUS_NOT_SUPPORTED &&
               strstr(pg_emu_last_report(), "not implemented by the engine"),
           "cuBLASLt: an attribute the engine lacks is an error", pg_emu_last_report());
    cublasLtMatrixLayout_t l16;
    expect(cublasLtMatrixLayoutCreate(&l16, CUDA_R_16F, K, M, LDA) == CUBLAS_STATUS_NOT_SUPPORTED,
           "cuBLASLt: a data type the engine lacks is an error", "fp16 accepted");
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatrixLayoutDestroy(lb2);
    cublasLtMatrixLayoutDestroy(lc2);
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatmulDescDestroy(desc);
    cudaFree(da);
    cudaFree(db);
    cudaFree(dd);
}

/* The engine's libnccl.so.2 (path: the program's argument), loaded as kernels/cuda/nccl.c
 * loads NCCL: one rank, in place. */
typedef ncclResult_t (*get_id_fn)(ncclUniqueId *);
typedef ncclResult_t (*init_fn)(ncclComm_t *, int, ncclUniqueId, int);
typedef ncclResult_t (*reduce_fn)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t,
                                  ncclComm_t, cudaStream_t);

static void test_nccl(const char *path)
{
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    get_id_fn get_id = lib ? (get_id_fn)dlsym(lib, "ncclGetUniqueId") : NULL;
    init_fn init = lib ? (init_fn)dlsym(lib, "ncclCommInitRank") : NULL;
    reduce_fn reduce = lib ? (reduce_fn)dlsym(lib, "ncclAllReduce") : NULL;
    int ok = get_id && init && reduce;
    ncclUniqueId id;
    ncclComm_t comm = NULL, two = NULL;
    float *x = dev_floats(8);
    ok = ok && get_id(&id) == ncclSuccess && init(&comm, 1, id, 0) == ncclSuccess &&
         reduce(x, x, 8, ncclFloat32, ncclSum, comm, 0) == ncclSuccess &&
         init(&two, 2, id, 1) == ncclInvalidUsage &&
         reduce(x, x + 4, 4, ncclFloat32, ncclSum, comm, 0) == ncclInvalidUsage;
    const char *why = dlerror();
    expect(ok, "NCCL: one rank reduces in place; two ranks are refused", why ? why : "wrong results");
    cudaFree(x);
    if (lib)
        dlclose(lib);
}

/* The checks that end the process, each run in a child. */
static void child_write_past_end(void)
{
    float *out = dev_floats(100);
    int n = 100;
    void *args[] = {&out, &n};
    launch("write_past_end", 1, 128, args);
}

static void child_int_for_size_t(void)
{
    float *out = dev_floats(100);
    int n = 100; /* the kernel's parameter is a size_t */
    void *args[] = {&out, &n};
    launch("fill_sized", 1, 128, args);
}

static void child_host_dereference(void)
{
    float *out = dev_floats(4);
    out[0] = 1.0f; /* device memory written by the host: must crash */
}

static void expect_crash(const char *name, void (*fn)(void), const char *needle)
{
    char path[] = "/tmp/pgolf-cudaemu-XXXXXX";
    int fd = mkstemp(path);
    fflush(stdout);
    pid_t pid = fd < 0 ? -1 : fork();
    if (pid == 0) {
        dup2(fd, 2);
        fn();
        _exit(0);
    }
    int st = 0;
    if (pid > 0)
        waitpid(pid, &st, 0);
    char text[8192] = "";
    ssize_t got = fd < 0 ? -1 : pread(fd, text, sizeof text - 1, 0);
    text[got > 0 ? got : 0] = '\0';
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    int crashed = pid > 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char why[300];
    snprintf(why, sizeof why, "the child %s; its stderr lacks '%s'",
             crashed ? "failed" : "exited 0", needle);
    expect(crashed && strstr(text, needle), name, why);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_engine LIBNCCL (the engine's libnccl.so.2)\n");
        return 2;
    }
    if (cudaLibraryLoadData(&g_lib, "pgolf cudaemu module: checks", NULL, NULL, 0, NULL, NULL,
                            0) != cudaSuccess) {
        fprintf(stderr, "test_engine: the checks module is missing\n");
        return 1;
    }
    test_races();
    test_right_kernels();
    test_uninitialized();
    test_runtime_rules();
    test_cublaslt();
    test_nccl(argv[1]);
    expect_crash("an out-of-bounds device write is reported", child_write_past_end,
                 "heap-buffer-overflow");
    expect_crash("an int launched where the kernel takes a size_t is reported",
                 child_int_for_size_t, "stack-buffer-overflow");
    expect_crash("a host dereference of device memory crashes", child_host_dereference, "SEGV");
    printf("cudaemu engine: %d failed\n", g_failed);
    return g_failed ? 1 : 0;
}
