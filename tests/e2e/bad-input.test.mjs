// Bad input on the signalling channel gets an error reply and changes nothing
// else; a room file with errors is refused before anything starts.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startRoom, launchBrowser, tmp, gstEnv, gstRoomPath, checkSanitizers } from './lib.mjs';

const run = promisify(execFile);
const roomText = readFileSync(path.join(process.env.ROOMS_SOURCE_ROOT, 'docs/rooms/group-call.ini'),
  'utf8').replace(/^listen=.*$/m, '') + '\n[role operator]\nhub=stage\nsend=none\ntoken=s3cret\n';

// Sends raw frames over a WebSocket from the page and collects the replies.
async function exchange(page, url, frames, waitMs = 1500) {
  return page.evaluate(async ([u, fs, w]) => {
    const ws = new WebSocket(u);
    const replies = [];
    let closed = null;
    ws.onmessage = (e) => replies.push(JSON.parse(e.data));
    ws.onclose = (e) => { closed = { code: e.code, reason: e.reason }; };
    await new Promise((r) => { ws.onopen = r; });
    for (const f of fs) ws.send(f);
    await new Promise((r) => setTimeout(r, w));
    if (ws.readyState === WebSocket.OPEN) ws.close();
    return { replies, closed };
  }, [url, frames, waitMs]);
}

test('malformed signalling messages get error replies', async () => {
  const room = await startRoom(roomText);
  const browser = await launchBrowser(null);
  try {
    const page = await browser.newPage();
    await page.goto(room.url + 'room.css');
    const ws = `ws://127.0.0.1:${room.port}/ws`;
    const { replies } = await exchange(page, ws, [
      '{not json', '[1,2]', '{"no":"type"}', '{"type":"dance"}',
      '{"type":"join","role":"operator","token":"wrong"}',
      '{"type":"join","role":"nobody"}',
      '{"type":"answer","sdp":"garbage"}',
      'x'.repeat(100 * 1024),
    ]);
    const codes = replies.map((r) => r.code);
    assert.deepEqual(codes, ['bad-message', 'bad-message', 'bad-message', 'unknown-type',
      'forbidden', 'unknown-role', 'not-joined', 'too-large'], JSON.stringify(replies));
    for (const r of replies) {
      assert.equal(r.type, 'error');
      assert.ok(r.message.length > 5, `error replies say what is wrong: ${JSON.stringify(r)}`);
    }

    // A flood closes the connection (policy violation); the server lives on.
    const flood = Array.from({ length: 400 }, () => '{"type":"dance"}');
    const { closed } = await exchange(page, ws, flood);
    assert.ok(closed && closed.code === 1008, `flood closes with 1008: ${JSON.stringify(closed)}`);
    const again = await exchange(page, ws, ['{"type":"dance"}'], 500);
    assert.equal(again.replies[0].code, 'unknown-type', 'the server still answers after a flood');

    // Only files of the web folder are served.
    const traversal = await page.evaluate(async (u) => (await fetch(u)).status,
      `${room.url}..%2F..%2Fetc%2Fpasswd`);
    assert.ok(traversal === 404 || traversal === 400, `traversal refused: ${traversal}`);
  } finally {
    await browser.close();
    const { code } = await room.stop();
    assert.equal(code, 0, room.output());
  }
});

