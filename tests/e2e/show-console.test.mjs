// The operator console of a live show in real browsers: who is speaking (a
// level per presenter on the console, an amber border around the speaker's
// tile on the stage), the auto-speaker layout switched from the console, and
// the videos of the room's folders offered for injection with their
// durations.  Two presenters: one whose fake microphone plays a tone, one
// silent.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fakeMedia, startRoom, launchBrowser, openPage, waitFor, waitForColours, near,
  scaled, stockEnv, tmp } from './lib.mjs';

const RED = 0xff0000;
const BLUE = 0x0000ff;
const GREEN = 0x00ff00;
const YELLOW = 0xffff00;

// The folder the operator may inject from: two videos, a still image and a
// text file (only the videos are offered).
const videos = path.join(tmp, 'console-videos');
mkdirSync(videos);
function solidWebm(name, argb, frames) {
  execFileSync('gst-launch-1.0', ['-q',
    'videotestsrc', 'pattern=solid-color', `foreground-color=${argb}`, `num-buffers=${frames}`, '!',
    'video/x-raw,width=320,height=240,framerate=30/1', '!', 'vp8enc', '!', 'webmmux', '!',
    'filesink', `location=${path.join(videos, name)}`], { env: stockEnv });
}
solidWebm('a-yellow.webm', '0xffffff00', 90);
solidWebm('green.webm', '0xff00ff00', 150);
execFileSync('gst-launch-1.0', ['-q', 'videotestsrc', 'num-buffers=1', '!', 'pngenc', '!',
  'filesink', `location=${path.join(videos, 'still.png')}`], { env: stockEnv });
writeFileSync(path.join(videos, 'notes.txt'), 'not a video\n');

const roomText = readFileSync(path.join(process.env.ROOMS_SOURCE_ROOT, 'docs/rooms/live-show.ini'),
  'utf8')
  .replace(/^listen=.*$/m, '')
  .replace(/width=1280 height=720/g, 'width=640 height=360')
  .replace(/width=640,height=360/, 'width=320,height=180')
  // the pictures are checked: a viewer stays on a video rung (on a loaded
  // machine the fan-out could otherwise take one down to audio alone)
  .replace(/;audio-only$/m, '')
  .replace(/target-bitrate=2500000/, 'target-bitrate=800000')
  .replace(/^inject-folders=.*$/m, `inject-folders=${videos}`);

// Amber (mcucompositor's speaking border, 0xffc000) pixels of the decoded
// program in its left and right halves.
async function borderPixels(page) {
  return page.evaluate(() => {
    const v = document.querySelector('#remote');
    if (!v || v.videoWidth === 0) return null;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0);
    const counts = [0, 0];
    const { data } = g.getImageData(0, 0, c.width, c.height);
    for (let y = 0; y < c.height; y++) {
      for (let x = 0; x < c.width; x++) {
        const i = (y * c.width + x) * 4;
        if (data[i] > 190 && data[i + 1] > 130 && data[i + 1] < 235 && data[i + 2] < 100) {
          counts[x < c.width / 2 ? 0 : 1]++;
        }
      }
    }
    return counts;
  });
}

async function waitForBorder(page, check, timeout = 20000) {
  let counts = null;
  const deadline = Date.now() + scaled(timeout);
  while (Date.now() < deadline) {
    counts = await borderPixels(page);
    if (counts && check(counts)) return counts;
    await page.waitForTimeout(250);
  }
  throw new Error(`border pixels never matched ${check}: ${JSON.stringify(counts)}`);
}

