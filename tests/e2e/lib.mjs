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

const gstEnv = { ...process.env, GST_PLUGIN_PATH: path.join(buildRoot, 'plugins'),
                 GST_TRACERS: '', GST_DEBUG: process.env.ROOMS_E2E_GST_DEBUG || '*:1' };

// A solid-colour .y4m camera (rgb as 0xRRGGBB) and a sine microphone .wav.
export function fakeMedia(name, rgb, freq) {
  const video = path.join(tmp, `${name}.y4m`);
  const audio = path.join(tmp, `${name}.wav`);
  const argb = '0xff' + rgb.toString(16).padStart(6, '0');
  execFileSync('gst-launch-1.0', ['-q', 'videotestsrc', 'pattern=solid-color',
    `foreground-color=${argb}`, 'num-buffers=30', '!',
    'video/x-raw,width=320,height=240,framerate=15/1,format=I420', '!', 'y4menc', '!',
    'filesink', `location=${video}`], { env: gstEnv });
  execFileSync('gst-launch-1.0', ['-q', 'audiotestsrc', 'wave=sine', `freq=${freq}`,
    'volume=0.5', 'num-buffers=200', '!', 'audio/x-raw,rate=48000,channels=1,format=S16LE',
    '!', 'wavenc', '!', 'filesink', `location=${audio}`], { env: gstEnv });
  return { video, audio, rgb, freq };
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

// Starts gst-room with a room file whose [room] group gets our listen address.
export async function startRoom(roomText, { extraArgs = [] } = {}) {
  const port = await freePort();
  const file = path.join(tmp, `room-${port}.ini`);
  writeFileSync(file, roomText.replace('[room]', `[room]\nlisten=127.0.0.1:${port}`));
  const proc = spawn(path.join(buildRoot, 'tools/gst-room/gst-room'), [...extraArgs, file],
    { env: gstEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 15000;
  while (!output.includes('is open at')) {
    if (proc.exitCode !== null) throw new Error(`gst-room exited: ${output}`);
    if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`gst-room did not open: ${output}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    output: () => output,
    proc,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGINT');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

// One chromium per presenter: the fake capture files are per browser.
export async function launchBrowser(media, extraArgs = []) {
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
  return chromium.launch({ executablePath: '/usr/bin/chromium', args });
}

export async function openPage(browser, url) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e}`));
  await page.goto(url);
  return page;
}

export async function waitFor(page, fn, arg, timeout = 20000) {
  return page.waitForFunction(fn, arg, { timeout, polling: 200 });
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
  const deadline = Date.now() + timeout;
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
