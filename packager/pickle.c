/* The restricted unpickler (see pickle.h): a stack machine over the opcodes torch.save
 * emits, with bounds on the stack, the memo and the number of values. */
#include "packager/pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* More values than any state dict of a model under PG_MAX_PARAMS needs. */
#define MAX_VALUES ((size_t)1 << 22)
/* Entries of one dict (keys are compared on insert, so this also bounds the time). */
#define MAX_DICT 16384

static const struct {
    const char *name, *storage;
    size_t size;
} dtypes[PG_DT_COUNT] = {
    [PG_DT_F32] = {"float32", "FloatStorage", 4},   [PG_DT_F16] = {"float16", "HalfStorage", 2},
    [PG_DT_BF16] = {"bfloat16", "BFloat16Storage", 2}, [PG_DT_F64] = {"float64", "DoubleStorage", 8},
    [PG_DT_I8] = {"int8", "CharStorage", 1},        [PG_DT_U8] = {"uint8", "ByteStorage", 1},
    [PG_DT_I16] = {"int16", "ShortStorage", 2},     [PG_DT_I32] = {"int32", "IntStorage", 4},
    [PG_DT_I64] = {"int64", "LongStorage", 8},      [PG_DT_BOOL] = {"bool", "BoolStorage", 1},
};

const char *pg_dtype_name(pg_dtype d) { return d < PG_DT_COUNT ? dtypes[d].name : "?"; }
size_t pg_dtype_size(pg_dtype d) { return d < PG_DT_COUNT ? dtypes[d].size : 0; }

int pg_dtype_parse(const char *name, pg_dtype *d)
{
    for (int i = 0; i < PG_DT_COUNT; i++)
        if (strcmp(name, dtypes[i].name) == 0) {
            *d = (pg_dtype)i;
            return 0;
        }
    return -1;
}

typedef struct {
    const char *where;
    const uint8_t *buf;
    size_t len, pos, op_at;
    pg_pickle *p;
    pg_py **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t nmarks, marks_cap;
    pg_py **memo;
    size_t memo_cap;
    size_t memo_next; /* MEMOIZE's index */
} machine;

static int fail(machine *m, const char *what)
{
    return pg_fail("%s: pickle opcode at byte %zu: %s", m->where, m->op_at, what);
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *a = realloc(*arr, nc * elem);
    if (!a)
        return -1;
    *arr = a;
    *cap = nc;
    return 0;
}

static pg_py *new_value(machine *m, pg_py_kind kind)
{
    pg_pickle *p = m->p;
    if (p->n >= MAX_VALUES) {
        fail(m, "more values than any state dict holds");
        return NULL;
    }
    pg_py *v = calloc(1, sizeof *v);
    if (!v || grow((void **)&p->all, &p->cap, p->n + 1, sizeof *p->all) != 0) {
        free(v);
        fail(m, "out of memory");
        return NULL;
    }
    v->kind = kind;
    p->all[p->n++] = v;
    return v;
}

static int push(machine *m, pg_py *v)
{
    if (!v)
        return -1;
    if (grow((void **)&m->stack, &m->stack_cap, m->sp + 1, sizeof *m->stack) != 0)
        return fail(m, "out of memory");
    m->stack[m->sp++] = v;
    return 0;
}

static pg_py *pop(machine *m)
{
    size_t floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;
    if (m->sp <= floor) {
        fail(m, "stack underflow");
        return NULL;
    }
    return m->stack[--m->sp];
}

static pg_py *top(machine *m)
{
    size_t floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;
    if (m->sp <= floor) {
        fail(m, "stack underflow");
        return NULL;
    }
    return m->stack[m->sp - 1];
}

/* Pops everything above the last MARK; *base is where those items start. */
static int pop_mark(machine *m, size_t *base)
{
    if (!m->nmarks)
        return fail(m, "no MARK to pop to");
    *base = m->marks[--m->nmarks];
    return 0;
}

static int take(machine *m, size_t n, const uint8_t **out)
{
    if (n > m->len - m->pos)
        return fail(m, "truncated");
    *out = m->buf + m->pos;
    m->pos += n;
    return 0;
}

