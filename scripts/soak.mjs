// Soak of a live show: the reference room (docs/rooms/live-show.ini, its own
// tokens) with two presenters and five viewers that stay, while viewers and
// presenters join and leave around them in every way people leave (Leave
// message, socket closed, torn down, process killed, process frozen).  Prints
// the room process's RSS, threads and fds, its hubs' pads and the show's CPU
// every --every seconds, and a summary at the end, for docs/benchmarks.md.
// Run through scripts/soak.sh.  Bounded: it stops after --minutes (default
// 30), and everything it started is killed when it ends.
import { parseArgs } from 'node:util';
import { startRoom, killTracked, spawnRoomClient } from '../tests/e2e/lib.mjs';
import { churnRoomText, startMonitor, sample, describe, churn, tokens } from '../tests/e2e/churn-lib.mjs';

const { values: opts } = parseArgs({ options: {
  minutes: { type: 'string', default: '30' },
  short: { type: 'boolean', default: false }, // three minutes
  small: { type: 'boolean', default: false }, // a 320x180 15 fps program instead of 1280x720 30 fps
  every: { type: 'string', default: '10' },
  skip: { type: 'string', default: '' }, // leave ways to leave out: message,close,destroy
  chromium: { type: 'boolean', default: false }, // a few real-page cycles per round too
} });
const minutes = opts.short ? 3 : Number(opts.minutes);
const durationMs = minutes * 60000;
const skip = opts.skip.split(',').filter(Boolean);

let text = churnRoomText();
if (!opts.small) {
  // churnRoomText shrinks the program; the soak runs the room as shipped
  text = text.replace(/width=320 height=180 framerate=15\/1/g, 'width=1280 height=720 framerate=30/1')
    .replace(/target-bitrate=300000/, 'target-bitrate=2000000');
}

const started = Date.now();
const room = await startRoom(text);
let died = null;
room.proc.on('exit', (code, signal) => { died = signal || `exit ${code}`; });
const hardStop = setTimeout(() => { console.log('soak: over time, stopping'); killTracked(); process.exit(3); },
  durationMs + 180000);
const elapsed = () => ((Date.now() - started) / 1000).toFixed(0).padStart(5);
let cycles = 0;
const frozen = [];
const rows = [];
let monitor = null;
let code = 0;
try {
  monitor = await startMonitor(room);
  const stay = [];
  for (const [role, n] of [['presenter', 2], ['viewer', 5]]) {
    for (let i = 0; i < n; i++) {
      const c = spawnRoomClient(room.url, ['--role', role, '--leave', 'hold',
        ...(role === 'presenter' ? ['--token', tokens.presenter, '--colour', i ? '0xff2040c0' : '0xffc04020'] : [])]);
      await c.waitEvent('connected', 30000);
      stay.push(c);
    }
  }
  console.log(`soak: ${room.url} for ${minutes} min, ${opts.small ? '320x180 15 fps' : '1280x720 30 fps'} program, `
    + '2 presenters and 5 viewers staying, churn around them');
  console.log('soak:  time  rss MiB  threads  fds  pads                                        presenters viewers  cpu%  cycles');
  const report = () => {
    const s = sample(room, monitor);
    const state = monitor.state();
    const cpu = state && state.health ? state.health.cpu : NaN;
    rows.push({ t: Date.now() - started, cycles, ...s });
    const pads = s.pads ? Object.entries(s.pads).map(([k, v]) => `${k}=${v}`).join(',') : '?';
    console.log(`soak: ${elapsed()}  ${(s.rss / 1024).toFixed(1).padStart(7)}  ${String(s.threads).padStart(7)}  `
      + `${String(s.fds).padStart(4)}  ${pads.padEnd(42)}  ${String(s.presenters).padStart(10)} `
      + `${String(s.viewers).padStart(7)}  ${String(cpu).padStart(4)}  ${String(cycles).padStart(6)}`);
  };
  report();
  const ticker = setInterval(report, Number(opts.every) * 1000);
  const shouldStop = () => !!died || Date.now() - started > durationMs;
  const onCycle = () => { cycles++; };
  for (let round = 0; !shouldStop(); round++) {
    const results = await Promise.all([
      churn(room, 'viewer', { light: 20, pyClose: 2, pyMessage: 2, pyKill: 1, pyFreeze: round % 3 === 0 ? 1 : 0,
        chromium: opts.chromium ? 3 : 0 }, { onCycle, shouldStop, skip }),
      churn(room, 'presenter', { light: 4, pyClose: 1, pyMessage: 1, pyKill: round % 2, chromium: opts.chromium ? 1 : 0 },
        { onCycle, shouldStop, skip }),
    ]);
    for (const r of results) {
      frozen.push(...r.frozen.map((c) => ({ c, at: Date.now() })));
      for (const e of r.errors) console.log(`soak: a cycle failed: ${e.message.slice(0, 300)}`);
    }
    // frozen clients are left frozen for 30 s (the room should drop them
    // by itself), then killed
    for (const f of frozen.filter((x) => Date.now() - x.at > 30000)) {
      f.c.signal('SIGKILL');
      frozen.splice(frozen.indexOf(f), 1);
    }
  }
  clearInterval(ticker);
  report();
  const steady = rows[rows.length - 1]; // still with the staying clients, as the first row
  for (const f of frozen) f.c.signal('SIGKILL');
  for (const c of stay) c.signal('SIGKILL');
  await new Promise((r) => setTimeout(r, 15000));
  report();
  const first = rows[0];
  const last = rows[rows.length - 1];
  const maxRss = Math.max(...rows.map((r) => r.rss));
  console.log(`soak: ${died ? `gst-room DIED (${died})` : 'gst-room alive'} after ${elapsed().trim()} s and ${cycles} join/leave cycles`);
  console.log(`soak: with the staying clients: RSS ${(first.rss / 1024).toFixed(1)} -> ${(steady.rss / 1024).toFixed(1)} MiB `
    + `(max ${(maxRss / 1024).toFixed(1)}), ${cycles ? ((steady.rss - first.rss) / cycles).toFixed(1) : '?'} KiB per cycle; `
    + `threads ${first.threads} -> ${steady.threads}; fds ${first.fds} -> ${steady.fds}; `
    + `pads ${JSON.stringify(first.pads)} -> ${JSON.stringify(steady.pads)}`);
  console.log(`soak: everybody gone, 15 s later: ${describe(last)}`);
  if (died) code = 1;
} catch (e) {
  console.log(`soak: ${e.stack || e}`);
  code = 2;
} finally {
  clearTimeout(hardStop);
  if (monitor) monitor.stop();
  killTracked();
  if (!died) await room.stop();
}
process.exit(code);
