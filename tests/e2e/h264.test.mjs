// A browser that takes H.264 only joins a group call: it gets the composite
// in H.264 (encoded for it alone) and its H.264 camera reaches the composite,
// while a VP8 participant keeps the shared VP8 stream.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fakeMedia, startRoom, launchBrowser, openPage, waitFor, waitForColours, near }
  from './lib.mjs';

const roomText = readFileSync(path.join(process.env.ROOMS_SOURCE_ROOT, 'docs/rooms/group-call.ini'),
  'utf8').replace(/^listen=.*$/m, '');
const RED = 0xff0000;
const BLUE = 0x0000ff;

async function receivedVideoCodec(page) {
  return page.evaluate(async () => {
    const stats = await window.room.pc.getStats();
    let codec = null;
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video' && s.codecId) codec = stats.get(s.codecId).mimeType;
    });
    return codec;
  });
}

test('an H.264-only browser in a group call', async () => {
  const room = await startRoom(roomText);
  const browsers = [];
  try {
    browsers.push(await launchBrowser(fakeMedia('red264', RED, 500)),
                  await launchBrowser(fakeMedia('blue8', BLUE, 1300)));
    const h264 = await openPage(browsers[0], `${room.url}?role=participant&codec=h264`);
    await waitFor(h264, () => window.room && window.room.connectionState === 'connected');
    const vp8 = await openPage(browsers[1], `${room.url}?role=participant`);
    await waitFor(vp8, () => window.room && window.room.connectionState === 'connected');

    const halves = [[0.25, 0.5], [0.75, 0.5]];
    await waitForColours(h264, halves, ([l, r]) => near(l, RED) && near(r, BLUE));
    await waitForColours(vp8, halves, ([l, r]) => near(l, RED) && near(r, BLUE));
    assert.equal(await receivedVideoCodec(h264), 'video/H264');
    assert.equal(await receivedVideoCodec(vp8), 'video/VP8');
  } finally {
    for (const b of browsers) await b.close();
    await room.stop();
  }
});
