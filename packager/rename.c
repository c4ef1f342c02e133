#include "packager/rename.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/text.h"

/* main, the preprocessor's operator, and the literal prefixes a new name must not take
 * (L"..." is another literal). */
static const char *const kBuiltinKeep[] = {"main", "defined", "L", "u", "U", "R", "u8", NULL};

static int add_keep(pg_names *keep, const char *s, size_t len)
{
    pg_name *e = pg_names_add(keep, s, len);
    return e ? 0 : pg_fail("out of memory renaming the sources");
}

/* The names a #define defines, across all sources. */
static int defined_names(const pg_csource *src, const pg_token_list *tl, size_t n, pg_names *out)
{
    for (size_t f = 0; f < n; f++)
        for (size_t k = 1; k < tl[f].m; k++) {
            const pg_token *t = &tl[f].tk[k], *prev = &tl[f].tk[k - 1];
            if (t->line == PG_LINE_DEFINE && !t->head && prev->head && t->kind == PG_TOK_IDENT &&
                add_keep(out, src[f].text + t->at, t->len) != 0)
                return -1;
        }
    return 0;
}

static int build_keep(const pg_csource *src, const pg_token_list *tl, size_t n, const char *words,
                      size_t words_len, pg_names *keep)
{
    pg_names defined = {0};
    int rc = defined_names(src, tl, n, &defined);
    for (int i = 0; rc == 0 && kBuiltinKeep[i]; i++)
        rc = add_keep(keep, kBuiltinKeep[i], strlen(kBuiltinKeep[i]));
    for (size_t i = 0; rc == 0 && i < words_len;) {
        while (i < words_len && isspace((unsigned char)words[i]))
            i++;
        size_t j = i;
        while (j < words_len && !isspace((unsigned char)words[j]))
            j++;
        if (j > i)
            rc = add_keep(keep, words + i, j - i);
        i = j;
    }
    for (size_t f = 0; rc == 0 && f < n; f++) {
        size_t attr_end = 0; /* tokens before it are inside __attribute__((...)) */
        for (size_t k = 0; rc == 0 && k < tl[f].m; k++) {
            const pg_token *t = &tl[f].tk[k];
            const char *w = src[f].text + t->at;
            if (t->kind != PG_TOK_IDENT)
                continue;
            if (pg_tok_is(src[f].text, t, "__attribute__")) {
                size_t close = pg_tok_closing_paren(src[f].text, tl[f].tk, tl[f].m, k + 1);
                attr_end = close < tl[f].m ? close + 1 : k + 1;
            }
            /* #pragma words (and #undef's, #error's) and attributes: the compiler's words
             * and the program's names alike keep theirs */
            if (src[f].fixed || t->head || w[0] == '_' || pg_c_keyword(w, t->len) ||
                t->line == PG_LINE_OTHER || k < attr_end ||
                (t->line == PG_LINE_COND && !pg_names_find(&defined, w, t->len)))
                rc = add_keep(keep, w, t->len);
        }
    }
    pg_names_free(&defined);
    return rc;
}

/* Keeps the operands of "##" on the #define lines of a renamed source: what they paste
 * together is built from the names as written. */
static int keep_paste_operands(const pg_csource *f, const pg_token_list *l, pg_names *keep)
{
    for (size_t k = 1; k < l->m; k++) {
        const pg_token *a = &l->tk[k - 1], *b = &l->tk[k];
        if (b->line != PG_LINE_DEFINE || a->kind != PG_TOK_PUNCT || b->kind != PG_TOK_PUNCT ||
            f->text[a->at] != '#' || f->text[b->at] != '#' || b->at != a->at + 1)
            continue;
        const pg_token *left = k >= 2 ? &l->tk[k - 2] : NULL, *right = k + 1 < l->m ? &l->tk[k + 1] : NULL;
        if (left && left->kind == PG_TOK_IDENT && add_keep(keep, f->text + left->at, left->len) != 0)
            return -1;
        if (right && right->kind == PG_TOK_IDENT && add_keep(keep, f->text + right->at, right->len) != 0)
            return -1;
    }
    return 0;
}

