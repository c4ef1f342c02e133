#include "common/buildinfo.h"

#include <stdio.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The build passes it (GNUmakefile); the fallback keeps other builds honest. */
#ifndef PGOLF_VERSION
#define PGOLF_VERSION "unknown"
#endif

const char *pg_build_version(void)
{
    return PGOLF_VERSION;
}

json_t *pg_host_json(void)
{
    struct utsname u;
    if (uname(&u) != 0)
        return json_pack("{s:s}", "name", "unknown");
    char os[2 * sizeof u.sysname + 2];
    snprintf(os, sizeof os, "%s %s", u.sysname, u.release);
    return json_pack("{s:s, s:s, s:s, s:I}", "name", u.nodename, "os", os, "arch", u.machine,
                     "cpus", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN));
}
