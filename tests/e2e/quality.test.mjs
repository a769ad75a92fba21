// The live show's quality ladder (720p, 360p, audio-only) in Chromium: a
// viewer's Quality menu pins 360p and its picture becomes 640 wide without a
// freeze while another viewer stays at 1280; back to Auto it returns to 720p
// on a clean link; a choice sent before the viewer's offer is applied once
// it exists; the console counts viewers per rung; bad `quality` messages get
// an error and change nothing.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startRoom, launchBrowser, openPage, waitFor, waitForVideoWidth, scaled } from './lib.mjs';

// The show as written (the renditions' sizes are what is tested), at 15
// frames a second to spare the machine's cores.
const roomText = readFileSync(path.join(process.env.ROOMS_SOURCE_ROOT, 'docs/rooms/live-show.ini'),
  'utf8')
  .replace(/^listen=.*$/m, '')
  .replace(/framerate=30\/1/g, 'framerate=15/1');

// The page's inbound video as Chromium's getStats() reports it.
async function inboundVideo(page) {
  return page.evaluate(async () => {
    let video = null;
    (await window.room.pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        video = { width: s.frameWidth || 0, decoded: s.framesDecoded || 0 };
      }
    });
    return video;
  });
}

// Samples the inbound video every 100 ms for @ms inside the page (or until
// a second after it is @untilWidth wide): [{t, width, decoded}], t in ms of
// performance.now().
function watchVideo(page, ms, untilWidth = 0) {
  return page.evaluate(async ([duration, until]) => {
    const samples = [];
    const start = performance.now();
    let reached = null;
    while (performance.now() - start < duration
           && (reached === null || performance.now() - reached < 1000)) {
      (await window.room.pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') {
          samples.push({ t: performance.now(), width: s.frameWidth || 0,
            decoded: s.framesDecoded || 0 });
          if (reached === null && until && s.frameWidth === until) reached = performance.now();
        }
      });
      await new Promise((r) => setTimeout(r, 100));
    }
    return samples;
  }, [ms, untilWidth]);
}

// The longest time in @samples without a new decoded frame, in ms.
function longestFreeze(samples) {
  let longest = 0;
  let lastNew = samples[0].t;
  for (let i = 1; i < samples.length; i++) {
    if (samples[i].decoded > samples[i - 1].decoded) lastNew = samples[i].t;
    longest = Math.max(longest, samples[i].t - lastNew);
  }
  return longest;
}

// Chooses @value in the page's Quality menu, as a person would; returns the
// page's time of the change.
async function chooseQuality(page, value) {
  await page.evaluate(() => {
    document.getElementById('quality-select').addEventListener('change', () => {
      window.qualityChangedAt = performance.now();
    }, { once: true });
  });
  await page.selectOption('#quality-select', value);
  return page.evaluate(() => window.qualityChangedAt);
}

const qualityErrors = (page) =>
  page.evaluate(() => window.room.errors.filter((e) => e.request === 'quality'));

// Raw frames on a fresh WebSocket from @page; the replies after @waitMs.
async function exchange(page, url, frames, waitMs = 1500) {
  return page.evaluate(async ([u, fs, w]) => {
    const ws = new WebSocket(u);
    const replies = [];
    ws.onmessage = (e) => replies.push(JSON.parse(e.data));
    await new Promise((r) => { ws.onopen = r; });
    for (const f of fs) ws.send(f);
    await new Promise((r) => setTimeout(r, w));
    ws.close();
    return replies;
  }, [url, frames, waitMs]);
}

