#!/usr/bin/python3
"""Live-show fan-out: CPU per viewer of gst-room against Janus, one RTP stream.

One sender (gst-launch-1.0: videotestsrc 1280x720 30 fps, moving SMPTE bars,
vp8enc ~2 Mbit/s realtime, rtpvp8pay pt=96) sends the SAME RTP packets, with
one multiudpsink, to gst-room's program udpsrc, to the Janus streaming
plugin's RTP mountpoint, and to a reference udpsrc in this process (the sent
bitrate).  For each N in --viewers and each server in turn (interleaved, so
slow drifts of the shared machine hit both alike):

  start the server alone; idle window: its CPU with the stream coming in and
  0 viewers; connect N WebRTC viewers; wait until every viewer receives RTP;
  measured window: its CPU, threads and resident memory; stop everything.

  CPU per viewer = (CPU over the window - idle CPU) / N, from utime+stime of
  /proc/PID/stat; threads and RSS per viewer are deltas over idle / N.

The viewers are webrtcbin peers in this process (not the servers'), each
linked to a fakesink without depayloading or decoding; a pad probe counts the
RTP packets and bytes each one gets out of its webrtcbin, and every viewer
must have received video in the measured window (else the run fails).

gst-room serves a room file written to a temporary directory: a udpsrc feeds
a `dispatcher`, and the viewer role takes its video from it (`rtp-hub`: the
packets as they are, payloaded once; or, on trees without `rtp-hub`,
`video-hub`: depayloaded once, payloaded per viewer).  Janus (Debian's 1.1.2)
runs with its own configuration in a temporary directory (streaming plugin
and WebSocket transport only), under an LD_PRELOAD shim that shows `lo` as an
ordinary interface: Janus skips loopback interfaces when gathering ICE
candidates, and this benchmark stays on 127.0.0.1.

Usage (from the repository root, after a build; bounded to < 10 minutes):
    /usr/bin/python3 scripts/bench/viewers.py [--viewers 10,20,40] [--window 10]
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstWebRTC', '1.0')
gi.require_version('GstSdp', '1.0')
gi.require_version('Soup', '3.0')
from gi.repository import GLib, Gst, GstSdp, GstWebRTC, Soup  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get('ROOMS_BUILD_ROOT', os.path.join(TOP, 'build'))
GST_ROOM = os.path.join(BUILD, 'tools', 'gst-room', 'gst-room')
JANUS = shutil.which('janus') or '/usr/bin/janus'
JANUS_LIB = '/usr/lib/x86_64-linux-gnu/janus'
TOTAL_BUDGET = 540  # seconds: stop starting new measurements after this
RTP_CAPS = 'application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000'
# The program: moving SMPTE bars, 1280x720 30 fps, VP8 at 2 Mbit/s (realtime
# settings), a keyframe every 2 s.  Encoded once before the run and replayed
# in a loop at its own pace: the same packets at the same rate for both
# servers, whatever the load of the machine does to a live encoder.
CLIP_FRAMES = 300
CLIP = ('videotestsrc num-buffers={frames} pattern=smpte horizontal-speed=6 '
        '! video/x-raw,width=1280,height=720,framerate=30/1 '
        '! vp8enc deadline=1 cpu-used=8 end-usage=cbr target-bitrate=2000000 '
        'keyframe-max-dist=60 lag-in-frames=0 error-resilient=default threads=2 '
        '! webmmux ! filesink location={path}')
SENDER = ('filesrc location={path} ! matroskademux ! rtpvp8pay pt=96 mtu=1200 picture-id-mode=15-bit '
          '! multiudpsink sync=true clients={clients}')


class BenchError(Exception):
    pass


def log(text):
    print(text, file=sys.stderr, flush=True)


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fixed_udp_port():
    """A free UDP port below the ephemeral range, for a server that is
    stopped and started again on it: an ephemeral port could be taken in
    between by one of the many ICE sockets of the run."""
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError):
        low = 32768
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), low)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(('127.0.0.1', port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise BenchError('no free UDP port below the ephemeral range')


def probed_packets(info):
    """(bytes, packets) of what a buffer or buffer-list pad probe sees."""
    if info.type & Gst.PadProbeType.BUFFER_LIST:
        buffers = info.get_buffer_list()
        return sum(buffers.get(i).get_size() for i in range(buffers.length())), buffers.length()
    return info.get_buffer().get_size(), 1


def free_tcp_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_cpu_seconds(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    # fields[0] is field 3 (state): utime is field 14, stime field 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def proc_status(pid):
    """(threads, resident kB) of a process."""
    threads = rss = 0
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('Threads:'):
                threads = int(line.split()[1])
            elif line.startswith('VmRSS:'):
                rss = int(line.split()[1])
    return threads, rss


def context_switches(pid):
    """Context switches of all the threads of a process so far."""
    total = 0
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            with open(f'/proc/{pid}/task/{tid}/status') as f:
                for line in f:
                    if line.startswith(('voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches')):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def thread_names(pid):
    """How many threads of each name (digits stripped) a process has."""
    names = {}
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            with open(f'/proc/{pid}/task/{tid}/comm') as f:
                name = re.sub(r'\d+', 'N', f.read().strip())
        except OSError:
            continue
        names[name] = names.get(name, 0) + 1
    return sorted(names.items(), key=lambda kv: -kv[1])


def pump(seconds, until=None):
    """Runs the GLib main context for up to `seconds`, or until `until()`."""
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + seconds
    wake = GLib.timeout_add(50, lambda: True)
    try:
        while time.monotonic() < deadline:
            if until is not None and until():
                return True
            ctx.iteration(True)
        return until() if until is not None else True
    finally:
        GLib.source_remove(wake)


class Process:
    """A child process in a session of its own, logging to a file; stopped
    with SIGINT, then SIGTERM, then SIGKILL of its process group."""

    def __init__(self, name, argv, log_path, env=None):
        self.name = name
        self.log_path = log_path
        self.log_file = open(log_path, 'w')
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.pid = self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log_text(self):
        with open(self.log_path, errors='replace') as f:
            return f.read()

    def wait_for_log(self, text, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if text in self.log_text():
                return True
            if not self.alive():
                break
            time.sleep(0.1)
        tail = self.log_text()[-2000:]
        raise BenchError(f'{self.name} did not print "{text}" within {seconds} s; its log ends:\n{tail}')

    def stop(self):
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.log_file.close()


class Viewer:
    """A receive-only webrtcbin; counts the RTP packets and bytes it gets."""

    def __init__(self, bench, index):
        self.bench = bench
        self.index = index
        self.error = None
        self.packets = 0
        self.bytes = 0
        self.encoding = None
        self.ws = None
        self.remote_set = False
        self.pending_candidates = []
        self.pipe = Gst.Pipeline.new(f'viewer-{index}')
        self.webrtc = Gst.ElementFactory.make('webrtcbin', 'webrtc')
        self.webrtc.set_property('bundle-policy', GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
        self.pipe.add(self.webrtc)
        # Kept for the viewer's life (PyGObject drops one reference too many
        # when a temporary GstObject from a property is collected).  Only
        # 127.0.0.1: nothing leaves the loopback interface.
        self.ice = self.webrtc.get_property('ice-agent')
        self.ice.emit('add-local-ip-address', '127.0.0.1')
        # No UPnP discovery from the viewers (as Janus does for its agents).
        self.agent = self.ice.get_property('agent')
        self.agent.set_property('upnp', False)
        self.webrtc.connect('on-ice-candidate', self.on_ice_candidate)
        self.webrtc.connect('pad-added', self.on_pad_added)
        self.pipe.set_state(Gst.State.PLAYING)

    def connect(self, url, protocols=None):
        msg = Soup.Message.new('GET', url)
        self.bench.session.websocket_connect_async(msg, None, protocols, GLib.PRIORITY_DEFAULT, None,
                                                   self.on_ws, None)

    def on_ws(self, session, result, _):
        try:
            self.ws = session.websocket_connect_finish(result)
        except GLib.Error as e:
            self.error = f'websocket: {e.message}'
            return
        self.ws.set_max_incoming_payload_size(0)
        self.ws.connect('message', self.on_ws_message)
        self.ws.connect('closed', self.on_ws_closed)
        self.on_open()

    def on_ws_closed(self, ws):
        if not self.bench.stopping and self.error is None:
            self.error = 'the server closed the signalling connection'

    def send(self, message):
        if self.ws is not None and self.ws.get_state() == Soup.WebsocketState.OPEN:
            self.ws.send_text(json.dumps(message))

    def on_ws_message(self, ws, kind, data):
        try:
            self.on_message(json.loads(data.get_data().decode()))
        except Exception as e:  # a callback boundary: note it, fail the run
            self.error = f'signalling: {e!r}'

    def take_offer(self, sdp_text):
        ok, sdp = GstSdp.SDPMessage.new_from_text(sdp_text)
        if ok != GstSdp.SDPResult.OK:
            self.error = 'unparsable offer'
            return
        offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, sdp)
        self.webrtc.emit('set-remote-description', offer, None)
        self.remote_set = True
        for mline, candidate in self.pending_candidates:
            self.webrtc.emit('add-ice-candidate', mline, candidate)
        self.pending_candidates.clear()
        promise = Gst.Promise.new_with_change_func(self.on_answer_created, None)
        self.webrtc.emit('create-answer', None, promise)

    def add_candidate(self, mline, candidate):
        if not candidate:
            return
        if self.remote_set:
            self.webrtc.emit('add-ice-candidate', mline, candidate)
        else:
            self.pending_candidates.append((mline, candidate))

    def on_answer_created(self, promise, _):
        reply = promise.get_reply()
        answer = reply.get_value('answer') if reply and reply.has_field('answer') else None
        if answer is None:
            self.error = f'webrtcbin made no answer: {reply}'
            return
        self.webrtc.emit('set-local-description', answer, None)
        text = answer.sdp.as_text()
        GLib.idle_add(lambda: self.send_answer(text) and False)

    def on_ice_candidate(self, _, mline, candidate):
        GLib.idle_add(lambda: self.send_candidate(mline, candidate) and False)

    def on_pad_added(self, _, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        caps = pad.get_current_caps()
        if caps is not None:
            self.encoding = caps.get_structure(0).get_string('encoding-name')
        sink = Gst.ElementFactory.make('fakesink', None)
        sink.set_property('sync', False)
        sink.set_property('async', False)
        self.pipe.add(sink)
        sink.sync_state_with_parent()
        sink.get_static_pad('sink').add_probe(
            Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, self.on_rtp)
        pad.link(sink.get_static_pad('sink'))

    def on_rtp(self, pad, info):
        size, count = probed_packets(info)
        self.bytes += size
        self.packets += count
        return Gst.PadProbeReturn.OK

    def stop(self):
        if self.ws is not None and self.ws.get_state() == Soup.WebsocketState.OPEN:
            self.ws.close(Soup.WebsocketCloseCode.NORMAL, None)
        self.pipe.set_state(Gst.State.NULL)


class RoomViewer(Viewer):
    """A viewer of gst-room (docs/signalling.md): join, answer, trickle."""

    def on_open(self):
        self.send({'type': 'join', 'role': 'viewer'})

    def on_message(self, m):
        kind = m.get('type')
        if kind == 'offer':
            self.take_offer(m['sdp'])
        elif kind == 'candidate':
            self.add_candidate(m.get('sdpMLineIndex', 0), m.get('candidate', ''))
        elif kind == 'error':
            self.error = f'gst-room error: {m}'

    def send_answer(self, sdp):
        self.send({'type': 'answer', 'sdp': sdp})

    def send_candidate(self, mline, candidate):
        self.send({'type': 'candidate', 'sdpMLineIndex': mline, 'candidate': candidate})


class JanusViewer(Viewer):
    """A viewer of the Janus streaming plugin: create a session, attach the
    plugin, watch mountpoint 1, answer with start, trickle; keepalives."""

    def on_open(self):
        self.session_id = self.handle_id = None
        self.transactions = 0
        self.keepalive = GLib.timeout_add_seconds(20, self.send_keepalive)
        self.request({'janus': 'create'})

    def request(self, message):
        self.transactions += 1
        message['transaction'] = f'v{self.index}-{self.transactions}'
        if self.session_id is not None:
            message['session_id'] = self.session_id
        if self.handle_id is not None and message['janus'] in ('message', 'trickle'):
            message['handle_id'] = self.handle_id
        self.send(message)

    def send_keepalive(self):
        if self.session_id is not None:
            self.request({'janus': 'keepalive'})
        return True

    def on_message(self, m):
        kind = m.get('janus')
        if kind == 'success' and self.session_id is None:
            self.session_id = m['data']['id']
            self.request({'janus': 'attach', 'plugin': 'janus.plugin.streaming'})
        elif kind == 'success' and self.handle_id is None:
            self.handle_id = m['data']['id']
            self.request({'janus': 'message', 'body': {'request': 'watch', 'id': 1}})
        elif kind == 'event':
            data = m.get('plugindata', {}).get('data', {})
            if 'error' in data:
                self.error = f'janus streaming error: {data}'
            jsep = m.get('jsep')
            if jsep and jsep.get('type') == 'offer':
                self.take_offer(jsep['sdp'])
        elif kind == 'error':
            self.error = f'janus error: {m}'
        elif kind == 'hangup':
            self.error = f'janus hung up: {m}'

    def send_answer(self, sdp):
        self.request({'janus': 'message', 'body': {'request': 'start'},
                      'jsep': {'type': 'answer', 'sdp': sdp}})

    def send_candidate(self, mline, candidate):
        self.request({'janus': 'trickle',
                      'candidate': {'candidate': candidate, 'sdpMLineIndex': mline}})

    def stop(self):
        if getattr(self, 'keepalive', None):
            GLib.source_remove(self.keepalive)
            self.keepalive = None
        super().stop()


class GstRoomServer:
    name = 'gst-room'
    viewer_class = RoomViewer

    def __init__(self, tmp, rtp_port, form):
        self.tmp = tmp
        self.rtp_port = rtp_port
        self.form = form
        self.name = f'gst-room {form}'
        self.proc = None

    def room_text(self, listen_port):
        head = (f'[room]\ntitle=viewers benchmark\nlisten=127.0.0.1:{listen_port}\n'
                'max-pending-joins=100000\nmax-pending-joins-per-address=100000\n'
                'ping-timeout=120\njoin-timeout=120\n'
                f'max-messages-per-second=200\n\n[pipeline program]\n'
                f'launch=udpsrc address=127.0.0.1 port={self.rtp_port} caps="{RTP_CAPS}"\n')
        if self.form == 'rtp-hub':
            return head + ('  ! dispatcher name=program_rtp source=0 ! fakesink sync=false async=false\n\n'
                           '[role viewer]\nrtp-hub=program_rtp\nsend=\nreceive=video\nmax-peers=1000\nfanout=false\n')
        if self.form == 'live-show':
            # As docs/rooms/live-show.ini: payloaded once by rtpvp8pay, whose
            # frames go out as lists of packets.
            return head + ('  ! rtpvp8depay ! rtpvp8pay pt=96 picture-id-mode=15-bit mtu=1200\n'
                           '  ! dispatcher name=program_rtp source=0 ! fakesink sync=false async=false\n\n'
                           '[role viewer]\nrtp-hub=program_rtp\nsend=\nreceive=video\nmax-peers=1000\nfanout=false\n')
        # Before rtp-hub: depayload once into an encoded-VP8 dispatcher; each
        # viewer payloads it again.  `seats` only gives the viewers a hub port.
        return head + ('  ! rtpvp8depay ! dispatcher name=program source=0 ! fakesink sync=false async=false\n'
                       '  dispatcher name=seats ! fakesink sync=false async=false\n\n'
                       '[role viewer]\nhub=seats\nvideo-hub=program\nsend=none\nreceive=video\n'
                       'max-peers=1000\n')

    @staticmethod
    def env():
        plugins = os.path.join(BUILD, 'plugins')
        path = os.environ.get('GST_PLUGIN_PATH')
        return dict(os.environ, GST_PLUGIN_PATH=plugins + (':' + path if path else ''),
                    GST_TRACERS='', GST_DEBUG='*:1')

    @classmethod
    def supports(cls, tmp, form):
        """Whether this tree's gst-room accepts the room file form."""
        path = os.path.join(tmp, f'check-{form}.ini')
        with open(path, 'w') as f:
            f.write(cls(tmp, free_udp_port(), form).room_text(free_tcp_port()))
        run = subprocess.run([GST_ROOM, '--check', path], env=cls.env(), capture_output=True,
                             text=True, timeout=60)
        return run.returncode == 0

    def start(self):
        self.port = free_tcp_port()
        path = os.path.join(self.tmp, 'room.ini')
        with open(path, 'w') as f:
            f.write(self.room_text(self.port))
        self.proc = Process('gst-room', [GST_ROOM, path], os.path.join(self.tmp, f'gst-room-{self.form}.log'),
                            env=self.env())
        self.proc.wait_for_log('is open at', 30)
        self.url = f'ws://127.0.0.1:{self.port}/ws'

    def connect(self, viewer):
        viewer.connect(self.url)

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None


