// Churn and soak of a live show: participants joining and leaving in every
// way people leave, while the room's process figures (RSS, threads, fds) and
// its hubs' pads are sampled.  Used by churn.test.mjs and scripts/soak.sh.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fakeMedia, launchBrowser, openPage, waitFor, procStats, spawnRoomClient,
  lightCycle, signalBrowser } from './lib.mjs';

// Tokens of our own: the example ones are placeholders a room may refuse.
export const tokens = { presenter: randomBytes(9).toString('hex'), operator: randomBytes(9).toString('hex') };

// The reference room, small and cheap (a 320x180 15 fps program), with room
// for a few presenters that froze while others come and go.
export function churnRoomText({ maxPresenters = 12 } = {}) {
  return readFileSync(path.join(process.env.ROOMS_SOURCE_ROOT, 'docs/rooms/live-show.ini'), 'utf8')
    .replace(/^listen=.*$/m, '')
    .replace(/width=1280 height=720 framerate=30\/1/g, 'width=320 height=180 framerate=15/1')
    .replace(/width=640,height=360/, 'width=160,height=90')
    .replace(/target-bitrate=2500000/, 'target-bitrate=300000')
    .replace(/^token=stage-secret$/m, `token=${tokens.presenter}`)
    .replace(/^token=console-secret$/m, `token=${tokens.operator}`)
    .replace(/^max-peers=4$/m, `max-peers=${maxPresenters}`); // the presenters' (first) max-peers
}

// An operator that stays (a webrtcbin client that answers, so no join
// timeout ever reaps it) and keeps the show's last state: its health carries
// the hubs' pad counts.
export async function startMonitor(room) {
  const client = spawnRoomClient(room.url, ['--role', 'operator', '--token', tokens.operator,
    '--leave', 'hold', '--print-show']);
  await client.waitEvent('connected', 30000);
  await client.waitEvent((e) => e.event === 'show' && e.state.health && e.state.health.pads, 10000);
  return {
    client,
    // the last show message
    state() {
      // Stale figures would hide what they are meant to show.
      if (client.proc.exitCode !== null || client.proc.signalCode !== null) {
        throw new Error(`the monitoring operator left the room: ${JSON.stringify(client.events.slice(-3))}`);
      }
      for (let i = client.events.length - 1; i >= 0; i--) {
        if (client.events[i].event === 'show') return client.events[i].state;
      }
      return null;
    },
    // a show message newer than now
    async fresh(timeout = 5000) {
      const n = client.events.length;
      return (await client.waitEvent((e) => e.event === 'show' && client.events.indexOf(e) >= n, timeout)).state;
    },
    stop() { client.signal('SIGKILL'); },
  };
}

export function sample(room, monitor) {
  const stats = procStats(room.proc.pid);
  const state = monitor && monitor.state();
  return {
    ...(stats || { rss: NaN, threads: NaN, fds: NaN }),
    pads: state && state.health && state.health.pads ? state.health.pads : null,
    presenters: state ? state.presenters.length : NaN,
    viewers: state ? state.viewers : NaN,
  };
}

export function describe(s) {
  const pads = s.pads ? Object.entries(s.pads).map(([k, v]) => `${k}=${v}`).join(',') : '?';
  return `rss ${(s.rss / 1024).toFixed(1)} MiB, threads ${s.threads}, fds ${s.fds}, pads ${pads}, `
    + `presenters ${s.presenters}, viewers ${s.viewers}`;
}

