// What a careless or hostile client does to a live show, over the signalling
// channel and raw TCP (issue 10): each case crashed, stalled or leaked before.
// Light clients (the `ws` package) stand in for browsers; the browser tests
// press the pages' own buttons.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { startRoom, tmp, gstEnv, stockEnv, gstRoomPath as gstRoom, scaled, checkSanitizers } from './lib.mjs';

const run = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const source = process.env.ROOMS_SOURCE_ROOT;

const videos = path.join(tmp, 'videos');
mkdirSync(videos, { recursive: true });

// The live show, small, with [room] limits for the case at hand.
function showRoom(roomKeys = '') {
  return readFileSync(path.join(source, 'docs/rooms/live-show.ini'), 'utf8')
    .replace(/^listen=.*$/m, '')
    .replace(/width=1280 height=720/g, 'width=320 height=180')
    .replace(/width=640,height=360/, 'width=160,height=90')
    .replace(/^inject-folders=.*$/m, `inject-folders=${videos}`)
    .replace('[room]', `[room]\n${roomKeys}`);
}

// A signalling client: every message kept, waits by predicate.
class Client {
  constructor(url, headers) {
    this.messages = [];
    this.closed = null;
    this.frozen = false; // a frozen page answers no pings
    this.ws = new WebSocket(url, { headers });
    this.ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.type === 'ping' && !this.frozen) this.send({ type: 'pong' });
      this.messages.push(m);
    });
    this.ws.on('close', (code, reason) => { this.closed = { code, reason: reason.toString() }; });
    this.opened = new Promise((resolve, reject) => {
      this.ws.on('open', resolve);
      this.ws.on('error', reject);
      this.ws.on('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }
  static async open(room, headers) {
    const c = new Client(`ws://127.0.0.1:${room.port}/ws`, headers);
    await c.opened;
    return c;
  }
  send(m) { this.ws.send(typeof m === 'string' ? m : JSON.stringify(m)); }
  async waitFor(pred, what, timeout = 10000) {
    const deadline = Date.now() + scaled(timeout);
    for (;;) {
      const m = this.messages.find(pred);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`no ${what} in ${JSON.stringify(this.messages).slice(-600)}`);
      await sleep(50);
    }
  }
  lastShow() { return [...this.messages].reverse().find((m) => m.type === 'show'); }
  close() { this.ws.terminate(); }
}

function alive(room) { return room.proc.exitCode === null && room.proc.signalCode === null; }
function fds(pid) { return readdirSync(`/proc/${pid}/fd`).length; }
function threads(pid) { return readdirSync(`/proc/${pid}/task`).length; }

async function operator(room) {
  const op = await Client.open(room);
  op.send({ type: 'join', role: 'operator', token: 'console-secret' });
  await op.waitFor((m) => m.type === 'welcome', 'operator welcome');
  return op;
}

async function httpGet(port, file) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: file, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

test('Leave and a failed peer in a live show never crash it (item 1)', async () => {
  const room = await startRoom(showRoom('join-timeout=2'));
  try {
    let op = await operator(room);
    // This console never answers its offer either: it is only here to watch.
    op.messages.length = 0;
    for (let i = 0; i < 40; i++) {
      const v = await Client.open(room);
      v.send({ type: 'join', role: 'viewer' });
      await v.waitFor((m) => m.type === 'welcome', 'viewer welcome');
      v.send({ type: 'leave' });
      await v.waitFor((m) => m.type === 'left', 'left');
      v.close();
    }
    // A presenter's Leave re-lays out the stage and tells the console.
    const p = await Client.open(room);
    p.send({ type: 'join', role: 'presenter', token: 'stage-secret', name: 'Ann' });
    await p.waitFor((m) => m.type === 'welcome', 'presenter welcome');
    op = await operator(room);
    await op.waitFor((m) => m.type === 'show' && m.presenters.length === 1, 'presenter on the console');
    p.send({ type: 'leave' });
    await p.waitFor((m) => m.type === 'left', 'left');
    await op.waitFor((m) => m.type === 'show' && m.presenters.length === 0, 'presenter gone');
    // The failure path: joins that never answer time out and are dropped
    // (the console's own among them), while the show tells the others.
    const silent = await Client.open(room);
    silent.send({ type: 'join', role: 'viewer' });
    const timeout = await silent.waitFor((m) => m.code === 'join-timeout', 'join-timeout', 6000);
    // (a viewer is served by the fan-out: it is the one to offer)
    assert.match(timeout.message, /no offer from the browser within 2 s/);
    await sleep(300);
    op = await operator(room);
    const state = await op.waitFor((m) => m.type === 'show', 'show state');
    assert.equal(state.viewers, 0, 'the timed-out viewer is gone');
    assert.ok(alive(room), `gst-room is alive: ${room.output().slice(-500)}`);
  } finally {
    assert.equal((await room.stop()).code, 0, room.output().slice(-800));
  }
});

test('names are cut by characters and cleaned; JSON never aborts (item 2)', async () => {
  const room = await startRoom(showRoom());
  try {
    const op = await operator(room);
    const names = ['a'.repeat(39) + 'é', '漢'.repeat(14), '漢'.repeat(60), 'Bob\u202eevil\u0007'];
    const expected = ['a'.repeat(39) + 'é', '漢'.repeat(14), '漢'.repeat(40), 'Bobevil'];
    for (let i = 0; i < names.length; i++) {
      const p = await Client.open(room);
      p.send({ type: 'join', role: 'presenter', token: 'stage-secret', name: names[i] });
      const welcome = await p.waitFor((m) => m.type === 'welcome', 'welcome');
      assert.equal(welcome.name, expected[i]);
      const show = await op.waitFor((m) => m.type === 'show'
        && m.presenters.some((x) => x.peer === welcome.peer), 'presenter listed');
      assert.equal(show.presenters.find((x) => x.peer === welcome.peer).name, expected[i]);
      p.send({ type: 'leave' });
      await p.waitFor((m) => m.type === 'left', 'left');
      p.close();
    }
    // Invalid UTF-8 in a text frame breaks the WebSocket protocol: that
    // connection is closed (1007), nothing else changes.
    const raw = await Client.open(room);
    raw.ws.send(Buffer.from([0x7b, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
      { binary: false });
    for (let i = 0; i < 50 && !raw.closed; i++) await sleep(100);
    assert.equal(raw.closed && raw.closed.code, 1007, JSON.stringify(raw.messages));
    assert.ok(alive(room));
    assert.ok(op.closed === null, 'the console stays connected');
  } finally {
    await room.stop();
  }
});

test('half-open joins time out, are capped, and give back their files (item 3)', async () => {
  const room = await startRoom(showRoom('join-timeout=3\nmax-pending-joins-per-address=3'));
  try {
    const pid = room.proc.pid;
    await sleep(500);
    const baseFds = fds(pid);
    const baseThreads = threads(pid);
    const clients = [];
    for (let i = 0; i < 3; i++) {
      const c = await Client.open(room);
      c.send({ type: 'join', role: 'viewer' });
      await c.waitFor((m) => m.type === 'welcome', 'welcome');
      clients.push(c);
    }
    const fourth = await Client.open(room);
    fourth.send({ type: 'join', role: 'viewer' });
    const refused = await fourth.waitFor((m) => m.type === 'error', 'refusal');
    assert.equal(refused.code, 'join-refused');
    assert.match(refused.message, /too many joins .* from this address/);
    for (const c of clients) await c.waitFor((m) => m.code === 'join-timeout', 'join-timeout', 8000);
    await sleep(1000);
    // And then the address may join again.
    fourth.messages.length = 0;
    fourth.send({ type: 'join', role: 'viewer' });
    await fourth.waitFor((m) => m.type === 'welcome', 'welcome after the timeouts');
    fourth.send({ type: 'leave' });
    await fourth.waitFor((m) => m.type === 'left', 'left');
    for (const c of [...clients, fourth]) c.close();
    await sleep(1500);
    assert.ok(fds(pid) <= baseFds + 2, `files back to ${baseFds}: ${fds(pid)}`);
    assert.ok(threads(pid) <= baseThreads + 2, `threads back to ${baseThreads}: ${threads(pid)}`);
    assert.match(room.output(), /room for about \d+ peers/);
  } finally {
    await room.stop();
  }
});

test('running out of files or connections never stops the listener (item 4)', async () => {
  // 200 files: the connections below exhaust them.
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
  const file = path.join(tmp, 'emfile.ini');
  writeFileSync(file, showRoom(`listen=127.0.0.1:${port}\nidle-timeout=2\nmax-connections=1000`));
  const { spawn } = await import('node:child_process');
  const proc = spawn('prlimit', ['--nofile=200:200', gstRoom, file], { env: gstEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  try {
    for (let i = 0; i < 100 && !output.includes('is open at'); i++) await sleep(100);
    assert.match(output, /is open at/);
    const sockets = [];
    for (let i = 0; i < 300; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      sockets.push(s);
    }
    await sleep(1000);
    for (const s of sockets) s.destroy();
    await sleep(1000);
    const page = await httpGet(port, '/index.html');
    assert.equal(page.status, 200, 'pages are served after EMFILE');
    // Idle connections are closed by the server after idle-timeout.
    const idle = net.connect(port, '127.0.0.1');
    const closedAt = await new Promise((resolve) => {
      const t0 = Date.now();
      idle.on('close', () => resolve(Date.now() - t0));
      idle.on('error', () => {});
      setTimeout(() => resolve(null), 8000);
    });
    assert.ok(closedAt !== null && closedAt < 5000, `an idle connection is closed: ${closedAt} ms`);
    assert.equal(proc.exitCode, null, output.slice(-500));
  } finally {
    proc.kill('SIGINT');
    await new Promise((r) => { if (proc.exitCode !== null) r(); else proc.on('exit', r); });
    checkSanitizers(output);
  }
  // max-connections: beyond it connections are closed at once, the others work.
  const room = await startRoom(showRoom('max-connections=20'));
  try {
    const many = [];
    for (let i = 0; i < 30; i++) {
      const s = net.connect(room.port, '127.0.0.1');
      s.on('error', () => {});
      many.push(s);
    }
    await sleep(800);
    assert.match(room.output(), /refused a connection: already 20 \(max-connections\)/);
    for (const s of many) s.destroy();
    await sleep(500);
    assert.equal((await httpGet(room.port, '/')).status, 200);
  } finally {
    await room.stop();
  }
});

test('a frozen presenter loses its slot (item 5)', async () => {
  const room = await startRoom(showRoom('ping-timeout=3\nidle-timeout=2'));
  try {
    const op = await operator(room);
    const p = await Client.open(room);
    p.send({ type: 'join', role: 'presenter', token: 'stage-secret', name: 'Frozen' });
    await p.waitFor((m) => m.type === 'welcome', 'welcome');
    await op.waitFor((m) => m.type === 'show' && m.presenters.length === 1, 'presenter listed');
    // The operator answers pings, the presenter does not (a frozen page).
    p.frozen = true;
    op.messages.length = 0;
    const t0 = Date.now();
    await op.waitFor((m) => m.type === 'show' && m.presenters.length === 0, 'presenter dropped', 10000);
    assert.ok(Date.now() - t0 < 6000, `dropped after ${Date.now() - t0} ms`);
    await p.waitFor((m) => m.code === 'timeout', 'the timeout error');
    assert.ok(op.closed === null, 'the operator, who answers, stays');
  } finally {
    await room.stop();
  }
});

test('WebSockets from other origins are refused (item 6)', async () => {
  const room = await startRoom(showRoom('allowed-origins=https://show.example'));
  try {
    await assert.rejects(Client.open(room, { Origin: 'http://evil.example' }), /HTTP 403/);
    await assert.rejects(Client.open(room, { Origin: `http://rebound.example:${room.port}` }), /HTTP 403/);
    const own = await Client.open(room, { Origin: `http://127.0.0.1:${room.port}` });
    own.close();
    const listed = await Client.open(room, { Origin: 'https://show.example' });
    listed.close();
    assert.match(room.output(), /refused a WebSocket from a page of http:\/\/evil.example/);
  } finally {
    await room.stop();
  }
  // Placeholder tokens never leave loopback; missing ones are made up.
  const file = path.join(tmp, 'wide.ini');
  writeFileSync(file, showRoom('listen=0.0.0.0:0'));
  const wide = await run(gstRoom, ['--check', file], { env: gstEnv }).catch((e) => e);
  assert.equal(wide.code, 2);
  assert.match(wide.stderr, /token: a placeholder/);
  const noTokens = showRoom().replace(/^token=.*$/mg, '');
  const room2 = await startRoom(noTokens);
  try {
    const token = room2.output().match(/operator: \S+token=([0-9a-f]{32})/);
    assert.ok(token, room2.output());
    const c = await Client.open(room2);
    c.send({ type: 'join', role: 'operator' });
    assert.equal((await c.waitFor((m) => m.type === 'error', 'refusal')).code, 'forbidden');
    await sleep(400);
    c.messages.length = 0;
    c.send({ type: 'join', role: 'operator', token: token[1] });
    await c.waitFor((m) => m.type === 'welcome', 'welcome with the printed token');
  } finally {
    await room2.stop();
  }
});

test('token guessing backs off and is logged (item 7)', async () => {
  const room = await startRoom(showRoom());
  try {
    const c = await Client.open(room);
    const codes = [];
    for (let i = 0; i < 6; i++) {
      c.messages.length = 0;
      c.send({ type: 'join', role: 'operator', token: `guess-${i}` });
      codes.push((await c.waitFor((m) => m.type === 'error', 'refusal')).code);
    }
    assert.equal(codes[0], 'forbidden');
    assert.ok(codes.slice(1).includes('rate-limited'), codes.join(','));
    assert.match(room.output(), /wrong token for role 'operator' from 127\.0\.0\.1/);
    // Even the right token waits out the back-off, then works.
    await sleep(1200);
    c.messages.length = 0;
    c.send({ type: 'join', role: 'operator', token: 'console-secret' });
    await c.waitFor((m) => m.type === 'welcome', 'welcome after the back-off');
  } finally {
    await room.stop();
  }
});

test('an injected playlist cannot reach outside its folder or scheme (item 8)', async () => {
  // A fake edge counts what the server fetches.
  let fetched = 0;
  const web = http.createServer((req, res) => { fetched++; res.end('x'); });
  await new Promise((r) => web.listen(0, '127.0.0.1', r));
  const outside = path.join(tmp, 'outside');
  mkdirSync(outside, { recursive: true });
  await run('gst-launch-1.0', ['-q', 'videotestsrc', 'num-buffers=30', '!', 'vp8enc', '!', 'webmmux', '!',
    'filesink', `location=${path.join(outside, 'secret.webm')}`], { env: stockEnv });
  writeFileSync(path.join(videos, 'evil.m3u8'), ['#EXTM3U', '#EXT-X-TARGETDURATION:2',
    '#EXTINF:2,', `http://127.0.0.1:${web.address().port}/seg.ts`,
    '#EXTINF:2,', `file://${path.join(outside, 'secret.webm')}`, '#EXT-X-ENDLIST', ''].join('\n'));
  symlinkSync(path.join(outside, 'secret.webm'), path.join(videos, 'link.webm'));
  const room = await startRoom(showRoom());
  try {
    const op = await operator(room);
    op.send({ type: 'inject', uri: `file://${path.join(videos, 'evil.m3u8')}` });
    const failed = await op.waitFor((m) => m.code === 'inject-failed', 'inject-failed', 10000);
    assert.match(failed.message, /playlists/);
    await sleep(1500);
    assert.equal(fetched, 0, 'the server fetched nothing over http');
    const answers = [];
    for (const uri of [`file://${path.join(outside, 'secret.webm')}`, `file://${path.join(outside, 'none.webm')}`,
      `file://${path.join(videos, 'link.webm')}`, `file://${videos}/../outside/secret.webm`]) {
      op.messages.length = 0;
      op.send({ type: 'inject', uri });
      answers.push((await op.waitFor((m) => m.code === 'inject-refused', 'refusal')).message);
    }
    assert.equal(new Set(answers).size, 1, `one answer whether the file exists: ${answers}`);
    assert.ok(alive(room));
  } finally {
    web.close();
    await room.stop();
  }
});

test('room files: bad UTF-8, duplicates and hubs of one name are errors (items 9, 16)', async () => {
  const check = async (text) => {
    const file = path.join(tmp, `check-${Math.random()}.ini`);
    writeFileSync(file, text);
    return run(gstRoom, ['--check', file], { env: gstEnv }).catch((e) => e);
  };
  const base = '[room]\ntitle=t\n\n[pipeline a]\nlaunch=dispatcher name=d ! fakesink\n\n[role r]\nhub=d\n';
  const utf8 = await check(Buffer.concat([Buffer.from(base + 'token=geheim'), Buffer.from([0xe9, 0x0a])]));
  assert.equal(utf8.code, 2);
  assert.match(utf8.stderr, /:9: not valid UTF-8/);
  const group = await check(base + '\n[role r]\nsend=none\n');
  assert.equal(group.code, 2);
  assert.match(group.stderr, /:10: group \[role r\] appears twice \(first on line 7\)/);
  const key = await check(base + 'hub=d\n');
  assert.match(key.stderr, /key 'hub' of \[role r\] appears twice/);
  const hubs = await check(base + '\n[pipeline b]\nlaunch=dispatcher name=d ! fakesink\n');
  assert.equal(hubs.code, 2);
  assert.match(hubs.stderr, /a hub named 'd' is in \[pipeline a\] already/);
  const wide = await check(base.replace('title=t', 'title=t\nlisten=0.0.0.0:8080'));
  assert.equal(wide.code ?? 0, 0, wide.stderr);
  assert.match(wide.stderr, /warning: listening on 0\.0\.0\.0, beyond loopback/);
});

test('the web folder serves no link out of it (item 10)', async () => {
  const web = path.join(tmp, 'web');
  mkdirSync(web, { recursive: true });
  for (const f of readdirSync(path.join(source, 'tools/gst-room/web'))) {
    copyFileSync(path.join(source, 'tools/gst-room/web', f), path.join(web, f));
  }
  writeFileSync(path.join(tmp, 'private.txt'), 'private');
  symlinkSync(path.join(tmp, 'private.txt'), path.join(web, 'leak.txt'));
  const room = await startRoom(showRoom(), { extraArgs: ['--web-dir', web] });
  try {
    assert.equal((await httpGet(room.port, '/index.html')).status, 200);
    assert.equal((await httpGet(room.port, '/leak.txt')).status, 404);
  } finally {
    await room.stop();
  }
});

test('an empty or non-string SDP answer is an error reply, no critical (item 16)', async () => {
  const room = await startRoom(showRoom());
  try {
    const p = await Client.open(room);
    p.send({ type: 'join', role: 'presenter', token: 'stage-secret', name: 'Ann' });
    await p.waitFor((m) => m.type === 'offer', 'offer');
    for (const sdp of ['', 5, null, 'v=0']) {
      p.messages.length = 0;
      p.send({ type: 'answer', sdp });
      assert.equal((await p.waitFor((m) => m.type === 'error', 'error')).code, 'bad-sdp');
    }
    // A viewer offers (the fan-out answers): the same for its offer, and an
    // answer from it is refused.
    const v = await Client.open(room);
    v.send({ type: 'join', role: 'viewer' });
    await v.waitFor((m) => m.type === 'welcome' && m.browserOffers, 'welcome');
    for (const sdp of ['', 5, null]) {
      v.messages.length = 0;
      v.send({ type: 'offer', sdp });
      assert.equal((await v.waitFor((m) => m.type === 'error', 'error')).code, 'bad-sdp');
    }
    v.messages.length = 0;
    v.send({ type: 'answer', sdp: 'v=0' });
    assert.equal((await v.waitFor((m) => m.type === 'error', 'error')).code, 'bad-sdp');
    // an offer that is no SDP: refused with the reason, the viewer let go
    v.messages.length = 0;
    v.send({ type: 'offer', sdp: 'v=0' });
    const refused = await v.waitFor((m) => m.type === 'error', 'error');
    assert.equal(refused.code, 'peer-failed');
    assert.match(refused.message, /offer was refused/);
    await sleep(300);
    assert.doesNotMatch(room.output(), /CRITICAL/);
  } finally {
    await room.stop();
  }
});
