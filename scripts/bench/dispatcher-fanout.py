#!/usr/bin/python3
"""Fan-out cost of `dispatcher` against stock `tee`, in one run.

One VP8 stream (320x240, 30 fps), encoded once up front to WebM, is read
with `filesrc ! matroskademux` and fanned out to N fakesinks (sync=false
async=false) three ways:

- `dispatcher source=0`, its N request src_%u pads linked straight to the
  sinks (each output has a thread of its own, so none holds up the others);
- `tee ! queue ! fakesink` per output: the stock equivalent, a thread per
  output behind a queue;
- `tee ! fakesink` per output, no queue: the cheapest fan-out, in which one
  blocked output stalls them all (given for scale).

For each run the process CPU time (user+sys, getrusage, every thread) from
PLAYING to EOS is measured; a baseline run without fan-out (`matroskademux
! fakesink`) is subtracted, and the net cost is divided by buffers x
outputs.  Each figure is the mean of several runs, the three alternating.
Every run must deliver every frame to the first and the last output
(checked with the sinks' own counters), so none wins by dropping.  Larger N
use a shorter file (FRAMES x N at most PUSHES), and the whole run is
abandoned after HARD_LIMIT seconds: about 30 s for the default 1, 10 and
100 outputs.

Environment: OUTPUTS (default 1,10,100), FRAMES (3000), PUSHES (150000).

    meson devenv -C build /usr/bin/python3 $PWD/scripts/bench/dispatcher-fanout.py
"""
import os
import resource
import signal
import sys
import tempfile
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

FRAMES = int(os.environ.get("FRAMES", "3000"))
# 1000 outputs is 1000 threads for dispatcher and for tee+queue alike: on a
# shared 2-core machine ask for it explicitly (OUTPUTS=1,10,100,1000).
COUNTS = [int(n) for n in os.environ.get("OUTPUTS", "1,10,100").split(",")]
# Buffers x outputs per run at most: fewer frames for many outputs.
PUSHES = int(os.environ.get("PUSHES", "150000"))
TIME_LIMIT = 100  # seconds: no new size starts after this
HARD_LIMIT = 170  # seconds: the run is abandoned after this
KINDS = ["dispatcher", "tee+queue", "tee"]


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_to_eos(pipeline, timeout=60, at_eos=None):
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PAUSED)
    if pipeline.get_state(timeout * Gst.SECOND)[0] == Gst.StateChangeReturn.ASYNC:
        sys.exit("did not preroll within %d s" % timeout)
    start = cpu_seconds()
    pipeline.set_state(Gst.State.PLAYING)
    msg = bus.timed_pop_filtered(timeout * Gst.SECOND,
                                 Gst.MessageType.EOS | Gst.MessageType.ERROR)
    used = cpu_seconds() - start
    if at_eos and msg and msg.type == Gst.MessageType.EOS:
        at_eos()
    pipeline.set_state(Gst.State.NULL)
    if msg is None:
        sys.exit("timed out")
    if msg.type == Gst.MessageType.ERROR:
        sys.exit("error: %s" % msg.parse_error()[0].message)
    return used


def encode(path, frames):
    p = Gst.parse_launch(
        "videotestsrc pattern=ball num-buffers=%d ! "
        "video/x-raw,width=320,height=240,framerate=30/1 ! "
        "vp8enc deadline=1 cpu-used=8 keyframe-max-dist=30 ! webmmux ! "
        "filesink location=%s" % (frames, path))
    run_to_eos(p, timeout=120)


def make_sink(p):
    sink = Gst.ElementFactory.make("fakesink")
    sink.set_property("sync", False)
    sink.set_property("async", False)
    p.add(sink)
    return sink


