#!/bin/sh
# Everything a GPU session must prove, in one command for a machine where minutes are
# scarce (`make gpu-proof`; 8 minutes at most after the build: each step has its own
# time limit, and the limits add up to 480 s):
#  1. pgolf selftest --backend cuda --tiny, then at the baseline shape
#  2. compute-sanitizer memcheck, racecheck and synccheck on the tiny selftest
#  3. make bench-gpu (pgolf against PyTorch on the same GPU, when PyTorch is there)
#  4. the box submission (tests/gpu/box_proof.sh, 20 steps per run)
# then a summary: one line per step with its result and seconds. Needs only the checkout
# (never ../shared). Without a usable GPU it prints one SKIP line and exits 0; otherwise
# it exits 1 if any step failed or ran out of time.
#   environment: PGOLF_ROOT (the checkout), PGOLF_BIN, BENCH_GPU (bench_gpu binary)
set -u
root=$(cd "${PGOLF_ROOT:-.}" && pwd)
pgolf=${PGOLF_BIN:-$root/pgolf}
bench=${BENCH_GPU:-$root/build/bench_gpu}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# the tiny selftest first, quietly: exit 77 means no usable GPU
t0=$(date +%s)
timeout 30 "$pgolf" selftest --backend cuda --tiny > "$work/selftest-tiny.txt" 2>&1
rc=$?
if [ $rc -eq 77 ]; then
    echo "SKIP: gpu-proof: $(sed -n 's/^SKIP: pgolf selftest: //p' "$work/selftest-tiny.txt" | head -n 1)"
    exit 0
fi
sanitizer=$(command -v compute-sanitizer || ls "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer" 2>/dev/null)
failed=0
: > "$work/summary"

# step NAME LIMIT_S COMMAND...: runs it under a time limit, its output to the terminal
# and to $work/NAME.txt, and adds a summary line
step() {
    name=$1 limit=$2
    shift 2
    echo "== $name (at most ${limit}s)"
    t0=$(date +%s)
    timeout "$limit" "$@" > "$work/$name.txt" 2>&1
    rc=$?
    cat "$work/$name.txt"
    s=$(($(date +%s) - t0))
    case $rc in
        0) r=PASS ;;
        124) r="TIMEOUT after ${limit}s"; failed=1 ;;
        *) r="FAIL (exit $rc)"; failed=1 ;;
    esac
    printf '%-28s %-22s %4ds\n' "$name" "$r" "$s" >> "$work/summary"
}

echo "== selftest-tiny (at most 30s)"
cat "$work/selftest-tiny.txt"
case $rc in
    0) r=PASS ;;
    124) r="TIMEOUT after 30s"; failed=1 ;;
    *) r="FAIL (exit $rc)"; failed=1 ;;
esac
printf '%-28s %-22s %4ds\n' selftest-tiny "$r" "$(($(date +%s) - t0))" >> "$work/summary"
step selftest-baseline 60 "$pgolf" selftest --backend cuda
if [ -n "$sanitizer" ]; then
    step sanitizer-memcheck 90 "$sanitizer" --tool memcheck --error-exitcode 3 \
        "$pgolf" selftest --backend cuda --tiny
    step sanitizer-racecheck 90 "$sanitizer" --tool racecheck --error-exitcode 3 \
        "$pgolf" selftest --backend cuda --tiny
    step sanitizer-synccheck 60 "$sanitizer" --tool synccheck --error-exitcode 3 \
        "$pgolf" selftest --backend cuda --tiny
else
    printf '%-28s %-22s %4ds\n' compute-sanitizer "SKIP (not found)" 0 >> "$work/summary"
fi
if [ -x "$bench" ]; then
    step bench-gpu 60 env PGOLF_ROOT="$root" "$root/bench/gpu.sh" "$bench" baseline
else
    printf '%-28s %-22s %4ds\n' bench-gpu "FAIL ($bench missing)" 0 >> "$work/summary"
    failed=1
fi
step box 90 env PGOLF_ROOT="$root" PGOLF_BIN="$pgolf" ITERATIONS=20 "$root/tests/gpu/box_proof.sh"

echo "== gpu-proof summary ($(tail -n 1 "$work/selftest-tiny.txt" | sed 's/^selftest: //'))"
cat "$work/summary"
exit $failed
