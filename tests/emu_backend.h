/* The emulated device backend of the tests (tests/emu_backend.c). */
#ifndef PG_TEST_EMU_BACKEND_H
#define PG_TEST_EMU_BACKEND_H

#include <stddef.h>

#include "kernels/backend.h"

/* The CPU's ops on memory that host code cannot dereference (a crash if it tries). */
const pg_backend *t_emu_backend(void);
/* How many to_device and to_host copies it has made so far. */
void t_emu_transfers(size_t *uploads, size_t *downloads);

#endif
