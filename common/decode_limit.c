#include "common/decode_limit.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "common/parse.h"

/* the absolute cap: PG_DECODE_LIMIT_DEFAULT unless --max-decoded-bytes set it */
static size_t g_limit = PG_DECODE_LIMIT_DEFAULT;

int pg_decode_limit_set(const char *text)
{
    long v;
    if (pg_parse_long(text, "--max-decoded-bytes", 1, LONG_MAX, &v) != 0)
        return -1;
    g_limit = (size_t)v;
    return 0;
}

pg_decode_bound pg_decode_bound_for(size_t file_len)
{
    pg_decode_bound b;
    size_t relative = file_len > SIZE_MAX / PG_MAX_EXPANSION ? SIZE_MAX : file_len * PG_MAX_EXPANSION;
    if (relative < g_limit) {
        b.bytes = relative;
        snprintf(b.why, sizeof b.why, "%dx the file's %zu bytes", PG_MAX_EXPANSION, file_len);
    } else {
        b.bytes = g_limit;
        snprintf(b.why, sizeof b.why, "the decode limit (raise it with --max-decoded-bytes N)");
    }
    return b;
}
