#!/usr/bin/python3
"""Benchmark: qrdetect against stock zbar on the same frames, in one run.

Generates FRAMES raw I420 1280x720 frames once (QR codes made with Debian's
`qrencode`, at varying sizes, angles and positions, moving a little from frame
to frame, with noise; some scenes have no code, some two), then plays them at
30 fps (fakesink sync=true, so a scanner that keeps up sees every frame) through

  baseline:  filesrc ! rawvideoparse ! fakesink
  zbar:      ... ! zbar qos=false ! fakesink       (stock, gst-plugins-bad)
  qrdetect:  ... ! qrdetect ! fakesink             (defaults: interval=100)
  qrdetect interval=0 repeat-interval=1            (every frame it can scan)

each in its own process, and prints the CPU time per frame of each (process
user+system time minus the baseline's), the frames scanned and codes decoded
(qrdetect's `scans` and `decodes`), the codes each found against the ground
truth, and the ratios.

Usage: meson devenv -C build /usr/bin/python3 scripts/bench/qrdetect.py
"""

import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time

WIDTH, HEIGHT, FPS = 1280, 720, 30
FRAMES = int(os.environ.get("QR_BENCH_FRAMES", "300"))
SCENE_FRAMES = 10  # a code stays in view for a third of a second
NOISE = float(os.environ.get("QR_BENCH_NOISE", "4"))  # camera noise, sigma


def qr_modules(text):
    """The code of TEXT as a list of rows of 0/1 modules (no quiet zone)."""
    out = subprocess.run(["qrencode", "-t", "ASCII", "-m", "0", text],
                         check=True, capture_output=True, text=True).stdout
    return [[1 if line[i] == "#" else 0 for i in range(0, len(line), 2)]
            for line in out.splitlines() if line]


