#!/bin/sh
# `make bench-gpu`: pgolf's backend (cuda unless BENCH_BACKEND says otherwise) and the
# PyTorch baseline of bench/bench_gpu.py on the same shapes and tokens, in one run, then
# the ratio of pgolf's tokens/s to PyTorch's for each measurement. Without a usable GPU
# it prints one SKIP line and exits 0.
# usage: bench/gpu.sh BENCH_GPU [SHAPE]
set -eu
root=${PGOLF_ROOT:-.}
shape=${2:-baseline}
backend=${BENCH_BACKEND:-cuda}
python=${PYTHON:-python3}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
PGOLF_ROOT=$root "$1" --backend "$backend" --shape "$shape" | tee "$tmp"
if grep -q '^SKIP' "$tmp"; then
  exit 0
fi
device=cuda
[ "$backend" = cpu ] && device=cpu
if "$python" -c 'import torch, sys; sys.exit(0 if "'$device'" == "cpu" or torch.cuda.is_available() else 1)' 2>/dev/null; then
  "$python" "$root/bench/bench_gpu.py" --device "$device" --shape "$shape" | tee -a "$tmp"
else
  echo "no PyTorch with $device for $python: no PyTorch baseline in this run (PYTHON=... picks one)"
fi
awk '
  /^bench_gpu / {
    delete f
    for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    if (f["impl"] ~ /^pgolf/) c[f["what"]] = f["tokens_per_s"]; else t[f["what"]] = f["tokens_per_s"]
  }
  END { for (k in c) if (k in t) printf "ratio %s pgolf/torch tokens_per_s = %.3f\n", k, c[k] / t[k] }' "$tmp"
