#include "dataset/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "sentencepiece_model.pb-c.h"

#define PG_TOKENIZER_MAX_BYTES ((size_t)256 << 20)
#define PG_TOKENIZER_MAX_VOCAB 65536 /* token ids are uint16 in the shards */
/* Longest piece accepted (SentencePiece's default cap is 16 bytes); the BPB table stores
 * byte counts as int16. */
#define PG_TOKENIZER_MAX_PIECE 4096

int pg_tokenizer_load(const char *path, pg_tokenizer *tok)
{
    memset(tok, 0, sizeof *tok);
    unsigned char *buf;
    size_t len;
    if (pg_read_file(path, PG_TOKENIZER_MAX_BYTES, &buf, &len) != 0)
        return -1;
    int rc = pg_tokenizer_parse(path, buf, len, tok);
    free(buf);
    return rc;
}

int pg_tokenizer_parse(const char *path, const unsigned char *buf, size_t len, pg_tokenizer *tok)
{
    memset(tok, 0, sizeof *tok);
    Sentencepiece__ModelProto *mp = sentencepiece__model_proto__unpack(NULL, len, buf);
    if (!mp)
        return pg_fail("%s: not a SentencePiece model (protobuf parse failed)", path);
    int rc = -1;
    if (mp->n_pieces == 0) {
        pg_fail("%s: SentencePiece model has no pieces", path);
        goto out;
    }
    if (mp->n_pieces > PG_TOKENIZER_MAX_VOCAB) {
        pg_fail("%s: vocab of %zu pieces exceeds %d (ids must fit uint16)", path, mp->n_pieces,
                PG_TOKENIZER_MAX_VOCAB);
        goto out;
    }
    tok->vocab_size = (int)mp->n_pieces;
    tok->pieces = calloc(mp->n_pieces, sizeof *tok->pieces);
    tok->types = calloc(mp->n_pieces, 1);
    if (!tok->pieces || !tok->types) {
        pg_fail("%s: out of memory", path);
        goto out;
    }
    for (size_t i = 0; i < mp->n_pieces; i++) {
        const Sentencepiece__ModelProto__SentencePiece *p = mp->pieces[i];
        int type = p->has_type ? (int)p->type : PG_PIECE_NORMAL;
        if (type < PG_PIECE_NORMAL || type > PG_PIECE_TYPE_MAX) {
            pg_fail("%s: piece %zu has unknown type %d", path, i, type);
            goto out;
        }
        tok->types[i] = (uint8_t)type;
        size_t plen = p->piece ? strlen(p->piece) : 0;
        if (plen > PG_TOKENIZER_MAX_PIECE) {
            pg_fail("%s: piece %zu is %zu bytes, over the limit of %d", path, i, plen,
                    PG_TOKENIZER_MAX_PIECE);
            goto out;
        }
        tok->pieces[i] = strdup(p->piece ? p->piece : "");
        if (!tok->pieces[i]) {
            pg_fail("%s: out of memory", path);
            goto out;
        }
    }
    const Sentencepiece__TrainerSpec *ts = mp->trainer_spec;
    tok->model_type = ts ? (int)ts->model_type : SENTENCEPIECE__TRAINER_SPEC__MODEL_TYPE__UNIGRAM;
    tok->byte_fallback = ts ? ts->byte_fallback : 0;
    tok->unk_id = ts ? ts->unk_id : 0;
    tok->bos_id = ts ? ts->bos_id : 1;
    tok->eos_id = ts ? ts->eos_id : 2;
    tok->pad_id = ts ? ts->pad_id : -1;
    rc = 0;
out:
    sentencepiece__model_proto__free_unpacked(mp, NULL);
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