def make_frames(path):
    """Writes the frames; returns the symbols in view in each frame."""
    import numpy as np

    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    background = (70 + 80 * xx / WIDTH + 40 * yy / HEIGHT).astype(np.float32)
    # Some texture: darker and lighter blocks, like furniture on a wall.
    for _ in range(25):
        x, y = rng.integers(0, WIDTH - 100), rng.integers(0, HEIGHT - 100)
        w, h = rng.integers(40, 260), rng.integers(40, 200)
        background[y:y + h, x:x + w] += rng.uniform(-50, 50)

    scenes = []
    for s in range(math.ceil(FRAMES / SCENE_FRAMES)):
        count = [0, 1, 1, 1, 2][s % 5]  # one scene in five has none
        codes = []
        for c in range(count):
            text = f"https://rooms.example/s{s:02d}/c{c}"
            if s % 3 == 1:
                text += "?token=" + "x" * int(rng.integers(5, 40))
            modules = np.array(qr_modules(text), dtype=np.uint8)
            size = float(rng.uniform(150, 420))  # code width in pixels
            angle = float(rng.choice([0, 0, rng.uniform(-30, 30),
                                      rng.uniform(0, 360)]))
            half = size * 0.75
            cx = float(rng.uniform(half, WIDTH / 2 - half)) + (
                WIDTH / 2 if c == 1 else 0)
            if count == 1:
                cx = float(rng.uniform(half, WIDTH - half))
            cy = float(rng.uniform(half, HEIGHT - half))
            codes.append(dict(text=text, modules=modules, size=size,
                              angle=angle, cx=cx, cy=cy,
                              vx=float(rng.uniform(-3, 3)),
                              vy=float(rng.uniform(-2, 2))))
        scenes.append(codes)

    truth = []
    chroma = np.full(WIDTH * HEIGHT // 2, 128, dtype=np.uint8)
    with open(path, "wb") as f:
        for n in range(FRAMES):
            scene = scenes[n // SCENE_FRAMES]
            k = n % SCENE_FRAMES
            luma = background.copy()
            for code in scene:
                mod = code["modules"]
                count = mod.shape[0]
                cx = code["cx"] + code["vx"] * k
                cy = code["cy"] + code["vy"] * k
                a = math.radians(code["angle"] + 0.3 * k)
                half = code["size"] * (count + 8) / count / 2  # quiet zone
                r = int(half * 1.5) + 2
                x0, x1 = max(0, int(cx) - r), min(WIDTH, int(cx) + r)
                y0, y1 = max(0, int(cy) - r), min(HEIGHT, int(cy) + r)
                py, px = np.mgrid[y0:y1, x0:x1]
                dx, dy = px - cx, py - cy
                # Into the code's own axes, in modules from its top-left.
                u = (dx * math.cos(a) + dy * math.sin(a)) / code["size"] * count
                v = (-dx * math.sin(a) + dy * math.cos(a)) / code["size"] * count
                u += count / 2
                v += count / 2
                inside = (u >= -4) & (u < count + 4) & (v >= -4) & (v < count + 4)
                ui, vi = np.floor(u).astype(int), np.floor(v).astype(int)
                in_code = (ui >= 0) & (ui < count) & (vi >= 0) & (vi < count)
                dark = np.zeros_like(inside)
                dark[in_code] = mod[vi[in_code], ui[in_code]] == 1
                patch = luma[y0:y1, x0:x1]
                patch[inside] = 235
                patch[dark] = 25
            if NOISE > 0:
                luma += rng.normal(0, NOISE, luma.shape).astype(np.float32)
            f.write(np.clip(luma, 0, 255).astype(np.uint8).tobytes())
            f.write(chroma.tobytes())
            truth.append([c["text"] for c in scene])
    return truth


def run_child(raw, element):
    """Runs one pipeline in this process; prints what it found as JSON."""
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    desc = (f"filesrc location={raw} blocksize={WIDTH * HEIGHT * 3 // 2} ! "
            f"rawvideoparse format=i420 width={WIDTH} height={HEIGHT} "
            f"framerate={FPS}/1 ! ")
    if element:
        desc += f"{element} name=detector ! "
    desc += "fakesink sync=true"
    pipeline = Gst.parse_launch(desc)
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    found = []
    while True:
        msg = bus.timed_pop_filtered(
            30 * Gst.SECOND,
            Gst.MessageType.ELEMENT | Gst.MessageType.EOS
            | Gst.MessageType.ERROR)
        if msg is None or msg.type != Gst.MessageType.ELEMENT:
            if msg is not None and msg.type == Gst.MessageType.ERROR:
                print(msg.parse_error(), file=sys.stderr)
            break
        s = msg.get_structure()
        if s.get_name() in ("barcode", "qrdetect"):
            ok, rt = s.get_uint64("running-time")
            found.append([s.get_string("symbol"), rt])
    scans = decodes = None
    det = pipeline.get_by_name("detector")
    if det is not None and det.find_property("scans") is not None:
        scans = det.get_property("scans")
    if det is not None and det.find_property("decodes") is not None:
        decodes = det.get_property("decodes")
    pipeline.set_state(Gst.State.NULL)
    print(json.dumps({"found": found, "scans": scans, "decodes": decodes}))


def run(raw, element):
    """CPU seconds and findings of one pipeline in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    out = subprocess.run([sys.executable, __file__, "--child", raw, element],
                         check=True, capture_output=True, text=True,
                         timeout=120).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result = json.loads(out.strip().splitlines()[-1])
    result["cpu"] = cpu
    result["wall"] = time.monotonic() - start
    return result


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        run_child(sys.argv[2], sys.argv[3])
        return

    with tempfile.TemporaryDirectory(prefix="qrbench-") as tmp:
        raw = os.path.join(tmp, "frames.i420")
        t = time.monotonic()
        truth = make_frames(raw)
        print(f"generated {FRAMES} frames {WIDTH}x{HEIGHT} I420, noise sigma "
              f"{NOISE:g}, in "
              f"{time.monotonic() - t:.1f} s")
        all_symbols = {s for frame in truth for s in frame}
        all_detections = sum(len(frame) for frame in truth)
        print(f"ground truth: {len(all_symbols)} distinct codes, "
              f"{all_detections} (frame, code) pairs, "
              f"{sum(1 for f in truth if not f)} frames without code")

        configs = [
            ("baseline", ""),
            ("zbar", "zbar qos=false"),
            ("qrdetect", "qrdetect"),
            ("qrdetect interval=0", "qrdetect interval=0 repeat-interval=1"),
        ]
        results = {}
        for name, element in configs:
            results[name] = run(raw, element)

    base = results["baseline"]["cpu"]
    print(f"\nbaseline pipeline: {base / FRAMES * 1000:.2f} ms CPU per frame")
    print(f"{'detector':<22} {'CPU ms/frame':>12} {'ms/scan':>8} {'scans':>6} "
          f"{'decodes':>7} {'distinct':>9} {'detections':>11}  missed")
    per_frame = {}
    frame_ns = 1_000_000_000 // FPS
    for name, _ in configs[1:]:
        r = results[name]
        per_frame[name] = max(r["cpu"] - base, 0) / FRAMES * 1000
        symbols = {s for s, _ in r["found"]}
        wrong = symbols - all_symbols
        # A detection is right if the code is in view in that frame.
        right = sum(1 for s, rt in r["found"]
                    if rt is not None and 0 <= rt // frame_ns < FRAMES
                    and s in truth[min(FRAMES - 1, round(rt / frame_ns))])
        r["symbols"] = symbols
        scans = r["scans"] if r["scans"] is not None else FRAMES
        per_scan = max(r["cpu"] - base, 0) / max(scans, 1) * 1000
        decodes = r["decodes"] if r["decodes"] is not None else "-"
        print(f"{name:<22} {per_frame[name]:>12.2f} {per_scan:>8.2f} {scans:>6} "
              f"{decodes:>7} "
              f"{len(symbols):>4}/{len(all_symbols):<4} "
              f"{right:>5}/{len(r['found']):<5}  "
              f"{sorted(all_symbols - symbols)}"
              + (f" WRONG {sorted(wrong)}" if wrong else ""))

    zbar = per_frame["zbar"]
    print()
    for name in ("qrdetect", "qrdetect interval=0"):
        ratio = zbar / per_frame[name] if per_frame[name] > 0 else float("inf")
        missed = results["zbar"]["symbols"] - results[name]["symbols"]
        print(f"zbar / {name}: {ratio:.2f}x less CPU per frame; "
              f"codes zbar found that {name} missed: {sorted(missed) or 'none'}")


if __name__ == "__main__":
    main()
