// The Kurento control API (issue 13): the real kurento-client 7.3.0 drives
// gst-room the way the hello-world tutorial's server does, with Chromium as
// the tutorial's browser; and the protocol's errors, each answered on a
// connection that stays usable.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import WebSocket from 'ws';
import kurento from 'kurento-client';
import { fakeMedia, startRoom, launchBrowser, waitFor, waitForColours, near,
  scaled, tmp, stockEnv, connectKurento as connectClient, kurentoCall as call } from './lib.mjs';

const roomText = readFileSync(path.join(process.env.ROOMS_SOURCE_ROOT, 'docs/rooms/kurento.ini'),
  'utf8').replace(/^listen=.*$/m, '');
const GREEN = 0x00ff00;

// hub.createHubPort() calls back with the port itself, a thenable that
// never settles when a promise adopts it: it comes back boxed, { port }.
const createPort = (hub) => new Promise((resolve, reject) => {
  hub.createHubPort((error, port) => (error ? reject(error) : resolve({ port })));
});
const createPorts = async (hub, n) => {
  const ports = [];
  for (let i = 0; i < n; i++) ports.push((await createPort(hub)).port);
  return ports;
};

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

// A page of the room's origin that receives one video into #remote.
async function receivingPage(browser, room) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e}`));
  await page.route('**/receive', (route) => route.fulfill({ contentType: 'text/html',
    body: '<!doctype html><video id="remote" autoplay muted playsinline></video>' }));
  await page.goto(`${room.url}receive`);
  return page;
}

// The tutorials' browser side against @endpoint: an offer (receive only, or
// with the fake camera and microphone when @send), trickled candidates both
// ways, until the endpoint's media is CONNECTED.
async function negotiate(page, endpoint, { send = false } = {}) {
  const offer = await page.evaluate(async (withMedia) => {
    const pc = new RTCPeerConnection();
    window.pc = pc;
    pc.onicecandidate = (e) => { if (e.candidate) (window.localCandidates ||= []).push(e.candidate.toJSON()); };
    pc.ontrack = (e) => {
      const v = document.querySelector('#remote');
      if (!v.srcObject) v.srcObject = e.streams[0] || new MediaStream([e.track]);
    };
    if (withMedia) {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      for (const track of stream.getTracks()) pc.addTrack(track, stream);
    } else {
      pc.addTransceiver('video', { direction: 'recvonly' });
    }
    await pc.setLocalDescription(await pc.createOffer());
    return pc.localDescription.sdp;
  }, send);
  endpoint.on('IceCandidateFound', (event) => {
    const c = event.candidate;
    page.evaluate((cand) => window.pc.addIceCandidate(cand),
      { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }).catch(() => {});
  });
  const answer = await call(endpoint, 'processOffer', offer);
  await page.evaluate((sdp) => window.pc.setRemoteDescription({ type: 'answer', sdp }), answer);
  for (const c of await page.evaluate(() => window.localCandidates || [])) {
    await call(endpoint, 'addIceCandidate', kurento.getComplexType('IceCandidate')(c));
  }
  await call(endpoint, 'gatherCandidates');
  await poll(async () => (await call(endpoint, 'getMediaState')) === 'CONNECTED', 'the browser connected');
}

// A WebRtcEndpoint of @pipeline sending @page what @source sends it, as a
// tutorial's server connects a browser that only watches.
async function connectToPage(page, pipeline, source) {
  const endpoint = await call(pipeline, 'create', 'WebRtcEndpoint');
  await call(source, 'connect', endpoint);
  await negotiate(page, endpoint);
  return endpoint;
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
    const page = await receivingPage(browser, room);
    const player = await call(pipeline, 'create', 'PlayerEndpoint', { uri: `file://${file}` });
    await connectToPage(page, pipeline, player);
    let ended = false;
    player.on('EndOfStream', () => { ended = true; });
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

