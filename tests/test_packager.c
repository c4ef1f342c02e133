/* Packager: the int8 export against torch on hand-made rows, fp16 conversions, the
 * int6/int5 clip search, bit-exact pack/unpack round trips, determinism, and hostile
 * artifacts (truncated, flipped, forged tables, decompression bombs). */
#include <math.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "common/err.h"
#include "common/sha256.h"
#include "kernels/checkpoint.h"
#include "train/train.h"
#include "packager/artifact.h"
#include "packager/minify.h"
#include "tests/util.h"

START_TEST(test_int8_matches_torch)
{
    json_t *g = t_load_json(t_repo_path("tests/golden/int8_rows.json"));
    json_t *cases = json_object_get(g, "cases");
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i), *row = json_object_get(c, "row");
        size_t n = json_array_size(row);
        float *w = malloc(n * sizeof *w), *back = malloc(n * sizeof *back);
        for (size_t j = 0; j < n; j++)
            w[j] = (float)json_real_value(json_array_get(row, j));
        ck_assert(pg_quantile(w, 0, 0.5) == 0);
        float *absw = malloc(n * sizeof *absw);
        for (size_t j = 0; j < n; j++)
            absw[j] = fabsf(w[j]);
        ck_assert_msg(fabs(pg_quantile(absw, n, 99.99984 / 100.0) -
                           json_real_value(json_object_get(c, "clip"))) <= 1e-6 * fabs(json_real_value(json_object_get(c, "clip"))) + 1e-12,
                      "row %zu clip", i);
        uint8_t *buf = malloc(pg_qscheme_bytes(PG_Q_INT8_ROW, 1, n));
        pg_quantize(PG_Q_INT8_ROW, w, 1, n, buf);
        for (size_t j = 0; j < n; j++)
            ck_assert_msg((int8_t)buf[j] == json_integer_value(json_array_get(json_object_get(c, "q"), j)),
                          "row %zu q[%zu] = %d", i, j, (int8_t)buf[j]);
        uint16_t h;
        memcpy(&h, buf + n, 2);
        ck_assert_int_eq(h, json_integer_value(json_object_get(c, "scale_f16_bits")));
        pg_dequantize(PG_Q_INT8_ROW, buf, 1, n, back);
        for (size_t j = 0; j < n; j++) /* exactly q * the stored scale */
            ck_assert(back[j] == (float)(int8_t)buf[j] * pg_f16_to_f32(h));
        free(w);
        free(back);
        free(absw);
        free(buf);
    }
    json_decref(g);
}
END_TEST

START_TEST(test_fp16_roundtrip)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = pg_f16_to_f32((uint16_t)h);
        if (isnan(f))
            continue;
        ck_assert_msg(pg_f32_to_f16(f) == h, "half 0x%04x -> %g -> 0x%04x", h, f, pg_f32_to_f16(f));
    }
    /* rounding: halfway between 1 and the next half rounds to even */
    ck_assert_int_eq(pg_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);
    ck_assert_int_eq(pg_f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);
    ck_assert_int_eq(pg_f32_to_f16(1e9f), 0x7c00);
}
END_TEST

START_TEST(test_int6_int5_search)
{
    size_t rows = 4, cols = 200;
    float *w = malloc(rows * cols * sizeof *w), *back = malloc(rows * cols * sizeof *back);
    for (size_t i = 0; i < rows * cols; i++)
        w[i] = (float)(sin((double)i * 1.7) * 0.05 * (i % 97 == 0 ? 8 : 1));
    pg_qscheme schemes[] = {PG_Q_INT6_ROW, PG_Q_INT5_ROW};
    int qmax[] = {31, 15};
    for (int s = 0; s < 2; s++) {
        uint8_t *buf = malloc(pg_qscheme_bytes(schemes[s], rows, cols));
        pg_quantize(schemes[s], w, rows, cols, buf);
        for (size_t i = 0; i < rows * cols; i++)
            ck_assert_int_le(abs((int8_t)buf[i]), qmax[s]);
        pg_dequantize(schemes[s], buf, rows, cols, back);
        for (size_t r = 0; r < rows; r++) {
            /* the search is never worse than clipping at the row's max */
            double err = 0, err_max = 0, mx = 0;
            for (size_t j = 0; j < cols; j++)
                mx = fmax(mx, fabs(w[r * cols + j]));
            float sc = pg_f16_to_f32(pg_f32_to_f16((float)(mx / qmax[s])));
            for (size_t j = 0; j < cols; j++) {
                double d = w[r * cols + j] - back[r * cols + j];
                double q = fmax(-qmax[s], fmin(qmax[s], nearbyint(w[r * cols + j] / sc)));
                double dm = w[r * cols + j] - q * sc;
                err += d * d;
                err_max += dm * dm;
            }
            ck_assert_msg(err <= err_max * (1 + 1e-9), "row %zu: %g > %g", r, err, err_max);
        }
        free(buf);
    }
    free(w);
    free(back);
}
END_TEST

static void make_model(pg_model *m)
{
    pg_model_config c = pg_config_tiny();
    c.num_layers = 2;
    c.model_dim = 128; /* c_q 16,384 elements, fc 32,768, tok_emb 131,072 */
    c.tied_embed_init_std = 0.05f;
    ck_assert_int_eq(pg_model_create(m, &c), 0);
    pg_model_init(m, 21, PG_INIT_DENSE);
}

