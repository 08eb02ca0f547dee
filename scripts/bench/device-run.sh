#!/usr/bin/env bash
# The measurements issue 20 asks for on a quiet many-core machine, in one call of the device tool
# (its machines have 16 cores and may lack Go and Redis): unpacks bin/device/pack.tar.gz, which
# scripts/bench/device-pack.sh writes, and runs, each under its own time limit so that one stuck
# step leaves the others their time:
#
#   1. bench ingest --redis-cluster 3 --replicas 3 on every core, 12 partitions (four a replica):
#      growth over the single shard measured in the same run (the check asks for 2.5x);
#   2. bench ingest pinned to two cores with taskset, the broker and Redis included: the
#      250,000 events/s check on two quiet cores;
#   3. event to score at 50,000/s on the same two cores (TestPipelineLatency);
#   4. the read API at 5,000 requests/s on the same two cores, with its static-answer floor.
#
# Each step's output goes to $OUT/<step>.txt (the device tool brings $OUT back) and to stdout;
# the machine's description to $OUT/machine.txt. Locally, without $OUT, it writes to a temporary
# directory and runs the same steps: `OUT=/tmp/d scripts/bench/device-run.sh` checks the pack.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
OUT=${OUT:-$(mktemp -d)}
pack=$root/bin/device/pack.tar.gz
[ -f "$pack" ] || { echo "no $pack: run scripts/bench/device-pack.sh and carry bin/device" >&2; exit 2; }
d=$(mktemp -d)
tar -C "$d" -xzf "$pack"
export PATH=$d/bin:$PATH
cores=${DEVICE_PIN:-0,1} # the two cores of the two-core steps

{
  date -u
  nproc
  grep -m1 'model name' /proc/cpuinfo
  free -g | head -2
  redis-server --version
  echo "segstream at $(cat "$d/real/COMMIT")"
} 2>&1 | tee "$OUT/machine.txt"

step() { # step NAME SECONDS COMMAND...
  local name=$1 secs=$2
  shift 2
  echo "== $name ($secs s at most): $*" | tee "$OUT/$name.txt"
  local start=$SECONDS
  timeout --kill-after=10 "$secs" "$@" 2>&1 | grep -v '^time=' | tee -a "$OUT/$name.txt"
  echo "== $name: exit ${PIPESTATUS[0]} after $((SECONDS - start)) s" | tee -a "$OUT/$name.txt"
}

# The two-core steps run under taskset; without it (util-linux), under GOMAXPROCS=2 alone, which
# bounds the Go processes but not Redis, and the step's output says so.
if command -v taskset >/dev/null; then
  pin=(taskset -c "$cores")
else
  echo "taskset is missing: the two-core steps are not pinned, GOMAXPROCS=2 only" | tee "$OUT/not-pinned.txt"
  pin=(env GOMAXPROCS=2)
fi

step cluster 230 segstream bench ingest --no-score --redis-cluster 3 --replicas 3 --runs 3 --partitions 12
step two-cores 170 "${pin[@]}" segstream bench ingest
cd "$root/scorer"
step latency-50k 80 "${pin[@]}" env SEGSTREAM_BENCH=1 SEGSTREAM_BENCH_RATE=50000 \
  scorer.test -test.run '^TestPipelineLatency$' -test.v
step api 45 "${pin[@]}" env SEGSTREAM_BENCH=1 \
  scorer.test -test.run 'TestAPILatency$|TestAPILatencyFloor' -test.v
rm -rf "$d"
echo "results in $OUT"
