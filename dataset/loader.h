/* The reference's training data order (DESIGN §4): one sequential stream over the
 * sorted train shards, wrapping around; each micro-step takes (local_tokens + 1) *
 * world_size tokens and rank r uses slice r, whose first local_tokens tokens are the
 * inputs and whose last local_tokens the targets. */
#ifndef PG_LOADER_H
#define PG_LOADER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char **paths;
    size_t nfiles;
    size_t file_idx, pos; /* position of the next token */
    uint16_t *tokens;     /* the current shard */
    size_t ntokens;
    int vocab;
} pg_token_stream;

/* Opens DIR's train shards (fineweb_train_*.bin), validated against vocab. */
int pg_stream_open(pg_token_stream *s, const char *dir, int vocab);
void pg_stream_close(pg_token_stream *s);
/* Moves to (file, pos), as saved in a checkpoint. */
int pg_stream_seek(pg_token_stream *s, size_t file_idx, size_t pos);
/* The next n tokens, crossing and wrapping shard boundaries. */
int pg_stream_take(pg_token_stream *s, size_t n, uint16_t *out);

#endif
