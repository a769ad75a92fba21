// Recordings (issue 14) in real browsers: the program and each presenter,
// without any encoder of their own; the files are probed and decoded with
// ffmpeg and their colours are the presenters'.  kill -9 leaves WebM and MP4
// files that decode to within 2 s of the kill; Ctrl-C and record-stop finish files
// (duration set, seekable); a camera off for 3 s keeps the timeline in real
// time; refusals (folders, full disk, two starts, a viewer) change nothing.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, mkdirSync, statSync, chmodSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { tmp, fakeMedia, startRoom, launchBrowser, openPage, waitFor, scaled, near, stockEnv,
  connectKurento, kurentoCall as call } from './lib.mjs';

const RED = 0xff0000;
const BLUE = 0x0000ff;
const recordings = path.join(tmp, 'recordings');
const dots = path.join(tmp, 'rec-dots');
mkdirSync(recordings);

// The reference live show, smaller, with a [recording] group.
function roomText(extra = '') {
  return readFileSync(path.join(process.env.ROOMS_SOURCE_ROOT, 'docs/rooms/live-show.ini'), 'utf8')
    .replace(/^listen=.*$/m, '')
    .replace(/width=1280 height=720/g, 'width=640 height=360')
    .replace(/width=640,height=360/, 'width=320,height=180')
    .replace(/target-bitrate=2500000/, 'target-bitrate=800000')
    + `\n[recording]\nfolders=${recordings}\n${extra}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function probe(file) {
  const out = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-show_format', '-show_streams',
    '-of', 'json', file], { encoding: 'utf8' });
  const info = JSON.parse(out);
  const video = info.streams.find((s) => s.codec_type === 'video');
  const audio = info.streams.find((s) => s.codec_type === 'audio');
  return { info, video, audio, duration: Number(info.format.duration) };
}

// The last timestamp of each stream's packets (works on files without a
// duration in their header: a killed recording).
function lastPacketTimes(file) {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'packet=stream_index,pts_time',
    '-of', 'csv=p=0', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const times = {};
  const all = {};
  for (const line of out.split('\n')) {
    const [index, pts] = line.split(',');
    if (pts === undefined || pts === 'N/A') continue;
    times[index] = Math.max(times[index] ?? 0, Number(pts));
    (all[index] ??= []).push(Number(pts));
  }
  return { last: times, all };
}

// The mean colour of a frame at about @seconds (and of its left and right
// halves).  Decoded from the start, two frames a second, so it works on a
// killed file without an index too; @seek seeks instead (a finished file).
function frameColours(file, seconds, seek = false) {
  const args = seek ? ['-ss', String(seconds), '-i', file, '-frames:v', '1', '-vf', 'scale=16:8']
    : ['-i', file, '-vf', 'fps=2,scale=16:8'];
  const run = spawnSync('ffmpeg', ['-v', 'quiet', ...args, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    { maxBuffer: 64 << 20 });
  const raw = run.stdout;
  const frameBytes = 16 * 8 * 3;
  const frames = Math.floor(raw.length / frameBytes);
  assert.ok(frames > 0, `no frame decoded from ${file}`);
  const base = seek ? 0 : Math.min(frames - 1, Math.floor(seconds * 2)) * frameBytes;
  const mean = (x0, x1) => {
    const sum = [0, 0, 0];
    let n = 0;
    for (let y = 2; y < 6; y++) {
      for (let x = x0; x < x1; x++) {
        for (let c = 0; c < 3; c++) sum[c] += raw[base + (y * 16 + x) * 3 + c];
        n++;
      }
    }
    return sum.map((v) => Math.round(v / n));
  };
  return { all: mean(0, 16), left: mean(1, 7), right: mean(9, 15) };
}

// The whole file decodes without an error.
function decodes(file) {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' });
  return r.status === 0 ? '' : `ffmpeg exit ${r.status}: ${r.stderr.slice(0, 500)}`;
}

function videoEncoders(file) {
  const text = readFileSync(path.join(dots, file), 'utf8');
  return (text.match(/label="(GstVP8Enc|GstX264Enc|GstVP9Enc)\\n/g) || []).length;
}

async function joinConsole(browser, room) {
  const page = await openPage(browser, `${room.url}console.html?role=operator&token=console-secret`);
  await waitFor(page, () => window.room.connectionState === 'connected' && window.recordings !== null);
  return page;
}

async function joinPresenter(browser, room, name) {
  const page = await openPage(browser, `${room.url}?role=presenter&token=stage-secret&name=${name}`);
  await waitFor(page, () => window.room.connectionState === 'connected');
  return page;
}

const command = (page, m) => page.evaluate((msg) => window.roomSend(msg), m);
const listOf = (page) => page.evaluate(() => window.recordings);
const errorsOf = (page) => page.evaluate(() => window.room.errors.map((e) => `${e.code}: ${e.message}`));

async function startRecording(page, m) {
  const before = (await listOf(page)).length;
  await command(page, { type: 'record-start', ...m });
  await waitFor(page, (n) => window.recordings.length > n, before);
  const list = await listOf(page);
  return list[list.length - 1];
}

async function stopRecording(page, id) {
  await command(page, { type: 'record-stop', recording: id });
  await waitFor(page, (i) => window.recordings.some((r) => r.id === i && r.state !== 'recording'
    && r.state !== 'finishing'), id, 15000);
  return (await listOf(page)).find((r) => r.id === id);
}

test('recording: the program and each presenter, no encoder, the right colours', async () => {
  const red = fakeMedia('rec-red', RED, 500);
  const blue = fakeMedia('rec-blue', BLUE, 1300);
  const room = await startRoom(roomText(), { extraArgs: [`--dot-dir=${dots}`] });
  const browsers = [];
  try {
    browsers.push(await launchBrowser(red), await launchBrowser(blue), await launchBrowser(null));
    const presenters = [await joinPresenter(browsers[0], room, 'Red'),
      await joinPresenter(browsers[1], room, 'Blue')];
    const console_ = await joinConsole(browsers[2], room);
    await waitFor(console_, () => window.show && window.show.presenters.length === 2);
    const peers = await Promise.all(presenters.map((p) => p.evaluate(() => window.room.peer)));

    // A viewer may not record.
    const viewer = await openPage(browsers[2], `${room.url}?role=viewer`);
    await waitFor(viewer, () => window.room.peer !== null);
    await command(viewer, { type: 'record-start', source: 'program' });
    await waitFor(viewer, () => window.room.errors.some((e) => e.code === 'forbidden'));

    const program = await startRecording(console_, { source: 'program' });
    const byPeer = [];
    for (const peer of peers) byPeer.push(await startRecording(console_, { source: 'peer', peer }));
    // The program in fragmented MP4 too: the room's H.264 program (started
    // on demand for it) and the program's Opus.
    const mp4 = await startRecording(console_, { source: 'program', format: 'mp4' });
    assert.equal(program.state, 'recording');
    // The console shows a running clock and the file growing.
    // (every recording 6 s long at least: under load they start seconds apart)
    await waitFor(console_, (ids) => ids.every((id) => {
      const r = window.recordings.find((x) => x.id === id);
      return r.duration >= 6 && r.size > 10000;
    }), [program.id, ...byPeer.map((r) => r.id), mp4.id], 30000);
    const buttons = await console_.evaluate(() => [...document.querySelectorAll('#record-sources button')]
      .map((b) => b.textContent));
    assert.ok(buttons.length === 3 && buttons.every((t) => t.includes('stop')), `buttons: ${buttons}`);

    const finished = [];
    for (const r of [program, ...byPeer]) finished.push(await stopRecording(console_, r.id));
    const mp4Done = await stopRecording(console_, mp4.id);
    assert.equal(mp4Done.state, 'finished', JSON.stringify(mp4Done));
    assert.match(mp4Done.path, /\.mp4$/);
    const m = probe(mp4Done.path);
    assert.equal(m.video.codec_name, 'h264');
    assert.equal(m.audio.codec_name, 'opus');
    assert.ok(m.duration >= 4, `mp4: ${m.duration} s`);
    assert.equal(decodes(mp4Done.path), '');
    const mp4Stage = frameColours(mp4Done.path, 3);
    assert.ok(near(mp4Stage.left, RED) && near(mp4Stage.right, BLUE), `mp4: ${JSON.stringify(mp4Stage)}`);
    console.log(`# ${path.basename(mp4Done.path)}: ${m.duration} s, ${m.video.nb_read_frames} frames`);
    for (const r of finished) assert.equal(r.state, 'finished', JSON.stringify(r));

    // Files: VP8 and Opus, a duration in the header (finished), frames all
    // through, and the colours of their source.
    const [programFile, redFile, blueFile] = finished.map((r) => r.path);
    for (const file of [programFile, redFile, blueFile]) {
      assert.ok(file.startsWith(recordings + '/'), file);
      const p = probe(file);
      assert.equal(p.video.codec_name, 'vp8', file);
      assert.equal(p.audio.codec_name, 'opus', file);
      assert.ok(p.duration >= 5, `${file}: duration ${p.duration}`);
      assert.ok(Number(p.video.nb_read_frames) >= 5 * 5, `${file}: ${p.video.nb_read_frames} frames`);
      assert.equal(decodes(file), '', file);
      console.log(`# ${path.basename(file)}: ${p.duration} s, ${p.video.nb_read_frames} frames, `
        + `${p.video.width}x${p.video.height}`);
    }
    const stage = frameColours(programFile, 3);
    assert.ok(near(stage.left, RED) && near(stage.right, BLUE),
      `program: left ${stage.left}, right ${stage.right}`);
    assert.ok(near(frameColours(redFile, 3).all, RED), `red: ${frameColours(redFile, 3).all}`);
    assert.ok(near(frameColours(blueFile, 3).all, BLUE), `blue: ${frameColours(blueFile, 3).all}`);

    // No encoder for any recording: the recordings' graphs have none, and
    // the room as a whole still has the program's (one per rendition of the
    // viewers' ladder: 720p and 360p).
    const graphs = readdirSync(dots).filter((f) => /^recording-\d+-started\.dot$/.test(f));
    assert.ok(graphs.length >= 3, `graphs: ${graphs}`);
    for (const g of graphs) assert.equal(videoEncoders(g), 0, g);
    assert.equal(videoEncoders('show-started.dot'), 2);
    for (const peer of peers) assert.equal(videoEncoders(`peer-${peer}-recorded.dot`), 0);

    // Two starts of one source: the second is refused; stop without a
    // recording: refused; both change nothing.
    const again = await startRecording(console_, { source: 'program' });
    await command(console_, { type: 'record-start', source: 'program' });
    await command(console_, { type: 'record-stop', recording: 999 });
    await command(console_, { type: 'record-stop', recording: program.id });
    await waitFor(console_, () => window.room.errors.length >= 3);
    const errors = await errorsOf(console_);
    assert.ok(errors.some((e) => /record-refused: program is being recorded already/.test(e)), errors);
    assert.ok(errors.some((e) => /no recording 999/.test(e)), errors);
    assert.ok(errors.some((e) => /is finished already/.test(e)), errors);
    assert.equal((await listOf(console_)).filter((r) => r.state === 'recording').length, 1);

    // Ctrl-C finishes the running recording: duration set, seekable.
    await sleep(scaled(3000));
    const result = await room.stop();
    assert.equal(result.code, 0, room.output());
    const p = probe(again.path);
    assert.ok(p.duration >= 2, `after Ctrl-C: ${JSON.stringify(p.info.format)}`);
    // Seekable: the muxer wrote its index (Cues, EBML id 1C 53 BB 6B) at the
    // end, and the whole file decodes.
    const bytes = readFileSync(again.path);
    const cues = bytes.lastIndexOf(Buffer.from([0x1c, 0x53, 0xbb, 0x6b]));
    assert.ok(cues > bytes.length / 2, `no index (Cues) at the end of ${again.path}`);
    assert.equal(decodes(again.path), '');
    // A seek into the middle starts decoding at a keyframe (the index lists
    // keyframes only): no broken frame, no decoding error.
    const seek = spawnSync('ffmpeg', ['-v', 'error', '-ss', String(p.duration / 2), '-i', again.path,
      '-frames:v', '5', '-f', 'null', '-'], { encoding: 'utf8' });
    assert.ok(seek.status === 0 && seek.stderr === '', `seek to ${p.duration / 2} s: ${seek.stderr}`);
    const last = frameColours(again.path, p.duration);
    if (!(near(last.left, RED) && near(last.right, BLUE))) {
      // Say how the end looks, to tell a late layout from a broken frame.
      const before = [0.5, 1, 2].map((s) => `${s} s before: ${JSON.stringify(frameColours(again.path, p.duration - s))}`);
      assert.fail(`after Ctrl-C, the last frame: ${JSON.stringify(last)}; ${before.join('; ')}`);
    }
  } finally {
    for (const b of browsers) await b.close();
    await room.stop();
  }
});

