#!/usr/bin/env bash
# Compares two segstream binaries' ingest cost the way docs/benchmarks.md does: single
# `bench ingest --no-naive --runs 1` runs, alternating A, B, A, B, ... so that the machine's slow
# and fast spells (minutes long on a shared VM) fall on both alike. It prints each run and the
# medians of throughput, the bench process's CPU per event and redis-server's CPU per event.
# CPU per event in alternating runs is the figure to decide by; throughput swings more.
#
#   go build -o /tmp/a ./cmd/segstream            # e.g. main
#   git stash && go build -o /tmp/b ./cmd/segstream && git stash pop
#   scripts/bench/ab-ingest.sh 8 /tmp/a /tmp/b [more bench ingest flags]
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 PAIRS BINARY_A BINARY_B [bench ingest flags...]" >&2
  exit 2
fi
pairs=$1 a=$2 b=$3
shift 3
runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
for i in $(seq "$pairs"); do
  for bin in "$a" "$b"; do
    out=$("$bin" bench ingest --no-naive --runs 1 "$@" 2>/dev/null)
    rate=$(grep -oE 'events_per_second=[0-9]+' <<<"$out" | cut -d= -f2)
    cpu=$(grep -oE 'segstream [0-9.]+ µs' <<<"$out" | grep -oE '[0-9.]+')
    busy=$(grep -oE 'segstream [0-9]+%' <<<"$out" | grep -oE '[0-9]+')
    redis=$(awk -v b="$busy" -v r="$rate" 'BEGIN { printf "%.2f", b / 100 / r * 1e6 }')
    echo "pair $i  $bin  events/s $rate  process µs/event $cpu  redis µs/event $redis" | tee -a "$runs"
  done
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
for bin in "$a" "$b"; do
  col() { awk -v bin="$bin" -v f="$1" '$3 == bin { print $f }' "$runs" | median; }
  echo "$bin: median events/s $(col 5), process µs/event $(col 8), redis µs/event $(col 11)"
done