static uint64_t le(const uint8_t *b, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

static int read_uint(machine *m, int n, uint64_t *v)
{
    const uint8_t *b = NULL;
    if (take(m, (size_t)n, &b) != 0)
        return -1;
    *v = le(b, n);
    return 0;
}

static pg_py *new_string(machine *m, pg_py_kind kind, const uint8_t *s, size_t n)
{
    pg_py *v = new_value(m, kind);
    if (!v)
        return NULL;
    v->u.str.s = malloc(n + 1);
    if (!v->u.str.s) {
        fail(m, "out of memory");
        return NULL;
    }
    memcpy(v->u.str.s, s, n);
    v->u.str.s[n] = 0;
    v->u.str.n = n;
    return v;
}

static int push_string(machine *m, pg_py_kind kind, int len_bytes)
{
    uint64_t n = 0;
    const uint8_t *s = NULL;
    if (read_uint(m, len_bytes, &n) != 0 || take(m, n, &s) != 0)
        return -1;
    return push(m, new_string(m, kind, s, (size_t)n));
}

static int seq_append(machine *m, pg_py *seq, pg_py *item)
{
    if (grow((void **)&seq->u.seq.items, &seq->u.seq.cap, seq->u.seq.n + 1, sizeof(pg_py *)) != 0)
        return fail(m, "out of memory");
    seq->u.seq.items[seq->u.seq.n++] = item;
    return 0;
}

static int dict_set(machine *m, pg_py *d, pg_py *k, pg_py *v)
{
    if (d->kind != PG_PY_DICT)
        return fail(m, "SETITEM on something that is not a dict");
    if (d->u.dict.n >= MAX_DICT)
        return fail(m, "a dict with more entries than any state dict has");
    for (size_t i = 0; i < d->u.dict.n; i++) {
        const pg_py *o = d->u.dict.keys[i];
        if (o->kind == PG_PY_STR && k->kind == PG_PY_STR && strcmp(o->u.str.s, k->u.str.s) == 0) {
            d->u.dict.vals[i] = v;
            return 0;
        }
    }
    size_t cap = d->u.dict.cap;
    if (grow((void **)&d->u.dict.keys, &cap, d->u.dict.n + 1, sizeof(pg_py *)) != 0 ||
        grow((void **)&d->u.dict.vals, &d->u.dict.cap, d->u.dict.n + 1, sizeof(pg_py *)) != 0)
        return fail(m, "out of memory");
    d->u.dict.keys[d->u.dict.n] = k;
    d->u.dict.vals[d->u.dict.n++] = v;
    return 0;
}

static int make_tuple(machine *m, size_t base)
{
    pg_py *t = new_value(m, PG_PY_TUPLE);
    if (!t)
        return -1;
    for (size_t i = base; i < m->sp; i++)
        if (seq_append(m, t, m->stack[i]) != 0)
            return -1;
    m->sp = base;
    return push(m, t);
}

/* The whitelist: state-dict types only. */
static pg_py *resolve_global(machine *m, const char *mod, const char *name)
{
    int kind = -1;
    pg_dtype dt = PG_DT_F32;
    if (strcmp(mod, "collections") == 0 && strcmp(name, "OrderedDict") == 0)
        kind = PG_GLOBAL_ORDERED_DICT;
    else if (strcmp(mod, "torch._utils") == 0 && strcmp(name, "_rebuild_tensor_v2") == 0)
        kind = PG_GLOBAL_REBUILD_TENSOR;
    else if (strcmp(mod, "torch._utils") == 0 && strcmp(name, "_rebuild_parameter") == 0)
        kind = PG_GLOBAL_REBUILD_PARAMETER;
    else if (strcmp(mod, "torch") == 0)
        for (int i = 0; i < PG_DT_COUNT && kind < 0; i++) {
            if (strcmp(name, dtypes[i].storage) == 0)
                kind = PG_GLOBAL_STORAGE;
            else if (strcmp(name, dtypes[i].name) == 0)
                kind = PG_GLOBAL_DTYPE;
            dt = (pg_dtype)i;
        }
    if (kind < 0) {
        pg_fail("%s: pickle opcode at byte %zu: global %.64s.%.64s is not allowed (only "
                "state-dict types are)",
                m->where, m->op_at, mod, name);
        return NULL;
    }
    pg_py *g = new_value(m, PG_PY_GLOBAL);
    if (g) {
        g->u.global.kind = kind;
        g->u.global.dtype = dt;
    }
    return g;
}

static int is_int_tuple(const pg_py *t, int64_t lo, int64_t *out, int *n)
{
    if (t->kind != PG_PY_TUPLE || t->u.seq.n > PG_PY_MAX_DIMS)
        return 0;
    for (size_t i = 0; i < t->u.seq.n; i++) {
        const pg_py *x = t->u.seq.items[i];
        if (x->kind != PG_PY_INT || x->u.i < lo)
            return 0;
        out[i] = x->u.i;
    }
    *n = (int)t->u.seq.n;
    return 1;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, meta]):
 * the tensor's last element must lie inside its storage. */