START_TEST(test_roundtrip_bit_exact)
{
    pg_model m, back;
    make_model(&m);
    pg_quant_plan plans[3];
    pg_quant_plan_int8(&plans[0]);
    pg_quant_plan_mixed(&plans[1]);
    pg_quant_plan_mixed(&plans[2]);
    ck_assert_int_eq(pg_quant_plan_set(&plans[2], "attn=fp16"), 0);
    ck_assert_int_eq(pg_quant_plan_set(&plans[2], "control=fp16"), 0);
    ck_assert_int_eq(pg_quant_plan_set(&plans[2], "nope=fp16"), -1);
    ck_assert_int_eq(pg_quant_plan_set(&plans[2], "mlp=int3"), -1);
    char path[1100], path2[1100];
    snprintf(path, sizeof path, "%s", t_tmp_path("rt.art"));
    snprintf(path2, sizeof path2, "%s", t_tmp_path("rt2.art"));
    for (int p = 0; p < 3; p++) {
        pg_pack_stats st;
        ck_assert_msg(pg_artifact_save(path, &m, &plans[p], &st) == 0, "%s", pg_errmsg());
        ck_assert_msg(pg_artifact_load(path, &back, NULL) == 0, "%s", pg_errmsg());
        for (int i = 0; i < m.num_tensors; i++) {
            const pg_tensor_info *t = &m.tensors[i];
            pg_qscheme s = pg_quant_plan_scheme(&plans[p], t);
            size_t rows = (size_t)t->shape[0], cols = (size_t)t->shape[1];
            float *w = malloc(t->numel * sizeof *w), *want = malloc(t->numel * sizeof *want);
            uint8_t *q = malloc(pg_qscheme_bytes(s, rows, cols));
            for (size_t j = 0; j < t->numel; j++)
                w[j] = m.params[t->offset + j];
            pg_quantize(s, w, rows, cols, q);
            pg_dequantize(s, q, rows, cols, want);
            ck_assert_msg(memcmp(want, back.params + t->offset, t->numel * sizeof(float)) == 0,
                          "plan %d tensor %s differs", p, t->name);
            free(w);
            free(want);
            free(q);
        }
        pg_model_free(&back);
        /* the same inputs give the same bytes */
        char h1[PG_SHA256_HEX_LEN], h2[PG_SHA256_HEX_LEN];
        ck_assert_int_eq(pg_artifact_save(path2, &m, &plans[p], &st), 0);
        ck_assert_int_eq(pg_sha256_file(path, h1), 0);
        ck_assert_int_eq(pg_sha256_file(path2, h2), 0);
        ck_assert_str_eq(h1, h2);
    }
    ck_assert_int_eq(pg_quant_plan_scheme(&plans[0], pg_model_find_tensor(&m, "blocks.0.attn.c_q.weight")), PG_Q_FP16);
    ck_assert_int_eq(pg_quant_plan_scheme(&plans[0], pg_model_find_tensor(&m, "tok_emb.weight")), PG_Q_INT8_ROW);
    ck_assert_int_eq(pg_quant_plan_scheme(&plans[0], pg_model_find_tensor(&m, "blocks.1.resid_mix")), PG_Q_FP32);
    pg_model_free(&m);
}
END_TEST

/* ---- hostile artifacts ---- */

static void expect_fail(const char *path, const char *want)
{
    pg_model m;
    ck_assert_msg(pg_artifact_load(path, &m, NULL) == -1, "loaded; expected '%s'", want);
    ck_assert_ptr_null(m.params);
    ck_assert_msg(strstr(pg_errmsg(), want) != NULL, "got '%s', want '%s'", pg_errmsg(), want);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), path));
}

/* Rewrites the artifact with a header substitution and a payload, checksum recomputed. */
static const char *forge_n(const unsigned char *orig, size_t len, const char *const *subs,
                           const unsigned char *payload, size_t plen);

static const char *forge(const unsigned char *orig, size_t len, const char *from, const char *to,
                         const unsigned char *payload, size_t plen)
{
    const char *subs[] = {from, to, NULL};
    return forge_n(orig, len, from ? subs : subs + 2, payload, plen);
}

/* subs: from, to, from, to, ..., NULL */
static const char *forge_n(const unsigned char *orig, size_t len, const char *const *subs,
                           const unsigned char *payload, size_t plen)
{
    size_t hlen = orig[12] | orig[13] << 8 | (size_t)orig[14] << 16;
    char *h = calloc(1, hlen + 512);
    memcpy(h, orig + 16, hlen);
    for (; subs[0]; subs += 2) {
        char *at = strstr(strstr(h, "\"blocks\"") && strstr(subs[0], "codec") ? strstr(h, "\"blocks\"") : h, subs[0]);
        ck_assert_msg(at != NULL, "'%s' not in header", subs[0]);
        char *rest = strdup(at + strlen(subs[0]));
        strcpy(at, subs[1]);
        strcat(h, rest);
        free(rest);
    }
    if (!payload) {
        payload = orig + 16 + hlen + 8;
        plen = len - 16 - hlen - 8 - 32;
    }
    size_t nh = strlen(h), total = 16 + nh + 8 + plen + 32;
    unsigned char *b = calloc(1, total);
    memcpy(b, orig, 12);
    for (int i = 0; i < 4; i++)
        b[12 + i] = (unsigned char)(nh >> (8 * i));
    memcpy(b + 16, h, nh);
    for (int i = 0; i < 8; i++)
        b[16 + nh + i] = (unsigned char)((uint64_t)plen >> (8 * i));
    memcpy(b + 16 + nh + 8, payload, plen);
    pg_sha256(b, total - 32, b + total - 32);
    static char path[1100];
    snprintf(path, sizeof path, "%s", t_tmp_path("forged.art"));
    t_write_bytes(path, b, total);
    free(b);
    free(h);
    return path;
}

