/* PyTorch model files: wrappers (zlib, xz, zstd, brotli, BSHF) around a torch.save zip,
 * the zip's data.pkl and storages, and the three state-dict layouts of torchfile.h. */
#include "packager/torchfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <brotli/decode.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "packager/artifact.h"
#include "packager/lrzip.h"
#include "packager/quantize.h"

#define MAX_ZIP_ENTRIES 65536

/* ---- wrappers ---------------------------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t n, cap, limit;
    const char *why; /* which bound `limit` is, for the message */
} outbuf;

/* Room for at least one more byte; 1 when the limit is reached. */
static int out_room(outbuf *o)
{
    if (o->n < o->cap)
        return 0;
    if (o->cap >= o->limit)
        return 1;
    size_t nc = o->cap ? o->cap * 2 : 1 << 16;
    if (nc > o->limit)
        nc = o->limit;
    uint8_t *p = realloc(o->p, nc);
    if (!p)
        return -1;
    o->p = p;
    o->cap = nc;
    return 0;
}

static int bomb(const char *path, const char *codec, const outbuf *o)
{
    return pg_fail("%s: %s stream decodes to more than %zu bytes (%s; a decompression bomb?)",
                   path, codec, o->limit, o->why);
}

static int inflate_zlib(const char *path, const uint8_t *in, size_t n, outbuf *o)
{
    z_stream z = {0};
    if (inflateInit(&z) != Z_OK)
        return pg_fail("%s: zlib init failed", path);
    z.next_in = (Bytef *)in;
    int rc = Z_OK;
    size_t left = n;
    while (rc != Z_STREAM_END) {
        int room = out_room(o);
        if (room) {
            inflateEnd(&z);
            return room < 0 ? pg_fail("%s: out of memory", path) : bomb(path, "zlib", o);
        }
        uInt chunk_in = left > (1u << 30) ? 1u << 30 : (uInt)left;
        size_t space = o->cap - o->n;
        z.avail_in = chunk_in;
        z.next_out = o->p + o->n;
        z.avail_out = space > (1u << 30) ? 1u << 30 : (uInt)space;
        uInt before_out = z.avail_out;
        rc = inflate(&z, Z_NO_FLUSH);
        left -= chunk_in - z.avail_in;
        o->n += before_out - z.avail_out;
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            inflateEnd(&z);
            return pg_fail("%s: corrupt zlib stream (%s)", path, z.msg ? z.msg : "error");
        }
        if (rc == Z_BUF_ERROR && left == 0 && z.avail_out) {
            inflateEnd(&z);
            return pg_fail("%s: truncated zlib stream", path);
        }
    }
    inflateEnd(&z);
    return left ? pg_fail("%s: %zu bytes after the end of the zlib stream", path, left) : 0;
}

static int decode_xz(const char *path, const uint8_t *in, size_t n, outbuf *o)
{
    lzma_stream s = LZMA_STREAM_INIT;
    if (lzma_auto_decoder(&s, (uint64_t)1 << 30, 0) != LZMA_OK)
        return pg_fail("%s: lzma init failed", path);
    s.next_in = in;
    s.avail_in = n;
    lzma_ret rc = LZMA_OK;
    while (rc != LZMA_STREAM_END) {
        int room = out_room(o);
        if (room) {
            lzma_end(&s);
            return room < 0 ? pg_fail("%s: out of memory", path) : bomb(path, "xz/lzma", o);
        }
        s.next_out = o->p + o->n;
        s.avail_out = o->cap - o->n;
        size_t before = s.avail_out;
        rc = lzma_code(&s, s.avail_in ? LZMA_RUN : LZMA_FINISH);
        o->n += before - s.avail_out;
        if (rc != LZMA_OK && rc != LZMA_STREAM_END) {
            lzma_end(&s);
            return pg_fail("%s: corrupt or truncated xz/lzma stream (code %d)", path, (int)rc);
        }
    }
    size_t rest = s.avail_in;
    lzma_end(&s);
    return rest ? pg_fail("%s: %zu bytes after the end of the xz/lzma stream", path, rest) : 0;
}

static int decode_zstd(const char *path, const uint8_t *in, size_t n, outbuf *o)
{
    ZSTD_DStream *d = ZSTD_createDStream();
    if (!d)
        return pg_fail("%s: out of memory", path);
    ZSTD_inBuffer ib = {in, n, 0};
    size_t r = 1;
    while (r != 0) {
        int room = out_room(o);
        if (room) {
            ZSTD_freeDStream(d);
            return room < 0 ? pg_fail("%s: out of memory", path) : bomb(path, "zstd", o);
        }
        ZSTD_outBuffer ob = {o->p, o->cap, o->n};
        r = ZSTD_decompressStream(d, &ob, &ib);
        o->n = ob.pos;
        if (ZSTD_isError(r)) {
            ZSTD_freeDStream(d);
            return pg_fail("%s: corrupt zstd stream (%s)", path, ZSTD_getErrorName(r));
        }
        if (r != 0 && ib.pos == ib.size && ob.pos < ob.size) {
            ZSTD_freeDStream(d);
            return pg_fail("%s: truncated zstd stream", path);
        }
    }
    ZSTD_freeDStream(d);
    return ib.pos != n ? pg_fail("%s: bytes after the end of the zstd stream", path) : 0;
}

static int decode_brotli(const char *path, const uint8_t *in, size_t n, outbuf *o)
{
    BrotliDecoderState *s = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    if (!s)
        return pg_fail("%s: out of memory", path);
    size_t avail_in = n;
    const uint8_t *next_in = in;
    BrotliDecoderResult r = BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
    while (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
        int room = out_room(o);
        if (room) {
            BrotliDecoderDestroyInstance(s);
            return room < 0 ? pg_fail("%s: out of memory", path) : bomb(path, "brotli", o);
        }
        size_t avail_out = o->cap - o->n;
        uint8_t *next_out = o->p + o->n;
        r = BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, NULL);
        o->n = (size_t)(next_out - o->p);
    }
    BrotliDecoderDestroyInstance(s);
    if (r != BROTLI_DECODER_RESULT_SUCCESS || avail_in)
        return pg_fail("%s: not a torch.save file (no zip, zlib, xz/lzma, zstd or BSHF magic, "
                       "and not a brotli stream)",
                       path);
    return 0;
}

