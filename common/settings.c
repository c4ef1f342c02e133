#include "common/settings.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/parse.h"

static void *field(const pg_setting *s, const void *obj)
{
    return (char *)obj + s->offset;
}

/* The shortest %g form that reads back as the same double (0.03, not 0.029999...). */
static void shortest(double v, char *buf, size_t cap)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* Index of value in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *value)
{
    size_t len = strlen(value);
    int i = 0;
    for (const char *c = choices; c; i++) {
        const char *bar = strchr(c, '|');
        size_t n = bar ? (size_t)(bar - c) : strlen(c);
        if (n == len && strncmp(c, value, n) == 0)
            return i;
        c = bar ? bar + 1 : NULL;
    }
    return -1;
}

/* Choice i of "a|b|c" into buf ("" when there is none). */
static void choice_at(const char *choices, int i, char *buf, size_t cap)
{
    const char *c = choices;
    for (; c && i > 0; i--) {
        c = strchr(c, '|');
        c = c ? c + 1 : NULL;
    }
    snprintf(buf, cap, "%.*s", c && i == 0 ? (int)strcspn(c, "|") : 0, c ? c : "");
}

/* "a, b or c" of "a|b|c". */
static void choices_phrase(const char *choices, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = '\0';
    for (const char *c = choices; *c && k + 4 < cap; c++) {
        if (*c != '|') {
            buf[k++] = *c;
            continue;
        }
        const char *sep = strchr(c + 1, '|') ? ", " : " or ";
        k += (size_t)snprintf(buf + k, cap - k, "%s", sep);
    }
    buf[k < cap ? k : cap - 1] = '\0';
}

/* A base-10 integer, or a whole number in any strtod form (3e4, as TTT_* always took). */
static int parse_integer(const char *text, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!errno && end != text && !*end) {
        *out = v;
        return 0;
    }
    errno = 0;
    double d = strtod(text, &end);
    if (errno || end == text || *end || d != floor(d) || !(fabs(d) < 9e18))
        return -1;
    *out = (long)d;
    return 0;
}

static int has_range(const pg_setting *s)
{
    return s->type == PG_SET_INT || s->type == PG_SET_LONG || s->type == PG_SET_FLOAT ||
           s->type == PG_SET_DOUBLE;
}

static int in_range(const pg_setting *s, double v)
{
    int lo = s->open & PG_SET_MIN_OPEN ? v > s->min : v >= s->min;
    int hi = s->open & PG_SET_MAX_OPEN ? v < s->max : v <= s->max;
    return lo && hi;
}

/* A bound: %g when that is exact (1e+06), else every digit (2147483647). */
static void bound(double v, char *buf, size_t cap)
{
    snprintf(buf, cap, "%g", v);
    if (strtod(buf, NULL) != v)
        shortest(v, buf, cap);
}

void pg_settings_range(const pg_setting *s, char *buf, size_t cap)
{
    char lo[32], hi[32];
    bound(s->min, lo, sizeof lo);
    bound(s->max, hi, sizeof hi);
    int has_lo = isfinite(s->min), has_hi = isfinite(s->max);
    int lo_open = s->open & PG_SET_MIN_OPEN, hi_open = s->open & PG_SET_MAX_OPEN;
    if (!has_range(s) || (!has_lo && !has_hi))
        snprintf(buf, cap, "%s", "");
    else if (has_lo && has_hi)
        snprintf(buf, cap, "%c%s, %s%c", lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']');
    else if (has_lo)
        snprintf(buf, cap, "%s %s", lo_open ? ">" : ">=", lo);
    else
        snprintf(buf, cap, "%s %s", hi_open ? "<" : "<=", hi);
}

/* "in [0, 1)" or ">= 0": what a value must be. */
static void range_phrase(const pg_setting *s, char *buf, size_t cap)
{
    char r[80];
    pg_settings_range(s, r, sizeof r);
    snprintf(buf, cap, "%s%s", r[0] == '[' || r[0] == '(' ? "in " : "", r);
}

static int out_of_range(const pg_setting *s, const char *value)
{
    char r[96];
    range_phrase(s, r, sizeof r);
    return pg_fail("%s=%s is out of range: must be %s", s->name, value, r);
}

