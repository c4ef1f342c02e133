/* Official token shards (DESIGN §3).
 *
 * Layout: 256 little-endian int32 header words ([0] = 20240520 magic, [1] = 1 version,
 * [2] = num_tokens), then num_tokens little-endian uint16 token ids. The file size is
 * exactly 1024 + 2 * num_tokens. Each document starts with BOS (id 1). */
#ifndef PG_SHARD_H
#define PG_SHARD_H

#include <stddef.h>
#include <stdint.h>

#define PG_SHARD_MAGIC 20240520
#define PG_SHARD_VERSION 1
#define PG_SHARD_HEADER_WORDS 256
#define PG_SHARD_HEADER_BYTES (PG_SHARD_HEADER_WORDS * 4)
#define PG_BOS_ID 1

/* Reads and validates one shard. vocab_size > 0 also checks every token < vocab_size. */
int pg_shard_read(const char *path, int vocab_size, uint16_t **tokens, size_t *num_tokens);

/* The same checks on a shard already in memory (path names it in messages). */
int pg_shard_parse(const char *path, const unsigned char *buf, size_t len, int vocab_size,
                   uint16_t **tokens, size_t *num_tokens);

/* Writes one shard atomically. */
int pg_shard_write(const char *path, const uint16_t *tokens, size_t num_tokens);

/* Sorted paths of DIR/fineweb_<split>_*.bin; split is "train", "val" or NULL for both.
 * An empty result is an error naming the directory. */
int pg_shard_list(const char *dir, const char *split, char ***paths, size_t *count);
void pg_shard_list_free(char **paths, size_t count);

/* All shards of a split concatenated in sorted order. */
int pg_shards_load(const char *dir, const char *split, int vocab_size, uint16_t **tokens,
                   size_t *num_tokens);

/* Number of BOS tokens (= documents). */
size_t pg_count_documents(const uint16_t *tokens, size_t n);

#endif
