#include "packager/artifact.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/container.h"
#include "common/sha256.h"
#include "kernels/checkpoint.h"

#define PG_ART_MAX_BYTES ((size_t)4 << 30)
#define SMALL_NUMEL 65536

static const char *const kGroups[] = {"embed", "attn", "mlp", "control"};

const char *pg_qgroup_name(pg_qgroup g)
{
    return (unsigned)g < PG_NUM_QGROUPS ? kGroups[g] : "?";
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

pg_qgroup pg_tensor_qgroup(const char *name)
{
    if (strcmp(name, "tok_emb.weight") == 0)
        return PG_GROUP_Q_EMBED;
    if (strstr(name, ".attn.") && ends_with(name, ".weight"))
        return PG_GROUP_Q_ATTN;
    if (strstr(name, ".mlp.") && ends_with(name, ".weight"))
        return PG_GROUP_Q_MLP;
    return PG_GROUP_Q_CONTROL; /* q_gain, scales, resid_mix, skip_weights */
}

void pg_quant_plan_int8(pg_quant_plan *p)
{
    *p = (pg_quant_plan){{PG_Q_INT8_ROW, PG_Q_INT8_ROW, PG_Q_INT8_ROW, PG_Q_FP32}, 1};
}

void pg_quant_plan_mixed(pg_quant_plan *p)
{
    *p = (pg_quant_plan){{PG_Q_INT8_ROW, PG_Q_INT6_ROW, PG_Q_INT5_ROW, PG_Q_FP32}, 0};
}

int pg_quant_plan_set(pg_quant_plan *p, const char *a)
{
    const char *eq = strchr(a, '=');
    if (!eq)
        return pg_fail("group assignment '%s' is not GROUP=SCHEME", a);
    for (int g = 0; g < PG_NUM_QGROUPS; g++)
        if (strlen(kGroups[g]) == (size_t)(eq - a) && strncmp(a, kGroups[g], (size_t)(eq - a)) == 0)
            return pg_qscheme_parse(eq + 1, &p->scheme[g]);
    return pg_fail("unknown tensor group in '%s' (embed, attn, mlp, control)", a);
}

pg_qscheme pg_quant_plan_scheme(const pg_quant_plan *p, const pg_tensor_info *t)
{
    pg_qgroup g = pg_tensor_qgroup(t->name);
    if (g == PG_GROUP_Q_CONTROL)
        return p->scheme[g];
    if (p->small_fp16 && t->numel <= SMALL_NUMEL)
        return PG_Q_FP16;
    return t->ndim == 2 ? p->scheme[g] : PG_Q_FP16;
}

static const pg_container_kind kKind = {PG_ART_MAGIC, PG_ART_VERSION, "artifact"};

/* The element size a block is best shuffled with: 4 when it holds only fp32 tensors. */
static int block_elem(const json_t *tensors, const char *group)
{
    size_t i;
    json_t *e;
    int any = 0;
    json_array_foreach(tensors, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "group")), group) != 0)
            continue;
        if (strcmp(json_string_value(json_object_get(e, "scheme")), "fp32") != 0)
            return 2;
        any = 1;
    }
    return any ? 4 : 2;
}

/* The container image of a config, a tensor table and the raw group blocks, each block
 * stored raw or compressed with the best codec. Takes ownership of config and tensors. */
