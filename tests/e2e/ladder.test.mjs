// The quality ladder (issue 16) as a viewer lives it: a Chromium viewer in a
// network namespace of the test's own, its downlink shaped with tc tbf,
// beside an unshaped one; Chromium's getStats is the judge.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { tmp, stockEnv, fakeMedia, startRoom, launchBrowser, openPage, waitForColours, near,
  scaled } from './lib.mjs';
import { createNetns } from './netns.mjs';

const RED = 0xff0000;

// The presenter's camera: red below, moving noise above.  The red is what
// the viewers must show; the noise makes the program encoder spend its whole
// bitrate (a still picture would fit through any shaper).
function noisyCamera(rgb) {
  const media = fakeMedia('noisy', rgb, 440, { volume: 0 });
  const video = path.join(tmp, 'noisy.y4m');
  const argb = '0xff' + rgb.toString(16).padStart(6, '0');
  execFileSync('gst-launch-1.0', ['-q',
    'videotestsrc', 'pattern=solid-color', `foreground-color=${argb}`, 'num-buffers=30', '!',
    'video/x-raw,width=320,height=240,framerate=15/1', '!', 'compositor', 'name=c', '!',
    'video/x-raw,format=I420', '!', 'y4menc', '!', 'filesink', `location=${video}`,
    'videotestsrc', 'pattern=snow', 'num-buffers=30', '!',
    'video/x-raw,width=320,height=120,framerate=15/1', '!', 'c.'], { env: stockEnv });
  return { ...media, video };
}
// in the red half whatever the stage's layout letterboxes
const redPoints = [[0.5, 0.8], [0.4, 0.9], [0.6, 0.9]];

// The live show as documented, on the veth's address: tokens a room beyond
// loopback accepts.
function roomText() {
  return readFileSync(path.join(process.env.ROOMS_SOURCE_ROOT, 'docs/rooms/live-show.ini'), 'utf8')
    .replace(/^listen=.*$/m, '')
    .replace(/^token=stage-secret$/m, 'token=stage-secret-for-the-ladder-test')
    .replace(/^token=console-secret$/m, 'token=console-secret-for-the-ladder-test');
}

// What a viewer page's RTCPeerConnection says now: the transport's bytes and
// the video's inbound-rtp.
async function viewerStats(page) {
  return page.evaluate(async () => {
    const out = { t: performance.now(), bytes: 0, video: null };
    (await window.room.pc.getStats()).forEach((s) => {
      if (s.type === 'transport') out.bytes += s.bytesReceived || 0;
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.video = { frameWidth: s.frameWidth, frameHeight: s.frameHeight,
          framesDecoded: s.framesDecoded, framesDropped: s.framesDropped,
          keyFramesDecoded: s.keyFramesDecoded, freezeCount: s.freezeCount,
          pliCount: s.pliCount, nackCount: s.nackCount, packetsLost: s.packetsLost };
      }
    });
    return out;
  });
}

// kbit/s between two viewerStats
const kbits = (a, b) => Math.round(((b.bytes - a.bytes) * 8) / (b.t - a.t));

let ns = null;
const cleanups = [];
test.after(async () => {
  for (const f of cleanups.reverse()) {
    try { await f(); } catch (e) { console.log(`cleanup: ${e.message}`); }
  }
  if (ns) ns.destroy();
});

test('a viewer behind a 1 Mbit/s link receives no more than the link carries', async () => {
  ns = createNetns();
  const room = await startRoom(roomText(), { host: ns.hostAddress });
  cleanups.push(async () => {
    const result = await room.stop();
    assert.equal(result.code, 0, room.output());
  });
  // getUserMedia needs a secure origin: the page is on the veth's address
  const presenter = await launchBrowser(noisyCamera(RED),
    [`--unsafely-treat-insecure-origin-as-secure=${room.url.replace(/\/$/, '')}`]);
  cleanups.push(() => presenter.close());
  const outside = await launchBrowser(null);
  cleanups.push(() => outside.close());
  const inside = await launchBrowser(null, [], { executablePath: ns.chromium });
  cleanups.push(() => inside.close());

  await openPage(presenter,
    `${room.url}?role=presenter&token=stage-secret-for-the-ladder-test&name=Ann`);
  const free = await openPage(outside, `${room.url}?role=viewer`);
  const shaped = await openPage(inside, `${room.url}?role=viewer`);
  for (const page of [free, shaped]) await waitForColours(page, redPoints, (cs) => cs.every((c) => near(c, RED)));

  ns.shape(1000);
  await shaped.waitForTimeout(scaled(3000));  // the queue fills, the rate settles
  const before = [await viewerStats(free), await viewerStats(shaped)];
  await shaped.waitForTimeout(8000);
  const after = [await viewerStats(free), await viewerStats(shaped)];
  const rates = { free: kbits(before[0], after[0]), shaped: kbits(before[1], after[1]) };
  console.log(`received over 8 s at 1 Mbit/s shaping: unshaped viewer ${rates.free} kbit/s, ` +
    `shaped viewer ${rates.shaped} kbit/s`);
  assert.ok(rates.shaped <= 1100, `the shaped viewer received ${rates.shaped} kbit/s`);
  assert.ok(rates.free > 1100, `the unshaped viewer received only ${rates.free} kbit/s`);
  ns.unshape();
});
