/* The engine's shared-memory checks. Device code is compiled with SanitizerCoverage's
 * load and store callbacks (-fsanitize-coverage=trace-loads,trace-stores); those that
 * touch the shared section (device.h's __shared__) are checked against a shadow of its
 * 4-byte words: a word written by one thread and read or written by another in the same
 * interval between barriers is a hazard (two threads writing different bytes of one word
 * would be reported too: no kernel of pgolf's shares words so), reported as compute-sanitizer's racecheck
 * reports it (kind, kernel, block, offset, the two threads, the access's source line).
 * Shared memory holds 0xff bytes before the first launch, and a block starts with the
 * bytes the previous block wrote set to 0xff again: GPU shared memory starts undefined,
 * and a kernel that reads it before writing gets NaNs. Accesses past an array's end
 * within the section are not detected (the arrays have no redzones between them). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/cudaemu/engine.h"

extern char __start_pgcu_shared[] __attribute__((weak));
extern char __stop_pgcu_shared[] __attribute__((weak));
/* ASan's symbolizer, when the program has it */
void __sanitizer_symbolize_pc(void *pc, const char *fmt, char *out, size_t n)
    __attribute__((weak));

#define MANY 0xffffu /* more than one thread read the byte in this interval */

typedef struct {
    uint32_t w_epoch, r_epoch; /* the interval of the last write and of the reads */
    uint16_t w_tid, r_tid;
} shadow;

static shadow *g_shadow;
static uint32_t g_epoch;
static const char *g_kernel;
static pg_emu_dim g_block;
static int g_hazards;
static char *g_dirty_lo, *g_dirty_hi; /* what this block wrote */

static size_t shadow_words(void)
{
    return (size_t)(__stop_pgcu_shared - __start_pgcu_shared + 3) / 4;
}

static void next_epoch(void)
{
    if (++g_epoch == 0) { /* wrapped: no old stamp may match a new interval */
        memset(g_shadow, 0, shadow_words() * sizeof *g_shadow);
        g_epoch = 1;
    }
}

void pg_emu_shared_launch(const char *kernel)
{
    size_t n = shadow_words();
    if (!g_shadow && n) {
        if (!(g_shadow = calloc(n, sizeof *g_shadow))) {
            fprintf(stderr, "cudaemu: out of memory for the shared-memory shadow\n");
            abort();
        }
        /* the section is zeros in the binary: undefined (0xff) before any block runs */
        memset(__start_pgcu_shared, 0xff, (size_t)(__stop_pgcu_shared - __start_pgcu_shared));
    }
    g_kernel = kernel;
    g_hazards = 0;
}

void pg_emu_shared_block(pg_emu_dim block)
{
    if (g_dirty_lo < g_dirty_hi)
        memset(g_dirty_lo, 0xff, (size_t)(g_dirty_hi - g_dirty_lo));
    g_dirty_lo = g_dirty_hi = NULL;
    g_block = block;
    next_epoch();
}

void pg_emu_shared_barrier(void)
{
    next_epoch();
}

int pg_emu_shared_hazards(void)
{
    return g_hazards;
}

static void hazard(const char *kind, size_t offset, size_t size, unsigned first, void *pc)
{
    if (g_hazards++)
        return; /* one report per launch */
    char where[256] = "";
    if (__sanitizer_symbolize_pc)
        __sanitizer_symbolize_pc(pc, "%s:%l", where, sizeof where);
    else
        snprintf(where, sizeof where, "pc %p", pc);
    char by[32] = "several threads";
    if (first != MANY)
        snprintf(by, sizeof by, "thread %u", first);
    pg_emu_report("cudaemu racecheck: %s hazard in kernel %s, block (%u,%u,%u): shared offset "
                  "%zu (%zu-byte access) by thread %u and %s between the same two barriers, at "
                  "%s",
                  kind, g_kernel, g_block.x, g_block.y, g_block.z, offset, size, pg_emu_tid, by, where);
}

static void access(char *p, size_t size, int write, void *pc)
{
    if (p < __start_pgcu_shared || p >= __stop_pgcu_shared)
        return;
    size_t off = (size_t)(p - __start_pgcu_shared);
    if (write) {
        g_dirty_lo = !g_dirty_lo || p < g_dirty_lo ? p : g_dirty_lo;
        g_dirty_hi = p + size > g_dirty_hi ? p + size : g_dirty_hi;
    }
    size_t last = (off + size - 1) / 4, words = shadow_words();
    for (size_t w = off / 4; w <= last && w < words; w++) {
        shadow *s = &g_shadow[w];
        int written = s->w_epoch == g_epoch && s->w_tid != pg_emu_tid;
        int read = s->r_epoch == g_epoch && s->r_tid != pg_emu_tid;
        if (write) {
            if (written)
                hazard("write-after-write", off, size, s->w_tid, pc);
            else if (read)
                hazard("write-after-read", off, size, s->r_tid, pc);
            s->w_epoch = g_epoch, s->w_tid = (uint16_t)pg_emu_tid;
        } else {
            if (written)
                hazard("read-after-write", off, size, s->w_tid, pc);
            if (s->r_epoch != g_epoch)
                s->r_epoch = g_epoch, s->r_tid = (uint16_t)pg_emu_tid;
            else if (s->r_tid != pg_emu_tid)
                s->r_tid = MANY;
        }
    }
}

/* SanitizerCoverage's callbacks: every load and store of the device code. */
#define CALLBACKS(bits, bytes)                                                                 \
    void __sanitizer_cov_load##bytes(uint##bits##_t *p);                                      \
    void __sanitizer_cov_store##bytes(uint##bits##_t *p);                                     \
    void __sanitizer_cov_load##bytes(uint##bits##_t *p)                                       \
    {                                                                                          \
        access((char *)p, bytes, 0, __builtin_return_address(0));                            \
    }                                                                                          \
    void __sanitizer_cov_store##bytes(uint##bits##_t *p)                                      \
    {                                                                                          \
        access((char *)p, bytes, 1, __builtin_return_address(0));                            \
    }
CALLBACKS(8, 1)
CALLBACKS(16, 2)
CALLBACKS(32, 4)
CALLBACKS(64, 8)
void __sanitizer_cov_load16(__int128 *p);
void __sanitizer_cov_store16(__int128 *p);
void __sanitizer_cov_load16(__int128 *p)
{
    access((char *)p, 16, 0, __builtin_return_address(0));
}
void __sanitizer_cov_store16(__int128 *p)
{
    access((char *)p, 16, 1, __builtin_return_address(0));
}
