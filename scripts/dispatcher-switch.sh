#!/bin/sh
# Three live VP8 sources (different test patterns) into a dispatcher whose
# `source` changes while playing (0 -> 1 -> 2 -> 0), recorded to WebM.
# The switches happen on keyframes, so the file decodes without errors.
#
#   scripts/dispatcher-switch.sh [OUTPUT.webm] [SECONDS-PER-SOURCE]
#
# Runs against the plugins in ./build (or whatever GST_PLUGIN_PATH says);
# prints the path of the file it wrote.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$(mktemp -d)/dispatcher-switch.webm}
hold=${2:-2}
if [ -z "${GST_PLUGIN_PATH:-}" ] && [ -d "$root/build/plugins" ]; then
  export GST_PLUGIN_PATH="$root/build/plugins"
fi

src() {
  echo "videotestsrc is-live=true pattern=$1 ! video/x-raw,width=320,height=240,framerate=30/1 ! vp8enc deadline=1 cpu-used=8 keyframe-max-dist=90 ! d.sink_$2"
}
launch="dispatcher name=d source=0 ! queue ! webmmux ! filesink location=$out $(src smpte 0) $(src ball 1) $(src snow 2)"

OUT="$out" HOLD="$hold" LAUNCH="$launch" /usr/bin/python3 - <<'PY'
import os, sys
import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst, GLib

Gst.init(None)
pipeline = Gst.parse_launch(os.environ["LAUNCH"])
dispatcher = pipeline.get_by_name("d")
loop = GLib.MainLoop()
schedule = [1, 2, 0]
status = 0

def on_message(bus, msg):
    global status
    if msg.type == Gst.MessageType.ERROR:
        err, dbg = msg.parse_error()
        print(f"ERROR: from element {msg.src.get_path_string()}: {err.message}", file=sys.stderr)
        status = 1
        loop.quit()
    elif msg.type == Gst.MessageType.EOS:
        loop.quit()
    elif msg.type == Gst.MessageType.ELEMENT and msg.get_structure().get_name() == "dispatcher-switched":
        s = msg.get_structure()
        print(f"switched {s.get_value('pad')}: {s.get_value('previous')} -> {s.get_value('input')} "
              f"after {s.get_value('latency') / 1e6:.0f} ms")

def next_step():
    if schedule:
        dispatcher.set_property("source", schedule.pop(0))
        return True
    pipeline.send_event(Gst.Event.new_eos())
    return False

bus = pipeline.get_bus()
bus.add_signal_watch()
bus.connect("message", on_message)
pipeline.set_state(Gst.State.PLAYING)
GLib.timeout_add(int(float(os.environ["HOLD"]) * 1000), next_step)
GLib.timeout_add_seconds(60, loop.quit)  # bound the run whatever happens
loop.run()
pipeline.set_state(Gst.State.NULL)
sys.exit(status)
PY
echo "$out"
