/* The validation set as every scorer needs it: the BPB table of a tokenizer and the val
 * shards, both checked against the model's vocab. */
#ifndef PG_VAL_H
#define PG_VAL_H

#include <stddef.h>
#include <stdint.h>

#include "dataset/tokenizer.h"

/* Fails (naming the file) when the tokenizer's vocab exceeds vocab_size or the shards do
 * not load; on success free with pg_bpb_lut_free and free(*val). */
int pg_val_load(const char *tokenizer_path, const char *data_dir, int vocab_size,
                pg_bpb_lut *lut, uint16_t **val, size_t *nval);

/* The byte sidecar of the val stream (fineweb_val_bytes_*.bin in data_dir: token-shard
 * headers, one uint16 per token), attached to lut when present; *bytes (free it after the
 * last use of lut) stays NULL when data_dir has none. Fails naming the directory when its
 * count differs from the nval val tokens. */
int pg_val_bytes_attach(const char *data_dir, size_t nval, pg_bpb_lut *lut, uint16_t **bytes);

#endif
