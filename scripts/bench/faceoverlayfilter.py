#!/usr/bin/python3
"""Benchmark: faceoverlayfilter (detect only) against stock facedetect.

The same 640x480 RGB frames (Megamind.avi and the start of vtest.avi from
Debian's opencv-doc, decoded once into memory) go at 30 frames/s, paced by the
sink's clock as from a camera, through

  - a baseline pipeline without a filter,
  - stock facedetect (display=false, so it only detects, like ours),
  - faceoverlayfilter with its defaults (a detection every 100 ms at most),
  - faceoverlayfilter interval=0 (a detection on every frame the worker is
    free for),
  - the same with full-scan-interval=0 (every detection searches the whole
    frame, none only around the known faces),
  - faceoverlayfilter detect-width=640 scale-factor=1.25 (facedetect's own
    detection grid, a detection every 100 ms at most),

all in this one process.  CPU per frame is the process' user+system time of a
run minus the baseline's, divided by the frames.  Faces: every face
facedetect reports on a frame counts as found by ours if the last set of faces
ours posted by that frame's timestamp holds a face overlapping it by
IoU >= 0.5 (MATCH_IOU in the environment changes it).  A second figure,
"late", also counts a face ours holds within the next LATE frames (100 ms, the
default interval): what a face ours finds after a detection delay is worth.
`--misses [properties]` instead lists, frame by frame, the facedetect faces
ours misses (defaults and interval=0) with what ours held on that frame.
`--unhurried [properties]` runs ours (defaults and track=false) with a pause
of 150 ms after each frame (timestamps still 30 frames/s), so that its worker
is never short of time: what the rules find apart from the machine's load.

Run from the source tree after building:
  meson devenv -C build /usr/bin/python3 ../scripts/bench/faceoverlayfilter.py
"""

import re
import resource
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

DATA = "/usr/share/doc/opencv-doc/examples/data/"
# facedetect's own detection grid (full 640 width, scale step 1.25), at our
# default interval: the configuration that finds every face facedetect does.
SAME_GRID = "detect-width=640 scale-factor=1.25"
CLIPS = [("Megamind.avi", 270), ("vtest.avi", 230)]
WIDTH, HEIGHT, FPS = 640, 480, 30
CAPS = f"video/x-raw,format=RGB,width={WIDTH},height={HEIGHT},framerate={FPS}/1"
RUN_TIMEOUT = 60  # seconds, per pipeline
LATE = 3  # frames
UNHURRIED_US = 150000  # --unhurried: pause after each frame
MATCH = float(__import__("os").environ.get("MATCH_IOU", "0.5"))  # IoU for "found"


def decode_frames():
    """All frames of the clips, scaled to 640x480 RGB, in memory."""
    frames = []
    for name, count in CLIPS:
        pipe = Gst.parse_launch(
            f"filesrc location={DATA}{name} ! decodebin ! videoconvert ! "
            f"videoscale ! {CAPS.split(',framerate')[0]} ! "
            f"appsink name=out sync=false max-buffers={count + 10}")
        sink = pipe.get_by_name("out")
        pipe.set_state(Gst.State.PLAYING)
        got = 0
        while got < count:
            sample = sink.emit("try-pull-sample", 10 * Gst.SECOND)
            if sample is None:
                break
            frames.append(sample.get_buffer())
            got += 1
        pipe.set_state(Gst.State.NULL)
    return frames


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


FACE_RE = re.compile(r"x=\(u?int\)(\d+), y=\(u?int\)(\d+), "
                     r"width=\(u?int\)(\d+), height=\(u?int\)(\d+)")


def rect_list(structure):
    """[(x, y, w, h)] of a message's faces (PyGObject cannot read nested
    lists of structures without gst-python, so parse the text)."""
    text = structure.to_string().replace("\\", "")
    return [tuple(int(v) for v in m) for m in FACE_RE.findall(text)]


