/* The tokens of a C (or CUDA C++) source, as far as the box build's source shrinkers need
 * them (docs/box.md): identifiers, pp-numbers, string and character literals, and single
 * punctuator characters, each with its place in the text and the preprocessor line it
 * sits on. Comments, blanks and backslash-newlines separate tokens and are not tokens (so a
 * token split by a backslash-newline, which no pgolf source has, is read as two). */
#ifndef PG_CTOKEN_H
#define PG_CTOKEN_H

#include <stddef.h>

typedef enum { PG_TOK_IDENT, PG_TOK_NUMBER, PG_TOK_LITERAL, PG_TOK_PUNCT, PG_TOK_HEADER } pg_tok_kind;

/* The line a token is on: code, or a preprocessor line by its directive. */
typedef enum {
    PG_LINE_CODE,
    PG_LINE_DEFINE,
    PG_LINE_COND, /* #if, #ifdef, #ifndef, #elif */
    PG_LINE_INCLUDE, /* its operand is one PG_TOK_HEADER token */
    PG_LINE_OTHER /* #pragma, #undef, #else, #endif, #error, ... */
} pg_line_kind;

typedef struct {
    size_t at, len; /* bytes of the text */
    unsigned char kind, line; /* pg_tok_kind, pg_line_kind (a directive's '#': OTHER) */
    unsigned char head; /* the '#' of a directive or its name */
    unsigned char line_first; /* first token of a logical line */
} pg_token;

/* Every token of text (n bytes; name is for messages); *out is malloc'ed (NULL when there
 * are none). Fails on an unterminated comment or literal. */
int pg_c_tokens(const char *name, const char *text, size_t n, pg_token **out, size_t *count);

/* Whether token t of text is the identifier word. */
int pg_tok_is(const char *text, const pg_token *t, const char *word);

/* The index of the ')' closing the '(' at token i of text (counting the tokens on lines of
 * token i's kind), or m when there is none or token i is no '('. */
size_t pg_tok_closing_paren(const char *text, const pg_token *tk, size_t m, size_t i);

/* Whether the n bytes at w are a C11 keyword. */
int pg_c_keyword(const char *w, size_t n);

/* A table of identifiers, each seen once, with a count and room for what its user keeps
 * about it. */
typedef struct {
    const char *s; /* a copy, NUL-terminated */
    size_t len;
    long count, aux;
    char repl[8]; /* a new name, NUL-terminated; empty: keeps its own */
    int keep;
} pg_name;
typedef struct {
    void *root; /* tsearch(3) tree */
    pg_name **v; /* every entry, in order of first sight */
    size_t n, cap;
} pg_names;

/* The entry of the len bytes at s, added with count 0 when new; NULL when out of memory. */
pg_name *pg_names_add(pg_names *t, const char *s, size_t len);
/* The entry, or NULL when not in the table. */
pg_name *pg_names_find(const pg_names *t, const char *s, size_t len);
void pg_names_free(pg_names *t);

/* One C source of the box build: its path, text (malloc'ed, NUL-terminated) and length;
 * fixed sources (the CUDA module's) are read by the shrinkers but never rewritten. */
typedef struct {
    const char *path;
    char *text;
    size_t len;
    int fixed;
} pg_csource;

/* The tokens of each of n sources: (*out)[i] for src[i]; free with pg_token_lists_free. */
typedef struct {
    pg_token *tk;
    size_t m;
} pg_token_list;
int pg_c_tokens_all(const pg_csource *src, size_t n, pg_token_list **out);
void pg_token_lists_free(pg_token_list *tl, size_t n);

#endif
