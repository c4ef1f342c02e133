/* The compute type of the CPU reference. float by default (the reference's float32);
 * the gradient-check tests build the same sources with -DPG_REAL_DOUBLE so that finite
 * differences are meaningful. rms_norm's eps is the machine epsilon of this type. */
#ifndef PG_REAL_H
#define PG_REAL_H

#include <float.h>

#ifdef PG_REAL_DOUBLE
typedef double pg_real;
#define PG_REAL_EPS DBL_EPSILON
#else
typedef float pg_real;
#define PG_REAL_EPS FLT_EPSILON
/* The widest attention head XSA takes (its CPU op keeps one head in fixed-size buffers). */
#define PG_MAX_HEAD_DIM 1024

#endif

/* The widest attention head XSA takes (its CPU op keeps one head in fixed-size buffers). */
#define PG_MAX_HEAD_DIM 1024

#endif
