/* The run manifest, RUN_DIR/manifest.json (format in docs/manifest.md): the run's
 * settings, versions and host, and one entry per stage with its inputs, parameters,
 * versions, outputs (path, bytes, SHA-256), times and status. A digest over the rest
 * catches hand edits; the format carries a version so an incompatible RUN_DIR is refused
 * before anything is touched. */
#ifndef PG_MANIFEST_H
#define PG_MANIFEST_H
#include <jansson.h>
#include "common/sha256.h"
#define PG_MANIFEST_NAME "manifest.json"
#define PG_MANIFEST_FORMAT "pgolf-run"
#define PG_MANIFEST_VERSION 1
/* Reads and checks RUN_DIR/manifest.json: JSON, format, version, digest, schema.
 * *root is NULL (and 0 returned) when the file does not exist. */
int pg_manifest_load(const char *run_dir, json_t **root);
/* The same checks on manifest text already in memory (path names it in errors). */
int pg_manifest_parse(const char *path, const char *text, size_t len, json_t **root);
/* Checks the schema of a parsed manifest; path names it in errors. */
int pg_manifest_check(const char *path, const json_t *root);
/* Sets "digest" and writes RUN_DIR/manifest.json atomically. */
int pg_manifest_save(const char *run_dir, json_t *root);
/* SHA-256 of the canonical text (sorted keys, compact) of everything but "digest"; fails
 * only when out of memory. */
int pg_manifest_digest(const json_t *root, char hex[PG_SHA256_HEX_LEN]);
/* The entry of stage `id`, or NULL. */
json_t *pg_manifest_stage(const json_t *root, const char *id);
/* {"path": recorded_path, "bytes", "sha256"} of the file at disk_path, or NULL (message
 * naming the file). Hashes are remembered per (device, inode, size, mtime). */
json_t *pg_file_record(const char *disk_path, const char *recorded_path);
/* A stage's cache key: SHA-256 of the canonical {id, inputs' (path, sha256), params,
 * versions}; fails only when out of memory. */
int pg_stage_key(const char *id, const json_t *inputs, const json_t *params,
                 const json_t *versions, char hex[PG_SHA256_HEX_LEN]);
/* Now as "YYYY-MM-DDTHH:MM:SSZ". */
void pg_utc_now(char out[32]);
#endif