test('a room file with errors is refused with file, line and reason', async () => {
  const cases = [
    ['[room]\nlisten=127.0.0.1:1\n[pipeline p]\nlaunch=mcucompositor name=stage ! nosuchelement\n[role r]\nhub=stage\n',
      /bad\.ini:4: \[pipeline p\] launch: no element "nosuchelement"/],
    ['[room]\n[pipeline p]\nlaunch=fakesrc ! fakesink\n[role r]\nhub=stage\n',
      /bad\.ini:4: \[role r\] hub: no element named 'stage'/],
    ['[room]\nlisten=nowhere\n', /bad\.ini:2: \[room\] listen: 'nowhere' is not HOST:PORT/],
    ['[room]\nthis line is wrong\n', /bad\.ini:2: /],
    ['[room]\n[pipeline p]\nlaunch=mcucompositor name=s ! fakesink\n[role r]\nhub=s\nmax-peers=lots\n',
      /bad\.ini:6: \[role r\] max-peers: 'lots' is not a number/],
    ['[room]\n[show]\nprogram=s\n[pipeline p]\nlaunch=mcucompositor name=s ! fakesink\n[role r]\nhub=s\n',
      /bad\.ini:2: \[show\] program: 's' is a mcucompositor; it must name a dispatcher/],
    ['[room]\n[show]\nprogram=d\nsize=big\n[pipeline p]\nlaunch=dispatcher name=d ! fakesink\n[role r]\nhub=d\n',
      /bad\.ini:4: \[show\] size: unknown key 'size'/],
    ['[room]\n[pipeline p]\nlaunch=dispatcher name=d ! fakesink\n[role r]\nhub=d\nrtp-media=video\n',
      /bad\.ini:6: \[role r\] rtp-media: needs an rtp-hub/],
    ['[room]\n[pipeline p]\nlaunch=mcucompositor name=s ! fakesink\n[role r]\nsend=none\nrtp-hub=s\n',
      /bad\.ini:4: \[role r\] rtp-hub: 's' is a mcucompositor; it must name a dispatcher/],
    // [recording] and pipeline lifecycles (issue 14)
    ['[room]\n[recording]\nrecord=program\n[pipeline p]\nlaunch=dispatcher name=d ! fakesink\n[role r]\nhub=d\n',
      /bad\.ini:2: \[recording\] folders: missing/],
    ['[room]\n[recording]\nfolders=/tmp\nrecord=everything\n[pipeline p]\nlaunch=dispatcher name=d ! fakesink\n[role r]\nhub=d\n',
      /bad\.ini:4: \[recording\] record: 'everything' is not program, participants or none/],
    ['[room]\n[recording]\nfolders=/tmp\nformat=avi\n[pipeline p]\nlaunch=dispatcher name=d ! fakesink\n[role r]\nhub=d\n',
      /bad\.ini:4: \[recording\] format: 'avi' is not webm or mp4/],
    ['[room]\n[recording]\nfolders=/tmp\nrecord=program\n[pipeline p]\nlaunch=dispatcher name=d ! fakesink\n[role r]\nhub=d\n',
      /bad\.ini:2: \[recording\] record=program: no element named 'program_rtp'/],
    ['[room]\n[pipeline p]\nlaunch=dispatcher name=d ! fakesink\nstart=sometimes\n[role r]\nhub=d\n',
      /bad\.ini:4: \[pipeline p\] start: 'sometimes' is not always, on-demand or manual/],
    ['[room]\n[pipeline p]\nlaunch=dispatcher name=d ! fakesink\nrestart=always\n[role r]\nhub=d\n',
      /bad\.ini:4: \[pipeline p\] restart: 'always' is not never or on-error/],
    // a role's quality ladder (issue 16; every parse error: tests/check/tools/roomfile.cpp)
    ['[room]\n[pipeline p]\nlaunch=dispatcher name=d ! fakesink\n[role r]\nsend=none\nladder=hd:d\n',
      /bad\.ini:6: \[role r\] ladder: a ladder has at least two rungs/],
    ['[room]\n[pipeline p]\nlaunch=dispatcher name=d ! fakesink\n[role r]\nsend=none\nladder=hd:d;sd:nosuch\n',
      /bad\.ini:4: \[role r\] ladder: no element named 'nosuch' in any \[pipeline\]/],
  ];
  for (const [text, expected] of cases) {
    const file = path.join(tmp, 'bad.ini');
    writeFileSync(file, text);
    const result = await run(gstRoomPath, [file], { env: gstEnv }).then(() => null, (e) => e);
    assert.ok(result, `gst-room must refuse:\n${text}`);
    checkSanitizers(result.stderr);
    assert.equal(result.code, 2);
    assert.match(result.stderr, expected);
  }
});