static int is_zip(const uint8_t *b, size_t n) { return n >= 4 && memcmp(b, "PK\3\4", 4) == 0; }
static int is_bshf(const uint8_t *b, size_t n) { return n >= 5 && memcmp(b, "BSHF", 4) == 0; }
static int is_zlib(const uint8_t *b, size_t n)
{
    return n >= 2 && (b[0] & 0x0f) == 8 && (b[0] >> 4) <= 7 && ((b[0] << 8) | b[1]) % 31 == 0;
}
static int is_xz(const uint8_t *b, size_t n)
{
    return (n >= 6 && memcmp(b, "\xfd" "7zXZ\0", 6) == 0) || (n >= 3 && b[0] == 0x5d && b[1] == 0);
}
static int is_zstd(const uint8_t *b, size_t n) { return n >= 4 && memcmp(b, "\x28\xb5\x2f\xfd", 4) == 0; }

int pg_torch_sniff(const uint8_t *b, size_t n)
{
    return is_zip(b, n) || is_bshf(b, n) || is_zlib(b, n) || is_xz(b, n) || is_zstd(b, n);
}

/* Undoes "BSHF" + stride + bytes grouped by position modulo stride. */
static int unshuffle(const char *path, const uint8_t *in, size_t n, outbuf *o)
{
    int stride = in[4];
    const uint8_t *src = in + 5;
    size_t len = n - 5;
    if (stride < 1)
        return pg_fail("%s: BSHF header with stride 0", path);
    if (!(o->p = malloc(len ? len : 1)))
        return pg_fail("%s: out of memory", path);
    o->n = o->cap = len;
    size_t at = 0;
    for (int k = 0; k < stride; k++)
        for (size_t i = (size_t)k; i < len; i += (size_t)stride)
            o->p[i] = src[at++];
    return 0;
}

/* Peels wrappers until a zip remains; *owned is the buffer to free (NULL if none). */
static int unwrap(const char *path, const uint8_t *buf, size_t len, pg_torch_state *st,
                  const uint8_t **zip, size_t *zip_len, uint8_t **owned)
{
    *owned = NULL;
    snprintf(st->wrapper, sizeof st->wrapper, "none");
    pg_decode_bound bound = pg_decode_bound_for(len);
    if (!is_zip(buf, len) && !is_bshf(buf, len)) {
        outbuf o = {.limit = bound.bytes < 1024 ? 1024 : bound.bytes, .why = bound.why};
        const char *name = "brotli"; /* no magic: tried last */
        int (*decode)(const char *, const uint8_t *, size_t, outbuf *) = decode_brotli;
        if (is_zlib(buf, len))
            name = "zlib", decode = inflate_zlib;
        else if (is_xz(buf, len))
            name = "xz", decode = decode_xz;
        else if (is_zstd(buf, len))
            name = "zstd", decode = decode_zstd;
        int rc = decode(path, buf, len, &o);
        if (rc != 0) {
            free(o.p);
            return -1;
        }
        snprintf(st->wrapper, sizeof st->wrapper, "%s", name);
        *owned = o.p;
        buf = o.p;
        len = o.n;
    }
    if (is_bshf(buf, len)) {
        outbuf o = {0};
        if (unshuffle(path, buf, len, &o) != 0) {
            free(*owned);
            *owned = NULL;
            return -1;
        }
        free(*owned);
        *owned = o.p;
        buf = o.p;
        len = o.n;
        size_t wl = strlen(st->wrapper);
        snprintf(st->wrapper + wl, sizeof st->wrapper - wl, "+bshf");
    }
    if (!is_zip(buf, len)) {
        free(*owned);
        *owned = NULL;
        return pg_fail("%s: the %s stream does not hold a torch.save zip archive "
                       "(legacy pre-1.6 torch.save files are not read)",
                       path, st->wrapper);
    }
    *zip = buf;
    *zip_len = len;
    return 0;
}

/* ---- the zip ----------------------------------------------------------------------- */

typedef struct {
    char *name; /* below the archive's top folder: "data.pkl", "data/0", ... */
    uint8_t *data;
    size_t n;
} zip_entry;

typedef struct {
    zip_entry *e;
    size_t n;
} zip_files;

static void zip_free(zip_files *z)
{
    for (size_t i = 0; i < z->n; i++) {
        free(z->e[i].name);
        free(z->e[i].data);
    }
    free(z->e);
    memset(z, 0, sizeof *z);
}

static const zip_entry *zip_find(const zip_files *z, const char *name)
{
    for (size_t i = 0; i < z->n; i++)
        if (strcmp(z->e[i].name, name) == 0)
            return &z->e[i];
    return NULL;
}

/* A member name is "<top>/<rest>" with one top folder shared by all, no "..", no
 * absolute path, no backslash. */
static int check_member(const char *path, const char *name, char *top, size_t top_cap)
{
    const char *slash = strchr(name, '/');
    if (name[0] == '/' || !slash || slash == name || strstr(name, "..") || strchr(name, '\\') ||
        (size_t)(slash - name) >= top_cap)
        return pg_fail("%s: zip member \"%.80s\" is not a plain path under one top folder", path, name);
    if (!top[0])
        snprintf(top, top_cap, "%.*s", (int)(slash - name), name);
    else if (strncmp(name, top, strlen(top)) != 0 || name[strlen(top)] != '/')
        return pg_fail("%s: zip members under two top folders (%s/ and %.80s)", path, top, name);
    return 0;
}

