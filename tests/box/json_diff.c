/* Differential test of the box build's Jansson subset (packager/box/json.c): built once
 * against libjansson and once against the subset, both must print the same text
 * (`make check` compares them). Covers the calls the box sources make. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void show(const char *what, json_t *j)
{
    char *a = j ? json_dumps(j, JSON_COMPACT) : NULL, *b = j ? json_dumps(j, 0) : NULL;
    printf("%s: %s | %s\n", what, a ? a : "(null)", b ? b : "(null)");
    free(a);
    free(b);
}

static void load(const char *text, size_t flags)
{
    json_error_t err;
    json_t *j = json_loadb(text, strlen(text), flags, &err);
    if (!j) {
        printf("load %s: error at line %d\n", text, err.line);
        return;
    }
    show(text, j);
    json_t *c = json_deep_copy(j);
    printf("  equal to its copy: %d\n", json_equal(j, c));
    json_decref(c);
    json_decref(j);
}

int main(void)
{
    const char *docs[] = {
        "{}", "[]", "{\"a\":1,\"b\":[1,2.5,-3e-7,1e300],\"c\":{\"d\":null,\"e\":true,\"f\":false}}",
        "[\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0001 \\u00e9 \\ud83d\\ude00\"]",
        "[0.1, 100000000000000000000.0, 1e20, 1E-5, -0.0, 123456789012345678]",
        "{\"k\":1,\"k\":2}", "[1,]", "[01]", "{\"a\" 1}", "[\"\\ud800\"]", "[\"\\u0000\"]",
        "[1] x", "", "  [ 1 , 2 ]  ", "[9223372036854775807, -9223372036854775808]",
        "[9223372036854775808]", "[1e999]", "[tru]", "[\"a\tb\"]", "\"top\"", "3",
        "[1.5e+300, 2E+02, 7e-0]", "{\"deep\":[[[[[[{\"x\":[]}]]]]]]}"};
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++)
        load(docs[i], 0);
    load("\"top\"", JSON_DECODE_ANY);
    load("3.25", JSON_DECODE_ANY);

    json_t *o = json_pack("{s:s, s:i, s:I, s:f, s:b, s:[i, s], s:{s:I}, s:o, s:O}", "s", "x\n",
                          "i", -7, "I", (json_int_t)1 << 40, "f", 0.25, "b", 1, "arr", 3, "y",
                          "obj", "z", (json_int_t)9, "own", json_real(1e-9), "ref", json_null());
    show("pack", o);
    json_object_set_new(o, "i", json_string("replaced in place"));
    json_object_set_new(o, "new", json_integer(5));
    json_t *u = json_pack("{s:i, s:s}", "new", 6, "more", "m");
    json_object_update(o, u);
    json_decref(u);
    show("edited", o);
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) printf("  %s is %s\n", key, json_is_integer(v) ? "integer"
                                                           : json_is_real(v)  ? "real"
                                                           : json_is_string(v) ? "string"
                                                           : json_is_array(v) ? "array"
                                                           : json_is_object(v) ? "object"
                                                                                : "other");
    json_t *arr = json_object_get(o, "arr");
    size_t idx;
    json_array_foreach(arr, idx, v) printf("  arr[%zu] number %g string %s\n", idx,
                                           json_number_value(v),
                                           json_string_value(v) ? json_string_value(v) : "-");
    printf("get missing: %p size %zu int %lld\n", (void *)json_object_get(o, "nope"),
           json_object_size(o), (long long)json_integer_value(json_object_get(o, "I")));
    printf("bad pack: %p\n", (void *)json_pack("{s:s}", "k", (const char *)NULL));
    printf("bad utf8 string: %p\n", (void *)json_string("\xff"));
    json_t *c = json_deep_copy(o);
    printf("copy equal %d\n", json_equal(o, c));
    json_object_set_new(c, "f", json_real(0.5));
    printf("changed copy equal %d\n", json_equal(o, c));
    json_decref(c);
    json_decref(o);
    return 0;
}
