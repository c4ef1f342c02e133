// The CUDA backend's device code as one module: nvcc compiles this file at build time
// (the full build embeds the fatbin), NVRTC at run time where nvcc is absent (the box
// build, kernels/cuda/module.c). Host code lives in the _launch.c files.
#include "kernels/cuda/attention.cu"
#include "kernels/cuda/elementwise.cu"
#include "kernels/cuda/head.cu"
#include "kernels/cuda/norm_rope.cu"
#include "kernels/cuda/optim.cu"
