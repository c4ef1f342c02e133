/* A records folder: README.md, submission.json and up to 8 logs written from the input,
 * then the loader and every static check of `pgolf verify`, and its JSON report. Input:
 * the text of submission.json, then per log a NUL, its file name (a line; characters
 * outside [A-Za-z0-9._-] dropped, ".log" added unless it ends in .log or .txt) and its
 * text. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "tests/fuzz/fuzz.h"
#include "verifier/verify.h"

#define MAX_LOGS 8

static void log_name(const uint8_t *p, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 5 < cap; i++)
        if (isalnum(p[i]) || p[i] == '_' || p[i] == '-' || p[i] == '.')
            out[k++] = (char)p[i];
    out[k] = '\0';
    if (k < 4 || (strcmp(out + k - 4, ".log") != 0 && strcmp(out + k - 4, ".txt") != 0))
        strcpy(out + k, ".log");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[PG_PATH_MAX], path[PG_PATH_MAX + 80], name[72];
    snprintf(dir, sizeof dir, "%s/track_10min_16mb/2026-03-17_Fuzz", fz_tmpdir());
    if (pg_remove_tree(dir) != 0 || pg_mkdir_p(dir) != 0)
        abort();
    snprintf(path, sizeof path, "%s/README.md", dir);
    fz_write(path, "# fuzz\n", 7);
    const uint8_t *parts[1 + MAX_LOGS];
    size_t lens[1 + MAX_LOGS];
    size_t n = fz_split(data, size, 0, parts, lens, 1 + MAX_LOGS);
    snprintf(path, sizeof path, "%s/submission.json", dir);
    fz_write(path, parts[0], lens[0]);
    for (size_t i = 1; i < n; i++) {
        const uint8_t *nl = memchr(parts[i], '\n', lens[i]);
        size_t nlen = nl ? (size_t)(nl - parts[i]) : lens[i];
        log_name(parts[i], nlen, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        size_t skip = nl ? nlen + 1 : nlen;
        fz_write(path, parts[i] + skip, lens[i] - skip);
    }
    pg_record rec;
    pg_checks checks;
    if (pg_verify_record(dir, &rec, &checks) == 0) {
        json_t *report = pg_verify_json(&rec, &checks, 1);
        char *text = json_dumps(report, JSON_INDENT(2));
        if (!text) /* `pgolf verify --json` prints whatever the folder holds */
            abort();
        free(text);
        json_decref(report);
    }
    pg_record_free(&rec);
    pg_checks_free(&checks);
    return 0;
}
