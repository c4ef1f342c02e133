/* The SHA-256 calls of the box build, resolved at run time from the libcrypto that
 * Python's hashlib uses (packager/box/dl.c): OpenSSL 1.1 / 3.x ABI. The full build uses
 * <openssl/evp.h>. */
#ifndef PG_BOX_EVP_H
#define PG_BOX_EVP_H

#include <stddef.h>

typedef struct evp_md_st EVP_MD;
typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct engine_st ENGINE;

const EVP_MD *EVP_sha256(void);
int EVP_Digest(const void *data, size_t n, unsigned char *md, unsigned int *md_len,
               const EVP_MD *type, ENGINE *impl);
EVP_MD_CTX *EVP_MD_CTX_new(void);
void EVP_MD_CTX_free(EVP_MD_CTX *ctx);
int EVP_DigestInit_ex(EVP_MD_CTX *ctx, const EVP_MD *type, ENGINE *impl);
int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *d, size_t n);
int EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *n);

#endif
