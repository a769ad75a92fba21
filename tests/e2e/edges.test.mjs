// Edges (issue 15): the room pushes its program to real servers started here
// on loopback — nginx with the RTMP module, from a prefix of its own, and an
// srtsrc listener — and ffmpeg / GStreamer pulling from them decode the
// presenter's colour, and so do the segments of nginx's HLS.  nginx killed
// mid-show: the WebRTC viewer goes on, the console says the edge is
// retrying, and the push comes back by itself once nginx does.  One H.264
// encoder for H.264 viewers, recordings and edges.  Bad URLs are room-file
// errors.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync, readdirSync, existsSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import net from 'node:net';
import { tmp, fakeMedia, startRoom, launchBrowser, openPage, waitFor, scaled, near, freePort,
  sampleVideo, stockEnv, gstRoomPath, gstEnv, track } from './lib.mjs';

const RED = 0xff0000;
const dots = path.join(tmp, 'edge-dots');
mkdirSync(dots);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The reference live show, smaller, with @edges appended.
function roomText(edges) {
  return readFileSync(path.join(process.env.ROOMS_SOURCE_ROOT, 'docs/rooms/live-show.ini'), 'utf8')
    .replace(/^listen=.*$/m, '')
    .replace(/width=1280 height=720/g, 'width=640 height=360')
    .replace(/width=640,height=360/, 'width=320,height=180')
    // the pictures are checked: a viewer stays on a video rung (on a loaded
    // machine the fan-out could otherwise take one down to audio alone)
    .replace(/;audio-only$/m, '')
    .replace(/target-bitrate=2500000/, 'target-bitrate=800000')
    + `\n${edges}\n`;
}

// nginx with the RTMP module on 127.0.0.1:@port, everything under its own
// prefix (Debian's defaults are system paths): application "live" takes
// any stream; application "closed" refuses every publisher.
function nginxConfig(port) {
  const prefix = path.join(tmp, `nginx-${port}`);
  mkdirSync(path.join(prefix, 'logs'), { recursive: true });
  const conf = path.join(prefix, 'nginx.conf');
  writeFileSync(conf, `load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log info;
events { worker_connections 128; }
rtmp {
  server {
    listen 127.0.0.1:${port};
    chunk_size 4096;
    application live {
      live on;
      record off;
      hls on;
      hls_path ${prefix}/hls;
      hls_fragment 1s;
      hls_playlist_length 30s;
    }
    application closed { live on; deny publish all; }
  }
}
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
}
`);
  return { prefix, conf };
}

async function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

