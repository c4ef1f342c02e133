#include "dataset/sp_encode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/utf8.h"

/* ---- piece -> id ---------------------------------------------------------------------- */

typedef struct {
    const char *key; /* NULL: empty slot */
    size_t len;
    int id;
} slot;

typedef struct {
    slot *s;
    size_t cap; /* a power of two */
} piece_map;

static uint64_t fnv(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

static int map_put(piece_map *m, const char *key, int id)
{
    size_t len = strlen(key), i = fnv(key, len) & (m->cap - 1);
    while (m->s[i].key) {
        if (m->s[i].len == len && memcmp(m->s[i].key, key, len) == 0)
            return 0; /* the first id of a piece wins, as SentencePiece's map */
        i = (i + 1) & (m->cap - 1);
    }
    m->s[i] = (slot){key, len, id};
    return 0;
}

static int map_get(const piece_map *m, const char *p, size_t len)
{
    for (size_t i = fnv(p, len) & (m->cap - 1); m->s[i].key; i = (i + 1) & (m->cap - 1))
        if (m->s[i].len == len && memcmp(m->s[i].key, p, len) == 0)
            return m->s[i].id;
    return -1;
}

struct pg_sp_encoder {
    const pg_tokenizer *tok;
    piece_map pieces;   /* normal and user-defined pieces: what merges may form */
    piece_map reserved; /* control, unknown and byte pieces */
    const char **user;  /* user-defined pieces, matched whole */
    int nuser;
    int byte_id[256];
    /* the normalizer's trie (darts-clone units) and its replacement strings */
    const uint32_t *trie;
    size_t trie_units;
    const char *norm;
    size_t norm_len;
};

static int piece_type(const pg_sp_encoder *e, int id) { return e->tok->types[id]; }

int pg_sp_encoder_create(pg_sp_encoder **out, const pg_tokenizer *tok, const char *path)
{
    *out = NULL;
    if (tok->model_type != 2 || !tok->scores)
        return pg_fail("%s: not a BPE SentencePiece model (encoding needs its scores)", path);
    if (tok->treat_whitespace_as_suffix)
        return pg_fail("%s: whitespace as a suffix is not supported", path);
    pg_sp_encoder *e = calloc(1, sizeof *e);
    if (!e)
        return pg_fail("%s: out of memory", path);
    e->tok = tok;
    size_t cap = 16;
    while (cap < 2 * (size_t)tok->vocab_size)
        cap *= 2;
    e->pieces = (piece_map){calloc(cap, sizeof(slot)), cap};
    e->reserved = (piece_map){calloc(cap, sizeof(slot)), cap};
    e->user = calloc((size_t)tok->vocab_size, sizeof *e->user);
    if (!e->pieces.s || !e->reserved.s || !e->user) {
        pg_sp_encoder_free(e);
        return pg_fail("%s: out of memory", path);
    }
    for (int i = 0; i < 256; i++)
        e->byte_id[i] = -1;
    for (int id = 0; id < tok->vocab_size; id++) {
        int t = tok->types[id];
        if (t == PG_PIECE_UNUSED) {
            pg_sp_encoder_free(e);
            return pg_fail("%s: piece %d is unused, which encoding does not support", path, id);
        }
        if (t == PG_PIECE_NORMAL || t == PG_PIECE_USER_DEFINED)
            map_put(&e->pieces, tok->pieces[id], id);
        else
            map_put(&e->reserved, tok->pieces[id], id);
        if (t == PG_PIECE_USER_DEFINED && tok->pieces[id][0])
            e->user[e->nuser++] = tok->pieces[id];
        unsigned b;
        if (t == PG_PIECE_BYTE && sscanf(tok->pieces[id], "<0x%2X>", &b) == 1 && b < 256)
            e->byte_id[b] = id;
    }
    if (tok->charsmap) { /* u32 trie size | the trie's units | the replacement strings */
        uint32_t tsize = 0;
        if (tok->charsmap_len >= 4)
            tsize = (uint32_t)tok->charsmap[0] | (uint32_t)tok->charsmap[1] << 8 |
                    (uint32_t)tok->charsmap[2] << 16 | (uint32_t)tok->charsmap[3] << 24;
        if (tok->charsmap_len < 4 || tsize % 4 || tsize > tok->charsmap_len - 4 || tsize == 0) {
            pg_sp_encoder_free(e);
            return pg_fail("%s: the normalizer's character map is malformed", path);
        }
        e->trie = (const uint32_t *)(const void *)(tok->charsmap + 4);
        e->trie_units = tsize / 4;
        e->norm = (const char *)tok->charsmap + 4 + tsize;
        e->norm_len = tok->charsmap_len - 4 - tsize;
    }
    *out = e;
    return 0;
}

void pg_sp_encoder_free(pg_sp_encoder *e)
{
    if (!e)
        return;
    free(e->pieces.s);
    free(e->reserved.s);
    free(e->user);
    free(e);
}

/* ---- the normalizer ------------------------------------------------------------------ */

/* darts-clone's unit fields */
static uint32_t u_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static uint32_t u_label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
static int u_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static uint32_t u_value(uint32_t u) { return u & ((1u << 31) - 1); }

static uint32_t unit_at(const pg_sp_encoder *e, size_t pos, int *ok)
{
    if (pos >= e->trie_units) {
        *ok = 0;
        return 0;
    }
    const unsigned char *p = (const unsigned char *)(e->trie + pos);
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The longest rule of the map matching a prefix of s[0..n): its length (0: none) and the
 * offset of its replacement in *value. */
static size_t trie_longest(const pg_sp_encoder *e, const char *s, size_t n, uint32_t *value)
{
    int ok = 1;
    size_t best = 0;
    uint32_t node = 0, unit = unit_at(e, 0, &ok);
    node ^= u_offset(unit);
    for (size_t i = 0; i < n && ok; i++) {
        unsigned char c = (unsigned char)s[i];
        node ^= c;
        unit = unit_at(e, node, &ok);
        if (!ok || u_label(unit) != c)
            break;
        node ^= u_offset(unit);
        if (u_has_leaf(unit)) {
            uint32_t v = u_value(unit_at(e, node, &ok));
            if (ok) {
                best = i + 1;
                *value = v;
            }
        }
    }
    return best;
}

/* The length of the valid UTF-8 character at s (0: invalid). */
static size_t utf8_char(const char *s, size_t n)
{
    size_t len;
    return pg_utf8_next(s, n, &len) < 0 ? 0 : len;
}

/* The longest user-defined piece at s, or 0. */
static size_t user_match(const pg_sp_encoder *e, const char *s, size_t n)
{
    size_t best = 0;
    for (int i = 0; i < e->nuser; i++) {
        size_t len = strlen(e->user[i]);
        if (len > best && len <= n && memcmp(s, e->user[i], len) == 0)
            best = len;
    }
    return best;
}

/* NormalizePrefix: what s's prefix becomes (*rep, *rlen) and how many bytes it takes. */
static size_t normalize_prefix(const pg_sp_encoder *e, const char *s, size_t n, const char **rep,
                               size_t *rlen)
{
    size_t m = user_match(e, s, n);
    if (m) {
        *rep = s, *rlen = m;
        return m;
    }
    uint32_t v = 0;
    size_t len = e->trie ? trie_longest(e, s, n, &v) : 0;
    if (len && v < e->norm_len) {
        *rep = e->norm + v;
        *rlen = strnlen(e->norm + v, e->norm_len - v);
        return len;
    }
    size_t c = utf8_char(s, n);
    if (!c) { /* malformed: U+FFFD for one byte */
        *rep = "\xEF\xBF\xBD", *rlen = 3;
        return 1;
    }
    *rep = s, *rlen = c;
    return c;
}

typedef struct {
    char *s;
    size_t n, cap;
    size_t *orig; /* per normalized byte, the input offset it came from; then the end */
} normalized;

static int norm_put(normalized *o, const char *p, size_t n, size_t consumed)
{
    if (o->n + n + 1 > o->cap) {
        size_t nc = o->cap ? 2 * o->cap : 256;
        while (nc < o->n + n + 1)
            nc *= 2;
        char *s = realloc(o->s, nc);
        size_t *g = s ? realloc(o->orig, nc * sizeof *g) : NULL;
        if (!s || !g) {
            if (s)
                o->s = s;
            return -1;
        }
        o->s = s, o->orig = g, o->cap = nc;
    }
    memcpy(o->s + o->n, p, n);
    for (size_t k = 0; k < n; k++)
        o->orig[o->n + k] = consumed;
    o->n += n;
    return 0;
}

#define SPACE_SYMBOL "\xE2\x96\x81" /* U+2581 */

static int normalize(const pg_sp_encoder *e, const char *in, size_t n, normalized *o)
{
    const pg_tokenizer *t = e->tok;
    size_t consumed = 0;
    const char *rep;
    size_t rlen;
    if (t->remove_extra_whitespaces) /* leading spaces go */
        while (consumed < n) {
            size_t used = normalize_prefix(e, in + consumed, n - consumed, &rep, &rlen);
            if (!(rlen == 1 && rep[0] == ' '))
                break;
            consumed += used;
        }
    if (consumed < n && t->add_dummy_prefix && norm_put(o, t->escape_whitespaces ? SPACE_SYMBOL : " ",
                                        t->escape_whitespaces ? 3 : 1, consumed) != 0)
        return -1;
    int prev_space = t->remove_extra_whitespaces;
    while (consumed < n) {
        size_t used = normalize_prefix(e, in + consumed, n - consumed, &rep, &rlen);
        if (prev_space)
            while (rlen && rep[0] == ' ')
                rep++, rlen--;
        if (rlen) {
            for (size_t k = 0; k < rlen; k++) {
                int ok = t->escape_whitespaces && rep[k] == ' '
                             ? norm_put(o, SPACE_SYMBOL, 3, consumed)
                             : norm_put(o, rep + k, 1, consumed);
                if (ok != 0)
                    return -1;
            }
            prev_space = rep[rlen - 1] == ' ';
        }
        consumed += used;
        if (!t->remove_extra_whitespaces)
            prev_space = 0;
    }
    if (t->remove_extra_whitespaces) { /* trailing spaces go */
        const char *sp = t->escape_whitespaces ? SPACE_SYMBOL : " ";
        size_t sl = t->escape_whitespaces ? 3 : 1;
        while (o->n >= sl && memcmp(o->s + o->n - sl, sp, sl) == 0) {
            consumed = o->orig[o->n - sl];
            o->n -= sl;
        }
    }
    if (norm_put(o, "", 0, consumed) != 0)
        return -1;
    o->orig[o->n] = consumed; /* the end */
    return 0;
}

/* ---- BPE ------------------------------------------------------------------------------ */

typedef struct {
    size_t start, len;
    int prev, next, freeze;
} symbol;

typedef struct {
    int left, right;
    float score;
    size_t size;
} pair;

typedef struct {
    pair *h;
    size_t n, cap;
} agenda;

/* a before b: the higher score, then the leftmost */
static int better(const pair *a, const pair *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int push(agenda *q, pair p)
{
    if (q->n == q->cap) {
        size_t nc = q->cap ? 2 * q->cap : 64;
        pair *h = realloc(q->h, nc * sizeof *h);
        if (!h)
            return -1;
        q->h = h, q->cap = nc;
    }
    size_t i = q->n++;
    while (i > 0 && better(&p, &q->h[(i - 1) / 2])) {
        q->h[i] = q->h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->h[i] = p;
    return 0;
}

static pair pop(agenda *q)
{
    pair top = q->h[0], last = q->h[--q->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->n)
            break;
        if (c + 1 < q->n && better(&q->h[c + 1], &q->h[c]))
            c++;
        if (!better(&q->h[c], &last))
            break;
        q->h[i] = q->h[c];
        i = c;
    }
    if (q->n)
        q->h[i] = last;
    return top;
}

static int maybe_pair(const pg_sp_encoder *e, const char *s, const symbol *sym, int l, int r,
                      agenda *q)
{
    if (l < 0 || r < 0 || sym[l].freeze || sym[r].freeze)
        return 0;
    size_t size = sym[l].len + sym[r].len;
    int id = map_get(&e->pieces, s + sym[l].start, size);
    if (id < 0)
        return 0;
    return push(q, (pair){l, r, e->tok->scores[id], size});
}

static int tokens_put(pg_sp_tokens *t, int id, size_t begin, size_t end)
{
    if (t->n == t->cap) {
        size_t nc = t->cap ? 2 * t->cap : 256;
        int *ids = realloc(t->ids, nc * sizeof *ids);
        size_t *b = ids ? realloc(t->begin, nc * sizeof *b) : NULL;
        size_t *en = b ? realloc(t->end, nc * sizeof *en) : NULL;
        if (ids)
            t->ids = ids;
        if (b)
            t->begin = b;
        if (!en)
            return -1;
        t->end = en, t->cap = nc;
    }
    t->ids[t->n] = id, t->begin[t->n] = begin, t->end[t->n] = end;
    t->n++;
    return 0;
}

int pg_sp_encode(const pg_sp_encoder *e, const char *text, size_t n, pg_sp_tokens *out)
{
    normalized nz = {0};
    symbol *sym = NULL;
    agenda q = {0};
    int rc = -1;
    if (normalize(e, text, n, &nz) != 0)
        goto done;
    if (!(sym = malloc((nz.n + 1) * sizeof *sym)))
        goto done;
    int count = 0;
    for (size_t at = 0; at < nz.n; count++) { /* characters, user-defined pieces whole */
        size_t m = user_match(e, nz.s + at, nz.n - at), len = m;
        if (!len)
            len = utf8_char(nz.s + at, nz.n - at);
        if (!len)
            len = 1;
        sym[count] = (symbol){at, len, count - 1, at + len < nz.n ? count + 1 : -1, m > 0};
        at += len;
    }
    for (int i = 1; i < count; i++)
        if (maybe_pair(e, nz.s, sym, i - 1, i, &q) != 0)
            goto done;
    while (q.n) {
        pair top = pop(&q);
        symbol *l = &sym[top.left], *r = &sym[top.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != top.size)
            continue; /* stale: one side was merged since */
        l->len = top.size;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = top.left;
        r->len = 0;
        if (maybe_pair(e, nz.s, sym, l->prev, top.left, &q) != 0 ||
            maybe_pair(e, nz.s, sym, top.left, l->next, &q) != 0)
            goto done;
    }
    int prev_unk = 0;
    for (int i = count ? 0 : -1; i >= 0; i = sym[i].next) {
        const char *w = nz.s + sym[i].start;
        size_t wl = sym[i].len, b = nz.orig[sym[i].start], en = nz.orig[sym[i].start + wl];
        int id = map_get(&e->pieces, w, wl);
        if (id < 0)
            id = map_get(&e->reserved, w, wl);
        int unk = id < 0 || piece_type(e, id) == PG_PIECE_UNKNOWN;
        if (unk && e->tok->byte_fallback) {
            for (size_t k = 0; k < wl; k++) { /* the last byte holds the surface */
                int bid = e->byte_id[(unsigned char)w[k]];
                if (tokens_put(out, bid >= 0 ? bid : e->tok->unk_id, b, k + 1 == wl ? en : b) != 0)
                    goto done;
            }
            prev_unk = 0;
            continue;
        }
        if (unk && prev_unk) { /* a run of unknowns is one unknown */
            out->end[out->n - 1] = en;
            continue;
        }
        if (tokens_put(out, unk ? e->tok->unk_id : id, b, en) != 0)
            goto done;
        prev_unk = unk;
    }
    rc = 0;
done:
    free(nz.s), free(nz.orig), free(sym), free(q.h);
    return rc == 0 ? 0 : pg_fail("encoding %zu bytes of text: out of memory", n);
}

void pg_sp_tokens_free(pg_sp_tokens *t)
{
    free(t->ids), free(t->begin), free(t->end);
    memset(t, 0, sizeof *t);
}
