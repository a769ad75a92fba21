#!/bin/sh
# gst-rooms demo: four moving live test sources composed by mcucompositor.
# One source stops after ~5 s; the other three re-flow into a 2x2 grid with a
# centred last row and run on to 10 s.  The composite is encoded to VP8 in a
# WebM file under ${OUT_DIR:-/tmp}, whose path is printed last.
#
# Run from the repository root, after building into build/:
#   meson devenv -C build ../scripts/demo-compositor.sh
# (`meson devenv` runs commands from inside build/), or simply
#   scripts/demo-compositor.sh
# which re-runs itself inside `meson devenv -C build` when mcucompositor is
# not found.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

if ! gst-inspect-1.0 mcucompositor >/dev/null 2>&1; then
  if [ -z "${ROOMS_DEMO_REEXEC:-}" ] && [ -d "$root/build" ]; then
    ROOMS_DEMO_REEXEC=1 exec meson devenv -C "$root/build" "$here/demo-compositor.sh"
  fi
  echo "ERROR: element mcucompositor not found (build first: meson setup build && ninja -C build)" >&2
  exit 1
fi
for element in videotestsrc videoconvert vp8enc webmmux filesink; do
  if ! gst-inspect-1.0 "$element" >/dev/null 2>&1; then
    echo "ERROR: missing GStreamer element $element" >&2
    exit 1
  fi
done

out_dir=${OUT_DIR:-/tmp}
mkdir -p "$out_dir"
out="$out_dir/gst-rooms-compositor-demo.webm"
log="$out_dir/gst-rooms-compositor-demo.log"
width=${WIDTH:-640}
height=${HEIGHT:-360}
fps=30
long=$((10 * fps))   # three sources run 10 s
short=$((5 * fps))   # the fourth stops after 5 s

src_caps="video/x-raw,width=320,height=240,framerate=$fps/1"

gst-launch-1.0 -e -m \
  mcucompositor name=m width="$width" height="$height" framerate="$fps/1" \
      background=0xff202830 \
    ! videoconvert ! queue max-size-time=2000000000 \
    ! vp8enc deadline=1 cpu-used=8 target-bitrate=1500000 keyframe-max-dist=60 \
    ! webmmux ! filesink location="$out" \
  videotestsrc is-live=true pattern=ball motion=wavy num-buffers=$long \
    ! $src_caps ! m.sink_0 \
  videotestsrc is-live=true pattern=smpte horizontal-speed=4 num-buffers=$long \
    ! $src_caps ! m.sink_1 \
  videotestsrc is-live=true pattern=ball motion=sweep foreground-color=0xffff8000 \
      num-buffers=$short ! $src_caps ! m.sink_2 \
  videotestsrc is-live=true pattern=pinwheel num-buffers=$long \
    ! $src_caps ! m.sink_3 \
  >"$log" 2>&1 || {
    echo "ERROR: the pipeline failed, see $log" >&2
    tail -n 20 "$log" >&2
    exit 1
  }

# Show how the layout changed: the number of shown ports per message.
echo "layout changes (running time: shown ports):"
grep 'mcucompositor-layout' "$log" | while read -r line; do
  rt=$(printf '%s\n' "$line" | sed -n 's/.*running-time=(guint64)\([0-9]*\).*/\1/p')
  n=$(printf '%s\n' "$line" | grep -o 'uint\\)' | wc -l)
  echo "  $((rt / 1000000)) ms: $n ports"
done
echo "$out"
