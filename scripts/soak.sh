#!/usr/bin/env bash
# Soak of a live show with churn (see scripts/soak.mjs): prints the room
# process's RSS, threads, fds and hub pads over time, for docs/benchmarks.md.
#
#   scripts/soak.sh                 30 minutes, the reference room (1280x720 30 fps)
#   scripts/soak.sh --short         3 minutes
#   scripts/soak.sh --minutes 10 --small --chromium --every 5
#
# Run after a build (scripts/setup.sh); BUILD=dir picks another build folder.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
[ -x "$build/tools/gst-room/gst-room" ] || { echo "soak: no gst-room in $build: build first" >&2; exit 2; }
[ -d "$top/tests/e2e/node_modules/ws" ] || (cd "$top/tests/e2e" && npm ci --no-audit --no-fund)
export ROOMS_SOURCE_ROOT=$top ROOMS_BUILD_ROOT=$build
exec node "$top/scripts/soak.mjs" "$@"
