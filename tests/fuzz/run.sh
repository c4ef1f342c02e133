#!/bin/sh
# Runs libFuzzer harnesses one after the other, SECONDS each, in one process each, and
# stops at the first crash, leak, timeout or out-of-memory (exit 1, its report printed).
#   usage: tests/fuzz/run.sh BUILD_DIR SECONDS HARNESS...   (make fuzz FUZZ_SECONDS=N)
# Limits, the same for every harness:
#   -rss_limit_mb=2048 (and libFuzzer's malloc limit, which follows it): no input of a
#     few KB may make a loader allocate 2 GiB; decoded sizes are bounded by the file.
#   -timeout=10: seconds per input.
#   -max_len: per harness below, a little over its largest seed.
# New inputs go to BUILD_DIR/corpus/HARNESS (tests/fuzz/corpus/HARNESS holds the seeds,
# tests/fuzz/regressions/HARNESS the inputs of bugs found, both only read); a crashing
# input is written to BUILD_DIR/crashes/HARNESS/. Minimize it with
#   BUILD_DIR/fuzz/fuzz_HARNESS -minimize_crash=1 -runs=10000 CRASH_FILE
# and check it into tests/fuzz/regressions/HARNESS/, which `make check` replays.
# Executions per harness are appended to BUILD_DIR/fuzz-stats.txt.
set -eu
build=$1
seconds=$2
shift 2

max_len() {
  case $1 in
    shard) echo 8192 ;;
    tokenizer) echo 4096 ;;
    container | checkpoint | artifact | sealed) echo 16384 ;;
    logparse) echo 8192 ;;
    leaderboard) echo 4096 ;;
    record) echo 8192 ;;
    manifest) echo 8192 ;;
    pickle) echo 4096 ;;
    torchfile) echo 8192 ;;
    caseops) echo 2048 ;;
  esac
}

dict() {
  case $1 in
    container | checkpoint | artifact | sealed) echo tests/fuzz/dict/model.dict ;;
    logparse | record | manifest | pickle) echo "tests/fuzz/dict/$1.dict" ;;
    torchfile) echo tests/fuzz/dict/pickle.dict ;;
  esac
}

# the record harness writes a folder per input: keep it in memory when possible
[ -d /dev/shm ] && [ -w /dev/shm ] && TMPDIR=/dev/shm && export TMPDIR

for h in "$@"; do
  mkdir -p "$build/corpus/$h" "$build/crashes/$h"
  set -- "$build/corpus/$h" "tests/fuzz/corpus/$h"
  [ -d "tests/fuzz/regressions/$h" ] && set -- "$@" "tests/fuzz/regressions/$h"
  d=$(dict "$h")
  [ -n "$d" ] && set -- "-dict=$d" "$@"
  log="$build/fuzz-$h.log"
  if ! "$build/fuzz/fuzz_$h" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -max_len="$(max_len "$h")" -print_final_stats=1 -artifact_prefix="$build/crashes/$h/" \
      "$@" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $h failed; the input is in $build/crashes/$h/ (log: $log)" >&2
    exit 1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  printf '%-11s %12s execs in %ss, %s\n' "$h" "$execs" "$seconds" "$cov" |
    tee -a "$build/fuzz-stats.txt"
done
