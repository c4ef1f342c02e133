// Device helpers shared by the CUDA kernels. The kernels are one module (module.cu),
// compiled by nvcc at build time or by NVRTC at run time (the box build), so this code
// includes no host header: NVRTC has none. Kernels are extern "C" so the host finds them
// by name (kernels/cuda/host.h).
#pragma once

#define PG_KERNEL extern "C" __global__ void
#define PG_INF __int_as_float(0x7f800000)

// Block-wide sum and max over blockDim.x threads (a power of two, at most 1024) in a
// fixed tree order: the same bits every run. `sh` holds blockDim.x values.
template <typename T> __device__ T pg_block_sum(T v, T *sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    T r = sh[0];
    __syncthreads();
    return r;
}

__device__ inline float pg_block_max(float v, float *sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            sh[threadIdx.x] = fmaxf(sh[threadIdx.x], sh[threadIdx.x + s]);
        __syncthreads();
    }
    float r = sh[0];
    __syncthreads();
    return r;
}

// The index of this thread in a 1-D grid.
__device__ inline size_t pg_thread_index(void)
{
    return (size_t)blockIdx.x * blockDim.x + threadIdx.x;
}