static int read_zip(const char *path, const uint8_t *zip, size_t len, zip_files *z)
{
    memset(z, 0, sizeof *z);
    struct archive *a = archive_read_new();
    if (!a)
        return pg_fail("%s: out of memory", path);
    archive_read_support_format_zip(a);
    int rc = -1;
    pg_decode_bound bound = pg_decode_bound_for(len);
    size_t cap = 0, total = 0, limit = bound.bytes;
    char top[128] = "";
    struct archive_entry *ent;
    if (archive_read_open_memory(a, zip, len) != ARCHIVE_OK) {
        pg_fail("%s: not a readable zip archive (%s)", path, archive_error_string(a));
        goto done;
    }
    for (;;) {
        int r = archive_read_next_header(a, &ent);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK) {
            pg_fail("%s: corrupt zip archive (%s)", path, archive_error_string(a));
            goto done;
        }
        const char *name = archive_entry_pathname(ent);
        if (!name || check_member(path, name, top, sizeof top) != 0)
            goto done;
        if (archive_entry_filetype(ent) != AE_IFREG) {
            pg_fail("%s: zip member %.80s is not a regular file", path, name);
            goto done;
        }
        const char *rel = name + strlen(top) + 1;
        if (zip_find(z, rel)) {
            pg_fail("%s: zip member %.80s appears twice", path, name);
            goto done;
        }
        if (z->n == MAX_ZIP_ENTRIES) {
            pg_fail("%s: more than %d zip members", path, MAX_ZIP_ENTRIES);
            goto done;
        }
        if (z->n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            zip_entry *e = realloc(z->e, nc * sizeof *e);
            if (!e) {
                pg_fail("%s: out of memory", path);
                goto done;
            }
            z->e = e;
            cap = nc;
        }
        zip_entry *e = &z->e[z->n];
        memset(e, 0, sizeof *e);
        e->name = strdup(rel);
        z->n++;
        if (!e->name) {
            pg_fail("%s: out of memory", path);
            goto done;
        }
        /* read in chunks, bounded by what the whole archive may expand to */
        size_t ecap = 0;
        for (;;) {
            if (e->n == ecap) {
                size_t nc = ecap ? ecap * 2 : 4096;
                if (total + nc - e->n > limit)
                    nc = e->n + (limit - total) + 1;
                uint8_t *p = realloc(e->data, nc);
                if (!p) {
                    pg_fail("%s: out of memory", path);
                    goto done;
                }
                e->data = p;
                ecap = nc;
            }
            la_ssize_t got = archive_read_data(a, e->data + e->n, ecap - e->n);
            if (got < 0) {
                pg_fail("%s: corrupt zip member %.80s (%s)", path, name, archive_error_string(a));
                goto done;
            }
            if (got == 0)
                break;
            e->n += (size_t)got;
            total += (size_t)got;
            if (total > limit) {
                pg_fail("%s: zip members expand to more than %zu bytes (%s; a zip bomb?)", path, limit,
                        bound.why);
                goto done;
            }
        }
    }
    rc = 0;
done:
    archive_read_free(a);
    if (rc != 0)
        zip_free(z);
    return rc;
}

/* ---- tensors ----------------------------------------------------------------------- */

static float bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* float32 -> bfloat16 -> float32, rounding to nearest even (torch's .to(bfloat16)). */
static float round_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) != 0x7f800000u)
        u += 0x7fffu + ((u >> 16) & 1);
    u &= 0xffff0000u;
    memcpy(&f, &u, 4);
    return f;
}

static double element(pg_dtype dt, const uint8_t *p)
{
    switch (dt) {
    case PG_DT_F32: { float f; memcpy(&f, p, 4); return f; }
    case PG_DT_F16: return pg_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
    case PG_DT_BF16: return bf16_to_f32((uint16_t)(p[0] | p[1] << 8));
    case PG_DT_F64: { double d; memcpy(&d, p, 8); return d; }
    case PG_DT_I8: return (int8_t)p[0];
    case PG_DT_U8: case PG_DT_BOOL: return p[0];
    case PG_DT_I16: { int16_t v; memcpy(&v, p, 2); return v; }
    case PG_DT_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    default: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    }
}

/* A tensor's values in row-major order as float32 (*out malloc'ed). */
static int tensor_values(const char *path, const char *what, const pg_py *t, const zip_files *z,
                         float **out)
{
    char key[64];
    snprintf(key, sizeof key, "data/%s", t->u.tensor.key);
    const zip_entry *e = zip_find(z, key);
    size_t es = pg_dtype_size(t->u.tensor.dtype);
    if (!e)
        return pg_fail("%s: tensor %s: storage %s is missing from the zip", path, what, key);
    if ((uint64_t)t->u.tensor.storage_numel > e->n / es || e->n != (size_t)t->u.tensor.storage_numel * es)
        return pg_fail("%s: tensor %s: storage %s holds %zu bytes, not %lld %s elements", path,
                       what, key, e->n, (long long)t->u.tensor.storage_numel,
                       pg_dtype_name(t->u.tensor.dtype));
    size_t n = pg_py_numel(t);
    float *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return pg_fail("%s: out of memory", path);
    int nd = t->u.tensor.ndim;
    int64_t idx[PG_PY_MAX_DIMS] = {0};
    for (size_t i = 0; i < n; i++) {
        int64_t at = t->u.tensor.offset;
        for (int d = 0; d < nd; d++)
            at += idx[d] * t->u.tensor.stride[d];
        v[i] = (float)element(t->u.tensor.dtype, e->data + (size_t)at * es);
        for (int d = nd - 1; d >= 0 && ++idx[d] == t->u.tensor.shape[d]; d--)
            idx[d] = 0;
    }
    *out = v;
    return 0;
}

static int is_float_dtype(pg_dtype d)
{
    return d == PG_DT_F32 || d == PG_DT_F16 || d == PG_DT_BF16 || d == PG_DT_F64;
}

