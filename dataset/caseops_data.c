#include "dataset/caseops_data.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/progress.h"
#include "common/text.h"
#include "dataset/caseops.h"
#include "dataset/shard.h"
#include "dataset/sp_encode.h"

/* One split's pending tokens (and, for val, their byte counts) and its next shard. */
typedef struct {
    const char *split;
    int sidecar;           /* val: each token's original bytes too */
    uint16_t *tok, *bytes;
    size_t n, cap;
    int shards;
    size_t bytes_total; /* val: the original bytes of every token so far */
} split_buf;

static int buf_put(split_buf *b, uint16_t tok, uint16_t bytes)
{
    if (b->n == b->cap) {
        size_t nc = b->cap ? 2 * b->cap : 1 << 16;
        uint16_t *t = realloc(b->tok, nc * sizeof *t);
        if (t)
            b->tok = t;
        uint16_t *by = t && b->sidecar ? realloc(b->bytes, nc * sizeof *by) : NULL;
        if (by)
            b->bytes = by;
        if (!t || (b->sidecar && !by))
            return pg_fail("out of memory for the %s tokens", b->split);
        b->cap = nc;
    }
    b->tok[b->n] = tok;
    if (b->sidecar)
        b->bytes[b->n] = bytes;
    b->bytes_total += bytes;
    b->n++;
    return 0;
}

