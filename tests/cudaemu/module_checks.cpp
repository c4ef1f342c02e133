// The engine tests' kernels (checks.cu) as the engine module "checks".
#include "tests/cudaemu/checks.cu"

#ifndef PG_EMU_LISTING
#include "tests/cudaemu/registry.h"

static const pg_emu_kernel checks_kernels[] = {
#include "checks_kernels.inc"
};
PG_EMU_MODULE("checks", checks_kernels)
#endif