static int set_number(const pg_setting *s, void *obj, const char *value, int range_now)
{
    void *p = field(s, obj);
    if (s->type == PG_SET_INT || s->type == PG_SET_LONG) {
        long v;
        if (parse_integer(value, &v) != 0 ||
            (s->type == PG_SET_INT && (v < INT_MIN || v > INT_MAX)))
            return pg_fail("%s=%s is not an integer", s->name, value);
        if (range_now && !in_range(s, (double)v))
            return out_of_range(s, value);
        if (s->type == PG_SET_INT)
            *(int *)p = (int)v;
        else
            *(long *)p = v;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (errno || end == value || *end || !isfinite(v))
        return pg_fail("%s=%s is not a number", s->name, value);
    if (range_now && !in_range(s, v))
        return out_of_range(s, value);
    if (s->type == PG_SET_FLOAT)
        *(float *)p = (float)v;
    else
        *(double *)p = v;
    return 0;
}

static int set_row(const pg_setting *s, void *obj, const char *value, int range_now)
{
    char list[256];
    if (has_range(s))
        return set_number(s, obj, value, range_now);
    if (s->type == PG_SET_CUSTOM)
        return s->parse(obj, value);
    if (s->choices && choice_index(s->choices, value) < 0) {
        choices_phrase(s->choices, list, sizeof list);
        return pg_fail("%s=%s must be %s", s->name, value, list);
    }
    if (s->type == PG_SET_ENUM) {
        *(int *)field(s, obj) = choice_index(s->choices, value);
        return 0;
    }
    if (strlen(value) >= s->size)
        return pg_fail("%s is longer than %zu characters", s->name, s->size - 1);
    if (strpbrk(value, "\r\n"))
        return pg_fail("%s must be one line", s->name);
    if (s->check && s->check(value) != 0)
        return -1;
    snprintf((char *)field(s, obj), s->size, "%s", value);
    return 0;
}

void pg_settings_defaults(const pg_settings_bind *b, int n)
{
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < b[i].table->n; k++) {
            const pg_setting *s = &b[i].table->rows[k];
            if (set_row(s, b[i].obj, s->def, 1) != 0) {
                fprintf(stderr, "pgolf: bad default of %s: %s\n", s->name, pg_errmsg());
                abort();
            }
        }
}

const pg_setting *pg_settings_find(const pg_settings_bind *b, int n, const char *name, void **obj)
{
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < b[i].table->n; k++)
            if (strcmp(b[i].table->rows[k].name, name) == 0) {
                if (obj)
                    *obj = b[i].obj;
                return &b[i].table->rows[k];
            }
    return NULL;
}

int pg_settings_set(const pg_settings_bind *b, int n, const char *name, const char *value)
{
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < b[i].table->n; k++)
            if (strcmp(b[i].table->rows[k].name, name) == 0)
                return set_row(&b[i].table->rows[k], b[i].obj, value, !b[i].table->late_range);
    return pg_fail("unknown setting %s (pgolf help settings lists them)", name);
}

int pg_settings_from_env(const pg_settings_bind *b, int n)
{
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < b[i].table->n; k++) {
            const pg_setting *s = &b[i].table->rows[k];
            const char *v = getenv(s->name);
            if (v && *v && set_row(s, b[i].obj, v, !b[i].table->late_range) != 0)
                return -1;
        }
    return 0;
}

typedef struct {
    const pg_settings_bind *b;
    int n;
} file_ctx;

static int set_from_file(void *ctx, const char *name, const char *value)
{
    const file_ctx *f = ctx;
    return pg_settings_set(f->b, f->n, name, value);
}

int pg_settings_load_file(const pg_settings_bind *b, int n, const char *path)
{
    file_ctx f = {b, n};
    return pg_parse_settings_file(path, set_from_file, &f);
}

/* The value of a number row as a double. */
static double number(const pg_setting *s, const void *obj)
{
    const void *p = field(s, obj);
    switch (s->type) {
    case PG_SET_INT: return *(const int *)p;
    case PG_SET_LONG: return (double)*(const long *)p;
    case PG_SET_FLOAT: return *(const float *)p;
    default: return *(const double *)p;
    }
}

int pg_settings_check(const pg_settings_table *t, const void *obj)
{
    char text[PG_SETTING_TEXT_MAX], r[96], list[256];
    for (size_t k = 0; k < t->n; k++) {
        const pg_setting *s = &t->rows[k];
        pg_settings_format(s, obj, text, sizeof text);
        if ((s->type == PG_SET_FLOAT || s->type == PG_SET_DOUBLE) && !isfinite(number(s, obj)))
            return pg_fail("%s=%s must be a finite number", s->name, text);
        if (has_range(s) && !in_range(s, number(s, obj))) {
            range_phrase(s, r, sizeof r);
            return pg_fail("%s=%s must be %s", s->name, text, r);
        }
        if (s->type == PG_SET_ENUM && choice_index(s->choices, text) < 0) {
            choices_phrase(s->choices, list, sizeof list);
            return pg_fail("%s=%s must be %s", s->name, text, list);
        }
    }
    return 0;
}

void pg_settings_format(const pg_setting *s, const void *obj, char *buf, size_t cap)
{
    const void *p = field(s, obj);
    int e;
    switch (s->type) {
    case PG_SET_INT: snprintf(buf, cap, "%d", *(const int *)p); break;
    case PG_SET_LONG: snprintf(buf, cap, "%ld", *(const long *)p); break;
    case PG_SET_FLOAT: snprintf(buf, cap, "%.9g", *(const float *)p); break;
    case PG_SET_DOUBLE: shortest(*(const double *)p, buf, cap); break;
    case PG_SET_ENUM:
        e = *(const int *)p;
        choice_at(s->choices, e, buf, cap);
        if (e < 0 || !buf[0]) /* not a choice (a struct set in code): the index */
            snprintf(buf, cap, "%d", e);
        break;
    case PG_SET_CUSTOM: s->format(obj, buf, cap); break;
    default: snprintf(buf, cap, "%s", (const char *)p); break;
    }
}

