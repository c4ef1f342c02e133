#include "pipeline/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/err.h"
#include "common/fileio.h"

#define CANONICAL (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17))
#define MANIFEST_MAX_BYTES ((size_t)64 << 20)

static const char *const kStatuses[] = {"pending", "running", "done", "failed", "interrupted"};

static int is_hex64(const json_t *v)
{
    const char *s = json_string_value(v);
    if (!s || strlen(s) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!strchr("0123456789abcdef", s[i]))
            return 0;
    return 1;
}

/* SHA-256 of the canonical text of j (released); fails when out of memory. */
static int hash_json(json_t *j, char hex[PG_SHA256_HEX_LEN], const char *what)
{
    char *text = j ? json_dumps(j, CANONICAL) : NULL;
    json_decref(j);
    if (!text)
        return pg_fail("out of memory hashing the %s", what);
    uint8_t d[PG_SHA256_LEN];
    pg_sha256(text, strlen(text), d);
    pg_sha256_hex(d, hex);
    free(text);
    return 0;
}

int pg_manifest_digest(const json_t *root, char hex[PG_SHA256_HEX_LEN])
{
    json_t *copy = json_copy((json_t *)root);
    json_object_del(copy, "digest");
    return hash_json(copy, hex, "manifest");
}

/* A list of file records; `what` says where it is, for messages. */
static int check_files(const char *path, const json_t *list, const char *what, int outputs)
{
    if (!json_is_array(list))
        return pg_fail("%s: %s is not an array", path, what);
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f)
    {
        json_t *bytes = json_object_get(f, "bytes");
        if (!json_is_string(json_object_get(f, "path")) || !json_is_integer(bytes) ||
            json_integer_value(bytes) < 0 || !is_hex64(json_object_get(f, "sha256")) ||
            (outputs && !json_is_boolean(json_object_get(f, "reproducible"))))
            return pg_fail("%s: %s[%zu] needs path, bytes, sha256 (64 hex digits)%s", path, what,
                           i, outputs ? " and reproducible" : "");
    }
    return 0;
}

static int check_stage(const char *path, const json_t *s, size_t i)
{
    char what[96];
    const char *id = json_string_value(json_object_get(s, "id"));
    const char *status = json_string_value(json_object_get(s, "status"));
    const char *key = json_string_value(json_object_get(s, "key"));
    if (!json_is_object(s) || !id || !json_is_string(json_object_get(s, "stage")) || !status ||
        !key || (*key && !is_hex64(json_object_get(s, "key"))))
        return pg_fail("%s: stages[%zu] needs id, stage, status and key", path, i);
    int known = 0;
    for (size_t k = 0; k < sizeof kStatuses / sizeof kStatuses[0]; k++)
        known |= strcmp(status, kStatuses[k]) == 0;
    if (!known)
        return pg_fail("%s: stage %s has an unknown status '%s'", path, id, status);
    if (!json_is_object(json_object_get(s, "params")) ||
        !json_is_object(json_object_get(s, "versions")))
        return pg_fail("%s: stage %s needs params and versions objects", path, id);
    snprintf(what, sizeof what, "stage %s inputs", id);
    if (check_files(path, json_object_get(s, "inputs"), what, 0) != 0)
        return -1;
    snprintf(what, sizeof what, "stage %s outputs", id);
    if (check_files(path, json_object_get(s, "outputs"), what, 1) != 0)
        return -1;
    json_t *wall = json_object_get(s, "wall_s");
    if (wall && !json_is_number(wall))
        return pg_fail("%s: stage %s: wall_s is not a number", path, id);
    if (strcmp(status, "done") == 0 && !*key)
        return pg_fail("%s: stage %s is done but has no key", path, id);
    return 0;
}

int pg_manifest_check(const char *path, const json_t *root)
{
    if (!json_is_object(root))
        return pg_fail("%s: not a JSON object", path);
    const char *fmt = json_string_value(json_object_get(root, "format"));
    if (!fmt || strcmp(fmt, PG_MANIFEST_FORMAT) != 0)
        return pg_fail("%s: not a pgolf run manifest (format is not \"%s\")", path,
                       PG_MANIFEST_FORMAT);
    json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver))
        return pg_fail("%s: no manifest version", path);
    if (json_integer_value(ver) != PG_MANIFEST_VERSION) {
        const char *by = json_string_value(json_object_get(root, "pgolf"));
        return pg_fail("%s: manifest version %lld (written by pgolf %s); this pgolf reads "
                       "version %d: use a new RUN_DIR or that pgolf; nothing was changed",
                       path, (long long)json_integer_value(ver), by ? by : "?",
                       PG_MANIFEST_VERSION);
    }
    char want[PG_SHA256_HEX_LEN];
    if (pg_manifest_digest(root, want) != 0)
        return pg_fail_prefix(path);
    const char *have = json_string_value(json_object_get(root, "digest"));
    if (!have || strcmp(have, want) != 0)
        return pg_fail("%s: digest does not match the contents (edited by hand?); refusing to "
                       "use this run directory; nothing was changed",
                       path);
    if (!json_is_string(json_object_get(root, "pgolf")) ||
        !json_is_string(json_object_get(root, "created")) ||
        !json_is_object(json_object_get(root, "settings")) ||
        !json_is_object(json_object_get(root, "versions")) ||
        !json_is_array(json_object_get(root, "stages")))
        return pg_fail("%s: needs pgolf, created, settings, versions and stages", path);
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(root, "settings"), name, v)
    {
        if (!json_is_string(v))
            return pg_fail("%s: setting %s is not a string", path, name);
    }
    size_t i;
    json_array_foreach(json_object_get(root, "stages"), i, v)
    {
        if (check_stage(path, v, i) != 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(json_object_get(v, "id")),
                       json_string_value(json_object_get(
                           json_array_get(json_object_get(root, "stages"), j), "id"))) == 0)
                return pg_fail("%s: stage %s is listed twice", path,
                               json_string_value(json_object_get(v, "id")));
    }
    return 0;
}