test('recording: an H.264 presenter into MP4 as it sends, then back in VP8 into a new WebM', async () => {
  const red = fakeMedia('rec264-red', RED, 500);
  const blue = fakeMedia('rec264-blue', BLUE, 1300);
  const room = await startRoom(roomText('record=participants\n'), { extraArgs: [`--dot-dir=${dots}`] });
  const browsers = [];
  try {
    browsers.push(await launchBrowser(red), await launchBrowser(blue), await launchBrowser(null));
    // A browser that sends H.264 only (as one without VP8 would).
    const red264 = await openPage(browsers[0],
      `${room.url}?role=presenter&token=stage-secret&name=Red&codec=h264`);
    await waitFor(red264, () => window.room.connectionState === 'connected');
    await joinPresenter(browsers[1], room, 'Blue');
    const console_ = await joinConsole(browsers[2], room);
    // The rule records both from their answers; let them run 6 s.
    await waitFor(console_, () => window.recordings.filter((r) => r.source === 'participant'
      && r.state === 'recording' && r.duration >= 6 && r.size > 10000).length === 2, undefined, 30000);
    const redPeer = await red264.evaluate(() => window.room.peer);
    // WebM cannot carry H.264: asked for, it is refused and nothing changes.
    await command(console_, { type: 'record-start', source: 'peer', peer: redPeer, format: 'webm' });
    await waitFor(console_, () => window.room.errors.some((e) => /sends H\.264: MP4 only/.test(e.message)));
    assert.equal((await listOf(console_)).length, 2);

    // Red leaves and comes back from a browser that sends VP8: the MP4 is
    // finished and a WebM goes on.
    await red264.close();
    await waitFor(console_, () => window.recordings.some((r) => r.label === 'presenter Red'
      && r.present === false));
    await joinPresenter(browsers[0], room, 'Red');
    await waitFor(console_, () => {
      const list = window.recordings.filter((r) => r.label === 'presenter Red');
      return list.length === 2 && list[0].state === 'finished' && list[1].state === 'recording'
        && list[1].duration >= 5 && list[1].size > 10000;
    }, undefined, 30000);
    const list = await listOf(console_);
    const result = await room.stop();
    assert.equal(result.code, 0, room.output());

    const [redMp4, redWebm] = list.filter((r) => r.label === 'presenter Red');
    const blueWebm = list.find((r) => r.label === 'presenter Blue');
    assert.equal(redMp4.format, 'mp4', JSON.stringify(redMp4));
    assert.match(redMp4.path, /\.mp4$/);
    const files = [[redMp4.path, 'h264', RED], [redWebm.path, 'vp8', RED], [blueWebm.path, 'vp8', BLUE]];
    for (const [file, codec, colour] of files) {
      const p = probe(file);
      assert.equal(p.video.codec_name, codec, file);
      assert.equal(p.audio.codec_name, 'opus', file);
      assert.ok(p.duration >= 4, `${file}: duration ${p.duration}`);
      assert.ok(Number(p.video.nb_read_frames) >= 4 * 5, `${file}: ${p.video.nb_read_frames} frames`);
      assert.equal(decodes(file), '', file);
      const seen = frameColours(file, Math.min(3, p.duration - 1)).all;
      assert.ok(near(seen, colour), `${file}: ${seen}`);
      console.log(`# ${path.basename(file)}: ${codec}, ${p.duration} s, ${p.video.nb_read_frames} frames, `
        + `${p.video.width}x${p.video.height}`);
    }
    // Depayloaded, never transcoded: no encoder in any recording's graph.
    const graphs = readdirSync(dots).filter((f) => /^recording-\d+-started\.dot$/.test(f));
    for (const g of graphs) assert.equal(videoEncoders(g), 0, g);
  } catch (e) {
    console.log(room.output().slice(-4000));
    throw e;
  } finally {
    for (const b of browsers) await b.close();
    await room.stop();
  }
});

