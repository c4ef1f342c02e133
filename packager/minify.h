/* C sources with fewer bytes and the same tokens, for the code that counts against the
 * cap (docs/box.md): comments go, and so do indentation, runs of blanks, trailing blanks
 * and empty lines; string and character literals, preprocessor lines and line breaks
 * between tokens stay, so the compiler sees the same program. */
#ifndef PG_MINIFY_H
#define PG_MINIFY_H

#include <stddef.h>

/* *out is malloc'ed (at most n + 1 bytes, NUL-terminated); fails only when out of memory
 * or on an unterminated comment or literal (name is used in messages). */
int pg_c_minify(const char *name, const char *in, size_t n, char **out, size_t *out_n);

#endif
