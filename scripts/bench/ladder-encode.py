#!/usr/bin/python3
"""The quality ladder's encoding cost: the live show's program encoded as one
rendition (720p VP8 at 2.5 Mbit/s, what every viewer got before) against the
ladder of docs/rooms/live-show.ini (the same 720p, and 360p VP8 at 500 kbit/s
scaled from the same frames), on the same frames, in one process.

Each run pushes the same raw 1280x720 frames (a moving test pattern, made
once and cycled) through

  (base)   appsrc ! fakesink                         the cost of the input
  (single) appsrc ! vp8enc 720p ! rtpvp8pay ! fakesink
  (ladder) appsrc ! tee ! vp8enc 720p ! rtpvp8pay ! fakesink
                        tee ! videoscale ! 360p ! vp8enc ! rtpvp8pay ! fakesink

and prints the CPU time per frame of each (process rusage, base subtracted,
best of the repeats) and the ratio ladder / single.  The encoders have the
live show's settings (deadline=1 cpu-used=8, CBR, no lag).

Usage: /usr/bin/python3 scripts/bench/ladder-encode.py [--frames 300]
       [--repeats 3]
"""

import argparse
import resource
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

DISTINCT = 60
ENCODER = ("vp8enc deadline=1 cpu-used=8 end-usage=cbr target-bitrate={rate} "
           "keyframe-max-dist=300 lag-in-frames=0 error-resilient=default "
           "threads={threads}")
PAY = "rtpvp8pay pt=96 picture-id-mode=15-bit mtu=1200"
CAPS = "video/x-raw,format=I420,width=1280,height=720,framerate=30/1"


def make_frames():
    """DISTINCT raw frames of a moving pattern, made once."""
    pipeline = Gst.parse_launch(
        f"videotestsrc pattern=smpte horizontal-speed=8 num-buffers={DISTINCT} "
        f"! {CAPS} ! appsink name=out sync=false")
    sink = pipeline.get_by_name("out")
    pipeline.set_state(Gst.State.PLAYING)
    frames = []
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        frames.append(sample.get_buffer().copy_deep())
    pipeline.set_state(Gst.State.NULL)
    return frames


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(description, frames, count):
    """CPU seconds to push @count frames through @description."""
    pipeline = Gst.parse_launch(
        f"appsrc name=src format=time is-live=false block=true "
        f"max-bytes=20000000 caps={CAPS} ! {description}")
    src = pipeline.get_by_name("src")
    pipeline.set_state(Gst.State.PLAYING)
    start = cpu_seconds()
    duration = Gst.SECOND // 30
    for i in range(count):
        buffer = frames[i % len(frames)].copy()
        buffer.pts = i * duration
        buffer.duration = duration
        src.emit("push-buffer", buffer)
    src.emit("end-of-stream")
    bus = pipeline.get_bus()
    msg = bus.timed_pop_filtered(120 * Gst.SECOND,
                                 Gst.MessageType.EOS | Gst.MessageType.ERROR)
    used = cpu_seconds() - start
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS:
        sys.exit(f"ladder-encode: {description} did not finish")
    return used


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    Gst.init(None)
    frames = make_frames()
    top = f"{ENCODER.format(rate=2500000, threads=2)} ! {PAY}"
    small = (f"videoscale ! video/x-raw,width=640,height=360 ! "
             f"{ENCODER.format(rate=500000, threads=1)} ! {PAY}")
    runs = {
        "base": "fakesink sync=false",
        "single": f"{top} ! fakesink sync=false",
        "ladder": (f"tee name=t t. ! queue ! {top} ! fakesink sync=false "
                   f"t. ! queue ! {small} ! fakesink sync=false"),
    }
    best = {name: float("inf") for name in runs}
    for _ in range(args.repeats):
        for name, description in runs.items():
            best[name] = min(best[name], run(description, frames, args.frames))
    per_frame = {name: (best[name] - (best["base"] if name != "base" else 0))
                 / args.frames * 1000 for name in runs}
    print(f"frames: {args.frames} of 1280x720, best of {args.repeats}")
    print("| program | CPU ms per frame | x single |")
    print("|---|---|---|")
    for name in ("single", "ladder"):
        print(f"| {name} | {per_frame[name]:.2f} | "
              f"{per_frame[name] / per_frame['single']:.2f} |")
    print(f"(input alone: {per_frame['base']:.2f} ms per frame, subtracted)")


if __name__ == "__main__":
    main()
