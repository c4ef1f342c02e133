/* Overflow-safe size arithmetic for counts read from files: each returns 0 and stores the
 * result, or -1 (storing nothing) when it does not fit. */
#ifndef PG_CHECKED_H
#define PG_CHECKED_H

#include <stddef.h>

static inline int pg_mul_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

static inline int pg_add_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_add_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

/* a * b as an int, for shapes that index with int */
static inline int pg_mul_int(int a, int b, int *out)
{
    int r;
    if (__builtin_mul_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

#endif
