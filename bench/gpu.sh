#!/bin/sh
# `make bench-gpu`: pgolf's backend (cuda unless BENCH_BACKEND says otherwise), the
# PyTorch baseline of bench/bench_gpu.py on the same shapes and tokens and, on a GPU, the
# official train_gpt.py's training step (bench/bench_official.py), in one run, then the
# ratio of pgolf's tokens/s to each other's for each measurement. Without a usable GPU
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
  # the official train_gpt.py (REF_TRAIN_GPT, else ../shared/ref's) trains on a GPU only
  official=${REF_TRAIN_GPT:-$root/../shared/ref/train_gpt.py}
  if [ "$device" = cuda ] && [ "$shape" = baseline ] && [ -f "$official" ]; then
    "$python" "$root/bench/bench_official.py" "$official" "$root/data/sample/sample_1024_bpe.model" | tee -a "$tmp"
  else
    echo "no official train_gpt.py column in this run (it needs a GPU, the baseline shape and $official)"
  fi
else
  echo "no PyTorch with $device for $python: no PyTorch baseline in this run (PYTHON=... picks one)"
fi
# pgolf's tokens/s over each other implementation's, per measurement
awk '
  /^bench_gpu / {
    delete f
    for (i = 2; i <= NF; i++) if (split($i, kv, "=") == 2) f[kv[1]] = kv[2]
    if (f["impl"] ~ /^pgolf/) mine[f["what"]] = f["tokens_per_s"]
    else { other[f["impl"] SUBSEP f["what"]] = f["tokens_per_s"] }
  }
  END {
    for (k in other) {
      split(k, iw, SUBSEP)
      if (iw[2] in mine) printf "ratio %s pgolf/%s tokens_per_s = %.3f\n", iw[2], iw[1], mine[iw[2]] / other[k]
    }
  }' "$tmp"
