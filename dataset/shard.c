#include "dataset/shard.h"

#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"

/* A shard of the full FineWeb train split is ~200 MB; allow generous headroom. */
#define PG_SHARD_MAX_BYTES ((size_t)4 << 30)

static int32_t le32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

int pg_shard_parse(const char *path, const unsigned char *buf, size_t len, int vocab_size,
                   uint16_t **tokens, size_t *num_tokens)
{
    *tokens = NULL;
    *num_tokens = 0;
    if (len < PG_SHARD_HEADER_BYTES)
        return pg_fail("%s: truncated header (%zu bytes, need %d)", path, len,
                       PG_SHARD_HEADER_BYTES);
    int32_t magic = le32(buf), version = le32(buf + 4), n = le32(buf + 8);
    if (magic != PG_SHARD_MAGIC)
        return pg_fail("%s: bad magic %d (expected %d)", path, magic, PG_SHARD_MAGIC);
    if (version != PG_SHARD_VERSION)
        return pg_fail("%s: unsupported version %d (expected %d)", path, version,
                       PG_SHARD_VERSION);
    if (n < 0)
        return pg_fail("%s: negative token count %d", path, n);
    size_t want = PG_SHARD_HEADER_BYTES + 2 * (size_t)n;
    if (len < want)
        return pg_fail("%s: truncated: header says %d tokens (%zu bytes) but file has %zu bytes",
                       path, n, want, len);
    if (len > want)
        return pg_fail("%s: %zu trailing bytes after %d tokens", path, len - want, n);
    uint16_t *t = malloc(n ? 2 * (size_t)n : 1);
    if (!t)
        return pg_fail("%s: out of memory for %d tokens", path, n);
    const unsigned char *p = buf + PG_SHARD_HEADER_BYTES;
    for (size_t i = 0; i < (size_t)n; i++) {
        t[i] = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
        if (vocab_size > 0 && t[i] >= vocab_size) {
            pg_fail("%s: token %u at index %zu is >= vocab size %d", path, t[i], i, vocab_size);
            free(t);
            return -1;
        }
    }
    *tokens = t;
    *num_tokens = (size_t)n;
    return 0;
}

int pg_shard_read(const char *path, int vocab_size, uint16_t **tokens, size_t *num_tokens)
{
    *tokens = NULL;
    *num_tokens = 0;
    unsigned char *buf;
    size_t len;
    if (pg_read_file(path, PG_SHARD_MAX_BYTES, &buf, &len) != 0)
        return -1;
    int rc = pg_shard_parse(path, buf, len, vocab_size, tokens, num_tokens);
    free(buf);
    return rc;
}

int pg_shard_write(const char *path, const uint16_t *tokens, size_t num_tokens)
{
    if (num_tokens > INT32_MAX)
        return pg_fail("%s: %zu tokens do not fit the int32 header", path, num_tokens);
    size_t len = PG_SHARD_HEADER_BYTES + 2 * num_tokens;
    unsigned char *buf = calloc(1, len);
    if (!buf)
        return pg_fail("%s: out of memory", path);
    const int32_t head[3] = {PG_SHARD_MAGIC, PG_SHARD_VERSION, (int32_t)num_tokens};
    for (int w = 0; w < 3; w++)
        for (int b = 0; b < 4; b++)
            buf[4 * w + b] = (unsigned char)((uint32_t)head[w] >> (8 * b));
    for (size_t i = 0; i < num_tokens; i++) {
        buf[PG_SHARD_HEADER_BYTES + 2 * i] = (unsigned char)(tokens[i] & 0xff);
        buf[PG_SHARD_HEADER_BYTES + 2 * i + 1] = (unsigned char)(tokens[i] >> 8);
    }
    int rc = pg_write_file_atomic(path, buf, len);
    free(buf);
    return rc;
}

/* fineweb_<split>_<digits...>.bin; NULL split: train or val. The byte sidecar shards
 * (fineweb_val_bytes_*.bin) are their own split, never val's. */
static int name_matches(const char *name, const char *split)
{
    static const char *const splits[] = {"train", "val", "val_bytes"};
    for (int s = 0; s < 3; s++) {
        if (split ? strcmp(split, splits[s]) != 0 : s == 2)
            continue;
        char prefix[32];
        snprintf(prefix, sizeof prefix, "fineweb_%s_", splits[s]);
        size_t pl = strlen(prefix), nl = strlen(name);
        if (nl > pl + 4 && strncmp(name, prefix, pl) == 0 && isdigit((unsigned char)name[pl]) &&
            strcmp(name + nl - 4, ".bin") == 0)
            return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int pg_shard_list(const char *dir, const char *split, char ***paths, size_t *count)
{
    *paths = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return pg_fail("%s: cannot open directory", dir);
    char **out = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!name_matches(e->d_name, split))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(out, cap * sizeof *out);
            if (!grown)
                break;
            out = grown;
        }
        if (!(out[n] = pg_path_join(dir, e->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (e) { /* stopped early: out of memory */
        for (size_t i = 0; i < n; i++)
            free(out[i]);
        free(out);
        return pg_fail("%s: out of memory listing shards", dir);
    }
    if (n == 0) {
        free(out);
        return pg_fail("%s: no shard files (fineweb_%s_*.bin)", dir, split ? split : "{train,val}");
    }
    qsort(out, n, sizeof *out, cmp_str);
    *paths = out;
    *count = n;
    return 0;
}

void pg_shard_list_free(char **paths, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(paths[i]);
    free(paths);
}

int pg_shards_load(const char *dir, const char *split, int vocab_size, uint16_t **tokens,
                   size_t *num_tokens)
{
    *tokens = NULL;
    *num_tokens = 0;
    char **paths;
    size_t count;
    if (pg_shard_list(dir, split, &paths, &count) != 0)
        return -1;
    uint16_t *all = NULL;
    size_t total = 0;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        uint16_t *t;
        size_t n;
        if (pg_shard_read(paths[i], vocab_size, &t, &n) != 0) {
            rc = -1;
            break;
        }
        uint16_t *grown = realloc(all, (total + n + 1) * sizeof *all);
        if (!grown) {
            free(t);
            rc = pg_fail("%s: out of memory", paths[i]);
            break;
        }
        all = grown;
        memcpy(all + total, t, n * sizeof *t);
        total += n;
        free(t);
    }
    pg_shard_list_free(paths, count);
    if (rc != 0) {
        free(all);
        return -1;
    }
    *tokens = all;
    *num_tokens = total;
    return 0;
}

size_t pg_count_documents(const uint16_t *tokens, size_t n)
{
    size_t docs = 0;
    for (size_t i = 0; i < n; i++)
        docs += tokens[i] == PG_BOS_ID;
    return docs;
}