test('recording: kill -9 leaves WebM and fragmented MP4 files that decode to within 2 s of the kill', async () => {
  const red = fakeMedia('kill-red', RED, 500);
  const room = await startRoom(roomText('record=program\n'));
  const started = Date.now();
  const browsers = [await launchBrowser(red), await launchBrowser(null)];
  try {
    await joinPresenter(browsers[0], room, 'Red');
    const console_ = await joinConsole(browsers[1], room);
    const mp4 = await startRecording(console_, { source: 'program', format: 'mp4' });
    assert.equal(mp4.state, 'recording', JSON.stringify(mp4));
    const mp4Started = Date.now();
    await sleep(scaled(8000));
    const line = room.output().match(/recording 1: program into (\S+)/);
    assert.ok(line, room.output());
    const killed = Date.now();
    room.proc.kill('SIGKILL');
    await new Promise((r) => room.proc.exitCode !== null || room.proc.signalCode ? r() : room.proc.on('exit', r));
    for (const [file, since] of [[line[1], started], [mp4.path, mp4Started]]) {
      const killedAfter = (killed - since) / 1000;
      assert.equal(decodes(file), '', file);
      const { last } = lastPacketTimes(file);
      const end = Math.max(...Object.values(last));
      console.log(`# kill -9 after ${killedAfter.toFixed(1)} s: ${path.basename(file)} decodes to `
        + `${end.toFixed(2)} s (${statSync(file).size} bytes)`);
      assert.ok(end >= killedAfter - 2, `${file} decodes to ${end} s, killed at ${killedAfter} s`);
      assert.ok(near(frameColours(file, Math.max(0, end - 2)).left, RED), file);
    }
  } finally {
    for (const b of browsers) await b.close();
    await room.stop();
  }
});

