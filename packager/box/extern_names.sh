#!/bin/sh
# Writes (to stdout) the names the box build's renamer must keep beyond its own rules
# (packager/rename.h, docs/box.md): every name the system headers of the box sources
# declare that the sources use (libc, OpenMP, the CUDA runtime, cuBLASLt, NVRTC, NCCL), and
# every name of up to three characters those headers declare, which no new name may take.
# The headers are read with _GNU_SOURCE, which declares the most (some sources ask for
# more than the build's flags, e.g. _XOPEN_SOURCE for nftw).
# Run from the repository root with the CUDA toolkit's headers in $CUDA_HOME/include:
#   sh packager/box/extern_names.sh > packager/box/extern_names.txt
set -eu
pgolf=${PGOLF_BIN:-./pgolf}
cuda=${CUDA_HOME:-/usr/local/cuda}
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$pgolf" selfextract --list | grep -E '\.(c|h|cu|cuh)$' > "$tmp/files"
# the headers the sources include with <...>, but the box's own stand-ins
sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/\1/p' $(cat "$tmp/files") |
    sort -u | while read -r h; do
        [ -e "packager/box/include/$h" ] || echo "#include <$h>"
    done > "$tmp/all.c"
"$cc" -E -dD -fopenmp -D_GNU_SOURCE -I"$cuda/include" \
    -x c "$tmp/all.c" > "$tmp/all.i"
words() { tr -c 'A-Za-z0-9_' '\n' | grep -E '^[A-Za-z][A-Za-z0-9_]*$' | LC_ALL=C sort -u; }
words < "$tmp/all.i" > "$tmp/headers"
for f in $(cat "$tmp/files"); do # without comments
    "$cc" -w -fpreprocessed -dD -E -P -x c "$f"
done | words > "$tmp/sources"
{
    LC_ALL=C comm -12 "$tmp/headers" "$tmp/sources"
    grep -E '^[A-Za-z][A-Za-z0-9_]{0,2}$' "$tmp/headers"
} | LC_ALL=C sort -u