def fanout(path, kind, n, frames):
    """CPU seconds of one run of @kind (None: the baseline) to @n outputs."""
    p = Gst.Pipeline.new()
    src = Gst.ElementFactory.make("filesrc")
    src.set_property("location", path)
    demux = Gst.ElementFactory.make("matroskademux")
    p.add(src)
    p.add(demux)
    src.link(demux)
    sinks = []
    if kind is None:
        hub = make_sink(p)
        target = hub.get_static_pad("sink")
    elif kind == "dispatcher":
        hub = Gst.ElementFactory.make("dispatcher")
        hub.set_property("source", 0)
        p.add(hub)
        for _ in range(n):
            sink = make_sink(p)
            hub.request_pad_simple("src_%u").link(sink.get_static_pad("sink"))
            sinks.append(sink)
        target = hub.request_pad_simple("sink_%u")
    else:
        hub = Gst.ElementFactory.make("tee")
        p.add(hub)
        for _ in range(n):
            sink = make_sink(p)
            pad = sink.get_static_pad("sink")
            if kind == "tee+queue":
                queue = Gst.ElementFactory.make("queue")
                p.add(queue)
                queue.link(sink)
                pad = queue.get_static_pad("sink")
            hub.request_pad_simple("src_%u").link(pad)
            sinks.append(sink)
        target = hub.get_static_pad("sink")
    demux.connect("pad-added", lambda d, pad: pad.link(target))

    # What the first and the last sink rendered (their own counters: a
    # Python probe would cost more than what is measured).
    rendered = []

    def count():
        for sink in sinks[:1] + sinks[-1:]:
            rendered.append(sink.get_property("stats").get_uint64(
                "rendered")[1])
    used = run_to_eos(p, at_eos=count)
    if any(r != frames for r in rendered):
        sys.exit("%s with %d outputs delivered %s of %d frames"
                 % (kind, n, rendered, frames))
    return used


def main():
    # Bounded whatever happens (a run that hangs is a finding, not a wait).
    signal.signal(signal.SIGALRM, lambda *a: os._exit(
        print("abandoned after %d s" % HARD_LIMIT, flush=True) or 2))
    signal.alarm(HARD_LIMIT)
    Gst.init(None)
    if not Gst.ElementFactory.find("dispatcher"):
        sys.exit("dispatcher not found: run under `meson devenv -C build`")
    deadline = time.monotonic() + TIME_LIMIT
    with tempfile.TemporaryDirectory() as tmp:
        files = {}  # frames -> (path, baseline CPU seconds)

        def input_for(n):
            frames = max(30, min(FRAMES, PUSHES // max(n, 1)))
            if frames not in files:
                path = os.path.join(tmp, "input-%d.webm" % frames)
                encode(path, frames)
                base = sum(fanout(path, None, 0, frames) for _ in range(5)) / 5
                files[frames] = (path, base)
            return frames, files[frames][0], files[frames][1]

        print("ns of CPU per buffer per output (net of demuxing); ratios: "
              "dispatcher / stock")
        print("%8s %7s %11s %11s %9s %14s %10s" % (
            "outputs", "frames", "dispatcher", "tee+queue", "tee",
            "d/(tee+queue)", "d/tee"))
        for n in COUNTS:
            if time.monotonic() > deadline:
                print("time limit reached, stopping")
                break
            frames, path, base = input_for(n)
            # Means over several runs, the three kinds alternating.
            reps = 5 if n < 100 else 3 if n < 1000 else 2
            cpu = dict.fromkeys(KINDS, 0.0)
            for _ in range(reps):
                for kind in KINDS:
                    cpu[kind] += fanout(path, kind, n, frames) / reps
            ns = {k: max(v - base, 0) / (frames * n) * 1e9
                  for k, v in cpu.items()}

            def ratio(a, b):
                # Below 50 ns the figure is within the baseline's spread.
                return "%.2f" % (ns[a] / ns[b]) if ns[b] >= 50 else "n/a"
            print("%8d %7d %11.0f %11.0f %9.0f %14s %10s" % (
                n, frames, ns["dispatcher"], ns["tee+queue"], ns["tee"],
                ratio("dispatcher", "tee+queue"), ratio("dispatcher", "tee")))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
