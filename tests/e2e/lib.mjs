// gst-rooms end-to-end helpers: a real gst-room on loopback, real Debian
// chromium (playwright-core) with fake camera and microphone files made here.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';

const buildRoot = process.env.ROOMS_BUILD_ROOT;
if (!buildRoot) throw new Error('ROOMS_BUILD_ROOT is not set: run through meson test');

export const tmp = mkdtempSync(path.join(tmpdir(), 'gst-rooms-e2e-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

// Under ASan/UBSan (build-asan) gst-room runs about 3x slower: every wait for
// something the server does is scaled by ROOMS_E2E_TIME_SCALE (set by
// tests/meson.build there).  Bounds the server promises (a join timeout, a
// dropped presenter) are not scaled: its own timers run in real time.
export const timeScale = Number(process.env.ROOMS_E2E_TIME_SCALE || 1);
export const scaled = (ms) => Math.round(ms * timeScale);

// A sanitizer report in gst-room's output: it must fail the test even when
// the server lived on (UBSan) or the test only stops it.
const sanitizerReport = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer/;
export function checkSanitizers(output, what = 'gst-room') {
  const m = sanitizerReport.exec(output);
  if (m) throw new Error(`${what}: sanitizer report:\n${output.slice(Math.max(0, m.index - 200), m.index + 4000)}`);
}

export const gstRoomPath = path.join(buildRoot, 'tools/gst-room/gst-room');
// gst-room and our own clients: our plugins, no leaks tracer.
export const gstEnv = { ...process.env, GST_PLUGIN_PATH: path.join(buildRoot, 'plugins'),
                        GST_TRACERS: '', GST_DEBUG: process.env.ROOMS_E2E_GST_DEBUG || '*:1' };
// Debian's own tools (gst-launch-1.0 making the fake camera): stock plugins
// only, with a registry of their own, as an uninstrumented process cannot load
// our plugins when build-asan built them.
export const stockEnv = { ...process.env, GST_PLUGIN_PATH: '', GST_TRACERS: '', GST_DEBUG: '*:1',
                   GST_REGISTRY: path.join(tmp, 'stock-registry.dat') };
delete stockEnv.GST_REGISTRY_FORK;

// A solid-colour .y4m camera (rgb as 0xRRGGBB) and a sine microphone .wav
// (volume 0: a silent microphone).
export function fakeMedia(name, rgb, freq, { volume = 0.5 } = {}) {
  const video = path.join(tmp, `${name}.y4m`);
  const audio = path.join(tmp, `${name}.wav`);
  const argb = '0xff' + rgb.toString(16).padStart(6, '0');
  execFileSync('gst-launch-1.0', ['-q', 'videotestsrc', 'pattern=solid-color',
    `foreground-color=${argb}`, 'num-buffers=30', '!',
    'video/x-raw,width=320,height=240,framerate=15/1,format=I420', '!', 'y4menc', '!',
    'filesink', `location=${video}`], { env: stockEnv });
  execFileSync('gst-launch-1.0', ['-q', 'audiotestsrc', 'wave=sine', `freq=${freq}`,
    `volume=${volume}`, 'num-buffers=200', '!', 'audio/x-raw,rate=48000,channels=1,format=S16LE',
    '!', 'wavenc', '!', 'filesink', `location=${audio}`], { env: stockEnv });
  return { video, audio, rgb, freq };
}

export async function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

// Starts gst-room with a room file whose [room] group gets our listen address
// (on @host: loopback unless a test has an address of its own, as the
// shaped-viewer test has its veth's).
export async function startRoom(roomText, { extraArgs = [], host = '127.0.0.1' } = {}) {
  const port = await freePort(host);
  const file = path.join(tmp, `room-${port}.ini`);
  writeFileSync(file, roomText.replace('[room]', `[room]\nlisten=${host}:${port}`));
  const proc = spawn(gstRoomPath, [...extraArgs, file],
    { env: gstEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + scaled(15000);
  while (!output.includes('is open at')) {
    if (proc.exitCode !== null) throw new Error(`gst-room exited: ${output}`);
    if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`gst-room did not open: ${output}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `http://${host}:${port}/`,
    port,
    output: () => output,
    proc,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGINT');
      const timer = setTimeout(() => proc.kill('SIGKILL'), scaled(10000));
      const result = await exited;
      clearTimeout(timer);
      checkSanitizers(output);
      return result;
    },
  };
}

// One chromium per presenter: the fake capture files are per browser.
// @executablePath: another way to start it (netns.mjs's, inside a network
// namespace).
export async function launchBrowser(media, extraArgs = [],
  { executablePath = '/usr/bin/chromium' } = {}) {
  const args = [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
    // loopback ICE: allow 127.0.0.1 candidates and don't hide them behind mDNS
    '--allow-loopback-in-peer-connection',
    '--disable-features=WebRtcHideLocalIpsWithMdns',
    ...extraArgs,
  ];
  if (media) {
    args.push(`--use-file-for-fake-video-capture=${media.video}`,
              `--use-file-for-fake-audio-capture=${media.audio}`);
  }
  return chromium.launch({ executablePath, args });
}

export async function openPage(browser, url) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e}`));
  await page.goto(url);
  return page;
}

export async function waitFor(page, fn, arg, timeout = 20000) {
  return page.waitForFunction(fn, arg, { timeout: scaled(timeout), polling: 200 });
}

// Until the page's peer connection decodes video @width pixels wide (getStats).
export async function waitForVideoWidth(page, width, timeout = 20000) {
  return waitFor(page, async (wanted) => {
    let got = 0;
    (await window.room.pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') got = s.frameWidth || 0;
    });
    return got === wanted;
  }, width, timeout);
}

// Colours of the remote video at fractional points [[x, y], ...], as [r, g, b].
export async function sampleVideo(page, points, selector = '#remote') {
  return page.evaluate(([sel, pts]) => {
    const v = document.querySelector(sel);
    if (!v || v.videoWidth === 0) return null;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0);
    return pts.map(([x, y]) => Array.from(
      g.getImageData(Math.floor(x * c.width), Math.floor(y * c.height), 1, 1).data.slice(0, 3)));
  }, [selector, points]);
}

// Polls until check(colours) is true; returns the last colours.
export async function waitForColours(page, points, check, timeout = 20000) {
  const deadline = Date.now() + scaled(timeout);
  let last = null;
  while (Date.now() < deadline) {
    last = await sampleVideo(page, points);
    if (last && check(last)) return last;
    await page.waitForTimeout(250);
  }
  throw new Error(`colours never matched; last ${JSON.stringify(last)}`);
}

export function near(rgb, target, tolerance = 60) {
  const t = [(target >> 16) & 255, (target >> 8) & 255, target & 255];
  return rgb.every((v, i) => Math.abs(v - t[i]) <= tolerance);
}

// Energy of the remote audio around each frequency (dB, relative), measured
// with WebAudio over about a second.
export async function audioLevels(page, freqs, selector = '#remote') {
  return page.evaluate(async ([sel, fs]) => {
    const v = document.querySelector(sel);
    const ctx = new AudioContext();
    const src = ctx.createMediaStreamSource(v.srcObject);
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 4096;
    src.connect(analyser);
    const bins = new Float32Array(analyser.frequencyBinCount);
    const sums = fs.map(() => 0);
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 100));
      analyser.getFloatFrequencyData(bins);
      fs.forEach((f, k) => {
        const bin = Math.round(f / (ctx.sampleRate / analyser.fftSize));
        sums[k] += Math.max(bins[bin - 1], bins[bin], bins[bin + 1]);
      });
    }
    await ctx.close();
    return sums.map((s) => s / 10);
  }, [selector, freqs]);
}

// audioLevels until @check(levels) holds, @tries times at most (a second
// each): the first second a page plays may still be silence on a loaded
// machine.  Returns the last levels.
export async function waitForAudioLevels(page, freqs, check, tries = 5) {
  let levels = null;
  for (let i = 0; i < tries && !(levels && check(levels)); i++) levels = await audioLevels(page, freqs);
  return levels;
}

// ---- Churn, soak and fault helpers -------------------------------------
import { readFileSync as readFileSync_, readdirSync as readdirSync_ } from 'node:fs';

// What the kernel says of a process: resident memory (KiB), threads, open
// file descriptors; null once it is gone (or a zombie).
export function procStats(pid) {
  try {
    const status = readFileSync_(`/proc/${pid}/status`, 'utf8');
    if (/^State:\s+Z/m.test(status)) return null;
    const field = (name) => Number((status.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm')) || [])[1]);
    return { rss: field('VmRSS'), threads: field('Threads'), fds: readdirSync_(`/proc/${pid}/fd`).length };
  } catch {
    return null;
  }
}

// Every process a churn or fault test starts, so that all of them end, also
// when the test fails half-way (stopped ones included: SIGKILL ends those too).
const children = new Set();
export function track(pid) { if (pid) children.add(pid); return pid; }
export function killTracked() {
  for (const pid of children) {
    for (const target of [-pid, pid]) {
      try { process.kill(target, 'SIGKILL'); } catch { /* gone already */ }
    }
  }
  children.clear();
}
process.on('exit', killTracked);

// A light participant in its own process (tests/e2e/roomclient.py: webrtcbin
// and a WebSocket, no browser), in its own process group so a test can
// kill -9 or SIGSTOP it.  Its JSON lines arrive as events.  It needs stock
// elements only (stockEnv), so it runs beside an instrumented gst-room too.
export function spawnRoomClient(url, args = []) {
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'roomclient.py');
  const proc = spawn('/usr/bin/python3', [script, '--url', url, ...args], {
    env: stockEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  track(proc.pid);
  const events = [];
  const waiters = [];
  let stderr = '';
  let buffered = '';
  proc.stdout.on('data', (d) => {
    buffered += d;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let e;
      try { e = JSON.parse(line); } catch { continue; }
      events.push(e);
      for (const w of [...waiters]) {
        if (w.check(e)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(e); }
      }
    }
  });
  proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
    children.delete(proc.pid);
    for (const w of waiters.splice(0)) {
      w.reject(new Error(`client exited (${code ?? signal}) waiting for ${w.what}; `
        + `events ${JSON.stringify(events.slice(-5))}; stderr ${stderr}`));
    }
    resolve({ code, signal });
  }));
  return {
    proc, pid: proc.pid, events, exited, stderr: () => stderr,
    // The first event matching @what (an event name or a predicate).
    waitEvent(what, timeout = 20000) {
      const check = typeof what === 'function' ? what : (e) => e.event === what;
      const seen = events.find(check);
      if (seen) return Promise.resolve(seen);
      if (proc.exitCode !== null || proc.signalCode !== null) {
        return Promise.reject(new Error(`client ${proc.pid} has exited; events ${JSON.stringify(events.slice(-5))}; stderr ${stderr}`));
      }
      return new Promise((resolve, reject) => {
        const w = { check, what: String(what), resolve, reject };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            reject(new Error(`no ${w.what} from client ${proc.pid} within ${timeout} ms; `
              + `events ${JSON.stringify(events.slice(-5))}; stderr ${stderr}`));
          }
        }, timeout);
      });
    },
    signal(sig) { try { process.kill(-proc.pid, sig); } catch { /* gone */ } },
  };
}

// A signalling-only client (no media stack): joins, takes the offer and
// optionally answers it with a well-formed SDP whose ICE never connects (the
// server links the peer to its hubs on an answer), then leaves by `leave`:
// 'message' {"type":"leave"} (the page's button), 'close' a clean close (a
// tab closed), 'destroy' the socket torn down at once (a process killed).
// Resolves to the peer id.
export async function lightCycle(url, { role = 'viewer', token = '', answer = false,
  leave = 'message', timeout = 10000 } = {}) {
  const { default: WebSocket } = await import('ws');
  const origin = url.replace(/\/$/, '');
  const ws = new WebSocket(`${origin.replace(/^http/, 'ws')}/ws`, { origin });
  const got = [];
  let wake = null;
  ws.on('message', (data) => { got.push(JSON.parse(String(data))); if (wake) wake(); });
  const closed = new Promise((r) => ws.on('close', r));
  ws.on('error', () => {});
  const until = async (check, what) => {
    const deadline = Date.now() + timeout;
    for (;;) {
      const m = got.find(check);
      if (m) return m;
      if (ws.readyState > 1) throw new Error(`connection closed waiting for ${what}: ${JSON.stringify(got)}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeout} ms: ${JSON.stringify(got)}`);
      await new Promise((r) => { wake = r; setTimeout(r, 200); });
    }
  };
  try {
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    ws.send(JSON.stringify({ type: 'join', role, token, name: `churn-${role}` }));
    const welcome = await until((m) => m.type === 'welcome' || (m.type === 'error' && m.request === 'join'), 'welcome');
    if (welcome.type === 'error') throw new Error(`join refused: ${welcome.code}: ${welcome.message}`);
    if (welcome.browserOffers) {
      // a role the room's fan-out serves: the client offers
      if (answer) {
        ws.send(JSON.stringify({ type: 'offer', sdp: fakeOffer() }));
        await until((m) => m.type === 'answer', 'answer');
      }
    } else {
      const offer = await until((m) => m.type === 'offer', 'offer');
      if (answer) ws.send(JSON.stringify({ type: 'answer', sdp: fakeAnswer(offer.sdp) }));
    }
    if (leave === 'message') {
      ws.send(JSON.stringify({ type: 'leave' }));
      await until((m) => m.type === 'left', 'left');
      ws.close(1000);
    } else if (leave === 'close') {
      ws.close(1001);
    } else {
      ws.terminate();
    }
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
    const errors = got.filter((m) => m.type === 'error');
    if (errors.length) throw new Error(`errors: ${JSON.stringify(errors)}`);
    return welcome.peer;
  } finally {
    if (ws.readyState < 2) ws.terminate();
  }
}

// A receive-only offer as a browser would make it (audio then video, one
// BUNDLE transport, DTLS actpass), with ICE credentials nobody uses.
export function fakeOffer() {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const random = (n) => Array.from({ length: n }, () => chars[Math.floor(Math.random() * chars.length)]).join('');
  const fingerprint = Array.from({ length: 32 },
    () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0').toUpperCase()).join(':');
  const ufrag = random(8);
  const pwd = random(24);
  const media = (kind, mid, pt, rtpmap) => [
    `m=${kind} 9 UDP/TLS/RTP/SAVPF ${pt}`, 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
    `a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`, 'a=ice-options:trickle',
    `a=fingerprint:sha-256 ${fingerprint}`, 'a=setup:actpass', `a=mid:${mid}`, 'a=recvonly',
    'a=rtcp-mux', `a=rtpmap:${pt} ${rtpmap}`,
    ...(kind === 'video' ? [`a=rtcp-fb:${pt} nack`, `a=rtcp-fb:${pt} nack pli`] : [])];
  return ['v=0', `o=- ${Date.now()} 2 IN IP4 127.0.0.1`, 's=-', 't=0 0', 'a=group:BUNDLE 0 1',
    'a=msid-semantic: WMS', ...media('audio', '0', 111, 'opus/48000/2'),
    ...media('video', '1', 96, 'VP8/90000'), ''].join('\r\n');
}

// An answer to @offer as a browser would give it (the same m-lines and mids,
// the first payload of each, DTLS active), with ICE credentials nobody uses.
export function fakeAnswer(offer) {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const rand = (n) => Array.from({ length: n }, () => chars[Math.floor(Math.random() * chars.length)]).join('');
  const fingerprint = Array.from({ length: 32 },
    () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0').toUpperCase()).join(':');
  const ufrag = rand(8);
  const pwd = rand(24);
  const mids = [];
  const media = offer.split(/\r?\n(?=m=)/).slice(1).map((s) => {
    const lines = s.split(/\r?\n/).filter(Boolean);
    const [mline, , proto, pt] = lines[0].split(' ');
    const kind = mline.slice(2);
    const mid = (lines.find((l) => l.startsWith('a=mid:')) || 'a=mid:0').slice(6);
    mids.push(mid);
    const dir = lines.find((l) => /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(l)) || 'a=sendrecv';
    const answerDir = { 'a=sendonly': 'a=recvonly', 'a=recvonly': 'a=sendonly' }[dir] || dir;
    const rtpmap = lines.find((l) => l.startsWith(`a=rtpmap:${pt} `));
    return [`m=${kind} 9 ${proto} ${pt}`, 'c=IN IP4 0.0.0.0', `a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`,
      `a=fingerprint:sha-256 ${fingerprint}`, 'a=setup:active', `a=mid:${mid}`, answerDir, 'a=rtcp-mux',
      ...(rtpmap ? [rtpmap] : [])].join('\r\n');
  });
  return ['v=0', `o=- ${Date.now()} 2 IN IP4 127.0.0.1`, 's=-', 't=0 0',
    `a=group:BUNDLE ${mids.join(' ')}`, ...media].join('\r\n') + '\r\n';
}

// The ids of this process's children.
function childPids() {
  const out = new Set();
  for (const name of readdirSync_('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync_(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid) out.add(Number(name));
    } catch { /* gone */ }
  }
  return out;
}

// launchBrowser, and the id of the browser's process (playwright's Browser
// does not tell it): the chromium child that was not there before.  Launch
// these one at a time.
export async function launchBrowserWithPid(media, extraArgs = []) {
  const before = childPids();
  const browser = await launchBrowser(media, extraArgs);
  const pids = [...childPids()].filter((p) => !before.has(p)
    && /chrom/.test(readFileSync_(`/proc/${p}/cmdline`, 'utf8')));
  if (pids.length !== 1) throw new Error(`cannot tell the browser's process: ${JSON.stringify(pids)}`);
  browser.pid = pids[0];
  return browser;
}

// kill -9, SIGSTOP or SIGCONT a chromium from launchBrowserWithPid with all
// its processes (the network service holds the WebSockets): playwright
// starts the browser as the leader of its own process group.
export function signalBrowser(browser, sig) {
  const { pid } = browser;
  if (!pid) throw new Error('signalBrowser needs a browser from launchBrowserWithPid');
  if (!children.has(pid)) {
    track(pid);
    // once it is gone its id may be another process's: forget it
    browser.once('disconnected', () => children.delete(pid));
  }
  try { process.kill(-pid, sig); } catch { process.kill(pid, sig); }
}

// ---- The Kurento control API, through the real kurento-client ----------
import kurento from 'kurento-client';

// A client on @wsUri, callback style as Kurento's tutorials use it.
export function connectKurento(wsUri) {
  return new Promise((resolve, reject) => {
    kurento(wsUri, { request_timeout: scaled(20000) }, (error, client) =>
      (error ? reject(error) : resolve(client)));
  });
}

// @object.@method(...args, callback) as a promise.
export const kurentoCall = (object, method, ...args) => new Promise((resolve, reject) => {
  object[method](...args, (error, result) => (error ? reject(error) : resolve(result)));
});
