#!/usr/bin/python3
"""Benchmark of a gst-room group call with GStreamer-made participants.

Starts gst-room with docs/rooms/group-call.ini (1280x720 30 fps composite) on a
free loopback port, and, in this second process, N webrtcbin participants that
each send 1280x720 30 fps VP8 + Opus and receive the composite.  Measures, over
a fixed window once everybody is connected:

- the CPU of the gst-room process (user+sys seconds per second = cores), its
  threads and resident memory;
- glass-to-glass latency through the composite: participant 1 sends black
  frames and, once a second, white ones; participant 0 decodes the composite and
  notes when tile 1 turns white.  Latency = that moment minus the moment the
  white frame was handed to participant 0's encoder (one clock, one process).

Usage: scripts/bench/room.py [--participants 4] [--seconds 20]
(run from the repository root after a build; it bounds itself in time).
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstWebRTC', '1.0')
gi.require_version('GstSdp', '1.0')
gi.require_version('Soup', '3.0')
from gi.repository import GLib, Gst, GstSdp, GstWebRTC, Soup  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get('ROOMS_BUILD_ROOT', os.path.join(TOP, 'build'))
W, H, FPS = 1280, 720, 30
COLOURS = ['0xff2040c0', '0xffc04020', '0xff20c040', '0xffc0c020', '0xff8020c0', '0xff20c0c0']


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Participant:
    """A webrtcbin participant.  By default the first one watches the
    composite and the second one flashes; with @join (the join message) and
    @size (width, height) a plain sender of a solid colour (or of the
    videotestsrc @pattern), or with send=False a receiver only (other
    benchmarks use it so)."""

    def __init__(self, bench, index, url, join=None, size=None, send=True, pattern=None):
        self.bench = bench
        self.index = index
        self.connected = False
        self.join = join or {'type': 'join', 'role': 'participant'}
        self.peer = None
        self.on_other = None  # called with every message, after the above
        w, h = size or (W, H)
        # The first participant watches the composite; the second one flashes,
        # so its tile is the top-right quarter of the 2x2 grid.
        flashing = index == 1 and not join
        decode = index == 0 and not join
        if flashing:
            src = (f'appsrc name=cam is-live=true format=time do-timestamp=true '
                   f'caps=video/x-raw,format=I420,width={W},height={H},framerate={FPS}/1')
        else:
            look = pattern or f'solid-color foreground-color={COLOURS[index % len(COLOURS)]}'
            src = (f'videotestsrc is-live=true pattern={look} '
                   f'! video/x-raw,format=I420,width={w},height={h},framerate={FPS}/1')
        media = (
            f'{src} ! vp8enc deadline=1 cpu-used=16 end-usage=cbr target-bitrate=2000000 keyframe-max-dist=60 '
            f'! rtpvp8pay pt=96 ! application/x-rtp,media=video,encoding-name=VP8,payload=96 ! webrtc. '
            f'audiotestsrc is-live=true wave=sine freq={300 + 100 * index} ! opusenc ! rtpopuspay pt=111 '
            f'! application/x-rtp,media=audio,encoding-name=OPUS,payload=111,encoding-params=(string)2 ! webrtc.')
        # (a launch line of one element gives that element, not a pipeline)
        self.pipe = Gst.parse_launch('webrtcbin name=webrtc bundle-policy=max-bundle '
                                     + (media if send else 'fakesrc num-buffers=0 ! fakesink'))
        self.webrtc = self.pipe.get_by_name('webrtc')
        # Held for the participant's life: PyGObject drops one reference too
        # many when a temporary GstObject from a property is collected.
        self.ice = self.webrtc.get_property('ice-agent')
        self.ice.emit('add-local-ip-address', '127.0.0.1')
        self.webrtc.connect('on-ice-candidate', self.on_ice_candidate)
        self.webrtc.connect('pad-added', self.on_pad_added)
        self.state_handler = self.webrtc.connect('notify::connection-state', self.on_state)
        self.decode = decode
        self.cam = self.pipe.get_by_name('cam')
        if self.cam:
            frame = W * H * 3 // 2
            self.black = bytes([16] * (W * H) + [128] * (frame - W * H))
            self.white = bytes([235] * (W * H) + [128] * (frame - W * H))
            self.frame_no = 0
        self.pipe.set_state(Gst.State.PLAYING)
        msg = Soup.Message.new('GET', url)
        bench.session.websocket_connect_async(msg, None, None, GLib.PRIORITY_DEFAULT, None,
                                              self.on_ws, None)

    def push_frame(self):
        self.frame_no += 1
        flash = self.frame_no % FPS == 0
        buf = Gst.Buffer.new_wrapped(self.white if flash else self.black)
        if flash:
            self.bench.flash_times.append(time.monotonic())
        self.cam.emit('push-buffer', buf)
        return True

    def on_ws(self, session, result, _):
        self.ws = session.websocket_connect_finish(result)
        self.ws.set_max_incoming_payload_size(0)
        self.ws.connect('message', self.on_message)
        self.send(self.join)

    def send(self, m):
        self.ws.send_text(json.dumps(m))

    def on_message(self, ws, kind, data):
        m = json.loads(data.get_data().decode())
        if m['type'] == 'welcome':
            self.peer = m['peer']
            if m.get('browserOffers'):
                self.offer_to_watch()
        elif m['type'] == 'answer':
            _, sdp = GstSdp.SDPMessage.new_from_text(m['sdp'])
            answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
            self.webrtc.emit('set-remote-description', answer, None)
        elif m['type'] == 'ping':
            self.send({'type': 'pong'})
        elif m['type'] == 'offer':
            _, sdp = GstSdp.SDPMessage.new_from_text(m['sdp'])
            offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, sdp)
            self.webrtc.emit('set-remote-description', offer, None)
            promise = Gst.Promise.new_with_change_func(self.send_description, 'answer')
            self.webrtc.emit('create-answer', None, promise)
        elif m['type'] == 'candidate':
            self.webrtc.emit('add-ice-candidate', m['sdpMLineIndex'], m['candidate'])
        elif m['type'] == 'error':
            print(f'participant {self.index}: {m}', file=sys.stderr)
        if self.on_other:
            self.on_other(m)

    def offer_to_watch(self):
        # A role the room serves by its fan-out (the viewers, the console):
        # we offer to receive, as the page does, and the room answers.
        recv = GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY
        for caps in ('application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=111,'
                     'encoding-params=(string)2',
                     'application/x-rtp,media=video,encoding-name=VP8,clock-rate=90000,payload=96'):
            self.webrtc.emit('add-transceiver', recv, Gst.Caps.from_string(caps))
        promise = Gst.Promise.new_with_change_func(self.send_description, 'offer')
        self.webrtc.emit('create-offer', None, promise)

    def send_description(self, promise, kind):
        # Our offer or answer, made by webrtcbin: set it, and send it.
        reply = promise.get_reply()
        description = reply.get_value(kind) if reply and reply.has_field(kind) else None
        if description is None:
            print(f'participant {self.index}: no {kind}: {reply}', file=sys.stderr)
            return
        self.webrtc.emit('set-local-description', description, None)
        text = description.sdp.as_text()
        GLib.idle_add(lambda: self.send({'type': kind, 'sdp': text}) and False)

    def on_ice_candidate(self, _, mline, candidate):
        GLib.idle_add(lambda: self.send({'type': 'candidate', 'sdpMLineIndex': mline,
                                         'candidate': candidate}) and False)

    def on_state(self, *_):
        state = self.webrtc.get_property('connection-state')
        if state == GstWebRTC.WebRTCPeerConnectionState.CONNECTED and not self.connected:
            self.connected = True
            if self.cam:
                GLib.timeout_add(1000 // FPS, self.push_frame)

    def on_pad_added(self, _, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        caps = pad.get_current_caps()
        media = caps.get_structure(0).get_string('media')
        if media == 'video' and self.decode:
            desc = ('rtpvp8depay ! vp8dec ! videoconvert ! video/x-raw,format=I420 '
                    '! appsink name=screen emit-signals=true sync=false max-buffers=2 drop=true')
        else:
            desc = 'fakesink sync=false async=false'
        branch = Gst.parse_bin_from_description(desc, True)
        self.pipe.add(branch)
        branch.sync_state_with_parent()
        pad.link(branch.get_static_pad('sink'))
        sink = branch.get_by_name('screen')
        if sink:
            sink.connect('new-sample', self.on_sample)

    def on_sample(self, sink):
        sample = sink.emit('pull-sample')
        buf = sample.get_buffer()
        s = sample.get_caps().get_structure(0)
        width, height = s.get_value('width'), s.get_value('height')
        ok, info = buf.map(Gst.MapFlags.READ)
        # tile 1 of a 2x2 grid: the centre of the top-right quarter
        y = info.data[(height // 4) * width + 3 * width // 4]
        buf.unmap(info)
        now = time.monotonic()
        bright = y > 128
        if bright and not self.bench.was_bright and self.bench.flash_times:
            sent = [t for t in self.bench.flash_times if t <= now]
            if sent:
                self.bench.latencies.append(now - sent[-1])
        self.bench.was_bright = bright
        self.bench.frames_seen += 1
        return Gst.FlowReturn.OK

    def stop(self):
        # (its state changes while it stops are no news, and may come while
        # Python itself shuts down)
        self.webrtc.disconnect(self.state_handler)
        self.pipe.set_state(Gst.State.NULL)


class Bench:
    def __init__(self, args):
        self.args = args
        self.session = Soup.Session()
        self.flash_times = []
        self.latencies = []
        self.was_bright = False
        self.frames_seen = 0


def proc_cpu(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    tick = os.sysconf('SC_CLK_TCK')
    return (int(fields[11]) + int(fields[12])) / tick, int(fields[17])


def proc_rss_mb(pid):
    with open(f'/proc/{pid}/status') as f:
        m = re.search(r'VmRSS:\s+(\d+)', f.read())
    return int(m.group(1)) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--participants', type=int, default=4)
    parser.add_argument('--seconds', type=int, default=20)
    parser.add_argument('--encode-per-peer', action='store_true',
                        help='drop the room\'s video-hub: encode the composite once per participant')
    args = parser.parse_args()
    Gst.init(None)
    port = free_port()
    room_text = open(os.path.join(TOP, 'docs/rooms/group-call.ini')).read()
    room_text = re.sub(r'(?m)^listen=.*$', f'listen=127.0.0.1:{port}', room_text)
    if args.encode_per_peer:
        room_text = re.sub(r'(?m)^video-hub=.*$', '', room_text)
    room_file = f'/tmp/gst-rooms-bench-{port}.ini'
    with open(room_file, 'w') as f:
        f.write(room_text)
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(BUILD, 'plugins'), GST_TRACERS='',
               GST_DEBUG='*:1')
    room = subprocess.Popen([os.path.join(BUILD, 'tools/gst-room/gst-room'), room_file],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = room.stdout.readline()
        if 'is open at' not in line:
            sys.exit(f'gst-room did not start: {line}')
        bench = Bench(args)
        loop = GLib.MainLoop()
        url = f'ws://127.0.0.1:{port}/ws'
        people = []

        def join_next():
            people.append(Participant(bench, len(people), url))
            return len(people) < args.participants
        GLib.timeout_add(500, join_next)
        deadline = time.monotonic() + 30
        result = {}

        def wait_connected():
            if len(people) == args.participants and all(p.connected for p in people):
                GLib.timeout_add_seconds(3, start_window)  # let encoders settle
                return False
            if time.monotonic() > deadline:
                result['error'] = 'participants did not all connect within 30 s'
                loop.quit()
                return False
            return True

        def start_window():
            result['cpu0'], _ = proc_cpu(room.pid)
            result['t0'] = time.monotonic()
            bench.latencies.clear()
            bench.frames_seen = 0
            GLib.timeout_add_seconds(args.seconds, end_window)
            return False

        def end_window():
            cpu1, threads = proc_cpu(room.pid)
            elapsed = time.monotonic() - result['t0']
            result['cores'] = (cpu1 - result['cpu0']) / elapsed
            result['threads'] = threads
            result['rss'] = proc_rss_mb(room.pid)
            result['fps_seen'] = bench.frames_seen / elapsed
            loop.quit()
            return False
        GLib.timeout_add(200, wait_connected)
        GLib.timeout_add_seconds(30 + args.seconds + 10, loop.quit)
        loop.run()
        for p in people:
            p.stop()
        if 'error' in result:
            sys.exit(result['error'])
        lat = sorted(bench.latencies)
        print(f'participants: {args.participants} x {W}x{H} {FPS} fps VP8 in, composite {W}x{H} out')
        print(f'gst-room CPU: {result["cores"]:.2f} cores (target <= 1.2), '
              f'{result["threads"]} threads, {result["rss"]:.0f} MB resident')
        print(f'composite frames decoded by participant 0: {result["fps_seen"]:.1f} per second')
        if lat:
            med = lat[len(lat) // 2] * 1000
            print(f'glass-to-glass latency through the composite: median {med:.0f} ms, '
                  f'min {lat[0] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms over {len(lat)} flashes '
                  f'(target < 150 ms)')
        else:
            print('glass-to-glass latency: no flash was seen in the composite')
    finally:
        room.send_signal(signal.SIGINT)
        try:
            room.wait(10)
        except subprocess.TimeoutExpired:
            room.kill()
        os.unlink(room_file)


if __name__ == '__main__':
    main()
