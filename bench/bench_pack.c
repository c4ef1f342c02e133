/* Artifact size per codec for the 9x512 baseline shape (dense random weights, so the
 * figures bound real weights from above), quantized with the reference's int8 export:
 * zstd-22, brotli-11 and xz -9e (liblzma, a yardstick only), each with and without the
 * byte shuffle, then pgolf's per-group choice, and pack/unpack times. Lines:
 *   bench_pack codec=<name> shuffle=<0|2> bytes=<n> seconds=<s>
 *   bench_pack pgolf_choice bytes=<n> pack_s=<s> unpack_s=<s> */
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/progress.h"
#include "packager/artifact.h"
#include "packager/codec.h"

/* The raw (quantized, uncompressed) bytes of every group, concatenated. */
static uint8_t *raw_image(const pg_model *m, const pg_quant_plan *p, size_t *len)
{
    size_t total = 0;
    for (int i = 0; i < m->num_tensors; i++)
        total += pg_qscheme_bytes(pg_quant_plan_scheme(p, &m->tensors[i]),
                                  (size_t)m->tensors[i].shape[0], (size_t)m->tensors[i].shape[1]);
    uint8_t *buf = malloc(total), *q = buf;
    float *tmp = malloc(m->num_params * sizeof *tmp);
    for (int i = 0; i < m->num_tensors; i++) {
        const pg_tensor_info *t = &m->tensors[i];
        pg_qscheme s = pg_quant_plan_scheme(p, t);
        for (size_t j = 0; j < t->numel; j++)
            tmp[j] = (float)m->params[t->offset + j];
        pg_quantize(s, tmp, (size_t)t->shape[0], (size_t)t->shape[1], q);
        q += pg_qscheme_bytes(s, (size_t)t->shape[0], (size_t)t->shape[1]);
    }
    free(tmp);
    *len = total;
    return buf;
}

static size_t xz_size(const uint8_t *in, size_t n)
{
    size_t cap = lzma_stream_buffer_bound(n), pos = 0;
    uint8_t *out = malloc(cap);
    lzma_ret r = lzma_easy_buffer_encode(9 | LZMA_PRESET_EXTREME, LZMA_CHECK_CRC64, NULL, in, n,
                                         out, &pos, cap);
    free(out);
    return r == LZMA_OK ? pos : 0;
}

int main(void)
{
    pg_model_config c = pg_config_baseline();
    pg_model m;
    if (pg_model_create(&m, &c) != 0) {
        fprintf(stderr, "bench_pack: %s\n", pg_errmsg());
        return 1;
    }
    pg_model_init(&m, 1, PG_INIT_DENSE);
    pg_quant_plan p;
    pg_quant_plan_int8(&p);
    size_t n;
    uint8_t *raw = raw_image(&m, &p, &n);
    printf("bench_pack shape=baseline_9x512 params=%zu scheme=int8 raw_bytes=%zu\n", m.num_params, n);
    for (int shuffle = 0; shuffle <= 2; shuffle += 2) {
        const pg_codec codecs[] = {{PG_CODEC_ZSTD, 22, shuffle}, {PG_CODEC_BROTLI, 11, shuffle}};
        for (int k = 0; k < 2; k++) {
            uint8_t *out;
            size_t len;
            double t0 = pg_now_seconds();
            if (pg_compress(&codecs[k], raw, n, &out, &len) != 0)
                return 1;
            printf("bench_pack codec=%s-%d shuffle=%d bytes=%zu seconds=%.2f\n",
                   pg_codec_name(codecs[k].id), codecs[k].level, shuffle, len, pg_now_seconds() - t0);
            free(out);
        }
        uint8_t *src = raw, *sh = NULL;
        if (shuffle) { /* the same byte shuffle, for the yardstick */
            sh = malloc(n);
            size_t count = n / 2, j = 0;
            for (int b = 0; b < 2; b++)
                for (size_t i = 0; i < count; i++)
                    sh[j++] = raw[2 * i + (size_t)b];
            memcpy(sh + j, raw + j, n - j);
            src = sh;
        }
        double t0 = pg_now_seconds();
        size_t xz = xz_size(src, n);
        printf("bench_pack codec=xz-9e(yardstick) shuffle=%d bytes=%zu seconds=%.2f\n", shuffle, xz,
               pg_now_seconds() - t0);
        free(sh);
    }
    const char *path = "/tmp/pgolf_bench_pack.art";
    pg_pack_stats st;
    double t0 = pg_now_seconds();
    if (pg_artifact_save(path, &m, &p, &st) != 0) {
        fprintf(stderr, "bench_pack: %s\n", pg_errmsg());
        return 1;
    }
    double t1 = pg_now_seconds();
    pg_model back;
    if (pg_artifact_load(path, &back, NULL) != 0) {
        fprintf(stderr, "bench_pack: %s\n", pg_errmsg());
        return 1;
    }
    double t2 = pg_now_seconds();
    for (int g = 0; g < PG_NUM_QGROUPS; g++)
        printf("bench_pack pgolf_group=%s codec=%s-%d shuffle=%d raw=%zu bytes=%zu\n",
               pg_qgroup_name((pg_qgroup)g), pg_codec_name(st.codec[g].id), st.codec[g].level,
               st.codec[g].shuffle, st.raw[g], st.compressed[g]);
    printf("bench_pack pgolf_choice bytes=%zu pack_s=%.2f unpack_s=%.2f\n", st.file_bytes, t1 - t0,
           t2 - t1);
    remove(path);
    pg_model_free(&back);
    pg_model_free(&m);
    free(raw);
    return 0;
}
