// The live show as people see it, in real browsers without an emoji font:
// emote signs drawn as SVG on the viewer's buttons, the presenter's page and
// the console; confetti over a presenter's whole screen; no empty camera box
// on the viewer's page; a presenter's name drawn in its own stage tile and on
// the single camera; and how long a viewer waits for its first picture.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fakeMedia, startRoom, launchBrowser, openPage, waitFor, waitForColours, near,
  scaled } from './lib.mjs';

const RED = 0xff0000;
const BLUE = 0x0000ff;

const roomText = readFileSync(path.join(process.env.ROOMS_SOURCE_ROOT, 'docs/rooms/live-show.ini'),
  'utf8')
  .replace(/^listen=.*$/m, '')
  .replace(/width=1280 height=720/g, 'width=640 height=360')
  .replace(/width=640,height=360/, 'width=320,height=180')
  // the pictures are checked: a viewer stays on a video rung (on a loaded
  // machine the fan-out could otherwise take one down to audio alone)
  .replace(/;audio-only$/m, '')
  .replace(/target-bitrate=2500000/, 'target-bitrate=800000');

const halves = [[0.25, 0.5], [0.75, 0.5]];
const twoTiles = ([left, right]) => near(left, RED) && near(right, BLUE);
const EMOJI = /[\p{Extended_Pictographic}\u{FE0F}]/u;