// Media files and pictures for the filters, made by the test into a folder
// the room allows: @seconds of 320x240 video at 5 frames a second.
function mediaFolder(name) {
  const folder = path.join(tmp, name);
  mkdirSync(folder, { recursive: true });
  const webm = ['!', 'videoconvert', '!', 'videoscale', '!',
    'video/x-raw,width=320,height=240,framerate=5/1', '!', 'vp8enc', '!', 'webmmux', '!', 'filesink'];
  const gst = (args) => execFileSync('gst-launch-1.0', ['-q', ...args], { env: stockEnv });
  const files = {
    red: path.join(folder, 'red.webm'),
    blueVideo: path.join(folder, 'blue.webm'),
    qr: path.join(folder, 'qr.webm'),
    face: path.join(folder, 'face.webm'),
    screen: path.join(folder, 'green-screen.webm'),
    blue: path.join(folder, 'blue.png'),
    magenta: path.join(folder, 'magenta.png'),
  };
  const seconds = 60;
  for (const [file, argb] of [[files.red, '0xffff0000'], [files.blueVideo, '0xff0000ff']]) {
    gst(['videotestsrc', 'pattern=solid-color', `foreground-color=${argb}`, `num-buffers=${seconds * 5}`,
      ...webm, `location=${file}`]);
  }
  const code = path.join(folder, 'code.png');
  execFileSync('qrencode', ['-s', '6', '-o', code, 'gst-rooms ZBarFilter']);
  gst(['filesrc', `location=${code}`, '!', 'pngdec', '!', 'imagefreeze', `num-buffers=${seconds * 5}`,
    ...webm, `location=${files.qr}`]);
  // Lena's face, from the OpenCV documentation Debian ships.
  gst(['filesrc', 'location=/usr/share/doc/opencv-doc/opencv4/html/faceDetection.png', '!', 'pngdec',
    '!', 'imagefreeze', `num-buffers=${seconds * 5}`, ...webm, `location=${files.face}`]);
  // A red box in front of a green screen.
  gst(['compositor', 'name=m', 'sink_1::xpos=120', 'sink_1::ypos=80', ...webm, `location=${files.screen}`,
    'videotestsrc', 'pattern=solid-color', 'foreground-color=0xff00ff00', `num-buffers=${seconds * 5}`, '!',
    'video/x-raw,width=320,height=240,framerate=5/1', '!', 'm.',
    'videotestsrc', 'pattern=solid-color', 'foreground-color=0xffff0000', `num-buffers=${seconds * 5}`, '!',
    'video/x-raw,width=80,height=80,framerate=5/1', '!', 'm.']);
  for (const [file, argb] of [[files.blue, '0xff0000ff'], [files.magenta, '0xffff00ff']]) {
    gst(['videotestsrc', 'pattern=solid-color', `foreground-color=${argb}`, 'num-buffers=1', '!',
      'video/x-raw,width=64,height=64', '!', 'pngenc', '!', 'filesink', `location=${file}`]);
  }
  return { folder, files };
}

// Points of a grid over the whole picture, for "how much of it is ...".
const GRID = [];
for (let y = 0.05; y < 1; y += 0.1) for (let x = 0.05; x < 1; x += 0.1) GRID.push([x, y]);
const grey = ([r, g, b]) => Math.max(r, g, b) - Math.min(r, g, b) < 30 && r > 40 && r < 140;