START_TEST(test_hostile_artifacts)
{
    pg_model m;
    make_model(&m);
    pg_quant_plan p;
    pg_quant_plan_mixed(&p);
    pg_pack_stats st;
    char path[1100], bad[1100];
    snprintf(path, sizeof path, "%s", t_tmp_path("h.art"));
    snprintf(bad, sizeof bad, "%s", t_tmp_path("bad.art"));
    ck_assert_int_eq(pg_artifact_save(path, &m, &p, &st), 0);
    pg_model_free(&m);
    size_t len;
    unsigned char *raw = t_read_bytes(path, &len);
    /* truncated anywhere */
    size_t cuts[] = {0, 7, 15, 100, len / 2, len - 1};
    for (size_t i = 0; i < 6; i++) {
        t_write_bytes(bad, raw, cuts[i]);
        pg_model mm;
        ck_assert_int_eq(pg_artifact_load(bad, &mm, NULL), -1);
    }
    t_write_bytes(bad, raw, len - 1);
    expect_fail(bad, "truncated");
    /* a flipped bit in the header, the payload or the digest */
    size_t flips[] = {30, len / 2, len - 3};
    for (size_t i = 0; i < 3; i++) {
        raw[flips[i]] ^= 4;
        t_write_bytes(bad, raw, len);
        expect_fail(bad, "checksum mismatch");
        raw[flips[i]] ^= 4;
    }
    /* forged tables with a valid checksum */
    expect_fail(forge(raw, len, "\"raw_bytes\":", "\"raw_bytes\":99999999999", NULL, 0),
                "raw bytes");
    expect_fail(forge(raw, len, "\"bytes\":", "\"bytes\":999999999", NULL, 0), "bad offset/size");
    expect_fail(forge(raw, len, "\"codec\":\"", "\"codec\":\"lz", NULL, 0), "malformed");
    expect_fail(forge(raw, len, "\"scheme\":\"int8_row\"", "\"scheme\":\"int3\"", NULL, 0),
                "unknown scheme");
    expect_fail(forge(raw, len, "\"num_layers\":2", "\"num_layers\":3", NULL, 0),
                "tensor table does not match");
    /* overlapping blocks: the second block claims to start at 0 */
    char *h = strndup((const char *)raw + 16, raw[12] | raw[13] << 8);
    char *second = strstr(strstr(strstr(h, "\"blocks\""), "\"group\":\"attn\""), "\"offset\":");
    char old[64];
    snprintf(old, sizeof old, "%.*s", (int)strcspn(second, ",}"), second);
    expect_fail(forge(raw, len, old, "\"offset\":0", NULL, 0), "bad offset/size");
    free(h);
    /* a decompression bomb: a real zstd frame of 64 MiB of zeros as the embed block */
    size_t big = (size_t)64 << 20, cap = ZSTD_compressBound(big);
    unsigned char *zeros = calloc(1, big), *bomb = malloc(cap);
    size_t blen = ZSTD_compress(bomb, cap, zeros, big, 19);
    free(zeros);
    ck_assert(!ZSTD_isError(blen));
    char hdr_bytes[64];
    snprintf(hdr_bytes, sizeof hdr_bytes, "\"bytes\":%zu", st.compressed[0]);
    char new_bytes[64];
    snprintf(new_bytes, sizeof new_bytes, "\"bytes\":%zu", blen);
    /* the embed block comes first in the payload: replace it with the bomb */
    size_t hlen = raw[12] | raw[13] << 8;
    size_t rest_len = len - 16 - hlen - 8 - 32 - st.compressed[0];
    unsigned char *payload = malloc(blen + rest_len);
    memcpy(payload, bomb, blen);
    memcpy(payload + blen, raw + 16 + hlen + 8 + st.compressed[0], rest_len);
    char *hh = strndup((const char *)raw + 16, hlen);
    ck_assert_ptr_nonnull(strstr(hh, hdr_bytes));
    free(hh);
    /* later blocks' offsets shift; the loader must stop at the bomb before reading them */
    char old_codec[64];
    snprintf(old_codec, sizeof old_codec, "\"codec\":\"%s\",\"level\":%d,\"shuffle\":%d",
             pg_codec_name(st.codec[0].id), st.codec[0].level, st.codec[0].shuffle);
    const char *subs[] = {hdr_bytes, new_bytes, old_codec, "\"codec\":\"zstd\",\"level\":19,\"shuffle\":0", NULL};
    expect_fail(forge_n(raw, len, subs, payload, blen + rest_len), "zstd block declares");
    free(payload);
    free(bomb);
    expect_fail(forge(raw, len, "\"format\":\"pgolf-artifact\"", "\"format\":", NULL, 0), "header JSON");
    free(raw);
    t_run_result r = t_pgolf("unpack '%s' --out '%s'", bad, t_tmp_path("never.ckpt"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_int_eq(t_count_lines(r.err), 1);
}
END_TEST

/* The byte ledger counts exactly what stat reports; 16,000,000 passes, one more fails
 * and nothing is written. */
START_TEST(test_ledger_cap)
{
    pg_model m;
    make_model(&m);
    char ckpt[1100], art[1100], code[1100];
    snprintf(ckpt, sizeof ckpt, "%s", t_tmp_path("ledger.ckpt"));
    snprintf(art, sizeof art, "%s", t_tmp_path("ledger.art"));
    snprintf(code, sizeof code, "%s", t_tmp_path("train_gpt.py"));
    ck_assert_int_eq(pg_checkpoint_save(ckpt, &m, NULL, NULL, 0), 0);
    pg_model_free(&m);
    t_run_result r = t_pgolf("pack '%s' --out '%s' --scheme mixed --json", ckpt, art);
    ck_assert_msg(r.status == 0, "%s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    long long model = json_integer_value(json_object_get(j, "bytes"));
    json_decref(j);
    size_t len;
    free(t_read_bytes(art, &len));
    ck_assert_int_eq((long long)len, model); /* the ledger's model bytes are the file's */
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = (size_t)(16000000LL - model + extra);
        char *buf = calloc(1, n);
        t_write_bytes(code, buf, n);
        free(buf);
        char cmd[2300];
        snprintf(cmd, sizeof cmd, "rm -f '%s'", art);
        ck_assert_int_eq(system(cmd), 0);
        r = t_pgolf("pack '%s' --out '%s' --scheme mixed --code '%s'", ckpt, art, code);
        FILE *fp = fopen(art, "rb");
        if (extra == 0) {
            ck_assert_msg(r.status == 0, "%s", r.err);
            ck_assert_ptr_nonnull(strstr(r.out, "Total submission size mixed+"));
            ck_assert_ptr_nonnull(strstr(r.out, ": 16000000 bytes"));
            ck_assert_ptr_nonnull(fp);
        } else {
            ck_assert_int_eq(r.status, 1);
            ck_assert_msg(strstr(r.err, "over the 16,000,000-byte cap by 1; nothing written"), "%s", r.err);
            ck_assert_ptr_null(fp); /* nothing written */
        }
        if (fp)
            fclose(fp);
    }
    r = t_pgolf("pack '%s' --out '%s' --code '%s'", ckpt, art, t_tmp_path("missing.py"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "cannot stat code file"));
}
END_TEST

/* The minifier drops comments and blanks but never touches literals, and keeps a
 * continued line's tokens apart. */
START_TEST(test_minify)
{
    const char *in = "/* head */\n#define TWO(a) \\\n    ((a) + \\\n     (a))\n\n"
                     "int  x = 1; // tail\n"
                     "const char *s = \"/* not */ // kept  \\\" \";\n"
                     "char c = '\"', d = '\\'';\tint/**/y;\n"
                     "    \tint z;   \n";
    const char *want = "#define TWO(a) \\\n ((a) + \\\n (a))\n"
                       "int x = 1;\n"
                       "const char *s = \"/* not */ // kept  \\\" \";\n"
                       "char c = '\"', d = '\\''; int y;\n"
                       "int z;\n";
    char *out;
    size_t n;
    ck_assert_int_eq(pg_c_minify("t.c", in, strlen(in), &out, &n), 0);
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(n, strlen(want));
    free(out);
    /* nothing to remove and no final line break: the output grows by one (ASan checks) */
    ck_assert_int_eq(pg_c_minify("t.c", "int a;\\", 7, &out, &n), 0);
    ck_assert_str_eq(out, "int a;\\\n");
    free(out);
    ck_assert_int_ne(pg_c_minify("t.c", "int a; /* open", 14, &out, &n), 0);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "t.c: unterminated comment"));
    ck_assert_int_ne(pg_c_minify("t.c", "char *s = \"abc\n", 15, &out, &n), 0);
    ck_assert_ptr_nonnull(strstr(pg_errmsg(), "unterminated string"));
}
END_TEST

