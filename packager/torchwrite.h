/* Writing torch.save files: a growable byte buffer, the pickle protocol 2 opcodes
 * torch.save emits for dicts of strings, ints and contiguous tensors, the storages behind
 * the tensors, and torch.save's zip (archive/data.pkl, archive/data/<key>,
 * archive/version, archive/byteorder; stored, not deflated). Shared by the official int8
 * export (torchexport.c) and the April records' {"w","m"} export (torchexport_records.c). */
#ifndef PG_TORCHWRITE_H
#define PG_TORCHWRITE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *p;
    size_t n, cap;
    int oom; /* a growth failed: every later put is dropped */
} pg_bytes;

void pg_bytes_put(pg_bytes *b, const void *src, size_t n);
void pg_bytes_op(pg_bytes *b, uint8_t c);
void pg_bytes_f16(pg_bytes *b, float f); /* IEEE half, little-endian */

void pg_pkl_str(pg_bytes *b, const char *s);
void pg_pkl_int(pg_bytes *b, int64_t v);
/* A contiguous tensor over storage `key`: _rebuild_tensor_v2(('storage', T, key, 'cpu',
 * numel), 0, size, stride, False, OrderedDict()); ndim 0..3. */
void pg_pkl_tensor(pg_bytes *b, const char *storage_type, int key, int ndim, const int64_t *shape);
/* "key": {body}, body being SETITEMS' key/value pairs (may be empty). */
void pg_pkl_dict_item(pg_bytes *b, const char *key, const pg_bytes *body);

typedef struct {
    pg_bytes data;    /* the storage's raw bytes */
    const char *type; /* "CharStorage", "HalfStorage", "FloatStorage" */
} pg_storage;

typedef struct {
    pg_storage *st;
    int n;
} pg_storages;

/* A new empty storage (its key is its index, s->n - 1 after the call); NULL when out of
 * memory. */
pg_storage *pg_storage_new(pg_storages *s, const char *type);
/* Whether any storage's buffer ran out of memory. */
int pg_storages_oom(const pg_storages *s);
void pg_storages_free(pg_storages *s);

/* torch.save's zip of the pickle and the storages into *zip (malloc'ed). */
int pg_torch_zip(const pg_bytes *pkl, const pg_storages *s, pg_bytes *zip);

#endif
