#!/usr/bin/python3
"""Frames/s of mcucompositor against stock compositor, same grid, same input.

For each case (4 inputs 1280x720, 9 inputs 640x360, both into a 1280x720
I420 grid) it runs, in this one process:

  * mcucompositor force-live=false (layout=grid), and reads the tile
    rectangles from its `mcucompositor-layout` message;
  * stock compositor with the same rectangles as explicit pad
    xpos/ypos/width/height, background black like ours.

Every input is one still frame of a detailed videotestsrc pattern, generated
once and repeated by imagefreeze (the same buffer, no per-frame source cost),
so the run times only the compositors.  Output goes to fakesink sync=false;
fps counts the frames after the first WARMUP ones.  The last output frame of
each is compared (PSNR, numpy).  Each element runs ROUNDS times alternately
and the best figure counts (the machine is shared).

Run from the build tree:  meson devenv -C build /usr/bin/python3 \
    ../scripts/bench/compositor.py [frames]
"""
import re
import sys
import time

import gi
import numpy as np

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import Gst, GstVideo  # noqa: E402

FRAMES = int(sys.argv[1]) if len(sys.argv) > 1 else 400
WARMUP = 20
ROUNDS = 3
OUT_W, OUT_H = 1280, 720
PATTERNS = ["smpte", "pinwheel", "ball", "spokes", "circular", "smpte75",
            "gamut", "smpte100", "colors"]
CASES = [(4, 1280, 720), (9, 640, 360)]


def sources(n, w, h):
    caps = f"video/x-raw,format=I420,width={w},height={h},framerate=30/1"
    return " ".join(
        f"videotestsrc pattern={PATTERNS[i]} num-buffers=1 ! {caps} ! "
        f"imagefreeze num-buffers={FRAMES} ! m.sink_{i}"
        for i in range(n))


def run(description):
    """Plays until EOS; returns (fps, last frame as numpy, element messages)."""
    pipeline = Gst.parse_launch(description)
    sink = pipeline.get_by_name("sink")
    stamps = []
    sink.get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER,
        lambda pad, info: stamps.append(time.perf_counter())
        or Gst.PadProbeReturn.OK)
    pipeline.set_state(Gst.State.PLAYING)
    bus = pipeline.get_bus()
    messages = []
    deadline = time.monotonic() + 120
    while True:
        msg = bus.timed_pop_filtered(
            max(0, int((deadline - time.monotonic()) * Gst.SECOND)),
            Gst.MessageType.EOS | Gst.MessageType.ERROR
            | Gst.MessageType.ELEMENT)
        if msg is None:
            pipeline.set_state(Gst.State.NULL)
            sys.exit("timed out: " + description)
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            pipeline.set_state(Gst.State.NULL)
            sys.exit(f"ERROR: {err.message}\n{dbg}")
        if msg.type == Gst.MessageType.ELEMENT:
            messages.append(msg.get_structure().copy())
            continue
        break
    sample = sink.get_property("last-sample")
    frame = to_numpy(sample)
    pipeline.set_state(Gst.State.NULL)
    # imagefreeze may push a few frames more than num-buffers; fewer would
    # mean the compositor dropped some.
    if len(stamps) < FRAMES:
        sys.exit(f"{len(stamps)} frames out instead of {FRAMES}: {description}")
    n = len(stamps) - WARMUP
    fps = (n - 1) / (stamps[-1] - stamps[WARMUP]) if n > 1 else 0.0
    return fps, frame, messages


def to_numpy(sample):
    """The Y, U and V planes of an I420 sample."""
    info = GstVideo.VideoInfo.new_from_caps(sample.get_caps())
    buf = sample.get_buffer()
    ok, mapinfo = buf.map(Gst.MapFlags.READ)
    assert ok
    data = np.frombuffer(mapinfo.data, dtype=np.uint8).copy()
    buf.unmap(mapinfo)
    planes = []
    for p, (w, h) in enumerate([(OUT_W, OUT_H), (OUT_W // 2, OUT_H // 2),
                                (OUT_W // 2, OUT_H // 2)]):
        off, stride = info.offset[p], info.stride[p]
        rows = data[off:off + stride * h].reshape(h, stride)
        planes.append(rows[:, :w].astype(np.float64))
    return planes


def psnr(a, b):
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def layout_rects(messages):
    for s in messages:
        if s.get_name() == "mcucompositor-layout":
            # PyGObject cannot read a GstValueArray: parse the serialisation.
            text = s.to_string().replace("\\", "")
            found = re.findall(
                r"port=\(uint\)(\d+), x=\(int\)(-?\d+), y=\(int\)(-?\d+), "
                r"width=\(int\)(\d+), height=\(int\)(\d+)", text)
            return {int(p): tuple(int(v) for v in rest)
                    for p, *rest in found}
    sys.exit("mcucompositor posted no mcucompositor-layout message")


def main():
    Gst.init(None)
    out_caps = (f"video/x-raw,format=I420,width={OUT_W},height={OUT_H},"
                "framerate=30/1")
    sink = "fakesink name=sink sync=false enable-last-sample=true"
    print(f"{FRAMES} frames per run, fps over the last {FRAMES - WARMUP}, "
          f"best of {ROUNDS}")
    for n, w, h in CASES:
        ours_desc = (f"mcucompositor name=m force-live=false width={OUT_W} "
                     f"height={OUT_H} framerate=30/1 background=0xff000000 ! "
                     f"{out_caps} ! {sink} {sources(n, w, h)}")
        ours_fps, ours_frame, messages = run(ours_desc)
        rects = layout_rects(messages)
        pads = " ".join(
            f"sink_{port}::xpos={x} sink_{port}::ypos={y} "
            f"sink_{port}::width={rw} sink_{port}::height={rh}"
            for port, (x, y, rw, rh) in sorted(rects.items()))
        stock_desc = (f"compositor name=m background=black {pads} ! "
                      f"{out_caps} ! {sink} {sources(n, w, h)}")
        stock_fps, stock_frame, _ = run(stock_desc)
        for _ in range(ROUNDS - 1):
            ours_fps = max(ours_fps, run(ours_desc)[0])
            stock_fps = max(stock_fps, run(stock_desc)[0])
        psnr_y = psnr(ours_frame[0], stock_frame[0])
        psnr_all = psnr(np.concatenate([p.ravel() for p in ours_frame]),
                        np.concatenate([p.ravel() for p in stock_frame]))
        print(f"{n} x {w}x{h} -> {OUT_W}x{OUT_H} I420, tiles "
              + " ".join(f"{r[2]}x{r[3]}@{r[0]},{r[1]}"
                         for _, r in sorted(rects.items())))
        print(f"  mcucompositor {ours_fps:8.1f} fps")
        print(f"  compositor    {stock_fps:8.1f} fps")
        print(f"  ratio         {ours_fps / stock_fps:8.2f} x")
        print(f"  PSNR ours vs stock: Y {psnr_y:.1f} dB, "
              f"Y+U+V {psnr_all:.1f} dB")


if __name__ == "__main__":
    main()
