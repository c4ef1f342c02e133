#include "kernels/checkpoint.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/container.h"
#include "common/sha256.h"

#define PG_CKPT_MAX_BYTES ((size_t)16 << 30)

static const pg_container_kind kKind = {PG_CKPT_MAGIC, PG_CKPT_VERSION, "checkpoint"};

static json_t *tensor_table(const pg_model *m, const pg_ckpt_extra *extras, int n_extras)
{
    json_t *arr = json_array();
    for (int i = 0; i < m->num_tensors; i++) {
        const pg_tensor_info *t = &m->tensors[i];
        json_t *shape = t->ndim == 2 ? json_pack("[ii]", t->shape[0], t->shape[1])
                                     : json_pack("[i]", t->shape[0]);
        json_array_append_new(arr, json_pack("{s:s, s:o, s:s, s:I, s:I}", "name", t->name, "shape",
                                             shape, "dtype", "f32", "offset",
                                             (json_int_t)(t->offset * 4), "nbytes",
                                             (json_int_t)(t->numel * 4)));
    }
    size_t off = m->num_params * 4;
    for (int i = 0; i < n_extras; i++, off += m->num_params * 4)
        json_array_append_new(arr, json_pack("{s:s, s:[I], s:s, s:I, s:I}", "name", extras[i].name,
                                             "shape", (json_int_t)m->num_params, "dtype", "f32",
                                             "offset", (json_int_t)off, "nbytes",
                                             (json_int_t)(m->num_params * 4)));
    return arr;
}

static void put_reals(unsigned char *dst, const pg_real *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float f = (float)src[i];
        uint32_t bits;
        memcpy(&bits, &f, 4);
        pg_put_le(dst + 4 * i, bits, 4);
    }
}

static void get_reals(pg_real *dst, const unsigned char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)pg_get_le(src + 4 * i, 4);
        float f;
        memcpy(&f, &bits, 4);
        dst[i] = f;
    }
}

int pg_checkpoint_save(const char *path, const pg_model *m, const json_t *meta,
                       const pg_ckpt_extra *extras, int n_extras)
{
    json_t *hdr = json_pack("{s:s, s:i, s:o, s:o, s:o}", "format", "pgolf-checkpoint", "version",
                            PG_CKPT_VERSION, "config", pg_config_to_json(&m->cfg), "meta",
                            meta ? json_deep_copy(meta) : json_object(), "tensors",
                            tensor_table(m, extras, n_extras));
    char *header = json_dumps(hdr, JSON_COMPACT);
    json_decref(hdr);
    if (!header)
        return pg_fail("%s: cannot encode checkpoint header", path);
    size_t plen = (size_t)(1 + n_extras) * m->num_params * 4, total;
    unsigned char *payload, *buf = pg_container_build(&kKind, header, plen, &payload, &total);
    free(header);
    if (!buf)
        return pg_fail("%s: out of memory (%zu payload bytes)", path, plen);
    size_t bytes = m->num_params * sizeof(pg_real);
    for (int i = -1; i < n_extras; i++) {
        pg_real *src = i < 0 ? m->params : extras[i].data;
        pg_real *host = pg_host_acquire(m->be, src, bytes, 1);
        if (!host) {
            free(buf);
            return pg_fail("%s: out of memory (%zu parameters)", path, m->num_params);
        }
        put_reals(payload + (size_t)(i + 1) * m->num_params * 4, host, m->num_params);
        pg_host_release(m->be, src, host, bytes, 0);
    }
    pg_container_seal(buf, total);
    int rc = pg_write_file_atomic(path, buf, total);
    free(buf);
    return rc;
}

/* Checks the table against the model layout the config implies, and that entries lie
 * inside the payload without overlapping. */
static int check_table(const char *path, const json_t *tensors, const pg_model *m,
                       size_t payload_len)
{
    if (!json_is_array(tensors))
        return pg_fail("%s: header has no tensor table", path);
    if ((int)json_array_size(tensors) < m->num_tensors)
        return pg_fail("%s: tensor table has %zu entries, the config implies %d", path,
                       json_array_size(tensors), m->num_tensors);
    size_t end_prev = 0;
    pg_tensor_info extra = {.ndim = 1, .shape = {(int)m->num_params, 1}, .numel = m->num_params};
    for (int i = 0; i < (int)json_array_size(tensors); i++) {
        json_t *e = json_array_get(tensors, (size_t)i);
        const pg_tensor_info *want = &m->tensors[i < m->num_tensors ? i : 0];
        if (i >= m->num_tensors) {
            /* extra arrays (optimizer state): any name, shape [num_params] */
            const char *en = json_string_value(json_object_get(e, "name"));
            snprintf(extra.name, sizeof extra.name, "%s", en ? en : "");
            want = &extra;
        }
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *dtype = json_string_value(json_object_get(e, "dtype"));
        json_t *shape = json_object_get(e, "shape");
        json_t *off = json_object_get(e, "offset"), *nb = json_object_get(e, "nbytes");
        if (!name || !dtype || !json_is_array(shape) || !json_is_integer(off) ||
            !json_is_integer(nb))
            return pg_fail("%s: tensor table entry %d is malformed", path, i);
        if (strcmp(name, want->name) != 0)
            return pg_fail("%s: tensor %d is '%s', expected '%s'", path, i, name, want->name);
        if (strcmp(dtype, "f32") != 0)
            return pg_fail("%s: tensor %s has dtype %s (expected f32)", path, name, dtype);
        int ok = (int)json_array_size(shape) == want->ndim;
        for (int d = 0; ok && d < want->ndim; d++)
            ok = json_integer_value(json_array_get(shape, (size_t)d)) == want->shape[d];
        if (!ok)
            return pg_fail("%s: tensor %s has the wrong shape for the config", path, name);
        json_int_t o = json_integer_value(off), n = json_integer_value(nb);
        if (n != (json_int_t)(want->numel * 4) || o < 0 || o % 4 != 0 ||
            (size_t)o < end_prev || (size_t)o > payload_len || (size_t)n > payload_len - (size_t)o)
            return pg_fail("%s: tensor %s has a bad offset/size (%lld, %lld) in a %zu-byte payload",
                           path, name, (long long)o, (long long)n, payload_len);
        end_prev = (size_t)(o + n);
    }
    return 0;
}

