/* C sources with fewer bytes and the same tokens, for the code that counts against the
 * cap (docs/box.md): comments go, and so do indentation, runs of blanks, trailing blanks
 * and empty lines; string and character literals, preprocessor lines and line breaks
 * between tokens stay, so the compiler sees the same program. */
#ifndef PG_MINIFY_H
#define PG_MINIFY_H

#include <stddef.h>

/* *out is malloc'ed (at most n + 2 bytes, NUL-terminated); fails only when out of memory
 * or on an unterminated comment or literal (name is used in messages). */
int pg_c_minify(const char *name, const char *in, size_t n, char **out, size_t *out_n);

/* The tokens of a minified source with the fewest blanks that keep them the same tokens:
 * code lines joined into one, a blank only where two tokens would merge (words,
 * operators such as "+ +" or "- >", a literal beside a word); preprocessor lines kept as
 * they are, each on its own line. *out is malloc'ed, NUL-terminated. */
int pg_c_squeeze(const char *name, const char *in, size_t n, char **out, size_t *out_n);

#endif
