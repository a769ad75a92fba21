#!/usr/bin/env bash
# Four participants join one mcucompositor through hubports (here all in the
# hub's own pipeline; the room tool gives each its own pipeline) and the 2x2
# composite is written to a Matroska file, whose path is printed.
# Usage: scripts/hubport-compositor.sh [OUTPUT.mkv]   (from a meson devenv, or
# with the plugins installed)
set -euo pipefail

out=${1:-${TMPDIR:-/tmp}/hubport-compositor.mkv}

gst-launch-1.0 -q -e \
  mcucompositor name=m width=320 height=240 framerate=30/1 \
    ! videoconvert ! jpegenc ! matroskamux ! filesink location="$out" \
  videotestsrc is-live=true num-buffers=90 pattern=smpte \
    ! video/x-raw,width=160,height=120 ! hubport hub=m \
  videotestsrc is-live=true num-buffers=90 pattern=ball \
    ! video/x-raw,width=160,height=120 ! hubport hub=m \
  videotestsrc is-live=true num-buffers=90 pattern=snow \
    ! video/x-raw,width=160,height=120 ! hubport hub=m \
  videotestsrc is-live=true num-buffers=90 pattern=pinwheel \
    ! video/x-raw,width=160,height=120 ! hubport hub=m

echo "$out"
