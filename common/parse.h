/* Strict parsing of numbers (flags, environment values) and of settings files. */
#ifndef PG_PARSE_H
#define PG_PARSE_H

/* Parses all of s as a base-10 integer in [min, max]; the error names `what`. */
int pg_parse_long(const char *s, const char *what, long min, long max, long *out);

/* Whether s contains word, ignoring ASCII case. */
int pg_contains_nocase(const char *s, const char *word);

/* Reads NAME=VALUE lines ('#' comments, blank lines, an optional "export " and quotes
 * around the value allowed) and calls set for each; errors name the file and line. */
int pg_parse_settings_file(const char *path, int (*set)(void *ctx, const char *name, const char *value),
                           void *ctx);

#endif
