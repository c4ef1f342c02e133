/* The official int8_clean_per_row_v1 file of a pgolf model (torchexport.h). */
#include "packager/torchexport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include "common/err.h"
#include "packager/artifact.h"
#include "packager/quantize.h"

#define KEEP_FLOAT_MAX_NUMEL 65536 /* the reference's INT8_KEEP_FLOAT_MAX_NUMEL */

typedef struct {
    uint8_t *p;
    size_t n, cap;
    int oom;
} bytes;

static void put(bytes *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->n + n)
            nc *= 2;
        uint8_t *p = realloc(b->p, nc);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void op(bytes *b, uint8_t c) { put(b, &c, 1); }

/* ---- pickle protocol 2, as torch.save writes it ---------------------------------------- */

static void p_str(bytes *b, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    uint8_t le[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    op(b, 'X');
    put(b, le, 4);
    put(b, s, n);
}

static void p_int(bytes *b, int64_t v)
{
    if (v >= 0 && v < 256) {
        uint8_t x[2] = {'K', (uint8_t)v};
        put(b, x, 2);
    } else { /* LONG1 with 8 bytes covers every int64 */
        uint8_t x[10] = {0x8a, 8};
        for (int i = 0; i < 8; i++)
            x[2 + i] = (uint8_t)((uint64_t)v >> (8 * i));
        put(b, x, 10);
    }
}

static void p_global(bytes *b, const char *module, const char *name)
{
    op(b, 'c');
    put(b, module, strlen(module));
    op(b, '\n');
    put(b, name, strlen(name));
    op(b, '\n');
}

/* A contiguous tensor over storage `key`:
 * _rebuild_tensor_v2(('storage', T, key, 'cpu', numel), 0, size, stride, False, OrderedDict()) */
static void p_tensor(bytes *b, const char *storage_type, int key, int ndim, const int64_t *shape)
{
    char k[16];
    snprintf(k, sizeof k, "%d", key);
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++)
        numel *= shape[d];
    p_global(b, "torch._utils", "_rebuild_tensor_v2");
    op(b, '(');
    op(b, '(');
    p_str(b, "storage");
    p_global(b, "torch", storage_type);
    p_str(b, k);
    p_str(b, "cpu");
    p_int(b, numel);
    op(b, 't');
    op(b, 'Q');
    p_int(b, 0);
    op(b, '(');
    for (int d = 0; d < ndim; d++)
        p_int(b, shape[d]);
    op(b, 't');
    op(b, '(');
    int64_t stride = 1;
    int64_t strides[2] = {0, 0};
    for (int d = ndim - 1; d >= 0; d--) {
        strides[d] = stride;
        stride *= shape[d];
    }
    for (int d = 0; d < ndim; d++)
        p_int(b, strides[d]);
    op(b, 't');
    op(b, 0x89); /* requires_grad False */
    p_global(b, "collections", "OrderedDict");
    op(b, ')');
    op(b, 'R');
    op(b, 't');
    op(b, 'R');
}

/* ---- the quantized dict ---------------------------------------------------------------- */

typedef struct {
    bytes data;                  /* raw bytes of the storage */
    const char *type;            /* torch storage type */
} storage;

typedef struct {
    bytes quantized, scales, dtypes, passthrough, qmeta, orig; /* SETITEMS bodies */
    int nq, no;
    storage *st;
    int nst;
} export_state;

static storage *new_storage(export_state *s, const char *type)
{
    storage *n = realloc(s->st, (size_t)(s->nst + 1) * sizeof *n);
    if (!n)
        return NULL;
    s->st = n;
    memset(&n[s->nst], 0, sizeof n[s->nst]);
    n[s->nst].type = type;
    return &n[s->nst++];
}

static void put_f16(bytes *b, float f)
{
    uint16_t h = pg_f32_to_f16(f);
    uint8_t x[2] = {(uint8_t)h, (uint8_t)(h >> 8)};
    put(b, x, 2);
}

