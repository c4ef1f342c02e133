/* The CUDA runtime calls of pgolf's host code, on the engine: device memory (memory.c),
 * copies and memset, one H100-shaped device, modules by name (cudaLibraryLoadData takes
 * the image that module_image.S embeds, which names an engine module), kernels by their
 * extern "C" names, launches (scheduler.c) and errors. As a real context after a faulting
 * kernel, the engine's is broken by a failed launch: every later call returns the error
 * until cudaDeviceReset. Calls run synchronously; the default stream is the only one. */
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/cudaemu/engine.h"

extern const pg_emu_module *const __start_pgcu_modules[] __attribute__((weak));
extern const pg_emu_module *const __stop_pgcu_modules[] __attribute__((weak));

/* what cudaLibraryLoadData accepts: this prefix, then a module's name */
#define IMAGE_PREFIX "pgolf cudaemu module: "

static cudaError_t g_last, g_sticky;

static cudaError_t fail(cudaError_t e)
{
    g_last = e;
    return e;
}

#define STICKY()                                                                           \
    do {                                                                                   \
        if (g_sticky != cudaSuccess)                                                       \
            return fail(g_sticky);                                                         \
    } while (0)

const pg_emu_module *pg_emu_module_find(const char *name)
{
    for (const pg_emu_module *const *m = __start_pgcu_modules; m < __stop_pgcu_modules; m++)
        if (strcmp((*m)->name, name) == 0)
            return *m;
    return NULL;
}

static int is_kernel(const void *p)
{
    for (const pg_emu_module *const *m = __start_pgcu_modules; m < __stop_pgcu_modules; m++)
        for (int i = 0; i < (*m)->n; i++)
            if (p == (const void *)&(*m)->kernels[i])
                return 1;
    return 0;
}

cudaError_t cudaGetDeviceCount(int *count)
{
    *count = 1;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device)
{
    STICKY();
    return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice);
}

cudaError_t cudaGetDevice(int *device)
{
    *device = 0;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int device)
{
    if (device != 0)
        return fail(cudaErrorInvalidDevice);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "pgolf CPU execution engine (H100-shaped)");
    p->totalGlobalMem = (size_t)80 << 30;
    p->sharedMemPerBlock = 48 << 10;
    p->sharedMemPerBlockOptin = 227 << 10;
    p->regsPerBlock = 65536;
    p->warpSize = 32;
    p->maxThreadsPerBlock = 1024;
    p->maxThreadsDim[0] = 1024, p->maxThreadsDim[1] = 1024, p->maxThreadsDim[2] = 64;
    p->maxGridSize[0] = 0x7fffffff, p->maxGridSize[1] = 65535, p->maxGridSize[2] = 65535;
    p->major = 9, p->minor = 0;
    p->multiProcessorCount = 132;
    p->maxThreadsPerMultiProcessor = 2048;
    p->totalConstMem = 64 << 10;
    return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int *v)
{
    *v = CUDART_VERSION;
    return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *v)
{
    *v = CUDART_VERSION;
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t bytes)
{
    STICKY();
    *p = NULL;
    if (bytes == 0)
        return cudaSuccess;
    if (bytes > ((size_t)80 << 30) - pg_emu_bytes_in_use() || !(*p = pg_emu_malloc(bytes)))
        return fail(cudaErrorMemoryAllocation);
    return cudaSuccess;
}

