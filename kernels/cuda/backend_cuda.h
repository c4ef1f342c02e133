/* The CUDA backend (kernels/cuda/): the table of kernels/backend.h on one GPU, with
 * parameters, activations and optimizer state in device memory as float32. Host code in C
 * (*.c), device code in one module of kernels (*.cu: nvcc at build time, or NVRTC at run
 * time in the box build). Built only when PGOLF_CUDA is defined (nvcc found, or the box
 * build found the CUDA wheels); kernels/backend_select.c is what the rest of pgolf calls.
 * Deterministic: no reduction depends on thread timing, so the same inputs give the same
 * bits run to run on one GPU. */
#ifndef PG_BACKEND_CUDA_H
#define PG_BACKEND_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"

/* The backend on the current device; NULL (message: no driver, no device, or the CUDA
 * error) when there is none. */
const pg_backend *pg_backend_cuda(void);
/* The device's name, compute capability and memory, and the driver, runtime and cuBLASLt
 * versions, e.g. "NVIDIA H100 80GB HBM3 (sm_90, 79 GiB), CUDA driver 12.8, ...". */
void pg_cuda_describe(char *buf, size_t n);
/* PGOLF_CUDA_LINEAR: 1 for bf16 (unset or "bf16": the linear layers as the reference's
 * autocast computes them), 0 for fp32 (the parity mode: float32 without TF32), -1 for
 * anything else. The backend's linear_bf16 entry switches the mode at run time. */
int pg_cuda_linear_mode_from_env(void);

/* NCCL (loaded at run time, kernels/cuda/nccl.c): rank 0's unique id for the rendezvous
 * to hand out (len must be NCCL's 128; needs no GPU), and "NCCL x.y.z" or
 * "NCCL not found". */
int pg_cuda_group_id(uint8_t *id, size_t len);
void pg_cuda_nccl_describe(char *buf, size_t n);

/* The attention's kernels for head_dim, compiled now when the module is compiled at run
 * time (else on their first launch, which would then count in a timed step); 0 or -1
 * (message). */
int pg_cuda_prepare_head_dim(int head_dim);

/* kernels/cuda/module.cu under the source folder `root` compiled by NVRTC (loaded at run
 * time: PGOLF_NVRTC, else libnvrtc.so) for sm_<major><minor>, with the attention's entry
 * points for one padded head_dim (32, 64, 128; 0: none); *image (malloc'd) gets the
 * cubin. Needs no GPU. Fails naming the file and NVRTC's first error line. */
int pg_cuda_nvrtc_compile(const char *root, int major, int minor, int head_dim,
                          unsigned char **image, size_t *len);

#endif