static pg_named_tensor *add_tensor(const char *path, pg_torch_state *st, const char *name,
                                   const pg_py *shape_of)
{
    if (strlen(name) >= PG_TENSOR_NAME_MAX) {
        pg_fail("%s: tensor name %.80s... is longer than %d bytes", path, name, PG_TENSOR_NAME_MAX - 1);
        return NULL;
    }
    size_t numel = pg_py_numel(shape_of);
    if (numel > st->numel_left) {
        pg_fail("%s: tensor %s: the tensors hold more elements than the file has bytes "
                "(views sharing one storage?)", path, name);
        return NULL;
    }
    st->numel_left -= numel;
    pg_named_tensor *t = realloc(st->t, (st->n + 1) * sizeof *t);
    if (!t) {
        pg_fail("%s: out of memory", path);
        return NULL;
    }
    st->t = t;
    t = &st->t[st->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = shape_of->u.tensor.ndim;
    memcpy(t->shape, shape_of->u.tensor.shape, sizeof t->shape);
    t->numel = pg_py_numel(shape_of);
    return t;
}

/* Rounds values to the original dtype the reference casts back to. */
static int cast_to(const char *path, const char *name, const char *dtype, float *v, size_t n)
{
    pg_dtype d;
    if (!dtype || pg_dtype_parse(dtype, &d) != 0 || !is_float_dtype(d))
        return pg_fail("%s: tensor %s: original dtype %s is not a float type", path, name,
                       dtype ? dtype : "(missing)");
    for (size_t i = 0; i < n; i++)
        v[i] = d == PG_DT_BF16 ? round_bf16(v[i]) : d == PG_DT_F16 ? pg_f16_to_f32(pg_f32_to_f16(v[i])) : v[i];
    return 0;
}

static const char *key_str(const pg_py *k) { return k->kind == PG_PY_STR ? k->u.str.s : NULL; }

static const char *str_or_null(const pg_py *v) { return v && v->kind == PG_PY_STR ? v->u.str.s : NULL; }

/* A plain tensor, converted to float32 and optionally cast back to `orig`. */
static int take_plain(const char *path, pg_torch_state *st, const char *name, const pg_py *t,
                      const zip_files *z, const char *orig)
{
    if (!t || t->kind != PG_PY_TENSOR)
        return pg_fail("%s: %s is not a tensor", path, name);
    if (!is_float_dtype(t->u.tensor.dtype))
        return pg_fail("%s: tensor %s has dtype %s; a model's tensors are floating point", path,
                       name, pg_dtype_name(t->u.tensor.dtype));
    pg_named_tensor *nt = add_tensor(path, st, name, t);
    if (!nt || tensor_values(path, name, t, z, &nt->data) != 0)
        return -1;
    return orig ? cast_to(path, name, orig, nt->data, nt->numel) : 0;
}

/* q.float() * scale (per row when the scale is a vector, else one scalar), float32. */
static int take_quantized(const char *path, pg_torch_state *st, const char *name, const pg_py *q,
                          const pg_py *s, const zip_files *z, const char *orig)
{
    if (!q || q->kind != PG_PY_TENSOR || !s || s->kind != PG_PY_TENSOR)
        return pg_fail("%s: quantized tensor %s lacks its integer or scale tensor", path, name);
    if (q->u.tensor.dtype != PG_DT_I8 || !is_float_dtype(s->u.tensor.dtype))
        return pg_fail("%s: quantized tensor %s is %s with %s scales (want int8 with float scales)",
                       path, name, pg_dtype_name(q->u.tensor.dtype), pg_dtype_name(s->u.tensor.dtype));
    size_t rows = q->u.tensor.ndim ? (size_t)q->u.tensor.shape[0] : 1, sn = pg_py_numel(s);
    int per_row = s->u.tensor.ndim > 0;
    if (per_row ? (sn != rows || q->u.tensor.ndim == 0) : sn != 1)
        return pg_fail("%s: quantized tensor %s has %zu scales for %zu rows", path, name, sn, rows);
    pg_named_tensor *nt = add_tensor(path, st, name, q);
    float *sv = NULL;
    if (!nt || tensor_values(path, name, q, z, &nt->data) != 0 || tensor_values(path, name, s, z, &sv) != 0)
        return -1;
    size_t cols = rows ? nt->numel / rows : 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            nt->data[r * cols + c] *= per_row ? sv[r] : sv[0];
    free(sv);
    return cast_to(path, name, orig, nt->data, nt->numel);
}

static int read_int8_clean(const char *path, const pg_py *root, const zip_files *z, pg_torch_state *st)
{
    const pg_py *qd = pg_py_get(root, "quantized"), *sd = pg_py_get(root, "scales"),
                *dd = pg_py_get(root, "dtypes"), *pd = pg_py_get(root, "passthrough"),
                *od = pg_py_get(root, "passthrough_orig_dtypes");
    if (!qd || qd->kind != PG_PY_DICT || !sd || !dd || !pd || pd->kind != PG_PY_DICT)
        return pg_fail("%s: int8_clean_per_row_v1 dict lacks quantized/scales/dtypes/passthrough", path);
    for (size_t i = 0; i < qd->u.dict.n; i++) {
        const char *name = key_str(qd->u.dict.keys[i]);
        if (!name)
            return pg_fail("%s: a quantized tensor's name is not a string", path);
        if (take_quantized(path, st, name, qd->u.dict.vals[i], pg_py_get(sd, name), z,
                           str_or_null(pg_py_get(dd, name))) != 0)
            return -1;
    }
    for (size_t i = 0; i < pd->u.dict.n; i++) {
        const char *name = key_str(pd->u.dict.keys[i]);
        if (!name)
            return pg_fail("%s: a passthrough tensor's name is not a string", path);
        if (take_plain(path, st, name, pd->u.dict.vals[i], z, str_or_null(pg_py_get(od, name))) != 0)
            return -1;
    }
    return 0;
}

/* An integer tensor's values as float32 (*out malloc'ed), each inside [lo, hi]. */
static int int_values(const char *path, const char *what, const pg_py *t, const zip_files *z,
                      int lo, int hi, float **out)
{
    if (!t || t->kind != PG_PY_TENSOR || t->u.tensor.dtype != PG_DT_I8)
        return pg_fail("%s: %s is missing or not an int8 tensor", path, what);
    if (tensor_values(path, what, t, z, out) != 0)
        return -1;
    size_t n = pg_py_numel(t);
    for (size_t i = 0; i < n; i++)
        if ((*out)[i] < lo || (*out)[i] > hi) {
            pg_fail("%s: %s holds %g at %zu, outside its range [%d, %d]", path, what,
                    (double)(*out)[i], i, lo, hi);
            free(*out);
            *out = NULL; /* the caller frees what it holds */
            return -1;
        }
    return 0;
}

/* A float tensor of exactly n values (*out malloc'ed). */
static int scale_values(const char *path, const char *what, const pg_py *t, const zip_files *z,
                        size_t n, float **out)
{
    if (!t || t->kind != PG_PY_TENSOR || !is_float_dtype(t->u.tensor.dtype))
        return pg_fail("%s: %s is missing or not a float tensor", path, what);
    if (pg_py_numel(t) != n)
        return pg_fail("%s: %s has %zu values, the tensor needs %zu", path, what, pg_py_numel(t), n);
    return tensor_values(path, what, t, z, out);
}

/* The later records' low-rank correction (DESIGN §11): W += (qA sA)(qB sB), summed over
 * the rank in order in float32. asym: A int2 [rows][r] with one scalar scale, B int4
 * [r][cols] with one scale per `group` consecutive elements; else per-row scales of A's
 * rows and B's rows (the records' symmetric form). */
static int add_lqer(const char *path, const char *name, const pg_py *w, const zip_files *z,
                    int asym, pg_named_tensor *nt)
{
    char ka[256], ksa[256], kb[256], ksb[256];
    const char *sfx = asym ? "_a" : "";
    snprintf(ka, sizeof ka, "%s.lqA%s", name, sfx);
    snprintf(ksa, sizeof ksa, "%s.lqAs%s", name, sfx);
    snprintf(kb, sizeof kb, "%s.lqB%s", name, sfx);
    snprintf(ksb, sizeof ksb, "%s.lqBs%s", name, sfx);
    const pg_py *qa = pg_py_get(w, ka), *qb = pg_py_get(w, kb);
    if (nt->ndim != 2 || !qa || qa->kind != PG_PY_TENSOR || qa->u.tensor.ndim != 2 || !qb ||
        qb->kind != PG_PY_TENSOR || qb->u.tensor.ndim != 2)
        return pg_fail("%s: %s's low-rank factors %s / %s are missing or not matrices", path, name,
                       ka, kb);
    size_t rows = (size_t)nt->shape[0], cols = (size_t)nt->shape[1];
    size_t r = (size_t)qa->u.tensor.shape[1];
    if ((size_t)qa->u.tensor.shape[0] != rows || (size_t)qb->u.tensor.shape[0] != r ||
        (size_t)qb->u.tensor.shape[1] != cols || r == 0)
        return pg_fail("%s: %s's factors are [%lld, %lld] and [%lld, %lld], not [%zu, r] and "
                       "[r, %zu]", path, name, (long long)qa->u.tensor.shape[0],
                       (long long)qa->u.tensor.shape[1], (long long)qb->u.tensor.shape[0],
                       (long long)qb->u.tensor.shape[1], rows, cols);
    const pg_py *sbt = pg_py_get(w, ksb);
    size_t nsb = sbt && sbt->kind == PG_PY_TENSOR ? pg_py_numel(sbt) : 0;
    size_t group = asym && nsb ? r * cols / nsb : 0;
    if (asym && (!nsb || group * nsb != r * cols))
        return pg_fail("%s: %s has %zu B scales for %zu B values (not whole groups)", path, ksb,
                       nsb, r * cols);
    float *a = NULL, *b = NULL, *sa = NULL, *sb = NULL;
    int rc = int_values(path, ka, qa, z, asym ? -2 : -128, asym ? 1 : 127, &a);
    if (rc == 0)
        rc = int_values(path, kb, qb, z, asym ? -8 : -128, asym ? 7 : 127, &b);
    if (rc == 0)
        rc = scale_values(path, ksa, pg_py_get(w, ksa), z, asym ? 1 : rows, &sa);
    if (rc == 0)
        rc = scale_values(path, ksb, sbt, z, asym ? nsb : r, &sb);
    if (rc == 0) {
        /* the factors' values, then W += sum_k A[i][k] B[k][j] */
        for (size_t i = 0; i < rows * r; i++)
            a[i] *= asym ? sa[0] : sa[i / r];
        for (size_t i = 0; i < r * cols; i++)
            b[i] *= asym ? sb[i / group] : sb[i / cols];
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++) {
                float acc = a[i * r] * b[j];
                for (size_t k = 1; k < r; k++)
                    acc += a[i * r + k] * b[k * cols + j];
                nt->data[i * cols + j] += acc;
            }
    }
    free(a);
    free(b);
    free(sa);
    free(sb);
    return rc;
}

