/* The full build's device module: the fatbin nvcc made of kernels/cuda/module.cu
 * (PG_CUDA_MODULE_FILE), as read-only data for kernels/cuda/module.c. */
    .section .rodata
    .balign 64
    .globl pg_cuda_module_image
pg_cuda_module_image:
    .incbin PG_CUDA_MODULE_FILE
    .globl pg_cuda_module_image_end
pg_cuda_module_image_end:
    .section .note.GNU-stack,"",@progbits
