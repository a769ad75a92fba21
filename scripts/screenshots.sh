#!/usr/bin/env bash
# Refreshes docs/screenshots/*.png: the presenter, viewer, console and
# private-call pages in Debian's headless chromium, driven by playwright-core
# like the browser tests, against the gst-room of ./build (or $1).
#
#   scripts/screenshots.sh [BUILD_DIR]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
[ -x "$build/tools/gst-room/gst-room" ] || { echo "screenshots: build gst-room first (ninja -C $build)" >&2; exit 1; }
[ -d "$top/tests/e2e/node_modules/playwright-core" ] \
  || (cd "$top/tests/e2e" && npm ci --no-audit --no-fund)
export ROOMS_SOURCE_ROOT="$top" ROOMS_BUILD_ROOT="$build"
export GST_REGISTRY="$build/screenshots-registry.dat"
# bounded: a page that never connects fails the script, not the machine
exec timeout 180 node "$top/scripts/screenshots.mjs"
