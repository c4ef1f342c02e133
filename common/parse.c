#include "common/parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/fileio.h"

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

int pg_parse_settings_file(const char *path, int (*set)(void *ctx, const char *name, const char *value),
                           void *ctx)
{
    FILE *fp = pg_open_regular(path);
    if (!fp)
        return -1;
    char line[1024];
    int ln = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, fp)) {
        ln++;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        s[strcspn(s, "\r\n")] = '\0';
        if (*s == '#' || *s == '\0')
            continue;
        if (strncmp(s, "export ", 7) == 0)
            s += 7;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = pg_fail("%s:%d: expected NAME=VALUE, got '%s'", path, ln, s);
            break;
        }
        *eq = '\0';
        char *v = eq + 1;
        size_t vl = strlen(v);
        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
            v[vl - 1] = '\0';
            v++;
        }
        if (set(ctx, s, v) != 0) {
            char where[600];
            snprintf(where, sizeof where, "%s:%d", path, ln);
            rc = pg_fail_prefix(where);
        }
    }
    fclose(fp);
    return rc;
}

int pg_contains_nocase(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (; *s; s++)
        if (strncasecmp(s, word, n) == 0)
            return 1;
    return n == 0;
}
