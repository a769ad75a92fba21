#!/usr/bin/env bash
# The gst-rooms demo: installs what is missing, builds, then runs the demo room.
# Until the room tool serves rooms to browsers, the demo is a composite of four
# moving test cameras through `mcucompositor`; one camera goes silent half-way and
# the others re-flow.  The result is a WebM file whose path is printed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
exec meson devenv -C "$top/build" bash "$top/scripts/demo-compositor.sh"
