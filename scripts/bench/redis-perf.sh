#!/usr/bin/env bash
# Where redis-server spends its CPU during one phase of `segstream bench ingest`: records the
# bench's redis-server child with perf (DWARF call graphs, so the stripped Lua inside Debian's
# redis-server still unwinds) for SECONDS once the bench's log shows PATTERN, then prints the
# share of the samples under each Redis command, under the Lua argument intake (lua_pushlstring
# called from luaCallFunction: the script's KEYS and ARGV made Lua strings, every byte hashed),
# under the conversion of the commands' replies into Lua strings (lua_pushlstring under
# parseReply), and in the scripts' own Lua outside both and outside the commands.
# docs/benchmarks.md (session 26) has what it showed.
#
#   go build -o /tmp/segstream ./cmd/segstream
#   scripts/bench/redis-perf.sh /tmp/segstream 'scorer consuming' 2 --no-naive --runs 1 --events 300000
#   scripts/bench/redis-perf.sh /tmp/segstream ingest 2 --no-naive --no-score --runs 1 --events 1000000
#
# PATTERN "ingest" starts the recording once ingest's batched compare-and-set has begun (the
# MGET inside its script counted in INFO commandstats; the machine-limits phase before it runs
# redis-benchmark's per-key script, which has none). PERF_KEEP=DIR keeps perf.data and the stacks
# there.
#
# Needs perf (Debian: linux-perf) and permission to record another process
# (kernel.perf_event_paranoid <= 1, or root).
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 SEGSTREAM_BINARY PATTERN SECONDS [bench ingest flags...]" >&2
  exit 2
fi
bin=$1 pattern=$2 secs=$3
shift 3
command -v perf >/dev/null || { echo "perf is not on PATH (Debian: apt-get install -y linux-perf)" >&2; exit 1; }
if [ -n "${PERF_KEEP:-}" ]; then
  work=$PERF_KEEP
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
"$bin" bench ingest "$@" >"$work/log" 2>&1 &
pid=$!
redis_pid() { pgrep -P "$pid" redis-server | head -1; }
while kill -0 "$pid" 2>/dev/null; do
  if [ "$pattern" = ingest ]; then
    rp=$(redis_pid || true)
    port=$( [ -n "$rp" ] && ss -ltnp 2>/dev/null | grep "pid=$rp," | grep -o '127.0.0.1:[0-9]*' | head -1 | cut -d: -f2 || true)
    calls=$( [ -n "$port" ] && redis-cli -p "$port" info commandstats 2>/dev/null | grep -o 'cmdstat_mget:calls=[0-9]*' | cut -d= -f2 || true)
    [ -n "$calls" ] && [ "$calls" -gt 20 ] && break
  elif grep -q -e "$pattern" "$work/log"; then
    break
  fi
  sleep 0.05
done
rp=$(redis_pid)
perf record --call-graph dwarf,16384 -o "$work/perf.data" -p "$rp" -- sleep "$secs" >/dev/null 2>&1
wait "$pid" || { cat "$work/log" >&2; exit 1; }
grep -v 'level=' "$work/log" | tail -4
perf script -i "$work/perf.data" -F ip,sym 2>/dev/null >"$work/stacks"
/usr/bin/python3 - "$work/stacks" <<'PY'
import sys
from collections import Counter
stacks = [s for s in open(sys.argv[1]).read().split('\n\n') if s.strip()]
total, under, intake, replies, lua = 0, Counter(), 0, 0, 0
for s in stacks:
    frames = [l.strip().split(None, 1)[-1] for l in s.strip().split('\n') if l.strip()]
    total += 1
    for f in set(frames):
        if f.endswith('Command') and f not in ('processCommand', 'evalShaCommand'):
            under[f] += 1
        elif f in ('luaCallFunction', 'lua_pcall', 'scriptCall', 'processMultibulkBuffer', 'writeToClient'):
            under[f] += 1
    push = [i for i, f in enumerate(frames) if f == 'lua_pushlstring']
    if push and 'luaCallFunction' in frames[push[0] + 1:push[0] + 3]:
        # straight under luaCallFunction (one unknown frame, the array builder, between them)
        intake += 1
    elif push and 'parseReply' in frames[push[0] + 1:push[0] + 2]:
        replies += 1
    elif 'lua_pcall' in frames and 'scriptCall' not in frames:
        lua += 1
print(f"{total} samples of redis-server")
print(f"{100 * intake / total:5.1f}%  Lua argument intake (lua_pushlstring under luaCallFunction)")
print(f"{100 * replies / total:5.1f}%  commands' replies made Lua strings (lua_pushlstring under parseReply)")
print(f"{100 * lua / total:5.1f}%  the scripts' own Lua, outside the commands and the two above")
for name, n in under.most_common(16):
    print(f"{100 * n / total:5.1f}%  under {name}")
PY