static int add_tensor(export_state *s, const pg_tensor_info *t, const float *w)
{
    int64_t shape[2] = {t->shape[0], t->shape[1]};
    int ndim = t->ndim;
    storage *st;
    if (t->numel <= KEEP_FLOAT_MAX_NUMEL) {
        int control = pg_tensor_qgroup(t->name) == PG_GROUP_Q_CONTROL;
        if (!(st = new_storage(s, control ? "FloatStorage" : "HalfStorage")))
            return -1;
        for (size_t i = 0; i < t->numel; i++)
            if (control)
                put(&st->data, &w[i], 4);
            else
                put_f16(&st->data, w[i]);
        p_str(&s->passthrough, t->name);
        p_tensor(&s->passthrough, st->type, s->nst - 1, ndim, shape);
        if (!control) {
            p_str(&s->orig, t->name);
            p_str(&s->orig, "float32");
            s->no++;
        }
        return 0;
    }
    storage *qs = new_storage(s, "CharStorage");
    if (!qs)
        return -1;
    int qkey = s->nst - 1;
    if (ndim == 2) { /* pgolf's int8_row is the reference's per-row export */
        size_t rows = (size_t)shape[0], cols = (size_t)shape[1];
        uint8_t *buf = malloc(pg_qscheme_bytes(PG_Q_INT8_ROW, rows, cols));
        if (!buf || pg_quantize(PG_Q_INT8_ROW, w, rows, cols, buf) != 0) {
            free(buf);
            return -1;
        }
        put(&s->st[qkey].data, buf, rows * cols);
        if (!(st = new_storage(s, "HalfStorage"))) {
            free(buf);
            return -1;
        }
        put(&st->data, buf + rows * cols, 2 * rows);
        free(buf);
        p_str(&s->scales, t->name);
        p_tensor(&s->scales, "HalfStorage", s->nst - 1, 1, shape);
        p_str(&s->qmeta, t->name);
        op(&s->qmeta, '}');
        op(&s->qmeta, '(');
        p_str(&s->qmeta, "scheme");
        p_str(&s->qmeta, "per_row");
        p_str(&s->qmeta, "axis");
        p_int(&s->qmeta, 0);
        op(&s->qmeta, 'u');
    } else { /* one float32 scale for the tensor */
        int8_t *q = malloc(t->numel ? t->numel : 1);
        float scale;
        if (!q || pg_quantize_int8_tensor(w, t->numel, q, &scale) != 0) {
            free(q);
            return -1;
        }
        put(&s->st[qkey].data, q, t->numel);
        free(q);
        if (!(st = new_storage(s, "FloatStorage")))
            return -1;
        put(&st->data, &scale, 4);
        p_str(&s->scales, t->name);
        p_tensor(&s->scales, "FloatStorage", s->nst - 1, 0, shape);
    }
    p_str(&s->quantized, t->name);
    p_tensor(&s->quantized, "CharStorage", qkey, ndim, shape);
    p_str(&s->dtypes, t->name);
    p_str(&s->dtypes, "float32");
    s->nq++;
    return 0;
}

/* "key": {body} */
static void p_dict_item(bytes *b, const char *key, const bytes *body)
{
    p_str(b, key);
    op(b, '}');
    if (body->n) {
        op(b, '(');
        put(b, body->p, body->n);
        op(b, 'u');
    }
}

static int zip_member(struct archive *a, const char *name, const void *data, size_t n)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return -1;
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)n);
    int rc = archive_write_header(a, e) == ARCHIVE_OK &&
                     (n == 0 || archive_write_data(a, data, n) == (la_ssize_t)n)
                 ? 0
                 : -1;
    archive_entry_free(e);
    return rc;
}