int pg_settings_applies(const pg_settings_bind *b, int n, const pg_setting *s)
{
    if (!s->when)
        return 1;
    const char *eq = strchr(s->when, '=');
    char name[64], text[PG_SETTING_TEXT_MAX];
    snprintf(name, sizeof name, "%.*s", (int)(eq - s->when), s->when);
    void *obj;
    const pg_setting *on = pg_settings_find(b, n, name, &obj);
    if (!on)
        return 1;
    pg_settings_format(on, obj, text, sizeof text);
    return choice_index(eq + 1, text) >= 0;
}

void pg_settings_print(const pg_settings_bind *b, int n, FILE *out, const char *prefix)
{
    char text[PG_SETTING_TEXT_MAX];
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < b[i].table->n; k++) {
            pg_settings_format(&b[i].table->rows[k], b[i].obj, text, sizeof text);
            fprintf(out, "%s%s=%s\n", prefix, b[i].table->rows[k].name, text);
        }
}

/* An omit_default row at its default: its text is the default's text (such rows write
 * their default as pgolf prints it, which test_settings checks). */
static int omitted(const pg_setting *s, const void *obj)
{
    if (!s->omit_default)
        return 0;
    char text[PG_SETTING_TEXT_MAX];
    pg_settings_format(s, obj, text, sizeof text);
    return strcmp(text, s->def) == 0;
}

json_t *pg_settings_text_json(const pg_settings_bind *b, int n)
{
    char text[PG_SETTING_TEXT_MAX];
    json_t *o = json_object();
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < b[i].table->n; k++) {
            if (omitted(&b[i].table->rows[k], b[i].obj))
                continue;
            pg_settings_format(&b[i].table->rows[k], b[i].obj, text, sizeof text);
            json_object_set_new(o, b[i].table->rows[k].name, json_string(text));
        }
    return o;
}

static json_t *typed(const pg_setting *s, const void *obj)
{
    char text[PG_SETTING_TEXT_MAX];
    const void *p = field(s, obj);
    switch (s->type) {
    case PG_SET_INT: return json_integer(*(const int *)p);
    case PG_SET_LONG: return json_integer(*(const long *)p);
    case PG_SET_FLOAT: return json_real(*(const float *)p);
    case PG_SET_DOUBLE: return json_real(*(const double *)p);
    default: pg_settings_format(s, obj, text, sizeof text); return json_string(text);
    }
}

json_t *pg_settings_report(const pg_settings_bind *b, int n)
{
    json_t *o = json_object();
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < b[i].table->n; k++) {
            const pg_setting *s = &b[i].table->rows[k];
            if (pg_settings_applies(b, n, s))
                json_object_set_new(o, s->name, typed(s, b[i].obj));
        }
    return o;
}

json_t *pg_settings_to_json(const pg_settings_table *t, const void *obj)
{
    json_t *o = json_object();
    for (size_t k = 0; k < t->n; k++)
        if (!omitted(&t->rows[k], obj))
            json_object_set_new(o, t->rows[k].json ? t->rows[k].json : t->rows[k].name,
                                typed(&t->rows[k], obj));
    return o;
}

int pg_settings_from_json(const pg_settings_table *t, void *obj, const json_t *o, const char *where)
{
    if (!json_is_object(o))
        return pg_fail("%s: settings are not a JSON object", where);
    for (size_t k = 0; k < t->n; k++) {
        const pg_setting *s = &t->rows[k];
        const char *key = s->json ? s->json : s->name;
        json_t *v = json_object_get(o, key);
        void *p = field(s, obj);
        if (!v && s->omit_default) {
            if (set_row(s, obj, s->def, 0) != 0)
                return pg_fail_prefix(where);
            continue;
        }
        if (!has_range(s)) {
            if (!json_is_string(v))
                return pg_fail("%s: field %s is missing or not a string", where, key);
            if (set_row(s, obj, json_string_value(v), 0) != 0)
                return pg_fail_prefix(where);
            continue;
        }
        if (!json_is_number(v))
            return pg_fail("%s: field %s is missing or not a number", where, key);
        if (s->type == PG_SET_FLOAT || s->type == PG_SET_DOUBLE) {
            if (s->type == PG_SET_FLOAT)
                *(float *)p = (float)json_number_value(v);
            else
                *(double *)p = json_number_value(v);
            continue;
        }
        json_int_t iv = json_integer_value(v);
        if (!json_is_integer(v) || (s->type == PG_SET_INT && (iv < INT_MIN || iv > INT_MAX)))
            return pg_fail("%s: field %s is not an integer in range", where, key);
        if (s->type == PG_SET_INT)
            *(int *)p = (int)iv;
        else
            *(long *)p = (long)iv;
    }
    return 0;
}
