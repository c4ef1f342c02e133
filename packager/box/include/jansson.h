/* The part of Jansson's API that the box build's sources use, implemented by
 * packager/box/json.c for machines without libjansson (the challenge's box). Same names,
 * types and behaviour as Jansson 2.14 for these calls: objects keep insertion order,
 * integers are long long, reals dump with 17 significant digits, json_loadb rejects
 * trailing data and invalid UTF-8. The full build uses the real library. */
#ifndef PG_BOX_JANSSON_H
#define PG_BOX_JANSSON_H

#include <stddef.h>

typedef enum {
    JSON_OBJECT,
    JSON_ARRAY,
    JSON_STRING,
    JSON_INTEGER,
    JSON_REAL,
    JSON_TRUE,
    JSON_FALSE,
    JSON_NULL
} json_type;

typedef long long json_int_t;
#define JSON_INTEGER_FORMAT "lld"

typedef struct json_t json_t;

typedef struct {
    int line, column, position;
    char source[80];
    char text[160];
} json_error_t;

#define JSON_COMPACT 0x20
#define JSON_ENCODE_ANY 0x200
#define JSON_DECODE_ANY 0x4 /* json_loadb: accept a scalar at the top level */

json_type json_typeof(const json_t *j);
#define json_is_object(j) ((j) && json_typeof(j) == JSON_OBJECT)
#define json_is_array(j) ((j) && json_typeof(j) == JSON_ARRAY)
#define json_is_string(j) ((j) && json_typeof(j) == JSON_STRING)
#define json_is_integer(j) ((j) && json_typeof(j) == JSON_INTEGER)
#define json_is_real(j) ((j) && json_typeof(j) == JSON_REAL)
#define json_is_number(j) (json_is_integer(j) || json_is_real(j))
#define json_is_true(j) ((j) && json_typeof(j) == JSON_TRUE)
#define json_is_boolean(j) ((j) && (json_typeof(j) == JSON_TRUE || json_typeof(j) == JSON_FALSE))

json_t *json_object(void);
json_t *json_array(void);
json_t *json_string(const char *s);
json_t *json_integer(json_int_t v);
json_t *json_real(double v);
json_t *json_true(void);
json_t *json_false(void);
json_t *json_null(void);

json_t *json_incref(json_t *j);
void json_decref(json_t *j);

size_t json_object_size(const json_t *o);
json_t *json_object_get(const json_t *o, const char *key);
int json_object_set_new(json_t *o, const char *key, json_t *v);
int json_object_set(json_t *o, const char *key, json_t *v);
int json_object_update(json_t *o, json_t *other);
/* the key and value of the i-th member in insertion order (NULL past the end) */
const char *pg_json_object_key_at(const json_t *o, size_t i);
json_t *pg_json_object_value_at(const json_t *o, size_t i);
#define PG_JSON_CAT_(a, b) a##b
#define PG_JSON_CAT(a, b) PG_JSON_CAT_(a, b)
#define json_object_foreach(obj, key, value)                                                  \
    for (size_t PG_JSON_CAT(pg_json_i_, __LINE__) = 0;                                        \
         ((key) = pg_json_object_key_at((obj), PG_JSON_CAT(pg_json_i_, __LINE__))) != NULL && \
         ((value) = pg_json_object_value_at((obj), PG_JSON_CAT(pg_json_i_, __LINE__)), 1);    \
         PG_JSON_CAT(pg_json_i_, __LINE__)++)

size_t json_array_size(const json_t *a);
json_t *json_array_get(const json_t *a, size_t i);
int json_array_append_new(json_t *a, json_t *v);
int json_array_append(json_t *a, json_t *v);
#define json_array_foreach(array, index, value)                                               \
    for ((index) = 0;                                                                         \
         (index) < json_array_size(array) && ((value) = json_array_get((array), (index)));   \
         (index)++)

const char *json_string_value(const json_t *j);
json_int_t json_integer_value(const json_t *j);
double json_real_value(const json_t *j);
double json_number_value(const json_t *j);

int json_equal(const json_t *a, const json_t *b);
json_t *json_deep_copy(const json_t *j);

/* Formats: {} [] and s (string), i (int), I (json_int_t), f (double), b (int as bool),
 * o (json_t*, reference stolen), O (json_t*, new reference); ':' ',' and spaces ignored. */
json_t *json_pack(const char *fmt, ...);

json_t *json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err);
/* Compact when flags has JSON_COMPACT, else ", " and ": " separators; malloc'ed. A scalar
 * only with JSON_ENCODE_ANY. */
char *json_dumps(const json_t *j, size_t flags);

#endif