class JanusServer:
    name = 'janus'
    viewer_class = JanusViewer

    def __init__(self, tmp, rtp_port):
        self.tmp = tmp
        self.rtp_port = rtp_port
        self.proc = None
        self.dir = os.path.join(tmp, 'janus')
        self.preload = os.path.join(tmp, 'loopback-ifaddrs.so')
        if not os.path.exists(self.preload):
            subprocess.run(['cc', '-shared', '-fPIC', '-O2', '-o', self.preload,
                            os.path.join(HERE, 'viewers', 'loopback-ifaddrs.c'), '-ldl'], check=True)

    def write_config(self):
        conf = os.path.join(self.dir, 'conf')
        for sub in ('conf', 'plugins', 'transports', 'none'):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        # Only the streaming plugin and the WebSocket transport are loaded.
        for sub, lib in (('plugins', 'libjanus_streaming.so'), ('transports', 'libjanus_websockets.so')):
            link = os.path.join(self.dir, sub, lib)
            if not os.path.exists(link):
                os.symlink(os.path.join(JANUS_LIB, sub, lib), link)
        d = self.dir
        files = {
            'janus.jcfg': f'''general: {{
	configs_folder = "{conf}"
	plugins_folder = "{d}/plugins"
	transports_folder = "{d}/transports"
	events_folder = "{d}/none"
	loggers_folder = "{d}/none"
	debug_level = 3
	interface = "127.0.0.1"
	session_timeout = 60
}}
nat: {{
	ice_enforce_list = "127.0.0.1"
}}
''',
            'janus.transport.websockets.jcfg': f'''general: {{
	json = "compact"
	ws = true
	ws_port = {self.port}
	ws_ip = "127.0.0.1"
	wss = false
}}
admin: {{
	admin_ws = false
	admin_wss = false
}}
''',
            'janus.plugin.streaming.jcfg': f'''general: {{
}}
program: {{
	type = "rtp"
	id = 1
	description = "program"
	audio = false
	video = true
	videoport = {self.rtp_port}
	videopt = 96
	videocodec = "vp8"
	videoiface = "127.0.0.1"
}}
''',
        }
        for name, text in files.items():
            with open(os.path.join(conf, name), 'w') as f:
                f.write(text)
        return conf

    def start(self):
        self.port = free_tcp_port()
        conf = self.write_config()
        env = dict(os.environ, LD_PRELOAD=self.preload)
        self.proc = Process('janus', [JANUS, '-F', conf, '-C', os.path.join(conf, 'janus.jcfg'), '-o'],
                            os.path.join(self.tmp, 'janus.log'), env=env)
        # At debug level 3 Janus says nothing when ready: wait for its port.
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(('127.0.0.1', self.port), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline or not self.proc.alive():
                    raise BenchError(f'janus did not listen on {self.port}; its log ends:\n'
                                     f'{self.proc.log_text()[-2000:]}')
                time.sleep(0.1)
        self.url = f'ws://127.0.0.1:{self.port}/'

    def connect(self, viewer):
        viewer.connect(self.url, ['janus-protocol'])

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None


class Bench:
    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp
        self.session = Soup.Session(max_conns=4096, max_conns_per_host=4096)
        self.stopping = False
        self.viewers = []
        self.sent_bytes = 0
        self.sent_packets = 0
        self.reference = None
        self.sender = None

    def on_sent(self, pad, info):
        size, count = probed_packets(info)
        self.sent_bytes += size
        self.sent_packets += count
        return Gst.PadProbeReturn.OK

    def start_sender(self, ports):
        """The one stream both servers get: the same packets to every port,
        and to a reference udpsrc here that measures what was sent."""
        ref_port = free_udp_port()
        self.reference = Gst.parse_launch(
            f'udpsrc address=127.0.0.1 port={ref_port} caps="{RTP_CAPS}" ! fakesink name=ref sync=false async=false')
        self.reference.get_by_name('ref').get_static_pad('sink').add_probe(
            Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, self.on_sent)
        self.reference.set_state(Gst.State.PLAYING)
        clients = ','.join(f'127.0.0.1:{p}' for p in list(ports) + [ref_port])
        clip = os.path.join(self.tmp, 'program.webm')
        subprocess.run(['gst-launch-1.0', '-q'] + CLIP.format(frames=CLIP_FRAMES, path=clip).split(),
                       check=True, timeout=180, stdout=subprocess.DEVNULL)
        self.sender_description = SENDER.format(path=clip, clients=clients)
        self.sender = Process('sender', [sys.executable, os.path.abspath(__file__), '--send',
                                         self.sender_description],
                              os.path.join(self.tmp, 'sender.log'))
        if not pump(10, lambda: self.sent_packets > 100 or not self.sender.alive()) or not self.sender.alive():
            raise BenchError(f'the sender sends nothing; its log:\n{self.sender.log_text()[-2000:]}')

    def stop_sender(self):
        if self.sender:
            self.sender.stop()
            self.sender = None
        if self.reference:
            self.reference.set_state(Gst.State.NULL)
            self.reference = None

    def stop_viewers(self):
        self.stopping = True
        for v in self.viewers:
            v.stop()
        pump(0.5)
        self.viewers = []
        self.stopping = False

    def window(self, pid, seconds):
        """CPU (cores) of pid, and bytes/packets per viewer, over `seconds`."""
        viewers0 = [(v.packets, v.bytes) for v in self.viewers]
        sent0 = (self.sent_packets, self.sent_bytes)
        own0 = os.times()
        switches0 = context_switches(pid)
        cpu0, t0 = proc_cpu_seconds(pid), time.monotonic()
        pump(seconds)
        cpu1, t1 = proc_cpu_seconds(pid), time.monotonic()
        switches1 = context_switches(pid)
        own1 = os.times()
        elapsed = t1 - t0
        threads, rss = proc_status(pid)
        return {
            'cores': (cpu1 - cpu0) / elapsed,
            'switches': (switches1 - switches0) / elapsed,
            'threads': threads,
            'rss_kb': rss,
            'elapsed': elapsed,
            'client_cores': (own1.user + own1.system - own0.user - own0.system) / elapsed,
            'sent_kbps': (self.sent_bytes - sent0[1]) * 8 / elapsed / 1000,
            'sent_pps': (self.sent_packets - sent0[0]) / elapsed,
            'viewer_kbps': [(v.bytes - b) * 8 / elapsed / 1000
                            for v, (_, b) in zip(self.viewers, viewers0)],
            'viewer_pps': [(v.packets - p) / elapsed for v, (p, _) in zip(self.viewers, viewers0)],
        }

    def check_viewers(self):
        for v in self.viewers:
            if v.error:
                raise BenchError(f'viewer {v.index}: {v.error}')

    def run_one(self, server, n):
        """One measurement: idle, then n viewers, on a freshly started server."""
        w = self.args.window
        server.start()
        try:
            pid = server.proc.pid
            pump(2)  # let it settle
            idle = self.window(pid, w)
            idle_names = dict(thread_names(pid))
            t_connect = time.monotonic()
            for i in range(n):
                v = server.viewer_class(self, i)
                self.viewers.append(v)
                server.connect(v)
                pump(0.05)
            timeout = 30 + n

            def all_receive():
                self.check_viewers()
                if not server.proc.alive():
                    raise BenchError(f'{server.name} exited; log:\n{server.proc.log_text()[-2000:]}')
                return all(v.packets >= 50 for v in self.viewers)
            if not pump(timeout, all_receive):
                late = [v.index for v in self.viewers if v.packets < 50]
                raise BenchError(f'{server.name}: viewers {late} received nothing within {timeout} s')
            connect_s = time.monotonic() - t_connect
            pump(2)
            busy = self.window(pid, w)
            self.check_viewers()
            starved = [i for i, pps in enumerate(busy['viewer_pps']) if pps <= 0]
            if starved:
                raise BenchError(f'{server.name}: viewers {starved} got no RTP in the measured window')
            wrong = [v.index for v in self.viewers if v.encoding != 'VP8']
            if wrong:
                raise BenchError(f'{server.name}: viewers {wrong} did not get VP8')
            profile = self.profile(server, pid, n) if self.args.perf else None
            names = thread_names(pid)
            new_threads = {k: c - idle_names.get(k, 0) for k, c in names if c - idle_names.get(k, 0) > 0}
            return {'idle': idle, 'busy': busy, 'connect_s': connect_s, 'new_threads': new_threads,
                    'profile': profile}
        finally:
            self.stop_viewers()
            server.stop()


    def profile(self, server, pid, n):
        """Where the server spends its CPU: perf samples over one more
        window (after the measured one, so perf's cost is not in it), by
        thread name and by shared object / symbol."""
        data = os.path.join(self.tmp, f'perf-{server.name}-{n}.data')
        rec = subprocess.Popen(['perf', 'record', '-q', '-F', '499', '-p', str(pid), '-o', data],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pump(self.args.window)
        rec.send_signal(signal.SIGINT)
        rec.wait(30)
        report = []
        for sort, lines in (('comm', 12), ('dso', 12), ('dso,sym', 25)):
            out = subprocess.run(['perf', 'report', '-i', data, '--stdio', '--no-children', '--sort', sort,
                                  '--percent-limit', '0.7'], capture_output=True, text=True, timeout=120).stdout
            rows = [re.sub(r'\s+', ' ', line.strip()) for line in out.splitlines()
                    if line.strip() and not line.startswith('#')]
            report.append(f'{server.name} with {n} viewers, perf by {sort}:')
            # thread names carry the element's index: add them up by kind
            if sort == 'comm':
                kinds = {}
                for row in rows:
                    pct, _, name = row.partition('% ')
                    kind = re.sub(r'\d+', 'N', name)
                    kinds[kind] = kinds.get(kind, 0.0) + float(pct)
                rows = [f'{v:5.1f}% {k}' for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])[:lines]]
            report += ['  ' + r for r in rows[:lines]]
        return report