test('filters: GStreamerFilter, PassThrough, ZBarFilter, FaceOverlayFilter and ChromaFilter change what the browser decodes', async () => {
  const { folder, files } = mediaFolder('kurento-filters');
  const room = await startRoom(roomText.replace(/^player-folders=.*$/m, `player-folders=${folder}`));
  const wsUri = `ws://127.0.0.1:${room.port}/kurento`;
  let browser;
  let client;
  try {
    kurento.register('kurento-module-chroma');
    client = await connectClient(wsUri); // strict: getInfo must list chroma
    const pipeline = await call(client, 'create', 'MediaPipeline');
    const play = async (file) => {
      const player = await call(pipeline, 'create', 'PlayerEndpoint', { uri: `file://${file}` });
      await call(player, 'play');
      return player;
    };
    // The first source: red, through a PassThrough, then a GStreamerFilter
    // that takes the colour out.
    const red = await play(files.red);
    const pass = await call(pipeline, 'create', 'PassThrough');
    const balance = await call(pipeline, 'create', 'GStreamerFilter',
      { command: 'videobalance saturation=0.0' });
    await call(red, 'connect', pass);
    await call(pass, 'connect', balance);
    browser = await launchBrowser(null);
    const page = await receivingPage(browser, room);
    const endpoint = await connectToPage(page, pipeline, balance);
    await waitForColours(page, [[0.5, 0.5]], ([c]) => grey(c), 20000);
    // Straight from the PassThrough, and back: a new source replaces the
    // old one.
    await call(pass, 'connect', endpoint);
    await waitForColours(page, [[0.5, 0.5]], ([c]) => near(c, 0xff0000), 20000);
    await call(balance, 'connect', endpoint);
    await waitForColours(page, [[0.5, 0.5]], ([c]) => grey(c), 20000);
    const sources = await call(endpoint, 'getSourceConnections');
    assert.deepEqual(sources.map((s) => [s.type, s.source]).sort(),
      [['AUDIO', balance.id], ['VIDEO', balance.id]], 'the GStreamerFilter alone feeds the endpoint');
    await call(balance, 'setElementProperty', 'saturation', '1.0');
    await waitForColours(page, [[0.5, 0.5]], ([c]) => near(c, 0xff0000), 20000);

    // A QR code through a ZBarFilter: CodeFound with its text.
    const codes = [];
    const zbar = await call(pipeline, 'create', 'ZBarFilter');
    zbar.on('CodeFound', (e) => codes.push(e));
    await call((await play(files.qr)), 'connect', zbar);
    await call(zbar, 'connect', endpoint);
    await poll(() => codes.length > 0, 'CodeFound');
    assert.equal(codes[0].value, 'gst-rooms ZBarFilter');
    assert.equal(codes[0].codeType, 'QR-Code');
    assert.equal(codes[0].source, zbar.id);

    // A blue picture over Lena's face, then taken off again.
    const face = await call(pipeline, 'create', 'FaceOverlayFilter');
    await call((await play(files.face)), 'connect', face);
    await call(face, 'connect', endpoint);
    const share = (colours, test) => colours.filter(test).length / colours.length;
    const blueShare = (colours) => share(colours, (c) => near(c, 0x0000ff, 50));
    // Lena, warm and brown, and no blue yet.
    const lena = (colours) => share(colours, ([r, , b]) => r > b + 40) >= 0.3;
    await waitForColours(page, GRID, (colours) => lena(colours) && blueShare(colours) === 0, 20000);
    await assert.rejects(call(face, 'setOverlayedImage', 'file:///etc/passwd', 0, 0, 1, 1),
      (e) => e.code === 40107);
    await assert.rejects(call(face, 'setOverlayedImage', `file://${folder}/none.png`, 0, 0, 1, 1),
      (e) => e.code === 40600);
    await call(face, 'setOverlayedImage', `file://${files.blue}`, 0, 0, 1, 1);
    await waitForColours(page, GRID, (colours) => blueShare(colours) >= 0.04, 20000);
    await call(face, 'unsetOverlayedImage');
    await waitForColours(page, GRID, (colours) => lena(colours) && blueShare(colours) === 0, 20000);

    // The green screen keyed out, calibrated on the window at its corner:
    // magenta behind the red box, then black once the background is unset.
    const chroma = await call(pipeline, 'create', 'chroma.ChromaFilter', {
      window: kurento.getComplexType('chroma.WindowParam')({
        topRightCornerX: 5, topRightCornerY: 5, width: 30, height: 30 }),
    });
    await call((await play(files.screen)), 'connect', chroma);
    await call(chroma, 'connect', endpoint);
    await call(chroma, 'setBackground', `file://${files.magenta}`);
    await waitForColours(page, [[0.1, 0.1], [0.9, 0.9], [0.5, 0.5]],
      ([corner, other, middle]) => near(corner, 0xff00ff) && near(other, 0xff00ff) && near(middle, 0xff0000),
      20000);
    await call(chroma, 'unsetBackground');
    await waitForColours(page, [[0.1, 0.1], [0.5, 0.5]],
      ([corner, middle]) => near(corner, 0x000000) && near(middle, 0xff0000), 20000);
    await call(pipeline, 'release');
  } finally {
    if (client) client.close();
    if (browser) await browser.close();
    await room.stop();
  }
});

test('hubs: Composite, Dispatcher and DispatcherOneToMany with their HubPorts', async () => {
  const { folder, files } = mediaFolder('kurento-hubs');
  const room = await startRoom(roomText.replace(/^player-folders=.*$/m, `player-folders=${folder}`));
  const wsUri = `ws://127.0.0.1:${room.port}/kurento`;
  let browser;
  let client;
  try {
    client = await connectClient(wsUri);
    const pipeline = await call(client, 'create', 'MediaPipeline');
    const red = await call(pipeline, 'create', 'PlayerEndpoint', { uri: `file://${files.red}` });
    const blue = await call(pipeline, 'create', 'PlayerEndpoint', { uri: `file://${files.blueVideo}` });
    await call(red, 'play');
    await call(blue, 'play');
    const LEFT = [0.25, 0.5];
    const RIGHT = [0.75, 0.5];

    // Composite, as Kurento 7.2 sizes it: red and blue side by side, in the
    // order their ports came; a third port only watches.
    const composite = await call(pipeline, 'create', 'Composite', { width: 640, height: 240, framerate: 15 });
    const ports = await createPorts(composite, 3);
    assert.match(ports[0].id, new RegExp(`^${pipeline.id}/[0-9a-f-]{36}_kurento\\.HubPort$`));
    await call(red, 'connect', ports[0]);
    await call(blue, 'connect', ports[1]);
    browser = await launchBrowser(null);
    const page = await receivingPage(browser, room);
    const endpoint = await connectToPage(page, pipeline, ports[2]);
    await waitForColours(page, [LEFT, RIGHT], ([l, r]) => near(l, 0xff0000) && near(r, 0x0000ff), 20000);
    // The blue port goes: red alone, in the middle, black beside it.
    await call(ports[1], 'release');
    await waitForColours(page, [[0.1, 0.5], [0.5, 0.5], [0.9, 0.5]],
      ([l, m, r]) => near(l, 0x000000) && near(m, 0xff0000) && near(r, 0x000000), 20000);

    // Dispatcher: the watching port gets what connect(source, sink) routes.
    const dispatcher = await call(pipeline, 'create', 'Dispatcher');
    const [fromRed, fromBlue, viewer] = await createPorts(dispatcher, 3);
    await call(red, 'connect', fromRed);
    await call(blue, 'connect', fromBlue);
    await call(viewer, 'connect', endpoint);
    await call(dispatcher, 'connect', fromBlue, viewer);
    await waitForColours(page, [[0.5, 0.5]], ([c]) => near(c, 0x0000ff), 20000);
    await call(dispatcher, 'connect', fromRed, viewer);
    await waitForColours(page, [[0.5, 0.5]], ([c]) => near(c, 0xff0000), 20000);
    // A port of another hub is not this one's to route.
    await assert.rejects(call(dispatcher, 'connect', ports[0], viewer), (e) => e.code === 40107);

    // DispatcherOneToMany: one source for every port.
    const oneToMany = await call(pipeline, 'create', 'DispatcherOneToMany');
    const [oRed, oBlue, oViewer] = await createPorts(oneToMany, 3);
    await call(red, 'connect', oRed);
    await call(blue, 'connect', oBlue);
    await call(oViewer, 'connect', endpoint);
    await call(oneToMany, 'setSource', oBlue);
    await waitForColours(page, [[0.5, 0.5]], ([c]) => near(c, 0x0000ff), 20000);
    await call(oneToMany, 'setSource', oRed);
    await waitForColours(page, [[0.5, 0.5]], ([c]) => near(c, 0xff0000), 20000);
    await call(oneToMany, 'removeSource');
    await assert.rejects(call(oneToMany, 'setSource', endpoint), (e) => e.code === 40107);

    // Releasing a hub takes its ports with it.
    await call(dispatcher, 'release');
    await assert.rejects(call(viewer, 'getName'), (e) => e.code === 40101);
    await call(pipeline, 'release');
  } finally {
    if (client) client.close();
    if (browser) await browser.close();
    await room.stop();
  }
});

