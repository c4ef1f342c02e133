/* The engine's scheduler: a launch's blocks run one after another in (z, y, x) order; the
 * threads of a block run as cooperative fibers on stacks of their own. A fiber runs
 * threads in order until one waits at __syncthreads(); when every thread of the block
 * waits at the same barrier, the scheduler releases them in thread order, so a barrier is
 * exact. A barrier that some threads never reach (they returned, or wait at another
 * __syncthreads) is a synccheck error: the block is abandoned and the launch fails. The
 * order is fixed, so a launch gives the same bits every run. */
#define _GNU_SOURCE /* pthread_getattr_np */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tests/cudaemu/engine.h"

/* The build defines PG_EMU_ASAN when the device code runs under ASan, which must be told
 * of every stack switch; this file itself is built without instrumentation (it is the
 * engine's hot loop, not code under test). */
#ifdef PG_EMU_ASAN
#include <pthread.h>
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
unsigned pg_emu_tid;

static fiber g_fibers[MAX_THREADS + 1];
static fiber *g_running; /* NULL: the scheduler (the caller's stack) */
static void *g_main_sp, *g_main_fake;
static const void *g_main_bottom;
static size_t g_main_size;

/* the block being run */
static const pg_emu_kernel *g_kernel;
static const void *g_args;
static unsigned g_next, g_threads, g_done;
/* Who runs next when the running fiber stops. While threads are being started (g_used
 * fibers so far), a fresh fiber takes the next unstarted thread; after a barrier, the
 * fibers that waited at it run in thread order (g_order[g_pos..]). The fibers that stop
 * at a barrier are collected in thread order in g_waiting. */
static int g_starting, g_used, g_pos, g_norder, g_nwaiting;
static fiber *g_order[MAX_THREADS], *g_waiting[MAX_THREADS];

static void set_thread(unsigned tid)
{
    pg_emu_dim d = pg_emu_block_dim;
    pg_emu_thread_idx = d.y == 1 && d.z == 1 ? (pg_emu_dim){tid, 0, 0}
                                             : (pg_emu_dim){tid % d.x, tid / d.x % d.y,
                                                            tid / (d.x * d.y)};
    pg_emu_tid = tid;
}

static void fiber_main(void);

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
    /* frames left by an abandoned thread (this file is not instrumented, so the call is
     * made directly rather than through ASAN_UNPOISON_MEMORY_REGION, which would vanish) */
    __asan_unpoison_memory_region(f->stack, STACK_BYTES);
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

/* Switches from the running context (a fiber, or the scheduler when from is NULL) to
 * `to` (a fiber, or the scheduler when NULL). */
static void switch_to(fiber *from, fiber *to)
{
    void **save = from ? &from->sp : &g_main_sp;
    g_running = to;
    if (to && to->tid >= 0)
        set_thread((unsigned)to->tid);
#ifdef PG_EMU_ASAN
    __sanitizer_start_switch_fiber(from ? &from->fake_stack : &g_main_fake,
                                   to ? to->stack : g_main_bottom,
                                   to ? STACK_BYTES : g_main_size);
    pg_emu_fiber_switch(save, to ? to->sp : g_main_sp);
    /* back in `from` */
    __sanitizer_finish_switch_fiber(from ? from->fake_stack : g_main_fake, NULL, NULL);
#else
    pg_emu_fiber_switch(save, to ? to->sp : g_main_sp);
#endif
}

/* The fiber to run after the running one stops, or NULL for the scheduler. */
static fiber *next_fiber(void)
{
    if (g_starting) {
        if (g_next >= g_threads)
            return NULL;
        fiber *f = &g_fibers[g_used++];
        if (!f->stack)
            fiber_reset(f);
        return f;
    }
    return ++g_pos < g_norder ? g_order[g_pos] : NULL;
}

/* A fiber's life: run the block's next unstarted thread, and the next, until none is
 * left; then stop idle until a later block needs it. */
static void fiber_main(void)
{
#ifdef PG_EMU_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    fiber *f = g_running;
    for (;;) {
        while (g_next < g_threads) {
            f->tid = (int)g_next++;
            set_thread((unsigned)f->tid);
            g_kernel->invoke(g_args);
            g_done++;
        }
        f->tid = -1;
        switch_to(f, next_fiber());
    }
}

void pg_emu_syncthreads(void)
{
    fiber *f = g_running;
    f->at = __builtin_return_address(0);
    g_waiting[g_nwaiting++] = f;
    switch_to(f, next_fiber());
}

static int sync_error(const char *kernel, const char *what)
{
    pg_emu_report("cudaemu synccheck: kernel %s, block (%u,%u,%u): %s (thread %d waits, %u of "
                  "%u threads have returned)",
                  kernel, pg_emu_block_idx.x, pg_emu_block_idx.y, pg_emu_block_idx.z, what,
                  g_waiting[0]->tid, g_done, g_threads);
    for (int i = 0; i < g_nwaiting; i++)
        fiber_reset(g_waiting[i]);
    return -1;
}

static int run_block(const pg_emu_kernel *k)
{
    g_next = g_done = 0;
    g_nwaiting = 0;
    pg_emu_shared_block(pg_emu_block_idx);
    g_starting = 1, g_used = 0;
    switch_to(NULL, next_fiber()); /* every thread starts, runs to a barrier or returns */
    g_starting = 0;
    while (g_nwaiting > 0) {
        if (g_done > 0)
            return sync_error(k->name, "__syncthreads() not reached by every thread");
        for (int i = 1; i < g_nwaiting; i++)
            if (g_waiting[i]->at != g_waiting[0]->at)
                return sync_error(k->name, "threads wait at different __syncthreads()");
        pg_emu_shared_barrier();
        memcpy(g_order, g_waiting, (size_t)g_nwaiting * sizeof *g_order);
        g_norder = g_nwaiting, g_pos = 0, g_nwaiting = 0;
        switch_to(NULL, g_order[0]); /* they run in thread order to the next barrier */
    }
    return 0;
}

int pg_emu_run(const pg_emu_kernel *k, pg_emu_dim grid, pg_emu_dim block, void **args)
{
    static _Alignas(16) unsigned char buf[PG_EMU_ARG_BYTES];
#ifdef PG_EMU_ASAN
    if (!g_main_bottom) { /* the caller's stack, for ASan's switches back to it */
        pthread_attr_t a;
        void *addr;
        pthread_getattr_np(pthread_self(), &a);
        pthread_attr_getstack(&a, &addr, &g_main_size);
        pthread_attr_destroy(&a);
        g_main_bottom = addr;
    }
#endif
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
