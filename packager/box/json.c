/* The Jansson subset of include/jansson.h for the box build (see there). Values are
 * reference counted; objects are arrays of members in insertion order (headers hold tens
 * of keys, so lookups are linear). */
#include <jansson.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"

#define MAX_DEPTH 2048

typedef struct {
    char *key;
    json_t *value;
} member;

struct json_t {
    json_type type;
    size_t refcount; /* 0: a shared constant (true, false, null) */
    union {
        struct {
            member *m;
            size_t n, cap;
        } obj;
        struct {
            json_t **v;
            size_t n, cap;
        } arr;
        char *str;
        json_int_t i;
        double r;
    } u;
};

static json_t json_true_value = {JSON_TRUE, 0, {.i = 0}};
static json_t json_false_value = {JSON_FALSE, 0, {.i = 0}};
static json_t json_null_value = {JSON_NULL, 0, {.i = 0}};

json_type json_typeof(const json_t *j) { return j->type; }

static json_t *new_value(json_type t)
{
    json_t *j = calloc(1, sizeof *j);
    if (j) {
        j->type = t;
        j->refcount = 1;
    }
    return j;
}

json_t *json_object(void) { return new_value(JSON_OBJECT); }
json_t *json_array(void) { return new_value(JSON_ARRAY); }
json_t *json_true(void) { return &json_true_value; }
json_t *json_false(void) { return &json_false_value; }
json_t *json_null(void) { return &json_null_value; }

/* Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static int utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n)
            return 0;
        unsigned cp = len == 1 ? c : c & (0x7f >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

/* Takes ownership of s. */
static json_t *string_own(char *s)
{
    json_t *j = s ? new_value(JSON_STRING) : NULL;
    if (!j)
        free(s);
    else
        j->u.str = s;
    return j;
}

json_t *json_string(const char *s)
{
    if (!s || !utf8_valid((const unsigned char *)s, strlen(s)))
        return NULL;
    return string_own(strdup(s));
}

json_t *json_integer(json_int_t v)
{
    json_t *j = new_value(JSON_INTEGER);
    if (j)
        j->u.i = v;
    return j;
}

json_t *json_real(double v)
{
    if (!isfinite(v))
        return NULL;
    json_t *j = new_value(JSON_REAL);
    if (j)
        j->u.r = v;
    return j;
}

json_t *json_incref(json_t *j)
{
    if (j && j->refcount)
        j->refcount++;
    return j;
}

void json_decref(json_t *j)
{
    if (!j || !j->refcount || --j->refcount)
        return;
    if (j->type == JSON_OBJECT) {
        for (size_t i = 0; i < j->u.obj.n; i++) {
            free(j->u.obj.m[i].key);
            json_decref(j->u.obj.m[i].value);
        }
        free(j->u.obj.m);
    } else if (j->type == JSON_ARRAY) {
        for (size_t i = 0; i < j->u.arr.n; i++)
            json_decref(j->u.arr.v[i]);
        free(j->u.arr.v);
    } else if (j->type == JSON_STRING) {
        free(j->u.str);
    }
    free(j);
}

/* ---- objects and arrays */

/* Room for item n of an array of elem-byte items (doubling its capacity *cap). */
static int grow(void **items, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? 2 * *cap : 8;
    void *g = realloc(*items, ncap * elem);
    if (!g)
        return -1;
    *items = g;
    *cap = ncap;
    return 0;
}

size_t json_object_size(const json_t *o) { return json_is_object(o) ? o->u.obj.n : 0; }

static member *find(const json_t *o, const char *key)
{
    for (size_t i = 0; json_is_object(o) && key && i < o->u.obj.n; i++)
        if (strcmp(o->u.obj.m[i].key, key) == 0)
            return &o->u.obj.m[i];
    return NULL;
}

json_t *json_object_get(const json_t *o, const char *key)
{
    member *m = find(o, key);
    return m ? m->value : NULL;
}

