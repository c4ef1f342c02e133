/* CaseOps (lossless_caps_caseops_v1), the April records' reversible text transform
 * (DESIGN §11; their lossless_caps.py), on UTF-8 text as code points:
 *
 *  - every maximal run of ASCII letters (a word) loses its capitals: a lowercase word stays;
 *    an all-capitals word of two or more letters becomes ALLCAPS + the word in lowercase;
 *    a capital followed by lowercase letters (or a lone capital) becomes TITLE + the
 *    word in lowercase; any other mix becomes TITLE (when it starts with a capital),
 *    then each letter in lowercase, each later capital preceded by CAPNEXT;
 *  - an operator character found in the text is escaped: ESC + the character;
 *  - everything else is copied.
 *
 * The operators are private-use characters: TITLE U+E001, ALLCAPS U+E002, CAPNEXT
 * U+E003, ESC U+E004. BPB is scored on the original text's bytes: the byte sidecar gives
 * each token the UTF-8 bytes of the original text its piece stands for (operators 0, an
 * escaped character its own bytes, a letter 1), which pg_caseops_piece_bytes computes
 * from the pieces' surfaces, carrying the operators' state across pieces. */
#ifndef PG_CASEOPS_H
#define PG_CASEOPS_H

#include <stddef.h>

#include "common/text.h"

enum {
    PG_CASEOPS_TITLE = 0xE001,
    PG_CASEOPS_ALLCAPS = 0xE002,
    PG_CASEOPS_CAPNEXT = 0xE003,
    PG_CASEOPS_ESC = 0xE004
};

/* The transform of s[0..n) appended to out. Fails (message naming `where`) on invalid
 * UTF-8 or out of memory. */
int pg_caseops_encode(const char *s, size_t n, pg_text *out, const char *where);
/* The inverse; fails naming `where` on a malformed transform (a dangling or misplaced
 * operator). */
int pg_caseops_decode(const char *s, size_t n, pg_text *out, const char *where);

/* Per piece, the original text's UTF-8 bytes: counts[i] for surfaces[i] (each the exact
 * UTF-8 text a token covers, in order). Fails naming `where` on a malformed sequence. */
int pg_caseops_piece_bytes(const char *const *surfaces, size_t n, int *counts, const char *where);

#endif
