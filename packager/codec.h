/* Block codecs of the artifact: zstd (level up to 22) and brotli (quality 11, large
 * window), each optionally after a byte-shuffle pre-filter (byte k of every element
 * grouped together, which helps fp16/fp32 data). Decoding is bounded: a block must
 * decode to exactly its declared size, so a hostile stream cannot grow past it. */
#ifndef PG_CODEC_H
#define PG_CODEC_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PG_CODEC_RAW = 0, PG_CODEC_ZSTD = 1, PG_CODEC_BROTLI = 2 } pg_codec_id;

typedef struct {
    pg_codec_id id;
    int level;   /* zstd level / brotli quality */
    int shuffle; /* element size of the byte shuffle, 0 or 1 = none */
} pg_codec;

const char *pg_codec_name(pg_codec_id id);
int pg_codec_parse(const char *name, pg_codec_id *id);

/* *out is malloc'ed. */
int pg_compress(const pg_codec *c, const uint8_t *in, size_t n, uint8_t **out, size_t *out_n);
/* Decodes into out, which holds exactly raw_n bytes; any other decoded size fails. */
int pg_decompress(const pg_codec *c, const uint8_t *in, size_t n, uint8_t *out, size_t raw_n);

/* Tries zstd-22 and brotli-11, each with and without shuffle (element size `elem`),
 * and keeps the smallest (ties: the earlier candidate). */
int pg_compress_best(const uint8_t *in, size_t n, int elem, pg_codec *chosen, uint8_t **out,
                     size_t *out_n);

#endif