int json_object_set_new(json_t *o, const char *key, json_t *v)
{
    if (!v)
        return -1;
    if (!json_is_object(o) || !key || !utf8_valid((const unsigned char *)key, strlen(key)) ||
        o == v) {
        json_decref(v);
        return -1;
    }
    member *m = find(o, key);
    if (m) { /* a key set again keeps its place */
        json_decref(m->value);
        m->value = v;
        return 0;
    }
    char *k = grow((void **)&o->u.obj.m, &o->u.obj.cap, o->u.obj.n, sizeof *o->u.obj.m) == 0
                  ? strdup(key) : NULL;
    if (!k) {
        json_decref(v);
        return -1;
    }
    o->u.obj.m[o->u.obj.n++] = (member){k, v};
    return 0;
}

int json_object_set(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new(o, key, json_incref(v));
}

int json_object_update(json_t *o, json_t *other)
{
    if (!json_is_object(o) || !json_is_object(other))
        return -1;
    for (size_t i = 0; i < other->u.obj.n; i++)
        if (json_object_set(o, other->u.obj.m[i].key, other->u.obj.m[i].value) != 0)
            return -1;
    return 0;
}

const char *pg_json_object_key_at(const json_t *o, size_t i)
{
    return json_is_object(o) && i < o->u.obj.n ? o->u.obj.m[i].key : NULL;
}

json_t *pg_json_object_value_at(const json_t *o, size_t i)
{
    return json_is_object(o) && i < o->u.obj.n ? o->u.obj.m[i].value : NULL;
}

size_t json_array_size(const json_t *a) { return json_is_array(a) ? a->u.arr.n : 0; }

json_t *json_array_get(const json_t *a, size_t i)
{
    return json_is_array(a) && i < a->u.arr.n ? a->u.arr.v[i] : NULL;
}

int json_array_append_new(json_t *a, json_t *v)
{
    if (!v)
        return -1;
    if (!json_is_array(a) || a == v) {
        json_decref(v);
        return -1;
    }
    if (grow((void **)&a->u.arr.v, &a->u.arr.cap, a->u.arr.n, sizeof *a->u.arr.v) != 0) {
        json_decref(v);
        return -1;
    }
    a->u.arr.v[a->u.arr.n++] = v;
    return 0;
}

int json_array_append(json_t *a, json_t *v) { return json_array_append_new(a, json_incref(v)); }

/* ---- scalars */

const char *json_string_value(const json_t *j) { return json_is_string(j) ? j->u.str : NULL; }
json_int_t json_integer_value(const json_t *j) { return json_is_integer(j) ? j->u.i : 0; }
double json_real_value(const json_t *j) { return json_is_real(j) ? j->u.r : 0.0; }

double json_number_value(const json_t *j)
{
    return json_is_integer(j) ? (double)j->u.i : json_real_value(j);
}

int json_equal(const json_t *a, const json_t *b)
{
    if (!a || !b || a->type != b->type)
        return 0;
    switch (a->type) {
    case JSON_OBJECT:
        if (a->u.obj.n != b->u.obj.n)
            return 0;
        for (size_t i = 0; i < a->u.obj.n; i++)
            if (!json_equal(a->u.obj.m[i].value, json_object_get(b, a->u.obj.m[i].key)))
                return 0;
        return 1;
    case JSON_ARRAY:
        if (a->u.arr.n != b->u.arr.n)
            return 0;
        for (size_t i = 0; i < a->u.arr.n; i++)
            if (!json_equal(a->u.arr.v[i], b->u.arr.v[i]))
                return 0;
        return 1;
    case JSON_STRING: return strcmp(a->u.str, b->u.str) == 0;
    case JSON_INTEGER: return a->u.i == b->u.i;
    case JSON_REAL: return a->u.r == b->u.r;
    default: return 1;
    }
}

json_t *json_deep_copy(const json_t *j)
{
    if (!j)
        return NULL;
    json_t *c = NULL;
    switch (j->type) {
    case JSON_OBJECT:
        c = json_object();
        for (size_t i = 0; c && i < j->u.obj.n; i++)
            if (json_object_set_new(c, j->u.obj.m[i].key, json_deep_copy(j->u.obj.m[i].value))) {
                json_decref(c);
                c = NULL;
            }
        return c;
    case JSON_ARRAY:
        c = json_array();
        for (size_t i = 0; c && i < j->u.arr.n; i++)
            if (json_array_append_new(c, json_deep_copy(j->u.arr.v[i]))) {
                json_decref(c);
                c = NULL;
            }
        return c;
    case JSON_STRING: return json_string(j->u.str);
    case JSON_INTEGER: return json_integer(j->u.i);
    case JSON_REAL: return json_real(j->u.r);
    default: return (json_t *)j;
    }
}