async function startNginx(port) {
  const { prefix, conf } = nginxConfig(port);
  const proc = spawn('nginx', ['-p', prefix, '-c', conf, '-e', path.join(prefix, 'logs/error.log')],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  track(proc.pid);
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  const deadline = Date.now() + scaled(10000);
  while (!(await portOpen(port))) {
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${output}`);
    if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`nginx did not listen: ${output}`); }
    await sleep(100);
  }
  return {
    proc,
    prefix,
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

// Frames (16x8 RGB) decoded by @command; resolves once @n came, or one
// that @until accepts (matched), or it ended.
function pullFrames(command, args, n, timeout, env = process.env, until = null) {
  return new Promise((resolve) => {
    const proc = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    track(proc.pid);
    const frameBytes = 16 * 8 * 3;
    let data = Buffer.alloc(0);
    let errors = '';
    const finish = () => {
      clearTimeout(timer);
      try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
      const frames = [];
      for (let i = 0; i + frameBytes <= data.length && frames.length < n; i += frameBytes) {
        frames.push(data.subarray(i, i + frameBytes));
      }
      resolve({ frames, errors, matched });
    };
    let matched = false;
    const timer = setTimeout(finish, timeout);
    proc.stdout.on('data', (d) => {
      const checked = Math.floor(data.length / frameBytes);
      data = Buffer.concat([data, d]);
      if (until) {
        for (let i = checked; (i + 1) * frameBytes <= data.length; i++) {
          matched = matched || until(data.subarray(i * frameBytes, (i + 1) * frameBytes));
        }
        if (matched) finish();
        // Only the frames looked at stay.
        if (!matched && data.length > 64 * frameBytes) {
          data = data.subarray((Math.floor(data.length / frameBytes) - 32) * frameBytes);
        }
      }
      if (data.length >= n * frameBytes) finish();
    });
    proc.stderr.on('data', (d) => { errors += d; });
    proc.on('exit', () => setTimeout(finish, 100));
  });
}

const pullRtmp = (url, n, timeout) => pullFrames('ffmpeg', ['-v', 'error', '-i', url, '-an',
  '-vf', 'scale=16:8', '-frames:v', String(n), '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], n, timeout);

// The mean colour of a frame's centre (the presenter's tile).
function centre(frame) {
  const sum = [0, 0, 0];
  let count = 0;
  for (let y = 2; y < 6; y++) {
    for (let x = 5; x < 11; x++) {
      for (let c = 0; c < 3; c++) sum[c] += frame[(y * 16 + x) * 3 + c];
      count++;
    }
  }
  return sum.map((v) => Math.round(v / count));
}

// Pulls until the last of @n frames is @colour; throws at @timeout.
async function waitForPulledColour(pull, colour, what, timeout) {
  const deadline = Date.now() + timeout;
  let last = 'nothing';
  while (Date.now() < deadline) {
    const { frames, errors } = await pull(Math.max(1000, deadline - Date.now()));
    if (frames.length > 0) {
      const rgb = centre(frames[frames.length - 1]);
      if (near(rgb, colour)) return frames.length;
      last = `colour ${JSON.stringify(rgb)}`;
    } else {
      last = `no frame: ${errors.slice(-2500)}`;
    }
    await sleep(500);
  }
  throw new Error(`${what}: never decoded the presenter's colour; last ${last}`);
}

async function joinConsole(browser, room) {
  const page = await openPage(browser, `${room.url}console.html?role=operator&token=console-secret`);
  await waitFor(page, () => window.room.connectionState === 'connected' && window.edges !== null);
  return page;
}

async function joinPresenter(browser, room, name) {
  const page = await openPage(browser, `${room.url}?role=presenter&token=stage-secret&name=${name}`);
  await waitFor(page, () => window.room.connectionState === 'connected');
  return page;
}

const edgeOf = (page, name) => page.evaluate((n) => (window.edges || []).find((e) => e.name === n), name);
async function waitForEdge(page, name, state, timeout) {
  await waitFor(page, ([n, s]) => (window.edges || []).some((e) => e.name === n && e.state === s),
    [name, state], timeout);
  return edgeOf(page, name);
}

const framesDecoded = (page) => page.evaluate(() => {
  const v = document.querySelector('#remote');
  return v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : 0;
});

test('edges: RTMP to nginx decodes the presenter; nginx killed and back, the push resumes by itself', async () => {
  const red = fakeMedia('edge-red', RED, 500);
  const rtmpPort = await freePort();
  const stream = `rtmp://127.0.0.1:${rtmpPort}/live/show`;
  let nginx = await startNginx(rtmpPort);
  const browsers = [];
  let room = null;
  try {
    room = await startRoom(roomText(`[edge nginx]\nurl=${stream}\n\n`
      + `[edge refused]\nurl=rtmp://127.0.0.1:${rtmpPort}/closed/show\n`),
    { extraArgs: [`--dot-dir=${dots}`] });
    browsers.push(await launchBrowser(red), await launchBrowser(null), await launchBrowser(null));
    await joinPresenter(browsers[0], room, 'Red');
    const viewer = await openPage(browsers[1], `${room.url}?role=viewer`);
    const console_ = await joinConsole(browsers[2], room);

    // Live on the console, with bytes sent; the edge pulls red frames.
    const live = await waitForEdge(console_, 'nginx', 'live', 30000);
    assert.ok(live.bytes > 0, `no bytes sent: ${JSON.stringify(live)}`);
    assert.equal(await console_.evaluate(() => document.querySelector('#edges tr[data-edge="nginx"]')
      .dataset.state), 'live', 'the console\'s table shows the edge live');
    await waitForPulledColour((t) => pullRtmp(stream, 5, t), RED, 'RTMP from nginx', scaled(40000));
    // The stream carries H.264 and AAC, as RTMP players expect.
    // (A keyframe may be 10 s away: the probe looks that far.)
    const probe = spawnSync('ffprobe', ['-v', 'error', '-analyzeduration', '15000000',
      '-show_entries', 'stream=codec_name',
      '-of', 'csv=p=0', stream], { encoding: 'utf8', timeout: scaled(20000) });
    const codecs = probe.stdout.split('\n').filter(Boolean).sort();
    assert.deepEqual(codecs, ['aac', 'h264'], `codecs on the edge: ${probe.stdout} ${probe.stderr}`);

    // The edge's HLS: a playlist whose segments decode to the presenter.
    const playlist = path.join(nginx.prefix, 'hls/show.m3u8');
    await waitForPulledColour(async () => {
      await sleep(1000);
      if (!existsSync(playlist)) return { frames: [], errors: 'no playlist yet' };
      const segments = readFileSync(playlist, 'utf8').split('\n').filter((l) => l.endsWith('.ts'));
      if (segments.length === 0) return { frames: [], errors: 'no segment yet' };
      const segment = path.join(nginx.prefix, 'hls', segments[segments.length - 1]);
      const run = spawnSync('ffmpeg', ['-v', 'error', '-i', segment, '-an', '-vf', 'scale=16:8',
        '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 64 << 20, timeout: scaled(20000) });
      const frameBytes = 16 * 8 * 3;
      const count = Math.floor((run.stdout || Buffer.alloc(0)).length / frameBytes);
      return { frames: count ? [run.stdout.subarray((count - 1) * frameBytes, count * frameBytes)] : [],
        errors: `${segment}: ${run.stderr}` };
    }, RED, 'HLS segment from nginx', scaled(60000));

    // An edge that refuses the stream is retried, with its error shown;
    // the other edge is not disturbed.
    const refused = await waitFor(console_, () => (window.edges || []).some((e) => e.name === 'refused'
      && e.state === 'retrying' && e.error), undefined, 30000).then(() => edgeOf(console_, 'refused'));
    assert.ok(refused.retryIn >= 0 && refused.error.length > 0, JSON.stringify(refused));
    assert.equal((await edgeOf(console_, 'nginx')).state, 'live');
    // The health view counts the edges that are live.
    await waitFor(console_, () => document.getElementById('health-edges').textContent === '1 of 2');

    // One H.264 encoder in the whole room (the H.264 program), none in the
    // edge: the edge depayloads it.
    const started = readdirSync(dots).filter((f) => f.endsWith('-started.dot'));
    const x264 = started.map((f) => [f, (readFileSync(path.join(dots, f), 'utf8')
      .match(/label="GstX264Enc\\n/g) || []).length]).filter(([, n]) => n > 0);
    assert.deepEqual(x264, [['program-h264-started.dot', 1]], `H.264 encoders: ${JSON.stringify(x264)}`);
    const edgeDot = readFileSync(path.join(dots, 'edge-nginx-started.dot'), 'utf8');
    assert.ok(!/GstX264Enc|GstVP8Enc/.test(edgeDot), 'the edge encodes no video');

    // nginx dies mid-show: the viewer's picture goes on, red.
    await waitFor(viewer, () => {
      const v = document.querySelector('#remote');
      return v && v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 10;
    });
    await nginx.kill();
    const killedAt = Date.now();
    const retrying = await waitForEdge(console_, 'nginx', 'retrying', 20000);
    assert.ok(retrying.error, `no error shown: ${JSON.stringify(retrying)}`);
    // Four seconds of the viewer's picture while the edge is down, however
    // long the console took to say so (under ASan that took six seconds and
    // left no window at all): at least 5 frames a second.
    const before = await framesDecoded(viewer);
    await sleep(4000);
    const after = await framesDecoded(viewer);
    assert.ok(after - before > 20, `the viewer's picture stalled while nginx was down: ${before} -> ${after}`);
    const colours = await sampleVideo(viewer, [[0.5, 0.5]]);
    assert.ok(colours && near(colours[0], RED), `the viewer sees ${JSON.stringify(colours)}`);

    // nginx comes back: the push resumes by itself within 35 s.
    nginx = await startNginx(rtmpPort);
    const backAt = Date.now();
    const resumed = await waitForEdge(console_, 'nginx', 'live', 35000);
    const took = Date.now() - backAt;
    assert.ok(took <= scaled(35000), `the push took ${took} ms to resume`);
    assert.ok(resumed.restarts > 0, JSON.stringify(resumed));
    await waitForPulledColour((t) => pullRtmp(stream, 5, t), RED, 'RTMP after nginx came back', scaled(30000));
    console.log(`edges: nginx down ${backAt - killedAt} ms; push live again ${took} ms after it came back`);
    assert.equal(room.proc.exitCode, null, 'gst-room is running');
  } finally {
    await Promise.all(browsers.map((b) => b.close().catch(() => {})));
    if (room) await room.stop();
    await nginx.kill();
  }
});

test('edges: SRT to an srtsrc listener decodes the presenter', async () => {
  const red = fakeMedia('edge-srt-red', RED, 700);
  const srtPort = await freePort();
  const browsers = [];
  let room = null;
  // The listener first (an SRT ingest waiting for the show): MPEG-TS over
  // SRT, H.264 decoded, until a frame is the presenter's colour.
  const listen = ['-q', 'srtsrc', `uri=srt://127.0.0.1:${srtPort}?mode=listener`, '!', 'tsdemux', '!',
    'h264parse', '!', 'avdec_h264', '!', 'videoconvert', '!', 'videoscale', '!',
    'video/x-raw,format=RGB,width=16,height=8', '!', 'fdsink', 'fd=1'];
  const received = pullFrames('gst-launch-1.0', listen, 100000, scaled(90000),
    { ...stockEnv, GST_DEBUG: process.env.EDGE_DEBUG || '*:1' }, (frame) => near(centre(frame), RED));
  try {
    room = await startRoom(roomText(`[edge srt]\nurl=srt://127.0.0.1:${srtPort}\n`));
    browsers.push(await launchBrowser(red), await launchBrowser(null));
    await joinPresenter(browsers[0], room, 'Red');
    const console_ = await joinConsole(browsers[1], room);
    const { frames, matched, errors } = await received;
    assert.ok(matched, `the SRT listener never decoded the presenter's colour (${frames.length} frames, `
      + `last ${frames.length ? JSON.stringify(centre(frames[frames.length - 1])) : 'none'}): ${errors.slice(-2000)}`
      + `\ngst-room said:\n${room.output().slice(-3000)}`);
    const live = await waitForEdge(console_, 'srt', 'live', 20000);
    assert.ok(live.bytes > 0, JSON.stringify(live));
  } finally {
    await Promise.all(browsers.map((b) => b.close().catch(() => {})));
    if (room) await room.stop();
    await received;
  }
});

test('edges: an unknown scheme or a malformed URL is a room-file error', () => {
  const cases = [
    ['http://127.0.0.1/live/show', /\[edge bad\] url: 'http:\/\/' is not a scheme edges take/],
    ['rtmp://127.0.0.1/live', /\[edge bad\] url: .*rtmp:\/\/HOST\[:PORT\]\/APP\/STREAM/],
    ['rtmp:///live/show', /\[edge bad\] url: .*(no host|not a valid URL)/],
    ['srt://127.0.0.1', /\[edge bad\] url: .*the port is needed/],
    ['srt://127.0.0.1:9000?mode=listener', /\[edge bad\] url: .*mode=caller only/],
    ['just words', /\[edge bad\] url: .*is not a URL/],
  ];
  for (const [url, expected] of cases) {
    const file = path.join(tmp, 'bad-edge.ini');
    writeFileSync(file, roomText(`[edge bad]\nurl=${url}\n`));
    const run = spawnSync(gstRoomPath, ['--check', file], { env: gstEnv, encoding: 'utf8', timeout: scaled(30000) });
    assert.notEqual(run.status, 0, `${url}: accepted`);
    assert.match(run.stderr, expected, `${url}: ${run.stderr}`);
    assert.match(run.stderr, /bad-edge\.ini:\d+/, `${url}: the line is named: ${run.stderr}`);
  }
  const file = path.join(tmp, 'no-url.ini');
  writeFileSync(file, roomText('[edge bare]\nprogram=program_rtp\n'));
  const run = spawnSync(gstRoomPath, ['--check', file], { env: gstEnv, encoding: 'utf8', timeout: scaled(30000) });
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /\[edge bare\] url: missing/);
});