/* The records' int8-per-row gate: W = gq * gs[row]. */
static int take_gate_rows(const char *path, pg_torch_state *st, const char *name, const pg_py *w,
                          const zip_files *z)
{
    char kq[256], ks[256];
    snprintf(kq, sizeof kq, "%s.gq", name);
    snprintf(ks, sizeof ks, "%s.gs", name);
    const pg_py *q = pg_py_get(w, kq);
    if (!q || q->kind != PG_PY_TENSOR || q->u.tensor.ndim != 2)
        return pg_fail("%s: gate %s lacks its int8 rows %s", path, name, kq);
    pg_named_tensor *nt = add_tensor(path, st, name, q);
    float *s = NULL;
    if (!nt || int_values(path, kq, q, z, -127, 127, &nt->data) != 0 ||
        scale_values(path, ks, pg_py_get(w, ks), z, (size_t)q->u.tensor.shape[0], &s) != 0)
        return -1;
    size_t cols = (size_t)q->u.tensor.shape[1];
    for (size_t i = 0; i < nt->numel; i++)
        nt->data[i] *= s[i / cols];
    free(s);
    return 0;
}

/* One tensor of the April records' meta (strings): "passthrough (float16)",
 * "gate_int8_row", "gptq (intN)" optionally "+lqer_asym" / "+lqer". The embedding is
 * rounded to bfloat16 last, as their eval model keeps it. */
