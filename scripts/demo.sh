#!/usr/bin/env bash
# The gst-rooms demo: installs what is missing, builds, then serves the
# live-show room on http://127.0.0.1:8080/ until Ctrl-C.  It prints the URLs of
# the presenter, viewer and console pages: open the presenter page in one or
# more tabs (camera and microphone allowed), viewers in others, and run the
# show from the console (switch the program, inject one of the sample videos
# from /usr/share/doc/opencv-doc/examples/data, watch the emotes).
#
# Another room file can be given: scripts/demo.sh docs/rooms/group-call.ini
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
room=${1:-$top/docs/rooms/live-show.ini}
# The uninstalled plugins, as `meson devenv` would set them; exec'd directly so
# that Ctrl-C reaches gst-room alone (it sends EOS and stops cleanly).
export GST_PLUGIN_PATH="$top/build/plugins${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export GST_REGISTRY="$top/build/registry.dat"
exec "$top/build/tools/gst-room/gst-room" "$room"
