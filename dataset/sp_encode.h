/* Text to token ids as SentencePiece 0.1.x encodes with a BPE model (the tokenizers of the
 * challenge's data): the normalizer (the model's precompiled character map, a
 * darts-clone trie of longest-prefix rewrites; extra whitespace removed; spaces as U+2581;
 * the dummy prefix), user-defined symbols kept whole, pairs merged by the highest piece
 * score (the leftmost on a tie), unknown pieces as their UTF-8 bytes (byte fallback).
 * Each id comes with its surface: the bytes of the input text it covers (a byte piece
 * before a character's last has an empty one), which the CaseOps byte sidecar counts. */
#ifndef PG_SP_ENCODE_H
#define PG_SP_ENCODE_H

#include <stddef.h>

#include "dataset/tokenizer.h"

typedef struct pg_sp_encoder pg_sp_encoder;

/* An encoder over tok (which must outlive it): a BPE .model with its normalizer. Fails
 * (message naming `path`) on another model type, unused pieces or suffix whitespace. */
int pg_sp_encoder_create(pg_sp_encoder **e, const pg_tokenizer *tok, const char *path);
void pg_sp_encoder_free(pg_sp_encoder *e);

typedef struct {
    int *ids;
    size_t *begin, *end; /* each id's surface: text[begin, end) */
    size_t n, cap;
} pg_sp_tokens;

/* Appends the encoding of text[0..n) (no BOS) to out. Fails only when out of memory. */
int pg_sp_encode(const pg_sp_encoder *e, const char *text, size_t n, pg_sp_tokens *out);
void pg_sp_tokens_free(pg_sp_tokens *t);

#endif
