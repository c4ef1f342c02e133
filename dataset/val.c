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

int pg_val_bytes_attach(const char *data_dir, size_t nval, pg_bpb_lut *lut, uint16_t **bytes)
{
    *bytes = NULL;
    char **paths;
    size_t count;
    if (pg_shard_list(data_dir, "val_bytes", &paths, &count) != 0)
        return 0; /* no sidecar: the table's rule */
    pg_shard_list_free(paths, count);
    uint16_t *b;
    size_t n;
    if (pg_shards_load(data_dir, "val_bytes", 65536, &b, &n) != 0)
        return -1;
    if (n != nval) {
        free(b);
        return pg_fail("%s: the byte sidecar (fineweb_val_bytes_*.bin) holds %zu counts for "
                       "%zu val tokens", data_dir, n, nval);
    }
    lut->sidecar = b;
    lut->sidecar_n = n;
    *bytes = b;
    return 0;
}