test('filters: bad commands, windows and images are refused and change nothing', async () => {
  const { folder } = mediaFolder('kurento-bad-filters');
  const room = await startRoom(roomText.replace(/^player-folders=.*$/m, `player-folders=${folder}`));
  const wsUri = `ws://127.0.0.1:${room.port}/kurento`;
  let raw;
  try {
    raw = await rawClient(wsUri);
    const created = await raw.request('create', { type: 'MediaPipeline' });
    const pipeline = created.result.value;
    const sessionId = created.result.sessionId;
    const create = (type, ctor) => raw.request('create',
      { type, constructorParams: { mediaPipeline: pipeline, ...ctor }, sessionId });
    for (const [command, why] of [
      ['filesrc location=/etc/passwd', /source or a sink/],
      ['videobalance ! filesink location=/tmp/x', /source or a sink/],
      ['videobalance ! nosuchelement', /nosuchelement/],
      ['videobalance name=a videobalance name=b', /one chain, with one unlinked input and one unlinked output/],
      ['', /gst-launch/]]) {
      const reply = await create('GStreamerFilter', { command });
      assert.equal(reply.error?.code, 40107, `${command}: ${JSON.stringify(reply)}`);
      assert.match(reply.error.message, why);
    }
    assert.equal((await create('GStreamerFilter', { command: 'videobalance', filterType: 'DATA' })).error.code,
      40107);
    for (const window of [undefined, { topRightCornerX: 5, topRightCornerY: 5, width: 0, height: 30 },
      { topRightCornerX: 'a', topRightCornerY: 5, width: 30, height: 30 }]) {
      assert.equal((await create('chroma.ChromaFilter', { window })).error?.code, 40107);
    }
    assert.equal((await create('chroma.ChromaFilter', {
      window: { topRightCornerX: 5, topRightCornerY: 5, width: 30, height: 30 },
      backgroundImage: 'http://127.0.0.1/x.png' })).error?.code, 40107);

    const filter = (await create('GStreamerFilter', { command: 'videobalance saturation=0.5' })).result.value;
    const invoke = (operation, operationParams) =>
      raw.request('invoke', { object: filter, operation, operationParams, sessionId });
    assert.equal((await invoke('setElementProperty', { propertyName: 'nothing', propertyValue: '1' })).error
      .code, 40107);
    assert.equal((await invoke('setElementProperty', { propertyName: 'saturation' })).error.code, 40107);
    assert.ok((await invoke('setElementProperty', { propertyName: 'saturation', propertyValue: '0.25' }))
      .result);
    assert.equal((await invoke('getCommand')).result.value, 'videobalance saturation=0.5');
    const face = (await create('FaceOverlayFilter', {})).result.value;
    const overlay = await raw.request('invoke', { object: face, operation: 'setOverlayedImage',
      operationParams: { uri: `file://${folder}/blue.png`, offsetXPercent: 0, offsetYPercent: 0,
        widthPercent: -1, heightPercent: 1 }, sessionId });
    assert.equal(overlay.error?.code, 40107);
    // Loops within the process are refused: an element into itself, two
    // filters into each other, a hub's port into another port of its hub.
    const pass = (await create('PassThrough', {})).result.value;
    const connect = (source, sink) => raw.request('invoke',
      { object: source, operation: 'connect', operationParams: { sink }, sessionId });
    assert.equal((await connect(pass, pass)).error?.code, 40004);
    assert.ok((await connect(pass, filter)).result);
    const loop = await connect(filter, pass);
    assert.equal(loop.error?.code, 40004);
    assert.match(loop.error.message, /loop/);
    const composite = (await create('Composite', {})).result.value;
    const port = async () => (await raw.request('create',
      { type: 'HubPort', constructorParams: { hub: composite }, sessionId })).result.value;
    const [p1, p2] = [await port(), await port()];
    assert.equal((await connect(p1, p2)).error?.code, 40004);
    assert.ok((await connect(p1, pass)).result, 'out of the hub is fine');
    assert.equal((await connect(filter, p1)).error?.code, 40004, 'p1 → pass → filter → p1');

    // Everything that was made is still there and still answers.
    assert.equal((await raw.request('invoke', { object: face, operation: 'getName', sessionId })).result.value,
      face);
    assert.equal((await raw.request('ping')).result.value, 'pong');
  } finally {
    if (raw) raw.close();
    await room.stop();
  }
});

