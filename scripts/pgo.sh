#!/bin/sh
# Refreshes the CPU profile the Go compiler optimizes the binaries with (profile-guided
# optimization: `go build` and `go run` pick up default.pgo in a main package's directory).
#
# The profile is the two hot paths as the benchmarks drive them: ingest draining a backlog
# (`segstream bench ingest`) and the whole pipeline, ingest and scorer, at a steady rate
# (scorer's TestPipelineLatency). cmd/ingest and cmd/scorer link the same file.
#
# Run it after a change that moves where ingest or the scorer spend their time, on a machine
# with nothing else running, and commit cmd/segstream/default.pgo. A stale profile is never
# wrong, only less useful: PGO changes inlining and devirtualization, not behaviour.
#
#   ./scripts/pgo.sh
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# -pgo=off: profile what the code does, not what the previous profile made of it.
go build -pgo=off -o "$tmp/segstream" ./cmd/segstream
"$tmp/segstream" bench ingest --no-naive --runs 1 --events 1000000 --cpuprofile "$tmp/ingest.pprof" >/dev/null
SEGSTREAM_BENCH=1 go test -pgo=off -count=1 -run '^TestPipelineLatency$' -cpuprofile "$tmp/pipeline.pprof" \
	-o "$tmp/scorer.test" ./scorer >/dev/null
go tool pprof -proto "$tmp/ingest.pprof" "$tmp/pipeline.pprof" >"$tmp/merged.pgo"
mv "$tmp/merged.pgo" cmd/segstream/default.pgo
echo "wrote cmd/segstream/default.pgo ($(wc -c <cmd/segstream/default.pgo) bytes)"
