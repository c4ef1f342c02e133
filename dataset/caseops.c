#include "dataset/caseops.h"

#include <string.h>

#include "common/err.h"
#include "common/utf8.h"

/* The code point at s[*i], advancing *i; -1 on invalid UTF-8. */
static long next_cp(const char *s, size_t n, size_t *i)
{
    size_t len;
    long cp = pg_utf8_next(s + *i, n - *i, &len);
    if (cp >= 0)
        *i += len;
    return cp;
}

static int utf8_len(long cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

static void put_cp(pg_text *t, long cp)
{
    char b[4];
    int len = utf8_len(cp);
    if (len == 1) {
        b[0] = (char)cp;
    } else {
        for (int k = len - 1; k > 0; k--, cp >>= 6)
            b[k] = (char)(0x80 | (cp & 0x3F));
        b[0] = (char)((len == 2 ? 0xC0 : len == 3 ? 0xE0 : 0xF0) | cp);
    }
    pg_text_append(t, b, (size_t)len);
}

static int is_upper(long c) { return c >= 'A' && c <= 'Z'; }
static int is_lower(long c) { return c >= 'a' && c <= 'z'; }
static int is_alpha(long c) { return is_upper(c) || is_lower(c); }
static int is_op(long c) { return c >= PG_CASEOPS_TITLE && c <= PG_CASEOPS_ESC; }
static char lower(char c) { return is_upper(c) ? (char)(c - 'A' + 'a') : c; }

/* One ASCII word w[0..n) with its operators. */
static void encode_word(pg_text *out, const char *w, size_t n)
{
    size_t up = 0;
    for (size_t k = 0; k < n; k++)
        up += is_upper(w[k]);
    int first_up = is_upper(w[0]);
    int mode = up == 0 ? 0 : (n >= 2 && up == n) ? PG_CASEOPS_ALLCAPS
               : (first_up && up == 1)           ? PG_CASEOPS_TITLE
                                                 : -1; /* a mix */
    if (mode > 0 || (mode < 0 && first_up))
        put_cp(out, mode > 0 ? mode : PG_CASEOPS_TITLE);
    for (size_t k = 0; k < n; k++) {
        if (mode < 0 && k > 0 && is_upper(w[k]))
            put_cp(out, PG_CASEOPS_CAPNEXT);
        char c = lower(w[k]);
        pg_text_append(out, &c, 1);
    }
}

int pg_caseops_encode(const char *s, size_t n, pg_text *out, const char *where)
{
    size_t i = 0;
    while (i < n) {
        size_t at = i;
        long c = next_cp(s, n, &i);
        if (c < 0)
            return pg_fail("%s: invalid UTF-8 at byte %zu", where, at);
        if (is_alpha(c)) {
            size_t j = i;
            while (j < n && is_alpha((unsigned char)s[j]))
                j++;
            encode_word(out, s + at, j - at);
            i = j;
            continue;
        }
        if (is_op(c))
            put_cp(out, PG_CASEOPS_ESC);
        put_cp(out, c);
    }
    return out->oom ? pg_fail("%s: out of memory", where) : 0;
}

/* The operators' state between characters (the decoder's and the byte counter's). */
typedef struct {
    int escape;   /* ESC seen: the next character is literal */
    long mode;    /* TITLE or ALLCAPS waiting for a word's first letter, else 0 */
    int capnext;  /* CAPNEXT waiting for a letter */
    int in_word;  /* the previous character was a letter of a word */
    int allcaps;  /* the current word is all capitals */
} op_state;

/* Feeds c: 1 when c is text (with *upper telling whether a letter is a capital), 0 when it
 * is an operator, -1 (message) when misplaced. */
static int step(op_state *st, long c, int *upper, const char *where)
{
    *upper = 0;
    if (st->escape) {
        if (st->mode && !is_alpha(c))
            return pg_fail("%s: an escaped character where a word must begin", where);
        st->escape = 0;
        st->in_word = is_alpha(c);
        if (!st->in_word)
            st->allcaps = 0;
        return 1;
    }
    if (c == PG_CASEOPS_ESC) {
        st->escape = 1;
        return 0;
    }
    if (c == PG_CASEOPS_TITLE || c == PG_CASEOPS_ALLCAPS) {
        if (st->mode || st->in_word || st->capnext)
            return pg_fail("%s: a misplaced %s operator", where,
                           c == PG_CASEOPS_TITLE ? "TITLE" : "ALLCAPS");
        st->mode = c;
        return 0;
    }
    if (c == PG_CASEOPS_CAPNEXT) {
        if (st->capnext)
            return pg_fail("%s: two CAPNEXT operators in a row", where);
        st->capnext = 1;
        return 0;
    }
    if (is_alpha(c)) {
        if (!st->in_word) { /* a word begins */
            *upper = st->mode != 0 || st->capnext;
            st->allcaps = st->mode == PG_CASEOPS_ALLCAPS;
            st->in_word = 1;
        } else {
            if (st->mode)
                return pg_fail("%s: a word operator inside a word", where);
            *upper = st->allcaps || st->capnext;
        }
        st->mode = 0;
        st->capnext = 0;
        return 1;
    }
    if (st->mode || st->capnext)
        return pg_fail("%s: an operator not followed by a letter", where);
    st->in_word = 0;
    st->allcaps = 0;
    return 1;
}

static int finish(const op_state *st, const char *where)
{
    if (st->escape)
        return pg_fail("%s: a dangling ESC at the end", where);
    if (st->mode || st->capnext)
        return pg_fail("%s: a dangling operator at the end", where);
    return 0;
}

int pg_caseops_decode(const char *s, size_t n, pg_text *out, const char *where)
{
    op_state st = {0};
    size_t i = 0;
    while (i < n) {
        size_t at = i;
        long c = next_cp(s, n, &i);
        if (c < 0)
            return pg_fail("%s: invalid UTF-8 at byte %zu", where, at);
        int upper, r = step(&st, c, &upper, where);
        if (r < 0)
            return -1;
        if (r > 0)
            put_cp(out, upper && is_lower(c) ? c - 'a' + 'A' : c);
    }
    if (finish(&st, where) != 0)
        return -1;
    return out->oom ? pg_fail("%s: out of memory", where) : 0;
}

int pg_caseops_piece_bytes(const char *const *surfaces, size_t n, int *counts, const char *where)
{
    op_state st = {0};
    for (size_t p = 0; p < n; p++) {
        const char *s = surfaces[p];
        size_t len = strlen(s), i = 0;
        counts[p] = 0;
        while (i < len) {
            size_t at = i;
            long c = next_cp(s, len, &i);
            if (c < 0)
                return pg_fail("%s: piece %zu: invalid UTF-8 at byte %zu", where, p, at);
            int upper, r = step(&st, c, &upper, where);
            if (r < 0)
                return -1;
            if (r > 0) /* a letter is one byte, upper or lower */
                counts[p] += utf8_len(c);
        }
    }
    return finish(&st, where);
}
