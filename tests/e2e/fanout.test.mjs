// The live show's viewers through webrtcfanoutsink, in Chromium: they
// decode the program, DTLS-SRTP is AES-GCM, a viewer that loses packets
// gets them again by NACK, threads do not grow with viewers, and a
// third-party WHEP player (whip-whep from npm) watches the room's WHEP URL.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fakeMedia, startRoom, launchBrowser, openPage, waitFor, waitForColours, near,
  procStats, scaled } from './lib.mjs';

const RED = 0xff0000;
const here = path.dirname(fileURLToPath(import.meta.url));
const centre = [[0.5, 0.5]];

const roomText = readFileSync(path.join(process.env.ROOMS_SOURCE_ROOT, 'docs/rooms/live-show.ini'),
  'utf8')
  .replace(/^listen=.*$/m, '')
  .replace(/width=1280 height=720/g, 'width=640 height=360')
  .replace(/width=640,height=360/, 'width=320,height=180')
  .replace(/target-bitrate=2500000/, 'target-bitrate=800000')
  // one rendition: the lossy viewer below tests retransmission on its rung,
  // not the ladder taking it down (quality.test.mjs tests the ladder)
  .replace(/^ladder=.*$/m, '');

// What the page's RTCPeerConnection says of its transport and its video.
async function pageStats(page, pcExpression = 'window.room.pc') {
  return page.evaluate(async (expr) => {
    // eslint-disable-next-line no-eval
    const pc = eval(expr);
    const out = { cipher: null, video: null };
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'transport' && s.srtpCipher) out.cipher = s.srtpCipher;
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.video = { framesDecoded: s.framesDecoded, nackCount: s.nackCount,
          packetsLost: s.packetsLost, packetsReceived: s.packetsReceived,
          framesDropped: s.framesDropped, pliCount: s.pliCount,
          keyFramesDecoded: s.keyFramesDecoded };
      }
    });
    return out;
  }, pcExpression);
}

test('viewers of the live show, through the fan-out and over WHEP', async () => {
  const room = await startRoom(roomText);
  const presenterBrowser = await launchBrowser(fakeMedia('red', RED, 440));
  const browser = await launchBrowser(null);
  try {
    await openPage(presenterBrowser, `${room.url}?role=presenter&token=stage-secret&name=Ann`);
    const console_ = await openPage(browser, `${room.url}console.html?role=operator&token=console-secret`);
    const viewers = [];
    for (let i = 0; i < 2; i++) viewers.push(await openPage(browser, `${room.url}?role=viewer`));
    for (const page of viewers) await waitForColours(page, centre, ([c]) => near(c, RED));
    await waitForColours(console_, centre, ([c]) => near(c, RED));

    // DTLS-SRTP as the fan-out negotiates it: AES-GCM first
    const stats = await pageStats(viewers[0]);
    assert.equal(stats.cipher, 'SRTP_AEAD_AES_128_GCM');
    assert.ok(stats.video.framesDecoded > 0);

    // Threads do not grow with viewers (a webrtcbin viewer costs about 8).
    const before = procStats(room.proc.pid).threads;
    for (let i = 0; i < 4; i++) viewers.push(await openPage(browser, `${room.url}?role=viewer`));
    for (const page of viewers.slice(2)) await waitForColours(page, centre, ([c]) => near(c, RED));
    const after = procStats(room.proc.pid).threads;
    assert.ok(after - before <= 2, `threads went from ${before} to ${after} for 4 more viewers`);

    // One viewer loses a fifth of its packets: its browser asks again (NACK),
    // the fan-out answers from its history, and the picture stays right.
    const lossy = viewers[1];
    const lossyPeer = await lossy.evaluate(() => window.room.peer);
    const start = await pageStats(lossy);
    await console_.evaluate((peer) => window.roomSend({ type: 'debug-viewer-loss', peer,
      percent: 20 }), lossyPeer);
    await lossy.waitForTimeout(scaled(5000));
    await console_.evaluate((peer) => window.roomSend({ type: 'debug-viewer-loss', peer,
      percent: 0 }), lossyPeer);
    const end = await pageStats(lossy);
    const decoded = end.video.framesDecoded - start.video.framesDecoded;
    const nacks = end.video.nackCount - start.video.nackCount;
    const dropped = end.video.framesDropped - start.video.framesDropped;
    const lost = end.video.packetsLost - start.video.packetsLost;
    console.log(`lossy viewer over 5 s: ${decoded} frames decoded, ${nacks} NACKs, ` +
      `${lost} packets lost for good, ${dropped} frames dropped`);
    assert.ok(nacks >= 5, `only ${nacks} NACKs at 20 % loss`);
    assert.ok(lost <= 3, `${lost} packets never recovered`);
    assert.ok(decoded >= scaled(5) * 10, `${decoded} frames in ${scaled(5)} s`);
    await waitForColours(lossy, centre, ([c]) => near(c, RED));
    const errors = await console_.evaluate(() => window.room.errors);
    assert.deepEqual(errors.filter((e) => e.request === 'debug-viewer-loss'), []);

    // A third-party WHEP player on a page of its own origin.
    const whepSource = readFileSync(path.join(here, 'node_modules/whip-whep/whep.js'), 'utf8');
    const player = await browser.newPage();
    await player.setContent('<video id="remote" autoplay muted playsinline></video>');
    await player.addScriptTag({ type: 'module', content: `${whepSource}
      const pc = new RTCPeerConnection();
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.ontrack = (e) => {
        const v = document.getElementById('remote');
        v.srcObject = v.srcObject || new MediaStream();
        v.srcObject.addTrack(e.track);
      };
      window.whepPc = pc;
      window.whepClient = new WHEPClient();
      window.whepClient.view(pc, '${room.url}whep/viewer').then(
        () => { window.whepState = 'viewing'; },
        (e) => { window.whepState = String(e); });
    ` });
    await waitFor(player, () => window.whepState !== undefined);
    assert.equal(await player.evaluate(() => window.whepState), 'viewing');
    await waitForColours(player, centre, ([c]) => near(c, RED));
    const whepStats = await pageStats(player, 'window.whepPc');
    assert.equal(whepStats.cipher, 'SRTP_AEAD_AES_128_GCM');
    await player.evaluate(() => window.whepClient.stop());
    await waitFor(player, () => window.whepPc.connectionState !== 'connected' || true);
    // the viewer is gone from the room: the server logs it and DELETE of it
    // again is a 404
    const deadline = Date.now() + scaled(5000);
    while (!/WHEP viewer .* left|peer \d+ left/.test(room.output()) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }

    // Leave and rejoin, reload, close the tab: the page's own buttons.
    const v = viewers[2];
    await v.click('#leave');
    await waitFor(v, () => window.room.state === 'left' || window.room.state === 'closed');
    await v.reload();
    await waitForColours(v, centre, ([c]) => near(c, RED));
    await viewers[3].close();
    await waitForColours(viewers[0], centre, ([c]) => near(c, RED));
  } finally {
    await browser.close();
    await presenterBrowser.close();
    const result = await room.stop();
    assert.equal(result.code, 0, room.output());
  }
});

