// The CUDA device dialect for the host C++ compiler: what pgolf's kernels use, so the
// real .cu files run on the CPU (the engine's docs: engine.h). Force-included (-include)
// before a .cu file. What a kernel uses and this header lacks (warp intrinsics, atomics,
// dynamic shared memory) fails to compile: the engine never guesses.
#pragma once

#include <math.h>
#include <string.h>

#include "tests/cudaemu/engine.h"

// A kernel carries a marker that tests/cudaemu/kernel_list.sh finds in the preprocessed
// source, with its __launch_bounds__, to list the module's kernels (registry.h).
#define __global__ __attribute__((annotate("pg_kernel")))
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...) PG_EMU_BOUNDS_(__VA_ARGS__, 0)
#define PG_EMU_BOUNDS_(n, ...) __attribute__((annotate("pg_lb:" PG_EMU_STR_(n))))
#define PG_EMU_STR_(x) #x

// Shared memory: one static array per declaration, in a section of its own whose bounds
// the scheduler knows: blocks run one at a time, so a static is the block's memory. The
// scheduler fills what the previous block wrote with 0xff bytes when a block starts (a
// GPU's shared memory starts undefined), and checks every access of the section for
// races between barriers. `used` keeps each array's address visible to the optimizer as
// escaping, so no load of it is cached across a barrier (an external call).
#define __shared__ static __attribute__((section("pgcu_shared"), used))

#define threadIdx (static_cast<const pg_emu_dim &>(pg_emu_thread_idx))
#define blockIdx (static_cast<const pg_emu_dim &>(pg_emu_block_idx))
#define blockDim (static_cast<const pg_emu_dim &>(pg_emu_block_dim))
#define gridDim (static_cast<const pg_emu_dim &>(pg_emu_grid_dim))

#define __syncthreads() pg_emu_syncthreads()

// CUDA's integer and float min/max overloads.
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
static inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
static inline long long min(long long a, long long b) { return a < b ? a : b; }
static inline long long max(long long a, long long b) { return a > b ? a : b; }
static inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
static inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
static inline float min(float a, float b) { return fminf(a, b); }
static inline float max(float a, float b) { return fmaxf(a, b); }

// Bit reinterpretations.
static inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
static inline float __uint_as_float(unsigned i) { float f; memcpy(&f, &i, 4); return f; }
static inline int __float_as_int(float f) { int i; memcpy(&i, &f, 4); return i; }
static inline unsigned __float_as_uint(float f) { unsigned i; memcpy(&i, &f, 4); return i; }