/* torch.save's zip: archive/data.pkl, archive/data/<key>, archive/version, byteorder. */
static int write_zip(const bytes *pkl, const export_state *s, bytes *zip)
{
    size_t cap = pkl->n + 1024 * (size_t)(s->nst + 4);
    for (int i = 0; i < s->nst; i++)
        cap += s->st[i].data.n;
    zip->p = malloc(cap);
    if (!zip->p)
        return -1;
    zip->cap = cap;
    struct archive *a = archive_write_new();
    size_t used = 0;
    int rc = -1;
    if (a && archive_write_set_format_zip(a) == ARCHIVE_OK &&
        archive_write_set_options(a, "zip:compression=store") == ARCHIVE_OK &&
        archive_write_open_memory(a, zip->p, cap, &used) == ARCHIVE_OK) {
        rc = zip_member(a, "archive/data.pkl", pkl->p, pkl->n);
        for (int i = 0; i < s->nst && rc == 0; i++) {
            char name[48];
            snprintf(name, sizeof name, "archive/data/%d", i);
            rc = zip_member(a, name, s->st[i].data.p, s->st[i].data.n);
        }
        if (rc == 0)
            rc = zip_member(a, "archive/version", "3\n", 2);
        if (rc == 0)
            rc = zip_member(a, "archive/byteorder", "little", 6);
        if (rc == 0 && archive_write_close(a) != ARCHIVE_OK)
            rc = -1;
    }
    if (a)
        archive_write_free(a);
    zip->n = used;
    return rc;
}

static void free_state(export_state *s)
{
    free(s->quantized.p);
    free(s->scales.p);
    free(s->dtypes.p);
    free(s->passthrough.p);
    free(s->qmeta.p);
    free(s->orig.p);
    for (int i = 0; i < s->nst; i++)
        free(s->st[i].data.p);
    free(s->st);
}

int pg_torch_export_int8(const pg_model *m, uint8_t **out, size_t *out_len)
{
    export_state s;
    memset(&s, 0, sizeof s);
    bytes pkl = {0}, zip = {0};
    int rc = -1;
    if (!pg_config_is_baseline_graph(&m->cfg))
        return pg_fail("the int8_clean_per_row_v1 file is the baseline train_gpt.py's format; "
                       "this model uses options of the records' family (DESIGN 11: ROPE_DIMS, LN_SCALE, "
                       "XSA_LAST_N, NUM_LOOPS, PARALLEL_START_LAYER, the gates or SmearGate), "
                       "which that script cannot load");
    for (int i = 0; i < m->num_tensors; i++) {
        const pg_tensor_info *t = &m->tensors[i];
        if (add_tensor(&s, t, m->params + t->offset) != 0)
            goto done;
    }
    const bytes *parts[] = {&s.quantized, &s.scales, &s.dtypes, &s.passthrough, &s.qmeta, &s.orig};
    for (int i = 0; i < s.nst; i++)
        if (s.st[i].data.oom)
            goto done;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (parts[i]->oom)
            goto done;
    uint8_t proto[2] = {0x80, 2};
    put(&pkl, proto, 2);
    op(&pkl, '}');
    op(&pkl, '(');
    p_str(&pkl, "__quant_format__");
    p_str(&pkl, "int8_clean_per_row_v1");
    p_dict_item(&pkl, "quantized", &s.quantized);
    p_dict_item(&pkl, "scales", &s.scales);
    p_dict_item(&pkl, "dtypes", &s.dtypes);
    p_dict_item(&pkl, "passthrough", &s.passthrough);
    if (s.qmeta.n)
        p_dict_item(&pkl, "qmeta", &s.qmeta);
    if (s.no)
        p_dict_item(&pkl, "passthrough_orig_dtypes", &s.orig);
    op(&pkl, 'u');
    op(&pkl, '.');
    if (pkl.oom || write_zip(&pkl, &s, &zip) != 0)
        goto done;
    uLongf zn = compressBound((uLong)zip.n);
    uint8_t *z = malloc(zn);
    if (!z || compress2(z, &zn, zip.p, (uLong)zip.n, 9) != Z_OK) {
        free(z);
        goto done;
    }
    *out = z;
    *out_len = zn;
    rc = 0;
done:
    free(pkl.p);
    free(zip.p);
    free_state(&s);
    return rc == 0 ? 0 : pg_fail("exporting int8_clean_per_row_v1: out of memory or zip error");
}
