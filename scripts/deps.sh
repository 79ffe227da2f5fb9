#!/usr/bin/env bash
# Installs the system packages vigil needs to build, run and test, idempotently:
# it checks what is present, runs `apt-get update` at most once, then installs
# only what is missing. Usage: scripts/deps.sh [run|test]
set -euo pipefail

mode=${1:-test}
need=()

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Build and run: a C compiler for cgo and Go itself are expected on the machine.
for p in ca-certificates pkg-config; do have_pkg "$p" || need+=("$p"); done
if [ "$mode" = test ] || [ "$mode" = bench ]; then
  # Test peers: ffmpeg/ffprobe act as cameras and as judges.
  for p in ffmpeg; do have_pkg "$p" || need+=("$p"); done
fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages: ${need[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  echo "deps: go is at /usr/local/go/bin; add it to PATH" >&2
fi