cudaError_t cudaFree(void *p)
{
    STICKY();
    if (p && pg_emu_free(p) != 0) {
        pg_emu_report("cudaemu: cudaFree(%p): not an allocation of cudaMalloc", p);
        return fail(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind)
{
    STICKY();
    if (n == 0)
        return cudaSuccess;
    int dst_dev = pg_emu_is_device(dst), src_dev = pg_emu_is_device(src);
    int want_dst = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    int want_src = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind == cudaMemcpyDefault)
        want_dst = dst_dev, want_src = src_dev;
    else if (kind != cudaMemcpyHostToHost && want_dst == 0 && want_src == 0)
        return fail(cudaErrorInvalidMemcpyDirection);
    if (dst_dev != want_dst || src_dev != want_src) {
        pg_emu_report("cudaemu: cudaMemcpy(%p, %p, %zu, kind %d): the pointers do not match the "
                      "copy's direction",
                      dst, src, n, (int)kind);
        return fail(cudaErrorInvalidValue);
    }
    void *d = dst_dev ? pg_emu_host_addr(dst, "cudaMemcpy") : dst;
    const void *s = src_dev ? pg_emu_host_addr(src, "cudaMemcpy") : src;
    memmove(d, s, n);
    return cudaSuccess;
}

cudaError_t cudaMemset(void *p, int value, size_t n)
{
    STICKY();
    if (n == 0)
        return cudaSuccess;
    if (!pg_emu_is_device(p)) {
        pg_emu_report("cudaemu: cudaMemset(%p): not device memory", p);
        return fail(cudaErrorInvalidValue);
    }
    memset(pg_emu_host_addr(p, "cudaMemset"), value, n);
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void)
{
    STICKY();
    return cudaSuccess;
}

/* The context again usable; its allocations are left to their owners. */
cudaError_t cudaDeviceReset(void)
{
    g_sticky = g_last = cudaSuccess;
    return cudaSuccess;
}

cudaError_t cudaLibraryLoadData(cudaLibrary_t *lib, const void *code, enum cudaJitOption *jit,
                                void **jit_values, unsigned n_jit, enum cudaLibraryOption *opts,
                                void **opt_values, unsigned n_opts)
{
    (void)jit, (void)jit_values, (void)opts, (void)opt_values;
    STICKY();
    const char *text = code;
    size_t k = strlen(IMAGE_PREFIX);
    if (n_jit || n_opts || strncmp(text, IMAGE_PREFIX, k) != 0)
        return fail(cudaErrorInvalidKernelImage);
    const pg_emu_module *m = pg_emu_module_find(text + k);
    if (!m)
        return fail(cudaErrorInvalidKernelImage);
    *lib = (cudaLibrary_t)(uintptr_t)m;
    return cudaSuccess;
}

cudaError_t cudaLibraryGetKernel(cudaKernel_t *kernel, cudaLibrary_t lib, const char *name)
{
    STICKY();
    const pg_emu_module *m = (const pg_emu_module *)(uintptr_t)lib;
    for (int i = 0; m && i < m->n; i++)
        if (strcmp(m->kernels[i].name, name) == 0) {
            *kernel = (cudaKernel_t)(uintptr_t)&m->kernels[i];
            return cudaSuccess;
        }
    return fail(cudaErrorSymbolNotFound);
}

cudaError_t cudaLaunchKernel(const void *func, dim3 grid, dim3 block, void **args,
                             size_t shared_bytes, cudaStream_t stream)
{
    STICKY();
    if (!is_kernel(func))
        return fail(cudaErrorInvalidDeviceFunction);
    const pg_emu_kernel *k = func;
    unsigned threads = block.x * block.y * block.z;
    if (!grid.x || !grid.y || !grid.z || !block.x || !block.y || !block.z || block.x > 1024 ||
        block.y > 1024 || block.z > 64 || (uint64_t)block.x * block.y * block.z > 1024 ||
        grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535)
        return fail(cudaErrorInvalidConfiguration);
    if (k->max_threads && threads > k->max_threads)
        return fail(cudaErrorLaunchOutOfResources); /* above its __launch_bounds__ */
    if (shared_bytes) {
        pg_emu_report("cudaemu: kernel %s: dynamic shared memory (%zu bytes) is not emulated",
                      k->name, shared_bytes);
        return fail(cudaErrorNotSupported);
    }
    if (stream) {
        pg_emu_report("cudaemu: kernel %s: only the default stream is emulated", k->name);
        return fail(cudaErrorNotSupported);
    }
    pg_emu_dim g = {grid.x, grid.y, grid.z}, b = {block.x, block.y, block.z};
    if (pg_emu_run(k, g, b, args) != 0)
        return fail(g_sticky = cudaErrorLaunchFailure);
    return cudaSuccess;
}

cudaError_t cudaGetLastError(void)
{
    cudaError_t e = g_last;
    g_last = g_sticky;
    return e;
}

cudaError_t cudaPeekAtLastError(void)
{
    return g_last;
}

const char *cudaGetErrorName(cudaError_t e)
{
    switch (e) {
#define NAME(x)                                                                            \
    case x:                                                                                \
        return #x;
        NAME(cudaSuccess)
        NAME(cudaErrorInvalidValue)
        NAME(cudaErrorMemoryAllocation)
        NAME(cudaErrorInvalidConfiguration)
        NAME(cudaErrorInvalidDevice)
        NAME(cudaErrorInvalidMemcpyDirection)
        NAME(cudaErrorInvalidDeviceFunction)
        NAME(cudaErrorInvalidKernelImage)
        NAME(cudaErrorSymbolNotFound)
        NAME(cudaErrorLaunchOutOfResources)
        NAME(cudaErrorLaunchFailure)
        NAME(cudaErrorNotSupported)
#undef NAME
    default:
        return "cudaErrorUnknown";
    }
}

const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess:
        return "no error";
    case cudaErrorLaunchFailure:
        return "a check of the CPU execution engine failed in a kernel (its report is above)";
    case cudaErrorLaunchOutOfResources:
        return "too many resources requested for launch";
    case cudaErrorInvalidConfiguration:
        return "invalid configuration argument";
    default:
        return cudaGetErrorName(e);
    }
}