test('console: levels and the speaking border follow the tone, auto-speaker from the console', async () => {
  const started = Date.now();
  // The silent presenter joins first, so it is port 0 and the left tile:
  // the border must follow the tone, not the first port.
  const silent = fakeMedia('silent', BLUE, 700, { volume: 0 });
  const loud = fakeMedia('loud', RED, 500);
  const room = await startRoom(roomText);
  const browsers = [];
  try {
    browsers.push(await launchBrowser(silent), await launchBrowser(loud), await launchBrowser(null));
    const quiet = await openPage(browsers[0],
      `${room.url}?role=presenter&token=stage-secret&name=Quiet`);
    await waitFor(quiet, () => window.room.connectionState === 'connected');
    const talker = await openPage(browsers[1],
      `${room.url}?role=presenter&token=stage-secret&name=Talker`);
    await waitFor(talker, () => window.room.connectionState === 'connected');
    const [quietPeer, talkerPeer] = await Promise.all(
      [quiet, talker].map((p) => p.evaluate(() => window.room.peer)));

    const console_ = await openPage(browsers[2],
      `${room.url}console.html?role=operator&token=console-secret`);
    await waitFor(console_, () => window.show && window.show.presenters.length === 2);
    const grid = [[0.25, 0.5], [0.75, 0.5]];
    await waitForColours(console_, grid, ([l, r]) => near(l, BLUE) && near(r, RED));

    // The console's meters: the talker well above the silent one, and
    // marked as speaking.
    await waitFor(console_, ([q, t]) => {
      const l = window.levels || [];
      const quietL = l.find((x) => x.peer === q);
      const talkerL = l.find((x) => x.peer === t);
      return quietL && talkerL && talkerL.level > -40 && talkerL.level > quietL.level + 20
        && talkerL.speaking && !quietL.speaking;
    }, [quietPeer, talkerPeer]);
    // What the page shows follows the levels four times a second (a fake
    // microphone's tone has its ups and downs): wait until the rows show
    // it, as a person glances at the meters.
    await waitFor(console_, ([q, t]) => {
      const row = (peer) => document.querySelector(`#presenters li[data-peer="${peer}"]`);
      const meter = (peer) => Number(row(peer).querySelector('meter').value);
      return meter(t) > meter(q) + 20 && row(t).classList.contains('speaking')
        && !row(q).classList.contains('speaking') && /Talker.*-?\d+ dB/.test(row(t).textContent);
    }, [quietPeer, talkerPeer]);
    const shown = await console_.evaluate(([q, t]) => {
      const row = (peer) => document.querySelector(`#presenters li[data-peer="${peer}"]`);
      return { quiet: row(q).textContent, talker: row(t).textContent };
    }, [quietPeer, talkerPeer]);
    console.log(`# console rows: ${JSON.stringify(shown)}`);

    // The stage: the amber border around the talker's tile (right), none
    // around the silent one's.
    const border = await waitForBorder(console_, ([left, right]) => right > 1500 && left < 100);
    console.log(`# amber border pixels: left (silent) ${border[0]}, right (tone) ${border[1]}`);

    // Auto speaker from the console: the talker large on top, the silent
    // presenter small in the strip below; Grid brings the grid back.
    await console_.click('[data-layout="auto-speaker"]');
    await waitFor(console_, () => window.show.layout === 'auto-speaker'
      && document.querySelector('[data-layout="auto-speaker"]').classList.contains('active'));
    const speakerLayout = [[0.5, 0.375], [0.5, 0.875], [0.1, 0.375], [0.1, 0.875]];
    const colours = await waitForColours(console_, speakerLayout,
      ([top, strip, topSide, stripSide]) => near(top, RED) && near(strip, BLUE)
        && near(topSide, 0) && near(stripSide, 0));
    console.log(`# speaker layout colours ${JSON.stringify(colours)}`);
    await console_.click('[data-layout="grid"]');
    await waitFor(console_, () => window.show.layout === 'grid');
    await waitForColours(console_, grid, ([l, r]) => near(l, BLUE) && near(r, RED));

    // Inject a video: the console offers the folder's videos with their
    // durations; the operator picks the second one and presses Play.
    await waitFor(console_, () => window.videos !== null
      && document.querySelectorAll('#inject-video option').length === 3);
    const offered = await console_.evaluate(() => ({ videos: window.videos,
      options: Array.from(document.querySelectorAll('#inject-video option'), (o) => o.textContent) }));
    console.log(`# offered videos: ${JSON.stringify(offered.options)}`);
    assert.deepEqual(offered.videos.map((v) => v.name), ['a-yellow.webm', 'green.webm']);
    assert.deepEqual(offered.videos.map((v) => v.uri),
      [`file://${videos}/a-yellow.webm`, `file://${videos}/green.webm`]);
    assert.ok(Math.abs(offered.videos[0].duration - 3) < 0.2 && Math.abs(offered.videos[1].duration - 5) < 0.2,
      `durations: ${JSON.stringify(offered.videos)}`);
    assert.deepEqual(offered.options.slice(1), ['a-yellow.webm (0:03)', 'green.webm (0:05)']);
    await console_.selectOption('#inject-video', { label: 'green.webm (0:05)' });
    await console_.click('#inject-form button[type=submit]');
    await waitFor(console_, () => window.show.injection && window.show.injection.showing
      && window.show.program === 'video');
    assert.match(await console_.evaluate(() => window.show.injection.uri), /green\.webm$/);
    const centre = [[0.5, 0.2], [0.5, 0.5], [0.5, 0.8]];
    await waitForColours(console_, centre, (c) => c.every((x) => near(x, GREEN) && !near(x, YELLOW)));
    assert.match(await console_.textContent('#inject-status'), /green\.webm: \d+:\d\d \/ 0:05/);
    // When it ends the program is back on the stage.
    await waitFor(console_, () => window.show.injection === null && window.show.program === 'stage');

    console.log(`# show-console took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (e) {
    const log = path.join(process.env.ROOMS_BUILD_ROOT, 'meson-logs', 'show-console-room.log');
    writeFileSync(log, room.output());
    console.log(`# gst-room's output: ${log}`);
    throw e;
  } finally {
    for (const b of browsers) await b.close();
    const { code } = await room.stop();
    assert.equal(code, 0, `gst-room should stop cleanly on Ctrl-C:\n${room.output()}`);
  }
});
