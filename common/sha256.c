#include "common/sha256.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"

void pg_sha256(const void *data, size_t len, uint8_t out[PG_SHA256_LEN])
{
    unsigned int n = 0;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void pg_sha256_hex(const uint8_t digest[PG_SHA256_LEN], char out[PG_SHA256_HEX_LEN])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < PG_SHA256_LEN; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[64] = '\0';
}

int pg_sha256_file(const char *path, char out_hex[PG_SHA256_HEX_LEN])
{
    FILE *fp = pg_open_regular(path);
    if (!fp)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        fclose(fp);
        return pg_fail("%s: out of memory for SHA-256", path);
    }
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
        EVP_DigestUpdate(ctx, buf, n);
    int err = ferror(fp);
    fclose(fp);
    uint8_t digest[PG_SHA256_LEN];
    unsigned int dn = 0;
    EVP_DigestFinal_ex(ctx, digest, &dn);
    EVP_MD_CTX_free(ctx);
    if (err)
        return pg_fail("%s: read error", path);
    pg_sha256_hex(digest, out_hex);
    return 0;
}
