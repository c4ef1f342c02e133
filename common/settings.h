/* The settings registry: every NAME=VALUE setting pgolf reads is one row of a table
 * that its owner declares next to the struct it fills (the model config in kernels/,
 * training in train/, TTT and the final evaluations in kernels/, RUN_* in pipeline/). From the rows alone come
 * the defaults, parsing with type and range checks, the environment, config files,
 * NAME=value log lines, JSON and `pgolf help settings`.
 *
 * Sources, later wins: defaults (or a preset), a config file, the environment, then
 * NAME=VALUE flags. Printed values read back exactly. */
#ifndef PG_SETTINGS_H
#define PG_SETTINGS_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* How a value is stored in the owner's struct. */
enum {
    PG_SET_INT,    /* int */
    PG_SET_LONG,   /* long */
    PG_SET_FLOAT,  /* float (printed with 9 digits) */
    PG_SET_DOUBLE, /* double (printed in its shortest exact form) */
    PG_SET_STRING, /* char[size], one line; `choices` limits it when set */
    PG_SET_PATH,   /* char[size], a file or directory */
    PG_SET_ENUM,   /* int: the index of the value in `choices` */
    PG_SET_CUSTOM, /* the owner's parse and format */
};

/* Who reads a setting (the readers mask). */
enum {
    PG_READ_MODEL = 1, /* the model's shape: pgolf init, checkpoints */
    PG_READ_TRAIN = 2, /* pgolf train and the run's train stages */
    PG_READ_TTT = 4,   /* pgolf eval --ttt, verify --rerun and the run's TTT eval */
    PG_READ_RUN = 8,   /* pgolf run's own stages (data, quantize, package, eval, stats) */
};

/* Open ends of a range. */
enum { PG_SET_MIN_OPEN = 1, PG_SET_MAX_OPEN = 2 };

#define PG_SET_INF HUGE_VAL

typedef struct {
    const char *name;   /* NAME in config files, the environment and flags */
    int type;           /* PG_SET_* */
    size_t offset;      /* of the field in the owner's struct */
    size_t size;        /* STRING, PATH: the buffer's size */
    const char *def;    /* the default, as text */
    double min, max;    /* numbers: the range, +-PG_SET_INF where unbounded */
    int open;           /* PG_SET_MIN_OPEN | PG_SET_MAX_OPEN */
    const char *choices; /* ENUM, STRING: "a|b|c" */
    unsigned readers;   /* PG_READ_* */
    const char *help;   /* one line */
    const char *json;   /* key in the owner's typed JSON (NULL: name) */
    const char *when;   /* "NAME=a|b": read only while that setting is a or b */
    /* 1: a setting added after files and hashes that omit it existed: left out of every
     * JSON while at its default, and the default when a JSON lacks it */
    int omit_default;
    int (*check)(const char *value); /* STRING: a further test of the text */
    int (*parse)(void *obj, const char *value);                 /* CUSTOM */
    void (*format)(const void *obj, char *buf, size_t cap);      /* CUSTOM */
} pg_setting;

typedef struct {
    const char *title; /* heading in `pgolf help settings` */
    const pg_setting *rows;
    size_t n;
    /* 1: ranges are checked by pg_settings_check once every source has applied (so a later
     * source may fix an earlier value); 0: each value is checked when set */
    int late_range;
} pg_settings_table;

/* A table bound to the struct its offsets point into. */
typedef struct {
    const pg_settings_table *table;
    void *obj;
} pg_settings_bind;

/* Longest value text (paths, seed lists). */
#define PG_SETTING_TEXT_MAX 1024

/* Sets every row to its default; a default that does not parse is a bug (abort). */
void pg_settings_defaults(const pg_settings_bind *b, int n);
/* The row called name and the struct it fills, or NULL. */
const pg_setting *pg_settings_find(const pg_settings_bind *b, int n, const char *name, void **obj);
/* Sets one value from text; unknown names, bad text and (when checked on set) values out
 * of range fail with one line naming the setting. */
int pg_settings_set(const pg_settings_bind *b, int n, const char *name, const char *value);
/* Every row whose name is set (non-empty) in the environment, in table order. */
int pg_settings_from_env(const pg_settings_bind *b, int n);
/* NAME=VALUE lines ('#' comments); errors name the file and line. */
int pg_settings_load_file(const pg_settings_bind *b, int n, const char *path);
/* The range checks of a late_range table ("NAME=v must be in [lo, hi]"). */
int pg_settings_check(const pg_settings_table *t, const void *obj);

/* The value's text (what pg_settings_set reads back to the same value). */
void pg_settings_format(const pg_setting *s, const void *obj, char *buf, size_t cap);
/* The range as text: "[0, 1)", ">= 1", "" when unbounded or not a number. */
void pg_settings_range(const pg_setting *s, char *buf, size_t cap);
/* Whether the row is read with the current values (its `when` holds). */
int pg_settings_applies(const pg_settings_bind *b, int n, const pg_setting *s);

/* One "<prefix>NAME=value" line per row. */
void pg_settings_print(const pg_settings_bind *b, int n, FILE *out, const char *prefix);
/* {NAME: "value"} of every row. */
json_t *pg_settings_text_json(const pg_settings_bind *b, int n);
/* {NAME: value} with JSON types, of the rows that apply (a report of what was used). */
json_t *pg_settings_report(const pg_settings_bind *b, int n);
/* {key: value} with JSON types of one table (keys from `json`), and back; `where` names
 * the source in errors. */
json_t *pg_settings_to_json(const pg_settings_table *t, const void *obj);
int pg_settings_from_json(const pg_settings_table *t, void *obj, const json_t *o, const char *where);

#endif
