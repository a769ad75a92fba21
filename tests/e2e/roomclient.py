#!/usr/bin/python3
"""A light gst-room participant for churn, soak and fault tests: GStreamer's
webrtcbin and libsoup 3's WebSocket, no browser.

It joins a room with a role, answers the server's offer with a real webrtcbin
(a presenter sends a small VP8 test picture and an Opus tone; what it receives
goes to fakesinks) or, in a role the room's fan-out serves, offers to receive
and takes the answer, and leaves in one of the ways a person does:

  --leave message   sends {"type":"leave"} (the page's Leave button), then closes
  --leave close     closes the WebSocket (a tab closed: FIN)
  --leave hold      never leaves: stays until killed (the test kills it with -9,
                    or SIGSTOPs it: a frozen client, no FIN)

--noise makes a presenter's picture half moving noise (a program made from
it fills its encoder's bitrate: the quality-ladder test), --local-ip the
address its ICE uses when the room is not on loopback.

It prints one JSON object a line on stdout, for the test driving it:
  {"event":"welcome","peer":N}, {"event":"connected","peer":N} (webrtcbin
  connected), {"event":"left","peer":N}, {"event":"show",...} (the operator's
  state messages, with --print-show), {"event":"error",...}, {"event":"done"}.

--cycles N repeats join, connect, hold, leave N times in this one process.
Every wait is bounded (--timeout); the exit status is 0 when every cycle
connected and left as asked, 1 otherwise.
"""
import argparse
import json
import signal
import sys
import time

import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstWebRTC', '1.0')
gi.require_version('GstSdp', '1.0')
gi.require_version('Soup', '3.0')
from gi.repository import GLib, Gst, GstSdp, GstWebRTC, Soup  # noqa: E402


def emit(event, **fields):
    print(json.dumps({'event': event, **fields}), flush=True)


