#include "packager/codec.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/err.h"

/* The box build (train_gpt.py on the challenge's machine, docs/box.md) loads zstd at run
 * time and has no brotli: it writes zstd blocks and refuses brotli ones. */
#ifndef PG_BOX
#include <brotli/decode.h>
#include <brotli/encode.h>
#define PG_HAVE_BROTLI 1
#else
#define PG_HAVE_BROTLI 0
#endif

const char *pg_codec_name(pg_codec_id id)
{
    return id == PG_CODEC_ZSTD ? "zstd" : id == PG_CODEC_BROTLI ? "brotli" : "raw";
}

int pg_codec_parse(const char *name, pg_codec_id *id)
{
    if (strcmp(name, "zstd") == 0)
        *id = PG_CODEC_ZSTD;
    else if (strcmp(name, "brotli") == 0)
        *id = PG_CODEC_BROTLI;
    else if (strcmp(name, "raw") == 0)
        *id = PG_CODEC_RAW;
    else
        return pg_fail("unknown codec '%s'", name);
    return 0;
}

static void shuffle(const uint8_t *in, uint8_t *out, size_t n, int elem)
{
    size_t count = n / (size_t)elem, k = 0;
    for (int b = 0; b < elem; b++)
        for (size_t i = 0; i < count; i++)
            out[k++] = in[i * (size_t)elem + (size_t)b];
    memcpy(out + k, in + k, n - k); /* the tail that is not a whole element */
}

static void unshuffle(const uint8_t *in, uint8_t *out, size_t n, int elem)
{
    size_t count = n / (size_t)elem, k = 0;
    for (int b = 0; b < elem; b++)
        for (size_t i = 0; i < count; i++)
            out[i * (size_t)elem + (size_t)b] = in[k++];
    memcpy(out + k, in + k, n - k);
}

int pg_compress(const pg_codec *c, const uint8_t *in, size_t n, uint8_t **out, size_t *out_n)
{
    *out = NULL;
    const uint8_t *src = in;
    uint8_t *tmp = NULL;
    if (c->shuffle > 1) {
        tmp = malloc(n ? n : 1);
        if (!tmp)
            return pg_fail("out of memory compressing %zu bytes", n);
        shuffle(in, tmp, n, c->shuffle);
        src = tmp;
    }
    if (c->id == PG_CODEC_BROTLI && !PG_HAVE_BROTLI) {
        free(tmp);
        return pg_fail("brotli: not in this build (the box build writes zstd)");
    }
    size_t cap = c->id == PG_CODEC_RAW ? n : c->id == PG_CODEC_ZSTD ? ZSTD_compressBound(n) : 0;
#if PG_HAVE_BROTLI
    if (c->id == PG_CODEC_BROTLI)
        cap = BrotliEncoderMaxCompressedSize(n);
#endif
    cap = cap ? cap : n + 1024;
    *out = malloc(cap);
    int rc = 0;
    if (!*out) {
        rc = pg_fail("out of memory compressing %zu bytes", n);
    } else if (c->id == PG_CODEC_RAW) {
        memcpy(*out, src, n);
        *out_n = n;
    } else if (c->id == PG_CODEC_ZSTD) {
        size_t r = ZSTD_compress(*out, cap, src, n, c->level);
        if (ZSTD_isError(r))
            rc = pg_fail("zstd: %s", ZSTD_getErrorName(r));
        *out_n = r;
    } else {
#if PG_HAVE_BROTLI
        *out_n = cap;
        if (!BrotliEncoderCompress(c->level, BROTLI_MAX_WINDOW_BITS,
                                   BROTLI_MODE_GENERIC, n, src, out_n, *out))
            rc = pg_fail("brotli: compression failed");
#endif
    }
    free(tmp);
    if (rc != 0) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

int pg_decompress(const pg_codec *c, const uint8_t *in, size_t n, uint8_t *out, size_t raw_n)
{
    uint8_t *dst = out, *tmp = NULL;
    if (c->shuffle > 1) {
        tmp = malloc(raw_n ? raw_n : 1);
        if (!tmp)
            return pg_fail("out of memory for a %zu-byte block", raw_n);
        dst = tmp;
    }
    int rc = 0;
    if (c->id == PG_CODEC_RAW) {
        if (n != raw_n)
            rc = pg_fail("raw block holds %zu bytes, declared %zu", n, raw_n);
        else
            memcpy(dst, in, n);
    } else if (c->id == PG_CODEC_ZSTD) {
        unsigned long long size = ZSTD_getFrameContentSize(in, n);
        if (size != ZSTD_CONTENTSIZE_UNKNOWN && size != ZSTD_CONTENTSIZE_ERROR && size != raw_n)
            rc = pg_fail("zstd block declares %llu bytes, the table says %zu", size, raw_n);
        else {
            size_t r = ZSTD_decompress(dst, raw_n, in, n);
            if (ZSTD_isError(r))
                rc = pg_fail("zstd: %s", ZSTD_getErrorName(r));
            else if (r != raw_n)
                rc = pg_fail("zstd block decoded to %zu bytes, declared %zu", r, raw_n);
        }
    } else if (c->id == PG_CODEC_BROTLI && !PG_HAVE_BROTLI) {
        rc = pg_fail("brotli block: this build has no brotli (the box build reads zstd)");
#if PG_HAVE_BROTLI
    } else if (c->id == PG_CODEC_BROTLI) {
        size_t got = raw_n;
        BrotliDecoderResult r = BrotliDecoderDecompress(n, in, &got, dst);
        if (r != BROTLI_DECODER_RESULT_SUCCESS)
            rc = pg_fail("brotli block is corrupt or larger than its declared %zu bytes", raw_n);
        else if (got != raw_n)
            rc = pg_fail("brotli block decoded to %zu bytes, declared %zu", got, raw_n);
#endif
    } else {
        rc = pg_fail("unknown codec id %d", (int)c->id);
    }
    if (rc == 0 && tmp)
        unshuffle(tmp, out, raw_n, c->shuffle);
    free(tmp);
    return rc;
}

int pg_compress_best(const uint8_t *in, size_t n, int elem, pg_codec *chosen, uint8_t **out,
                     size_t *out_n)
{
    const pg_codec cands[] = {{PG_CODEC_ZSTD, 22, 0}, {PG_CODEC_ZSTD, 22, elem},
                              {PG_CODEC_BROTLI, 11, 0}, {PG_CODEC_BROTLI, 11, elem}};
    *out = NULL;
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
        if (cands[i].shuffle == 1 || (i % 2 == 1 && elem < 2) ||
            (cands[i].id == PG_CODEC_BROTLI && !PG_HAVE_BROTLI))
            continue;
        uint8_t *buf;
        size_t len;
        if (pg_compress(&cands[i], in, n, &buf, &len) != 0) {
            free(*out);
            return -1;
        }
        if (!*out || len < *out_n) {
            free(*out);
            *out = buf;
            *out_n = len;
            *chosen = cands[i];
        } else {
            free(buf);
        }
    }
    return 0;
}