test('transaction: operations run in order, newref names an earlier result, the first error stops it', async () => {
  const room = await startRoom(roomText);
  const wsUri = `ws://127.0.0.1:${room.port}/kurento`;
  let raw;
  let client;
  try {
    raw = await rawClient(wsUri);
    const op = (id, method, params) => ({ jsonrpc: '2.0', id, method, params });
    const pipelines = async () => (await raw.request('invoke',
      { object: 'manager_ServerManager', operation: 'getPipelines' })).result.value;

    const done = await raw.request('transaction', { operations: [
      op(0, 'create', { type: 'MediaPipeline', constructorParams: {}, properties: {} }),
      op(1, 'create', { type: 'PassThrough', constructorParams: { mediaPipeline: 'newref:0' } }),
      op(2, 'invoke', { object: 'newref:1', operation: 'getMediaPipeline' })] });
    const [p, pass, parent] = done.result.value;
    assert.deepEqual([p.id, pass.id, parent.id], [0, 1, 2]);
    assert.match(p.result.value, /_kurento\.MediaPipeline$/);
    assert.ok(pass.result.value.startsWith(`${p.result.value}/`), JSON.stringify(pass));
    assert.equal(parent.result.value, p.result.value);
    assert.deepEqual(await pipelines(), [p.result.value]);

    // Malformed: nothing runs.
    for (const operations of [[op(1, 'create', { type: 'MediaPipeline' })], [], 'x',
      [op(0, 'ping', {})], [op(0, 'transaction', { operations: [] })]]) {
      const reply = await raw.request('transaction', { operations });
      assert.equal(reply.error?.code, 40008, JSON.stringify(reply));
      assert.equal(reply.error.data.type, 'MALFORMED_TRANSACTION');
    }
    assert.equal((await pipelines()).length, 1);

    // The first error stops it: the third operation never runs.
    const stopped = await raw.request('transaction', { operations: [
      op(0, 'create', { type: 'MediaPipeline' }),
      op(1, 'create', { type: 'NoSuchElement', constructorParams: { mediaPipeline: 'newref:0' } }),
      op(2, 'create', { type: 'MediaPipeline' })] });
    assert.equal(stopped.result.value.length, 2);
    assert.equal(stopped.result.value[1].error.code, 40108);
    assert.equal((await pipelines()).length, 2);
    const forward = await raw.request('transaction', { operations: [
      op(0, 'create', { type: 'PassThrough', constructorParams: { mediaPipeline: 'newref:1' } })] });
    assert.equal(forward.result.value[0].error.code, 40008);

    // The real client's implicit transactions: requests sent together go
    // as one.
    client = await new Promise((resolve, reject) => kurento(wsUri,
      { request_timeout: scaled(20000), useImplicitTransactions: true },
      (error, c) => (error ? reject(error) : resolve(c))));
    const pipeline = await call(client, 'create', 'MediaPipeline');
    const [a, b] = await Promise.all([call(pipeline, 'create', 'PassThrough'),
      call(pipeline, 'create', 'PassThrough')]);
    await call(a, 'connect', b);
    const sinks = await call(a, 'getSinkConnections');
    assert.deepEqual(sinks.map((s) => s.sink), [b.id, b.id]);
    await call(pipeline, 'release');
  } finally {
    if (client) client.close();
    if (raw) raw.close();
    await room.stop();
  }
});

