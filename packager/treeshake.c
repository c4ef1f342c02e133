#include "packager/treeshake.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* A top-level definition or prototype of a function. */
typedef struct {
    size_t src, first, last; /* tokens first..last of source src */
    size_t name_tok;
    pg_name *name;
    long self; /* how often the item names itself (recursion, the name in the prototype) */
    int fn, def, removable, removed;
} item;

static int is_punct(const char *s, const pg_token *t, char c)
{
    return t->kind == PG_TOK_PUNCT && s[t->at] == c;
}

/* The next top-level item from token *i of source s into *it (it->fn: a function's
 * definition or prototype): 1, or 0 at the end, or -1 when the braces or parentheses do
 * not balance. */
static int next_item(const char *s, const pg_token *tk, size_t m, size_t *i, item *it)
{
    while (*i < m && tk[*i].line != PG_LINE_CODE)
        (*i)++;
    size_t start = *i, paren = m, end = m;
    int pd = 0, bd = 0, eq = 0, def = 0, pp_at_top = 0, cond = 0, macro = 0, before_name = 0;
    for (size_t j = start; j < m; j++) {
        const pg_token *t = &tk[j];
        if (t->line != PG_LINE_CODE) {
            pp_at_top |= bd == 0;
            if (t->head && t->kind == PG_TOK_IDENT) {
                cond += (t->len >= 2 && memcmp(s + t->at, "if", 2) == 0) -
                        pg_tok_is(s, t, "endif");
                macro |= pg_tok_is(s, t, "define") || pg_tok_is(s, t, "undef");
            }
            continue;
        }
        if (t->kind != PG_TOK_PUNCT)
            continue;
        char c = s[t->at];
        /* a '{' (a struct defined) or ',' (another declarator) before the first '(' */
        before_name |= paren == m && pd == 0 && (c == '{' || c == ',');
        if (c == '(' && pd++ == 0 && bd == 0 && paren == m)
            paren = j;
        else if (c == ')')
            pd--;
        else if (c == '=' && pd == 0 && bd == 0)
            eq = 1;
        else if (c == '{' && bd++ == 0 && pd == 0 && j > start && is_punct(s, &tk[j - 1], ')') && !eq)
            def = 1;
        else if (c == '}' && --bd == 0 && def)
            end = j;
        else if (c == ';' && pd == 0 && bd == 0)
            end = j;
        if (pd < 0 || bd < 0)
            return -1;
        if (end < m)
            break;
    }
    if (end == m)
        return start == m ? 0 : -1;
    *i = end + 1;
    memset(it, 0, sizeof *it);
    it->first = start;
    it->last = end;
    it->def = def;
    /* "specifiers name(" with the name an identifier, not a keyword, an attribute or a
     * typedef, and one declarator */
    if (paren == m || paren < start + 2 || tk[paren - 1].kind != PG_TOK_IDENT || before_name ||
        pg_c_keyword(s + tk[paren - 1].at, tk[paren - 1].len) ||
        pg_tok_is(s, &tk[paren - 1], "__attribute__") || pg_tok_is(s, &tk[start], "typedef"))
        return 1;
    if (!def) { /* a prototype: nothing after the parameters but ';' or attributes */
        size_t close = pg_tok_closing_paren(s, tk, m, paren);
        if (eq || close + 1 > end ||
            !(close + 1 == end || pg_tok_is(s, &tk[close + 1], "__attribute__")))
            return 1;
    }
    it->fn = 1;
    it->name_tok = paren - 1;
    it->removable = !pp_at_top && cond == 0 && !macro; /* a #define inside goes on living */
    return 1;
}

static int count_tokens(const pg_csource *src, const pg_token_list *tl, size_t n, pg_names *names)
{
    for (size_t f = 0; f < n; f++)
        for (size_t k = 0; k < tl[f].m; k++) {
            const pg_token *t = &tl[f].tk[k];
            if (t->kind != PG_TOK_IDENT || t->head)
                continue;
            pg_name *e = pg_names_add(names, src[f].text + t->at, t->len);
            if (!e)
                return pg_fail("%s: out of memory", src[f].path);
            e->count++;
        }
    return 0;
}

