/* The engine's scheduler: a launch's blocks run one after another in (z, y, x) order; the
 * threads of a block run as cooperative fibers on stacks of their own. A fiber runs
 * threads in order until one waits at __syncthreads(); when every thread of the block
 * waits at the same barrier, the scheduler releases them in thread order, so a barrier is
 * exact. A barrier that some threads never reach (they returned, or wait at another
 * __syncthreads) is a synccheck error: the block is abandoned and the launch fails. The
 * order is fixed, so a launch gives the same bits every run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tests/cudaemu/engine.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PG_EMU_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PG_EMU_ASAN 1
#endif
#ifdef PG_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#define MAX_THREADS 1024
#define STACK_BYTES ((size_t)256 << 10) /* room for ASan's frames and its reports */
#define GUARD_BYTES ((size_t)4 << 10)

void pg_emu_fiber_switch(void **from, void *to); /* fiber_x86_64.S */

typedef struct {
    void *sp;          /* saved while switched out */
    char *stack;       /* the usable stack, above a guard page */
    int tid;           /* the thread it holds at a barrier, or -1 when idle */
    const void *at;    /* where that thread waits (the __syncthreads call's return address) */
    void *fake_stack;  /* ASan's, across switches */
} fiber;

pg_emu_dim pg_emu_thread_idx, pg_emu_block_idx, pg_emu_block_dim, pg_emu_grid_dim;

static fiber g_fibers[MAX_THREADS + 1];
static fiber *g_running;
static void *g_main_sp, *g_main_fake;
static const void *g_main_bottom;
static size_t g_main_size;

/* the block being run */
static const pg_emu_kernel *g_kernel;
static const void *g_args;
static unsigned g_next, g_threads, g_done;

static void start_switch(void **fake, const void *bottom, size_t size)
{
#ifdef PG_EMU_ASAN
    __sanitizer_start_switch_fiber(fake, bottom, size);
#else
    (void)fake, (void)bottom, (void)size;
#endif
}

static void finish_switch(void *fake, const void **bottom, size_t *size)
{
#ifdef PG_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, bottom, size);
#else
    (void)fake, (void)bottom, (void)size;
#endif
}

static void set_thread(unsigned tid)
{
    pg_emu_dim d = pg_emu_block_dim;
    pg_emu_thread_idx = (pg_emu_dim){tid % d.x, tid / d.x % d.y, tid / (d.x * d.y)};
    pg_emu_shared_thread(tid);
}

/* From a fiber back to the scheduler. */
static void yield(fiber *f)
{
    start_switch(&f->fake_stack, g_main_bottom, g_main_size);
    pg_emu_fiber_switch(&f->sp, g_main_sp);
    finish_switch(f->fake_stack, &g_main_bottom, &g_main_size);
}

/* A fiber's life: run the block's next unstarted thread, and the next, until none is
 * left; then wait idle for the next block. */
static void fiber_main(void)
{
    fiber *f = g_running;
    finish_switch(NULL, &g_main_bottom, &g_main_size);
    for (;;) {
        while (g_next < g_threads) {
            f->tid = (int)g_next++;
            set_thread((unsigned)f->tid);
            g_kernel->invoke(g_args);
            g_done++;
        }
        f->tid = -1;
        yield(f);
    }
}

/* A fiber ready to start fiber_main (made once, or again after its block was abandoned
 * at a failed barrier). */
static void fiber_reset(fiber *f)
{
    if (!f->stack) {
        char *m = mmap(NULL, STACK_BYTES + GUARD_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) {
            fprintf(stderr, "cudaemu: cannot map a fiber stack\n");
            abort();
        }
        mprotect(m, GUARD_BYTES, PROT_NONE);
        f->stack = m + GUARD_BYTES;
    }
#ifdef PG_EMU_ASAN
    ASAN_UNPOISON_MEMORY_REGION(f->stack, STACK_BYTES); /* frames left by an abandoned thread */
#endif
    /* fiber_main is entered by the switch's `ret` with the stack 16-byte aligned after
     * the return address is popped, as after a call; its own return address is 0 */
    uintptr_t *top = (uintptr_t *)(f->stack + STACK_BYTES);
    top[-1] = 0;
    top[-2] = (uintptr_t)fiber_main;
    f->sp = top - 2 - 6; /* the six callee-saved registers the switch pops */
    memset(f->sp, 0, 6 * sizeof(uintptr_t));
    f->tid = -1;
    f->fake_stack = NULL;
}

/* Runs f until it yields. */
static void resume(fiber *f)
{
    g_running = f;
    if (f->tid >= 0)
        set_thread((unsigned)f->tid);
    start_switch(&g_main_fake, f->stack, STACK_BYTES);
    pg_emu_fiber_switch(&g_main_sp, f->sp);
    finish_switch(g_main_fake, NULL, NULL);
}

void pg_emu_syncthreads(void)
{
    fiber *f = g_running;
    f->at = __builtin_return_address(0);
    yield(f);
}

static int sync_error(const char *kernel, const char *what, fiber **waiting, int n)
{
    pg_emu_report("cudaemu synccheck: kernel %s, block (%u,%u,%u): %s (thread %d waits, %u of "
                  "%u threads have returned)",
                  kernel, pg_emu_block_idx.x, pg_emu_block_idx.y, pg_emu_block_idx.z, what,
                  waiting[0]->tid, g_done, g_threads);
    for (int i = 0; i < n; i++)
        fiber_reset(waiting[i]);
    return -1;
}

static int run_block(const pg_emu_kernel *k)
{
    static fiber *waiting[MAX_THREADS];
    int n = 0;
    g_next = g_done = 0;
    pg_emu_shared_block(pg_emu_block_idx);
    for (int used = 0; g_next < g_threads; used++) {
        fiber *f = &g_fibers[used];
        if (!f->stack)
            fiber_reset(f);
        resume(f);
        if (f->tid >= 0)
            waiting[n++] = f;
    }
    while (n > 0) {
        if (g_done > 0)
            return sync_error(k->name, "__syncthreads() not reached by every thread", waiting, n);
        for (int i = 1; i < n; i++)
            if (waiting[i]->at != waiting[0]->at)
                return sync_error(k->name, "threads wait at different __syncthreads()", waiting,
                                  n);
        pg_emu_shared_barrier();
        int still = 0;
        for (int i = 0; i < n; i++) {
            resume(waiting[i]);
            if (waiting[i]->tid >= 0)
                waiting[still++] = waiting[i];
        }
        n = still;
    }
    return 0;
}

int pg_emu_run(const pg_emu_kernel *k, pg_emu_dim grid, pg_emu_dim block, void **args)
{
    static _Alignas(16) unsigned char buf[PG_EMU_ARG_BYTES];
    if (k->unpack(args, buf, k->name) != 0)
        return -1;
    g_kernel = k;
    g_args = buf;
    g_threads = block.x * block.y * block.z;
    pg_emu_grid_dim = grid;
    pg_emu_block_dim = block;
    pg_emu_shared_launch(k->name);
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                pg_emu_block_idx = (pg_emu_dim){x, y, z};
                if (run_block(k) != 0)
                    return -1;
            }
    return pg_emu_shared_hazards() ? -1 : 0;
}