static int take_april(const char *path, pg_torch_state *st, const char *name, const char *kind,
                      const pg_py *w, const zip_files *z)
{
    const char *final = strcmp(name, "tok_emb.weight") == 0 ? "bfloat16" : "float32";
    if (strcmp(kind, "passthrough (float16)") == 0)
        return take_plain(path, st, name, pg_py_get(w, name), z, final);
    if (strcmp(kind, "gate_int8_row") == 0)
        return take_gate_rows(path, st, name, w, z);
    int bits = 0, used = 0;
    if (sscanf(kind, "gptq (int%d)%n", &bits, &used) != 1 || used == 0 || bits < 2 || bits > 8)
        return pg_fail("%s: tensor %s has meta kind \"%.60s\", which pgolf does not know", path,
                       name, kind);
    const char *tail = kind + used;
    int lqer = strcmp(tail, "+lqer_asym") == 0 ? 2 : strcmp(tail, "+lqer") == 0 ? 1 : 0;
    if (*tail && !lqer)
        return pg_fail("%s: tensor %s has meta kind \"%.60s\", which pgolf does not know", path,
                       name, kind);
    char qn[256], sn[256];
    snprintf(qn, sizeof qn, "%s.q", name);
    snprintf(sn, sizeof sn, "%s.scale", name);
    const pg_py *q = pg_py_get(w, qn);
    int qmax = (1 << (bits - 1)) - 1;
    float *check = NULL;
    if (int_values(path, qn, q, z, -qmax - 1, qmax, &check) != 0)
        return -1;
    free(check);
    if (take_quantized(path, st, name, q, pg_py_get(w, sn), z, "float32") != 0)
        return -1;
    pg_named_tensor *nt = &st->t[st->n - 1];
    if (lqer && add_lqer(path, name, w, z, lqer == 2, nt) != 0)
        return -1;
    return cast_to(path, name, final, nt->data, nt->numel);
}

/* {"w": {NAME: t, NAME.q: int8, NAME.scale: scales, ...}, "m": {NAME: kind}}: one entry
 * of m per model tensor. Kinds: the March records' "passthrough..." strings and
 * {"type": "int6"|"int8"|...} dicts, and the April records' strings (take_april). */
static int read_w_m(const char *path, const pg_py *w, const pg_py *mm, const zip_files *z,
                    pg_torch_state *st)
{
    if (w->kind != PG_PY_DICT || mm->kind != PG_PY_DICT)
        return pg_fail("%s: \"w\" and \"m\" are not dicts", path);
    for (size_t i = 0; i < mm->u.dict.n; i++) {
        const char *name = key_str(mm->u.dict.keys[i]);
        const pg_py *info = mm->u.dict.vals[i];
        if (!name || strlen(name) > 200)
            return pg_fail("%s: a name in \"m\" is not a short string", path);
        if (info->kind == PG_PY_STR &&
            (strcmp(info->u.str.s, "passthrough (float16)") == 0 ||
             strcmp(info->u.str.s, "gate_int8_row") == 0 ||
             strncmp(info->u.str.s, "gptq (", 6) == 0)) {
            if (take_april(path, st, name, info->u.str.s, w, z) != 0)
                return -1;
            continue;
        }
        if (info->kind == PG_PY_STR && strncmp(info->u.str.s, "passthrough", 11) == 0) {
            if (take_plain(path, st, name, pg_py_get(w, name), z, "float32") != 0)
                return -1;
            continue;
        }
        if (info->kind == PG_PY_STR)
            return pg_fail("%s: tensor %s has meta kind \"%.60s\", which pgolf does not know",
                           path, name, info->u.str.s);
        if (info->kind != PG_PY_DICT || !str_or_null(pg_py_get(info, "type")))
            return pg_fail("%s: meta of %s is neither \"passthrough\" nor {\"type\": ...}", path, name);
        char qn[256], sn[256];
        snprintf(qn, sizeof qn, "%s.q", name);
        snprintf(sn, sizeof sn, "%s.scale", name);
        if (take_quantized(path, st, name, pg_py_get(w, qn), pg_py_get(w, sn), z, "float32") != 0)
            return -1;
    }
    return 0;
}

static int read_state_dict(const char *path, const pg_py *root, const zip_files *z, pg_torch_state *st)
{
    for (size_t i = 0; i < root->u.dict.n; i++) {
        const char *name = key_str(root->u.dict.keys[i]);
        if (!name)
            return pg_fail("%s: a state dict key is not a string", path);
        if (take_plain(path, st, name, root->u.dict.vals[i], z, NULL) != 0)
            return -1;
    }
    return 0;
}

/* ---- the best record's per-group container (PGRP, DESIGN §11) ------------------------ */

/* Its seven groups of int8 matrices, in stream order; those whose rows were reordered. */
static const char *const kPgrpGroups[] = {"_tok_emb.weight.q", "attn.c_k.weight.q",
                                          "attn.c_q.weight.q", "attn.c_v.weight.q",
                                          "attn.proj.weight.q", "mlp.fc.weight.q",
                                          "mlp.proj.weight.q"};
enum { PGRP_GROUPS = 7, PGRP_STREAMS = PGRP_GROUPS + 2 };
static int pgrp_sorted(int g) { return g == 0 || g == 2 || g == 5; }

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A [rows][cols] int8 tensor named name, appended to z (its storage) and to the dict w
 * (its description, allocated in keep, freed by the caller). */
static int pgrp_tensor(const char *path, const char *name, uint8_t *data, int64_t rows,
                       int64_t cols, zip_files *z, pg_py *w, pg_pickle *keep)
{
    char key[32], member[48];
    snprintf(key, sizeof key, "pgrp%zu", z->n);
    snprintf(member, sizeof member, "data/%s", key);
    zip_entry *e = realloc(z->e, (z->n + 1) * sizeof *e);
    pg_py **kv = realloc(keep->all, (keep->n + 2) * sizeof *kv);
    if (e)
        z->e = e;
    if (kv)
        keep->all = kv;
    pg_py *k = calloc(1, sizeof *k), *t = calloc(1, sizeof *t);
    char *kname = strdup(name), *mname = strdup(member);
    pg_py **keys = realloc(w->u.dict.keys, (w->u.dict.n + 1) * sizeof *keys);
    if (keys)
        w->u.dict.keys = keys;
    pg_py **vals = realloc(w->u.dict.vals, (w->u.dict.n + 1) * sizeof *vals);
    if (vals)
        w->u.dict.vals = vals;
    if (!e || !kv || !k || !t || !kname || !mname || !keys || !vals) {
        free(k), free(t), free(kname), free(mname), free(data);
        return pg_fail("%s: out of memory", path);
    }
    z->e[z->n++] = (zip_entry){mname, data, (size_t)(rows * cols)};
    k->kind = PG_PY_STR;
    k->u.str.s = kname;
    k->u.str.n = strlen(kname);
    t->kind = PG_PY_TENSOR;
    t->u.tensor.dtype = PG_DT_I8;
    snprintf(t->u.tensor.key, sizeof t->u.tensor.key, "%s", key);
    t->u.tensor.storage_numel = rows * cols;
    t->u.tensor.ndim = 2;
    t->u.tensor.shape[0] = rows;
    t->u.tensor.shape[1] = cols;
    t->u.tensor.stride[0] = cols;
    t->u.tensor.stride[1] = 1;
    keep->all[keep->n++] = k;
    keep->all[keep->n++] = t;
    w->u.dict.keys[w->u.dict.n] = k;
    w->u.dict.vals[w->u.dict.n++] = t;
    return 0;
}