test('recording: a camera off for 3 s, a presenter who leaves and comes back', async () => {
  const red = fakeMedia('gap-red', RED, 500);
  const room = await startRoom(roomText());
  const browsers = [await launchBrowser(red), await launchBrowser(null)];
  try {
    let presenter = await joinPresenter(browsers[0], room, 'Red');
    const console_ = await joinConsole(browsers[1], room);
    const peer = await presenter.evaluate(() => window.room.peer);
    const rec = await startRecording(console_, { source: 'peer', peer });
    // Over 20 s, so that 1 % is well above the tenth of a second by which
    // a loaded machine moves a file's first and last packets.
    await sleep(scaled(3000) + 7000);
    // The camera stops sending for 3 s.
    await presenter.evaluate(async () => {
      const sender = window.room.pc.getSenders().find((s) => s.track && s.track.kind === 'video');
      window.savedTrack = sender.track;
      await sender.replaceTrack(null);
    });
    await sleep(3000);
    await presenter.evaluate(async () => {
      const sender = window.room.pc.getSenders().find((s) => s.track === null
        || (s.track && s.track.kind === 'video'));
      await sender.replaceTrack(window.savedTrack);
    });
    await sleep(scaled(3000) + 7000);
    const done = await stopRecording(console_, rec.id);
    assert.equal(done.state, 'finished');
    const p = probe(done.path);
    // The wall clock from the file's first packet to the stop: before the
    // first packet is the wait for a keyframe, which is not drift.
    const wall = done.media;
    console.log(`# camera off 3 s: file ${p.duration} s, wall clock ${wall} s `
      + `(${done.duration} s from the start command)`);
    assert.ok(wall > 0 && wall <= done.duration, JSON.stringify(done));
    assert.ok(Math.abs(p.duration - wall) <= wall * 0.01,
      `the file (${p.duration} s) must last as long as the recording (${wall} s), within 1 %`);
    // The video has a hole of about 3 s where the camera was off, and
    // frames after it in real time.
    const holesOf = (file, index) => {
      const times = lastPacketTimes(file).all[String(index)].sort((x, y) => x - y);
      const holes = [];
      for (let i = 1; i < times.length; i++) if (times[i] - times[i - 1] > 1) holes.push(times[i] - times[i - 1]);
      return holes;
    };
    const holes = holesOf(done.path, p.video.index);
    console.log(`# video holes: ${holes.map((h) => h.toFixed(2)).join(', ')} s`);
    assert.ok(holes.length === 1 && holes[0] > 2.5 && holes[0] < 4, `holes: ${holes}`);
    assert.ok(near(frameColours(done.path, p.duration - 1).all, RED));

    // The presenter leaves and comes back: the same recording goes on.
    // (over 20 s in all, as above)
    const again = await startRecording(console_, { source: 'peer', peer });
    await sleep(scaled(3000) + 5000);
    await presenter.close();
    await waitFor(console_, (id) => window.recordings.find((r) => r.id === id).present === false, again.id);
    await sleep(2000);
    presenter = await joinPresenter(browsers[0], room, 'Red');
    await waitFor(console_, (id) => window.recordings.find((r) => r.id === id).present === true, again.id);
    await sleep(scaled(3000) + 5000);
    const back = await stopRecording(console_, again.id);
    assert.equal(back.state, 'finished');
    assert.equal((await listOf(console_)).length, 2, 'one recording per start');
    const q = probe(back.path);
    const absence = holesOf(back.path, q.video.index);
    console.log(`# left and came back: file ${q.duration} s, wall clock ${back.media} s, `
      + `video holes ${absence.map((h) => h.toFixed(2)).join(', ')} s`);
    assert.equal(decodes(back.path), '');
    assert.ok(absence.some((h) => h > 1.5), `the absence is kept in the timeline: ${absence}`);
    // The second visit lands where it came in wall-clock time, not a
    // join's start-up delay later (packets are never stamped later than
    // they came).
    assert.ok(Math.abs(q.duration - back.media) <= back.media * 0.01,
      `left and came back: file ${q.duration} s, recording ${back.media} s, within 1 %`);
    assert.ok(near(frameColours(back.path, q.duration - 1).all, RED));
  } catch (e) {
    console.log(room.output().slice(-4000));
    if (process.env.ROOMS_E2E_KEEP_OUTPUT) (await import('node:fs')).writeFileSync(process.env.ROOMS_E2E_KEEP_OUTPUT, room.output());
    throw e;
  } finally {
    for (const b of browsers) await b.close();
    await room.stop();
  }
});