// Every emote sign under @selector: its size on the page, and how many of
// its pixels it paints when drawn alone (an SVG needs no font to paint).
async function emoteSigns(page, selector) {
  return page.evaluate(async (sel) => {
    const out = [];
    for (const el of document.querySelectorAll(sel)) {
      const svg = el.querySelector('svg');
      const box = (svg || el).getBoundingClientRect();
      let painted = 0;
      if (svg) {
        const img = new Image();
        img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(
          new XMLSerializer().serializeToString(svg).replace('<svg ', '<svg width="48" height="48" '))}`;
        await img.decode();
        const c = document.createElement('canvas');
        c.width = 48;
        c.height = 48;
        const g = c.getContext('2d');
        g.drawImage(img, 0, 0);
        const data = g.getImageData(0, 0, 48, 48).data;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 128) painted++;
      }
      out.push({ emote: el.dataset.emote, svg: !!svg, width: box.width, height: box.height,
        visible: box.width > 0 && box.height > 0 && getComputedStyle(svg || el).visibility === 'visible',
        painted, text: el.textContent });
    }
    return out;
  }, selector);
}

function assertSigns(signs, what) {
  assert.deepEqual(signs.map((s) => s.emote), ['clap', 'heart', 'confetti'], what);
  for (const s of signs) {
    assert.ok(s.svg && s.visible && s.width >= 16 && s.height >= 16,
      `${what}: ${s.emote} should be a visible SVG: ${JSON.stringify(s)}`);
    assert.ok(s.painted > 200, `${what}: ${s.emote} paints ${s.painted} of 2304 pixels`);
    assert.ok(!EMOJI.test(s.text), `${what}: ${s.emote} still has emoji text ${JSON.stringify(s.text)}`);
  }
}

// Light label pixels (mcucompositor's label text is 0xf0f0f0 on 0x202020) in
// the bottom half of each half of the decoded program: [left, right].
async function labelPixels(page) {
  return page.evaluate(() => {
    const v = document.querySelector('#remote');
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0);
    const counts = [0, 0];
    const { data } = g.getImageData(0, 0, c.width, c.height);
    for (let y = Math.floor(c.height / 2); y < c.height; y++) {
      for (let x = 0; x < c.width; x++) {
        const i = (y * c.width + x) * 4;
        if (data[i] > 190 && data[i + 1] > 190 && data[i + 2] > 190) counts[x < c.width / 2 ? 0 : 1]++;
      }
    }
    return { counts, width: c.width, height: c.height };
  });
}

// Polls the program's label pixels until check([left, right]) holds.
async function waitForLabel(page, check, timeout = 10000) {
  let label = null;
  const deadline = Date.now() + scaled(timeout);
  while (Date.now() < deadline) {
    label = await labelPixels(page);
    if (check(label.counts)) return label;
    await page.waitForTimeout(250);
  }
  throw new Error(`label pixels never matched ${check}: ${JSON.stringify(label)}`);
}

test('show looks: SVG emotes, confetti, no empty camera box, names in tiles, first frame', async () => {
  const started = Date.now();
  const red = fakeMedia('red', RED, 500);
  const blue = fakeMedia('blue', BLUE, 1300);
  const room = await startRoom(roomText);
  const browsers = [];
  try {
    browsers.push(await launchBrowser(red), await launchBrowser(blue), await launchBrowser(null));
    const audience = browsers[2];

    // Red gives a name in the URL; blue gives none and joins all the same.
    const named = await openPage(browsers[0],
      `${room.url}?role=presenter&token=stage-secret&name=${encodeURIComponent('Red  Ann ')}`);
    await waitFor(named, () => window.room.connectionState === 'connected');
    const unnamed = await openPage(browsers[1], `${room.url}?role=presenter&token=stage-secret`);
    await waitFor(unnamed, () => window.room.connectionState === 'connected');
    assert.equal(await named.evaluate(() => window.room.name), 'Red Ann');
    assert.equal(await named.isVisible('#name-form'), false);
    assert.equal(await unnamed.evaluate(() => window.room.name), '');
    assert.equal(await unnamed.isVisible('#name-form'), true, 'an unnamed presenter is offered a name');

    // A viewer: from the join to the first decoded frame of the program.
    const viewer = await openPage(audience, `${room.url}?role=viewer`);
    await waitFor(viewer, () => window.room.firstFrameMs !== undefined, undefined, 10000);
    const { firstFrameMs, connectedMs } = await viewer.evaluate(() => window.room);
    console.log(`# viewer's first frame ${firstFrameMs} ms after joining (connected at ${connectedMs} ms)`);
    assert.ok(firstFrameMs > 0 && firstFrameMs <= scaled(5000),
      `a viewer should see a picture within ${scaled(5000)} ms of joining, took ${firstFrameMs} ms`);
    await waitForColours(viewer, halves, twoTiles);

    // The viewer sends nothing, so shows no camera box; a presenter shows its own.
    assert.equal(await viewer.isVisible('#local'), false, "the viewer's page shows no local video");
    assert.equal(await viewer.isVisible('#name-form'), false);
    assert.deepEqual(await Promise.all([viewer, named].map((p) => p.evaluate(() => window.room.nameShown))),
      [false, true], 'a name is asked for where the room draws it');
    assert.equal(await named.isVisible('#local'), true, "a presenter sees its own camera");

    // Red's name is drawn in red's tile (left), and nothing in blue's.
    let label = await waitForLabel(viewer, ([left, right]) => left > 40 && right === 0);
    console.log(`# label pixels in the named tile ${label.counts[0]}, in the unnamed one ${label.counts[1]}`);

    // The console lists the name too.
    const console_ = await openPage(audience,
      `${room.url}console.html?role=operator&token=console-secret`);
    await waitFor(console_, () => window.show && window.show.presenters.length === 2);
    assert.match(await console_.textContent('#presenters'), /Red Ann/);

    // The single camera: red full frame with its name, then blue without one.
    const command = (m) => console_.evaluate((msg) => window.roomSend(msg), m);
    const fullFrame = [[0.1, 0.1], [0.9, 0.5]];
    await command({ type: 'switch', source: 'camera' });
    await waitForColours(viewer, fullFrame, (c) => c.every((x) => near(x, RED)));
    label = await waitForLabel(viewer, ([left, right]) => left > 40 && right === 0);
    console.log(`# label pixels on the single camera: ${label.counts[0]}`);
    await command({ type: 'choose-camera', peer: await unnamed.evaluate(() => window.room.peer) });
    await waitForColours(viewer, fullFrame, (c) => c.every((x) => near(x, BLUE)));
    await waitForLabel(viewer, ([left, right]) => left === 0 && right === 0);
    await command({ type: 'switch', source: 'stage' });

    // Emote signs: SVG on the viewer's buttons, the presenter's counts, the
    // console's counts; no emoji characters anywhere on the pages.
    assertSigns(await emoteSigns(viewer, '#emote-buttons [data-emote]'), 'viewer buttons');
    assertSigns(await emoteSigns(named, '#emote-counts [data-emote]'), 'presenter counts');
    assertSigns(await emoteSigns(console_, '#emote-counts [data-emote]'), 'console counts');
    for (const page of [viewer, named, console_]) {
      const text = await page.evaluate(() => document.body.innerText);
      assert.ok(!EMOJI.test(text), `emoji characters on ${page.url()}: ${JSON.stringify(text)}`);
    }

    // Confetti from the viewer: a floating sign and confetti over the whole
    // screen of each presenter, gone again after a few seconds.
    await viewer.click('#emote-buttons [data-emote="confetti"]');
    for (const page of [named, unnamed]) {
      await waitFor(page, () => window.room.confettiBursts === 1
        && document.querySelectorAll('#confetti i').length >= 50);
      const shown = await page.evaluate(() => {
        const r = document.getElementById('confetti').getBoundingClientRect();
        return { covers: r.left <= 0 && r.top <= 0 && r.right >= innerWidth && r.bottom >= innerHeight,
          running: document.getAnimations().filter((a) => a.playState === 'running').length,
          sign: !!document.querySelector('#emote-layer .emote-float svg') };
      });
      assert.ok(shown.covers && shown.running >= 50 && shown.sign,
        `confetti should cover the presenter's screen, animated: ${JSON.stringify(shown)}`);
    }
    assert.equal(await console_.evaluate(() => document.getElementById('confetti')), null,
      'confetti is for the presenters');
    const limit = await named.evaluate(() => window.roomEmotes.CONFETTI_MS);
    await waitFor(named, () => document.getElementById('confetti') === null, undefined, limit + 2000);

    // A name the stage cannot show: a clear message, and the page joins once
    // the presenter types a good one.
    const tooLong = await openPage(audience,
      `${room.url}?role=presenter&token=stage-secret&name=${'x'.repeat(41)}`);
    assert.equal(await tooLong.evaluate(() => window.room.state), 'name-refused');
    assert.match(await tooLong.textContent('#name-message'), /at most 40 characters/);
    const badChars = await openPage(audience,
      `${room.url}?role=presenter&token=stage-secret&name=${encodeURIComponent('<b>Eve</b>')}`);
    assert.match(await badChars.textContent('#name-message'), /letters, digits, spaces/);
    await badChars.fill('#name-input', 'Eve');
    await Promise.all([badChars.waitForURL(/name=Eve/), badChars.click('#name-form button[type=submit]')]);
    await waitFor(badChars, () => window.room.state === 'joined' && window.room.name === 'Eve');
    await tooLong.close();
    await badChars.close();

    const seconds = (Date.now() - started) / 1000;
    console.log(`# show-looks took ${seconds.toFixed(1)} s`);
  } catch (e) {
    const log = path.join(process.env.ROOMS_BUILD_ROOT, 'meson-logs', 'show-looks-room.log');
    writeFileSync(log, room.output());
    console.log(`# gst-room's output: ${log}`);
    throw e;
  } finally {
    for (const b of browsers) await b.close();
    const { code } = await room.stop();
    assert.equal(code, 0, `gst-room should stop cleanly on Ctrl-C:\n${room.output()}`);
  }
});