/* ---- json_pack */

typedef struct {
    const char *p;
    va_list ap;
    int failed;
} pack_state;

static void skip_separators(pack_state *s)
{
    while (*s->p == ' ' || *s->p == ',' || *s->p == ':' || *s->p == '\t' || *s->p == '\n')
        s->p++;
}

static json_t *pack_value(pack_state *s)
{
    skip_separators(s);
    char c = *s->p ? *s->p++ : 0;
    switch (c) {
    case '{': {
        json_t *o = json_object();
        for (skip_separators(s); *s->p && *s->p != '}'; skip_separators(s)) {
            if (*s->p++ != 's') {
                s->failed = 1;
                break;
            }
            const char *key = va_arg(s->ap, const char *);
            json_t *v = pack_value(s);
            if (!v || json_object_set_new(o, key, v) != 0)
                s->failed = 1;
        }
        if (*s->p == '}')
            s->p++;
        else
            s->failed = 1;
        return o;
    }
    case '[': {
        json_t *a = json_array();
        for (skip_separators(s); *s->p && *s->p != ']'; skip_separators(s)) {
            json_t *v = pack_value(s);
            if (!v || json_array_append_new(a, v) != 0)
                s->failed = 1;
        }
        if (*s->p == ']')
            s->p++;
        else
            s->failed = 1;
        return a;
    }
    case 's': return json_string(va_arg(s->ap, const char *));
    case 'i': return json_integer(va_arg(s->ap, int));
    case 'I': return json_integer(va_arg(s->ap, json_int_t));
    case 'f': return json_real(va_arg(s->ap, double));
    case 'b': return va_arg(s->ap, int) ? json_true() : json_false();
    case 'o': return va_arg(s->ap, json_t *);
    case 'O': return json_incref(va_arg(s->ap, json_t *));
    default: s->failed = 1; return NULL;
    }
}

