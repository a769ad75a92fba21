// Screenshots of the pages as people see them, for docs/screenshots/: a
// presenter, a viewer and the operator console of the live show (with two
// named presenters and a confetti burst), and a caller of a private call.
// Run by scripts/screenshots.sh, which sets ROOMS_BUILD_ROOT and
// ROOMS_SOURCE_ROOT; uses the browser tests' helpers (tests/e2e/lib.mjs).
import { readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fakeMedia, startRoom, launchBrowser, openPage, waitFor, waitForColours, near }
  from '../tests/e2e/lib.mjs';

const source = process.env.ROOMS_SOURCE_ROOT;
const out = path.join(source, 'docs', 'screenshots');
mkdirSync(out, { recursive: true });
const room = (name) => readFileSync(path.join(source, 'docs', 'rooms', `${name}.ini`), 'utf8')
  .replace(/^listen=.*$/m, '');
const size = { width: 1280, height: 720 };

async function shoot(page, name) {
  await page.setViewportSize(size);
  await page.waitForTimeout(300);
  const file = path.join(out, `${name}.png`);
  await page.screenshot({ path: file });
  console.log(`wrote ${path.relative(source, file)}`);
}

async function liveShow() {
  const red = fakeMedia('red', 0xd03030, 500);
  const blue = fakeMedia('blue', 0x3050d0, 1300);
  const show = await startRoom(room('live-show'));
  const browsers = [];
  try {
    browsers.push(await launchBrowser(red), await launchBrowser(blue), await launchBrowser(null));
    const presenters = [];
    for (const [i, name] of [[0, 'Ann Red'], [1, 'Bob Blue']]) {
      const page = await openPage(browsers[i],
        `${show.url}?role=presenter&token=stage-secret&name=${encodeURIComponent(name)}`);
      await waitFor(page, () => window.room.connectionState === 'connected');
      presenters.push(page);
    }
    const viewer = await openPage(browsers[2], `${show.url}?role=viewer`);
    await waitFor(viewer, () => window.room.connectionState === 'connected');
    await waitForColours(viewer, [[0.25, 0.5], [0.75, 0.5]],
      ([l, r]) => near(l, 0xd03030) && near(r, 0x3050d0));
    const console_ = await openPage(browsers[2],
      `${show.url}console.html?role=operator&token=console-secret`);
    await waitFor(console_, () => window.show && window.show.presenters.length === 2);
    for (const emote of ['clap', 'heart']) {
      await viewer.click(`#emote-buttons [data-emote="${emote}"]`);
      await viewer.waitForTimeout(600);
    }
    await shoot(viewer, 'viewer');
    await shoot(console_, 'console');
    await viewer.click('#emote-buttons [data-emote="confetti"]');
    await waitFor(presenters[0], () => document.querySelectorAll('#confetti i').length > 0);
    await presenters[0].waitForTimeout(900);
    await shoot(presenters[0], 'presenter');
  } finally {
    for (const b of browsers) await b.close();
    await show.stop();
  }
}

async function privateCall() {
  const green = fakeMedia('green', 0x30a050, 700);
  const magenta = fakeMedia('magenta', 0xa040a0, 1900);
  const call = await startRoom(room('private-call'));
  const browsers = [];
  try {
    browsers.push(await launchBrowser(green), await launchBrowser(magenta));
    const pages = [];
    for (const b of browsers) {
      const page = await openPage(b, `${call.url}?role=caller`);
      await waitFor(page, () => window.room.connectionState === 'connected');
      pages.push(page);
    }
    await waitForColours(pages[0], [[0.5, 0.5]], ([c]) => near(c, 0xa040a0));
    await shoot(pages[0], 'private-call');
  } finally {
    for (const b of browsers) await b.close();
    await call.stop();
  }
}

await liveShow();
await privateCall();
process.exit(0);
