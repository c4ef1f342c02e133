#!/bin/sh
# `make bench`: runs each benchmark binary (pgolf with the BLAS and with the hand-written
# product it replaced) and, when Debian's python3-torch is installed, the PyTorch
# reference on the same shapes in the same run, then prints the ratio of pgolf's tokens/s
# to the hand-written path's (before/after) and to PyTorch's (the named baseline).
# usage: bench/run.sh BENCH_FORWARD BENCH_TRAIN BENCH_TTT BENCH_RECIPE PGOLF
set -eu
root=${PGOLF_ROOT:-.}
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.ckpt"' EXIT
have_torch=0
/usr/bin/python3 -c 'import torch' 2>/dev/null && have_torch=1
run() { # kind binary script
  echo "== $1, CPU ($(nproc) cores); baseline for the ratio: PyTorch float32 reference =="
  "$2" | tee -a "$tmp"
  if [ $have_torch = 1 ]; then
    /usr/bin/python3 "$root/bench/$3" | tee -a "$tmp"
  else
    echo "python3-torch not installed: no PyTorch baseline in this run"
  fi
}
run "forward pass" "$1" bench_forward.py
run "training step (forward + backward, optimizer)" "$2" bench_train.py
run "the records' phased TTT eval (and the plain eval it adds to)" "$3" bench_ttt.py
echo "== the latest record's core, training step with the records' recipe, CPU ($(nproc) cores); baselines: the March optimizer, PyTorch float32 reference =="
"$4" | tee -a "$tmp"
if [ $have_torch = 1 ]; then
  "$5" init --preset record --out "$tmp.ckpt" >/dev/null
  /usr/bin/python3 "$root/bench/bench_recipe.py" "$tmp.ckpt" | tee -a "$tmp"
  rm -f "$tmp.ckpt"
else
  echo "python3-torch not installed: no PyTorch baseline in this run"
fi
awk '
  /tokens_per_s=/ {
    delete f
    for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    key = $1 " " f["shape"] (f["part"] != "" ? " " f["part"] : "")
    if (f["impl"] == "pgolf-c") c[key] = f["tokens_per_s"]
    else if (f["impl"] == "pgolf-c-handwritten") h[key] = f["tokens_per_s"]
    else t[key] = f["tokens_per_s"]
  }
  END {
    for (k in c) if (k in h)
      printf "ratio %s pgolf BLAS/hand-written tokens_per_s = %.2f\n", k, c[k] / h[k]
    for (k in c) if (k in t) printf "ratio %s pgolf/torch tokens_per_s = %.3f\n", k, c[k] / t[k]
  }' "$tmp"
