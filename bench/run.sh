#!/bin/sh
# `make bench`: runs each benchmark binary and, when Debian's python3-torch is
# installed, the PyTorch reference on the same shapes, then prints the ratio of
# pgolf's tokens/s to the baseline named on each line.
set -eu
root=${PGOLF_ROOT:-.}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
echo "== forward pass, CPU (baseline for the ratio: PyTorch float32 reference) =="
"$1" | tee -a "$tmp"
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  /usr/bin/python3 "$root/bench/bench_forward.py" | tee -a "$tmp"
  awk '
    / shape=/ {
      for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      if (f["impl"] ~ /^pgolf/) c[f["shape"]] = f["tokens_per_s"]; else t[f["shape"]] = f["tokens_per_s"]
    }
    END { for (s in c) if (s in t) printf "ratio shape=%s pgolf/torch tokens_per_s = %.3f\n", s, c[s] / t[s] }' "$tmp"
else
  echo "python3-torch not installed: no PyTorch baseline in this run"
fi
