/* The libraries the box build takes from the machine at run time rather than at build
 * time (no development packages there): libcrypto for SHA-256 (the one Python's hashlib
 * uses; train_gpt.py passes its path in PGOLF_LIBCRYPTO), libzstd for the artifact's
 * blocks (PGOLF_LIBZSTD, else the system's libzstd.so.1) and, where the machine has one,
 * OpenBLAS for the CPU backend's products (PGOLF_LIBBLAS, else libopenblas.so.0; without
 * it the CPU backend computes them itself). pg_box_libs_load resolves every symbol once,
 * before any is called; the wrappers below keep the libraries' own names so the shared
 * sources compile unchanged against include/. */
#include "packager/box/dl.h"

#include <cblas.h>
#include <dlfcn.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/dl.h"
#include "common/err.h"

static struct {
    const EVP_MD *(*sha256)(void);
    int (*digest)(const void *, size_t, unsigned char *, unsigned int *, const EVP_MD *,
                  ENGINE *);
    EVP_MD_CTX *(*ctx_new)(void);
    void (*ctx_free)(EVP_MD_CTX *);
    int (*init)(EVP_MD_CTX *, const EVP_MD *, ENGINE *);
    int (*update)(EVP_MD_CTX *, const void *, size_t);
    int (*final)(EVP_MD_CTX *, unsigned char *, unsigned int *);
    size_t (*bound)(size_t);
    size_t (*compress)(void *, size_t, const void *, size_t, int);
    size_t (*decompress)(void *, size_t, const void *, size_t);
    unsigned long long (*content_size)(const void *, size_t);
    unsigned (*is_error)(size_t);
    const char *(*error_name)(size_t);
    void (*sgemm)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, int, int, int,
                  float, const float *, int, const float *, int, float, float *, int);
    void (*set_threads)(int);
    int (*get_parallel)(void);
    int blas;
} lib;

/* OpenBLAS if the machine has its pthreads build (the one safe to call from several
 * threads at once): optional unless PGOLF_LIBBLAS names a file. One thread per call, as
 * in the full build (kernels/cpu/gemm.c runs the tiles in parallel). */
static int blas_load(void)
{
    static const char *const names[] = {"libopenblas.so.0", NULL};
    const pg_dl_sym syms[] = {{"cblas_sgemm", &lib.sgemm},
                              {"openblas_set_num_threads", &lib.set_threads},
                              {"openblas_get_parallel", &lib.get_parallel}};
    const char *env = getenv("PGOLF_LIBBLAS");
    int required = env && *env;
    void *b = pg_dl_open("PGOLF_LIBBLAS", names, "OpenBLAS for the CPU backend");
    if (!b || pg_dl_bind(b, "OpenBLAS", syms, sizeof syms / sizeof *syms) != 0)
        return required ? -1 : 0;
    if (lib.get_parallel() != 1) {
        dlclose(b);
        return required ? pg_fail("%s: not OpenBLAS's pthreads build", env) : 0;
    }
    lib.set_threads(1);
    lib.blas = 1;
    return 0;
}

int pg_box_libs_load(void)
{
    static const char *const crypto_names[] = {"libcrypto.so.3", "libcrypto.so.1.1", NULL};
    static const char *const zstd_names[] = {"libzstd.so.1", NULL};
    const pg_dl_sym crypto[] = {
        {"EVP_sha256", &lib.sha256},         {"EVP_Digest", &lib.digest},
        {"EVP_MD_CTX_new", &lib.ctx_new},    {"EVP_MD_CTX_free", &lib.ctx_free},
        {"EVP_DigestInit_ex", &lib.init},    {"EVP_DigestUpdate", &lib.update},
        {"EVP_DigestFinal_ex", &lib.final}};
    const pg_dl_sym zstd[] = {{"ZSTD_compressBound", &lib.bound},
                              {"ZSTD_compress", &lib.compress},
                              {"ZSTD_decompress", &lib.decompress},
                              {"ZSTD_getFrameContentSize", &lib.content_size},
                              {"ZSTD_isError", &lib.is_error},
                              {"ZSTD_getErrorName", &lib.error_name}};
    void *c = pg_dl_open("PGOLF_LIBCRYPTO", crypto_names, "OpenSSL's libcrypto for SHA-256");
    void *z = c ? pg_dl_open("PGOLF_LIBZSTD", zstd_names, "libzstd for the artifact") : NULL;
    return z && pg_dl_bind(c, "libcrypto", crypto, sizeof crypto / sizeof *crypto) == 0 &&
                   pg_dl_bind(z, "libzstd", zstd, sizeof zstd / sizeof *zstd) == 0 &&
                   blas_load() == 0
               ? 0
               : -1;
}

const EVP_MD *EVP_sha256(void) { return lib.sha256(); }
int EVP_Digest(const void *data, size_t n, unsigned char *md, unsigned int *md_len,
               const EVP_MD *type, ENGINE *impl)
{
    return lib.digest(data, n, md, md_len, type, impl);
}
EVP_MD_CTX *EVP_MD_CTX_new(void) { return lib.ctx_new(); }
void EVP_MD_CTX_free(EVP_MD_CTX *ctx) { lib.ctx_free(ctx); }
int EVP_DigestInit_ex(EVP_MD_CTX *ctx, const EVP_MD *type, ENGINE *impl)
{
    return lib.init(ctx, type, impl);
}
int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *d, size_t n) { return lib.update(ctx, d, n); }
int EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *n)
{
    return lib.final(ctx, md, n);
}

size_t ZSTD_compressBound(size_t src_size) { return lib.bound(src_size); }
size_t ZSTD_compress(void *dst, size_t cap, const void *src, size_t n, int level)
{
    return lib.compress(dst, cap, src, n, level);
}
size_t ZSTD_decompress(void *dst, size_t cap, const void *src, size_t n)
{
    return lib.decompress(dst, cap, src, n);
}
unsigned long long ZSTD_getFrameContentSize(const void *src, size_t n)
{
    return lib.content_size(src, n);
}
unsigned ZSTD_isError(size_t code) { return lib.is_error(code); }
const char *ZSTD_getErrorName(size_t code) { return lib.error_name(code); }

int pg_cblas_available(void) { return lib.blas; }
void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m,
                 int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                 float beta, float *c, int ldc)
{
    lib.sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
