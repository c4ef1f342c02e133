#include "dataset/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"

#define PG_TOKENIZER_MAX_BYTES ((size_t)256 << 20)

int pg_tokenizer_load(const char *path, pg_tokenizer *tok)
{
    memset(tok, 0, sizeof *tok);
    unsigned char *buf;
    size_t len;
    if (pg_read_file(path, PG_TOKENIZER_MAX_BYTES, &buf, &len) != 0)
        return -1;
    int rc;
    if (len >= PG_PIECES_MAGIC_LEN && memcmp(buf, PG_PIECES_MAGIC, PG_PIECES_MAGIC_LEN) == 0)
        rc = pg_tokenizer_parse_pieces(path, buf, len, tok);
    else
#ifdef PG_BOX
        rc = pg_fail("%s: not a pieces table (train_gpt.py converts SentencePiece models with "
                     "the sentencepiece module)", path);
#else
        rc = pg_tokenizer_parse(path, buf, len, tok);
#endif
    free(buf);
    return rc;
}

/* Counts are little-endian: u32 pieces, then per piece u8 type and u16 length. */
int pg_tokenizer_parse_pieces(const char *path, const unsigned char *buf, size_t len,
                              pg_tokenizer *tok)
{
    memset(tok, 0, sizeof *tok);
    size_t at = PG_PIECES_MAGIC_LEN + 4;
    if (len < at)
        return pg_fail("%s: pieces table truncated in its header", path);
    uint32_t n = (uint32_t)buf[8] | (uint32_t)buf[9] << 8 | (uint32_t)buf[10] << 16 |
                 (uint32_t)buf[11] << 24;
    if (n == 0 || n > PG_TOKENIZER_MAX_VOCAB)
        return pg_fail("%s: pieces table declares %u pieces (1..%d)", path, n,
                       PG_TOKENIZER_MAX_VOCAB);
    tok->vocab_size = (int)n;
    tok->pieces = calloc(n, sizeof *tok->pieces);
    tok->types = calloc(n, 1);
    tok->unk_id = tok->bos_id = tok->eos_id = tok->pad_id = -1;
    int rc = tok->pieces && tok->types ? 0 : pg_fail("%s: out of memory", path);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        if (len - at < 3) {
            rc = pg_fail("%s: pieces table truncated at piece %u", path, i);
            break;
        }
        int type = buf[at];
        size_t plen = (size_t)buf[at + 1] | (size_t)buf[at + 2] << 8;
        at += 3;
        if (type < PG_PIECE_NORMAL || type > PG_PIECE_TYPE_MAX)
            rc = pg_fail("%s: piece %u has unknown type %d", path, i, type);
        else if (plen > PG_TOKENIZER_MAX_PIECE || len - at < plen)
            rc = pg_fail("%s: piece %u of %zu bytes is truncated or over %d bytes", path, i,
                         plen, PG_TOKENIZER_MAX_PIECE);
        else if (memchr(buf + at, 0, plen))
            rc = pg_fail("%s: piece %u holds a NUL byte", path, i);
        else if (!(tok->pieces[i] = malloc(plen + 1)))
            rc = pg_fail("%s: out of memory", path);
        if (rc != 0)
            break;
        memcpy(tok->pieces[i], buf + at, plen);
        tok->pieces[i][plen] = '\0';
        tok->types[i] = (uint8_t)type;
        if (type == PG_PIECE_UNKNOWN && tok->unk_id < 0)
            tok->unk_id = (int)i;
        at += plen;
    }
    if (rc == 0 && at != len)
        rc = pg_fail("%s: %zu bytes after the last piece", path, len - at);
    if (rc != 0)
        pg_tokenizer_free(tok);
    return rc;
}

void pg_tokenizer_free(pg_tokenizer *tok)
{
    if (tok->pieces)
        for (int i = 0; i < tok->vocab_size; i++)
            free(tok->pieces[i]);
    free(tok->pieces);
    free(tok->types);
    free(tok->scores);
    free(tok->charsmap);
    memset(tok, 0, sizeof *tok);
}

const char *pg_piece_type_name(int type)
{
    static const char *const names[] = {"?",           "normal", "unknown", "control",
                                        "user_defined", "unused", "byte"};
    return type >= 1 && type <= PG_PIECE_TYPE_MAX ? names[type] : "?";
}

const char *pg_model_type_name(int model_type)
{
    static const char *const names[] = {"?", "unigram", "bpe", "word", "char"};
    return model_type >= 1 && model_type <= 4 ? names[model_type] : "?";
}

/* UTF-8 of U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's word-boundary marker. */
static const char kSpaceMarker[] = "\xe2\x96\x81";

int pg_bpb_lut_build(const pg_tokenizer *tok, int vocab_size, pg_bpb_lut *lut)
{
    memset(lut, 0, sizeof *lut);
    int size = tok->vocab_size > vocab_size ? tok->vocab_size : vocab_size;
    lut->size = size;
    lut->base_bytes = calloc((size_t)size, sizeof *lut->base_bytes);
    lut->has_leading_space = calloc((size_t)size, 1);
    lut->is_boundary = malloc((size_t)size);
    if (!lut->base_bytes || !lut->has_leading_space || !lut->is_boundary) {
        pg_bpb_lut_free(lut);
        return pg_fail("out of memory building the BPB table");
    }
    /* Ids past the tokenizer's vocab (a padded model vocab) count as boundaries. */
    memset(lut->is_boundary, 1, (size_t)size);
    for (int id = 0; id < tok->vocab_size; id++) {
        int type = tok->types[id];
        if (type == PG_PIECE_CONTROL || type == PG_PIECE_UNKNOWN || type == PG_PIECE_UNUSED)
            continue;
        lut->is_boundary[id] = 0;
        if (type == PG_PIECE_BYTE) {
            lut->base_bytes[id] = 1;
            continue;
        }
        const char *piece = tok->pieces[id];
        if (strncmp(piece, kSpaceMarker, 3) == 0) {
            lut->has_leading_space[id] = 1;
            piece += 3;
        }
        lut->base_bytes[id] = (int16_t)strlen(piece);
    }
    return 0;
}

void pg_bpb_lut_free(pg_bpb_lut *lut)
{
    free(lut->base_bytes);
    free(lut->has_leading_space);
    free(lut->is_boundary);
    memset(lut, 0, sizeof *lut);
}
