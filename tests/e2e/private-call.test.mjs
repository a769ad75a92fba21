// A private call: two callers see and hear each other through the server; a
// third caller is refused with a clear message.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fakeMedia, startRoom, launchBrowser, openPage, waitFor, waitForColours, near,
  waitForAudioLevels } from './lib.mjs';

const roomText = readFileSync(path.join(process.env.ROOMS_SOURCE_ROOT, 'docs/rooms/private-call.ini'),
  'utf8').replace(/^listen=.*$/m, '');
const GREEN = 0x00ff00;
const MAGENTA = 0xff00ff;

test('private call: each caller sees the other; a third is refused', async () => {
  const green = fakeMedia('green', GREEN, 700);
  const magenta = fakeMedia('magenta', MAGENTA, 1900);
  const room = await startRoom(roomText);
  const browsers = [];
  try {
    browsers.push(await launchBrowser(green), await launchBrowser(magenta));
    const pages = [];
    for (const b of browsers) {
      const page = await openPage(b, `${room.url}?role=caller`);
      await waitFor(page, () => window.room && window.room.connectionState === 'connected');
      pages.push(page);
    }
    const centre = [[0.5, 0.5]];
    await waitForColours(pages[0], centre, ([c]) => near(c, MAGENTA));
    await waitForColours(pages[1], centre, ([c]) => near(c, GREEN));
    const [greenOwn, greenOther] = await waitForAudioLevels(pages[0], [700, 1900], ([own, other]) => other > own + 20);
    assert.ok(greenOther > greenOwn + 20, `green hears magenta: ${greenOther} vs own ${greenOwn}`);

    const third = await openPage(browsers[0], `${room.url}?role=caller`);
    await waitFor(third, () => window.room && window.room.state === 'refused');
    const error = await third.evaluate(() => window.room.errors[0]);
    assert.equal(error.code, 'join-refused');
    assert.match(error.message, /full/);
    // the call goes on
    await waitForColours(pages[0], centre, ([c]) => near(c, MAGENTA));
  } finally {
    for (const b of browsers) await b.close();
    await room.stop();
  }
});
