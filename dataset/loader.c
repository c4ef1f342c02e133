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
    s->bos = -1;
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

/* The position of the shard's first BOS, or its end when it has none (nothing of it is
 * read then, as no micro-step fits). */
static void to_first_bos(pg_token_stream *s)
{
    size_t i = 0;
    while (i < s->ntokens && s->tokens[i] != s->bos)
        i++;
    s->pos = i;
}

int pg_stream_pack_documents(pg_token_stream *s, int bos)
{
    if (bos < 0 || bos >= s->vocab)
        return pg_fail("document packing: BOS_ID=%d is outside the vocabulary (%d)", bos, s->vocab);
    s->bos = bos;
    to_first_bos(s);
    return 0;
}

int pg_stream_take_packed(pg_token_stream *s, size_t n, uint16_t *out)
{
    for (size_t moved = 0; s->pos + n > s->ntokens; moved++) {
        if (moved == s->nfiles)
            return pg_fail("%s: no train shard holds %zu tokens after its first BOS (%d), the "
                           "tokens of one micro-step of every rank",
                           s->paths[s->file_idx], n, s->bos);
        if (load_file(s, (s->file_idx + 1) % s->nfiles) != 0)
            return -1;
        to_first_bos(s);
    }
    memcpy(out, s->tokens + s->pos, n * sizeof *out);
    s->pos += n;
    return 0;
}
