/* Strict UTF-8 decoding: one character at a time, refusing overlong forms, surrogates and
 * values past U+10FFFF (what Python's str and SentencePiece accept). */
#ifndef PG_UTF8_H
#define PG_UTF8_H

#include <stddef.h>

/* The code point at s[0..n) and its length in *len, or -1 when s does not begin with a
 * valid character (n == 0 included). */
static inline long pg_utf8_next(const char *s, size_t n, size_t *len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t l = n == 0 ? 0
               : u[0] < 0x80             ? 1
               : (u[0] & 0xE0) == 0xC0   ? 2
               : (u[0] & 0xF0) == 0xE0   ? 3
               : (u[0] & 0xF8) == 0xF0   ? 4
                                         : 0;
    if (!l || l > n)
        return -1;
    long cp = l == 1 ? u[0] : u[0] & (0x7F >> l);
    for (size_t k = 1; k < l; k++) {
        if ((u[k] & 0xC0) != 0x80)
            return -1;
        cp = cp << 6 | (u[k] & 0x3F);
    }
    static const long min_of[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_of[l] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *len = l;
    return cp;
}

#endif