/* One group's stream: for each of its shapes in s (layer order), the matrix transposed
 * (column-major), rows in the order the perm stream gives for the sorted groups; undone
 * into row-major tensors blocks.{i}.<group> (or the group's own name). */
static int pgrp_group(const char *path, int g, const uint8_t *raw, size_t n, const pg_py *shapes,
                      const uint8_t *perm, size_t perm_n, size_t *perm_at, zip_files *z,
                      pg_py *w, pg_pickle *keep)
{
    const char *gk = kPgrpGroups[g];
    if (!shapes || shapes->kind != PG_PY_LIST)
        return pg_fail("%s: the PGRP shape list of %s is missing", path, gk);
    size_t at = 0;
    for (size_t i = 0; i < shapes->u.seq.n; i++) {
        const pg_py *sh = shapes->u.seq.items[i];
        if (sh->kind != PG_PY_TUPLE || sh->u.seq.n != 2 || sh->u.seq.items[0]->kind != PG_PY_INT ||
            sh->u.seq.items[1]->kind != PG_PY_INT)
            return pg_fail("%s: PGRP shape %zu of %s is not (rows, cols)", path, i, gk);
        int64_t rows = sh->u.seq.items[0]->u.i, cols = sh->u.seq.items[1]->u.i;
        if (rows < 1 || cols < 1 || rows > 65536 || cols > (1 << 24) ||
            (size_t)(rows * cols) > n - at || n < at)
            return pg_fail("%s: PGRP %s shape [%lld, %lld] does not fit its %zu bytes", path, gk,
                           (long long)rows, (long long)cols, n);
        const uint8_t *src = raw + at;
        at += (size_t)(rows * cols);
        int sorted = pgrp_sorted(g);
        if (sorted && *perm_at + 2 * (size_t)rows > perm_n)
            return pg_fail("%s: the PGRP row orders end before %s", path, gk);
        uint8_t *dst = malloc((size_t)(rows * cols));
        uint8_t *seen = calloc((size_t)rows, 1);
        if (!dst || !seen) {
            free(dst), free(seen);
            return pg_fail("%s: out of memory", path);
        }
        /* stored row k (column-major) is the matrix's row order[k] */
        for (int64_t k = 0; k < rows; k++) {
            const uint8_t *p = perm + *perm_at + 2 * (size_t)k;
            int64_t r = sorted ? (int64_t)(p[0] | p[1] << 8) : k;
            if (r >= rows || seen[r]) {
                free(dst), free(seen);
                return pg_fail("%s: the PGRP row order of %s is not a permutation of %lld rows",
                               path, gk, (long long)rows);
            }
            seen[r] = 1;
            for (int64_t c = 0; c < cols; c++)
                dst[r * cols + c] = src[c * rows + k];
        }
        free(seen);
        if (sorted)
            *perm_at += 2 * (size_t)rows;
        char name[PG_TENSOR_NAME_MAX];
        if (gk[0] == '_')
            snprintf(name, sizeof name, "%s", gk + 1);
        else
            snprintf(name, sizeof name, "blocks.%zu.%s", i, gk);
        if (pgrp_tensor(path, name, dst, rows, cols, z, w, keep) != 0)
            return -1;
    }
    return at == n ? 0 : pg_fail("%s: PGRP %s holds %zu bytes past its matrices", path, gk, n - at);
}

/* "PGRP", u32 9, nine u32 stream lengths, the streams: seven lrzip groups, the brotli of
 * torch.save({"r": the other tensors, "m": meta, "s": the groups' shapes}), the brotli of
 * the sorted groups' row orders (uint16). Read into the {"w","m"} reader. */
