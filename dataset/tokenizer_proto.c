/* SentencePiece .model files (protobuf ModelProto) through protobuf-c. */
#include "dataset/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "sentencepiece_model.pb-c.h"

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
    tok->scores = calloc(mp->n_pieces, sizeof *tok->scores);
    if (!tok->pieces || !tok->types || !tok->scores) {
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
        tok->scores[i] = p->has_score ? p->score : 0.0f;
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
    tok->treat_whitespace_as_suffix = ts ? ts->treat_whitespace_as_suffix : 0;
    const Sentencepiece__NormalizerSpec *ns = mp->normalizer_spec;
    tok->add_dummy_prefix = ns ? ns->add_dummy_prefix : 1;
    tok->remove_extra_whitespaces = ns ? ns->remove_extra_whitespaces : 1;
    tok->escape_whitespaces = ns ? ns->escape_whitespaces : 1;
    if (ns && ns->has_precompiled_charsmap && ns->precompiled_charsmap.len > 0) {
        tok->charsmap_len = ns->precompiled_charsmap.len;
        if (!(tok->charsmap = malloc(tok->charsmap_len))) {
            pg_fail("%s: out of memory", path);
            goto out;
        }
        memcpy(tok->charsmap, ns->precompiled_charsmap.data, tok->charsmap_len);
    }
    rc = 0;
out:
    sentencepiece__model_proto__free_unpacked(mp, NULL);
    if (rc != 0)
        pg_tokenizer_free(tok);
    return rc;
}
