/* SHA-256 through OpenSSL's EVP API. */
#ifndef PG_SHA256_H
#define PG_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define PG_SHA256_LEN 32
#define PG_SHA256_HEX_LEN 65 /* 64 hex digits + NUL */

void pg_sha256(const void *data, size_t len, uint8_t out[PG_SHA256_LEN]);
void pg_sha256_hex(const uint8_t digest[PG_SHA256_LEN], char out[PG_SHA256_HEX_LEN]);
/* Hashes a file's contents; fails with a message naming the file. */
int pg_sha256_file(const char *path, char out_hex[PG_SHA256_HEX_LEN]);

#endif
