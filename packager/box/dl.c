/* The libraries the box build takes from the machine at run time rather than at build
 * time (no development packages there): libcrypto for SHA-256 (the one Python's hashlib
 * uses; train_gpt.py passes its path in PGOLF_LIBCRYPTO) and libzstd for the artifact's
 * blocks (PGOLF_LIBZSTD, else the system's libzstd.so.1). pg_box_libs_load resolves every
 * symbol once, before any is called; the wrappers below keep the libraries' own names so
 * the shared sources compile unchanged against include/. */
#include "packager/box/dl.h"

#include <dlfcn.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

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
} lib;

/* dlopen of $env, else of each default name in turn. */
static void *open_lib(const char *env, const char *const *names, const char **tried)
{
    const char *path = getenv(env);
    *tried = path && *path ? path : names[0];
    if (path && *path)
        return dlopen(path, RTLD_NOW | RTLD_LOCAL);
    for (int i = 0; names[i]; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h)
            return h;
    }
    return NULL;
}

static int bind(void *h, const char *lib_name, const char *sym, void *slot)
{
    void *p = dlsym(h, sym);
    if (!p)
        return pg_fail("%s: no symbol %s", lib_name, sym);
    memcpy(slot, &p, sizeof p); /* object to function pointer, as POSIX allows */
    return 0;
}

int pg_box_libs_load(void)
{
    static const char *const crypto_names[] = {"libcrypto.so.3", "libcrypto.so.1.1", NULL};
    static const char *const zstd_names[] = {"libzstd.so.1", NULL};
    const char *tried;
    void *c = open_lib("PGOLF_LIBCRYPTO", crypto_names, &tried);
    if (!c)
        return pg_fail("%s: cannot load OpenSSL's libcrypto for SHA-256 (set PGOLF_LIBCRYPTO "
                       "to its path): %s", tried, dlerror());
    void *z = open_lib("PGOLF_LIBZSTD", zstd_names, &tried);
    if (!z)
        return pg_fail("%s: cannot load libzstd for the artifact (set PGOLF_LIBZSTD to its "
                       "path): %s", tried, dlerror());
    return bind(c, "libcrypto", "EVP_sha256", &lib.sha256) ||
                   bind(c, "libcrypto", "EVP_Digest", &lib.digest) ||
                   bind(c, "libcrypto", "EVP_MD_CTX_new", &lib.ctx_new) ||
                   bind(c, "libcrypto", "EVP_MD_CTX_free", &lib.ctx_free) ||
                   bind(c, "libcrypto", "EVP_DigestInit_ex", &lib.init) ||
                   bind(c, "libcrypto", "EVP_DigestUpdate", &lib.update) ||
                   bind(c, "libcrypto", "EVP_DigestFinal_ex", &lib.final) ||
                   bind(z, "libzstd", "ZSTD_compressBound", &lib.bound) ||
                   bind(z, "libzstd", "ZSTD_compress", &lib.compress) ||
                   bind(z, "libzstd", "ZSTD_decompress", &lib.decompress) ||
                   bind(z, "libzstd", "ZSTD_getFrameContentSize", &lib.content_size) ||
                   bind(z, "libzstd", "ZSTD_isError", &lib.is_error) ||
                   bind(z, "libzstd", "ZSTD_getErrorName", &lib.error_name)
               ? -1
               : 0;
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
