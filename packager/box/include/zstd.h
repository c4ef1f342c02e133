/* The zstd calls of the box build, resolved at run time from the machine's libzstd
 * (packager/box/dl.c): the stable ABI of zstd 1.x. The full build uses <zstd.h>. */
#ifndef PG_BOX_ZSTD_H
#define PG_BOX_ZSTD_H

#include <stddef.h>

#define ZSTD_CONTENTSIZE_UNKNOWN (0ULL - 1)
#define ZSTD_CONTENTSIZE_ERROR (0ULL - 2)

size_t ZSTD_compressBound(size_t src_size);
size_t ZSTD_compress(void *dst, size_t cap, const void *src, size_t n, int level);
size_t ZSTD_decompress(void *dst, size_t cap, const void *src, size_t n);
unsigned long long ZSTD_getFrameContentSize(const void *src, size_t n);
unsigned ZSTD_isError(size_t code);
const char *ZSTD_getErrorName(size_t code);

#endif