def run(frames, element, pause_us=0):
    """Pushes the frames through `element` (None: baseline) at 30 fps, or
    with a pause of `pause_us` after each frame instead (timestamps still at
    30 fps).  Returns (cpu seconds, {timestamp: faces} from the element's
    messages)."""
    middle = f"{element} ! " if element else ""
    sink = (f"identity sleep-time={pause_us} ! fakesink sync=false"
            if pause_us else "fakesink sync=true")
    pipe = Gst.parse_launch(
        f"appsrc name=src format=time caps={CAPS} max-bytes=0 ! {middle}"
        f"{sink}")
    src = pipe.get_by_name("src")
    for i, buf in enumerate(frames):
        b = buf.copy()
        b.pts = i * Gst.SECOND // FPS
        b.duration = Gst.SECOND // FPS
        src.emit("push-buffer", b)
    src.emit("end-of-stream")

    bus = pipe.get_bus()
    messages = {}
    start = cpu_seconds()
    wall = time.monotonic()
    pipe.set_state(Gst.State.PLAYING)
    while True:
        msg = bus.timed_pop_filtered(
            int((RUN_TIMEOUT + n_pause(frames, pause_us)) * Gst.SECOND),
            Gst.MessageType.EOS | Gst.MessageType.ERROR
            | Gst.MessageType.ELEMENT)
        if msg is None:
            sys.exit(f"timeout running {element}")
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            sys.exit(f"ERROR {element}: {err.message} {dbg}")
        if msg.type == Gst.MessageType.EOS:
            break
        s = msg.get_structure()
        if s.get_name() in ("facedetect", "faceoverlayfilter"):
            messages[s.get_value("timestamp")] = rect_list(s)
        if time.monotonic() - wall > RUN_TIMEOUT + n_pause(frames, pause_us):
            sys.exit(f"timeout running {element}")
    pipe.set_state(Gst.State.NULL)
    used = cpu_seconds() - start
    return used, messages


def n_pause(frames, pause_us):
    """Extra seconds a paused run may take."""
    return len(frames) * pause_us / 1e6


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


def faces_per_frame(messages, n):
    """Ours posts on change: each frame holds the last posted set."""
    out, current = [], []
    changes = sorted(messages.items())
    k = 0
    for i in range(n):
        ts = i * Gst.SECOND // FPS
        while k < len(changes) and changes[k][0] <= ts:
            current = changes[k][1]
            k += 1
        out.append(current)
    return out


class DetectionCounter:
    """Counts the worker's detections from its debug log line."""

    def __init__(self):
        self.count = 0
        self.tracking = 0
        Gst.debug_set_threshold_for_name("faceoverlayfilter", Gst.DebugLevel.DEBUG)
        Gst.debug_add_log_function(self.log, None)

    def log(self, category, level, file, function, line, obj, message, data):
        if category.get_name() == "faceoverlayfilter" and \
                message.get().startswith("detection "):
            self.count += 1
        elif category.get_name() == "faceoverlayfilter" and \
                message.get().startswith("tracking "):
            self.tracking += 1


