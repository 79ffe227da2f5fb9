#!/usr/bin/env bash
# Installs the system packages vigil needs to build, run and test, idempotently:
# it checks what is present, runs `apt-get update` at most once, then installs
# only what is missing. Usage: scripts/deps.sh [run|test]
set -euo pipefail

mode=${1:-test}
need=()

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Build and run: Go 1.26 is expected on the machine; cgo (gocv's C++) needs
# a C++ compiler.
for p in ca-certificates pkg-config; do have_pkg "$p" || need+=("$p"); done
command -v g++ >/dev/null 2>&1 || need+=(g++)
# OpenCV (through gocv) decodes frames for still images.
for p in libopencv-dev opencv-data; do have_pkg "$p" || need+=("$p"); done
# ffmpeg: `make run` starts vigil with --demo, whose camera is ffmpeg; tests
# use ffmpeg/ffprobe as cameras and as judges.
have_pkg ffmpeg || need+=(ffmpeg)
if [ "$mode" = test ] || [ "$mode" = bench ]; then
  # Chromium plays HLS in browser tests, driven by playwright-core from npm.
  have_pkg chromium || need+=(chromium)
  # Notifier peers: mosquitto_sub subscribes over MQTT 3.1.1 (what the
  # embedded NATS server speaks); aiosmtpd is the SMTP server email tests
  # deliver to.
  for p in mosquitto-clients python3-aiosmtpd; do have_pkg "$p" || need+=("$p"); done
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  command -v npm >/dev/null 2>&1 || need+=(npm)
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

# Browser tests: playwright-core from npm, as pinned in test/browser's
# package.json and lockfile. It drives the Debian chromium above; never run
# `npx playwright install` (it downloads browsers). The lockfile's checksum,
# kept in node_modules, tells whether the installed packages are stale.
if [ "$mode" = test ]; then
  browser=$(cd "$(dirname "$0")/../test/browser" && pwd)
  stamp=$browser/node_modules/.vigil-deps
  sum=$(cat "$browser/package.json" "$browser/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    echo "deps: installing test/browser node modules"
    if [ -f "$browser/package-lock.json" ]; then
      (cd "$browser" && npm ci --no-audit --no-fund --loglevel=error)
    else
      (cd "$browser" && npm install --no-audit --no-fund --loglevel=error)
      sum=$(cat "$browser/package.json" "$browser/package-lock.json" | sha256sum | cut -d' ' -f1)
    fi
    echo "$sum" >"$stamp"
  fi
fi

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  echo "deps: go is at /usr/local/go/bin; add it to PATH" >&2
fi
