#!/bin/sh
# make check CUDA_EMU=1's proof of the CUDA backend on the CPU execution engine
# (tests/cudaemu/): `pgolf selftest --backend cuda --tiny` passes every op and model row
# (float32 parity and bf16 modes) with no report from the engine's checks, a second run
# gives the same numbers to the last bit (determinism), and the device suite
# (tests/test_device.c) runs on the CUDA backend in its float32 parity mode.
#   usage: check_backend.sh PGOLF RUN_TESTS
set -eu
pgolf=$1
tests=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/pgolf-cudaemu-XXXXXX")
trap 'rm -rf "$out"' EXIT
t0=$(date +%s)

"$pgolf" selftest --backend cuda --tiny > "$out/table.txt" 2> "$out/err1.txt" || {
    cat "$out/table.txt" "$out/err1.txt"
    echo "FAIL: pgolf selftest --backend cuda --tiny on the engine"
    exit 1
}
cat "$out/table.txt"
for i in 1 2; do
    "$pgolf" selftest --backend cuda --tiny --json > "$out/run$i.json" 2>> "$out/err2.txt"
done
if grep -q cudaemu "$out/err1.txt" "$out/err2.txt"; then
    cat "$out/err1.txt" "$out/err2.txt"
    echo "FAIL: the engine reported the shipped kernels"
    exit 1
fi
cmp -s "$out/run1.json" "$out/run2.json" || {
    diff "$out/run1.json" "$out/run2.json" | head -20
    echo "FAIL: two selftest runs on the engine differ"
    exit 1
}
grep -q '"device": "pgolf CPU execution engine' "$out/run1.json" || {
    echo "FAIL: the selftest did not run on the engine"
    exit 1
}
echo "selftest on the engine: every row passes, two runs the same bits"

PGOLF_TEST_DEVICE=cuda PGOLF_CUDA_LINEAR=fp32 CK_RUN_SUITE=device PGOLF_BIN="$pgolf" \
    PGOLF_ROOT="$root" "$tests"
echo "the CUDA backend on the engine: $(($(date +%s) - t0)) s"