test('a viewer pins 360p from the Quality menu, goes back to Auto, leaves, reloads, closes the tab', async () => {
  const room = await startRoom(roomText);
  const browser = await launchBrowser(null);
  try {
    const console_ = await openPage(browser,
      `${room.url}console.html?role=operator&token=console-secret`);
    const pinned = await openPage(browser, `${room.url}?role=viewer`);
    const other = await openPage(browser, `${room.url}?role=viewer`);
    for (const page of [pinned, other]) {
      await waitFor(page, () => window.room.rendition === '720p', null, 30000);
      await waitForVideoWidth(page, 1280, 30000);
    }

    // The menu: Auto and the ladder's rungs, showing the rung the room chose.
    const menu = await pinned.evaluate(() => ({
      hidden: document.getElementById('quality').hidden,
      renditions: window.room.renditions,
      options: [...document.querySelectorAll('#quality-select option')]
        .map((o) => [o.value, o.textContent]),
      value: document.getElementById('quality-select').value,
    }));
    assert.equal(menu.hidden, false);
    assert.deepEqual(menu.renditions, ['720p', '360p', 'audio-only']);
    assert.deepEqual(menu.options, [['auto', 'Auto (720p)'], ['720p', '720p'],
      ['360p', '360p'], ['audio-only', 'audio-only']]);
    assert.equal(menu.value, 'auto');
    // the operator has no ladder: no menu
    await waitFor(console_, () => window.room.state === 'joined');
    assert.equal(await console_.evaluate(() => window.room.renditions.length), 0);

    // Bad quality messages get an error and change nothing.
    await pinned.evaluate(() => {
      window.roomSend({ type: 'quality', rendition: '1080p' });
      window.roomSend({ type: 'quality', rendition: 360 });
      window.roomSend({ type: 'quality' });
    });
    await console_.evaluate(() => window.roomSend({ type: 'quality', rendition: '360p' }));
    await waitFor(pinned, () => window.room.errors.filter((e) => e.request === 'quality')
      .length === 3);
    const errors = await qualityErrors(pinned);
    assert.deepEqual(errors.map((e) => e.code), ['bad-request', 'bad-message', 'bad-message'],
      JSON.stringify(errors));
    assert.match(errors[0].message, /auto, 720p, 360p, audio-only/);
    await waitFor(console_, () => window.room.errors.some((e) => e.request === 'quality'));
    const consoleError = (await qualityErrors(console_))[0];
    assert.equal(consoleError.code, 'bad-request');
    assert.match(consoleError.message, /has one rendition/);
    const ws = `ws://127.0.0.1:${room.port}/ws`;
    const early = await exchange(pinned, ws, ['{"type":"quality","rendition":"360p"}'], 500);
    assert.deepEqual(early.map((r) => r.code), ['not-joined']);
    // Joined but not answered yet: a known rung is kept for later (no
    // reply), an unknown one refused at once.
    const beforeOffer = await exchange(pinned, ws, [
      '{"type":"join","role":"viewer"}', '{"type":"quality","rendition":"360p"}',
      '{"type":"quality","rendition":"4k"}'], 1000);
    assert.deepEqual(beforeOffer.filter((r) => r.type === 'error').map((r) => r.code),
      ['bad-request'], JSON.stringify(beforeOffer));
    assert.equal((await inboundVideo(pinned)).width, 1280);
    assert.equal(await pinned.evaluate(() => window.room.rendition), '720p');

    // Pin 360p: 640 wide within 5 s, frames decoded all along.
    const watching = watchVideo(pinned, scaled(7000));
    const otherWatching = watchVideo(other, scaled(7000));
    const changedAt = await chooseQuality(pinned, '360p');
    const samples = await watching;
    const switched = samples.find((s) => s.t > changedAt && s.width === 640);
    assert.ok(switched, `never 640 wide: ${JSON.stringify(samples.slice(-3))}`);
    const switchMs = Math.round(switched.t - changedAt);
    const freeze = Math.round(longestFreeze(samples));
    const decoded = samples.at(-1).decoded - samples[0].decoded;
    console.log(`pinned to 360p: 640 wide after ${switchMs} ms; ${decoded} frames in ` +
      `${Math.round(samples.at(-1).t - samples[0].t)} ms, longest freeze ${freeze} ms`);
    assert.ok(switchMs <= scaled(5000), `640 wide only after ${switchMs} ms`);
    assert.ok(freeze <= scaled(1000), `the picture froze for ${freeze} ms`);
    assert.ok(samples.filter((s) => s.t > switched.t).every((s) => s.width === 640),
      'the pinned viewer stays on 360p');
    const otherSamples = await otherWatching;
    assert.ok(otherSamples.every((s) => s.width === 1280),
      `the other viewer left 1280: ${JSON.stringify(otherSamples.filter((s) => s.width !== 1280))}`);
    assert.ok(otherSamples.at(-1).decoded > otherSamples[0].decoded);
    await waitFor(pinned, () => window.room.rendition === '360p' && window.room.renditionPinned);
    assert.equal(await pinned.evaluate(() => document.getElementById('quality-select').value),
      '360p');

    // The console counts viewers per rung.
    await waitFor(console_, () =>
      document.getElementById('health-renditions').textContent === '720p 1 · 360p 1 · audio-only 0'
      && !document.getElementById('health-renditions').hidden, null, 10000);

    // Back to Auto: on a clean link the room takes it back up to 720p.
    assert.equal((await inboundVideo(pinned)).width, 640, 'still pinned to 360p');
    const returning = watchVideo(pinned, scaled(10000), 1280);
    const autoAt = await chooseQuality(pinned, 'auto');
    const back = await returning;
    const up = back.find((x) => x.t > autoAt && x.width === 1280);
    assert.ok(up, `not 1280 wide 10 s after Auto: ${JSON.stringify(back.slice(-3))}`);
    const upFreeze = Math.round(longestFreeze(back));
    console.log(`back to Auto: 1280 wide after ${Math.round(up.t - autoAt)} ms, ` +
      `longest freeze ${upFreeze} ms`);
    assert.ok(upFreeze <= scaled(1000), `the picture froze for ${upFreeze} ms going up`);
    await waitFor(pinned, () => window.room.rendition === '720p' && !window.room.renditionPinned);
    const auto = await pinned.evaluate(() => ({
      value: document.getElementById('quality-select').value,
      label: document.querySelector('#quality-select option[value="auto"]').textContent,
    }));
    assert.deepEqual(auto, { value: 'auto', label: 'Auto (720p)' });
    const before = await inboundVideo(pinned);
    await pinned.waitForTimeout(1000);
    assert.ok((await inboundVideo(pinned)).decoded > before.decoded, 'frames after Auto');
    await waitFor(console_, () =>
      document.getElementById('health-renditions').textContent === '720p 2 · 360p 0 · audio-only 0',
      null, 10000);
    assert.deepEqual(await qualityErrors(pinned), errors, 'no error from the menu');

    // A choice made before the viewer exists (sent just before its offer)
    // is applied once the room has answered.  Only on the first load: the
    // page reloaded below is a person's, with no choice made.
    const earlyPage = await browser.newPage();
    await earlyPage.addInitScript(() => {
      const send = WebSocket.prototype.send;
      WebSocket.prototype.send = function sendWithQuality(data) {
        if (typeof data === 'string' && data.includes('"type":"offer"')
            && !sessionStorage.getItem('quality-sent')) {
          sessionStorage.setItem('quality-sent', '1');
          send.call(this, JSON.stringify({ type: 'quality', rendition: '360p' }));
        }
        return send.call(this, data);
      };
    });
    await earlyPage.goto(`${room.url}?role=viewer`);
    await waitFor(earlyPage, () => window.room.rendition === '360p' && window.room.renditionPinned,
      null, 30000);
    await waitForVideoWidth(earlyPage, 640, 10000);
    assert.deepEqual(await qualityErrors(earlyPage), []);
    const rungCount = (text) => waitFor(console_, (wanted) =>
      document.getElementById('health-renditions').textContent === wanted, text, 10000);
    await rungCount('720p 2 · 360p 1 · audio-only 0');

    // The pinned viewer presses Leave: it is no longer counted on its rung,
    // and the menu touched afterwards changes nothing and breaks nothing.
    const pageErrors = [];
    earlyPage.on('pageerror', (e) => pageErrors.push(String(e)));
    await earlyPage.click('#leave');
    await waitFor(earlyPage, () => window.room.state === 'left' || window.room.state === 'closed');
    await rungCount('720p 2 · 360p 0 · audio-only 0');
    await earlyPage.selectOption('#quality-select', 'audio-only');
    await earlyPage.waitForTimeout(500);
    assert.equal(await console_.evaluate(() =>
      document.getElementById('health-renditions').textContent), '720p 2 · 360p 0 · audio-only 0');
    // Reload to come back: a new viewer, on Auto (a pin is not remembered).
    await earlyPage.reload();
    await waitFor(earlyPage, () => window.room.rendition === '720p' && !window.room.renditionPinned,
      null, 30000);
    await waitForVideoWidth(earlyPage, 1280, 10000);
    assert.equal(await earlyPage.evaluate(() => document.getElementById('quality-select').value),
      'auto');
    await rungCount('720p 3 · 360p 0 · audio-only 0');
    // Pinned again, then the tab is closed: gone from its rung too, and the
    // others go on.
    await chooseQuality(earlyPage, '360p');
    await waitForVideoWidth(earlyPage, 640, 10000);
    await rungCount('720p 2 · 360p 1 · audio-only 0');
    await earlyPage.close();
    await rungCount('720p 2 · 360p 0 · audio-only 0');
    assert.deepEqual(pageErrors, []);
    const frames = (await inboundVideo(other)).decoded;
    await other.waitForTimeout(1000);
    assert.ok((await inboundVideo(other)).decoded > frames, 'the other viewer goes on');
  } finally {
    await browser.close();
    const { code } = await room.stop();
    assert.equal(code, 0, room.output());
  }
});
