#!/usr/bin/python3
"""Fan-out cost of `dispatcher` against stock `tee`, in one run.

One VP8 stream, encoded once up front to a WebM file, is read with
`filesrc ! matroskademux` and fanned out to N fakesinks (sync=false
async=false) by `dispatcher source=0` (N request src_%u pads) and by `tee`
(N request src_%u pads), for N = 1, 100, 1000.  For each run the process CPU
time (user+sys, getrusage) from PLAYING to EOS is measured; a baseline run
without fan-out (`matroskademux ! fakesink`) is subtracted, and the net cost
is divided by buffers x outputs.  Each figure is the mean of several runs
(10 for N < 100, 4 for N = 100, 2 for N = 1000), dispatcher and tee
alternating.

    meson devenv -C build /usr/bin/python3 scripts/bench/dispatcher-fanout.py
"""
import os
import resource
import sys
import tempfile
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

FRAMES = int(os.environ.get("FRAMES", "3000"))
COUNTS = [int(n) for n in os.environ.get("OUTPUTS", "1,100,1000").split(",")]
TIME_LIMIT = 150  # seconds for the whole run


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_to_eos(pipeline, timeout=60):
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PAUSED)
    pipeline.get_state(Gst.CLOCK_TIME_NONE)
    start = cpu_seconds()
    pipeline.set_state(Gst.State.PLAYING)
    msg = bus.timed_pop_filtered(timeout * Gst.SECOND,
                                 Gst.MessageType.EOS | Gst.MessageType.ERROR)
    used = cpu_seconds() - start
    pipeline.set_state(Gst.State.NULL)
    if msg is None:
        sys.exit("timed out")
    if msg.type == Gst.MessageType.ERROR:
        sys.exit("error: %s" % msg.parse_error()[0].message)
    return used


def encode(path):
    p = Gst.parse_launch(
        "videotestsrc pattern=ball num-buffers=%d ! "
        "video/x-raw,width=320,height=240,framerate=30/1 ! "
        "vp8enc deadline=1 cpu-used=8 keyframe-max-dist=30 ! webmmux ! "
        "filesink location=%s" % (FRAMES, path))
    run_to_eos(p, timeout=120)


def fanout(path, element, n):
    p = Gst.Pipeline.new()
    src = Gst.ElementFactory.make("filesrc")
    src.set_property("location", path)
    demux = Gst.ElementFactory.make("matroskademux")
    p.add(src)
    p.add(demux)
    src.link(demux)
    if element is None:
        hub = Gst.ElementFactory.make("fakesink")
        hub.set_property("sync", False)
        hub.set_property("async", False)
        p.add(hub)
    else:
        hub = Gst.ElementFactory.make(element)
        if element == "dispatcher":
            hub.set_property("source", 0)
        p.add(hub)
        for _ in range(n):
            sink = Gst.ElementFactory.make("fakesink")
            sink.set_property("sync", False)
            sink.set_property("async", False)
            p.add(sink)
            hub.request_pad_simple("src_%u").link(sink.get_static_pad("sink"))
    target = hub.request_pad_simple("sink_%u") if element == "dispatcher" \
        else hub.get_static_pad("sink")
    demux.connect("pad-added", lambda d, pad: pad.link(target))
    return run_to_eos(p)


def main():
    Gst.init(None)
    if not Gst.ElementFactory.find("dispatcher"):
        sys.exit("dispatcher not found: run under `meson devenv -C build`")
    deadline = time.monotonic() + TIME_LIMIT
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "input.webm")
        encode(path)
        base = sum(fanout(path, None, 0) for _ in range(10)) / 10
        print("frames %d, baseline demux+fakesink %.3f s CPU" % (FRAMES, base))
        print("%8s %14s %14s %8s" % ("outputs", "dispatcher ns", "tee ns",
                                     "ratio"))
        for n in COUNTS:
            if time.monotonic() > deadline:
                print("time limit reached, stopping")
                break
            # Means over several runs, alternating the two elements.
            reps = 10 if n < 100 else 4 if n < 1000 else 2
            d = t = 0.0
            for _ in range(reps):
                d += fanout(path, "dispatcher", n) / reps
                t += fanout(path, "tee", n) / reps
            per_d = max(d - base, 0) / (FRAMES * n) * 1e9
            per_t = max(t - base, 0) / (FRAMES * n) * 1e9
            ratio = per_d / per_t if per_t > 0 else float("nan")
            print("%8d %14.0f %14.0f %8.2f" % (n, per_d, per_t, ratio))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
