#!/bin/sh
# The box submission on a GPU machine (issue: a PyTorch 2.x image with the nvidia-* wheels
# stands in for the challenge's box), in one command: `make box-gpu`.
#  1. the NVRTC-compiled kernels against the CPU reference: PGOLF_CUDA_SRC=. pgolf selftest
#  2. train_gpt.py from a clean folder with nvcc hidden from PATH: builds against the
#     wheels, compiles the kernels with NVRTC, trains on the GPU and scores
#  3. the same with nvcc on PATH (when there is one)
#  4. two ranks under torchrun on this machine's GPUs (on one GPU NCCL may refuse two
#     ranks on the same device; that is printed, not hidden)
# Without a GPU it prints one SKIP line and exits 0. PYTHON picks the python3 (with torch
# and sentencepiece); ITERATIONS the steps of the box runs (default 50).
set -u
root=$(cd "${PGOLF_ROOT:-.}" && pwd)
pgolf=${PGOLF_BIN:-$root/pgolf}
python=${PYTHON:-python3}
if ! "$python" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "SKIP: box-gpu: no GPU visible to $python's torch"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
step() { echo "== $1"; }
step "selftest, kernels compiled at run time by NVRTC"
PGOLF_CUDA_SRC=$root "$pgolf" selftest --backend cuda || status=1
"$pgolf" selftest --backend cuda --tiny > /dev/null || status=1
folder=$work/records
mkdir -p "$folder"
"$pgolf" selfextract --out "$folder/train_gpt.py" || exit 1
export DATA_PATH=$root/data/sample TOKENIZER_PATH=$root/data/sample/sample_1024_bpe.model
export ITERATIONS=${ITERATIONS:-50} VAL_LOSS_EVERY=0 MAX_WALLCLOCK_SECONDS=0
run() { # name, then the command; prints the run's pgolf_ lines and final lines
  name=$1
  shift
  ( cd "$folder" && PGOLF_OUT=$work/$name "$@" ) > "$work/$name.txt" 2>&1
  rc=$?
  grep -E '^(pgolf_|step:|final_|Code size|Total submission)' "$work/$name.txt" | grep -v '^step:[0-9]*/[0-9]* train_loss' | tail -n 12
  echo "$name: exit $rc"
  [ $rc -eq 0 ] || { tail -n 5 "$work/$name.txt"; status=1; }
}
nvcc_dir=$(command -v nvcc 2>/dev/null | xargs -r dirname)
nonvcc_path=$(echo "$PATH" | tr ':' '\n' | grep -vx "${nvcc_dir:-/nonexistent}" | paste -sd:)
step "train_gpt.py, nvcc hidden: NVRTC"
set -- nvrtc env PATH="$nonvcc_path" "$python" train_gpt.py
run "$@"
grep -q '^pgolf_backend:cuda .*NVRTC' "$work/nvrtc.txt" || { echo "nvrtc: not on the GPU with NVRTC"; status=1; }
if [ -n "${nvcc_dir:-}" ]; then
  step "train_gpt.py, nvcc on PATH"
  set -- nvcc "$python" train_gpt.py
  run "$@"
fi
step "train_gpt.py under torchrun, 2 ranks"
set -- torchrun env PATH="$nonvcc_path" "$python" -m torch.distributed.run --standalone --nproc_per_node=2 train_gpt.py
run "$@"
exit $status
