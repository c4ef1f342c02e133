/* What built this pgolf and what it runs on, for run manifests (DESIGN §7). */
#ifndef PG_BUILDINFO_H
#define PG_BUILDINFO_H
#include <jansson.h>
/* `git describe` of the sources at build time ("unknown" outside a checkout). */
const char *pg_build_version(void);
/* {"pgolf", "build_flags", "compiler", "cuda_build", "openssl", "zstd", "brotli",
 *  "libarchive", "jansson", "protobuf_c"}: everything that can change a stage's output. */
json_t *pg_versions_json(void);
/* {"name", "os", "arch", "cpus"} of this machine (recorded, not part of cache keys). */
json_t *pg_host_json(void);
#endif
