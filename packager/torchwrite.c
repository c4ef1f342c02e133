#include "packager/torchwrite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "packager/quantize.h"

void pg_bytes_put(pg_bytes *b, const void *src, size_t n)
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

void pg_bytes_op(pg_bytes *b, uint8_t c) { pg_bytes_put(b, &c, 1); }

void pg_bytes_f16(pg_bytes *b, float f)
{
    uint16_t h = pg_f32_to_f16(f);
    uint8_t x[2] = {(uint8_t)h, (uint8_t)(h >> 8)};
    pg_bytes_put(b, x, 2);
}

/* ---- pickle protocol 2, as torch.save writes it ---------------------------------------- */

void pg_pkl_str(pg_bytes *b, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    uint8_t le[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    pg_bytes_op(b, 'X');
    pg_bytes_put(b, le, 4);
    pg_bytes_put(b, s, n);
}

void pg_pkl_int(pg_bytes *b, int64_t v)
{
    if (v >= 0 && v < 256) {
        uint8_t x[2] = {'K', (uint8_t)v};
        pg_bytes_put(b, x, 2);
    } else { /* LONG1 with 8 bytes covers every int64 */
        uint8_t x[10] = {0x8a, 8};
        for (int i = 0; i < 8; i++)
            x[2 + i] = (uint8_t)((uint64_t)v >> (8 * i));
        pg_bytes_put(b, x, 10);
    }
}

static void p_global(pg_bytes *b, const char *module, const char *name)
{
    pg_bytes_op(b, 'c');
    pg_bytes_put(b, module, strlen(module));
    pg_bytes_op(b, '\n');
    pg_bytes_put(b, name, strlen(name));
    pg_bytes_op(b, '\n');
}

void pg_pkl_tensor(pg_bytes *b, const char *storage_type, int key, int ndim, const int64_t *shape)
{
    char k[16];
    snprintf(k, sizeof k, "%d", key);
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++)
        numel *= shape[d];
    p_global(b, "torch._utils", "_rebuild_tensor_v2");
    pg_bytes_op(b, '(');
    pg_bytes_op(b, '(');
    pg_pkl_str(b, "storage");
    p_global(b, "torch", storage_type);
    pg_pkl_str(b, k);
    pg_pkl_str(b, "cpu");
    pg_pkl_int(b, numel);
    pg_bytes_op(b, 't');
    pg_bytes_op(b, 'Q');
    pg_pkl_int(b, 0);
    pg_bytes_op(b, '(');
    for (int d = 0; d < ndim; d++)
        pg_pkl_int(b, shape[d]);
    pg_bytes_op(b, 't');
    pg_bytes_op(b, '(');
    int64_t stride = 1, strides[3] = {0, 0, 0};
    for (int d = ndim - 1; d >= 0; d--) {
        strides[d] = stride;
        stride *= shape[d];
    }
    for (int d = 0; d < ndim; d++)
        pg_pkl_int(b, strides[d]);
    pg_bytes_op(b, 't');
    pg_bytes_op(b, 0x89); /* requires_grad False */
    p_global(b, "collections", "OrderedDict");
    pg_bytes_op(b, ')');
    pg_bytes_op(b, 'R');
    pg_bytes_op(b, 't');
    pg_bytes_op(b, 'R');
}

void pg_pkl_dict_item(pg_bytes *b, const char *key, const pg_bytes *body)
{
    pg_pkl_str(b, key);
    pg_bytes_op(b, '}');
    if (body->n) {
        pg_bytes_op(b, '(');
        pg_bytes_put(b, body->p, body->n);
        pg_bytes_op(b, 'u');
    }
}

/* ---- storages and the zip ------------------------------------------------------------- */

pg_storage *pg_storage_new(pg_storages *s, const char *type)
{
    pg_storage *n = realloc(s->st, (size_t)(s->n + 1) * sizeof *n);
    if (!n)
        return NULL;
    s->st = n;
    memset(&n[s->n], 0, sizeof n[s->n]);
    n[s->n].type = type;
    return &n[s->n++];
}

int pg_storages_oom(const pg_storages *s)
{
    for (int i = 0; i < s->n; i++)
        if (s->st[i].data.oom)
            return 1;
    return 0;
}

void pg_storages_free(pg_storages *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->st[i].data.p);
    free(s->st);
    memset(s, 0, sizeof *s);
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

int pg_torch_zip(const pg_bytes *pkl, const pg_storages *s, pg_bytes *zip)
{
    size_t cap = pkl->n + 1024 * (size_t)(s->n + 4);
    for (int i = 0; i < s->n; i++)
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
        for (int i = 0; i < s->n && rc == 0; i++) {
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
