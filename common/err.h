/* Error reporting shared by every module.
 *
 * Library functions return 0 on success and -1 on failure; on failure they have
 * recorded a one-line message with pg_fail() that names the file and the problem.
 * The CLI prints it as "pgolf: <message>" and exits non-zero. */
#ifndef PG_ERR_H
#define PG_ERR_H

#include <stdarg.h>

/* Records a formatted message (replacing any earlier one) and returns -1. */
int pg_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prefixes the recorded message with "<prefix>: " and returns -1. */
int pg_fail_prefix(const char *prefix);

/* The last recorded message ("" when none). */
const char *pg_errmsg(void);

#endif