test('recording: an API recording (Kurento RecorderEndpoint) is listed on the console with the room\'s', async () => {
  const videos = path.join(tmp, 'api-videos');
  mkdirSync(videos, { recursive: true });
  const source = path.join(videos, 'red.webm');
  execFileSync('gst-launch-1.0', ['-q', 'videotestsrc', 'pattern=solid-color', 'foreground-color=0xffff0000',
    'num-buffers=300', '!', 'video/x-raw,width=320,height=240,framerate=15/1', '!', 'vp8enc', '!',
    'webmmux', '!', 'filesink', `location=${source}`], { env: stockEnv });
  const room = await startRoom(roomText()
    + `\n[kurento]\nrecorder-folders=${recordings}\nplayer-schemes=file\nplayer-folders=${videos}\n`);
  const browsers = [await launchBrowser(null)];
  let client = null;
  try {
    const console_ = await joinConsole(browsers[0], room);
    client = await connectKurento(`ws://127.0.0.1:${room.port}/kurento`);
    const pipeline = await call(client, 'create', 'MediaPipeline');
    const player = await call(pipeline, 'create', 'PlayerEndpoint', { uri: `file://${source}` });
    const file = path.join(recordings, 'api-red.webm');
    const recorder = await call(pipeline, 'create', 'RecorderEndpoint',
      { uri: `file://${file}`, mediaProfile: 'WEBM_VIDEO_ONLY' });
    await call(player, 'connect', recorder);
    await call(recorder, 'record');
    await call(player, 'play');
    // Listed with the room's recordings: its path, a running clock, a growing file.
    await waitFor(console_, (f) => window.recordings.some((r) => r.path === f && r.source === 'api'
      && r.state === 'recording' && r.duration >= 3 && r.size > 5000), file, 20000);
    const listed = (await listOf(console_)).find((r) => r.path === file);
    assert.equal(listed.label, 'API api-red.webm');
    // Stopped where it was started, not from the console.
    await command(console_, { type: 'record-stop', recording: listed.id });
    await waitFor(console_, () => window.room.errors.some((e) => /started through the control API/.test(e.message)));
    assert.equal((await listOf(console_)).find((r) => r.id === listed.id).state, 'recording');
    await call(recorder, 'stopAndWait');
    await waitFor(console_, (id) => window.recordings.find((r) => r.id === id).state === 'finished', listed.id);
    const p = probe(file);
    assert.equal(p.video.codec_name, 'vp8');
    assert.ok(p.duration >= 2, `${file}: ${p.duration} s`);
    assert.equal(decodes(file), '');
    assert.ok(near(frameColours(file, 1).all, RED));
    await call(pipeline, 'release');
  } catch (e) {
    console.log(room.output().slice(-3000));
    throw e;
  } finally {
    if (client) client.close();
    for (const b of browsers) await b.close();
    await room.stop();
  }
});

