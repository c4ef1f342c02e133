#include "dataset/loader.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "dataset/shard.h"

static int load_file(pg_token_stream *s, size_t idx)
{
    free(s->tokens);
    s->tokens = NULL;
    s->ntokens = 0;
    if (pg_shard_read(s->paths[idx], s->vocab, &s->tokens, &s->ntokens) != 0)
        return -1;
    if (s->ntokens == 0)
        return pg_fail("%s: empty shard in the training stream", s->paths[idx]);
    s->file_idx = idx;
    s->pos = 0;
    return 0;
}

int pg_stream_open(pg_token_stream *s, const char *dir, int vocab)
{
    memset(s, 0, sizeof *s);
    s->vocab = vocab;
    if (pg_shard_list(dir, "train", &s->paths, &s->nfiles) != 0)
        return -1;
    if (load_file(s, 0) != 0) {
        pg_stream_close(s);
        return -1;
    }
    return 0;
}

void pg_stream_close(pg_token_stream *s)
{
    pg_shard_list_free(s->paths, s->nfiles);
    free(s->tokens);
    memset(s, 0, sizeof *s);
}

int pg_stream_seek(pg_token_stream *s, size_t file_idx, size_t pos)
{
    if (file_idx >= s->nfiles)
        return pg_fail("data position: shard %zu does not exist (%zu train shards)", file_idx,
                       s->nfiles);
    if (file_idx != s->file_idx && load_file(s, file_idx) != 0)
        return -1;
    if (pos > s->ntokens)
        return pg_fail("%s: data position %zu is past its %zu tokens", s->paths[file_idx], pos,
                       s->ntokens);
    s->pos = pos;
    return 0;
}

int pg_stream_take(pg_token_stream *s, size_t n, uint16_t *out)
{
    while (n > 0) {
        if (s->pos >= s->ntokens && load_file(s, (s->file_idx + 1) % s->nfiles) != 0)
            return -1;
        size_t k = s->ntokens - s->pos < n ? s->ntokens - s->pos : n;
        memcpy(out, s->tokens + s->pos, k * sizeof *out);
        out += k;
        s->pos += k;
        n -= k;
    }
    return 0;
}
