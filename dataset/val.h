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

#endif