/* Marks dead items removed, taking their tokens out of the counts, until none is left;
 * returns how many definitions went. */
static size_t sweep(const pg_csource *src, const pg_token_list *tl, const pg_names *names, item *it,
                    size_t ni)
{
    size_t removed = 0;
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < ni; i++)
            it[i].name->aux = it[i].name->keep = 0;
        for (size_t i = 0; i < ni; i++)
            if (!it[i].removed) {
                it[i].name->aux += it[i].self;
                it[i].name->keep |= !it[i].removable;
            }
        for (size_t i = 0; i < ni; i++) {
            pg_name *nm = it[i].name;
            if (it[i].removed || nm->keep || nm->count > nm->aux ||
                (nm->len == 4 && memcmp(nm->s, "main", 4) == 0))
                continue;
            const char *s = src[it[i].src].text;
            for (size_t k = it[i].first; k <= it[i].last; k++) {
                const pg_token *t = &tl[it[i].src].tk[k];
                if (t->kind == PG_TOK_IDENT && !t->head)
                    pg_names_find(names, s + t->at, t->len)->count--;
            }
            it[i].removed = 1;
            removed += (size_t)it[i].def;
            changed = 1;
        }
    }
    return removed;
}

/* Source f without its removed items; a removed item on lines of its own takes its line
 * break along, else a blank keeps its neighbours apart. */
static int rewrite(pg_csource *f, const pg_token *tk, const item *it, size_t ni, size_t fi)
{
    char *o = malloc(f->len + 1);
    if (!o)
        return pg_fail("%s: out of memory", f->path);
    size_t k = 0, from = 0;
    for (size_t i = 0; i < ni; i++) {
        if (it[i].src != fi || !it[i].removed)
            continue;
        size_t a = tk[it[i].first].at, b = tk[it[i].last].at + tk[it[i].last].len;
        memcpy(o + k, f->text + from, a - from);
        k += a - from;
        if ((a == 0 || f->text[a - 1] == '\n') && b < f->len && f->text[b] == '\n')
            b++;
        else
            o[k++] = ' ';
        from = b;
    }
    memcpy(o + k, f->text + from, f->len - from);
    k += f->len - from;
    o[k] = '\0';
    free(f->text);
    f->text = o;
    f->len = k;
    return 0;
}

int pg_c_drop_unused(pg_csource *src, size_t n, size_t *removed)
{
    pg_token_list *tl = NULL;
    pg_names names = {0};
    item *it = NULL;
    size_t ni = 0, cap = 0, gone = 0;
    int rc = pg_c_tokens_all(src, n, &tl);
    if (rc == 0)
        rc = count_tokens(src, tl, n, &names);
    for (size_t f = 0; rc == 0 && f < n; f++) {
        if (src[f].fixed)
            continue;
        const char *s = src[f].text;
        size_t first = ni;
        item x;
        int r;
        for (size_t i = 0; rc == 0 && (r = next_item(s, tl[f].tk, tl[f].m, &i, &x)) != 0;) {
            if (r < 0) { /* unbalanced: this file stays as it is */
                ni = first;
                break;
            }
            if (!x.fn)
                continue;
            if (ni == cap) {
                cap = cap ? 2 * cap : 256;
                item *w = realloc(it, cap * sizeof *w);
                if (!w) {
                    rc = pg_fail("%s: out of memory", src[f].path);
                    break;
                }
                it = w;
            }
            const pg_token *nt = tl[f].tk;
            x.src = f;
            x.name = pg_names_find(&names, s + nt[x.name_tok].at, nt[x.name_tok].len);
            for (size_t k = x.first; k <= x.last; k++)
                x.self += nt[k].kind == PG_TOK_IDENT && !nt[k].head &&
                          pg_names_find(&names, s + nt[k].at, nt[k].len) == x.name;
            it[ni++] = x;
        }
    }
    if (rc == 0)
        gone = sweep(src, tl, &names, it, ni);
    for (size_t f = 0; rc == 0 && f < n; f++)
        if (!src[f].fixed)
            rc = rewrite(&src[f], tl[f].tk, it, ni, f);
    if (removed)
        *removed = gone;
    pg_token_lists_free(tl, n);
    free(it);
    pg_names_free(&names);
    return rc;
}
