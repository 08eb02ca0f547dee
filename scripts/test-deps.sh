#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: redis-server and redis-cli (tests start
# their own servers and clusters), chromium (the dashboard test renders the page in it headless),
# tmux (the demo's terminal view is drawn in a tmux pane),
# and a C compiler with OpenBLAS (the network's -tags openblas build links it through cgo).
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
updated=""
apt_install() {
  # One apt-get update per run, and only when something is missing.
  [ -n "$updated" ] || { $SUDO apt-get update -qq; updated=1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}
if ! command -v redis-server >/dev/null 2>&1; then
  apt_install redis-server
  # The package starts a system instance; tests run their own on free ports.
  ($SUDO service redis-server stop || true) >/dev/null 2>&1
fi
if ! command -v redis-cli >/dev/null 2>&1; then
  apt_install redis-tools # redis-cli creates the Redis Cluster of the cluster tests
fi
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium
fi
if ! command -v tmux >/dev/null 2>&1; then
  apt_install tmux # the demo's terminal view is tested in a 100×30 tmux pane
fi
if ! command -v gcc >/dev/null 2>&1; then
  apt_install gcc libc6-dev
fi
if ! echo 'int main(void){return 0;}' | gcc -x c - -lopenblas -o /dev/null 2>/dev/null; then
  apt_install libopenblas-dev
fi
redis-server --version
chromium --version 2>/dev/null || true
