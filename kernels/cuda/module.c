/* The device module: the kernels of the .cu files (module.cu) as the CUDA runtime loads
 * them (cudaLibraryLoadData), from
 *   - kernels/cuda/module.cu under the folder PGOLF_CUDA_SRC names, compiled at run time
 *     for this GPU by the nvcc PGOLF_NVCC names, else by NVRTC (loaded at run time:
 *     PGOLF_NVRTC, else libnvrtc.so): the box build, with the PyTorch wheel's NVRTC (the
 *     full build too when it is set, to check that path against the built-in one), else
 *   - the fatbin the full build embedded (nvcc at build time: PGOLF_CUDA_EMBEDDED).
 * A run-time compile leaves the attention out (PG_FA_HD=0) and compiles it for one padded
 * head_dim when the model first needs it, as a second library: head_dim 128 alone takes
 * most of the module's compile time. Kernels are found by name on their first launch. */
#include <errno.h>
#include <nvrtc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/dl.h"
#include "common/err.h"
#include "common/fileio.h"
#include "kernels/cuda/backend_cuda.h"
#include "kernels/cuda/host.h"

#ifdef PGOLF_CUDA_EMBEDDED
/* kernels/cuda/module_image.S */
extern const unsigned char pg_cuda_module_image[], pg_cuda_module_image_end[];
#endif

#define MAX_MODULE_BYTES ((size_t)256 << 20)
#define MAX_LIBS 4 /* the module, then the attention for up to three head_dims */

static cudaLibrary_t g_libs[MAX_LIBS];
static int g_nlibs, g_major, g_minor, g_have_hd[MAX_LIBS];
static int g_runtime; /* compiled at run time (else built in) */
static char g_origin[256] = "not loaded";
static double g_compile_s;

static struct {
    nvrtcResult (*version)(int *, int *);
    nvrtcResult (*create)(nvrtcProgram *, const char *, const char *, int, const char *const *,
                          const char *const *);
    nvrtcResult (*compile)(nvrtcProgram, int, const char *const *);
    nvrtcResult (*log_size)(nvrtcProgram, size_t *);
    nvrtcResult (*log)(nvrtcProgram, char *);
    nvrtcResult (*cubin_size)(nvrtcProgram, size_t *);
    nvrtcResult (*cubin)(nvrtcProgram, char *);
    nvrtcResult (*destroy)(nvrtcProgram *);
    const char *(*error)(nvrtcResult);
} rtc;

static int nvrtc_load(void)
{
    static int loaded;
    static const char *const names[] = {"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", NULL};
    const pg_dl_sym syms[] = {
        {"nvrtcVersion", &rtc.version},           {"nvrtcCreateProgram", &rtc.create},
        {"nvrtcCompileProgram", &rtc.compile},    {"nvrtcGetProgramLogSize", &rtc.log_size},
        {"nvrtcGetProgramLog", &rtc.log},         {"nvrtcGetCUBINSize", &rtc.cubin_size},
        {"nvrtcGetCUBIN", &rtc.cubin},            {"nvrtcDestroyProgram", &rtc.destroy},
        {"nvrtcGetErrorString", &rtc.error}};
    if (loaded)
        return 0;
    void *lib = pg_dl_open("PGOLF_NVRTC", names, "NVRTC");
    if (!lib || pg_dl_bind(lib, "NVRTC", syms, sizeof syms / sizeof *syms) != 0)
        return -1;
    loaded = 1;
    return 0;
}

/* The first line of a compile log that says "error" (else its first line). */
static void first_error(const char *log, char *out, size_t n)
{
    const char *at = strstr(log, "error");
    while (at && at > log && at[-1] != '\n')
        at--;
    at = at ? at : log;
    size_t len = strcspn(at, "\n");
    snprintf(out, n, "%.*s", (int)(len < 400 ? len : 400), at);
}

