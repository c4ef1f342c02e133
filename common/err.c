#include "common/err.h"

#include <stdio.h>
#include <string.h>

static char g_msg[1024];

int pg_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return -1;
}

int pg_fail_prefix(const char *prefix)
{
    size_t plen = strnlen(prefix, sizeof g_msg / 2), mlen = strlen(g_msg);
    if (plen + 2 + mlen >= sizeof g_msg)
        mlen = sizeof g_msg - plen - 3;
    memmove(g_msg + plen + 2, g_msg, mlen);
    memcpy(g_msg, prefix, plen);
    memcpy(g_msg + plen, ": ", 2);
    g_msg[plen + 2 + mlen] = '\0';
    return -1;
}

const char *pg_errmsg(void)
{
    return g_msg;
}
