// The Kurento control API (issue 13): the real kurento-client 7.3.0 drives
// gst-room the way the hello-world tutorial's server does, with Chromium as
// the tutorial's browser; and the protocol's errors, each answered on a
// connection that stays usable.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import WebSocket from 'ws';
import kurento from 'kurento-client';
import { fakeMedia, startRoom, launchBrowser, waitFor, waitForColours, near,
  scaled, tmp, stockEnv } from './lib.mjs';

const roomText = readFileSync(path.join(process.env.ROOMS_SOURCE_ROOT, 'docs/rooms/kurento.ini'),
  'utf8').replace(/^listen=.*$/m, '');
const GREEN = 0x00ff00;

// kurento-client, callback style as the tutorials use it.
function connectClient(wsUri) {
  return new Promise((resolve, reject) => {
    kurento(wsUri, { request_timeout: scaled(20000) }, (error, client) =>
      (error ? reject(error) : resolve(client)));
  });
}
const call = (object, method, ...args) => new Promise((resolve, reject) => {
  object[method](...args, (error, result) => (error ? reject(error) : resolve(result)));
});

async function poll(check, what, timeout = 20000) {
  const deadline = Date.now() + scaled(timeout);
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// A raw JSON-RPC connection: send a frame, get the reply with that id (or
// the next reply with id null).
async function rawClient(wsUri) {
  const ws = new WebSocket(wsUri);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const replies = [];
  ws.on('message', (data) => replies.push(JSON.parse(data.toString())));
  let nextId = 100;
  const next = async (match) => {
    await poll(() => replies.some(match), 'a reply');
    return replies.splice(replies.findIndex(match), 1)[0];
  };
  return {
    ws,
    async request(method, params) {
      const id = nextId++;
      const message = { jsonrpc: '2.0', id, method };
      if (params !== undefined) message.params = params;
      ws.send(JSON.stringify(message));
      return next((r) => r.id === id);
    },
    async frame(text) {
      ws.send(text);
      return next((r) => r.id === null);
    },
    close() { ws.close(); },
  };
}

test('hello-world: a WebRtcEndpoint connected to itself sends the browser its own camera', async () => {
  const camera = fakeMedia('kurento-green', GREEN, 700);
  const room = await startRoom(roomText);
  const wsUri = `ws://127.0.0.1:${room.port}/kurento`;
  let browser;
  let client;
  try {
    browser = await launchBrowser(camera);
    // A page of http://127.0.0.1 (about:blank has no navigator.mediaDevices)
    // holding only the video.
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.log(`page error: ${e}`));
    await page.route('**/hello-world', (route) => route.fulfill({ contentType: 'text/html',
      body: '<!doctype html><video id="remote" autoplay muted playsinline></video>' }));
    await page.goto(`${room.url}hello-world`);
    // The tutorial's browser side: an offer, and the candidates it finds.
    const offer = await page.evaluate(async () => {
      const pc = new RTCPeerConnection();
      window.pc = pc;
      window.localCandidates = [];
      pc.onicecandidate = (e) => { if (e.candidate) window.localCandidates.push(e.candidate.toJSON()); };
      pc.ontrack = (e) => {
        const v = document.querySelector('#remote');
        if (!v.srcObject) v.srcObject = e.streams[0] || new MediaStream([e.track]);
      };
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      for (const t of stream.getTracks()) pc.addTrack(t, stream);
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise((resolve) => {
        if (pc.iceGatheringState === 'complete') resolve();
        pc.addEventListener('icegatheringstatechange', () => {
          if (pc.iceGatheringState === 'complete') resolve();
        });
      });
      return pc.localDescription.sdp;
    });
    const browserCandidates = await page.evaluate(() => window.localCandidates);
    assert.ok(browserCandidates.length > 0, 'the browser found candidates');

    // The tutorial's application server, on the real client.
    client = await connectClient(wsUri); // strict mode: describe + getInfo
    const pipeline = await call(client, 'create', 'MediaPipeline');
    assert.match(pipeline.id, /^[0-9a-f-]{36}_kurento\.MediaPipeline$/);
    const endpoint = await call(pipeline, 'create', 'WebRtcEndpoint');
    assert.ok(endpoint.id.startsWith(`${pipeline.id}/`), endpoint.id);
    assert.match(endpoint.id, /\/[0-9a-f-]{36}_kurento\.WebRtcEndpoint$/);
    // Candidates the browser sent before the endpoint existed, queued by
    // the application and flushed before the offer.
    for (const c of browserCandidates) {
      await call(endpoint, 'addIceCandidate', kurento.getComplexType('IceCandidate')(c));
    }
    const states = [];
    endpoint.on('MediaStateChanged', (e) => states.push(e.newState));
    let gatheringDone = false;
    endpoint.on('IceGatheringDone', () => { gatheringDone = true; });
    endpoint.on('IceCandidateFound', (event) => {
      const c = event.candidate;
      page.evaluate((cand) => window.pc.addIceCandidate(cand),
        { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex })
        .catch((e) => console.log(`addIceCandidate in the browser: ${e}`));
    });
    await call(endpoint, 'connect', endpoint);
    const answer = await call(endpoint, 'processOffer', offer);
    assert.match(answer, /^v=0/);
    assert.match(answer, /VP8\/90000/);
    await page.evaluate((sdp) => window.pc.setRemoteDescription({ type: 'answer', sdp }), answer);
    await call(endpoint, 'gatherCandidates');

    // The browser decodes its own green camera, looped back by the server.
    await waitForColours(page, [[0.5, 0.5]], ([c]) => near(c, GREEN), 30000);
    await waitFor(page, async () => {
      const stats = await window.pc.getStats();
      let frames = 0;
      stats.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') frames = s.framesDecoded; });
      return frames > 10;
    }, null, 30000);
    await poll(() => states.includes('CONNECTED'), 'MediaStateChanged CONNECTED');
    assert.ok(gatheringDone, 'IceGatheringDone came');
    assert.equal(await call(endpoint, 'getMediaState'), 'CONNECTED');
    const sinks = await call(endpoint, 'getSinkConnections');
    assert.deepEqual(sinks.map((s) => s.type).sort(), ['AUDIO', 'VIDEO']);

    // Releasing the pipeline releases the endpoint with it.
    await call(pipeline, 'release');
    await assert.rejects(call(endpoint, 'getMediaState'), (e) => e.code === 40101);
    await assert.rejects(call(pipeline, 'create', 'WebRtcEndpoint'), (e) => e.code === 40101);
  } finally {
    if (client) client.close();
    if (browser) await browser.close();
    await room.stop();
  }
});

