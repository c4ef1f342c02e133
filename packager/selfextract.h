/* The self-extracting train_gpt.py of a submission (DESIGN §6): a Python-standard-library
 * script carrying an xz-compressed tar (written with libarchive) of the sources that build
 * pgolf. Run with python3 (or under torchrun; only rank 0 works), it unpacks to a
 * temporary directory, refusing absolute paths, "..", links, anything but regular files
 * and directories, and oversize entries; builds with make; trains with the settings baked
 * in at packaging time (the environment may override them), scores the final model and
 * prints the reference's log lines. */
#ifndef PG_SELFEXTRACT_H
#define PG_SELFEXTRACT_H

#include <stddef.h>

/* The source files the archive carries, relative to the repository root. */
extern const char *const pg_selfextract_dirs[];

/* Sorted paths (relative to root, malloc'ed) of the sources the archive carries:
 * GNUmakefile and the files of pg_selfextract_dirs. */
int pg_source_list(const char *root, char ***files, size_t *count);

/* Writes the tar.xz of the sources under root into *out (malloc'ed). Deterministic:
 * sorted paths, mtime 0, uid/gid 0, mode 0644. */
int pg_source_archive(const char *root, unsigned char **out, size_t *len);

/* Writes train_gpt.py atomically. settings: "NAME=VALUE" strings baked in as defaults. */
int pg_selfextract_write(const char *path, const char *root, const char *const *settings,
                         int nsettings);
/* The same with an archive made earlier by pg_source_archive. */
int pg_selfextract_write_archive(const char *path, const unsigned char *archive, size_t len,
                                 const char *const *settings, int nsettings);

#endif
