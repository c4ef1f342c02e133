#include "dataset/val.h"

#include <stdlib.h>

#include "common/err.h"
#include "dataset/shard.h"

int pg_val_load(const char *tokenizer_path, const char *data_dir, int vocab_size,
                pg_bpb_lut *lut, uint16_t **val, size_t *nval)
{
    pg_tokenizer tok;
    *val = NULL;
    if (pg_tokenizer_load(tokenizer_path, &tok) != 0)
        return -1;
    if (tok.vocab_size > vocab_size) {
        pg_tokenizer_free(&tok);
        return pg_fail("%s: tokenizer vocab %d exceeds the model's vocab %d", tokenizer_path,
                       tok.vocab_size, vocab_size);
    }
    int rc = pg_bpb_lut_build(&tok, vocab_size, lut);
    pg_tokenizer_free(&tok);
    if (rc != 0)
        return -1;
    if (pg_shards_load(data_dir, "val", vocab_size, val, nval) != 0) {
        pg_bpb_lut_free(lut);
        return -1;
    }
    return 0;
}