test('recording: a disallowed folder, an unwritable folder, a full disk', async () => {
  const root = process.getuid && process.getuid() === 0;
  const full = path.join(recordings, 'full');
  const readOnly = path.join(recordings, 'read-only');
  mkdirSync(full);
  mkdirSync(readOnly);
  let mounted = [];
  if (root) {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=200k', 'tmpfs', full]);
    mounted.push(full);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', readOnly]);
    mounted.push(readOnly);
  } else {
    chmodSync(readOnly, 0o555);
  }
  const room = await startRoom(roomText());
  const red = fakeMedia('full-red', RED, 500);
  const browsers = [await launchBrowser(red), await launchBrowser(null)];
  try {
    await joinPresenter(browsers[0], room, 'Red');
    const console_ = await joinConsole(browsers[1], room);
    for (const folder of ['/etc', `${recordings}/../`, readOnly]) {
      await command(console_, { type: 'record-start', source: 'program', folder });
    }
    await command(console_, { type: 'record-start', source: 'program', folder: 42 });
    await waitFor(console_, () => window.room.errors.length >= 4);
    const errors = await errorsOf(console_);
    assert.ok(errors.filter((e) => /not a folder the room file allows/.test(e)).length === 2, errors);
    assert.ok(errors.some((e) => /cannot write into .*read-only/.test(e)), errors);
    assert.ok(errors.some((e) => /bad-message/.test(e)), errors);
    assert.equal((await listOf(console_)).length, 0, 'nothing was started');

    if (!root) {
      console.log('# not root: the full-disk case needs a tmpfs mount, skipped');
      return;
    }
    // The program into the small disk, and the presenter into the big one:
    // the disk fills, that recording alone stops, the other goes on.
    const small = await startRecording(console_, { source: 'program', folder: full });
    const peer = (await console_.evaluate(() => window.show.presenters[0].peer));
    const other = await startRecording(console_, { source: 'peer', peer });
    await waitFor(console_, (id) => window.recordings.find((r) => r.id === id).state === 'failed',
      small.id, 30000);
    const failed = (await listOf(console_)).find((r) => r.id === small.id);
    assert.match(failed.error, /space/i);
    assert.match(room.output(), new RegExp(`recording ${small.id} .*stopped: .*space`, 'i'));
    assert.ok((await errorsOf(console_)).some((e) => /recording-failed/.test(e)));
    const before = (await listOf(console_)).find((r) => r.id === other.id).size;
    await sleep(scaled(2000));
    const now = (await listOf(console_)).find((r) => r.id === other.id);
    assert.equal(now.state, 'recording', JSON.stringify(now));
    assert.ok(now.size > before, 'the other recording goes on');
    const done = await stopRecording(console_, other.id);
    assert.equal(done.state, 'finished');
    assert.equal(decodes(done.path), '');
  } finally {
    for (const b of browsers) await b.close();
    await room.stop();
    for (const m of mounted) spawnSync('umount', ['-l', m]);
  }
});