static int nvrtc_build(const char *path, const char *text, const char *const *opts, int nopts,
                       int major, int minor, unsigned char **image, size_t *len)
{
    nvrtcProgram prog;
    nvrtcResult r = rtc.create(&prog, text, path, 0, NULL, NULL);
    if (r != NVRTC_SUCCESS)
        return pg_fail("%s: NVRTC: %s", path, rtc.error(r));
    r = rtc.compile(prog, nopts, opts);
    size_t log_n = 0, cubin_n = 0;
    char *log = rtc.log_size(prog, &log_n) == NVRTC_SUCCESS ? malloc(log_n + 1) : NULL;
    char why[420] = "";
    if (log && rtc.log(prog, log) == NVRTC_SUCCESS) {
        log[log_n] = '\0';
        first_error(log, why, sizeof why);
    }
    free(log);
    int rc = 0;
    if (r != NVRTC_SUCCESS)
        rc = pg_fail("%s: NVRTC cannot compile it for sm_%d%d: %s", path, major, minor,
                     *why ? why : rtc.error(r));
    else if (rtc.cubin_size(prog, &cubin_n) != NVRTC_SUCCESS || !(*image = malloc(cubin_n)) ||
             rtc.cubin(prog, (char *)*image) != NVRTC_SUCCESS)
        rc = pg_fail("%s: NVRTC gave no cubin for sm_%d%d", path, major, minor);
    else
        *len = cubin_n;
    rtc.destroy(&prog);
    return rc;
}

int pg_cuda_nvrtc_compile(const char *root, int major, int minor, int head_dim,
                          unsigned char **image, size_t *len)
{
    *image = NULL;
    *len = 0;
    char *path = pg_path_join(root, "kernels/cuda/module.cu");
    unsigned char *src = NULL;
    size_t n = 0;
    if (!path)
        return pg_fail("%s: out of memory", root);
    int rc = nvrtc_load() != 0 || pg_read_file(path, MAX_MODULE_BYTES, &src, &n) != 0 ? -1 : 0;
    if (rc == 0) {
        char arch[48], inc[PG_PATH_MAX + 8], hd[32];
        snprintf(arch, sizeof arch, "--gpu-architecture=sm_%d%d", major, minor);
        snprintf(inc, sizeof inc, "-I%s", root);
        snprintf(hd, sizeof hd, "-DPG_FA_HD=%d", head_dim);
        const char *opts[] = {arch, inc, hd, "--std=c++17"};
        rc = nvrtc_build(path, (const char *)src, opts, 4, major, minor, image, len);
    }
    if (rc != 0) {
        free(*image);
        *image = NULL;
    }
    free(src);
    free(path);
    return rc;
}

