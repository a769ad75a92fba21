#!/usr/bin/python3
"""The CPU that recording adds to a running live show, in one run.

Starts gst-room with docs/rooms/live-show.ini and a [recording] group on a
free loopback port; four webrtcbin presenters (640x360 30 fps VP8 + Opus;
by default noise, so that the encoders make all the bits they can) join,
and an operator console (webrtcbin, receiving the program).  Then the
gst-room process's CPU is measured over alternating windows: the show alone,
the show recording the program and the four presenters (record-start from
the console, record-stop at the window's end), the show alone, recording...
Alternating cancels most of the machine's drift; the figures are the mean of
each kind.

At the end the same command runs scripts/bench/recording.py on five sources:
gst-room's recording pipelines against a decode + x264enc + mp4mux recorder
of the same packets (the alternative a user would otherwise run).

Usage: scripts/bench/show-recording.py [--seconds 15] [--rounds 2] [--pattern snow]
(run from the repository root after a build; it bounds itself in time).
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import room as bench_room  # noqa: E402  (scripts/bench/room.py)
from room import Gst, GLib  # noqa: E402

PRESENTERS = 4


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=int, default=15, help='length of each window')
    parser.add_argument('--rounds', type=int, default=2, help='pairs of windows (alone, recording)')
    parser.add_argument('--pattern', default='snow',
                        help="the presenters' videotestsrc pattern (snow: as many bits as the "
                             "encoders make; 'solid-color': almost none)")
    args = parser.parse_args()
    Gst.init(None)
    port = bench_room.free_port()
    folder = tempfile.mkdtemp(prefix='rooms-bench-show-rec-')
    text = open(os.path.join(bench_room.TOP, 'docs/rooms/live-show.ini')).read()
    text = re.sub(r'(?m)^listen=.*$', f'listen=127.0.0.1:{port}', text)
    text += f'\n[recording]\nfolders={folder}\n'
    room_file = os.path.join(folder, 'show.ini')
    with open(room_file, 'w') as f:
        f.write(text)
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(bench_room.BUILD, 'plugins'),
               GST_TRACERS='', GST_DEBUG=os.environ.get('ROOMS_BENCH_GST_DEBUG', '*:1'))
    room = subprocess.Popen([os.path.join(bench_room.BUILD, 'tools/gst-room/gst-room'), room_file],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    result = {'alone': [], 'recording': [], 'files': 0}
    try:
        said = []
        while not said or ('is open at' not in said[-1] and said[-1] and len(said) < 20):
            said.append(room.stdout.readline())
        if 'is open at' not in said[-1]:
            sys.exit('gst-room did not start: ' + ''.join(said))
        bench = bench_room.Bench(args)
        loop = GLib.MainLoop()
        url = f'ws://127.0.0.1:{port}/ws'
        presenters = [bench_room.Participant(
            bench, i, url, join={'type': 'join', 'role': 'presenter', 'token': 'stage-secret',
                                 'name': f'P{i}'}, size=(640, 360), pattern=args.pattern)
            for i in range(PRESENTERS)]
        console = bench_room.Participant(
            bench, PRESENTERS, url, join={'type': 'join', 'role': 'operator', 'token': 'console-secret'},
            send=False)
        started = []

        def on_console(m):
            if m['type'] == 'record-started':
                started.append(m['recording'])
            elif m['type'] == 'error':
                result['error'] = f'the console got an error: {m}'
                loop.quit()
        console.on_other = on_console
        everybody = presenters + [console]
        deadline = time.monotonic() + 40
        windows = ['alone', 'recording'] * args.rounds
        window = {}

        def wait_connected():
            if all(p.connected and p.peer for p in everybody):
                GLib.timeout_add_seconds(5, next_window)  # encoders and hubs settle
                return False
            if time.monotonic() > deadline:
                result['error'] = 'the presenters and the console did not all connect within 40 s'
                loop.quit()
                return False
            return True

        def next_window():
            if window:
                cpu, _ = bench_room.proc_cpu(room.pid)
                result[window['kind']].append((cpu - window['cpu']) / (time.monotonic() - window['t']))
                if window['kind'] == 'recording':
                    result['files'] += len(started)
                    for rec in started:
                        console.send({'type': 'record-stop', 'recording': rec})
                    started.clear()
            if not windows:
                loop.quit()
                return False
            kind = windows.pop(0)
            if kind == 'recording':
                console.send({'type': 'record-start', 'source': 'program'})
                for p in presenters:
                    console.send({'type': 'record-start', 'source': 'peer', 'peer': p.peer})
            # A window starts once the recordings run (or have finished).
            GLib.timeout_add_seconds(2, begin_window, kind)
            return False

        def begin_window(kind):
            if kind == 'recording' and len(started) != PRESENTERS + 1:
                result['error'] = f'{len(started)} recordings started, not {PRESENTERS + 1}'
                loop.quit()
                return False
            cpu, _ = bench_room.proc_cpu(room.pid)
            window.update(kind=kind, cpu=cpu, t=time.monotonic())
            GLib.timeout_add_seconds(args.seconds, next_window)
            return False

        GLib.timeout_add(200, wait_connected)
        GLib.timeout_add_seconds(40 + (args.seconds + 3) * 2 * args.rounds + 20, loop.quit)
        loop.run()
        for p in everybody:
            p.stop()
        if 'error' in result:
            sys.exit(result['error'])
        if len(result['recording']) != args.rounds:
            sys.exit('the windows did not all run')
    finally:
        room.send_signal(signal.SIGINT)
        try:
            room.wait(15)
        except subprocess.TimeoutExpired:
            room.kill()
    sizes = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)
                if f.endswith('.webm'))
    alone = sum(result['alone']) / len(result['alone'])
    recording = sum(result['recording']) / len(result['recording'])
    print(f'live show, {PRESENTERS} presenters 640x360 30 fps VP8 ({args.pattern}) + Opus, program 1280x720; '
          f'{args.rounds} x 2 windows of {args.seconds} s')
    print('gst-room CPU alone:     ' + ', '.join(f'{c:.3f}' for c in result['alone'])
          + f' cores (mean {alone:.3f})')
    print('gst-room CPU recording: ' + ', '.join(f'{c:.3f}' for c in result['recording'])
          + f' cores (mean {recording:.3f})')
    print(f'recording the program and {PRESENTERS} presenters adds {recording - alone:+.3f} cores '
          f'({100 * (recording - alone) / alone:+.1f} %); {result["files"]} files, '
          f'{sizes / 1e6:.1f} MB')
    sys.stdout.flush()
    subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'recording.py'),
                    '--participants', str(PRESENTERS + 1), '--seconds', '20'], check=True, timeout=900)
    for f in os.listdir(folder):
        os.unlink(os.path.join(folder, f))
    os.rmdir(folder)


if __name__ == '__main__':
    main()
