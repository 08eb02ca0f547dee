#!/usr/bin/env bash
# Packs what the device run (scripts/bench/device-run.sh) needs on a machine that may have neither
# Go nor Redis: the segstream binary, the scorer's test binary (the latency harnesses), and
# Debian's redis-server, redis-cli and redis-benchmark with every shared library they load,
# the dynamic loader included, so they run whatever the other machine's libraries are.
#
#   scripts/bench/device-pack.sh            # writes bin/device/pack.tar.gz (bin/ is ignored)
#
# Then, from the device tool, one call that carries the pack (39 MB at session 28; the carry
# limit is 64 MiB):
#
#   run carry=["bin/device"] command="scripts/bench/device-run.sh" timeout_s=560
#
# The binaries are built here for linux/amd64 without cgo, so they need nothing from the other
# machine. The Redis programs are started through the packed loader by wrapper scripts of the
# same names, put first on PATH; their process name is then the loader's.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bin/device
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$out" "$stage/bin" "$stage/real" "$stage/lib"

CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags='-s -w' -o "$stage/bin/segstream" ./cmd/segstream
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go test -c -trimpath -ldflags='-s -w' -o "$stage/bin/scorer.test" ./scorer

for p in redis-server redis-cli redis-benchmark; do
  src=$(command -v "$p") || { echo "$p is not on PATH (Debian: apt-get install -y redis-server redis-tools)" >&2; exit 1; }
  cp -L "$src" "$stage/real/$p"
  ldd "$src" | awk '/=>/ { print $3 } /ld-linux/ { print $1 }' | while read -r lib; do
    [ -n "$lib" ] && cp -Ln "$lib" "$stage/lib/" 2>/dev/null || true
  done
  # The wrapper runs the packed binary under the packed loader and libraries.
  cat >"$stage/bin/$p" <<EOF
#!/bin/sh
here=\$(dirname "\$(readlink -f "\$0")")
exec "\$here/../lib/ld-linux-x86-64.so.2" --library-path "\$here/../lib" "\$here/../real/$p" "\$@"
EOF
  chmod +x "$stage/bin/$p"
done
echo "$(git rev-parse --short HEAD)$(git diff --quiet || echo ' with uncommitted changes')" >"$stage/real/COMMIT"
tar -C "$stage" -czf "$out/pack.tar.gz" bin real lib
echo "wrote $out/pack.tar.gz ($(du -h "$out/pack.tar.gz" | cut -f1)); segstream at $(cat "$stage/real/COMMIT")"