def show_misses(frames, stock_msgs, extra, stock_cpu, base):
    """--misses: which of facedetect's faces ours (defaults + extra) misses,
    frame by frame, with what ours held on that frame."""
    n = len(frames)
    for label in (f"faceoverlayfilter {extra}",
                  f"faceoverlayfilter interval=0 {extra}"):
        cpu, msgs = run(frames, label)
        ours = faces_per_frame(msgs, n)
        missed = 0
        print(f"--- {label}")
        for i in range(n):
            for s in stock_msgs.get(i * Gst.SECOND // FPS, []):
                best = max((iou(s, o) for o in ours[i]), default=0.0)
                if best < MATCH:
                    missed += 1
                    print(f"frame {i:3d} missed {s} (best IoU {best:.2f}); "
                          f"ours {ours[i]}")
        per_frame = (cpu - base) / n * 1000
        print(f"missed {missed}; {per_frame:.2f} ms CPU/frame, "
              f"{stock_cpu / per_frame:.1f}x less than facedetect")


def show_unhurried(frames, stock_msgs, extra, stock_ms, base):
    """--unhurried: ours with a pause of UNHURRIED_US after every frame, so
    that its worker is never short of time however loaded the machine: what
    the rules find, apart from the machine's load."""
    n = len(frames)
    for label in (f"faceoverlayfilter {extra}",
                  f"faceoverlayfilter track=false {extra}"):
        cpu, msgs = run(frames, label, UNHURRIED_US)
        ours = faces_per_frame(msgs, n)
        missed = [(i, s) for i in range(n)
                  for s in stock_msgs.get(i * Gst.SECOND // FPS, [])
                  if not any(iou(s, o) >= MATCH for o in ours[i])]
        total = sum(len(stock_msgs.get(i * Gst.SECOND // FPS, []))
                    for i in range(n))
        per_frame = (cpu - base) / n * 1000
        print(f"{label} (unhurried): {per_frame:.2f} ms CPU/frame "
              f"({stock_ms / per_frame:.1f}x less than facedetect), "
              f"{total - len(missed)}/{total} of facedetect's faces; "
              f"missed on frames {sorted(set(i for i, _ in missed))}")


def main():
    Gst.init(None)
    Gst.debug_remove_log_function(None)
    counter = DetectionCounter()
    for name in ("facedetect", "faceoverlayfilter"):
        if Gst.ElementFactory.find(name) is None:
            sys.exit(f"missing element {name} (gstreamer1.0-opencv / build)")

    frames = decode_frames()
    n = len(frames)
    print(f"{n} frames {WIDTH}x{HEIGHT} RGB at {FPS} fps "
          f"({', '.join(c for c, _ in CLIPS)})")

    base1, _ = run(frames, None)
    stock_cpu, stock_msgs = run(frames, "facedetect display=false")
    counter.count = 0
    misses_only = "--misses" in sys.argv
    unhurried = "--unhurried" in sys.argv
    # e.g. scale-factor=1.2, for trying
    extra = " ".join(a for a in sys.argv[1:] if not a.startswith("--"))
    if unhurried:
        show_unhurried(frames, stock_msgs, extra,
                       (stock_cpu - base1) / n * 1000, base1)
        return
    if misses_only:
        show_misses(frames, stock_msgs, extra,
                    (stock_cpu - base1) / n * 1000, base1)
        return
    ours_cpu, ours_msgs = run(frames, f"faceoverlayfilter {extra}")
    ours_detections = (counter.count, counter.tracking)
    counter.count = counter.tracking = 0
    old_cpu, old_msgs = run(frames, f"faceoverlayfilter track=false {extra}")
    old_detections = (counter.count, counter.tracking)
    counter.count = counter.tracking = 0
    all_cpu, all_msgs = run(frames, f"faceoverlayfilter interval=0 {extra}")
    all_detections = (counter.count, counter.tracking)
    counter.count = counter.tracking = 0
    full_cpu, full_msgs = run(
        frames, f"faceoverlayfilter interval=0 full-scan-interval=0 {extra}")
    full_detections = (counter.count, counter.tracking)
    counter.count = counter.tracking = 0
    same_cpu, same_msgs = run(frames, f"faceoverlayfilter {SAME_GRID} {extra}")
    same_detections = (counter.count, counter.tracking)
    base2, _ = run(frames, None)
    base = (base1 + base2) / 2

    stock_faces = [stock_msgs.get(i * Gst.SECOND // FPS, []) for i in range(n)]
    stock_total = sum(len(f) for f in stock_faces)
    stock_frames = sum(1 for f in stock_faces if f)

    def report(label, cpu, msgs, detections):
        per_frame = (cpu - base) / n * 1000
        ours = faces_per_frame(msgs, n)
        total = sum(len(f) for f in ours)
        matched = sum(1 for i in range(n) for s in stock_faces[i]
                      if any(iou(s, o) >= MATCH for o in ours[i]))
        recall = matched / stock_total * 100 if stock_total else 100.0
        late = sum(1 for i in range(n) for s in stock_faces[i]
                   if any(iou(s, o) >= MATCH for j in range(i, min(n, i + LATE + 1))
                          for o in ours[j]))
        searches, tracking = detections
        print(f"{label:38s} {per_frame:7.2f} ms CPU/frame  "
              f"{total:5d} face-frames  {searches:4d} detections "
              f"+ {tracking:3d} tracking searches  "
              f"{matched}/{stock_total} of facedetect's faces ({recall:.0f} %, "
              f"IoU >= {MATCH}), {late} ({late / max(stock_total, 1) * 100:.0f} %) "
              f"on the frame or within {LATE} frames")
        return per_frame

    print(f"baseline (appsrc ! fakesink)           {base / n * 1000:7.2f} ms CPU/frame (subtracted)")
    stock = (stock_cpu - base) / n * 1000
    print(f"{'facedetect display=false':38s} {stock:7.2f} ms CPU/frame  "
          f"{stock_total:5d} face-frames  {n:4d} detections "
          f"({stock:.1f} ms CPU each)  on {stock_frames} frames")
    ours = report("faceoverlayfilter (defaults)", ours_cpu, ours_msgs,
                  ours_detections)
    old = report("faceoverlayfilter track=false", old_cpu, old_msgs,
                 old_detections)
    every = report("faceoverlayfilter interval=0", all_cpu, all_msgs,
                   all_detections)
    full = report("faceoverlayfilter interval=0 full-scan-interval=0",
                  full_cpu, full_msgs, full_detections)
    same = report(f"faceoverlayfilter {SAME_GRID}", same_cpu, same_msgs,
                  same_detections)
    print(f"ratio facedetect/faceoverlayfilter CPU per frame: defaults "
          f"{stock / ours:.1f}x, track=false {stock / old:.1f}x, "
          f"interval=0 {stock / every:.1f}x, "
          f"interval=0 full-scan-interval=0 {stock / full:.1f}x, "
          f"{SAME_GRID} {stock / same:.1f}x")


if __name__ == "__main__":
    main()