test('safety: an access token when the room file sets one, and a bounded request rate', async () => {
  const token = 'kurento-test-token-0123456789';
  const room = await startRoom(roomText.replace('[kurento]',
    `[kurento]\naccess-token=${token}\nmax-requests-per-second=20`));
  const wsUri = `ws://127.0.0.1:${room.port}/kurento`;
  let client;
  let raw;
  try {
    // Without the token, or with a wrong one, the socket is closed.
    for (const uri of [wsUri, `${wsUri}?access_token=wrong`, `${wsUri}?access_token=`]) {
      const ws = new WebSocket(uri);
      const [code, reason] = await new Promise((resolve) => ws.once('close', (c, r) => resolve([c, `${r}`])));
      assert.equal(code, 1008, uri);
      assert.match(reason, /access_token/);
      // Guesses are throttled: wait out the back-off before the next one.
      await new Promise((r) => setTimeout(r, 1200));
    }
    assert.match(room.output(), /refused a client from 127\.0\.0\.1: access_token missing or wrong/);
    // The real client sends it as ?access_token=, as Kurento's does.
    await new Promise((r) => setTimeout(r, 2500));
    client = await new Promise((resolve, reject) => kurento(wsUri,
      { request_timeout: scaled(20000), access_token: token },
      (error, c) => (error ? reject(error) : resolve(c))));
    const pipeline = await call(client, 'create', 'MediaPipeline');
    await call(pipeline, 'release');

    // A flood: beyond twice the rate at once, each request gets 40009 with
    // its own id; a second later the connection serves again.
    raw = await rawClient(`${wsUri}?access_token=${token}`);
    const replies = await Promise.all(Array.from({ length: 100 }, () => raw.request('ping')));
    const refused = replies.filter((r) => r.error);
    assert.ok(refused.length >= 50, `${refused.length} of 100 refused`);
    assert.ok(replies.length - refused.length >= 20, 'the burst allowance was served');
    for (const r of refused) {
      assert.equal(r.error.code, 40009);
      assert.match(r.error.message, /max-requests-per-second/);
    }
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await raw.request('ping')).result.value, 'pong');
  } finally {
    if (raw) raw.close();
    if (client) client.close();
    await room.stop();
  }
});

test('one-to-one and one-to-many: the tutorial calls between browsers', async () => {
  const room = await startRoom(roomText);
  const wsUri = `ws://127.0.0.1:${room.port}/kurento`;
  const browsers = [];
  let client;
  try {
    client = await connectClient(wsUri);
    const pipeline = await call(client, 'create', 'MediaPipeline');
    const open = async (media) => {
      const browser = await launchBrowser(media);
      browsers.push(browser);
      return receivingPage(browser, room);
    };
    // one2one-call: caller.connect(callee) and callee.connect(caller); each
    // browser decodes the other's camera.
    const caller = await open(fakeMedia('kurento-caller', GREEN, 600));
    const callee = await open(fakeMedia('kurento-callee', 0x0000ff, 800));
    const [callerEp, calleeEp] = [await call(pipeline, 'create', 'WebRtcEndpoint'),
      await call(pipeline, 'create', 'WebRtcEndpoint')];
    await call(callerEp, 'connect', calleeEp);
    await call(calleeEp, 'connect', callerEp);
    await negotiate(caller, callerEp, { send: true });
    await negotiate(callee, calleeEp, { send: true });
    await waitForColours(caller, [[0.5, 0.5]], ([c]) => near(c, 0x0000ff), 30000);
    await waitForColours(callee, [[0.5, 0.5]], ([c]) => near(c, GREEN), 30000);

    // one2many-call: the caller presents; each viewer is presenter.connect
    // (viewer); one viewer leaving (release) leaves the others watching.
    const viewers = [];
    for (let i = 0; i < 2; i++) {
      const page = await open(null);
      viewers.push({ page, endpoint: await connectToPage(page, pipeline, callerEp) });
    }
    for (const { page } of viewers) await waitForColours(page, [[0.5, 0.5]], ([c]) => near(c, GREEN), 30000);
    await call(viewers[0].endpoint, 'release');
    const frames = async (page) => page.evaluate(async () => {
      let n = 0;
      (await window.pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') n = s.framesDecoded;
      });
      return n;
    });
    const before = await frames(viewers[1].page);
    await poll(async () => (await frames(viewers[1].page)) > before + 10, 'the other viewer goes on');
    await waitForColours(callee, [[0.5, 0.5]], ([c]) => near(c, GREEN), 10000);
    await call(pipeline, 'release');
  } finally {
    if (client) client.close();
    for (const b of browsers) await b.close();
    await room.stop();
  }
});