static int assemble(const char *path, json_t *config, json_t *tensors, uint8_t *const raw[],
                    const size_t raw_n[], int compress, pg_pack_stats *stats,
                    unsigned char **image)
{
    uint8_t *comp[PG_NUM_QGROUPS] = {0};
    json_t *blocks = json_array();
    size_t payload = 0;
    int rc = -1;
    for (int g = 0; g < PG_NUM_QGROUPS; g++) {
        const uint8_t *in = raw[g] ? raw[g] : (const uint8_t *)"";
        stats->raw[g] = raw_n[g];
        stats->codec[g] = (pg_codec){PG_CODEC_RAW, 0, 0};
        int bad = compress ? pg_compress_best(in, raw_n[g], block_elem(tensors, kGroups[g]),
                                              &stats->codec[g], &comp[g], &stats->compressed[g])
                           : pg_compress(&stats->codec[g], in, raw_n[g], &comp[g],
                                         &stats->compressed[g]);
        if (bad) {
            pg_fail_prefix(path);
            goto out;
        }
        json_t *b = json_pack("{s:s, s:s, s:i, s:i, s:I, s:I, s:I}", "group", kGroups[g],
                              "codec", pg_codec_name(stats->codec[g].id), "level",
                              stats->codec[g].level, "shuffle", stats->codec[g].shuffle,
                              "raw_bytes", (json_int_t)raw_n[g], "offset", (json_int_t)payload,
                              "bytes", (json_int_t)stats->compressed[g]);
        if (json_array_append_new(blocks, b) != 0) {
            pg_fail("%s: out of memory", path);
            goto out;
        }
        payload += stats->compressed[g];
    }
    json_t *hdr = json_pack("{s:s, s:i, s:O, s:O, s:O}", "format", "pgolf-artifact", "version",
                            PG_ART_VERSION, "config", config, "tensors", tensors, "blocks", blocks);
    char *header = hdr ? json_dumps(hdr, JSON_COMPACT) : NULL;
    json_decref(hdr);
    size_t total;
    unsigned char *pl, *buf = header ? pg_container_build(&kKind, header, payload, &pl, &total)
                                     : NULL;
    free(header);
    if (!buf) {
        pg_fail("%s: out of memory", path);
        goto out;
    }
    for (int g = 0; g < PG_NUM_QGROUPS; g++) {
        memcpy(pl, comp[g], stats->compressed[g]);
        pl += stats->compressed[g];
    }
    pg_container_seal(buf, total);
    stats->file_bytes = total;
    *image = buf;
    rc = 0;
out:
    json_decref(config);
    json_decref(tensors);
    json_decref(blocks);
    for (int g = 0; g < PG_NUM_QGROUPS; g++)
        free(comp[g]);
    return rc;
}

int pg_artifact_quantize(const char *path, const pg_model *m, const pg_quant_plan *p,
                         pg_pack_stats *stats, unsigned char **image)
{
    memset(stats, 0, sizeof *stats);
    *image = NULL;
    uint8_t *raw[PG_NUM_QGROUPS] = {0};
    size_t raw_n[PG_NUM_QGROUPS] = {0};
    json_t *tensors = json_array();
    float *tmp = NULL;
    int rc = -1;
    size_t bytes = m->num_params * sizeof(pg_real);
    pg_real *params = pg_host_acquire(m->be, m->params, bytes, 1);
    if (!params) {
        json_decref(tensors);
        return pg_fail("%s: out of memory", path);
    }
    for (int i = 0; i < m->num_tensors; i++) {
        const pg_tensor_info *t = &m->tensors[i];
        pg_qgroup g = pg_tensor_qgroup(t->name);
        pg_qscheme s = pg_quant_plan_scheme(p, t);
        size_t rows = (size_t)t->shape[0], cols = (size_t)t->shape[1];
        size_t nb = pg_qscheme_bytes(s, rows, cols);
        uint8_t *grown = realloc(raw[g], raw_n[g] + nb + 1);
        /* never 0 bytes (one layer's skip_weights): realloc would free tmp */
        float *f = realloc(tmp, (t->numel ? t->numel : 1) * sizeof *f);
        if (!grown || !f) {
            pg_fail("%s: out of memory", path);
            json_decref(tensors);
            goto out;
        }
        raw[g] = grown;
        tmp = f;
        for (size_t j = 0; j < t->numel; j++)
            tmp[j] = (float)params[t->offset + j];
        long bad = pg_first_nonfinite(tmp, t->numel);
        if (bad >= 0) {
            pg_fail("%s: tensor %s holds %g at index %ld: a model with non-finite weights is "
                    "not packed", path, t->name, (double)tmp[bad], bad);
            json_decref(tensors);
            goto out;
        }
        if (pg_quantize(s, tmp, rows, cols, raw[g] + raw_n[g]) != 0) {
            pg_fail_prefix(path);
            json_decref(tensors);
            goto out;
        }
        json_t *shape = t->ndim == 2 ? json_pack("[ii]", t->shape[0], t->shape[1])
                                     : json_pack("[i]", t->shape[0]);
        json_t *e = json_pack("{s:s, s:o, s:s, s:s, s:I, s:I}", "name", t->name, "shape", shape,
                              "scheme", pg_qscheme_name(s), "group", kGroups[g], "offset",
                              (json_int_t)raw_n[g], "nbytes", (json_int_t)nb);
        if (json_array_append_new(tensors, e) != 0) {
            pg_fail("%s: out of memory", path);
            json_decref(tensors);
            goto out;
        }
        raw_n[g] += nb;
    }
    rc = assemble(path, pg_config_to_json(&m->cfg), tensors, raw, raw_n, 0, stats, image);
out:
    pg_host_release(m->be, m->params, params, bytes, 0);
    free(tmp);
    for (int g = 0; g < PG_NUM_QGROUPS; g++)
        free(raw[g]);
    return rc;
}

