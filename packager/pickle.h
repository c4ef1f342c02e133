/* A restricted, bounded reader of the pickles inside torch.save files (data.pkl).
 *
 * It never executes anything: the only callables it knows are the few a state dict
 * needs (collections.OrderedDict, torch._utils._rebuild_tensor_v2 and
 * _rebuild_parameter), the torch storage types and dtypes; every other global, and every
 * opcode outside the protocol-2..5 subset that torch.save emits, is refused with a
 * message naming it and its byte offset. Tensors come out as descriptions (dtype, shape,
 * strides, offset, storage key) whose extent is checked against their storage's element
 * count; the bytes themselves are read from the zip by the caller. Every value lives in
 * one arena freed by pg_pickle_free, so shared (memoized) references and even cycles are
 * harmless. */
#ifndef PG_PICKLE_H
#define PG_PICKLE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    PG_PY_NONE, PG_PY_BOOL, PG_PY_INT, PG_PY_FLOAT, PG_PY_STR, PG_PY_BYTES,
    PG_PY_TUPLE, PG_PY_LIST, PG_PY_DICT, PG_PY_GLOBAL, PG_PY_STORAGE, PG_PY_TENSOR
} pg_py_kind;

/* torch dtypes a state dict may hold. */
typedef enum {
    PG_DT_F32, PG_DT_F16, PG_DT_BF16, PG_DT_F64, PG_DT_I8, PG_DT_U8, PG_DT_I16, PG_DT_I32,
    PG_DT_I64, PG_DT_BOOL, PG_DT_COUNT
} pg_dtype;

const char *pg_dtype_name(pg_dtype d); /* "float32", ... as str(torch.dtype) without "torch." */
size_t pg_dtype_size(pg_dtype d);
int pg_dtype_parse(const char *name, pg_dtype *d);

enum { PG_GLOBAL_ORDERED_DICT, PG_GLOBAL_REBUILD_TENSOR, PG_GLOBAL_REBUILD_PARAMETER,
       PG_GLOBAL_STORAGE, PG_GLOBAL_DTYPE };

#define PG_PY_MAX_DIMS 8

typedef struct pg_py pg_py;
struct pg_py {
    pg_py_kind kind;
    union {
        int64_t i;   /* BOOL (0/1), INT */
        double f;    /* FLOAT */
        struct {
            char *s; /* NUL-terminated (BYTES may hold NULs: use n) */
            size_t n;
        } str;
        struct {
            pg_py **items;
            size_t n, cap;
        } seq; /* TUPLE, LIST */
        struct {
            pg_py **keys, **vals;
            size_t n, cap;
        } dict;
        struct {
            int kind; /* PG_GLOBAL_* */
            pg_dtype dtype;
        } global;
        struct {
            pg_dtype dtype;
            char key[32];
            int64_t numel;
        } storage;
        struct {
            pg_dtype dtype;
            char key[32];
            int64_t storage_numel, offset;
            int ndim;
            int64_t shape[PG_PY_MAX_DIMS], stride[PG_PY_MAX_DIMS];
        } tensor;
    } u;
};

typedef struct {
    pg_py **all; /* every value allocated, freed together */
    size_t n, cap;
    pg_py *root;
} pg_pickle;

/* Reads buf as a pickle; `where` names it in messages ("model.pt:data.pkl"). */
int pg_pickle_load(const char *where, const uint8_t *buf, size_t len, pg_pickle *out);
void pg_pickle_free(pg_pickle *p);

/* The value of a DICT under a string key, or NULL. */
const pg_py *pg_py_get(const pg_py *dict, const char *key);
/* The tensor's element count (its shape's product; shapes are checked at load). */
size_t pg_py_numel(const pg_py *tensor);

#endif