static pg_py *rebuild_tensor(machine *m, const pg_py *args)
{
    if (args->kind != PG_PY_TUPLE || args->u.seq.n < 4) {
        fail(m, "_rebuild_tensor_v2 needs (storage, offset, size, stride, ...)");
        return NULL;
    }
    pg_py *const *a = args->u.seq.items;
    pg_py *t = new_value(m, PG_PY_TENSOR);
    if (!t)
        return NULL;
    int nd, ns;
    if (a[0]->kind != PG_PY_STORAGE || a[1]->kind != PG_PY_INT || a[1]->u.i < 0 ||
        !is_int_tuple(a[2], 0, t->u.tensor.shape, &nd) ||
        !is_int_tuple(a[3], 0, t->u.tensor.stride, &ns) || nd != ns) {
        fail(m, "_rebuild_tensor_v2 arguments are not a storage, an offset >= 0 and "
                "size/stride tuples of at most 8 non-negative integers of equal length");
        return NULL;
    }
    t->u.tensor.dtype = a[0]->u.storage.dtype;
    memcpy(t->u.tensor.key, a[0]->u.storage.key, sizeof t->u.tensor.key);
    t->u.tensor.storage_numel = a[0]->u.storage.numel;
    t->u.tensor.offset = a[1]->u.i;
    t->u.tensor.ndim = nd;
    /* last index = offset + sum (size_i - 1) * stride_i, computed without overflow */
    uint64_t last = (uint64_t)t->u.tensor.offset, numel = 1;
    for (int i = 0; i < nd; i++) {
        uint64_t sz = (uint64_t)t->u.tensor.shape[i], st = (uint64_t)t->u.tensor.stride[i];
        if (sz == 0)
            numel = 0;
        else if (__builtin_mul_overflow(numel, sz, &numel))
            numel = UINT64_MAX;
        uint64_t span;
        if (sz && (__builtin_mul_overflow(sz - 1, st, &span) || __builtin_add_overflow(last, span, &last)))
            last = UINT64_MAX;
    }
    if (numel > (uint64_t)t->u.tensor.storage_numel) {
        fail(m, "a tensor has more elements than its storage");
        return NULL;
    }
    if (numel && last >= (uint64_t)t->u.tensor.storage_numel) {
        fail(m, "a tensor reaches past the end of its storage (size, stride or offset too large)");
        return NULL;
    }
    return t;
}

static int do_reduce(machine *m)
{
    pg_py *args = pop(m), *fn = args ? pop(m) : NULL;
    if (!fn)
        return -1;
    if (fn->kind != PG_PY_GLOBAL || fn->u.global.kind == PG_GLOBAL_STORAGE ||
        fn->u.global.kind == PG_GLOBAL_DTYPE)
        return fail(m, "REDUCE on something other than OrderedDict or a tensor rebuild");
    if (args->kind != PG_PY_TUPLE)
        return fail(m, "REDUCE arguments are not a tuple");
    switch (fn->u.global.kind) {
    case PG_GLOBAL_ORDERED_DICT:
        if (args->u.seq.n != 0)
            return fail(m, "OrderedDict with arguments");
        return push(m, new_value(m, PG_PY_DICT));
    case PG_GLOBAL_REBUILD_TENSOR:
        return push(m, rebuild_tensor(m, args));
    default: /* _rebuild_parameter(data, requires_grad, hooks) is its data */
        if (args->u.seq.n < 1 || args->u.seq.items[0]->kind != PG_PY_TENSOR)
            return fail(m, "_rebuild_parameter without a tensor");
        return push(m, args->u.seq.items[0]);
    }
}

