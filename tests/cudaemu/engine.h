/* The CPU execution engine for pgolf's CUDA code (tests/cudaemu/): what its parts share.
 *
 * Device code (.cu files) is compiled by the host C++ compiler with device.h; each such
 * translation unit lists its kernels (registry.h) as one module. The CUDA runtime calls
 * (runtime.c) hand a launch to the scheduler (scheduler.c), which runs the grid's blocks
 * one after another and the threads of a block as cooperative fibers, with the checks a
 * GPU sanitizer makes. Device memory is host memory whose address carries a tag bit, so
 * the host cannot dereference it (memory.c). */
#ifndef PG_CUDAEMU_ENGINE_H
#define PG_CUDAEMU_ENGINE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    unsigned x, y, z;
} pg_emu_dim;

/* The launch's built-in variables, set by the scheduler for the running thread. */
extern pg_emu_dim pg_emu_thread_idx, pg_emu_block_idx, pg_emu_block_dim, pg_emu_grid_dim;
/* the running thread's index in its block (x fastest) */
extern unsigned pg_emu_tid;

/* The most bytes a kernel's parameters take (CUDA's limit is 4 KiB). */
#define PG_EMU_ARG_BYTES 4096

/* One kernel of a module: its extern "C" name, its __launch_bounds__ (0: none), and the
 * two halves of a call: unpack reads args[i] as the kernel's i-th parameter type (so a
 * wrongly typed argument is a wrong-sized read, caught under ASan) into buf, turning each
 * device pointer into the address the kernel dereferences (-1 with a report if one is not
 * device memory); invoke calls the kernel with them, once per thread. */
typedef struct {
    const char *name;
    unsigned max_threads;
    int (*unpack)(void **args, void *buf, const char *kernel);
    void (*invoke)(const void *buf);
} pg_emu_kernel;

typedef struct {
    const char *name;
    const pg_emu_kernel *kernels;
    int n;
} pg_emu_module;

/* The modules compiled into this program (registry.h defines them), found by name. */
const pg_emu_module *pg_emu_module_find(const char *name);

/* Device memory (memory.c). Allocations are filled with 0xff bytes (a NaN in every float
 * type), so what a kernel reads before anything wrote it poisons the results. */
void *pg_emu_malloc(size_t bytes);
int pg_emu_free(void *dev);
/* The host address a device address stands for; NULL (and a report) if p is not in
 * device memory. NULL stays NULL. `what` names the use, for the report. */
void *pg_emu_host_addr(const void *p, const char *what);
int pg_emu_is_device(const void *p);
size_t pg_emu_bytes_in_use(void);

/* Runs one launch (scheduler.c): 0, or -1 after reporting a failed check. */
int pg_emu_run(const pg_emu_kernel *k, pg_emu_dim grid, pg_emu_dim block, void **args);

/* __syncthreads(). Convergent, as on a GPU: the optimizer may neither duplicate nor merge
 * its call sites, whose return addresses synccheck compares. */
void pg_emu_syncthreads(void) __attribute__((convergent, noinline));

/* Shared memory's checks (racecheck.c), driven by the scheduler: a launch starts; a
 * block starts (what the previous block wrote is filled with 0xff bytes); the block's
 * threads pass a barrier. */
void pg_emu_shared_launch(const char *kernel);
void pg_emu_shared_block(pg_emu_dim block);
void pg_emu_shared_barrier(void);
/* The hazards found since the launch started (each reported once per launch). */
int pg_emu_shared_hazards(void);

/* Reports a failed check: one line on stderr, kept as the last report (tests read it). */
void pg_emu_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *pg_emu_last_report(void);
/* How many checks have failed since the start (the shipped kernels must fail none). */
int pg_emu_report_count(void);

#ifdef __cplusplus
}
#endif

#endif