def per_viewer(result, n):
    idle, busy = result['idle'], result['busy']
    pps = sum(busy['viewer_pps']) / len(busy['viewer_pps'])
    return {
        'cpu_ms': (busy['cores'] - idle['cores']) / n * 1000,  # ms of CPU per second per viewer
        # the sender's bitrate wanders with the machine's load: per packet
        # forwarded is the figure to compare
        'cpu_us_per_packet': (busy['cores'] - idle['cores']) * 1e6 / (n * pps),
        'pps': pps,
        'switches_per_packet': (busy['switches'] - idle['switches']) / (n * pps),
        'per_core': 1000 / ((busy['cores'] - idle['cores']) / n * 1000)
        if busy['cores'] > idle['cores'] else float('inf'),
        'threads': (busy['threads'] - idle['threads']) / n,
        'rss_kb': (busy['rss_kb'] - idle['rss_kb']) / n,
    }


def send(description):
    """The sender process: plays the clip in a loop, in real time, with
    segment seeks (running time and RTP timestamps go on across loops)."""
    Gst.init(None)
    pipe = Gst.parse_launch(description)
    loop = GLib.MainLoop()
    flags = Gst.SeekFlags.SEGMENT

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.SEGMENT_DONE:
            pipe.seek_simple(Gst.Format.TIME, flags, 0)
        elif msg.type in (Gst.MessageType.ERROR, Gst.MessageType.EOS):
            log(f'sender: {msg.type.value_nick}: {msg.parse_error() if msg.type == Gst.MessageType.ERROR else ""}')
            loop.quit()
    bus = pipe.get_bus()
    bus.add_signal_watch()
    bus.connect('message', on_message)
    pipe.set_state(Gst.State.PAUSED)
    pipe.get_state(Gst.CLOCK_TIME_NONE)
    pipe.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | flags, 0)
    pipe.set_state(Gst.State.PLAYING)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, lambda: loop.quit() or False)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, lambda: loop.quit() or False)
    loop.run()
    pipe.set_state(Gst.State.NULL)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == '--send':
        send(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--viewers', default='10,20,40', help='viewer counts, comma-separated')
    parser.add_argument('--window', type=float, default=10, help='seconds per CPU window')
    parser.add_argument('--servers', default='gst-room,janus')
    parser.add_argument('--gst-room-forms', default='auto',
                        help='how the gst-room viewers get the stream, comma-separated: live-show '
                        '(depayloaded and payloaded once, as the live-show room does: a frame is one list of '
                        'packets), rtp-hub (the sender\'s packets as they come, one by one), video-hub '
                        '(payloaded per viewer); auto: live-show and video-hub if this tree has rtp-hub')
    parser.add_argument('--perf', action='store_true',
                        help='after each measured window, profile the server with perf for one more window')
    parser.add_argument('--keep', action='store_true', help='keep the temporary directory (logs)')
    args = parser.parse_args()
    counts = [int(x) for x in args.viewers.split(',') if x]
    wanted = args.servers.split(',')
    Gst.init(None)
    if 'gst-room' in wanted and not os.access(GST_ROOM, os.X_OK):
        sys.exit(f'no {GST_ROOM}: build first (meson setup build && ninja -C build)')
    if 'janus' in wanted and not os.access(JANUS, os.X_OK):
        sys.exit('no janus: install Debian\'s janus (scripts/setup.sh)')

    tmp = tempfile.mkdtemp(prefix='gst-rooms-viewers-')
    bench = Bench(args, tmp)
    started = time.monotonic()
    servers = []
    results = {}

    def on_term(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    try:
        room_port = janus_port = fixed_udp_port()
        while janus_port == room_port:
            janus_port = fixed_udp_port()
        if 'gst-room' in wanted:
            forms = args.gst_room_forms.split(',')
            if forms == ['auto']:
                forms = ['live-show', 'video-hub'] if GstRoomServer.supports(tmp, 'rtp-hub') else ['video-hub']
            for form in forms:
                if form not in ('live-show', 'rtp-hub', 'video-hub'):
                    sys.exit(f'unknown gst-room form {form}')
                servers.append(GstRoomServer(tmp, room_port, form))
        if 'janus' in wanted:
            servers.append(JanusServer(tmp, janus_port))
        bench.start_sender([room_port, janus_port])
        log(f'sender: {bench.sender_description}')
        for n in counts:
            for server in servers:
                if time.monotonic() - started > TOTAL_BUDGET:
                    log(f'time budget spent: skipping {server.name} with {n} viewers')
                    continue
                log(f'{server.name}: {n} viewers ...')
                r = results[(server.name, n)] = bench.run_one(server, n)
                pv = per_viewer(r, n)
                kbps = r['busy']['viewer_kbps']
                log(f'  idle {r["idle"]["cores"]:.3f} cores, {r["idle"]["threads"]} threads, '
                    f'{r["idle"]["rss_kb"] / 1024:.1f} MB; with viewers {r["busy"]["cores"]:.3f} cores, '
                    f'{r["busy"]["threads"]} threads, {r["busy"]["rss_kb"] / 1024:.1f} MB; '
                    f'connected in {r["connect_s"]:.1f} s; per viewer {pv["cpu_ms"]:.2f} ms CPU/s, '
                    f'{pv["cpu_us_per_packet"]:.1f} us and {pv["switches_per_packet"]:.2f} context switches per packet; '
                    f'received {min(kbps):.0f}-{max(kbps):.0f} kbit/s per viewer, '
                    f'sent {r["busy"]["sent_kbps"]:.0f} kbit/s; this process {r["busy"]["client_cores"]:.2f} cores')
                log(f'  threads added: {r["new_threads"]}')
                for line in r['profile'] or []:
                    log(line)
    except KeyboardInterrupt:
        log('interrupted')
        raise SystemExit(130)
    except BenchError as e:
        log(f'FAILED: {e}')
        raise SystemExit(1)
    finally:
        bench.stop_viewers()
        for server in servers:
            server.stop()
        bench.stop_sender()
        if args.keep:
            log(f'logs kept in {tmp}')
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f'One RTP stream (VP8 1280x720 30 fps) fanned out to N WebRTC viewers; window {args.window:.0f} s; '
          f'{os.cpu_count()} CPUs, load average '
          f'{os.getloadavg()[0]:.1f}')
    print()
    print('| server | viewers | sent (kbit/s, pkt/s) | received per viewer (kbit/s, min-max; min % of sent) '
          '| CPU idle (cores) | CPU with viewers (cores) | CPU per viewer (ms/s) | CPU per packet per viewer (us) '
          '| viewers per core | context switches per packet per viewer | threads per viewer | RSS per viewer (kB) |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    for n in counts:
        for server in servers:
            r = results.get((server.name, n))
            if not r:
                continue
            pv = per_viewer(r, n)
            kbps = r['busy']['viewer_kbps']
            print(f'| {server.name} | {n} | {r["busy"]["sent_kbps"]:.0f}, {r["busy"]["sent_pps"]:.0f} '
                  f'| {min(kbps):.0f}-{max(kbps):.0f}; {min(kbps) / r["busy"]["sent_kbps"] * 100:.0f}% '
                  f'| {r["idle"]["cores"]:.3f} | {r["busy"]["cores"]:.3f} '
                  f'| {pv["cpu_ms"]:.2f} | {pv["cpu_us_per_packet"]:.1f} | {pv["per_core"]:.0f} | {pv["switches_per_packet"]:.2f} '
                  f'| {pv["threads"]:.1f} '
                  f'| {pv["rss_kb"]:.0f} |')
    print()
    print('| gst-room form | viewers | gst-room/janus: CPU per packet per viewer | CPU per viewer '
          '| threads per viewer | RSS per viewer |')
    print('|---|---:|---:|---:|---:|---:|')

    def ratio(x, y):
        return f'{x / y:.2f}' if y > 0 else 'n/a'
    for server in servers:
        if server.name == 'janus':
            continue
        for n in counts:
            a, b = results.get((server.name, n)), results.get(('janus', n))
            if not a or not b:
                continue
            pa, pb = per_viewer(a, n), per_viewer(b, n)
            print(f'| {server.form} | {n} | **{ratio(pa["cpu_us_per_packet"], pb["cpu_us_per_packet"])}** '
                  f'| {ratio(pa["cpu_ms"], pb["cpu_ms"])} | {ratio(pa["threads"], pb["threads"])} '
                  f'| {ratio(pa["rss_kb"], pb["rss_kb"])} |')

if __name__ == '__main__':
    main()