/* A python3 with the sentencepiece module (train_gpt.py's one import beyond the standard
 * library), or NULL. */
static const char *python_with_sentencepiece(void)
{
    static const char *const cands[] = {"python3", "/usr/bin/python3"};
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s -c 'import sentencepiece' > /dev/null 2>&1", cands[i]);
        if (system(cmd) == 0)
            return cands[i];
    }
    return NULL;
}

/* The self-extracting train_gpt.py (the box build, docs/box.md): from a clean copy it
 * builds with a compiler confined to its own and the C library's headers, trains, packs
 * and scores, printing the reference's lines; its roundtrip score equals `pgolf eval` of
 * the artifact it wrote (the pieces table and the Jansson subset agree with the full
 * build); it is byte-identical when regenerated and refuses hostile archives. */
START_TEST(test_selfextract)
{
    const char *py = python_with_sentencepiece();
    if (!py) {
        printf("SKIP: train_gpt.py: no python3 with the sentencepiece module\n");
        return;
    }
    char dir[1100], script[1200], cmd[8192];
    snprintf(dir, sizeof dir, "%s", t_tmp_path("records_copy"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(script, sizeof script, "%s/train_gpt.py", dir);
    const char *sets = "--set PGOLF_PRESET=tiny --set NUM_LAYERS=2 --set MODEL_DIM=32 --set "
                       "TRAIN_SEQ_LEN=32 --set TRAIN_BATCH_TOKENS=512 --set ITERATIONS=3 --set "
                       "VAL_LOSS_EVERY=0";
    t_run_result r = t_pgolf("selfextract --out '%s' %s", script, sets);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "(shipped)"));
    char h1[PG_SHA256_HEX_LEN], h2[PG_SHA256_HEX_LEN];
    ck_assert_int_eq(pg_sha256_file(script, h1), 0);
    r = t_pgolf("selfextract --out '%s.again' %s", script, sets);
    char again[1300];
    snprintf(again, sizeof again, "%s.again", script);
    ck_assert_int_eq(pg_sha256_file(again, h2), 0);
    ck_assert_str_eq(h1, h2);
    /* the compiler sees only its own headers and the C library's */
    snprintf(cmd, sizeof cmd, "sh '%s' '%s/libc_include' > '%s/cflags.txt'",
             t_repo_path("tests/box/libc_headers.sh"), dir, dir);
    int st = system(cmd);
    const char *confine = "";
    char flags[2048] = "";
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
        printf("SKIP: the confined-headers part of train_gpt.py's build (no dpkg)\n");
    } else {
        ck_assert_int_eq(st, 0);
        snprintf(cmd, sizeof cmd, "%s/cflags.txt", dir);
        size_t len;
        unsigned char *f = t_read_bytes(cmd, &len);
        snprintf(flags, sizeof flags, "%.*s", (int)(len && f[len - 1] == '\n' ? len - 1 : len),
                 (const char *)f);
        free(f);
        confine = flags;
    }
    snprintf(cmd, sizeof cmd,
             "cd '%s' && env -u CPATH -u C_INCLUDE_PATH -u LIBRARY_PATH PKG_CONFIG_PATH= "
             "PGOLF_CFLAGS='%s' DATA_PATH='%s' TOKENIZER_PATH='%s' %s train_gpt.py > out.txt 2>&1",
             dir, confine, t_repo_path("data/sample"),
             t_repo_path("data/sample/sample_1024_bpe.model"), py);
    st = system(cmd);
    snprintf(cmd, sizeof cmd, "%s/out.txt", dir);
    size_t len;
    unsigned char *out = t_read_bytes(cmd, &len);
    out = realloc(out, len + 1);
    out[len] = 0;
    ck_assert_msg(st == 0, "train_gpt.py failed: %s", out);
    const char *want[] = {"pgolf_build:", "step:3/3 val_loss:", "final_fp32_exact val_loss:",
                          "Code size: ", "Total submission size int8+zstd",
                          "final_int8_roundtrip_exact val_loss:"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(strstr((char *)out, want[i]), "no '%s' in: %s", want[i], out);
    char box_line[160];
    const char *rt = strstr((char *)out, "final_int8_roundtrip_exact");
    snprintf(box_line, sizeof box_line, "%.*s", (int)strcspn(rt, "\n"), rt);
    free(out);
    r = t_pgolf("eval '%s/logs/pgolf_run/model.art' --data '%s' --tokenizer '%s' --mode standard "
                "--quiet --tag int8_roundtrip",
                dir, t_repo_path("data/sample"), t_repo_path("data/sample/sample_1024_bpe.model"));
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_msg(strstr(r.out, box_line), "pgolf eval gave %s, train_gpt.py %s", r.out, box_line);
    /* hostile archives: each refused with a one-line reason before anything is written */
    const char *cases[][2] = {
        {"b'/etc/evil\\n1\\nx'", "unsafe path"},
        {"b'a/../../evil\\n1\\nx'", "unsafe path"},
        {"b'big.c\\n' + str(9 << 20).encode() + b'\\n' + bytes(9 << 20)", "oversize"},
        {"b'short.c\\n100\\nx'", "truncated"},
        {"b'nosize.c\\nx\\n'", "truncated"},
        {"b'twice.c\\n1\\nxtwice.c\\n1\\ny'", "twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && %s - <<'EOF'\n"
                 "import lzma\n"
                 "s = open('train_gpt.py', 'rb').read()\n"
                 "i, j = s.index(b'\\nA='), s.index(b'\\nB=')\n"
                 "f = [{'id': lzma.FILTER_LZMA2, 'preset': 9 | lzma.PRESET_EXTREME}]\n"
                 "b = lzma.decompress(eval(s[i + 3:j].decode('latin-1')).encode('latin-1'), "
                 "lzma.FORMAT_RAW, filters=f)\n"
                 "c = lzma.compress(b[:b.index(0) + 1] + %s, lzma.FORMAT_RAW, filters=f)\n"
                 "a = repr(c.decode('latin-1')).encode('latin-1')\n"
                 "open('evil.py', 'wb').write(s[:i] + b'\\nA=' + a + s[j:])\n"
                 "EOF\n"
                 "DATA_PATH=. TOKENIZER_PATH=x %s evil.py > evil.txt 2>&1; test $? -ne 0 && "
                 "grep -q '%s' evil.txt && test $(wc -l < evil.txt) -eq 1",
                 dir, py, cases[i][0], py, cases[i][1]);
        ck_assert_msg(system(cmd) == 0, "case %zu (%s) was not refused", i, cases[i][1]);
    }
    snprintf(cmd, sizeof cmd, "test ! -e /etc/evil && test ! -e '%s/../evil'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* The box build's CUDA path without a GPU: train_gpt.py finds CUDA's headers and
 * libraries (here the toolkit, PGOLF_CUDA_HOME, standing in for the wheels), builds the
 * CUDA backend's host files and links cuBLASLt and the runtime; launched as two ranks
 * (torchrun's variables, a rendezvous file) both train, backend auto falls back to the
 * CPU with the reason, and rank 0 packs and scores; PGOLF_BACKEND=cuda is refused. */
START_TEST(test_selfextract_cuda_ranks)
{
    const char *py = python_with_sentencepiece();
    if (!py || access("/usr/local/cuda/include/cuda_runtime_api.h", R_OK) != 0) {
        printf("SKIP: train_gpt.py's CUDA build: no python3 with sentencepiece or no CUDA "
               "toolkit in /usr/local/cuda\n");
        return;
    }
    char dir[1100], cmd[8192];
    snprintf(dir, sizeof dir, "%s", t_tmp_path("box_cuda"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
    t_run_result r = t_pgolf("selfextract --out '%s/train_gpt.py' --set PGOLF_PRESET=tiny --set "
                             "NUM_LAYERS=2 --set MODEL_DIM=32 --set TRAIN_SEQ_LEN=32 --set "
                             "TRAIN_BATCH_TOKENS=512 --set ITERATIONS=3 --set VAL_LOSS_EVERY=0",
                             dir);
    ck_assert_msg(r.status == 0, "%s", r.err);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && export PGOLF_CUDA_HOME=/usr/local/cuda WORLD_SIZE=2 "
             "PGOLF_RENDEZVOUS_FILE='%s/rdv' DATA_PATH='%s' TOKENIZER_PATH='%s'; "
             "RANK=0 LOCAL_RANK=0 %s train_gpt.py > out0.txt 2>&1 & p0=$!; "
             "RANK=1 LOCAL_RANK=1 %s train_gpt.py > out1.txt 2>&1 & p1=$!; "
             "wait $p0; a=$?; wait $p1; b=$?; test $a -eq 0 && test $b -eq 0",
             dir, dir, t_repo_path("data/sample"),
             t_repo_path("data/sample/sample_1024_bpe.model"), py, py);
    int st = system(cmd);
    for (int rank = 0; rank < 2; rank++) {
        snprintf(cmd, sizeof cmd, "%s/out%d.txt", dir, rank);
        size_t len;
        unsigned char *out = t_read_bytes(cmd, &len);
        out = realloc(out, len + 1);
        out[len] = 0;
        ck_assert_msg(st == 0, "train_gpt.py as two ranks failed; rank %d: %s", rank, out);
        const char *want0[] = {"CUDA from /usr/local/cuda", "pgolf_backend:cpu ",
                               "backend auto: the CPU (no usable CUDA device",
                               "step:3/3 val_loss:", "final_int8_roundtrip_exact val_loss:"};
        for (size_t i = 0; rank == 0 && i < sizeof want0 / sizeof *want0; i++)
            ck_assert_msg(strstr((char *)out, want0[i]), "no '%s' in rank 0's: %s", want0[i], out);
        /* rank 1 trains beside rank 0 but leaves the printing and the files to it */
        ck_assert_msg(rank == 0 || !strstr((char *)out, "step:"), "rank 1 printed: %s", out);
        free(out);
    }
    /* PGOLF_BACKEND=cuda where no GPU can run: one line naming the reason, nothing trained */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && PGOLF_CUDA_HOME=/usr/local/cuda PGOLF_BACKEND=cuda PGOLF_OUT=cuda_out "
             "DATA_PATH='%s' TOKENIZER_PATH='%s' %s train_gpt.py > cuda.txt 2>&1; test $? -ne 0 && "
             "grep -q '^pgolf-box: --backend cuda: no usable CUDA device' cuda.txt && "
             "test ! -e cuda_out/final.ckpt",
             dir, t_repo_path("data/sample"), t_repo_path("data/sample/sample_1024_bpe.model"), py);
    ck_assert_msg(system(cmd) == 0, "PGOLF_BACKEND=cuda without a GPU was not refused");
}
END_TEST

/* pgolf package: a records folder from two runs, claiming a legal TTT score after the
 * roundtrip and sliding evals, that pgolf verify passes (re-scoring its artifacts with the
 * evaluations its logs name), identical when rebuilt but for the measured eval times; its
 * train_gpt.py prints the very lines the logs carry. */
/* The evaluations test_package's folder is scored by; TTT's settings go by the
 * environment's route too (TTT_EPOCHS). */
#define EVALS                                                                                  \
    "--eval-set RUN_SLIDING_STRIDE=16 --eval-set RUN_TTT=1 --eval-set TTT_CHUNK_TOKENS=8192 " \
    "--eval-set TTT_FREEZE_BLOCKS=0 --eval-set TTT_LR=0.01"

START_TEST(test_package)
{
    setenv("TTT_EPOCHS", "1", 1);
    pg_hparams h;
    pg_hparams_tiny(&h, t_root());
    const char *sets[][2] = {{"NUM_LAYERS", "2"},     {"MODEL_DIM", "32"},
                             {"TRAIN_SEQ_LEN", "32"}, {"TRAIN_BATCH_TOKENS", "512"},
                             {"ITERATIONS", "5"},     {"VAL_LOSS_EVERY", "0"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        ck_assert_int_eq(pg_hparams_set(&h, sets[i][0], sets[i][1]), 0);
    char runs[2][1100], cmd[8192];
    for (int s = 0; s < 2; s++) {
        char name[32], seed[16];
        snprintf(name, sizeof name, "pkg_run%d", s);
        snprintf(runs[s], sizeof runs[s], "%s", t_tmp_path(name));
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", runs[s]);
        ck_assert_int_eq(system(cmd), 0);
        snprintf(seed, sizeof seed, "%d", 40 + s);
        ck_assert_int_eq(pg_hparams_set(&h, "SEED", seed), 0);
        pg_train_opts o = {.out_dir = runs[s], .quiet = 1};
        ck_assert_msg(pg_train(&h, &o) == 0, "%s", pg_errmsg());
    }
    /* --out names the folder itself (its last part starts with a date), or a records root
     * that gets track_10min_16mb/2026-11-24_fixture */
    char a[1100], b[1200], root_b[1100];
    snprintf(a, sizeof a, "%s/track_10min_16mb/2026-11-24_pkgA", t_tmp_path("pkgtree"));
    snprintf(root_b, sizeof root_b, "%s", t_tmp_path("pkgtree2"));
    snprintf(b, sizeof b, "%s/track_10min_16mb/2026-11-24_fixture", root_b);
    for (int k = 0; k < 2; k++) {
        t_run_result r = t_pgolf("package '%s' '%s' --out '%s' --name fixture --author me "
                                 "--github-id me --date 2026-11-24 --scheme mixed --data '%s' "
                                 "--tokenizer '%s' --sota 9.5 %s",
                                 runs[0], runs[1], k ? root_b : a, t_repo_path("data/sample"),
                                 t_repo_path("data/sample/sample_1024_bpe.model"), EVALS);
        ck_assert_msg(r.status == 0, "%s", r.err);
    }
    /* it scores only with the data named: no lookup in the logs */
    t_run_result u = t_pgolf("package '%s' --out '%s'", runs[0], a);
    ck_assert_int_eq(u.status, 2);
    ck_assert_ptr_nonnull(strstr(u.err, "--data DIR and --tokenizer MODEL"));
    /* an existing records folder is refused, untouched, unless --force */
    t_run_result again = t_pgolf("package '%s' --out '%s' --data '%s' --tokenizer '%s'", runs[0], a,
                                 t_repo_path("data/sample"),
                                 t_repo_path("data/sample/sample_1024_bpe.model"));
    ck_assert_int_eq(again.status, 1);
    ck_assert_ptr_nonnull(strstr(again.err, "pass --force to replace it"));
    /* the same bytes but for the measured eval times (log lines, submission.json, the
     * README's last column) */
    char same[8192];
    snprintf(same, sizeof same,
             "n=%s && rm -rf \"$n\" && mkdir -p \"$n\" && cp -r '%s' \"$n/a\" && "
             "cp -r '%s' \"$n/b\" && sed -i -E -e 's/eval_time:[0-9]+ms/eval_time:Tms/' "
             "-e 's/(\"eval_time_s\": )[0-9.]+/\\1T/' "
             "-e 's/[0-9.]+ [(]`train_seed[0-9]+[.]log:[0-9+]+`[)] [|]$/T |/' "
             "\"$n\"/*/*.log \"$n\"/*/*.md \"$n\"/*/*.json && diff -r \"$n/a\" \"$n/b\" >/dev/null",
             t_tmp_path("pkg_same"), a, b);
    ck_assert_msg(system(same) == 0, "package output differs between two runs");
    again = t_pgolf("package '%s' '%s' --out '%s' --name fixture --author me --github-id me "
                    "--date 2026-11-24 --scheme mixed --data '%s' --tokenizer '%s' --sota 9.5 "
                    "--force %s",
                    runs[0], runs[1], root_b, t_repo_path("data/sample"),
                    t_repo_path("data/sample/sample_1024_bpe.model"), EVALS);
    ck_assert_msg(again.status == 0, "%s", again.err);
    ck_assert_msg(system(same) == 0, "package --force output differs");
    const char *files[] = {"README.md", "submission.json", "train_gpt.py", "train_seed40.log",
                           "train_seed41.log", "model_seed40.art", "loss.svg"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(cmd, sizeof cmd, "test -s '%s/%s'", a, files[i]);
        ck_assert_msg(system(cmd) == 0, "missing %s", files[i]);
    }
    /* the same README as any other package: cited log lines and the significance test */
    snprintf(cmd, sizeof cmd, "grep -q '`train_seed40.log:[0-9]*`' '%s/README.md' && "
                              "grep -q 'Verdict: ' '%s/README.md'", a, a);
    ck_assert_msg(system(cmd) == 0, "the README lacks the cited lines or the verdict");
    t_run_result r = t_pgolf("verify '%s' --json --rerun --data '%s' --tokenizer '%s'", a,
                             t_repo_path("data/sample"),
                             t_repo_path("data/sample/sample_1024_bpe.model"));
    ck_assert_msg(r.status == 0, "%s", r.out);
    json_t *j = json_loads(r.out, 0, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "summary"), "fail")), 0);
    int reruns = 0;
    json_t *checks = json_object_get(j, "checks");
    for (size_t i = 0; i < json_array_size(checks); i++) {
        json_t *c = json_array_get(checks, i);
        if (strncmp(json_string_value(json_object_get(c, "name")), "rerun.model_seed", 16) == 0) {
            ck_assert_str_eq(json_string_value(json_object_get(c, "status")), "PASS");
            reruns++;
        }
    }
    ck_assert_int_eq(reruns, 2);
    json_decref(j);
    /* the packaged train_gpt.py runs from a clean copy of the records folder and prints the
     * very evaluation the folder claims for its seed (one score story): the log's
     * roundtrip line, whose numbers submission.json and the README carry */
    const char *py = python_with_sentencepiece();
    if (!py) {
        printf("SKIP: the packaged train_gpt.py: no python3 with the sentencepiece module\n");
        return;
    }
    char copy[1100];
    snprintf(copy, sizeof copy, "%s", t_tmp_path("pkg_copy"));
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && cp -r '%s' '%s' && cd '%s' && DATA_PATH='%s' TOKENIZER_PATH='%s' "
             "%s train_gpt.py > run.txt 2>&1 && grep -q '^step:5/5 val_loss:' run.txt && "
             "grep -q '^seed:40$' run.txt",
             copy, a, copy, copy, t_repo_path("data/sample"),
             t_repo_path("data/sample/sample_1024_bpe.model"), py);
    ck_assert_msg(system(cmd) == 0, "the packaged train_gpt.py did not run");
    /* each evaluation's exact line, the claim (legal_ttt) last, is the log's and
     * submission.json's */
    const char *tags[] = {"final_mixed_roundtrip_exact", "final_mixed_sliding_window_exact",
                          "legal_ttt_exact"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd,
                 "claimed=$(grep '^%s ' '%s/train_seed40.log') && test -n \"$claimed\" && "
                 "grep -qxF \"$claimed\" '%s/run.txt'",
                 tags[i], a, copy);
        ck_assert_msg(system(cmd) == 0, "train_gpt.py and the log differ on %s", tags[i]);
    }
    snprintf(cmd, sizeof cmd,
             "tail -n 1 '%s/train_seed40.log' | grep -q '^legal_ttt_exact ' && "
             "grep -q '^config:RUN_TTT=1$' '%s/run.txt' && "
             "grep -qF \"$(tail -n 1 '%s/train_seed40.log' | sed 's/.*val_bpb://')\" "
             "'%s/submission.json'",
             a, copy, a, a);
    ck_assert_msg(system(cmd) == 0, "train_gpt.py, the log and submission.json tell different "
                                    "scores");
    /* pgolf rerun: both seeds re-run from scratch copies with the environment the logs and
     * the README give reproduce their claims bit for bit; the folder is not written */
    char rerun_out[1100], before[1100];
    snprintf(rerun_out, sizeof rerun_out, "%s", t_tmp_path("pkg_rerun"));
    snprintf(before, sizeof before, "%s", t_tmp_path("pkg_before_rerun"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' && cp -r '%s' '%s'", rerun_out, before, a, before);
    ck_assert_int_eq(system(cmd), 0);
    unsetenv("TTT_EPOCHS"); /* from the log's settings this time */
    r = t_pgolf("rerun '%s' --out '%s' --launcher %s --env DATA_PATH='%s' --env TOKENIZER_PATH='%s' "
                "--timeout 600",
                a, rerun_out, py, t_repo_path("data/sample"),
                t_repo_path("data/sample/sample_1024_bpe.model"));
    ck_assert_msg(r.status == 0 && strstr(r.out, "reproduced bit for bit: 2 of 2 seeds"),
                  "%.3000s\n%.2000s", r.out, r.err);
    snprintf(cmd, sizeof cmd, "diff -r '%s' '%s' > /dev/null", before, a);
    ck_assert_msg(system(cmd) == 0, "pgolf rerun wrote into the records folder");
}
END_TEST

Suite *suite_packager(void)
{
    Suite *s = suite_create("packager");
    TCase *tc = tcase_create("packager");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_int8_matches_torch);
    tcase_add_test(tc, test_fp16_roundtrip);
    tcase_add_test(tc, test_int6_int5_search);
    tcase_add_test(tc, test_roundtrip_bit_exact);
    tcase_add_test(tc, test_hostile_artifacts);
    tcase_add_test(tc, test_ledger_cap);
    tcase_add_test(tc, test_minify);
    tcase_add_test(tc, test_selfextract);
    tcase_add_test(tc, test_selfextract_cuda_ranks);
    tcase_add_test(tc, test_package);
    suite_add_tcase(s, tc);
    return s;
}