int pg_artifact_encode(const char *path, const pg_model *m, const pg_quant_plan *p,
                       pg_pack_stats *stats, unsigned char **image)
{
    unsigned char *quantized;
    if (pg_artifact_quantize(path, m, p, stats, &quantized) != 0)
        return -1;
    int rc = pg_artifact_compress(path, quantized, stats->file_bytes, stats, image);
    free(quantized);
    return rc;
}

int pg_artifact_save(const char *path, const pg_model *m, const pg_quant_plan *p,
                     pg_pack_stats *stats)
{
    unsigned char *image;
    if (pg_artifact_encode(path, m, p, stats, &image) != 0)
        return -1;
    int rc = pg_write_file_atomic(path, image, stats->file_bytes);
    free(image);
    return rc;
}

/* Validates the tables against the layout and decodes every block into m. When keep_raw
 * is not NULL it receives the raw (decompressed) blocks and keep_n their sizes. */
static int decode(const char *path, const json_t *hdr, const unsigned char *payload, size_t plen,
                  pg_model *m, uint8_t *keep_raw[], size_t keep_n[])
{
    json_t *tensors = json_object_get(hdr, "tensors"), *blocks = json_object_get(hdr, "blocks");
    if (!json_is_array(tensors) || (int)json_array_size(tensors) != m->num_tensors)
        return pg_fail("%s: tensor table does not match the config's %d tensors", path,
                       m->num_tensors);
    if (!json_is_array(blocks) || json_array_size(blocks) != PG_NUM_QGROUPS)
        return pg_fail("%s: block table must have %d blocks", path, PG_NUM_QGROUPS);
    size_t need[PG_NUM_QGROUPS] = {0};
    pg_qscheme schemes[1024];
    if (m->num_tensors > 1024)
        return pg_fail("%s: too many tensors", path);
    for (int i = 0; i < m->num_tensors; i++) {
        const pg_tensor_info *t = &m->tensors[i];
        json_t *e = json_array_get(tensors, (size_t)i);
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *sch = json_string_value(json_object_get(e, "scheme"));
        const char *grp = json_string_value(json_object_get(e, "group"));
        json_t *off = json_object_get(e, "offset"), *nb = json_object_get(e, "nbytes");
        if (!name || strcmp(name, t->name) != 0)
            return pg_fail("%s: tensor %d is '%s', expected '%s'", path, i, name ? name : "?", t->name);
        pg_qgroup g = pg_tensor_qgroup(t->name);
        if (!grp || strcmp(grp, kGroups[g]) != 0)
            return pg_fail("%s: tensor %s is in the wrong group", path, t->name);
        if (!sch || pg_qscheme_parse(sch, &schemes[i]) != 0)
            return pg_fail("%s: tensor %s has an unknown scheme", path, t->name);
        size_t want = pg_qscheme_bytes(schemes[i], (size_t)t->shape[0], (size_t)t->shape[1]);
        if (!json_is_integer(off) || !json_is_integer(nb) ||
            json_integer_value(nb) != (json_int_t)want ||
            json_integer_value(off) != (json_int_t)need[g])
            return pg_fail("%s: tensor %s has a bad offset/size for its scheme", path, t->name);
        need[g] += want;
    }
    uint8_t *raw[PG_NUM_QGROUPS] = {0};
    int rc = 0;
    size_t end_prev = 0;
    for (int g = 0; g < PG_NUM_QGROUPS && rc == 0; g++) {
        json_t *b = json_array_get(blocks, (size_t)g);
        const char *cname = json_string_value(json_object_get(b, "codec"));
        json_t *rb = json_object_get(b, "raw_bytes"), *off = json_object_get(b, "offset");
        json_t *by = json_object_get(b, "bytes"), *sh = json_object_get(b, "shuffle");
        pg_codec c = {0};
        if (!cname || pg_codec_parse(cname, &c.id) != 0 || !json_is_integer(rb) ||
            !json_is_integer(off) || !json_is_integer(by) || !json_is_integer(sh)) {
            rc = pg_fail("%s: block %d is malformed", path, g);
            break;
        }
        json_int_t o = json_integer_value(off), n = json_integer_value(by);
        if (json_integer_value(sh) < 0 || json_integer_value(sh) > 8) {
            rc = pg_fail("%s: block %s has shuffle %lld; a byte-shuffle element size is 0 to 8",
                         path, kGroups[g], (long long)json_integer_value(sh));
            break;
        }
        c.shuffle = (int)json_integer_value(sh);
        if (json_integer_value(rb) != (json_int_t)need[g]) {
            rc = pg_fail("%s: block %s declares %lld raw bytes, its tensors need %zu", path,
                         kGroups[g], (long long)json_integer_value(rb), need[g]);
            break;
        }
        if (o < 0 || n < 0 || (size_t)o < end_prev || (size_t)o > plen || (size_t)n > plen - (size_t)o) {
            rc = pg_fail("%s: block %s has a bad offset/size (%lld, %lld) in a %zu-byte payload",
                         path, kGroups[g], (long long)o, (long long)n, plen);
            break;
        }
        end_prev = (size_t)(o + n);
        raw[g] = malloc(need[g] ? need[g] : 1);
        if (!raw[g] || pg_decompress(&c, payload + o, (size_t)n, raw[g], need[g]) != 0)
            rc = raw[g] ? pg_fail_prefix(path) : pg_fail("%s: out of memory", path);
    }
    float *tmp = NULL;
    for (int i = 0; rc == 0 && i < m->num_tensors; i++) {
        const pg_tensor_info *t = &m->tensors[i];
        pg_qgroup g = pg_tensor_qgroup(t->name);
        size_t off = (size_t)json_integer_value(json_object_get(json_array_get(tensors, (size_t)i), "offset"));
        /* never 0 bytes (one layer's skip_weights): realloc would free tmp */
        float *f = realloc(tmp, (t->numel ? t->numel : 1) * sizeof *f);
        if (!f) {
            rc = pg_fail("%s: out of memory", path);
            break;
        }
        tmp = f;
        pg_dequantize(schemes[i], raw[g] + off, (size_t)t->shape[0], (size_t)t->shape[1], tmp);
        long bad = pg_first_nonfinite(tmp, t->numel);
        if (bad >= 0) {
            rc = pg_fail("%s: tensor %s decodes to %g at index %ld: an artifact with "
                         "non-finite weights is refused", path, t->name, (double)tmp[bad], bad);
            break;
        }
        for (size_t j = 0; j < t->numel; j++)
            m->params[t->offset + j] = tmp[j];
    }
    free(tmp);
    for (int g = 0; g < PG_NUM_QGROUPS; g++) {
        if (keep_raw && rc == 0) {
            keep_raw[g] = raw[g];
            keep_n[g] = need[g];
        } else {
            free(raw[g]);
        }
    }
    return rc;
}