int pg_model_from_header(const char *path, const json_t *hdr, size_t max_bytes,
                         const char *bound, pg_model *m)
{
    pg_model_config cfg;
    size_t n;
    if (pg_config_from_json(json_object_get(hdr, "config"), &cfg, path) != 0 ||
        pg_config_num_params(&cfg, &n) != 0)
        return -1;
    if (n > max_bytes / sizeof(float))
        return pg_fail("%s: the config's %zu parameters (%zu bytes as float32) exceed %zu "
                       "bytes, %s", path, n, n * sizeof(float), max_bytes, bound);
    if (pg_model_create(m, &cfg) != 0)
        return pg_fail_prefix(path);
    return 0;
}

int pg_checkpoint_load(const char *path, pg_model *m, json_t **meta_out)
{
    return pg_checkpoint_load_with(path, m, meta_out, NULL, 0);
}

int pg_checkpoint_load_with(const char *path, pg_model *m, json_t **meta_out,
                            pg_ckpt_extra *extras, int n_extras)
{
    for (int i = 0; i < n_extras; i++)
        extras[i].data = NULL;
    memset(m, 0, sizeof *m);
    if (meta_out)
        *meta_out = NULL;
    unsigned char *buf;
    size_t len;
    if (pg_read_file(path, PG_CKPT_MAX_BYTES, &buf, &len) != 0)
        return -1;
    int rc = pg_checkpoint_decode(path, buf, len, m, meta_out, extras, n_extras);
    free(buf);
    return rc;
}

int pg_checkpoint_decode(const char *path, const unsigned char *buf, size_t len, pg_model *m,
                         json_t **meta_out, pg_ckpt_extra *extras, int n_extras)
{
    for (int i = 0; i < n_extras; i++)
        extras[i].data = NULL;
    memset(m, 0, sizeof *m);
    if (meta_out)
        *meta_out = NULL;
    int rc = -1;
    json_t *hdr = NULL;
    const unsigned char *payload;
    size_t plen;
    if (pg_container_parse(&kKind, path, buf, len, &hdr, &payload, &plen) != 0)
        goto out;
    if (pg_model_from_header(path, hdr, plen, "what this file can hold", m) != 0)
        goto out;
    if (check_table(path, json_object_get(hdr, "tensors"), m, plen) != 0)
        goto out;
    json_t *tensors = json_object_get(hdr, "tensors");
    for (int i = 0; i < m->num_tensors; i++) {
        size_t off = (size_t)json_integer_value(json_object_get(json_array_get(tensors, i), "offset"));
        const pg_tensor_info *t = &m->tensors[i];
        get_reals(m->params + t->offset, payload + off, t->numel);
    }
    for (int k = 0; k < n_extras; k++) {
        json_t *e = NULL;
        for (size_t i = (size_t)m->num_tensors; i < json_array_size(tensors) && !e; i++) {
            const char *en = json_string_value(json_object_get(json_array_get(tensors, i), "name"));
            if (en && strcmp(en, extras[k].name) == 0)
                e = json_array_get(tensors, i);
        }
        if (!e) {
            pg_fail("%s: no '%s' array (not a training checkpoint)", path, extras[k].name);
            goto out;
        }
        extras[k].data = malloc(m->num_params * sizeof(pg_real));
        if (!extras[k].data) {
            pg_fail("%s: out of memory", path);
            goto out;
        }
        get_reals(extras[k].data, payload + json_integer_value(json_object_get(e, "offset")),
                  m->num_params);
    }
    if (meta_out) {
        json_t *meta = json_object_get(hdr, "meta");
        *meta_out = json_is_object(meta) ? json_incref(meta) : json_object();
    }
    rc = 0;
out:
    if (rc != 0) {
        pg_model_free(m);
        for (int k = 0; k < n_extras; k++) {
            free(extras[k].data);
            extras[k].data = NULL;
        }
    }
    json_decref(hdr);
    return rc;
}
