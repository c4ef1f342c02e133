/* Strict number parsing for flags and environment values. */
#ifndef PG_PARSE_H
#define PG_PARSE_H

/* Parses all of s as a base-10 integer in [min, max]; the error names `what`. */
int pg_parse_long(const char *s, const char *what, long min, long max, long *out);

#endif
