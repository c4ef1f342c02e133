/* Run-time loading of libcrypto and libzstd for the box build (see dl.c). */
#ifndef PG_BOX_DL_H
#define PG_BOX_DL_H

/* Loads both libraries and resolves every symbol the build calls; fails with a message
 * naming the library and the variable that points at it. */
int pg_box_libs_load(void);

#endif