class Client:
    """One join: a webrtcbin pipeline and a WebSocket."""

    def __init__(self, app, on_done):
        self.app = app
        self.args = app.args
        self.on_done = on_done
        self.peer = None
        self.ws = None
        self.connected = False
        self.finished = False
        self.send_media = []
        self.pipe = None
        self.webrtc = None
        self.ice = None
        self.timer = GLib.timeout_add(int(self.args.timeout * 1000), self.on_timeout)
        url = self.args.url.rstrip('/')
        ws_url = url.replace('http://', 'ws://', 1).replace('https://', 'wss://', 1) + '/ws'
        msg = Soup.Message.new('GET', ws_url)
        # The room's own pages send their origin; so does this client.
        app.session.websocket_connect_async(msg, url, None, GLib.PRIORITY_DEFAULT, None,
                                            self.on_ws, None)

    def build(self, send_kinds):
        a = self.args
        desc = 'webrtcbin name=webrtc bundle-policy=max-bundle '
        if 'video' in send_kinds and a.noise:
            # the colour below, moving noise above: what a room encodes from
            # it costs its encoders their whole bitrate
            desc += (f'videotestsrc is-live=true pattern=solid-color foreground-color={a.colour} '
                     '! video/x-raw,format=I420,width=320,height=240,framerate=15/1 '
                     '! compositor name=mix ! video/x-raw,format=I420 '
                     '! vp8enc deadline=1 cpu-used=16 end-usage=cbr target-bitrate=600000 '
                     'keyframe-max-dist=30 ! rtpvp8pay pt=96 '
                     '! application/x-rtp,media=video,encoding-name=VP8,payload=96 ! webrtc. '
                     'videotestsrc is-live=true pattern=snow '
                     '! video/x-raw,format=I420,width=320,height=120,framerate=15/1 ! mix. ')
        elif 'video' in send_kinds:
            desc += (f'videotestsrc is-live=true pattern=solid-color foreground-color={a.colour} '
                     '! video/x-raw,format=I420,width=160,height=120,framerate=10/1 '
                     '! vp8enc deadline=1 cpu-used=16 end-usage=cbr target-bitrate=100000 '
                     'keyframe-max-dist=30 ! rtpvp8pay pt=96 '
                     '! application/x-rtp,media=video,encoding-name=VP8,payload=96 ! webrtc. ')
        if 'audio' in send_kinds:
            desc += ('audiotestsrc is-live=true wave=sine freq=600 samplesperbuffer=960 '
                     '! audio/x-raw,rate=48000,channels=1 ! opusenc bitrate=16000 '
                     '! rtpopuspay pt=111 ! application/x-rtp,media=audio,encoding-name=OPUS,'
                     'payload=111,encoding-params=(string)2 ! webrtc. ')
        self.pipe = Gst.parse_launch(desc)
        if not isinstance(self.pipe, Gst.Pipeline):  # a lone webrtcbin
            element, self.pipe = self.pipe, Gst.Pipeline.new(None)
            self.pipe.add(element)
        self.webrtc = self.pipe.get_by_name('webrtc')
        # Held for the client's life (PyGObject drops one reference too many
        # on a temporary GstObject from a property).
        self.ice = self.webrtc.get_property('ice-agent')
        self.ice.emit('add-local-ip-address', self.args.local_ip)
        self.webrtc.connect('on-ice-candidate', self.on_ice_candidate)
        self.webrtc.connect('pad-added', self.on_pad_added)
        self.webrtc.connect('notify::connection-state', self.on_state)
        self.pipe.set_state(Gst.State.PLAYING)

    def on_ws(self, session, result, _):
        try:
            self.ws = session.websocket_connect_finish(result)
        except GLib.Error as e:
            self.fail(f'cannot connect: {e.message}')
            return
        self.ws.set_max_incoming_payload_size(0)
        self.ws.connect('message', self.on_message)
        self.ws.connect('closed', self.on_closed)
        join = {'type': 'join', 'role': self.args.role, 'name': self.args.name}
        if self.args.token:
            join['token'] = self.args.token
        self.send(join)

    def send(self, m):
        if self.ws and self.ws.get_state() == Soup.WebsocketState.OPEN:
            self.ws.send_text(json.dumps(m))

    def on_message(self, ws, kind, data):
        m = json.loads(data.get_data().decode())
        t = m.get('type')
        if t == 'welcome':
            self.peer = m['peer']
            emit('welcome', peer=self.peer, port=m.get('port'))
            self.send_media = m.get('send') or []
            self.build(self.send_media)
            if m.get('browserOffers'):
                self.offer_to_watch(m.get('receive') or [])
        elif t == 'offer' and self.webrtc:
            _, sdp = GstSdp.SDPMessage.new_from_text(m['sdp'])
            offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, sdp)
            self.webrtc.emit('set-remote-description', offer, None)
            promise = Gst.Promise.new_with_change_func(self.on_answer, None)
            self.webrtc.emit('create-answer', None, promise)
        elif t == 'answer' and self.webrtc:
            _, sdp = GstSdp.SDPMessage.new_from_text(m['sdp'])
            answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
            self.webrtc.emit('set-remote-description', answer, None)
        elif t == 'candidate' and self.webrtc:
            if m.get('candidate'):
                self.webrtc.emit('add-ice-candidate', m['sdpMLineIndex'], m['candidate'])
        elif t == 'ping':
            # the server drops a peer that stops answering (a frozen page)
            self.send({'type': 'pong'})
        elif t == 'show':
            if self.args.print_show:
                emit('show', state=m)
        elif t == 'left':
            emit('left', peer=self.peer)
            self.ws.close(Soup.WebsocketCloseCode.NORMAL, None)
        elif t == 'error':
            emit('error', peer=self.peer, code=m.get('code'), message=m.get('message'),
                 request=m.get('request'))
            if m.get('request') == 'join' or m.get('code') == 'peer-failed':
                self.fail(f"{m.get('code')}: {m.get('message')}")

    def offer_to_watch(self, kinds):
        # a role served by the room's fan-out: we offer to receive, it answers
        caps = {'audio': 'application/x-rtp,media=audio,encoding-name=OPUS,payload=111,'
                         'clock-rate=48000,encoding-params=(string)2',
                'video': 'application/x-rtp,media=video,encoding-name=VP8,payload=96,'
                         'clock-rate=90000'}
        for kind in ('audio', 'video'):
            if kind in kinds:
                self.webrtc.emit('add-transceiver',
                                 GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY,
                                 Gst.Caps.from_string(caps[kind]))
        promise = Gst.Promise.new_with_change_func(self.on_offer, None)
        self.webrtc.emit('create-offer', None, promise)

    def on_offer(self, promise, _):
        reply = promise.get_reply()
        offer = reply.get_value('offer') if reply and reply.has_field('offer') else None
        if offer is None:
            GLib.idle_add(lambda: self.fail('webrtcbin made no offer') and False)
            return
        self.webrtc.emit('set-local-description', offer, None)
        text = offer.sdp.as_text()
        GLib.idle_add(lambda: self.send({'type': 'offer', 'sdp': text}) and False)

    def on_answer(self, promise, _):
        reply = promise.get_reply()
        answer = reply.get_value('answer') if reply and reply.has_field('answer') else None
        if answer is None:
            GLib.idle_add(lambda: self.fail('webrtcbin made no answer') and False)
            return
        self.webrtc.emit('set-local-description', answer, None)
        text = answer.sdp.as_text()
        GLib.idle_add(lambda: self.send({'type': 'answer', 'sdp': text}) and False)

    def on_ice_candidate(self, _, mline, candidate):
        GLib.idle_add(lambda: self.send({'type': 'candidate', 'sdpMLineIndex': mline,
                                         'candidate': candidate}) and False)

    def on_state(self, *_):
        state = self.webrtc.get_property('connection-state')
        if state == GstWebRTC.WebRTCPeerConnectionState.CONNECTED:
            GLib.idle_add(self.on_connected)

    def on_connected(self):
        if self.connected or self.finished:
            return False
        self.connected = True
        emit('connected', peer=self.peer)
        if self.args.leave != 'hold':
            GLib.timeout_add(int(self.args.hold * 1000), self.leave)
        return False

    def leave(self):
        if self.finished:
            return False
        if self.args.leave == 'message':
            self.send({'type': 'leave'})  # the 'left' reply closes the socket
        else:
            self.ws.close(Soup.WebsocketCloseCode.GOING_AWAY, None)
        return False

    def on_pad_added(self, _, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        sink = Gst.ElementFactory.make('fakesink')
        sink.set_property('sync', False)
        sink.set_property('async', False)
        self.pipe.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad('sink'))

    def on_closed(self, ws):
        if self.args.leave == 'hold':
            self.fail(f'the server closed the connection ({ws.get_close_code()})')
        elif self.connected:
            self.finish(True)
        else:
            self.fail(f'closed before connecting ({ws.get_close_code()})')

    def on_timeout(self):
        self.timer = 0
        self.fail('timed out' + (' (connected)' if self.connected else ' before connecting'))
        return False

    def fail(self, why):
        if not self.finished:
            emit('error', peer=self.peer, code='client', message=why)
        self.finish(False)
        return False

    def finish(self, ok):
        if self.finished:
            return
        self.finished = True
        if self.timer:
            GLib.source_remove(self.timer)
            self.timer = 0
        if self.pipe:
            self.pipe.set_state(Gst.State.NULL)
        self.ice = None
        if self.ws and self.ws.get_state() == Soup.WebsocketState.OPEN:
            self.ws.close(Soup.WebsocketCloseCode.GOING_AWAY, None)
        self.on_done(self, ok)


