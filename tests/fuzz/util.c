#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

static char tmpdir[PG_PATH_MAX];

static void remove_tmpdir(void)
{
    pg_remove_tree(tmpdir);
}

const char *fz_tmpdir(void)
{
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/pgolf-fuzz.XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir)) {
            perror(tmpdir);
            abort();
        }
        atexit(remove_tmpdir);
    }
    return tmpdir;
}

void fz_write(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(data, 1, len, fp) != len || fclose(fp) != 0) {
        perror(path);
        abort();
    }
}

size_t fz_split(const uint8_t *data, size_t size, uint8_t sep, const uint8_t **parts,
                size_t *lens, size_t max)
{
    size_t n = 0;
    while (n + 1 < max) {
        const uint8_t *end = size ? memchr(data, sep, size) : NULL;
        if (!end)
            break;
        parts[n] = data;
        lens[n++] = (size_t)(end - data);
        size -= (size_t)(end - data) + 1;
        data = end + 1;
    }
    parts[n] = data;
    lens[n++] = size;
    return n;
}
