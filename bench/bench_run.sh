#!/bin/sh
# `make bench`: the embedded default (`pgolf run`: tiny preset on data/sample, 3 seeds)
# end to end, per-stage wall times from its manifest, the target (25 s on 2 cores) as the
# named baseline for the ratio, and the same command again (every stage cached).
# usage: bench/bench_run.sh PGOLF
set -eu
pgolf=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "== pgolf run, embedded default ($(nproc) cores); baseline for the ratio: the 25 s target =="
t0=$(date +%s.%N)
"$pgolf" run --out "$dir/run" >"$dir/out.txt"
t1=$(date +%s.%N)
"$pgolf" run --out "$dir/run" >"$dir/cached.txt"
t2=$(date +%s.%N)
"$pgolf" status "$dir/run" | awk '
  NR > 1 && $2 ~ /^[0-9.]+$/ {
    split($1, p, "/"); kind[p[1]] += $2; n[p[1]]++
    if (!(p[1] in seen)) { seen[p[1]] = 1; order[++k] = p[1] }
  }
  END { for (i = 1; i <= k; i++) printf "stage %-9s %2d x  %6.1f s\n", order[i], n[order[i]], kind[order[i]] }'
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
  printf "end_to_end_s=%.1f target_s=25 ratio_to_target=%.2f\n", b - a, (b - a) / 25
  printf "cached_rerun_s=%.2f\n", c - b }'
grep -E "^mean val_bpb|^verdict" "$dir/out.txt"
