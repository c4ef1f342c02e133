/* Launch sizes that the CUDA kernels (device code, .cu) and their launchers (host code,
 * _launch.c) must agree on: shared arrays are sized by the threads a block has. */
#ifndef PG_CUDA_SIZES_H
#define PG_CUDA_SIZES_H

#define PG_CU_THREADS 256     /* elementwise kernels */
#define PG_CU_COL_THREADS 128 /* column sums: one thread per column */
#define PG_CU_ROW_THREADS 256 /* row reductions (RMSNorm, the head): one block per row */
#define PG_CU_SUM_BLOCKS 256  /* the gradient norm's first level */
#define PG_CU_FA_ROWS 64      /* attention rows a block owns, one per thread */
#define PG_CU_FA_TILE 32      /* rows of the other side staged in shared memory at a time */

#endif