static int read_pgrp(const char *path, const uint8_t *buf, size_t len, pg_torch_state *st)
{
    if (len < 8 || le32(buf + 4) != PGRP_STREAMS || len < 8 + 4 * (size_t)PGRP_STREAMS)
        return pg_fail("%s: a PGRP header needs %d streams", path, PGRP_STREAMS);
    const uint8_t *s[PGRP_STREAMS];
    size_t sn[PGRP_STREAMS], at = 8 + 4 * (size_t)PGRP_STREAMS;
    for (int i = 0; i < PGRP_STREAMS; i++) {
        sn[i] = le32(buf + 8 + 4 * i);
        if (sn[i] > len - at)
            return pg_fail("%s: PGRP stream %d (%zu bytes) runs past the file's end", path, i,
                           sn[i]);
        s[i] = buf + at;
        at += sn[i];
    }
    pg_decode_bound bound = pg_decode_bound_for(len);
    outbuf perm = {.limit = bound.bytes, .why = bound.why};
    char where[PG_PATH_MAX + 48];
    snprintf(where, sizeof where, "%s: the PGRP row orders", path);
    if (sn[PGRP_GROUPS + 1] &&
        decode_brotli(where, s[PGRP_GROUPS + 1], sn[PGRP_GROUPS + 1], &perm) != 0) {
        free(perm.p);
        return -1;
    }
    const uint8_t *zip;
    size_t zip_len;
    uint8_t *owned;
    snprintf(where, sizeof where, "%s: the PGRP remainder", path);
    if (unwrap(where, s[PGRP_GROUPS], sn[PGRP_GROUPS], st, &zip, &zip_len, &owned) != 0) {
        free(perm.p);
        return -1;
    }
    zip_files z;
    int rc = read_zip(path, zip, zip_len, &z);
    free(owned);
    if (rc != 0) {
        free(perm.p);
        return -1;
    }
    st->numel_left = bound.bytes;
    const zip_entry *pkl = zip_find(&z, "data.pkl");
    pg_pickle p = {0}, keep = {0};
    pg_py w = {.kind = PG_PY_DICT};
    rc = -1;
    if (!pkl)
        pg_fail("%s: the PGRP remainder holds no data.pkl", path);
    else if (pg_pickle_load(path, pkl->data, pkl->n, &p) == 0) {
        const pg_py *r = pg_py_get(p.root, "r"), *m = pg_py_get(p.root, "m"),
                    *sh = pg_py_get(p.root, "s");
        if (!r || r->kind != PG_PY_DICT || !m || !sh || sh->kind != PG_PY_DICT) {
            pg_fail("%s: the PGRP remainder is not {\"r\", \"m\", \"s\"}", path);
        } else {
            rc = 0;
            /* w: the remainder's tensors, then the groups' */
            for (size_t i = 0; i < r->u.dict.n && rc == 0; i++) {
                pg_py **keys = realloc(w.u.dict.keys, (w.u.dict.n + 1) * sizeof *keys);
                pg_py **vals = keys ? realloc(w.u.dict.vals, (w.u.dict.n + 1) * sizeof *vals) : NULL;
                if (keys)
                    w.u.dict.keys = keys;
                if (vals)
                    w.u.dict.vals = vals;
                if (!keys || !vals) {
                    rc = pg_fail("%s: out of memory", path);
                    break;
                }
                w.u.dict.keys[w.u.dict.n] = r->u.dict.keys[i];
                w.u.dict.vals[w.u.dict.n++] = r->u.dict.vals[i];
            }
            size_t perm_at = 0;
            for (int g = 0; g < PGRP_GROUPS && rc == 0; g++) {
                if (!sn[g])
                    continue;
                uint8_t *raw;
                size_t rn;
                char what[PG_PATH_MAX + 48];
                snprintf(what, sizeof what, "%s: PGRP group %s", path, kPgrpGroups[g]);
                rc = pg_lrzip_decode(what, s[g], sn[g], bound.bytes, &raw, &rn);
                if (rc == 0) {
                    rc = pgrp_group(path, g, raw, rn, pg_py_get(sh, kPgrpGroups[g]), perm.p,
                                    perm.n, &perm_at, &z, &w, &keep);
                    free(raw);
                }
            }
            if (rc == 0 && perm_at != perm.n)
                rc = pg_fail("%s: the PGRP row orders hold %zu bytes past the groups' rows",
                             path, perm.n - perm_at);
            if (rc == 0) {
                snprintf(st->format, sizeof st->format, "pergroup");
                snprintf(st->wrapper, sizeof st->wrapper, "pgrp (lrzip+brotli)");
                rc = read_w_m(path, &w, m, &z, st);
            }
        }
    }
    free(w.u.dict.keys);
    free(w.u.dict.vals);
    for (size_t i = 0; i < keep.n; i++) {
        if (keep.all[i]->kind == PG_PY_STR)
            free(keep.all[i]->u.str.s);
        free(keep.all[i]);
    }
    free(keep.all);
    pg_pickle_free(&p);
    zip_free(&z);
    free(perm.p);
    return rc;
}

int pg_torch_decode(const char *path, const uint8_t *buf, size_t len, pg_torch_state *st)
{
    memset(st, 0, sizeof *st);
    if (len >= 4 && memcmp(buf, "PGRP", 4) == 0) {
        int rc = read_pgrp(path, buf, len, st);
        if (rc == 0 && st->n == 0)
            rc = pg_fail("%s: no tensors", path);
        if (rc != 0)
            pg_torch_state_free(st);
        return rc;
    }
    const uint8_t *zip = NULL;
    size_t zip_len = 0;
    uint8_t *owned = NULL;
    if (unwrap(path, buf, len, st, &zip, &zip_len, &owned) != 0)
        return -1;
    zip_files z;
    int rc = read_zip(path, zip, zip_len, &z);
    st->numel_left = zip_len;
    free(owned);
    if (rc != 0)
        return -1;
    const zip_entry *pkl = zip_find(&z, "data.pkl"), *bo = zip_find(&z, "byteorder");
    pg_pickle p = {0};
    char where[PG_PATH_MAX + 16];
    snprintf(where, sizeof where, "%s:data.pkl", path);
    rc = -1;
    if (!pkl)
        pg_fail("%s: the zip has no data.pkl (not a torch.save file)", path);
    else if (bo && !(bo->n == 6 && memcmp(bo->data, "little", 6) == 0))
        pg_fail("%s: byteorder is not \"little\"", path);
    else if (pg_pickle_load(where, pkl->data, pkl->n, &p) == 0) {
        const pg_py *root = p.root, *fmt = pg_py_get(root, "__quant_format__");
        const pg_py *w = pg_py_get(root, "w"), *m = pg_py_get(root, "m");
        if (root->kind != PG_PY_DICT)
            pg_fail("%s: the pickle is not a dict of tensors", path);
        else if (fmt) {
            const char *f = str_or_null(fmt);
            snprintf(st->format, sizeof st->format, "%.31s", f ? f : "?");
            if (!f || strcmp(f, "int8_clean_per_row_v1") != 0)
                pg_fail("%s: __quant_format__ %.40s is not int8_clean_per_row_v1", path, f ? f : "(not a string)");
            else
                rc = read_int8_clean(path, root, &z, st);
        } else if (w && m && root->u.dict.n == 2) {
            snprintf(st->format, sizeof st->format, "w_m_per_row");
            rc = read_w_m(path, w, m, &z, st);
        } else {
            snprintf(st->format, sizeof st->format, "state_dict");
            rc = read_state_dict(path, root, &z, st);
        }
    }
    pg_pickle_free(&p);
    zip_free(&z);
    if (rc == 0 && st->n == 0)
        rc = pg_fail("%s: no tensors", path);
    if (rc != 0)
        pg_torch_state_free(st);
    return rc;
}

int pg_torch_load(const char *path, pg_torch_state *out)
{
    unsigned char *buf;
    size_t len;
    if (pg_read_file(path, PG_MODEL_FILE_MAX_BYTES, &buf, &len) != 0)
        return -1;
    int rc = pg_torch_decode(path, buf, len, out);
    free(buf);
    return rc;
}

void pg_torch_state_free(pg_torch_state *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->t[i].data);
    free(s->t);
    s->t = NULL;
    s->n = 0;
}
