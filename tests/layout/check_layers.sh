#!/bin/sh
# Checks the layering of docs/architecture.md: a folder includes only itself and the
# folders before it in the data's journey, so no header of a later folder reaches an
# earlier one. Prints each offending include as FILE:LINE and exits 1.
set -eu
cd "${1:-.}"
order="common dataset kernels train packager verifier stats records pipeline cli"
rank() { # folder -> its position in $order (0 when not a layer)
  i=1
  for d in $order; do [ "$d" = "$1" ] && { echo $i; return; }; i=$((i + 1)); done
  echo 0
}
bad=0
for dir in $order; do
  r=$(rank "$dir")
  for f in $(find "$dir" -name '*.c' -o -name '*.h' -o -name '*.cu' | sort); do
    grep -n '^#include "[a-z]*/' "$f" | while IFS= read -r line; do
      inc=$(echo "$line" | sed 's/^[0-9]*:#include "\([a-z]*\)\/.*/\1/')
      ri=$(rank "$inc")
      if [ "$ri" -gt "$r" ]; then
        echo "$f:${line%%:*}: $dir/ includes $inc/, a later folder"
        echo x >> "${TMPDIR:-/tmp}/pgolf-layers.$$"
      fi
    done
  done
done
if [ -s "${TMPDIR:-/tmp}/pgolf-layers.$$" ]; then
  rm -f "${TMPDIR:-/tmp}/pgolf-layers.$$"
  exit 1
fi
rm -f "${TMPDIR:-/tmp}/pgolf-layers.$$"
echo "layers: every include points to the same or an earlier folder"
