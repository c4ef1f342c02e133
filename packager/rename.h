/* Shorter names for the box build's own identifiers (docs/box.md): every identifier of
 * the sources not fixed gets a name of one or two characters, the most frequent first,
 * unless it must keep its own. One map over all sources, and one-to-one, so the program's
 * meaning (scopes, shadowing, links between files) is unchanged. */
#ifndef PG_RENAME_H
#define PG_RENAME_H

#include "packager/ctoken.h"

/* What keeps its name: C keywords; identifiers starting with '_'; main; directive names;
 * every identifier of a fixed source (the CUDA module's kernels are found by name); every
 * identifier on an #if/#ifdef/#ifndef/#elif line that no source #defines (the compiler's
 * and build's macros); every identifier on a #pragma, #undef or #error line and inside
 * __attribute__((...)); and the words of keep (blank-separated: the names the system
 * headers declare that the sources use, and every name of up to three characters the
 * headers declare, which no new name may take); and the operands of ## (so an
 * identifier a macro pastes together must not be named directly outside it). *renamed
 * (may be NULL) gets the count. */
int pg_c_rename(pg_csource *src, size_t n, const char *keep, size_t keep_len, size_t *renamed);

#endif
