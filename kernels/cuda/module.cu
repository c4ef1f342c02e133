// The CUDA backend's device code as one module: nvcc compiles this file at build time
// (the full build embeds the fatbin), NVRTC at run time where nvcc is absent (the box
// build, kernels/cuda/module.c). Host code lives in the _launch.c files.
// PG_FA_HD > 0: the attention's entry points for that head_dim alone (attention.cu).
#include "kernels/cuda/attention.cu"
#if !defined(PG_FA_HD) || PG_FA_HD == 0
#include "kernels/cuda/elementwise.cu"
#include "kernels/cuda/head.cu"
#include "kernels/cuda/norm_rope.cu"
#include "kernels/cuda/optim.cu"
#include "kernels/cuda/variants.cu"
#endif
