/* Leaves out of the box build's sources the functions nothing in them calls (docs/box.md):
 * what the linker's --gc-sections drops from the program, dropped from the text that
 * counts against the cap. */
#ifndef PG_TREESHAKE_H
#define PG_TREESHAKE_H

#include "packager/ctoken.h"

/* Removes, until none is left, every top-level function definition and prototype (of the
 * sources not fixed) whose name no other token of any source names; main stays. Only
 * plain shapes are touched ("type name(params) { body }" and "type name(params);", one
 * declarator, no attribute before the name, no #define or unbalanced #if inside); a file
 * whose braces or parentheses do not balance is left as it is. *removed (may be
 * NULL) gets how many definitions went. Fails only when out of memory or on a source
 * that does not tokenize (naming it). */
int pg_c_drop_unused(pg_csource *src, size_t n, size_t *removed);

#endif
