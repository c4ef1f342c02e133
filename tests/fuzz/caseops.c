/* CaseOps and SentencePiece encoding of arbitrary bytes: the transform and its inverse
 * (which must give the input back), the byte counts of pieces cut at '\n', and the sample
 * tokenizer's encoding (ids in range, surfaces in order inside the text). */
#include <stdlib.h>
#include <string.h>

#include "dataset/caseops.h"
#include "dataset/sp_encode.h"
#include "tests/fuzz/fuzz.h"

static pg_tokenizer tok;
static pg_sp_encoder *enc;
static int tried;

static void check_encoding(const char *text, size_t n)
{
    if (!tried) { /* the shipped sample's model, from the repository root */
        tried = 1;
        if (pg_tokenizer_load("data/sample/sample_1024_bpe.model", &tok) != 0 ||
            pg_sp_encoder_create(&enc, &tok, "sample") != 0)
            enc = NULL;
    }
    if (!enc)
        return;
    pg_sp_tokens t = {0};
    if (pg_sp_encode(enc, text, n, &t) != 0)
        abort();
    size_t at = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (t.ids[i] < 0 || t.ids[i] >= tok.vocab_size || t.begin[i] > t.end[i] ||
            t.end[i] > n || t.begin[i] < at)
            abort();
        at = t.begin[i];
    }
    pg_sp_tokens_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    pg_text enc_text = {0}, back = {0}, dec = {0};
    if (pg_caseops_encode(s, size, &enc_text, "fuzz") == 0) {
        /* valid UTF-8: the inverse gives the input back */
        if (pg_caseops_decode(enc_text.s ? enc_text.s : "", enc_text.n, &back, "fuzz") != 0 ||
            back.n != size || (size && memcmp(back.s, s, size) != 0))
            abort();
        check_encoding(enc_text.s ? enc_text.s : "", enc_text.n);
    }
    pg_caseops_decode(s, size, &dec, "fuzz");
    const uint8_t *parts[64];
    size_t lens[64], np = fz_split(data, size, '\n', parts, lens, 64);
    char *copy = malloc(size + np + 1);
    const char *surfaces[64];
    int counts[64];
    if (copy) {
        char *at = copy;
        size_t k = 0;
        for (size_t i = 0; i < np; i++) {
            if (memchr(parts[i], 0, lens[i]))
                continue; /* surfaces are C strings */
            memcpy(at, parts[i], lens[i]);
            at[lens[i]] = '\0';
            surfaces[k++] = at;
            at += lens[i] + 1;
        }
        if (pg_caseops_piece_bytes(surfaces, k, counts, "fuzz") == 0)
            for (size_t i = 0; i < k; i++)
                if (counts[i] < 0 || (size_t)counts[i] > strlen(surfaces[i]))
                    abort();
    }
    free(copy);
    pg_text_free(&enc_text);
    pg_text_free(&back);
    pg_text_free(&dec);
    return 0;
}
