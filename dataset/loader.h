/* The training data orders. The March reference's (DESIGN §4): one sequential stream
 * over the sorted train shards, wrapping around; each micro-step takes (local_tokens + 1)
 * * world_size tokens and rank r uses slice r, whose first local_tokens tokens are the
 * inputs and whose last local_tokens the targets. The April records' document packing:
 * the same slices, but every micro-step's tokens come from one shard, read from its first
 * BOS on; a micro-step that would cross the shard's end moves to the next shard's first
 * BOS instead (wrapping around), and each rank's row is one packed sequence whose
 * attention is cut at each BOS and every TRAIN_SEQ_LEN tokens of a document. */
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
    int bos; /* document packing: the BOS id; -1 for the sequential stream */
} pg_token_stream;

/* Opens DIR's train shards (fineweb_train_*.bin), validated against vocab. */
int pg_stream_open(pg_token_stream *s, const char *dir, int vocab);
void pg_stream_close(pg_token_stream *s);
/* Moves to (file, pos), as saved in a checkpoint. */
int pg_stream_seek(pg_token_stream *s, size_t file_idx, size_t pos);
/* The next n tokens, crossing and wrapping shard boundaries. */
int pg_stream_take(pg_token_stream *s, size_t n, uint16_t *out);
/* Switches to document packing with this BOS id: the position moves to the current
 * shard's first BOS. */
int pg_stream_pack_documents(pg_token_stream *s, int bos);
/* Document packing's next n tokens, all from one shard. */
int pg_stream_take_packed(pg_token_stream *s, size_t n, uint16_t *out);

#endif