/* Parses and fully decodes an image; hdr, the raw blocks and m are the caller's on success. */
static int open_image(const char *path, const unsigned char *buf, size_t len, pg_model *m,
                      json_t **hdr, uint8_t *keep_raw[], size_t keep_n[])
{
    const unsigned char *payload;
    size_t plen;
    memset(m, 0, sizeof *m);
    *hdr = NULL;
    pg_decode_bound bound = pg_decode_bound_for(len);
    if (pg_container_parse(&kKind, path, buf, len, hdr, &payload, &plen) == 0 &&
        pg_model_from_header(path, *hdr, bound.bytes, bound.why, m) == 0 &&
        decode(path, *hdr, payload, plen, m, keep_raw, keep_n) == 0)
        return 0;
    pg_model_free(m);
    json_decref(*hdr);
    *hdr = NULL;
    return -1;
}

int pg_artifact_compress(const char *path, const unsigned char *buf, size_t len,
                         pg_pack_stats *stats, unsigned char **image)
{
    memset(stats, 0, sizeof *stats);
    *image = NULL;
    uint8_t *raw[PG_NUM_QGROUPS] = {0};
    size_t raw_n[PG_NUM_QGROUPS] = {0};
    pg_model m;
    json_t *hdr;
    if (open_image(path, buf, len, &m, &hdr, raw, raw_n) != 0)
        return -1;
    int rc = assemble(path, json_incref(json_object_get(hdr, "config")),
                      json_incref(json_object_get(hdr, "tensors")), raw, raw_n, 1, stats, image);
    for (int g = 0; g < PG_NUM_QGROUPS; g++)
        free(raw[g]);
    pg_model_free(&m);
    json_decref(hdr);
    return rc;
}

int pg_artifact_decode(const char *path, const unsigned char *buf, size_t len, pg_model *m,
                       json_t **info)
{
    json_t *hdr;
    if (info)
        *info = NULL;
    if (open_image(path, buf, len, m, &hdr, NULL, NULL) != 0)
        return -1;
    if (info)
        *info = hdr;
    else
        json_decref(hdr);
    return 0;
}

int pg_artifact_load(const char *path, pg_model *m, json_t **info)
{
    unsigned char *buf;
    size_t len;
    memset(m, 0, sizeof *m);
    if (pg_read_file(path, PG_ART_MAX_BYTES, &buf, &len) != 0)
        return -1;
    int rc = pg_artifact_decode(path, buf, len, m, info);
    free(buf);
    return rc;
}
