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
# The uninstalled plugins, as `meson devenv` would set them; exec'd directly so
# that Ctrl-C reaches gst-room alone (it sends EOS and stops cleanly).
export GST_PLUGIN_PATH="$top/build/plugins${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export GST_REGISTRY="$top/build/registry.dat"
exec "$top/build/tools/gst-room/gst-room" "$room"
