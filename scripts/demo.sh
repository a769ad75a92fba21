#!/usr/bin/env bash
# The gst-rooms demo: installs what is missing, builds, then serves the
# group-call room on http://127.0.0.1:8080/ until Ctrl-C.  Open the printed URL in
# two or more browser tabs (camera and microphone allowed): everyone sees the
# composite and hears everybody but themselves.
#
# Another room file can be given: scripts/demo.sh docs/rooms/private-call.ini
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
room=${1:-$top/docs/rooms/group-call.ini}
exec meson devenv -C "$top/build" "$top/build/tools/gst-room/gst-room" "$room"