/* The box's nvcc (PGOLF_NVCC) in place of NVRTC: a cubin through a scratch folder. */
static int nvcc_compile(const char *nvcc, const char *root, int major, int minor, int head_dim,
                        unsigned char **image, size_t *len)
{
    const char *tmp = getenv("TMPDIR");
    char dir[PG_PATH_MAX], out[PG_PATH_MAX + 16], arch[32], hd[32], inc[PG_PATH_MAX + 8],
        src[PG_PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/pgolf-nvcc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return pg_fail("%s: cannot make a scratch folder for nvcc", dir);
    snprintf(out, sizeof out, "%s/module.cubin", dir);
    snprintf(arch, sizeof arch, "-arch=sm_%d%d", major, minor);
    snprintf(hd, sizeof hd, "-DPG_FA_HD=%d", head_dim);
    snprintf(inc, sizeof inc, "-I%s", root);
    snprintf(src, sizeof src, "%s/kernels/cuda/module.cu", root);
    char *const argv[] = {(char *)nvcc, "-std=c++17", "-cubin", arch, hd, inc, src, "-o", out,
                          NULL};
    int st = -1;
    pid_t pid = fork(), got = -1;
    if (pid == 0) {
        execv(nvcc, argv);
        _exit(127);
    }
    while (pid > 0 && (got = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    int rc = got != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0
                 ? pg_fail("%s: nvcc (%s) cannot compile it for sm_%d%d", src, nvcc, major, minor)
                 : pg_read_file(out, MAX_MODULE_BYTES, image, len);
    unlink(out);
    rmdir(dir);
    return rc;
}

/* Compiles and loads the module under PGOLF_CUDA_SRC with attention entries for head_dim
 * (0: none), adding its time to g_compile_s. */
static int compile_and_load(int head_dim)
{
    const char *root = getenv("PGOLF_CUDA_SRC"), *nvcc = getenv("PGOLF_NVCC");
    if (g_nlibs == MAX_LIBS)
        return pg_fail("the CUDA kernels for more than %d head_dims", MAX_LIBS - 1);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned char *image = NULL;
    size_t n = 0;
    int by_nvcc = nvcc && *nvcc;
    if (by_nvcc && nvcc_compile(nvcc, root, g_major, g_minor, head_dim, &image, &n) != 0) {
        fprintf(stderr, "pgolf: %s; trying NVRTC\n", pg_errmsg());
        by_nvcc = 0;
    }
    if (!by_nvcc && pg_cuda_nvrtc_compile(root, g_major, g_minor, head_dim, &image, &n) != 0)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    g_compile_s += (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    cudaError_t e = cudaLibraryLoadData(&g_libs[g_nlibs], image, NULL, NULL, 0, NULL, NULL, 0);
    free(image);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return pg_fail("%s: cannot load the CUDA kernels compiled for sm_%d%d: %s", root, g_major,
                       g_minor, cudaGetErrorString(e));
    }
    g_have_hd[g_nlibs++] = head_dim;
    int maj = 0, min = 0;
    if (!by_nvcc)
        rtc.version(&maj, &min);
    char by[48];
    snprintf(by, sizeof by, by_nvcc ? "nvcc" : "NVRTC %d.%d", maj, min);
    snprintf(g_origin, sizeof g_origin, "%s cubin sm_%d%d, compiled at run time in %.1fs", by,
             g_major, g_minor, g_compile_s);
    return 0;
}

int pg_cuda_module_load(int major, int minor)
{
    if (g_nlibs)
        return 0;
    g_major = major, g_minor = minor;
    const char *root = getenv("PGOLF_CUDA_SRC");
    if (root && *root) {
        g_runtime = 1;
        return compile_and_load(0);
    }
#ifdef PGOLF_CUDA_EMBEDDED
    /* the kernels run on the architecture they were built for and later ones (by PTX) */
    if (major * 10 + minor < PGOLF_CUDA_SM)
        return pg_fail("the GPU is sm_%d%d, but this pgolf's CUDA kernels were built for sm_%d "
                       "and later: rebuild with make CUDA_ARCH=sm_%d%d",
                       major, minor, PGOLF_CUDA_SM, major, minor);
    cudaError_t e = cudaLibraryLoadData(&g_libs[0], pg_cuda_module_image, NULL, NULL, 0, NULL,
                                        NULL, 0);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return pg_fail("cannot load the built-in CUDA kernels: %s", cudaGetErrorString(e));
    }
    g_nlibs = 1;
#ifdef PGOLF_CUDA_EMU
    snprintf(g_origin, sizeof g_origin, "compiled for the CPU execution engine (tests/cudaemu)");
#else
    snprintf(g_origin, sizeof g_origin, "nvcc fatbin sm_%d, built in (%zu bytes)", PGOLF_CUDA_SM,
             (size_t)(pg_cuda_module_image_end - pg_cuda_module_image));
#endif
    return 0;
#else
    return pg_fail("no CUDA kernels: this build has none built in; set PGOLF_CUDA_SRC to the "
                   "sources (compiled by NVRTC, or by the nvcc PGOLF_NVCC names)");
#endif
}

int pg_cuda_prepare_head_dim(int head_dim)
{
    int padded = pg_cuda_padded_head_dim(head_dim);
    if (!g_runtime || head_dim > 128)
        return 0; /* the built-in module has every head_dim; over 128 fails at launch */
    for (int i = 0; i < g_nlibs; i++)
        if (g_have_hd[i] == padded)
            return 0;
    return compile_and_load(padded);
}

void pg_cuda_module_describe(char *buf, size_t n)
{
    snprintf(buf, n, "%s", g_origin);
}

void pg_cuda_launch(pg_cuda_kernel *k, unsigned gx, unsigned gy, unsigned gz, unsigned threads,
                    void **args)
{
    for (int i = 0; !k->fn && i < g_nlibs; i++)
        if (cudaLibraryGetKernel(&k->fn, g_libs[i], k->name) != cudaSuccess) {
            cudaGetLastError();
            k->fn = NULL;
        }
    if (!k->fn) {
        fprintf(stderr, "pgolf: the CUDA kernels (%s) have no kernel %s\n", g_origin, k->name);
        exit(1);
    }
    dim3 grid = {gx, gy, gz}, block = {threads, 1, 1};
    PG_CUDA(cudaLaunchKernel((const void *)k->fn, grid, block, args, 0, 0));
}
