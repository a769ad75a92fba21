#!/usr/bin/env bash
# chromakey against stock alpha method=green + compositor: CPU per frame and
# PSNR against a generated ground truth, in one run (see chromakey.py).
# Usage: scripts/bench/chromakey.sh [BUILD_DIR] [chromakey.py options]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
shift || true
exec timeout 180 meson devenv -C "$build" /usr/bin/python3 "$top/scripts/bench/chromakey.py" "$@"
