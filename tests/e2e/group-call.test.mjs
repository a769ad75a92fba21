// A group call in real browsers: two participants with coloured fake cameras
// and tones see each other's colour in the composite, hear each other but not
// themselves, and the composite re-flows when one leaves.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fakeMedia, startRoom, launchBrowser, openPage, waitFor, waitForColours, near,
  waitForAudioLevels } from './lib.mjs';

const roomText = readFileSync(path.join(process.env.ROOMS_SOURCE_ROOT, 'docs/rooms/group-call.ini'),
  'utf8').replace(/^listen=.*$/m, '');
const RED = 0xff0000;
const BLUE = 0x0000ff;

test('group call: composite tiles, mix-minus audio, re-flow on leave', async () => {
  const red = fakeMedia('red', RED, 500);
  const blue = fakeMedia('blue', BLUE, 1300);
  const room = await startRoom(roomText);
  const browsers = [];
  try {
    browsers.push(await launchBrowser(red), await launchBrowser(blue));
    const [redPage, bluePage] = [];
    const pages = [];
    for (const b of browsers) {
      const page = await openPage(b, `${room.url}?role=participant`);
      await waitFor(page, () => window.room && window.room.connectionState === 'connected');
      pages.push(page);
    }
    // Two ports in a grid: one row of two tiles, in port (join) order.
    const halves = [[0.25, 0.5], [0.75, 0.5]];
    for (const page of pages) {
      await waitForColours(page, halves, ([left, right]) => near(left, RED) && near(right, BLUE));
    }

    // Each hears the other's tone, not their own (mix-minus).
    const [redOwn, redOther] = await waitForAudioLevels(pages[0], [500, 1300], ([own, other]) => other > own + 20);
    assert.ok(redOther > redOwn + 20,
      `red participant should hear blue (1300 Hz: ${redOther} dB) above its own tone (500 Hz: ${redOwn} dB)`);
    const [blueOther, blueOwn] = await waitForAudioLevels(pages[1], [500, 1300], ([other, own]) => other > own + 20);
    assert.ok(blueOther > blueOwn + 20,
      `blue participant should hear red (500 Hz: ${blueOther} dB) above its own tone (1300 Hz: ${blueOwn} dB)`);

    // Blue closes the browser: red's composite becomes one tile of red.
    await browsers[1].close();
    browsers.pop();
    await waitForColours(pages[0], [[0.5, 0.5], [0.7, 0.5]],
      ([centre, right]) => near(centre, RED) && near(right, RED), 20000);
  } finally {
    for (const b of browsers) await b.close();
    const { code } = await room.stop();
    assert.equal(code, 0, `gst-room should stop cleanly on Ctrl-C:\n${room.output()}`);
  }
});
