#!/usr/bin/python3
"""chromakey benchmark: ours against stock `alpha method=green ! compositor`.

Generates a ground-truth set (a presenter with soft, known-alpha edges over
noisy key green, and the ideal composite over a background image), runs the
same frames through

  (a) appsrc ! chromakey key-color=SCREEN background=BG.png ! fakesink,
      and the same with default properties
  (b) appsrc ! alpha method=green ! compositor (over BG.png via imagefreeze)
      ! fakesink

and a baseline (appsrc ! fakesink), in one process.  Prints the CPU time per
frame of each (process rusage, baseline subtracted, best of the repeats),
the PSNR of each against the ground truth, and the ratios.

Usage: meson devenv -C build /usr/bin/python3 scripts/bench/chromakey.py
       [--frames 300] [--width 1280 --height 720] [--repeats 2]
"""

import argparse
import os
import resource
import sys
import tempfile
import time

import numpy as np

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

DISTINCT = 30  # distinct frames, cycled through for the timing runs
FPS = 30


def make_background(width, height):
    """A detailed background: gradients and a checkerboard."""
    y, x = np.mgrid[0:height, 0:width]
    bg = np.empty((height, width, 3), np.float32)
    bg[..., 0] = x * 255.0 / width
    bg[..., 1] = np.where(((x // 32 + y // 32) % 2) == 1, 200.0, 60.0)
    bg[..., 2] = y * 255.0 / height
    return bg


def make_frame(index, width, height, background, rng):
    """One input frame (presenter over noisy green) and its ideal composite.

    The matte is known: a head (ellipse) and a body (rounded box) whose edges
    ramp over about 4 pixels, like an anti-aliased, slightly defocused
    camera edge."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cx = width * (0.35 + 0.3 * index / DISTINCT)
    head_r = height * 0.13
    head = np.sqrt(((x - cx) / head_r) ** 2
                   + ((y - height * 0.3) / (head_r * 1.25)) ** 2)
    head_alpha = np.clip((1.0 - head) * head_r / 4.0 + 0.5, 0, 1)
    half_w = width * 0.15
    body_d = np.maximum(np.abs(x - cx) - half_w, height * 0.5 - y)
    body_alpha = np.clip(-body_d / 4.0 + 0.5, 0, 1)
    matte = np.maximum(head_alpha, body_alpha)[..., None]

    fg = np.empty((height, width, 3), np.float32)
    fg[...] = (225, 170, 135)  # skin
    shirt = y > height * 0.5
    fg[shirt] = (40, 60, 150)  # dark blue shirt
    # Some texture: a grey stripe pattern on the shirt, white collar.
    stripes = shirt & (((x.astype(int) // 12) % 4) == 0)
    fg[stripes] = (128, 128, 128)
    collar = (y > height * 0.5) & (y < height * 0.55)
    fg[collar] = (240, 240, 240)

    green = np.zeros((height, width, 3), np.float32)
    green[..., 1] = 235.0
    green[..., 0] = 20.0
    green[..., 2] = 25.0
    green += rng.normal(0, 4, green.shape).astype(np.float32)

    frame = fg * matte + green * (1 - matte)
    ideal = fg * matte + background * (1 - matte)
    rgbx = np.empty((height, width, 4), np.uint8)
    rgbx[..., :3] = np.clip(np.rint(frame), 0, 255)
    rgbx[..., 3] = 255
    return rgbx, np.clip(np.rint(ideal), 0, 255).astype(np.uint8)


def write_png(path, rgb):
    height, width = rgb.shape[:2]
    pipe = Gst.parse_launch(
        "appsrc name=src caps=video/x-raw,format=RGB,width=%d,height=%d,"
        "framerate=1/1 ! videoconvert ! pngenc ! filesink location=%s"
        % (width, height, path))
    src = pipe.get_by_name("src")
    pipe.set_state(Gst.State.PLAYING)
    src.emit("push-buffer", Gst.Buffer.new_wrapped(
        np.ascontiguousarray(rgb).tobytes()))
    src.emit("end-of-stream")
    msg = pipe.get_bus().timed_pop_filtered(
        30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipe.set_state(Gst.State.NULL)
    if msg is None or msg.type == Gst.MessageType.ERROR:
        sys.exit("could not write %s" % path)


def caps(width, height):
    return ("video/x-raw,format=RGBx,width=%d,height=%d,framerate=%d/1"
            % (width, height, FPS))


def pipelines(width, height, background_png, frames, key_props):
    src = ("appsrc name=src format=time block=true max-bytes=%d caps=%s"
           % (4 * width * height * 4, caps(width, height)))
    return {
        "baseline": "%s ! SINK" % src,
        "chromakey": "%s ! chromakey %s background=%s ! "
                     "video/x-raw,format=RGBx ! SINK"
                     % (src, key_props, background_png),
        "chromakey defaults": "%s ! chromakey background=%s ! "
                              "video/x-raw,format=RGBx ! SINK"
                              % (src, background_png),
        "alpha+compositor":
            "compositor name=mix background=black sink_0::zorder=0 "
            "sink_1::zorder=1 ! video/x-raw,format=RGBA ! SINK "
            "filesrc location=%s ! pngdec ! videoconvert ! "
            "imagefreeze num-buffers=%d ! video/x-raw,format=RGBA,"
            "framerate=%d/1 ! mix.sink_0 "
            "%s ! alpha method=green ! video/x-raw,format=RGBA ! mix.sink_1"
            % (background_png, frames, FPS, src),
    }


def run(description, inputs, frames, collect):
    """Runs one pipeline over `frames` frames; returns (cpu seconds,
    outputs)."""
    sink = ("appsink name=sink sync=false emit-signals=false max-buffers=2"
            if collect else "fakesink sync=false")
    pipe = Gst.parse_launch(description.replace("SINK", sink))
    src = pipe.get_by_name("src")
    appsink = pipe.get_by_name("sink")
    buffers = [Gst.Buffer.new_wrapped(f.tobytes()) for f in inputs]
    outputs = []
    pipe.set_state(Gst.State.PLAYING)
    start = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.monotonic()
    for i in range(frames):
        buf = buffers[i % len(buffers)].copy()
        buf.pts = i * Gst.SECOND // FPS
        buf.duration = Gst.SECOND // FPS
        if src.emit("push-buffer", buf) != Gst.FlowReturn.OK:
            break
        if collect:
            sample = appsink.emit("try-pull-sample", 10 * Gst.SECOND)
            if sample is None:
                sys.exit("no output from: " + description)
            b = sample.get_buffer()
            ok, info = b.map(Gst.MapFlags.READ)
            arr = np.frombuffer(info.data, np.uint8).copy()
            b.unmap(info)
            outputs.append(arr)
    src.emit("end-of-stream")
    if collect:
        while appsink.emit("try-pull-sample", Gst.SECOND // 10):
            pass
    msg = pipe.get_bus().timed_pop_filtered(
        120 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    end = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.monotonic() - wall
    pipe.set_state(Gst.State.NULL)
    if msg is None or msg.type == Gst.MessageType.ERROR:
        err = msg.parse_error() if msg else ("timeout", "")
        sys.exit("pipeline failed: %s\n%s" % (err, description))
    cpu = (end.ru_utime - start.ru_utime) + (end.ru_stime - start.ru_stime)
    return cpu, wall, outputs


def psnr(outputs, ideals, width, height):
    total = 0.0
    n = 0
    for out, ideal in zip(outputs, ideals):
        rgb = out.reshape(height, width, 4)[..., :3].astype(np.float64)
        total += np.mean((rgb - ideal.astype(np.float64)) ** 2)
        n += 1
    mse = total / max(n, 1)
    return 10 * np.log10(255.0 ** 2 / mse) if mse > 0 else float("inf")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--chromakey-props", default="key-color=0xff14eb19",
        help="chromakey properties (default: key-color = the screen's "
             "colour, as calibrate=true learns it)")
    args = parser.parse_args()
    Gst.init(None)
    if not Gst.ElementFactory.find("chromakey"):
        sys.exit("chromakey not found: run through `meson devenv -C build`")

    w, h = args.width, args.height
    rng = np.random.default_rng(7)
    background = make_background(w, h)
    tmp = tempfile.mkdtemp(prefix="chromakey-bench-")
    bg_png = os.path.join(tmp, "background.png")
    write_png(bg_png, np.clip(np.rint(background), 0, 255).astype(np.uint8))
    pairs = [make_frame(i, w, h, background, rng) for i in range(DISTINCT)]
    inputs = [p[0] for p in pairs]
    ideals = [p[1] for p in pairs]

    descs = pipelines(w, h, bg_png, args.frames, args.chromakey_props)
    print("%d frames %dx%d RGBx (%d distinct), %d repeats; chromakey %s"
          % (args.frames, w, h, DISTINCT, args.repeats, args.chromakey_props))
    cpu = {}
    for _ in range(args.repeats):
        for name, desc in descs.items():
            c, wall, _ = run(desc, inputs, args.frames, False)
            cpu[name] = min(cpu.get(name, c), c)
    quality = {}
    ours = ("chromakey", "chromakey defaults")
    for name in ours + ("alpha+compositor",):
        qdesc = pipelines(w, h, bg_png, DISTINCT, args.chromakey_props)[name]
        _, _, outputs = run(qdesc, inputs, DISTINCT, True)
        quality[name] = psnr(outputs, ideals, w, h)

    per_frame = {}
    for name in ours + ("alpha+compositor",):
        per_frame[name] = max(cpu[name] - cpu["baseline"], 1e-9) / args.frames
    print("baseline (appsrc ! fakesink): %.2f ms CPU/frame"
          % (1000 * cpu["baseline"] / args.frames))
    for name in ours + ("alpha+compositor",):
        print("%-20s %6.2f ms CPU/frame   PSNR %.2f dB"
              % (name + ":", 1000 * per_frame[name], quality[name]))
    for name in ours:
        print("%s: speed-up (stock CPU / ours) %.2fx, PSNR gain %+.2f dB"
              % (name, per_frame["alpha+compositor"] / per_frame[name],
                 quality[name] - quality["alpha+compositor"]))
    os.unlink(bg_png)
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