json_t *json_pack(const char *fmt, ...)
{
    pack_state s = {.p = fmt};
    va_start(s.ap, fmt);
    json_t *j = pack_value(&s);
    va_end(s.ap);
    skip_separators(&s);
    if (s.failed || *s.p || !j) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ---- json_loadb */

typedef struct {
    const char *s, *end;
    const char *start;
    json_error_t *err;
    int depth;
} parser;

static json_t *parse_error(parser *p, const char *what)
{
    if (p->err && !p->err->text[0]) {
        int line = 1, col = 1;
        for (const char *c = p->start; c < p->s; c++) {
            if (*c == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        p->err->line = line;
        p->err->column = col;
        p->err->position = (int)(p->s - p->start);
        snprintf(p->err->text, sizeof p->err->text, "%s", what);
    }
    return NULL;
}

static void skip_ws(parser *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

static int hex4(parser *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++, p->s++) {
        char c = p->s < p->end ? *p->s : 0;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        *v = *v << 4 | (unsigned)d;
    }
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string after its opening quote, as a malloc'ed UTF-8 C string. */
static char *parse_string(parser *p)
{
    const char *q = p->s;
    while (q < p->end && *q != '"')
        q += *q == '\\' ? 2 : 1;
    if (q >= p->end) {
        parse_error(p, "premature end of input in a string");
        return NULL;
    }
    char *out = malloc((size_t)(q - p->s) + 1), *o = out;
    if (!out) {
        parse_error(p, "out of memory");
        return NULL;
    }
    while (*p->s != '"') {
        unsigned char c = (unsigned char)*p->s++;
        if (c < 0x20) {
            free(out);
            parse_error(p, "control character in a string");
            return NULL;
        }
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        char e = *p->s++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            *o++ = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            continue;
        }
        unsigned cp, lo;
        if (e != 'u' || hex4(p, &cp) != 0) {
            free(out);
            parse_error(p, "invalid escape in a string");
            return NULL;
        }
        if (cp >= 0xd800 && cp <= 0xdbff) { /* a surrogate pair */
            if (p->end - p->s < 6 || p->s[0] != '\\' || p->s[1] != 'u' ||
                (p->s += 2, hex4(p, &lo) != 0) || lo < 0xdc00 || lo > 0xdfff) {
                free(out);
                parse_error(p, "invalid Unicode surrogate pair in a string");
                return NULL;
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
            free(out);
            parse_error(p, cp ? "lone Unicode surrogate in a string"
                              : "\\u0000 is not allowed in a string");
            return NULL;
        }
        o += put_utf8(o, cp);
    }
    p->s++;
    *o = '\0';
    if (!utf8_valid((const unsigned char *)out, (size_t)(o - out))) {
        free(out);
        parse_error(p, "invalid UTF-8 in a string");
        return NULL;
    }
    return out;
}

static json_t *parse_number(parser *p)
{
    const char *b = p->s;
    int is_real = 0;
    if (p->s < p->end && *p->s == '-')
        p->s++;
    if (p->s < p->end && *p->s == '0')
        p->s++;
    else if (p->s < p->end && *p->s >= '1' && *p->s <= '9')
        while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
            p->s++;
    else
        return parse_error(p, "invalid number");
    if (p->s < p->end && *p->s == '.') {
        is_real = 1;
        if (++p->s >= p->end || *p->s < '0' || *p->s > '9')
            return parse_error(p, "invalid number");
        while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
            p->s++;
    }
    if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
        is_real = 1;
        if (++p->s < p->end && (*p->s == '+' || *p->s == '-'))
            p->s++;
        if (p->s >= p->end || *p->s < '0' || *p->s > '9')
            return parse_error(p, "invalid number");
        while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
            p->s++;
    }
    char tmp[512];
    if ((size_t)(p->s - b) >= sizeof tmp)
        return parse_error(p, "number too long");
    memcpy(tmp, b, (size_t)(p->s - b));
    tmp[p->s - b] = '\0';
    errno = 0;
    if (!is_real) {
        long long v = strtoll(tmp, NULL, 10);
        if (errno == ERANGE)
            return parse_error(p, "too big integer");
        return json_integer(v);
    }
    double d = strtod(tmp, NULL);
    if (errno == ERANGE && fabs(d) > 1.0)
        return parse_error(p, "real number overflow");
    return json_real(d);
}

static json_t *parse_value(parser *p);

static json_t *parse_container(parser *p, char close)
{
    if (++p->depth > MAX_DEPTH)
        return parse_error(p, "maximum parsing depth reached");
    json_t *c = close == '}' ? json_object() : json_array();
    skip_ws(p);
    if (p->s < p->end && *p->s == close) {
        p->s++;
        p->depth--;
        return c;
    }
    for (;;) {
        char *key = NULL;
        if (close == '}') {
            skip_ws(p);
            if (p->s >= p->end || *p->s != '"') {
                json_decref(c);
                return parse_error(p, "string or '}' expected");
            }
            p->s++;
            key = parse_string(p);
            skip_ws(p);
            if (key && (p->s >= p->end || *p->s++ != ':')) {
                free(key);
                key = NULL;
                parse_error(p, "':' expected");
            }
            if (!key) {
                json_decref(c);
                return NULL;
            }
        }
        json_t *v = parse_value(p);
        int rc = !v ? -1 : key ? json_object_set_new(c, key, v) : json_array_append_new(c, v);
        free(key);
        if (rc != 0) {
            json_decref(c);
            return v ? parse_error(p, "out of memory") : NULL;
        }
        skip_ws(p);
        char sep = p->s < p->end ? *p->s++ : 0;
        if (sep == close)
            break;
        if (sep != ',') {
            json_decref(c);
            return parse_error(p, close == '}' ? "',' or '}' expected" : "',' or ']' expected");
        }
    }
    p->depth--;
    return c;
}

static json_t *parse_value(parser *p)
{
    skip_ws(p);
    if (p->s >= p->end)
        return parse_error(p, "premature end of input");
    char c = *p->s;
    if (c == '{' || c == '[') {
        p->s++;
        return parse_container(p, c == '{' ? '}' : ']');
    }
    if (c == '"') {
        p->s++;
        return string_own(parse_string(p));
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return parse_number(p);
    static const struct {
        const char *word;
        json_t *value;
    } words[] = {{"true", &json_true_value}, {"false", &json_false_value}, {"null", &json_null_value}};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i].word);
        if ((size_t)(p->end - p->s) >= n && memcmp(p->s, words[i].word, n) == 0) {
            p->s += n;
            return words[i].value;
        }
    }
    return parse_error(p, "invalid token");
}

json_t *json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err)
{
    parser p = {buf, buf + len, buf, err, 0};
    if (err)
        memset(err, 0, sizeof *err);
    if (memchr(buf, '\0', len))
        return parse_error(&p, "NUL byte in the input");
    skip_ws(&p);
    if (!(flags & JSON_DECODE_ANY) && (p.s == p.end || (*p.s != '[' && *p.s != '{')))
        return parse_error(&p, "'[' or '{' expected");
    json_t *j = parse_value(&p);
    skip_ws(&p);
    if (j && p.s != p.end) {
        json_decref(j);
        return parse_error(&p, "end of file expected");
    }
    return j;
}

