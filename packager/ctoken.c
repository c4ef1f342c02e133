#include "packager/ctoken.h"

#include <ctype.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static int ident_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* Skips blanks, comments and backslash-newlines from *i; returns 1 at a line break
 * (left unconsumed), 0 at a token or the end, -1 on an unterminated comment. */
static int skip_space(const char *s, size_t n, size_t *i)
{
    while (*i < n) {
        char c = s[*i];
        if (c == '\n')
            return 1;
        if (c == '\\' && *i + 1 < n && s[*i + 1] == '\n') {
            *i += 2;
        } else if (c == '/' && *i + 1 < n && s[*i + 1] == '/') {
            while (*i < n && s[*i] != '\n')
                (*i)++;
        } else if (c == '/' && *i + 1 < n && s[*i + 1] == '*') {
            size_t j = *i + 2;
            while (j + 1 < n && !(s[j] == '*' && s[j + 1] == '/'))
                j++;
            if (j + 1 >= n)
                return -1;
            *i = j + 2;
        } else if (isspace((unsigned char)c)) {
            (*i)++;
        } else {
            return 0;
        }
    }
    return 0;
}

/* The length of the token at s[i] (one of the kinds); 0 for an unterminated literal. */
static size_t token_len(const char *s, size_t n, size_t i, unsigned char *kind)
{
    size_t j = i;
    char c = s[i];
    if (c == '"' || c == '\'') {
        *kind = PG_TOK_LITERAL;
        for (j = i + 1; j < n && s[j] != c && s[j] != '\n'; j++)
            if (s[j] == '\\')
                j++;
        return j < n && s[j] == c ? j + 1 - i : 0;
    }
    if (isdigit((unsigned char)c) || (c == '.' && i + 1 < n && isdigit((unsigned char)s[i + 1]))) {
        *kind = PG_TOK_NUMBER; /* a pp-number: digits, letters, '.', and a sign after e/p */
        for (j = i + 1; j < n; j++) {
            char d = s[j];
            if ((d == '+' || d == '-') && strchr("eEpP", s[j - 1]))
                continue;
            if (!ident_char(d) && d != '.')
                break;
        }
        return j - i;
    }
    if (ident_char(c)) {
        *kind = PG_TOK_IDENT;
        while (j < n && ident_char(s[j]))
            j++;
        return j - i;
    }
    *kind = PG_TOK_PUNCT;
    return 1;
}

static pg_line_kind directive_kind(const char *w, size_t len)
{
    static const struct {
        const char *name;
        pg_line_kind kind;
    } kinds[] = {{"define", PG_LINE_DEFINE}, {"if", PG_LINE_COND},     {"ifdef", PG_LINE_COND},
                 {"ifndef", PG_LINE_COND},   {"elif", PG_LINE_COND},   {"include", PG_LINE_INCLUDE}};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        if (strlen(kinds[k].name) == len && memcmp(kinds[k].name, w, len) == 0)
            return kinds[k].kind;
    return PG_LINE_OTHER;
}

int pg_c_tokens(const char *name, const char *s, size_t n, pg_token **out, size_t *count)
{
    size_t cap = 0, k = 0, i = 0;
    pg_token *v = NULL;
    int line_first = 1;
    pg_line_kind line = PG_LINE_CODE;
    int head = 0; /* 1: the '#' was the last token, its name comes next */
    for (;;) {
        int r = skip_space(s, n, &i);
        if (r < 0) {
            free(v);
            return pg_fail("%s: unterminated comment", name);
        }
        if (r == 1) {
            i++;
            line_first = 1;
            line = PG_LINE_CODE;
            head = 0;
            continue;
        }
        if (i >= n)
            break;
        if (k == cap) {
            cap = cap ? 2 * cap : 1024;
            pg_token *w = realloc(v, cap * sizeof *v);
            if (!w) {
                free(v);
                return pg_fail("%s: out of memory tokenizing", name);
            }
            v = w;
        }
        pg_token *t = &v[k];
        memset(t, 0, sizeof *t);
        t->at = i;
        t->line_first = (unsigned char)line_first;
        if (line == PG_LINE_INCLUDE) { /* the operand, to the end of the line, as it is */
            size_t j = i;
            while (j < n && s[j] != '\n')
                j++;
            while (j > i && isspace((unsigned char)s[j - 1]))
                j--;
            t->kind = PG_TOK_HEADER;
            t->len = j - i;
        } else {
            t->len = token_len(s, n, i, &t->kind);
            if (t->len == 0) {
                free(v);
                return pg_fail("%s: unterminated %s literal", name,
                               s[i] == '"' ? "string" : "character");
            }
        }
        if (line_first && s[i] == '#') {
            line = PG_LINE_OTHER;
            head = 1;
            t->head = 1;
        } else if (head) {
            line = t->kind == PG_TOK_IDENT ? directive_kind(s + i, t->len) : PG_LINE_OTHER;
            t->head = 1;
            head = 0;
        }
        t->line = (unsigned char)line;
        line_first = 0;
        i += t->len;
        k++;
    }
    *out = v;
    *count = k;
    return 0;
}

