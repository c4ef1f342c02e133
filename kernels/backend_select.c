/* Which backend computes: --backend / PGOLF_BACKEND picks cpu, cuda or auto. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "kernels/backend.h"
#ifdef PGOLF_CUDA
#include "kernels/cuda/backend_cuda.h"
#endif

/* The CUDA backend, or NULL with the reason recorded. */
static const pg_backend *try_cuda(void)
{
#ifdef PGOLF_CUDA
    return pg_backend_cuda();
#else
    pg_fail("this pgolf was built without CUDA (no nvcc at build time, or CUDA=0)");
    return NULL;
#endif
}

int pg_backend_select(const char *name, const pg_backend **be, char *note, size_t note_len)
{
    if (note_len)
        note[0] = '\0';
    if (!name || !*name)
        name = "cpu";
    if (strcmp(name, "cpu") == 0) {
        *be = pg_backend_cpu();
        return 0;
    }
    if (strcmp(name, "cuda") == 0) {
        *be = try_cuda();
        if (*be)
            return 0;
        char why[400];
        snprintf(why, sizeof why, "%s", pg_errmsg());
        return pg_fail("--backend cuda: %s", why);
    }
    if (strcmp(name, "auto") == 0) {
        *be = try_cuda();
        if (!*be) {
            snprintf(note, note_len, "backend auto: the CPU (%s)", pg_errmsg());
            *be = pg_backend_cpu();
        }
        return 0;
    }
    return pg_fail("unknown backend '%s' (cpu, cuda or auto)", name);
}
