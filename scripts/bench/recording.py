#!/usr/bin/python3
"""CPU of a recording: gst-room's way (depayload VP8/Opus RTP, mux to WebM, no
decode, no encode) against what a user would otherwise run (depayload,
decode, x264enc, mp4mux), on the same packets, in one run.

The input is made first: N participants' worth of 640x360 30 fps VP8 + Opus
(one file each), payloaded to RTP inside every measured pipeline, so each
pipeline pays the same demux + payload cost; a third pipeline that only does
that (demux + pay + depay into fakesink) is the floor, subtracted from both.

    scripts/bench/recording.py [--participants 5] [--seconds 20]

Prints CPU seconds per pipeline, the CPU each recorder adds over the floor,
and the ratio.  Every pipeline runs as fast as it can (sync=false): CPU
seconds per media second are what a live room would pay per recording.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(args, timeout):
    before = child_cpu()
    t0 = time.monotonic()
    subprocess.run(['gst-launch-1.0', '-q'] + args, check=True, timeout=timeout,
                   stdout=subprocess.DEVNULL)
    return child_cpu() - before, time.monotonic() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--participants', type=int, default=5,
                   help='sources recorded at once (the program and 4 participants: 5)')
    p.add_argument('--seconds', type=int, default=20)
    p.add_argument('--timeout', type=int, default=600, help='bound on each step, seconds')
    a = p.parse_args()
    env_note = 'stock GStreamer ' + subprocess.run(
        ['gst-launch-1.0', '--version'], capture_output=True, text=True).stdout.split('\n')[1]
    with tempfile.TemporaryDirectory(prefix='rooms-bench-rec-') as tmp:
        frames = a.seconds * 30
        audio_buffers = a.seconds * 50
        inputs = []
        for i in range(a.participants):
            f = os.path.join(tmp, f'in{i}.webm')
            subprocess.run(['gst-launch-1.0', '-q',
                            'videotestsrc', f'pattern={i % 20}', f'num-buffers={frames}', '!',
                            'video/x-raw,width=640,height=360,framerate=30/1', '!',
                            'vp8enc', 'deadline=1', 'cpu-used=8', 'target-bitrate=800000',
                            'keyframe-max-dist=300', '!', 'webmmux', 'name=m', '!',
                            'filesink', f'location={f}',
                            'audiotestsrc', f'num-buffers={audio_buffers}', 'samplesperbuffer=960', '!',
                            'audio/x-raw,rate=48000,channels=2', '!', 'opusenc', '!', 'm.'],
                           check=True, timeout=a.timeout)
            inputs.append(f)

        def pipeline(tail_video, tail_audio, out_ext):
            args = []
            for i, f in enumerate(inputs):
                out = os.path.join(tmp, f'out{i}.{out_ext}') if out_ext else None
                args += ['filesrc', f'location={f}', '!', 'matroskademux', f'name=d{i}',
                         f'd{i}.video_0', '!', 'queue', '!', 'rtpvp8pay', '!', 'rtpvp8depay', '!']
                args += tail_video(i)
                args += [f'd{i}.audio_0', '!', 'queue', '!', 'rtpopuspay', '!', 'rtpopusdepay', '!']
                args += tail_audio(i)
                if out:
                    args += [f'm{i}.', '!', 'filesink', f'location={out}', 'sync=false']
            return args

        floor = pipeline(lambda i: ['fakesink', 'sync=false'],
                         lambda i: ['fakesink', 'sync=false'], None)
        ours = pipeline(lambda i: [f'm{i}.video_0'],
                        lambda i: ['capssetter', 'caps=audio/x-opus,rate=48000', '!', f'm{i}.audio_0',
                                   'webmmux', f'name=m{i}', 'max-cluster-duration=1000000000'],
                        'webm')
        transcode = pipeline(
            lambda i: ['vp8dec', '!', 'videoconvert', '!', 'x264enc', 'tune=zerolatency',
                       'speed-preset=ultrafast', 'bitrate=2000', 'threads=2', '!', 'h264parse', '!',
                       f'm{i}.video_0'],
            lambda i: ['opusparse', '!', f'm{i}.audio_0', 'mp4mux', f'name=m{i}',
                       'fragment-duration=1000'],
            'mp4')
        results = {}
        for name, args in [('floor (demux+pay+depay)', floor), ('gst-room (depay+webmmux)', ours),
                           ('decode+x264enc+mp4mux', transcode)]:
            cpu, wall = run(args, a.timeout)
            results[name] = cpu
            print(f'{name:28s} {cpu:7.2f} CPU s  ({wall:5.1f} s wall) for {a.participants} x '
                  f'{a.seconds} s of media')
        f = results['floor (demux+pay+depay)']
        added_ours = max(results['gst-room (depay+webmmux)'] - f, 1e-3)
        added_alt = results['decode+x264enc+mp4mux'] - f
        media = a.participants * a.seconds
        print(f'CPU added per recorded second: gst-room {1000 * added_ours / media:.2f} ms, '
              f'decode+x264enc+mp4mux {1000 * added_alt / media:.2f} ms')
        print(f'ratio: the transcoding recorder costs {added_alt / added_ours:.1f}x the CPU of '
              f"gst-room's ({env_note}, {os.cpu_count()} CPUs)")
    return 0


if __name__ == '__main__':
    sys.exit(main())
