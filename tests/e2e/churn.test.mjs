// Churn: 300 viewer and 100 presenter join/leave cycles against a live show,
// leaving in every way people leave (the Leave button or message, a tab
// closed, a process killed, a client frozen with no FIN), then the room must
// still be alive and come back to where it was: threads and file descriptors
// to their baseline (small stated slack), every hub pad released, resident
// memory grown by less than a stated bound.  Figures are printed per cycle.
//
// Most cycles are light clients (signalling only, in this process; or
// tests/e2e/roomclient.py, a webrtcbin client whose media really flows, which
// is what gets killed and frozen); a few are the real page in Chromium.
//
// ROOMS_CHURN_SKIP=message,freeze (a comma list of leave ways: message,
// close, destroy, freeze) leaves some ways out (frozen clients are killed
// instead): only to measure a build that crashes on one or never drops them.
import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startRoom, killTracked } from './lib.mjs';
import { churnRoomText, startMonitor, sample, describe, churn, settle } from './churn-lib.mjs';

// What "back to baseline" allows: GLib and GStreamer keep a few idle pool
// threads (and their wakeup fds) for a while; glibc keeps freed memory in
// its per-thread arenas.  Hub pads have no slack.
const THREAD_SLACK = 3;
const FD_SLACK = 6;
const RSS_BOUND_MIB = 24;
const SETTLE_MS = 30000; // frozen peers dropped (~10 s), idle pool threads ended
const BUDGET_MS = 240000; // the churn itself; the test's own limit is in meson.build

const VIEWERS = { light: 210, pyMessage: 25, pyClose: 25, pyKill: 15, pyFreeze: 5, chromium: 20 };
const PRESENTERS = { light: 50, pyMessage: 15, pyClose: 12, pyKill: 10, pyFreeze: 3, chromium: 10 };
const sum = (c) => Object.values(c).reduce((a, b) => a + b, 0);
assert.equal(sum(VIEWERS), 300);
assert.equal(sum(PRESENTERS), 100);

test('churn: 300 viewers and 100 presenters join and leave a live show', { timeout: 420000 }, async () => {
  const skip = (process.env.ROOMS_CHURN_SKIP || '').split(',').filter(Boolean);
  const room = await startRoom(churnRoomText());
  let died = null;
  room.proc.on('exit', (code, signal) => { died = signal || `exit ${code}`; });
  const frozen = [];
  let monitor = null;
  const started = Date.now();
  const lines = [];
  const log = (line) => { lines.push(line); console.log(line); };
  try {
    monitor = await startMonitor(room);
    // Warm up: plugins loaded, pools and caches made, one of each way.
    const warm = await Promise.all([
      churn(room, 'viewer', { light: 6, pyMessage: 1, pyClose: 1, pyKill: 1 }, { skip, shouldStop: () => !!died, onCycle() {} }),
      churn(room, 'presenter', { light: 3, pyMessage: 1, pyKill: 1 }, { skip, shouldStop: () => !!died, onCycle() {} }),
    ]);
    assert.equal(died, null, `gst-room died during the warm-up (${died})`);
    for (const w of warm) if (w.errors.length) throw w.errors[0];
    const quiet = await settle(room, monitor, (s) => s.presenters === 0 && s.viewers === 0, 15000);
    await new Promise((r) => setTimeout(r, 3000));
    await monitor.fresh();
    const base = sample(room, monitor);
    log(`# baseline after warm-up: ${describe(base)} (was ${describe(quiet)})`);

    let cycle = 0;
    const perKind = {};
    const onCycle = (role, way) => {
      cycle++;
      const key = `${role} ${way}`;
      perKind[key] = (perKind[key] || 0) + 1;
      log(`# cycle ${cycle} ${key}: ${describe(sample(room, monitor))}`);
    };
    const shouldStop = () => !!died || Date.now() - started > BUDGET_MS;
    for (const [role, counts] of [['viewer', VIEWERS], ['presenter', PRESENTERS]]) {
      const phaseStart = Date.now();
      const before = sample(room, monitor);
      const cyclesBefore = cycle;
      const { frozen: f, errors } = await churn(room, role, counts, { onCycle, shouldStop, skip });
      frozen.push(...f);
      assert.equal(died, null, `gst-room died after ${cycle} cycles (${died}); last figures above`);
      if (errors.length) throw errors[0];
      assert.ok(Date.now() - started <= BUDGET_MS, `the churn took over ${BUDGET_MS / 1000} s`);
      const after = sample(room, monitor);
      const n = cycle - cyclesBefore;
      log(`# ${role} phase: ${n} cycles in ${((Date.now() - phaseStart) / 1000).toFixed(0)} s; `
        + `per cycle: rss ${((after.rss - before.rss) / n).toFixed(1)} KiB, `
        + `threads ${((after.threads - before.threads) / n).toFixed(2)}, fds ${((after.fds - before.fds) / n).toFixed(2)} `
        + '(frozen peers still counted)');
    }
    log(`# cycles by kind: ${JSON.stringify(perKind)}`);

    // Frozen clients stay frozen: the room has to drop them by itself.
    const back = (s) => s.presenters === 0 && s.viewers === 0
      && s.threads <= base.threads + THREAD_SLACK && s.fds <= base.fds + FD_SLACK
      && JSON.stringify(s.pads) === JSON.stringify(base.pads);
    const end = await settle(room, monitor, back, SETTLE_MS);
    log(`# after the churn and ${SETTLE_MS / 1000} s at most to settle: ${describe(end)}`);
    const grown = (end.rss - base.rss) / 1024;
    log(`# per cycle over ${cycle} cycles: rss ${((end.rss - base.rss) / cycle).toFixed(1)} KiB, `
      + `threads ${((end.threads - base.threads) / cycle).toFixed(3)}, fds ${((end.fds - base.fds) / cycle).toFixed(3)}`);

    assert.equal(died, null, `gst-room died (${died})`);
    assert.equal(end.presenters, 0, `frozen presenters still hold their slots: ${describe(end)}`);
    assert.equal(end.viewers, 0, `frozen viewers are still peers: ${describe(end)}`);
    assert.deepEqual(end.pads, base.pads, 'every hub pad is released');
    assert.ok(end.threads <= base.threads + THREAD_SLACK,
      `threads back to the baseline ${base.threads} (+${THREAD_SLACK}): ${end.threads}`);
    assert.ok(end.fds <= base.fds + FD_SLACK, `fds back to the baseline ${base.fds} (+${FD_SLACK}): ${end.fds}`);
    assert.ok(grown < RSS_BOUND_MIB, `RSS grew ${grown.toFixed(1)} MiB over ${cycle} cycles (bound ${RSS_BOUND_MIB} MiB)`);
  } catch (e) {
    const file = path.join(process.env.ROOMS_BUILD_ROOT, 'meson-logs', 'churn-room.log');
    writeFileSync(file, `${room.output()}\n---- figures ----\n${lines.join('\n')}\n`);
    console.log(`# gst-room's output and the figures: ${file}`);
    throw e;
  } finally {
    for (const c of frozen) c.signal('SIGKILL');
    if (monitor) monitor.stop();
    killTracked();
    if (!died) await room.stop();
  }
});
