// A group call whose media may only go through a TURN relay: coturn is
// started here on loopback, and both gst-room and the browser use relay only.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fakeMedia, startRoom, launchBrowser, openPage, waitFor, waitForColours, near, tmp,
  freePort } from './lib.mjs';

const ORANGE = 0xff8000;

test('media flows through a TURN relay only', async () => {
  const turnPort = await freePort();
  const turn = spawn('turnserver', ['-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1',
    `--listening-port=${turnPort}`, '--min-port=49152', '--max-port=49352',
    '--lt-cred-mech', '--user=room:secret', '--realm=gst-rooms', '--allow-loopback-peers',
    '--no-cli', '--no-tls', '--no-dtls', '--no-tcp-relay', `--pidfile=${tmp}/turn.pid`,
    '--log-file=stdout', '--simple-log'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let turnLog = '';
  turn.stdout.on('data', (d) => { turnLog += d; });
  turn.stderr.on('data', (d) => { turnLog += d; });
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(turn.exitCode, null, `coturn did not start:\n${turnLog}`);

  const roomText = readFileSync(path.join(process.env.ROOMS_SOURCE_ROOT, 'docs/rooms/group-call.ini'), 'utf8')
    .replace(/^listen=.*$/m, '')
    .replace('[room]', `[room]\nice-servers=turn://room:secret@127.0.0.1:${turnPort}\nice-transport-policy=relay`);
  const room = await startRoom(roomText);
  const browser = await launchBrowser(fakeMedia('orange', ORANGE, 600));
  try {
    const page = await openPage(browser, `${room.url}?role=participant`);
    await waitFor(page, () => window.room && window.room.connectionState === 'connected', 30000);
    await waitForColours(page, [[0.5, 0.5]], ([c]) => near(c, ORANGE));
    // The selected pair really is a relayed one.
    const types = await page.evaluate(async () => {
      const stats = await window.room.pc.getStats();
      let pair = null;
      stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
      return pair ? [stats.get(pair.localCandidateId).candidateType,
                     stats.get(pair.remoteCandidateId).candidateType] : null;
    });
    assert.ok(types && types.includes('relay'), `selected pair: ${JSON.stringify(types)}`);
    assert.match(turnLog, /session|allocation|ALLOCATE/i, 'coturn saw the allocation');
  } finally {
    await browser.close();
    await room.stop();
    turn.kill('SIGTERM');
  }
});
