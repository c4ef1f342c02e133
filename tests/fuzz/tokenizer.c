/* SentencePiece models and pieces tables, and the BPB byte table built from them. */
#include <stdlib.h>
#include <string.h>

#include "dataset/tokenizer.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pg_tokenizer tok;
    int pieces = size >= PG_PIECES_MAGIC_LEN && memcmp(data, PG_PIECES_MAGIC, PG_PIECES_MAGIC_LEN) == 0;
    if ((pieces ? pg_tokenizer_parse_pieces("fuzz.pieces", data, size, &tok)
                : pg_tokenizer_parse("fuzz.model", data, size, &tok)) != 0)
        return 0;
    pg_piece_type_name(tok.types[0]);
    pg_model_type_name(tok.model_type);
    pg_bpb_lut lut;
    if (pg_bpb_lut_build(&tok, 1024, &lut) == 0) {
        /* every id's byte count is a length: never negative */
        for (int id = 0; id < lut.size; id++)
            if (pg_bpb_token_bytes(&lut, id ? id - 1 : 0, id) < 0)
                abort();
        pg_bpb_lut_free(&lut);
    }
    pg_tokenizer_free(&tok);
    return 0;
}
