#!/usr/bin/env bash
# mcucompositor vs stock compositor, same grid and input, in one run:
# fps of each, the ratio and the PSNR of our output against stock's.
# Usage: scripts/bench/compositor.sh [frames]   (needs a built ./build)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$top/build}
exec timeout 170 meson devenv -C "$build" /usr/bin/python3 \
    "$top/scripts/bench/compositor.py" "$@"