class App:
    def __init__(self, args):
        self.args = args
        self.session = Soup.Session()
        self.loop = GLib.MainLoop()
        self.left = args.cycles
        self.failures = 0
        self.client = None
        if args.leave == 'hold':
            args.timeout = max(args.timeout, 24 * 3600)  # until killed

    def next(self):
        if self.left == 0:
            self.loop.quit()
            return False
        self.left -= 1
        self.client = Client(self, self.done)
        return False

    def done(self, client, ok):
        if ok:
            emit('done', peer=client.peer)
        else:
            self.failures += 1
        GLib.idle_add(self.next)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--url', required=True, help='the room, http://HOST:PORT/')
    p.add_argument('--role', default='viewer')
    p.add_argument('--token', default='')
    p.add_argument('--name', default='')
    p.add_argument('--leave', choices=['message', 'close', 'hold'], default='message')
    p.add_argument('--hold', type=float, default=0.5, help='seconds connected before leaving')
    p.add_argument('--cycles', type=int, default=1)
    p.add_argument('--timeout', type=float, default=30, help='seconds a cycle may take')
    p.add_argument('--colour', default='0xffc04020', help='a presenter\'s picture, 0xAARRGGBB')
    p.add_argument('--noise', action='store_true',
                   help='a presenter\'s picture: the colour below, moving noise above')
    p.add_argument('--local-ip', default='127.0.0.1',
                   help='the address ICE gathers on (a room listening beyond loopback)')
    p.add_argument('--print-show', action='store_true', help='print the operator\'s show messages')
    args = p.parse_args()
    Gst.init(None)
    app = App(args)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, lambda: app.loop.quit() or False)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, lambda: app.loop.quit() or False)
    GLib.idle_add(app.next)
    app.loop.run()
    if app.client and not app.client.finished and app.client.pipe:
        app.client.pipe.set_state(Gst.State.NULL)
    sys.exit(1 if app.failures else 0)


if __name__ == '__main__':
    main()
