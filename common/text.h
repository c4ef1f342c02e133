/* A growable text buffer for files pgolf composes in memory (READMEs, SVGs, logs). A
 * failed allocation marks it (oom) and stops it growing; the writer checks oom once. */
#ifndef PG_TEXT_H
#define PG_TEXT_H

#include <stddef.h>

typedef struct {
    char *s; /* NUL-terminated while not oom (NULL while empty) */
    size_t n, cap;
    int oom;
} pg_text;

void pg_text_printf(pg_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pg_text_append(pg_text *t, const void *p, size_t n);
/* Appends s with <, > and & escaped for XML text. */
void pg_text_xml(pg_text *t, const char *s);
void pg_text_free(pg_text *t);

/* Calls fn on each line of text (a writable copy, without its '\n' or '\r') with its
 * 1-based number, until fn fails; *nlines (may be NULL) gets the count. -1: out of memory
 * (nothing is recorded) or fn failed. */
int pg_each_line(const char *text, size_t len, int (*fn)(void *ctx, char *line, int ln),
                 void *ctx, int *nlines);

#endif
