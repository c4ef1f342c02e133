/* The engine's reports: each failed check is one line on stderr, counted, and the last
 * kept for the engine's tests. */
#include <stdarg.h>
#include <stdio.h>

#include "tests/cudaemu/engine.h"

static char g_last[1024];
static int g_count;

void pg_emu_report(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_last, sizeof g_last, fmt, ap);
    va_end(ap);
    g_count++;
    fprintf(stderr, "%s\n", g_last);
}

const char *pg_emu_last_report(void)
{
    return g_last;
}

int pg_emu_report_count(void)
{
    return g_count;
}
