/* SentencePiece .model reader and the BPB byte look-up table (DESIGN §3). */
#ifndef PG_TOKENIZER_H
#define PG_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

/* Piece types, numbered as in SentencePiece's ModelProto.SentencePiece.Type. */
enum {
    PG_PIECE_NORMAL = 1,
    PG_PIECE_UNKNOWN = 2,
    PG_PIECE_CONTROL = 3,
    PG_PIECE_USER_DEFINED = 4,
    PG_PIECE_UNUSED = 5,
    PG_PIECE_BYTE = 6,
    PG_PIECE_TYPE_MAX = 6
};

typedef struct {
    int vocab_size;
    char **pieces;   /* UTF-8, one per id */
    uint8_t *types;  /* PG_PIECE_* per id */
    int model_type;  /* 1 unigram, 2 bpe, 3 word, 4 char */
    int byte_fallback;
    int unk_id, bos_id, eos_id, pad_id;
    /* what encoding text needs (a .model file's; a pieces table has none) */
    float *scores;                 /* per id */
    unsigned char *charsmap;       /* the normalizer's precompiled map (NULL: none) */
    size_t charsmap_len;
    int add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
    int treat_whitespace_as_suffix;
} pg_tokenizer;

#define PG_TOKENIZER_MAX_VOCAB 65536 /* token ids are uint16 in the shards */
/* Longest piece accepted (SentencePiece's default cap is 16 bytes); the BPB table stores
 * byte counts as int16. */
#define PG_TOKENIZER_MAX_PIECE 4096

/* A SentencePiece .model, or a pieces table (below). */
int pg_tokenizer_load(const char *path, pg_tokenizer *tok);
/* A .model already in memory (path names it in messages); dataset/tokenizer_proto.c. */
int pg_tokenizer_parse(const char *path, const unsigned char *buf, size_t len, pg_tokenizer *tok);

/* A pieces table: what the BPB table needs from a tokenizer, for builds without protobuf
 * (train_gpt.py writes one with Python's sentencepiece module, docs/box.md):
 *   "PGPIECES" | u32 count | per piece: u8 type (PG_PIECE_*) | u16 length | UTF-8 bytes
 * (little-endian). The special ids are not in it (-1, unk_id from the first UNKNOWN). */
#define PG_PIECES_MAGIC "PGPIECES"
#define PG_PIECES_MAGIC_LEN 8
int pg_tokenizer_parse_pieces(const char *path, const unsigned char *buf, size_t len,
                              pg_tokenizer *tok);
void pg_tokenizer_free(pg_tokenizer *tok);
const char *pg_piece_type_name(int type);
const char *pg_model_type_name(int model_type);

/* Per token id: bytes the token contributes to the validation text. Bytes of target t
 * after previous token p = base_bytes[t] + (has_leading_space[t] && !is_boundary[p]).
 * With a byte sidecar (the records' CaseOps data, DESIGN §11) the bytes of the token at
 * stream position i are sidecar[i] instead: the original text's UTF-8 bytes it stands
 * for, whatever the tokenizer's pieces say. */
typedef struct {
    int size; /* max(tokenizer vocab, model vocab) */
    int16_t *base_bytes;
    uint8_t *has_leading_space;
    uint8_t *is_boundary;
    const uint16_t *sidecar; /* NULL, or one count per val stream position (not owned) */
    size_t sidecar_n;
} pg_bpb_lut;

int pg_bpb_lut_build(const pg_tokenizer *tok, int vocab_size, pg_bpb_lut *lut);
void pg_bpb_lut_free(pg_bpb_lut *lut);

static inline int pg_bpb_token_bytes(const pg_bpb_lut *lut, int prev, int target)
{
    return lut->base_bytes[target] + (lut->has_leading_space[target] && !lut->is_boundary[prev]);
}

/* The bytes of target p of a val stream (the token at p + 1): the sidecar's when there is
 * one, else the table's rule. */
static inline int pg_bpb_target_bytes(const pg_bpb_lut *lut, const uint16_t *stream, size_t p)
{
    return lut->sidecar ? lut->sidecar[p + 1] : pg_bpb_token_bytes(lut, stream[p], stream[p + 1]);
}

#endif
