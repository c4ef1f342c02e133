#!/bin/sh
# Lists the kernels of a device translation unit for its engine module (registry.h): reads
# the preprocessed source (device.h marks each kernel and its __launch_bounds__) and writes
# one PG_EMU_KERNEL(name, bound) row per kernel, in source order.
set -eu
grep -o 'annotate("pg_kernel"))) void \(__attribute__((annotate("pg_lb:" "[0-9]*"))) \)\{0,1\}[A-Za-z_][A-Za-z_0-9]*' |
    sed -e 's/.*"pg_lb:" "\([0-9]*\)"))) \([A-Za-z_0-9]*\)$/PG_EMU_KERNEL(\2, \1)/' \
        -e 's/^annotate("pg_kernel"))) void \([A-Za-z_0-9]*\)$/PG_EMU_KERNEL(\1, 0)/'
