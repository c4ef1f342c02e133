#include "common/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for `extra` more bytes and a NUL. */
static int reserve(pg_text *t, size_t extra)
{
    if (t->oom)
        return -1;
    if (t->n + extra < t->cap)
        return 0;
    size_t cap = 2 * t->cap + extra + 256;
    char *g = realloc(t->s, cap);
    if (!g) {
        t->oom = 1;
        return -1;
    }
    t->s = g;
    t->cap = cap;
    return 0;
}

void pg_text_printf(pg_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0 || reserve(t, (size_t)k) != 0) {
        t->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
    t->n += (size_t)k;
}

void pg_text_append(pg_text *t, const void *p, size_t n)
{
    if (reserve(t, n) == 0) {
        memcpy(t->s + t->n, p, n);
        t->n += n;
        t->s[t->n] = '\0';
    }
}

void pg_text_xml(pg_text *t, const char *s)
{
    for (; *s; s++) {
        const char *e = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : NULL;
        if (e)
            pg_text_append(t, e, strlen(e));
        else
            pg_text_append(t, s, 1);
    }
}

void pg_text_free(pg_text *t)
{
    free(t->s);
    *t = (pg_text){0};
}

int pg_each_line(const char *text, size_t len, int (*fn)(void *ctx, char *line, int ln),
                 void *ctx, int *nlines)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    int ln = 0, rc = 0;
    for (char *line = copy; rc == 0 && line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *cr = strchr(line, '\r');
        if (cr)
            *cr = '\0';
        rc = fn(ctx, line, ++ln);
        line = nl ? nl + 1 : NULL;
    }
    free(copy);
    if (nlines)
        *nlines = ln;
    return rc;
}