/* BINPERSID ('storage', StorageType, key, location, numel): a storage in the zip. */
static int do_persid(machine *m)
{
    pg_py *pid = pop(m);
    if (!pid)
        return -1;
    pg_py *const *a = pid->kind == PG_PY_TUPLE ? pid->u.seq.items : NULL;
    if (!a || pid->u.seq.n != 5 || a[0]->kind != PG_PY_STR || strcmp(a[0]->u.str.s, "storage") != 0 ||
        a[1]->kind != PG_PY_GLOBAL || a[1]->u.global.kind != PG_GLOBAL_STORAGE ||
        a[2]->kind != PG_PY_STR || a[4]->kind != PG_PY_INT || a[4]->u.i < 0)
        return fail(m, "persistent id is not ('storage', type, key, location, numel)");
    const char *key = a[2]->u.str.s;
    size_t kn = a[2]->u.str.n;
    if (kn == 0 || kn >= sizeof(((pg_py *)0)->u.storage.key) || strspn(key,
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != kn)
        return fail(m, "storage key is not a short alphanumeric name");
    pg_py *s = new_value(m, PG_PY_STORAGE);
    if (!s)
        return -1;
    s->u.storage.dtype = a[1]->u.global.dtype;
    memcpy(s->u.storage.key, key, kn + 1);
    s->u.storage.numel = a[4]->u.i;
    return push(m, s);
}

static int memo_put(machine *m, uint64_t idx)
{
    pg_py *v = top(m);
    if (!v)
        return -1;
    if (idx >= MAX_VALUES)
        return fail(m, "memo index out of range");
    size_t old = m->memo_cap;
    if (grow((void **)&m->memo, &m->memo_cap, (size_t)idx + 1, sizeof *m->memo) != 0)
        return fail(m, "out of memory");
    memset(m->memo + old, 0, (m->memo_cap - old) * sizeof *m->memo);
    m->memo[idx] = v;
    return 0;
}

static int memo_get(machine *m, uint64_t idx)
{
    if (idx >= m->memo_cap || !m->memo[idx])
        return fail(m, "memo GET of an index never PUT");
    return push(m, m->memo[idx]);
}

static int do_global(machine *m)
{
    /* GLOBAL "module\nname\n" */
    const char *s = (const char *)m->buf + m->pos;
    size_t rest = m->len - m->pos;
    const char *nl1 = memchr(s, '\n', rest);
    const char *nl2 = nl1 ? memchr(nl1 + 1, '\n', rest - (size_t)(nl1 + 1 - s)) : NULL;
    if (!nl2 || nl1 - s > 128 || nl2 - nl1 > 129)
        return fail(m, "GLOBAL without two short newline-terminated names");
    char mod[130], name[130];
    snprintf(mod, sizeof mod, "%.*s", (int)(nl1 - s), s);
    snprintf(name, sizeof name, "%.*s", (int)(nl2 - nl1 - 1), nl1 + 1);
    m->pos += (size_t)(nl2 + 1 - s);
    return push(m, resolve_global(m, mod, name));
}

static int do_stack_global(machine *m)
{
    pg_py *name = pop(m), *mod = name ? pop(m) : NULL;
    if (!mod)
        return -1;
    if (mod->kind != PG_PY_STR || name->kind != PG_PY_STR)
        return fail(m, "STACK_GLOBAL of non-strings");
    return push(m, resolve_global(m, mod->u.str.s, name->u.str.s));
}

static int do_setitems(machine *m)
{
    size_t base = 0;
    if (pop_mark(m, &base) != 0)
        return -1;
    if (base == 0 || (m->sp - base) % 2)
        return fail(m, "SETITEMS without a dict or with an odd number of items");
    pg_py *d = m->stack[base - 1];
    for (size_t i = base; i < m->sp; i += 2)
        if (dict_set(m, d, m->stack[i], m->stack[i + 1]) != 0)
            return -1;
    m->sp = base;
    return 0;
}

static int do_appends(machine *m)
{
    size_t base = 0;
    if (pop_mark(m, &base) != 0)
        return -1;
    if (base == 0 || m->stack[base - 1]->kind != PG_PY_LIST)
        return fail(m, "APPENDS without a list");
    for (size_t i = base; i < m->sp; i++)
        if (seq_append(m, m->stack[base - 1], m->stack[i]) != 0)
            return -1;
    m->sp = base;
    return 0;
}

static int step(machine *m, int *done)
{
    const uint8_t *b = NULL;
    uint64_t u = 0;
    m->op_at = m->pos;
    if (take(m, 1, &b) != 0)
        return -1;
    uint8_t op = b[0];
    pg_py *v, *k;
    size_t base = 0;
    switch (op) {
    case 0x80: /* PROTO */
        if (read_uint(m, 1, &u) != 0)
            return -1;
        return u >= 2 && u <= 5 ? 0 : fail(m, "pickle protocol outside 2..5");
    case 0x95: return read_uint(m, 8, &u); /* FRAME: a length hint */
    case '.': *done = 1; return 0;
    case '(':
        if (grow((void **)&m->marks, &m->marks_cap, m->nmarks + 1, sizeof *m->marks) != 0)
            return fail(m, "out of memory");
        m->marks[m->nmarks++] = m->sp;
        return 0;
    case '}': return push(m, new_value(m, PG_PY_DICT));
    case ']': return push(m, new_value(m, PG_PY_LIST));
    case ')': return push(m, new_value(m, PG_PY_TUPLE));
    case 'N': return push(m, new_value(m, PG_PY_NONE));
    case 0x88: case 0x89:
        if (!(v = new_value(m, PG_PY_BOOL)))
            return -1;
        v->u.i = op == 0x88;
        return push(m, v);
    case 'J': case 'K': case 'M': {
        int n = op == 'J' ? 4 : op == 'K' ? 1 : 2;
        if (read_uint(m, n, &u) != 0 || !(v = new_value(m, PG_PY_INT)))
            return -1;
        v->u.i = n == 4 ? (int64_t)(int32_t)u : (int64_t)u;
        return push(m, v);
    }
    case 0x8a: { /* LONG1: little-endian two's complement of n <= 8 bytes */
        if (read_uint(m, 1, &u) != 0)
            return -1;
        if (u > 8)
            return fail(m, "integer wider than 64 bits");
        int n = (int)u;
        if (take(m, (size_t)n, &b) != 0 || !(v = new_value(m, PG_PY_INT)))
            return -1;
        uint64_t x = n ? le(b, n) : 0;
        if (n && n < 8 && (b[n - 1] & 0x80))
            x |= ~(uint64_t)0 << (8 * n);
        v->u.i = (int64_t)x;
        return push(m, v);
    }
    case 'G': { /* BINFLOAT: big-endian double */
        if (take(m, 8, &b) != 0 || !(v = new_value(m, PG_PY_FLOAT)))
            return -1;
        uint64_t x = 0;
        for (int i = 0; i < 8; i++)
            x = x << 8 | b[i];
        memcpy(&v->u.f, &x, 8);
        return push(m, v);
    }
    case 'X': return push_string(m, PG_PY_STR, 4);
    case 0x8c: return push_string(m, PG_PY_STR, 1);
    case 0x8d: return push_string(m, PG_PY_STR, 8);
    case 'B': return push_string(m, PG_PY_BYTES, 4);
    case 'C': return push_string(m, PG_PY_BYTES, 1);
    case 0x8e: return push_string(m, PG_PY_BYTES, 8);
    case 'q': return read_uint(m, 1, &u) != 0 ? -1 : memo_put(m, u);
    case 'r': return read_uint(m, 4, &u) != 0 ? -1 : memo_put(m, u);
    case 0x94: return memo_put(m, m->memo_next++);
    case 'h': return read_uint(m, 1, &u) != 0 ? -1 : memo_get(m, u);
    case 'j': return read_uint(m, 4, &u) != 0 ? -1 : memo_get(m, u);
    case 't': return pop_mark(m, &base) != 0 ? -1 : make_tuple(m, base);
    case 0x85: case 0x86: case 0x87: {
        size_t n = (size_t)(op - 0x84), floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;
        if (m->sp - floor < n)
            return fail(m, "stack underflow");
        return make_tuple(m, m->sp - n);
    }
    case 'l': case 'd': /* LIST, DICT from the items above MARK */
        if (pop_mark(m, &base) != 0 || !(v = new_value(m, op == 'l' ? PG_PY_LIST : PG_PY_DICT)))
            return -1;
        if (op == 'd' && (m->sp - base) % 2)
            return fail(m, "DICT with an odd number of items");
        for (size_t i = base; i < m->sp; i += op == 'l' ? 1 : 2)
            if ((op == 'l' ? seq_append(m, v, m->stack[i])
                           : dict_set(m, v, m->stack[i], m->stack[i + 1])) != 0)
                return -1;
        m->sp = base;
        return push(m, v);
    case 's':
        if (!(v = pop(m)) || !(k = pop(m)) || !top(m))
            return -1;
        return dict_set(m, top(m), k, v);
    case 'u': return do_setitems(m);
    case 'a':
        if (!(v = pop(m)) || !top(m))
            return -1;
        if (top(m)->kind != PG_PY_LIST)
            return fail(m, "APPEND to something that is not a list");
        return seq_append(m, top(m), v);
    case 'e': return do_appends(m);
    case 'c': return do_global(m);
    case 0x93: return do_stack_global(m);
    case 'R': return do_reduce(m);
    case 'Q': return do_persid(m);
    case 'b': /* BUILD: only an OrderedDict's attributes (state_dict's _metadata) */
        if (!(v = pop(m)) || !top(m))
            return -1;
        if (top(m)->kind != PG_PY_DICT || (v->kind != PG_PY_DICT && v->kind != PG_PY_NONE &&
                                           v->kind != PG_PY_TUPLE))
            return fail(m, "BUILD on something other than a dict");
        return 0;
    case '0': return pop(m) ? 0 : -1; /* POP */
    default: {
        char msg[64];
        snprintf(msg, sizeof msg, "opcode 0x%02x is not allowed", op);
        return fail(m, msg);
    }
    }
}

int pg_pickle_load(const char *where, const uint8_t *buf, size_t len, pg_pickle *out)
{
    memset(out, 0, sizeof *out);
    machine m = {.where = where, .buf = buf, .len = len, .p = out};
    int done = 0, rc = 0;
    while (!done && rc == 0) {
        if (m.pos == len) {
            rc = pg_fail("%s: pickle ends without STOP", where);
            break;
        }
        rc = step(&m, &done);
    }
    if (rc == 0 && (m.sp != 1 || m.nmarks))
        rc = pg_fail("%s: pickle stops with %zu values and %zu marks on the stack (want 1, 0)",
                     where, m.sp, m.nmarks);
    if (rc == 0)
        out->root = m.stack[0];
    free(m.stack);
    free(m.marks);
    free(m.memo);
    if (rc != 0)
        pg_pickle_free(out);
    return rc;
}

void pg_pickle_free(pg_pickle *p)
{
    for (size_t i = 0; i < p->n; i++) {
        pg_py *v = p->all[i];
        if (v->kind == PG_PY_STR || v->kind == PG_PY_BYTES)
            free(v->u.str.s);
        else if (v->kind == PG_PY_TUPLE || v->kind == PG_PY_LIST)
            free(v->u.seq.items);
        else if (v->kind == PG_PY_DICT) {
            free(v->u.dict.keys);
            free(v->u.dict.vals);
        }
        free(v);
    }
    free(p->all);
    memset(p, 0, sizeof *p);
}

const pg_py *pg_py_get(const pg_py *d, const char *key)
{
    if (!d || d->kind != PG_PY_DICT)
        return NULL;
    for (size_t i = 0; i < d->u.dict.n; i++)
        if (d->u.dict.keys[i]->kind == PG_PY_STR && strcmp(d->u.dict.keys[i]->u.str.s, key) == 0)
            return d->u.dict.vals[i];
    return NULL;
}

size_t pg_py_numel(const pg_py *t)
{
    size_t n = 1;
    for (int i = 0; i < t->u.tensor.ndim; i++)
        n *= (size_t)t->u.tensor.shape[i];
    return n;
}