test('WHEP refuses bad requests with clear statuses', async () => {
  const room = await startRoom(roomText.replace(/(\[role viewer\][^[]*)max-peers=1000/,
    '$1max-peers=1\ntoken=viewer-secret-token'));
  try {
    const url = `${room.url}whep/viewer`;
    const auth = { Authorization: 'Bearer viewer-secret-token' };
    let r = await fetch(url, { method: 'OPTIONS' });
    assert.equal(r.status, 204);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.match(r.headers.get('accept-post'), /application\/sdp/);
    r = await fetch(url, { method: 'POST', body: 'v=0', headers: { 'Content-Type': 'application/sdp' } });
    assert.equal(r.status, 401, 'no bearer token');
    r = await fetch(url, { method: 'POST', body: 'v=0', headers: { ...auth, 'Content-Type': 'text/plain' } });
    assert.equal(r.status, 415);
    r = await fetch(url, { method: 'POST', body: 'garbage', headers: { ...auth, 'Content-Type': 'application/sdp' } });
    assert.equal(r.status, 400);
    assert.ok((await r.text()).length > 0, 'a reason in the body');
    r = await fetch(`${url}/no-such-session`, { method: 'DELETE', headers: auth });
    assert.equal(r.status, 404);
    r = await fetch(`${url}/no-such-session`, { method: 'PATCH', body: 'a=end-of-candidates',
      headers: { ...auth, 'Content-Type': 'application/trickle-ice-sdpfrag' } });
    assert.equal(r.status, 404);
    r = await fetch(`${room.url}whep/presenter`, { method: 'POST', body: 'v=0', headers: auth });
    assert.equal(r.status, 404, 'a role that sends has no WHEP');
    r = await fetch(url, { method: 'GET', headers: auth });
    assert.equal(r.status, 405);
    // the room still serves its pages
    r = await fetch(room.url);
    assert.equal(r.status, 200);
  } finally {
    const result = await room.stop();
    assert.equal(result.code, 0, room.output());
  }
});
