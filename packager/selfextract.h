/* The self-extracting train_gpt.py of a submission (DESIGN §6, docs/box.md): a Python
 * script (standard library plus sentencepiece) carrying the box build's C sources as a
 * latin-1 string. Run with python3 (or under torchrun; rank 0 works), it unpacks them to a
 * temporary directory, refusing unsafe paths and oversize or truncated entries; compiles
 * them with the C compiler alone; writes the tokenizer's pieces table with sentencepiece;
 * trains with the settings baked in at packaging time (the environment may override
 * them), packs the final model against the cap and scores it, printing the reference's
 * log lines. */
#ifndef PG_SELFEXTRACT_H
#define PG_SELFEXTRACT_H

#include <stddef.h>

/* Sorted paths (relative to root, malloc'ed) of the sources the archive carries: the
 * box build's (docs/box.md). */
int pg_source_list(const char *root, char ***files, size_t *count);

/* The archive train_gpt.py carries (malloc'ed): per source, "PATH\nSIZE\n" and its
 * minified text (packager/minify.h), sorted by path, then raw LZMA2 at preset 9e.
 * Deterministic. */
int pg_source_archive(const char *root, unsigned char **out, size_t *len);

/* What the archive weighs: its sources as they are and minified, and the minified text
 * compressed by each codec (xz is the one shipped: the box's Python decodes it). */
typedef struct {
    size_t files, source_bytes, minified_bytes, xz_bytes, zstd_bytes, brotli_bytes;
} pg_source_sizes;
int pg_source_archive_report(const char *root, pg_source_sizes *sizes);

/* Writes train_gpt.py atomically. settings: "NAME=VALUE" strings baked in as defaults. */
int pg_selfextract_write(const char *path, const char *root, const char *const *settings,
                         int nsettings);
/* The same with an archive made earlier by pg_source_archive. */
int pg_selfextract_write_archive(const char *path, const unsigned char *archive, size_t len,
                                 const char *const *settings, int nsettings);

#endif
