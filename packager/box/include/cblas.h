/* The CBLAS call of the box build's CPU backend (kernels/cpu/gemm.c), resolved at run
 * time from the machine's OpenBLAS when it has one (packager/box/dl.c); without one,
 * pg_cblas_available() is 0 and gemm.c uses its own product. The full build uses
 * OpenBLAS's <cblas.h>. */
#ifndef PG_BOX_CBLAS_H
#define PG_BOX_CBLAS_H

#define PG_CBLAS_OPTIONAL 1

enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };

int pg_cblas_available(void);
void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m,
                 int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                 float beta, float *c, int ldc);

#endif