test('errors: malformed and unknown requests get their error, the connection goes on', async () => {
  const room = await startRoom(roomText);
  const wsUri = `ws://127.0.0.1:${room.port}/kurento`;
  let raw;
  let other;
  try {
    raw = await rawClient(wsUri);
    assert.deepEqual((await raw.request('ping', { interval: 5000 })).result, { value: 'pong' });

    const parse = await raw.frame('{"jsonrpc":"2.0","method":');
    assert.equal(parse.error.code, -32700);
    assert.equal(parse.jsonrpc, '2.0');
    const invalid = await raw.frame('{"jsonrpc":"1.0","id":7,"method":"ping"}');
    assert.equal(invalid.error.code, -32600);
    assert.equal((await raw.frame('[1,2,3]')).error.code, -32600);
    // Hostile frames: nested a hundred thousand deep, and too big.
    const deep = `{"jsonrpc":"2.0","id":9,"method":"ping","params":{"x":${'['.repeat(100000)}${']'.repeat(100000)}}}`;
    assert.equal((await raw.frame(deep)).error.code, -32600);
    assert.equal((await raw.frame(`"${'x'.repeat(300000)}"`)).error.code, -32600);
    assert.equal((await raw.request('noSuchMethod', {})).error.code, -32601);
    assert.equal((await raw.request('create')).error.code, -32602);

    const unknown = await raw.request('create', { type: 'NoSuchElement', properties: {} });
    assert.equal(unknown.error.code, 40108);
    assert.equal(unknown.error.data.type, 'MEDIA_OBJECT_NOT_AVAILABLE');
    assert.match(unknown.error.message, /Factory 'NoSuchElement' not found/);

    // A released object is gone for every method but unsubscribe.
    const created = await raw.request('create', { type: 'MediaPipeline', properties: {} });
    const pipeline = created.result.value;
    const session = created.result.sessionId;
    assert.match(session, /^[0-9a-f-]{36}$/);
    const token = (await raw.request('subscribe', { object: pipeline, type: 'Error', sessionId: session }))
      .result.value;
    const badEvent = await raw.request('subscribe', { object: pipeline, type: 'EndOfStream', sessionId: session });
    assert.equal(badEvent.error.code, 40106);
    assert.deepEqual((await raw.request('release', { object: pipeline, sessionId: session })).result,
      { sessionId: session });
    for (const [method, params] of [['describe', { object: pipeline }],
      ['invoke', { object: pipeline, operation: 'getName' }],
      ['release', { object: pipeline }],
      ['create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline } }]]) {
      const reply = await raw.request(method, { ...params, sessionId: session });
      assert.equal(reply.error?.code, 40101, `${method} on a released object: ${JSON.stringify(reply)}`);
      assert.equal(reply.error.data.type, 'MEDIA_OBJECT_NOT_FOUND');
    }
    assert.ok((await raw.request('unsubscribe', { object: pipeline, subscription: token, sessionId: session }))
      .result, 'unsubscribe of a released object succeeds');
    assert.ok((await raw.request('unsubscribe', { object: 'nothing', subscription: 'nothing' })).result);

    // Objects of one session are invisible to another.
    const mine = (await raw.request('create', { type: 'MediaPipeline', sessionId: session })).result.value;
    other = await rawClient(wsUri);
    const theirs = await other.request('describe', { object: mine });
    assert.equal(theirs.error.code, 40101);

    // Reconnecting: a new socket resumes the session and finds its objects.
    raw.close();
    raw = await rawClient(wsUri);
    assert.equal((await raw.request('connect', { sessionId: 'no-such-session' })).error.code, 40007);
    await poll(async () => {
      const r = await raw.request('connect', { sessionId: session });
      return r.result && r.result.sessionId === session && r.result.serverId;
    }, 'connect to resume the session');
    const described = await raw.request('describe', { object: mine, sessionId: session });
    assert.equal(described.result.qualifiedType, 'kurento.MediaPipeline');

    // Still usable, and the real client still connects (strict mode).
    assert.equal((await raw.request('ping')).result.value, 'pong');
    const client = await connectClient(wsUri);
    const p = await call(client, 'create', 'MediaPipeline');
    await call(p, 'release');
    client.close();
  } finally {
    if (raw) raw.close();
    if (other) other.close();
    await room.stop();
  }
});

test('player: a file of an allowed folder plays into a WebRtcEndpoint, then EndOfStream', async () => {
  const folder = path.join(tmp, 'kurento-media');
  mkdirSync(folder, { recursive: true });
  const file = path.join(folder, 'red.webm');
  // Three seconds of red.
  execFileSync('gst-launch-1.0', ['-q', 'videotestsrc', 'pattern=solid-color', 'foreground-color=0xffff0000',
    'num-buffers=45', '!', 'video/x-raw,width=320,height=240,framerate=15/1', '!', 'vp8enc', '!',
    'webmmux', '!', 'filesink', `location=${file}`], { env: stockEnv });
  const room = await startRoom(roomText.replace(/^player-folders=.*$/m, `player-folders=${folder}`));
  const wsUri = `ws://127.0.0.1:${room.port}/kurento`;
  let browser;
  let client;
  try {
    client = await connectClient(wsUri);
    const pipeline = await call(client, 'create', 'MediaPipeline');
    // Only the allowed folder, and only files that exist.
    await assert.rejects(call(pipeline, 'create', 'PlayerEndpoint', { uri: 'file:///etc/passwd' }),
      (e) => e.code === 40107);
    await assert.rejects(call(pipeline, 'create', 'PlayerEndpoint', { uri: `file://${folder}/none.webm` }),
      (e) => e.code === 40600);
    await assert.rejects(call(pipeline, 'create', 'PlayerEndpoint', { uri: 'http://127.0.0.1/x.webm' }),
      (e) => e.code === 40107);

    browser = await launchBrowser(null);
    const page = await browser.newPage();
    await page.route('**/player', (route) => route.fulfill({ contentType: 'text/html',
      body: '<!doctype html><video id="remote" autoplay muted playsinline></video>' }));
    await page.goto(`${room.url}player`);
    const offer = await page.evaluate(async () => {
      const pc = new RTCPeerConnection();
      window.pc = pc;
      pc.onicecandidate = (e) => { if (e.candidate) (window.localCandidates ||= []).push(e.candidate.toJSON()); };
      pc.ontrack = (e) => { document.querySelector('#remote').srcObject = e.streams[0] || new MediaStream([e.track]); };
      pc.addTransceiver('video', { direction: 'recvonly' });
      await pc.setLocalDescription(await pc.createOffer());
      return pc.localDescription.sdp;
    });
    const player = await call(pipeline, 'create', 'PlayerEndpoint', { uri: `file://${file}` });
    const endpoint = await call(pipeline, 'create', 'WebRtcEndpoint');
    endpoint.on('IceCandidateFound', (event) => {
      const c = event.candidate;
      page.evaluate((cand) => window.pc.addIceCandidate(cand),
        { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }).catch(() => {});
    });
    let ended = false;
    player.on('EndOfStream', () => { ended = true; });
    await call(player, 'connect', endpoint);
    const answer = await call(endpoint, 'processOffer', offer);
    await page.evaluate((sdp) => window.pc.setRemoteDescription({ type: 'answer', sdp }), answer);
    for (const c of await page.evaluate(() => window.localCandidates || [])) {
      await call(endpoint, 'addIceCandidate', kurento.getComplexType('IceCandidate')(c));
    }
    await call(endpoint, 'gatherCandidates');
    await poll(async () => (await call(endpoint, 'getMediaState')) === 'CONNECTED', 'the browser connected');
    await call(player, 'play');
    await waitForColours(page, [[0.5, 0.5]], ([c]) => near(c, 0xff0000), 20000);
    await poll(() => ended, 'EndOfStream', 20000);
    assert.equal(await call(player, 'getState'), 'STOP');
    await call(pipeline, 'release');
  } finally {
    if (client) client.close();
    if (browser) await browser.close();
    await room.stop();
  }
});