// Runs churn streams for one role.  Every stream is a bounded sequence of
// cycles; they run side by side.  `counts` says how many cycles of each kind:
//   light: signalling-only clients (half of them answer), leaving by
//          message / clean close / torn-down socket in turn;
//   pyMessage, pyClose: real webrtcbin clients (media flows) leaving by the
//          Leave message / by closing the socket, one process for all;
//   pyKill: a webrtcbin client per cycle, killed with -9 once connected;
//   pyFreeze: a webrtcbin client per cycle, SIGSTOPped once connected (no
//          FIN; left frozen, for the server to drop it);
//   chromium: the real page in Chromium, leaving by its Leave button, by a
//          reload (leave and join again) and by closing the tab, in turn.
// onCycle(kind, way) is called after each cycle; shouldStop() ends all
// streams early (the room died, or time is up).  Frozen clients are returned
// so the caller kills them once it has seen what the room did with them.
export async function churn(room, role, counts, { onCycle, shouldStop = () => false, skip = [] } = {}) {
  const token = role === 'presenter' ? tokens.presenter : '';
  const roleArgs = ['--role', role, ...(token ? ['--token', token] : [])];
  const frozen = [];
  const errors = [];
  const guard = async (fn) => {
    try { await fn(); } catch (e) { if (!shouldStop()) errors.push(e); }
  };
  const streams = [];

  if (counts.light) {
    streams.push(guard(async () => {
      const ways = ['message', 'close', 'destroy'].filter((w) => !skip.includes(w));
      for (let i = 0; i < counts.light && !shouldStop(); i++) {
        const leave = ways[i % ways.length];
        const answer = Math.floor(i / ways.length) % 2 === 1;
        await lightCycle(room.url, { role, token, answer, leave });
        onCycle(role, `light/${leave}${answer ? '+answer' : ''}`);
      }
    }));
  }

  for (const [key, leave] of [['pyMessage', 'message'], ['pyClose', 'close']]) {
    if (!counts[key] || skip.includes(leave)) continue;
    streams.push(guard(async () => {
      const client = spawnRoomClient(room.url, [...roleArgs, '--leave', leave, '--hold', '0.3',
        '--cycles', String(counts[key]), '--timeout', '20']);
      for (let done = 0; done < counts[key] && !shouldStop(); done++) {
        const e = await client.waitEvent((x) => (x.event === 'done' || x.event === 'error') && !x.counted, 30000);
        e.counted = true;
        if (e.event === 'error') throw new Error(`${role} webrtcbin client (${leave}): ${e.message}`);
        onCycle(role, `webrtcbin/${leave}`);
      }
      client.signal('SIGKILL');
    }));
  }

  if (counts.pyKill || counts.pyFreeze) {
    streams.push(guard(async () => {
      // the frozen ones spread over the run
      // (skip 'freeze': killed instead, to measure a build that never drops them)
      const kills = (counts.pyKill || 0) + (skip.includes('freeze') ? counts.pyFreeze || 0 : 0);
      const freezes = skip.includes('freeze') ? 0 : counts.pyFreeze || 0;
      const order = [];
      for (let i = 0, f = 0; i < kills + freezes; i++) {
        const freezeAt = f < freezes ? Math.floor(((f + 0.5) * (kills + freezes)) / freezes) : -1;
        if (i === freezeAt) { order.push('freeze'); f++; } else order.push('kill');
      }
      for (const what of order) {
        if (shouldStop()) break;
        const client = spawnRoomClient(room.url, [...roleArgs, '--leave', 'hold']);
        try {
          await client.waitEvent('connected', 20000);
        } catch (e) {
          client.signal('SIGKILL');
          throw e;
        }
        if (what === 'kill') {
          client.signal('SIGKILL');
          await client.exited;
          onCycle(role, 'webrtcbin/kill-9');
        } else {
          client.signal('SIGSTOP');
          frozen.push(client);
          onCycle(role, 'webrtcbin/sigstop');
        }
      }
    }));
  }

  if (counts.chromium) {
    streams.push(guard(async () => {
      const media = role === 'presenter' ? fakeMedia(`churn-${role}`, 0x20c040, 900) : null;
      const browser = await launchBrowser(media);
      try {
        const url = `${room.url}?role=${role}${token ? `&token=${token}` : ''}&name=Chromium`;
        let page = null;
        // the Leave button sends the Leave message
        const ways = ['button', 'reload', 'close'].filter((w) => !(w === 'button' && skip.includes('message')));
        for (let i = 0; i < counts.chromium && !shouldStop(); i++) {
          const way = ways[i % ways.length];
          if (!page) page = await openPage(browser, url);
          await waitFor(page, () => window.room && window.room.connectionState === 'connected', undefined, 20000);
          if (way === 'button') {
            await page.click('#leave');
            await waitFor(page, () => window.room.state === 'left', undefined, 10000);
            await page.close();
            page = null;
          } else if (way === 'reload') {
            await page.reload(); // leaves by navigating away, and joins again
          } else {
            await page.close();
            page = null;
          }
          onCycle(role, `chromium/${way}`);
        }
        if (page) await page.close();
      } finally {
        await browser.close();
      }
    }));
  }

  await Promise.all(streams);
  return { frozen, errors };
}

// Polls until check(sample) holds or timeout; returns the last sample.
export async function settle(room, monitor, check, timeout) {
  const deadline = Date.now() + timeout;
  let s = sample(room, monitor);
  while (!check(s) && Date.now() < deadline && room.proc.exitCode === null) {
    await new Promise((r) => setTimeout(r, 500));
    s = sample(room, monitor);
  }
  return s;
}
