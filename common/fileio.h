/* File helpers: bounded whole-file reads and atomic writes.
 *
 * An atomic write goes to "<path>.tmp.<pid>" in the same directory, is fsync'ed,
 * then renamed over <path> (and the directory fsync'ed), so a reader sees either the
 * old file or the complete new one, never a half-written file. */
#ifndef PG_FILEIO_H
#define PG_FILEIO_H

#include <stddef.h>
#include <stdio.h>

/* Longest path pgolf keeps in a fixed buffer (settings, manifests, run state). */
#define PG_PATH_MAX 512

/* Opens a regular file for reading ("rb"); a FIFO, device or directory is refused
 * without blocking. NULL with the message set on failure. */
FILE *pg_open_regular(const char *path);

/* Reads a whole file; fails if it is larger than max_bytes. *out is malloc'ed, with a NUL
 * after its len bytes (text can be used as a string). */
int pg_read_file(const char *path, size_t max_bytes, unsigned char **out, size_t *len);

typedef struct {
    char *path;
    char *tmp_path;
    FILE *fp;
    int failed;
} pg_atomic_file;

int pg_atomic_open(pg_atomic_file *af, const char *path);
int pg_atomic_write(pg_atomic_file *af, const void *data, size_t len);
/* Flushes, fsyncs and renames into place; on any error the temp file is removed. */
int pg_atomic_commit(pg_atomic_file *af);
/* Drops the temp file; safe to call after a failed write. */
void pg_atomic_abort(pg_atomic_file *af);

/* Writes data to path atomically in one call. */
int pg_write_file_atomic(const char *path, const void *data, size_t len);
/* The same for the file `name` in folder dir. */
int pg_write_file_in(const char *dir, const char *name, const void *data, size_t len);

/* mkdir -p: creates dir and its missing parents. */
int pg_mkdir_p(const char *dir);

/* rm -r: removes path and everything under it (links are not followed); a missing path
 * is not an error. */
int pg_remove_tree(const char *path);
/* Puts the finished folder `staging` in the place of `final`, removing what final held
 * (the caller has decided it may go); both lie in the same parent folder. */
int pg_dir_replace(const char *staging, const char *final);

/* Joins dir and name with a '/'; returns a malloc'ed string. */
char *pg_path_join(const char *dir, const char *name);

/* n bytes from /dev/urandom; -1 (no message) when it cannot be read. */
int pg_random_bytes(void *buf, size_t n);

#endif
