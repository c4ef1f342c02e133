#!/bin/sh
# Usage: libc_headers.sh DIR
# Fills DIR with links to the C library's and the kernel's headers only (Debian's libc6-dev
# and linux-libc-dev) and prints the compiler flags that confine a build to them and the
# compiler's own headers: the box build must compile with nothing else (docs/box.md).
# Exits 77 where dpkg cannot list them.
set -eu
dir=$1
command -v dpkg >/dev/null 2>&1 || { echo "SKIP: no dpkg to list the C library's headers" >&2; exit 77; }
rm -rf "$dir"
mkdir -p "$dir"
dpkg -L libc6-dev linux-libc-dev | grep '^/usr/include/.*\.h$' | while read -r f; do
    rel=${f#/usr/include/}
    mkdir -p "$dir/$(dirname "$rel")"
    ln -sf "$f" "$dir/$rel"
done
cc=${CC:-cc}
echo "-nostdinc -isystem $($cc -print-file-name=include) -isystem $dir/$($cc -dumpmachine) -isystem $dir"
