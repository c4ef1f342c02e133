#include "common/parse.h"

#include <errno.h>
#include <stdlib.h>

#include "common/err.h"

int pg_parse_long(const char *s, const char *what, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return pg_fail("%s: '%s' is not an integer", what, s);
    if (v < min || v > max)
        return pg_fail("%s: %ld is out of range [%ld, %ld]", what, v, min, max);
    *out = v;
    return 0;
}
