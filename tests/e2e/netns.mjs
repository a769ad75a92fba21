// A network namespace of the test's own, joined to the host by a veth pair,
// whose host-to-namespace direction can be shaped with tc tbf: a viewer's
// browser inside it has a slow downlink, the server and other browsers
// outside do not.  Needs root, ip and tc (iproute2; scripts/setup.sh).
//
//   const ns = createNetns();          // ns.hostAddress, ns.nsAddress
//   const browser = await launchBrowser(null, [], { executablePath: ns.chromium });
//   ns.shape(1000); ... ns.unshape();
//   ns.destroy();                      // also on exit, and safe to call twice
//
// Everything it makes is named after the test's pid (gstr-<pid>), so tests
// running side by side do not meet.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { tmp } from './lib.mjs';

function run(argv) {
  try {
    return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`${argv.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

// Why a namespace cannot be made here, or null.
export function netnsProblem() {
  if (process.getuid && process.getuid() !== 0) {
    return 'the shaped-viewer test makes a network namespace and needs root (run it as root)';
  }
  for (const tool of ['ip', 'tc']) {
    if (!['/usr/sbin', '/sbin', '/usr/bin', '/bin'].some((d) => existsSync(path.join(d, tool)))) {
      return `${tool} is missing: install iproute2 (scripts/setup.sh does)`;
    }
  }
  return null;
}

// The third byte of 10.231.N.0/30: from the pid, the next one no address of
// the host uses yet.
function freeSubnet() {
  const used = run(['ip', '-o', '-4', 'addr', 'show']);
  for (let i = 0; i < 256; i++) {
    const n = (process.pid + i) % 256;
    if (!used.includes(` 10.231.${n}.`)) return n;
  }
  throw new Error('every 10.231.N.0/30 is in use on this host');
}

const live = new Set();
process.on('exit', () => { for (const ns of [...live]) ns.destroy(); });
// meson ends a test that overran with SIGTERM, which skips 'exit' handlers
// unless the signal is handled: handled here, it ends the process the same way.
for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]]) {
  process.once(signal, () => process.exit(code));
}

// What an earlier run killed with SIGKILL left: namespaces of ours whose
// test process is gone, with their veth pairs.
function removeOrphans() {
  for (const line of run(['ip', 'netns', 'list']).split('\n')) {
    const m = line.match(/^gstr-(\d+)\b/);
    if (!m || existsSync(`/proc/${m[1]}`)) continue;
    for (const argv of [['ip', 'link', 'del', `gstr${m[1]}h`], ['ip', 'netns', 'del', `gstr-${m[1]}`]]) {
      try { execFileSync(argv[0], argv.slice(1), { stdio: 'ignore' }); } catch { /* gone */ }
    }
  }
}

export function createNetns() {
  const problem = netnsProblem();
  if (problem) throw new Error(problem);
  removeOrphans();
  const name = `gstr-${process.pid}`;
  // interface names have at most 15 characters; a pid at most 7 digits
  const hostSide = `gstr${process.pid}h`;
  const nsSide = `gstr${process.pid}n`;
  const n = freeSubnet();
  const ns = {
    name, hostSide, nsSide,
    hostAddress: `10.231.${n}.1`,
    nsAddress: `10.231.${n}.2`,
    chromium: path.join(tmp, `chromium-in-${name}`),
    shapedKbit: 0,
    // The host-to-namespace direction (what a server outside sends to a
    // browser inside) at @rateKbit.  tbf's bucket (burst) is 16 kB: about
    // 128 ms at 1 Mbit/s, a few packets of a video frame at once as a real
    // access link lets through, never a whole keyframe.  Its queue holds
    // 200 ms (latency) more, as a home router's would: enough that a
    // stream that fits is never dropped for its keyframes, small enough
    // that one which does not fit soon loses packets, which is what a
    // sender adapting to the link must see.
    shape(rateKbit) {
      run(['tc', 'qdisc', 'replace', 'dev', hostSide, 'root', 'tbf', 'rate', `${rateKbit}kbit`,
        'burst', '16kb', 'latency', '200ms']);
      ns.shapedKbit = rateKbit;
    },
    // Back to the veth's own queue, unlimited.
    unshape() {
      if (ns.shapedKbit === 0) return;
      run(['tc', 'qdisc', 'del', 'dev', hostSide, 'root']);
      ns.shapedKbit = 0;
    },
    // Removes the veth pair, the namespace and nothing else; what is gone
    // already is not an error.
    destroy() {
      live.delete(ns);
      for (const argv of [['ip', 'link', 'del', hostSide], ['ip', 'netns', 'del', name]]) {
        try { execFileSync(argv[0], argv.slice(1), { stdio: 'ignore' }); } catch { /* gone */ }
      }
    },
  };
  live.add(ns);
  try {
    run(['ip', 'netns', 'add', name]);
    run(['ip', 'link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nsSide, 'netns', name]);
    run(['ip', 'addr', 'add', `${ns.hostAddress}/30`, 'dev', hostSide]);
    run(['ip', 'link', 'set', hostSide, 'up']);
    run(['ip', '-n', name, 'addr', 'add', `${ns.nsAddress}/30`, 'dev', nsSide]);
    run(['ip', '-n', name, 'link', 'set', nsSide, 'up']);
    run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    // playwright launches this as the browser: chromium, inside the
    // namespace (exec keeps the pid and the pipes playwright talks on)
    writeFileSync(ns.chromium, `#!/bin/sh\nexec ip netns exec ${name} /usr/bin/chromium "$@"\n`);
    chmodSync(ns.chromium, 0o755);
  } catch (e) {
    ns.destroy();
    throw e;
  }
  return ns;
}
