/* How far a model file from outside may expand when decoded. Two bounds, both checked
 * before anything of that size is allocated: a multiple of the file's own size (no
 * honest artifact or torch file compresses float weights 64 to 1) and an absolute cap
 * for the whole decoded model, which a user raises with --max-decoded-bytes N. */
#ifndef PG_DECODE_LIMIT_H
#define PG_DECODE_LIMIT_H

#include <stddef.h>

#define PG_MAX_EXPANSION 64
#define PG_DECODE_LIMIT_DEFAULT ((size_t)1 << 30)

typedef struct {
    size_t bytes;  /* the smaller of the two bounds */
    char why[112]; /* which bound it is, for messages */
} pg_decode_bound;

/* Sets the absolute cap from a --max-decoded-bytes value (a positive byte count). */
int pg_decode_limit_set(const char *text);
/* The bound for decoding a file of file_len bytes. */
pg_decode_bound pg_decode_bound_for(size_t file_len);

#endif