static int by_count(const void *a, const void *b)
{
    const pg_name *x = *(pg_name *const *)a, *y = *(pg_name *const *)b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The k-th short name: one letter, then a letter and a letter, digit or '_'. */
static int short_name(size_t k, char out[8])
{
    static const char first[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    static const char rest[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
    const size_t nf = sizeof first - 1, nr = sizeof rest - 1;
    memset(out, 0, 8);
    if (k < nf) {
        out[0] = first[k];
        return 0;
    }
    k -= nf;
    if (k < nf * nr) {
        out[0] = first[k / nr];
        out[1] = rest[k % nr];
        return 0;
    }
    k -= nf * nr;
    if (k < nf * nr * nr) {
        out[0] = first[k / (nr * nr)];
        out[1] = rest[k / nr % nr];
        out[2] = rest[k % nr];
        return 0;
    }
    return -1;
}

/* Gives each candidate, most frequent first, the next short name nothing keeps. */
static int assign(pg_names *cand, const pg_names *keep)
{
    qsort(cand->v, cand->n, sizeof *cand->v, by_count);
    size_t k = 0;
    for (size_t i = 0; i < cand->n; i++) {
        char name[8];
        do {
            if (short_name(k++, name) != 0)
                return pg_fail("more identifiers than three-character names");
        } while (pg_names_find(keep, name, strlen(name)) || pg_c_keyword(name, strlen(name)));
        memcpy(cand->v[i]->repl, name, sizeof name);
    }
    return 0;
}

static int rewrite(pg_csource *f, const pg_token_list *l, const pg_names *cand)
{
    pg_text t = {0};
    size_t from = 0;
    for (size_t k = 0; k < l->m; k++) {
        const pg_token *tk = &l->tk[k];
        pg_name *e = tk->kind == PG_TOK_IDENT && !tk->head
                         ? pg_names_find(cand, f->text + tk->at, tk->len) : NULL;
        if (!e)
            continue;
        pg_text_append(&t, f->text + from, tk->at - from);
        pg_text_append(&t, e->repl, strlen(e->repl));
        from = tk->at + tk->len;
    }
    pg_text_append(&t, f->text + from, f->len - from);
    if (t.oom || !t.s) {
        int oom = t.oom;
        pg_text_free(&t);
        return oom ? pg_fail("%s: out of memory renaming", f->path) : 0;
    }
    free(f->text);
    f->text = t.s;
    f->len = t.n;
    return 0;
}

int pg_c_rename(pg_csource *src, size_t n, const char *keep_words, size_t keep_len, size_t *renamed)
{
    pg_token_list *tl = NULL;
    pg_names keep = {0}, cand = {0};
    int rc = pg_c_tokens_all(src, n, &tl);
    if (rc == 0)
        rc = build_keep(src, tl, n, keep_words, keep_len, &keep);
    for (size_t f = 0; rc == 0 && f < n; f++)
        if (!src[f].fixed)
            rc = keep_paste_operands(&src[f], &tl[f], &keep);
    for (size_t f = 0; rc == 0 && f < n; f++)
        for (size_t k = 0; rc == 0 && !src[f].fixed && k < tl[f].m; k++) {
            const pg_token *t = &tl[f].tk[k];
            if (t->kind != PG_TOK_IDENT || pg_names_find(&keep, src[f].text + t->at, t->len))
                continue;
            pg_name *e = pg_names_add(&cand, src[f].text + t->at, t->len);
            if (!e)
                rc = pg_fail("%s: out of memory renaming", src[f].path);
            else
                e->count++;
        }
    if (rc == 0)
        rc = assign(&cand, &keep);
    for (size_t f = 0; rc == 0 && f < n; f++)
        if (!src[f].fixed)
            rc = rewrite(&src[f], &tl[f], &cand);
    if (renamed)
        *renamed = cand.n;
    pg_token_lists_free(tl, n);
    pg_names_free(&keep);
    pg_names_free(&cand);
    return rc;
}
