// pgolf's device module (kernels/cuda/module.cu, every .cu file) as an engine module: the
// kernels compiled for the CPU, and their table, generated from the preprocessed module
// by kernel_list.sh (the build's pgolf_kernels.inc).
#include "kernels/cuda/module.cu"

#ifndef PG_EMU_LISTING
#include "tests/cudaemu/registry.h"

static const pg_emu_kernel pgolf_kernels[] = {
#include "pgolf_kernels.inc"
};
PG_EMU_MODULE("pgolf", pgolf_kernels)
#endif