/* Writes the first k pending tokens as the split's next shard (and sidecar). */
static int flush(split_buf *b, const char *dir, size_t k)
{
    char path[PG_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/fineweb_%s_%06d.bin", dir, b->split, b->shards);
    if (pg_shard_write(path, b->tok, k) != 0)
        return -1;
    if (b->sidecar) {
        snprintf(path, sizeof path, "%s/fineweb_%s_bytes_%06d.bin", dir, b->split, b->shards);
        if (pg_shard_write(path, b->bytes, k) != 0)
            return -1;
        memmove(b->bytes, b->bytes + k, (b->n - k) * sizeof *b->bytes);
    }
    memmove(b->tok, b->tok + k, (b->n - k) * sizeof *b->tok);
    b->n -= k;
    b->shards++;
    return 0;
}

/* The text of one line: a JSON object's "text", or a JSON string. */
static int line_text(const char *line, const char *where, json_t **holder, const char **text,
                     size_t *len)
{
    json_error_t err;
    json_t *j = json_loads(line, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!j)
        return pg_fail("%s: not JSON (%s)", where, err.text);
    json_t *t = json_is_object(j) ? json_object_get(j, "text") : j;
    if (!json_is_string(t)) {
        json_decref(j);
        return pg_fail("%s: neither a JSON string nor an object with a \"text\" string", where);
    }
    *holder = j;
    *text = json_string_value(t);
    *len = json_string_length(t);
    return 0;
}

/* One document: BOS, then its transform's tokens; for val, each token's original bytes. */
static int add_doc(const pg_sp_encoder *e, const char *text, size_t len, const char *where,
                   int bos, split_buf *b)
{
    pg_text tr = {0};
    pg_sp_tokens tk = {0};
    char *surf = NULL;
    const char **surfaces = NULL;
    int *counts = NULL, rc = -1;
    if (pg_caseops_encode(text, len, &tr, where) != 0 ||
        pg_sp_encode(e, tr.s ? tr.s : "", tr.n, &tk) != 0)
        goto out;
    if (b->sidecar) { /* the surfaces as strings, for the byte counts */
        surf = malloc(tr.n + tk.n + 1);
        surfaces = malloc((tk.n + 1) * sizeof *surfaces);
        counts = malloc((tk.n + 1) * sizeof *counts);
        if (!surf || !surfaces || !counts) {
            pg_fail("%s: out of memory", where);
            goto out;
        }
        char *at = surf;
        for (size_t i = 0; i < tk.n; i++) {
            size_t sl = tk.end[i] - tk.begin[i];
            memcpy(at, tr.s + tk.begin[i], sl);
            at[sl] = '\0';
            surfaces[i] = at;
            at += sl + 1;
        }
        if (pg_caseops_piece_bytes(surfaces, tk.n, counts, where) != 0)
            goto out;
    }
    if (buf_put(b, (uint16_t)bos, 0) != 0)
        goto out;
    for (size_t i = 0; i < tk.n; i++)
        if (buf_put(b, (uint16_t)tk.ids[i], b->sidecar ? (uint16_t)counts[i] : 0) != 0)
            goto out;
    rc = 0;
out:
    pg_text_free(&tr);
    pg_sp_tokens_free(&tk);
    free(surf), free(surfaces), free(counts);
    return rc;
}

int pg_caseops_prepare(const pg_caseops_data_opts *o, pg_caseops_data_report *r)
{
    memset(r, 0, sizeof *r);
    struct stat st;
    if (stat(o->out, &st) == 0)
        return pg_fail("%s: exists; choose a new --out (nothing is written into an existing folder)",
                       o->out);
    if (o->shard_tokens < 1)
        return pg_fail("--shard-tokens must be at least 1");
    char tmp[PG_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.partial-%ld", o->out, (long)getpid());
    pg_tokenizer tok = {0};
    pg_sp_encoder *e = NULL;
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;
    split_buf train = {"train", 0, NULL, NULL, 0, 0, 0, 0}, val = {"val", 1, NULL, NULL, 0, 0, 0, 0};
    int rc = -1;
    if (pg_tokenizer_load(o->tokenizer, &tok) != 0 ||
        pg_sp_encoder_create(&e, &tok, o->tokenizer) != 0)
        goto out;
    if (!(f = fopen(o->docs, "r"))) {
        pg_fail("%s: cannot open: %s", o->docs, strerror(errno));
        goto out;
    }
    if (fstat(fileno(f), &st) != 0 || pg_mkdir_p(tmp) != 0)
        goto out;
    pg_progress prog;
    if (o->progress)
        pg_progress_start(&prog, "caseops", "bytes", (size_t)st.st_size);
    long lineno = 0;
    size_t read = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0) {
        lineno++;
        read += (size_t)got;
        if (strspn(line, " \t\r\n") == (size_t)got)
            continue; /* blank lines are no documents */
        char where[PG_PATH_MAX + 32];
        snprintf(where, sizeof where, "%s:%ld", o->docs, lineno);
        json_t *holder = NULL;
        const char *text = NULL;
        size_t len = 0;
        if (line_text(line, where, &holder, &text, &len) != 0)
            goto out;
        split_buf *b = r->docs < o->val_docs ? &val : &train;
        int arc = add_doc(e, text, len, where, tok.bos_id, b);
        json_decref(holder);
        if (arc != 0)
            goto out;
        r->docs++;
        if (b->n >= (size_t)o->shard_tokens && flush(b, tmp, (size_t)o->shard_tokens) != 0)
            goto out;
        if (o->progress && r->docs % 256 == 0) {
            char extra[64];
            snprintf(extra, sizeof extra, "%ld docs", r->docs);
            pg_progress_update(&prog, read, extra);
        }
    }
    if (ferror(f)) {
        pg_fail("%s: read error", o->docs);
        goto out;
    }
    r->val_docs = r->docs < o->val_docs ? r->docs : o->val_docs;
    r->train_tokens = (size_t)train.shards * (size_t)o->shard_tokens + train.n;
    r->val_tokens = (size_t)val.shards * (size_t)o->shard_tokens + val.n;
    r->val_bytes = val.bytes_total;
    if ((val.n && flush(&val, tmp, val.n) != 0) || (train.n && flush(&train, tmp, train.n) != 0))
        goto out;
    r->train_shards = train.shards;
    r->val_shards = val.shards;
    if (o->progress)
        pg_progress_finish(&prog, NULL);
    if (rename(tmp, o->out) != 0) {
        pg_fail("%s: cannot move the finished folder into place: %s", o->out, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        pg_remove_tree(tmp);
    if (f)
        fclose(f);
    free(line);
    free(train.tok), free(val.tok), free(val.bytes);
    pg_sp_encoder_free(e);
    pg_tokenizer_free(&tok);
    return rc;
}
