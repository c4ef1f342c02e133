/* pg_versions_json (common/buildinfo.h): the library versions a stage's output depends on,
 * kept apart from buildinfo.c so the box build, which has none of these libraries' headers,
 * can carry that file. */
#include "common/buildinfo.h"

#include <archive.h>
#include <brotli/encode.h>
#include <openssl/crypto.h>
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <zstd.h>

/* The build passes these (GNUmakefile); the fallbacks keep other builds honest. */
#ifndef PGOLF_VERSION
#define PGOLF_VERSION "unknown"
#endif
#ifndef PGOLF_CFLAGS
#define PGOLF_CFLAGS "unknown"
#endif
#ifndef PGOLF_CC
#define PGOLF_CC "cc"
#endif
#ifndef PGOLF_CUDA_ARCH
#define PGOLF_CUDA_ARCH "none"
#endif

json_t *pg_versions_json(void)
{
    unsigned b = BrotliEncoderVersion(); /* major << 24 | minor << 12 | patch */
    char brotli[32], compiler[160];
    snprintf(brotli, sizeof brotli, "%u.%u.%u", b >> 24, (b >> 12) & 0xfff, b & 0xfff);
    snprintf(compiler, sizeof compiler, "%s %s", PGOLF_CC, __VERSION__);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "pgolf",
                     PGOLF_VERSION, "build_flags", PGOLF_CFLAGS, "compiler", compiler,
                     "cuda_build", PGOLF_CUDA_ARCH,
                     "openssl", OpenSSL_version(OPENSSL_VERSION), "zstd", ZSTD_versionString(),
                     "brotli", brotli, "libarchive", archive_version_string(), "jansson",
                     JANSSON_VERSION, "protobuf_c", protobuf_c_version());
}