/* ---- json_dumps */

static void put_string(pg_text *b, const char *s)
{
    pg_text_append(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b"
                        : c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t" : NULL;
        char u[8];
        if (!esc && c < 0x20) {
            snprintf(u, sizeof u, "\\u%04X", c);
            esc = u;
        }
        if (esc)
            pg_text_append(b, esc, strlen(esc));
        else
            pg_text_append(b, s, 1);
    }
    pg_text_append(b, "\"", 1);
}

/* As Jansson: 17 significant digits, ".0" when the text would read as an integer, and
 * exponents without '+' or leading zeros (1e20, 1e-5). */
static void put_real(pg_text *b, double v)
{
    char t[40];
    snprintf(t, sizeof t, "%.17g", v);
    if (!strpbrk(t, ".e"))
        strcat(t, ".0");
    char *e = strchr(t, 'e'); /* and no '+' or leading zeros in the exponent */
    if (e) {
        char *from = e + 1, *to = e + 1;
        if (*from == '-')
            *to++ = *from++;
        if (*from == '+')
            from++;
        while (*from == '0' && from[1])
            from++;
        memmove(to, from, strlen(from) + 1);
    }
    pg_text_append(b, t, strlen(t));
}

static void dump(pg_text *b, const json_t *j, int compact)
{
    const char *comma = compact ? "," : ", ", *colon = compact ? ":" : ": ";
    char t[32];
    switch (j->type) {
    case JSON_OBJECT:
        pg_text_append(b, "{", 1);
        for (size_t i = 0; i < j->u.obj.n; i++) {
            if (i)
                pg_text_append(b, comma, strlen(comma));
            put_string(b, j->u.obj.m[i].key);
            pg_text_append(b, colon, strlen(colon));
            dump(b, j->u.obj.m[i].value, compact);
        }
        pg_text_append(b, "}", 1);
        break;
    case JSON_ARRAY:
        pg_text_append(b, "[", 1);
        for (size_t i = 0; i < j->u.arr.n; i++) {
            if (i)
                pg_text_append(b, comma, strlen(comma));
            dump(b, j->u.arr.v[i], compact);
        }
        pg_text_append(b, "]", 1);
        break;
    case JSON_STRING: put_string(b, j->u.str); break;
    case JSON_INTEGER:
        snprintf(t, sizeof t, "%" JSON_INTEGER_FORMAT, j->u.i);
        pg_text_append(b, t, strlen(t));
        break;
    case JSON_REAL: put_real(b, j->u.r); break;
    case JSON_TRUE: pg_text_append(b, "true", 4); break;
    case JSON_FALSE: pg_text_append(b, "false", 5); break;
    case JSON_NULL: pg_text_append(b, "null", 4); break;
    }
}

char *json_dumps(const json_t *j, size_t flags)
{
    if (!j || (!(flags & JSON_ENCODE_ANY) && !json_is_object(j) && !json_is_array(j)))
        return NULL;
    pg_text b = {0};
    dump(&b, j, (flags & JSON_COMPACT) != 0);
    if (b.oom) {
        pg_text_free(&b);
        return NULL;
    }
    return b.s;
}