// ffprobe's streams of @file, and the colour of a frame @at seconds in.
function probe(file) {
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format',
    '-of', 'json', file], { encoding: 'utf8' }));
}
function frameColour(file, at) {
  const rgb = execFileSync('ffmpeg', ['-v', 'error', '-ss', String(at), '-i', file, '-vf', 'scale=1:1',
    '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-']);
  return [...rgb.subarray(0, 3)];
}

test('recorder: the browser camera recorded as WebM and MP4, then played back, as the recorder tutorial does', async () => {
  const folder = path.join(tmp, 'kurento-recordings');
  mkdirSync(folder, { recursive: true });
  const room = await startRoom(roomText.replace(/^player-folders=.*$/m,
    `player-folders=${folder}\nrecorder-folders=${folder}`));
  const wsUri = `ws://127.0.0.1:${room.port}/kurento`;
  const browsers = [];
  let client;
  try {
    client = await connectClient(wsUri);
    const pipeline = await call(client, 'create', 'MediaPipeline');
    // Only file: URIs in an allowed, existing folder; only profiles we make.
    for (const params of [{ uri: 'file:///tmp/escape.webm' }, { uri: `file://${folder}/no/such/dir.webm` },
      { uri: 'http://127.0.0.1/x.webm' }, { uri: `file://${folder}/x.mkv`, mediaProfile: 'MKV' }]) {
      await assert.rejects(call(pipeline, 'create', 'RecorderEndpoint', params),
        (e) => e.code === 40107, JSON.stringify(params));
    }
    const camera = await launchBrowser(fakeMedia('kurento-recorded', GREEN, 500));
    browsers.push(camera);
    const page = await receivingPage(camera, room);
    const webRtc = await call(pipeline, 'create', 'WebRtcEndpoint');
    const files = { webm: path.join(folder, 'recorder_demo.webm'), mp4: path.join(folder, 'recorder_demo.mp4') };
    const webm = await call(pipeline, 'create', 'RecorderEndpoint', { uri: `file://${files.webm}` });
    const mp4 = await call(pipeline, 'create', 'RecorderEndpoint',
      { uri: `file://${files.mp4}`, mediaProfile: 'MP4' });
    const events = [];
    for (const [name, rec] of [['webm', webm], ['mp4', mp4]]) {
      for (const type of ['Recording', 'Stopped']) rec.on(type, () => events.push(`${name} ${type}`));
    }
    // The tutorial: client.connect(webRtc, webRtc, recorder), then record().
    await call(webRtc, 'connect', webRtc);
    await call(webRtc, 'connect', webm);
    await call(webRtc, 'connect', mp4);
    await negotiate(page, webRtc, { send: true });
    await waitForColours(page, [[0.5, 0.5]], ([c]) => near(c, GREEN), 30000);
    await call(webm, 'stop'); // before record: nothing to finish
    const webm2 = await call(pipeline, 'create', 'RecorderEndpoint', { uri: `file://${files.webm}` });
    webm2.on('Recording', () => events.push('webm Recording'));
    webm2.on('Stopped', () => events.push('webm Stopped'));
    await call(webRtc, 'connect', webm2);
    await call(webm2, 'record');
    await call(mp4, 'record');
    assert.equal(await call(webm2, 'getState'), 'START');
    await new Promise((r) => setTimeout(r, scaled(4000)));
    await call(webm2, 'stopAndWait');
    await call(mp4, 'stopAndWait');
    await poll(() => events.includes('webm Stopped') && events.includes('mp4 Stopped'), 'Stopped');
    assert.ok(events.includes('webm Recording') && events.includes('mp4 Recording'), events.join());
    await assert.rejects(call(webm2, 'record'), (e) => e.code === 40107, 'a stopped recorder stays stopped');

    for (const [format, codecs] of [['webm', ['opus', 'vp8']], ['mp4', ['h264', 'opus']]]) {
      const info = probe(files[format]);
      assert.deepEqual(info.streams.map((s) => s.codec_name).sort(), codecs, format);
      const duration = Number(info.format.duration);
      assert.ok(duration >= 2.5 && duration < 15, `${format} lasts ${duration} s`);
      assert.ok(near(frameColour(files[format], 1.5), GREEN), `${format} shows the green camera`);
      // A seek into the middle starts decoding at a keyframe: no error.
      const seek = spawnSync('ffmpeg', ['-v', 'error', '-ss', String(duration / 2), '-i', files[format],
        '-frames:v', '5', '-f', 'null', '-'], { encoding: 'utf8' });
      assert.ok(seek.status === 0 && seek.stderr === '', `${format}: seek to ${duration / 2} s: ${seek.stderr}`);
    }

    // Played back into a second browser, to its end.
    const viewer = await launchBrowser(null);
    browsers.push(viewer);
    const watch = await receivingPage(viewer, room);
    const player = await call(pipeline, 'create', 'PlayerEndpoint', { uri: `file://${files.webm}` });
    let ended = false;
    player.on('EndOfStream', () => { ended = true; });
    await connectToPage(watch, pipeline, player);
    await call(player, 'play');
    await waitForColours(watch, [[0.5, 0.5]], ([c]) => near(c, GREEN), 20000);
    await poll(() => ended, 'EndOfStream', 20000);
    await call(pipeline, 'release');
  } finally {
    if (client) client.close();
    for (const b of browsers) await b.close();
    await room.stop();
  }
});

