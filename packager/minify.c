#include "packager/minify.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/text.h"
#include "packager/ctoken.h"

static int blank(char c) { return c == ' ' || c == '\t' || c == '\f' || c == '\v'; }

int pg_c_minify(const char *name, const char *in, size_t n, char **out, size_t *out_n)
{
    char *o = malloc(n + 2); /* the input, a final line break and the NUL */
    if (!o)
        return pg_fail("%s: out of memory", name);
    size_t k = 0, i = 0;
    int line_start = 1, pending_blank = 0, continued = 0;
    while (i < n) {
        char c = in[i];
        if (c == '/' && i + 1 < n && (in[i + 1] == '/' || in[i + 1] == '*')) {
            if (in[i + 1] == '/') { /* to the end of the line (kept) */
                while (i < n && in[i] != '\n')
                    i++;
            } else {
                size_t j = i + 2;
                while (j + 1 < n && !(in[j] == '*' && in[j + 1] == '/'))
                    j++;
                if (j + 1 >= n) {
                    free(o);
                    return pg_fail("%s: unterminated comment", name);
                }
                i = j + 2;
                pending_blank = !line_start; /* a comment separates tokens */
            }
            continue;
        }
        if (c == '\n') {
            if (!line_start)
                o[k++] = '\n';
            continued = k >= 2 && o[k - 2] == '\\';
            line_start = 1;
            pending_blank = 0;
            i++;
            continue;
        }
        if (blank(c) || c == '\r') {
            pending_blank = !line_start || continued; /* keeps "a \<newline> b" apart */
            i++;
            continue;
        }
        if (pending_blank)
            o[k++] = ' ';
        pending_blank = 0;
        line_start = 0;
        if (c == '"' || c == '\'') { /* a literal, copied as it is */
            size_t j = i + 1;
            while (j < n && in[j] != c && in[j] != '\n')
                j += in[j] == '\\' ? 2 : 1;
            if (j >= n || in[j] != c) {
                free(o);
                return pg_fail("%s: unterminated %s literal", name, c == '"' ? "string" : "character");
            }
            for (; i <= j; i++)
                o[k++] = in[i];
            continue;
        }
        o[k++] = c;
        i++;
    }
    if (!line_start)
        o[k++] = '\n';
    o[k] = '\0';
    *out = o;
    *out_n = k;
    return 0;
}

/* Whether tokens a then b (of text s), apart in the input, need a blank between them to
 * stay apart (the lexer's punctuators are single characters, so "+ +" must not become "++"). */
static int need_blank(const char *s, const pg_token *a, const pg_token *b)
{
    static const char *const pairs[] = {"++", "+=", "--", "-=", "->", "*=", "*/", "/=", "/*",
                                        "//", "%=", "%>", "%:", "&&", "&=", "||", "|=", "^=",
                                        "==", "!=", "<<", "<=", "<:", "<%", ">>", ">=", "##",
                                        ":>", "::"};
    char last = s[a->at + a->len - 1], next = s[b->at];
    int word_a = a->kind == PG_TOK_IDENT || a->kind == PG_TOK_NUMBER;
    int word_b = b->kind == PG_TOK_IDENT || b->kind == PG_TOK_NUMBER;
    if ((word_a || a->kind == PG_TOK_LITERAL) && (word_b || b->kind == PG_TOK_LITERAL))
        return 1; /* includes L"x" and C++'s "x"suffix */
    if (a->kind == PG_TOK_NUMBER && (next == '.' || ((next == '+' || next == '-') && strchr("eEpP", last))))
        return 1;
    if (last == '.' && b->kind == PG_TOK_NUMBER)
        return 1;
    if (a->kind != PG_TOK_PUNCT || b->kind != PG_TOK_PUNCT)
        return 0;
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++)
        if (pairs[i][0] == last && pairs[i][1] == next)
            return 1;
    return 0;
}

int pg_c_squeeze(const char *name, const char *in, size_t n, char **out, size_t *out_n)
{
    pg_token *tk;
    size_t m;
    if (pg_c_tokens(name, in, n, &tk, &m) != 0)
        return -1;
    pg_text t = {0};
    for (size_t k = 0; k < m;) {
        if (tk[k].line != PG_LINE_CODE) { /* a directive line, as it is, on its own line */
            size_t e = k;
            while (e + 1 < m && !tk[e + 1].line_first)
                e++;
            if (t.n && t.s[t.n - 1] != '\n')
                pg_text_append(&t, "\n", 1);
            pg_text_append(&t, in + tk[k].at, tk[e].at + tk[e].len - tk[k].at);
            pg_text_append(&t, "\n", 1);
            k = e + 1;
            continue;
        }
        if (k > 0 && tk[k - 1].line == PG_LINE_CODE && tk[k - 1].at + tk[k - 1].len < tk[k].at &&
            need_blank(in, &tk[k - 1], &tk[k]))
            pg_text_append(&t, " ", 1);
        pg_text_append(&t, in + tk[k].at, tk[k].len);
        k++;
    }
    if (t.n && t.s[t.n - 1] != '\n')
        pg_text_append(&t, "\n", 1);
    free(tk);
    *out = t.oom ? NULL : t.s ? t.s : calloc(1, 1);
    *out_n = t.n;
    if (!*out) {
        pg_text_free(&t);
        return pg_fail("%s: out of memory", name);
    }
    return 0;
}
