#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: redis-server (tests start their own).
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
  # The package starts a system instance; tests run their own on free ports.
  ($SUDO service redis-server stop || true) >/dev/null 2>&1
fi
redis-server --version