int pg_tok_is(const char *text, const pg_token *t, const char *word)
{
    return t->kind == PG_TOK_IDENT && strlen(word) == t->len && memcmp(text + t->at, word, t->len) == 0;
}

size_t pg_tok_closing_paren(const char *text, const pg_token *tk, size_t m, size_t i)
{
    if (i >= m || tk[i].kind != PG_TOK_PUNCT || text[tk[i].at] != '(')
        return m;
    int depth = 0;
    for (size_t j = i; j < m; j++) {
        if (tk[j].line != tk[i].line || tk[j].kind != PG_TOK_PUNCT)
            continue;
        depth += (text[tk[j].at] == '(') - (text[tk[j].at] == ')');
        if (depth == 0)
            return j;
    }
    return m;
}

int pg_c_keyword(const char *w, size_t n)
{
    static const char *const kw[] = {
        "auto",     "break",    "case",     "char",     "const",    "continue", "default",
        "do",       "double",   "else",     "enum",     "extern",   "float",    "for",
        "goto",     "if",       "inline",   "int",      "long",     "register", "restrict",
        "return",   "short",    "signed",   "sizeof",   "static",   "struct",   "switch",
        "typedef",  "union",    "unsigned", "void",     "volatile", "while",    "_Alignas",
        "_Alignof", "_Atomic",  "_Bool",    "_Complex", "_Generic", "_Imaginary", "_Noreturn",
        "_Static_assert", "_Thread_local"};
    for (size_t k = 0; k < sizeof kw / sizeof *kw; k++)
        if (strlen(kw[k]) == n && memcmp(kw[k], w, n) == 0)
            return 1;
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    const pg_name *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

pg_name *pg_names_find(const pg_names *t, const char *s, size_t len)
{
    pg_name key = {.s = s, .len = len};
    void *const *hit = tfind(&key, &t->root, name_cmp);
    return hit ? *(pg_name *const *)hit : NULL;
}

pg_name *pg_names_add(pg_names *t, const char *s, size_t len)
{
    pg_name *e = pg_names_find(t, s, len);
    if (e)
        return e;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        pg_name **v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return NULL;
        t->v = v;
        t->cap = cap;
    }
    e = calloc(1, sizeof *e);
    char *copy = e ? strndup(s, len) : NULL;
    if (copy) {
        e->s = copy;
        e->len = len;
    }
    if (!copy || !tsearch(e, &t->root, name_cmp)) {
        free(copy);
        free(e);
        return NULL;
    }
    t->v[t->n++] = e;
    return e;
}

void pg_names_free(pg_names *t)
{
    for (size_t i = 0; i < t->n; i++) {
        tdelete(t->v[i], &t->root, name_cmp);
        free((char *)t->v[i]->s);
        free(t->v[i]);
    }
    free(t->v);
    memset(t, 0, sizeof *t);
}

int pg_c_tokens_all(const pg_csource *src, size_t n, pg_token_list **out)
{
    pg_token_list *tl = calloc(n ? n : 1, sizeof *tl);
    if (!tl)
        return pg_fail("out of memory tokenizing the sources");
    for (size_t f = 0; f < n; f++)
        if (pg_c_tokens(src[f].path, src[f].text, src[f].len, &tl[f].tk, &tl[f].m) != 0) {
            pg_token_lists_free(tl, n);
            return -1;
        }
    *out = tl;
    return 0;
}

void pg_token_lists_free(pg_token_list *tl, size_t n)
{
    for (size_t f = 0; tl && f < n; f++)
        free(tl[f].tk);
    free(tl);
}