// A fake camera for the tutorials that film the user: a @picture (PNG), or
// the frames of a gst-launch fragment @launch that ends in "!".
function pictureCamera(name, picture, launch) {
  const video = path.join(tmp, `${name}.y4m`);
  const caps = 'video/x-raw,width=320,height=240,framerate=15/1,format=I420';
  const args = picture
    ? ['filesrc', `location=${picture}`, '!', 'pngdec', '!', 'imagefreeze', 'num-buffers=30', '!',
      'videoconvert', '!', 'videoscale', '!', caps, '!', 'y4menc', '!', 'filesink', `location=${video}`]
    : [...launch, 'videoconvert', 'name=out', '!', caps, '!', 'y4menc', '!', 'filesink', `location=${video}`];
  execFileSync('gst-launch-1.0', ['-q', ...args], { env: stockEnv });
  return { video, audio: fakeMedia(`${name}-mic`, 0, 440, { volume: 0 }).audio };
}

test('magic mirror, ZBar and chroma: the tutorial filters between the browser camera and itself', async () => {
  const { folder, files } = mediaFolder('kurento-camera-filters');
  const room = await startRoom(roomText.replace(/^player-folders=.*$/m, `player-folders=${folder}`));
  const wsUri = `ws://127.0.0.1:${room.port}/kurento`;
  const browsers = [];
  let client;
  try {
    kurento.register('kurento-module-chroma');
    client = await connectClient(wsUri);
    const pipeline = await call(client, 'create', 'MediaPipeline');
    // Each tutorial: webRtc.connect(filter), filter.connect(webRtc).
    const mirror = async (camera, filter) => {
      const browser = await launchBrowser(camera);
      browsers.push(browser);
      const page = await receivingPage(browser, room);
      const webRtc = await call(pipeline, 'create', 'WebRtcEndpoint');
      await call(webRtc, 'connect', filter);
      await call(filter, 'connect', webRtc);
      await negotiate(page, webRtc, { send: true });
      return page;
    };
    const share = (colours, test) => colours.filter(test).length / colours.length;

    // magic-mirror: a picture over the face in front of the camera.
    const face = await call(pipeline, 'create', 'FaceOverlayFilter');
    await call(face, 'setOverlayedImage', `file://${files.blue}`, -0.1, -0.1, 1.2, 1.2);
    const lena = await mirror(pictureCamera('kurento-face-camera',
      '/usr/share/doc/opencv-doc/opencv4/html/faceDetection.png'), face);
    await waitForColours(lena, GRID, (colours) => share(colours, (c) => near(c, 0x0000ff, 50)) >= 0.04
      && share(colours, ([r, , b]) => r > b + 40) >= 0.2, 30000);

    // ZBar: a QR code held up to the camera.
    const codes = [];
    const zbar = await call(pipeline, 'create', 'ZBarFilter');
    zbar.on('CodeFound', (e) => codes.push(e.value));
    await mirror(pictureCamera('kurento-qr-camera', path.join(folder, 'code.png')), zbar);
    await poll(() => codes.length > 0, 'CodeFound', 30000);
    assert.equal(codes[0], 'gst-rooms ZBarFilter');

    // chroma: the green screen behind the user replaced by a picture.
    const chroma = await call(pipeline, 'create', 'chroma.ChromaFilter', {
      window: kurento.getComplexType('chroma.WindowParam')({
        topRightCornerX: 5, topRightCornerY: 5, width: 30, height: 30 }),
      backgroundImage: `file://${files.magenta}`,
    });
    const screen = await mirror(pictureCamera('kurento-green-screen-camera', null, [
      'videotestsrc', 'pattern=solid-color', 'foreground-color=0xff00ff00', 'num-buffers=30', '!',
      'video/x-raw,width=320,height=240,framerate=15/1', '!', 'm.',
      'videotestsrc', 'pattern=solid-color', 'foreground-color=0xffff0000', 'num-buffers=30', '!',
      'video/x-raw,width=80,height=80,framerate=15/1', '!', 'm.',
      'compositor', 'name=m', 'sink_1::xpos=120', 'sink_1::ypos=80', '!']), chroma);
    await waitForColours(screen, [[0.1, 0.1], [0.5, 0.5]],
      ([corner, middle]) => near(corner, 0xff00ff) && near(middle, 0xff0000), 30000);
    await call(pipeline, 'release');
  } finally {
    if (client) client.close();
    for (const b of browsers) await b.close();
    await room.stop();
  }
});
