/* The engine's device memory: host heap allocations (aligned as cudaMalloc aligns, so
 * ASan sees every access past the end) whose addresses carry a tag bit. The tagged
 * address is not canonical, so a host load or store through it crashes, as a host
 * dereference of device memory does; kernels and the copies get the untagged address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/cudaemu/engine.h"

#define TAG ((uintptr_t)1 << 62)
#define ALIGN 256 /* cudaMalloc's alignment */

typedef struct {
    void *host;
    size_t bytes;
} allocation;

static allocation *g_live;
static size_t g_nlive, g_cap, g_in_use;

void *pg_emu_malloc(size_t bytes)
{
    if (g_nlive == g_cap) {
        size_t cap = g_cap ? 2 * g_cap : 64;
        allocation *grown = realloc(g_live, cap * sizeof *grown);
        if (!grown)
            return NULL;
        g_live = grown, g_cap = cap;
    }
    void *p = NULL;
    if (posix_memalign(&p, ALIGN, bytes ? bytes : 1) != 0)
        return NULL; /* the exact size: ASan reports the first byte past it */
    memset(p, 0xff, bytes);
    g_live[g_nlive++] = (allocation){p, bytes};
    g_in_use += bytes;
    return (void *)((uintptr_t)p | TAG);
}

int pg_emu_free(void *dev)
{
    void *host = (void *)((uintptr_t)dev & ~TAG);
    for (size_t i = 0; pg_emu_is_device(dev) && i < g_nlive; i++)
        if (g_live[i].host == host) {
            g_in_use -= g_live[i].bytes;
            g_live[i] = g_live[--g_nlive];
            free(host);
            return 0;
        }
    return -1;
}

int pg_emu_is_device(const void *p)
{
    return ((uintptr_t)p & TAG) != 0;
}

void *pg_emu_host_addr(const void *p, const char *what)
{
    if (!p)
        return NULL;
    if (!pg_emu_is_device(p)) {
        pg_emu_report("cudaemu memcheck: %s: %p is not device memory", what, p);
        return NULL;
    }
    return (void *)((uintptr_t)p & ~TAG);
}

size_t pg_emu_bytes_in_use(void)
{
    return g_in_use;
}
