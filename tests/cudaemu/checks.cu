// Kernels for the engine's own tests (test_engine.c): each deliberately wrong kernel
// must be reported by the check named beside it, and each right one by none.
#include "kernels/cuda/common.cuh"

// racecheck, read-after-write: each thread reads the slot of the thread before it
// without a barrier.
PG_KERNEL shift_no_barrier(float *out)
{
    __shared__ float sh[64];
    sh[threadIdx.x] = (float)threadIdx.x;
    out[threadIdx.x] = sh[(threadIdx.x + blockDim.x - 1) % blockDim.x];
}

// The same with the barrier: right.
PG_KERNEL shift_with_barrier(float *out)
{
    __shared__ float sh[64];
    sh[threadIdx.x] = (float)threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = sh[(threadIdx.x + blockDim.x - 1) % blockDim.x];
}

// racecheck, write-after-write: every thread writes one word.
PG_KERNEL all_write_one(float *out)
{
    __shared__ float sh[1];
    sh[0] = (float)threadIdx.x;
    __syncthreads();
    if (threadIdx.x == 0)
        out[0] = sh[0];
}

// racecheck, write-after-read: thread 0 reads a slot that thread 1 then overwrites in the
// same interval (a missing barrier between a reduction's read and the next write).
PG_KERNEL read_then_overwrite(float *out)
{
    __shared__ float sh[64];
    sh[threadIdx.x] = 1.0f;
    __syncthreads();
    if (threadIdx.x == 0)
        out[0] = sh[1];
    sh[threadIdx.x] = 2.0f;
}

// synccheck: threads 16 and up return before the barrier the others wait at.
PG_KERNEL barrier_after_return(float *out)
{
    __shared__ float sh[64];
    if (threadIdx.x >= 16)
        return;
    sh[threadIdx.x] = 1.0f;
    __syncthreads();
    out[threadIdx.x] = sh[15 - threadIdx.x];
}

// synccheck: odd and even threads wait at different barriers.
PG_KERNEL split_barriers(float *out)
{
    __shared__ float sh[64];
    if (threadIdx.x % 2) {
        sh[threadIdx.x] = 1.0f;
        __syncthreads();
        out[threadIdx.x] = sh[threadIdx.x - 1];
    } else {
        __syncthreads();
        out[threadIdx.x] = 2.0f;
    }
}

// memcheck (ASan): writes one element past the end of out.
PG_KERNEL write_past_end(float *out, int n)
{
    int i = (int)pg_thread_index();
    if (i <= n)
        out[i] = 1.0f;
}

// Right: a copy. Given a source nobody wrote, its output is the engine's NaN fill.
PG_KERNEL copy(float *dst, const float *src, int n)
{
    int i = (int)pg_thread_index();
    if (i < n)
        dst[i] = src[i];
}

// Right when launched with a size_t; an int argument is a 4-byte slot read as 8 (ASan).
PG_KERNEL fill_sized(float *out, size_t n)
{
    size_t i = pg_thread_index();
    if (i < n)
        out[i] = 3.0f;
}

// Wrong: only block 0 fills the shared array, so block 1 reads memory its block never
// wrote (the engine's 0xff fill, NaN), not block 0's values.
PG_KERNEL shared_from_block_0(float *out)
{
    __shared__ float sh[64];
    if (blockIdx.x == 0)
        sh[threadIdx.x] = 5.0f;
    __syncthreads();
    out[blockIdx.x * blockDim.x + threadIdx.x] = sh[threadIdx.x];
}

// Wrong: reads shared memory no thread wrote, in the first block of its first launch.
PG_KERNEL shared_never_written(float *out)
{
    __shared__ float never[64];
    out[threadIdx.x] = never[threadIdx.x];
}

// Right: a block sum, as the shipped kernels reduce (common.cuh).
PG_KERNEL block_sums(double *out, const float *x)
{
    __shared__ double sh[256];
    double s = pg_block_sum((double)x[pg_thread_index()], sh);
    if (threadIdx.x == 0)
        out[blockIdx.x] = s;
}