int pg_manifest_load(const char *run_dir, json_t **root)
{
    *root = NULL;
    char *path = pg_path_join(run_dir, PG_MANIFEST_NAME);
    struct stat st;
    if (!path)
        return pg_fail("%s: out of memory", run_dir);
    if (stat(path, &st) != 0) {
        free(path);
        return 0;
    }
    unsigned char *buf;
    size_t len;
    if (pg_read_file(path, MANIFEST_MAX_BYTES, &buf, &len) != 0) {
        free(path);
        return -1;
    }
    int rc = pg_manifest_parse(path, (const char *)buf, len, root);
    free(buf);
    free(path);
    return rc;
}

int pg_manifest_parse(const char *path, const char *text, size_t len, json_t **root)
{
    *root = NULL;
    json_error_t e;
    json_t *j = json_loadb(text, len, 0, &e);
    if (!j)
        return pg_fail("%s:%d: malformed JSON: %s", path, e.line, e.text);
    if (pg_manifest_check(path, j) != 0) {
        json_decref(j);
        return -1;
    }
    *root = j;
    return 0;
}

int pg_manifest_save(const char *run_dir, json_t *root)
{
    char hex[PG_SHA256_HEX_LEN];
    char *text = NULL, *path = pg_path_join(run_dir, PG_MANIFEST_NAME);
    if (path && pg_manifest_digest(root, hex) == 0 &&
        json_object_set_new(root, "digest", json_string(hex)) == 0)
        text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    int rc = -1;
    if (text) {
        size_t n = strlen(text);
        text[n] = '\n'; /* json_dumps leaves room for the NUL we overwrite */
        rc = pg_write_file_atomic(path, text, n + 1);
    } else {
        pg_fail("%s/%s: out of memory", run_dir, PG_MANIFEST_NAME);
    }
    free(path);
    free(text);
    return rc;
}

json_t *pg_manifest_stage(const json_t *root, const char *id)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(root, "stages"), i, s)
    {
        if (strcmp(json_string_value(json_object_get(s, "id")), id) == 0)
            return s;
    }
    return NULL;
}

/* Hashes already computed in this process, keyed by the file's identity. */
typedef struct {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    char hex[PG_SHA256_HEX_LEN];
} hash_memo;
static hash_memo memo[1024];
static size_t nmemo;

static const hash_memo *memo_find(const struct stat *st)
{
    for (size_t i = 0; i < nmemo; i++)
        if (memo[i].dev == st->st_dev && memo[i].ino == st->st_ino &&
            memo[i].size == st->st_size && memo[i].mtime.tv_sec == st->st_mtim.tv_sec &&
            memo[i].mtime.tv_nsec == st->st_mtim.tv_nsec)
            return &memo[i];
    return NULL;
}

json_t *pg_file_record(const char *disk_path, const char *recorded_path)
{
    struct stat st;
    if (stat(disk_path, &st) != 0 || !S_ISREG(st.st_mode)) {
        pg_fail("%s: missing or not a regular file", disk_path);
        return NULL;
    }
    const hash_memo *h = memo_find(&st);
    char hex[PG_SHA256_HEX_LEN];
    if (h) {
        memcpy(hex, h->hex, sizeof hex);
    } else {
        if (pg_sha256_file(disk_path, hex) != 0)
            return NULL;
        struct stat after;
        /* remember it only if the file did not change while it was read */
        if (stat(disk_path, &after) == 0 && after.st_size == st.st_size &&
            after.st_mtim.tv_sec == st.st_mtim.tv_sec &&
            after.st_mtim.tv_nsec == st.st_mtim.tv_nsec) {
            hash_memo *slot = &memo[nmemo < 1024 ? nmemo++ : (size_t)st.st_ino % 1024];
            *slot = (hash_memo){st.st_dev, st.st_ino, st.st_size, st.st_mtim, ""};
            memcpy(slot->hex, hex, sizeof hex);
        }
    }
    json_t *rec = json_pack("{s:s, s:I, s:s}", "path", recorded_path, "bytes",
                            (json_int_t)st.st_size, "sha256", hex);
    if (!rec)
        pg_fail("%s: out of memory", disk_path);
    return rec;
}

int pg_stage_key(const char *id, const json_t *inputs, const json_t *params,
                 const json_t *versions, char hex[PG_SHA256_HEX_LEN])
{
    json_t *in = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(inputs, i, f)
    {
        if (json_array_append_new(in, json_pack("[OO]", json_object_get(f, "path"),
                                                json_object_get(f, "sha256"))) != 0) {
            json_decref(in);
            return pg_fail("out of memory hashing the key of stage %s", id);
        }
    }
    json_t *k = json_pack("{s:s, s:o, s:O, s:O}", "id", id, "inputs", in, "params", params,
                          "versions", versions);
    return hash_json(k, hex, "key of a stage") == 0
               ? 0
               : pg_fail("out of memory hashing the key of stage %s", id);
}

void pg_utc_now(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
