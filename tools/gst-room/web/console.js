// gst-rooms: the operator console of a live show.  room.js joins (role and
// token from the URL) and shows the program in the monitor; this adds the
// show's state (roster, program, injection, health) and the controls.
// window.show holds the last state, window.recordings the last list of
// recordings, window.edges the last state of the push targets,
// window.levels the last presenters' audio levels, window.videos the videos
// the operator may inject, for tests.
'use strict';

(() => {
  const send = window.roomSend;
  const handlers = window.roomHandlers;
  const $ = (id) => document.getElementById(id);
  window.show = null;
  window.recordings = null;
  window.edges = null;
  window.levels = null;
  window.videos = null;

  function size(bytes) {
    if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
    if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
    return `${Math.round(bytes / 1e3)} kB`;
  }

  // One button per source (the program, each presenter): start, or stop
  // with its running clock and file size.
  function renderRecordSources() {
    const list = $('record-sources');
    if (!list || !window.recordings) return;
    const running = (source, label) => window.recordings.find((r) => r.state === 'recording'
      && (source === 'program' ? r.source === 'program' : r.source === 'participant' && r.label === label));
    const sources = [{ source: 'program', label: 'program', title: 'Program' }];
    for (const p of (window.show && window.show.presenters) || []) {
      sources.push({ source: 'peer', peer: p.peer, label: p.name ? `presenter ${p.name}` : `peer ${p.peer}`,
                     title: p.name || `presenter #${p.peer}` });
    }
    list.replaceChildren();
    for (const s of sources) {
      const li = document.createElement('li');
      const rec = running(s.source, s.label);
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.record = s.source === 'program' ? 'program' : String(s.peer);
      button.classList.toggle('active', !!rec);
      button.textContent = rec ? `\u25A0 stop ${s.title} ${fmt(rec.duration)} ${size(rec.size)}`
        : `\u25CF record ${s.title}`;
      button.onclick = () => send(rec ? { type: 'record-stop', recording: rec.id }
        : { type: 'record-start', source: s.source, ...(s.peer ? { peer: s.peer } : {}) });
      li.appendChild(button);
      list.appendChild(li);
    }
  }

  function renderRecordings(list) {
    const body = $('recordings').tBodies[0];
    body.replaceChildren();
    for (const r of list) {
      const tr = document.createElement('tr');
      tr.dataset.recording = String(r.id);
      const state = r.state + (r.present === false ? ' (away)' : '') + (r.error ? `: ${r.error}` : '');
      for (const text of [r.label, state, fmt(r.duration), size(r.size), r.path]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    renderRecordSources();
  }

  function fmt(seconds) {
    if (seconds === null || seconds === undefined) return '?';
    const s = Math.floor(seconds);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }

  function render(state) {
    for (const b of document.querySelectorAll('[data-source]')) {
      b.classList.toggle('active', b.dataset.source === state.program);
    }
    for (const b of document.querySelectorAll('[data-layout]')) {
      b.classList.toggle('active', b.dataset.layout === state.layout);
    }
    $('max-tiles').value = String(state.maxTiles);
    const list = $('presenters');
    list.replaceChildren();
    for (const p of state.presenters) {
      const li = document.createElement('li');
      li.dataset.peer = String(p.peer);
      li.textContent = `${p.name || 'presenter'} (#${p.peer}) `;
      const meter = document.createElement('meter');
      meter.min = -60;
      meter.max = 0;
      meter.low = -30;
      meter.high = -6;
      meter.value = -60;
      meter.title = 'audio level';
      const db = document.createElement('span');
      db.className = 'db';
      li.append(meter, db);
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = p.peer === state.camera ? 'on camera' : 'to camera';
      button.classList.toggle('active', p.peer === state.camera);
      button.onclick = () => send({ type: 'choose-camera', peer: p.peer });
      li.appendChild(button);
      list.appendChild(li);
    }
    renderLevels();
    $('viewers').textContent = state.viewers;
    const inj = state.injection;
    if (inj) {
      $('inject-progress').max = inj.duration || 1;
      $('inject-progress').value = inj.position || 0;
      $('inject-status').textContent =
        `${inj.showing ? 'playing' : 'starting'} ${inj.uri}: ${fmt(inj.position)} / ${fmt(inj.duration)}`;
    } else {
      $('inject-progress').value = 0;
      $('inject-status').textContent = 'nothing playing';
    }
    $('health-cpu').textContent = `${state.health.cpu} % of a core`;
    $('health-bitrate').textContent = `${state.health.bitrate} kbit/s`;
    $('health-viewers').textContent = state.health.viewers;
    // viewers per rung of the quality ladder, heaviest first ("720p 3 · 360p 1")
    const rungs = state.health.renditions || [];
    const perRung = rungs.map((r) => `${r.rendition} ${r.viewers}`).join(' · ');
    $('health-renditions-label').hidden = $('health-renditions').hidden = rungs.length === 0;
    $('health-renditions').textContent = perRung;
    $('viewers-renditions').hidden = rungs.length === 0;
    $('viewers-renditions').textContent = `(${perRung})`;
    $('emote-counts').hidden = false; // room.js hides it for roles without show-emotes
    window.roomShowEmoteCounts(state.emotes || {});
  }

  // Each presenter's level (dBFS) on its meter; the speaker's row marked.
  function renderLevels() {
    if (!window.levels) return;
    for (const l of window.levels) {
      const li = document.querySelector(`#presenters li[data-peer="${l.peer}"]`);
      if (!li) continue;
      li.querySelector('meter').value = Math.max(-60, l.level);
      li.querySelector('.db').textContent = l.level <= -90 ? 'silent' : `${l.level} dB`;
      li.classList.toggle('speaking', l.speaking);
      li.title = l.speaking ? 'speaking' : '';
    }
  }

  // The videos of the room's folders, each with its duration; a typed URI
  // wins over the list.
  handlers.videos = (m) => {
    window.videos = m.videos;
    const select = $('inject-video');
    const previous = select.value;
    select.replaceChildren();
    const none = document.createElement('option');
    none.value = '';
    none.textContent = m.videos.length ? 'choose a video…' : 'no videos in the room\'s folders';
    select.appendChild(none);
    for (const v of m.videos) {
      const option = document.createElement('option');
      option.value = v.uri;
      option.textContent = `${v.name} (${v.duration === null ? 'length unknown' : fmt(v.duration)})`;
      select.appendChild(option);
    }
    select.value = m.videos.some((v) => v.uri === previous) ? previous : '';
  };
  let videosAsked = false;

  handlers.levels = (m) => { window.levels = m.presenters; renderLevels(); };
  handlers.show = (m) => {
    window.show = m;
    render(m);
    renderRecordSources();
    if (!videosAsked) {
      videosAsked = true;
      send({ type: 'videos' });
    }
  };
  handlers.recordings = (m) => {
    window.recordings = m.recordings;
    $('recording-section').hidden = false; // the room records
    renderRecordings(m.recordings);
  };
  // Each push target (an [edge NAME] of the room file): live, connecting,
  // or retrying in N s after its last error; bytes sent so far.
  function renderEdges(list) {
    const body = $('edges').tBodies[0];
    body.replaceChildren();
    for (const e of list) {
      const tr = document.createElement('tr');
      tr.dataset.edge = e.name;
      tr.dataset.state = e.state;
      const state = e.state === 'retrying' ? `retrying in ${e.retryIn} s` : e.state;
      for (const text of [e.name, e.url, state, size(e.bytes), e.error || '']) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  }
  handlers.edges = (m) => {
    window.edges = m.edges;
    $('edges-section').hidden = false; // the room pushes to edges
    $('health-edges-label').hidden = $('health-edges').hidden = false;
    $('health-edges').textContent = `${m.edges.filter((e) => e.state === 'live').length} of ${m.edges.length}`;
    renderEdges(m.edges);
  };
  handlers['record-started'] = () => {};
  const pageError = handlers.error;
  handlers.error = (m) => {
    pageError(m);
    const li = document.createElement('li');
    li.textContent = m.message;
    $('errors').prepend(li);
  };

  for (const b of document.querySelectorAll('[data-source]')) {
    b.onclick = () => send({ type: 'switch', source: b.dataset.source });
  }
  for (const b of document.querySelectorAll('[data-layout]')) {
    b.onclick = () => send({ type: 'set-layout', layout: b.dataset.layout });
  }
  $('max-tiles').onchange = () => send({ type: 'set-max-tiles', tiles: Number($('max-tiles').value) });
  $('inject-form').onsubmit = (e) => {
    e.preventDefault();
    const uri = $('inject-uri').value.trim() || $('inject-video').value;
    if (uri) send({ type: 'inject', uri });
  };
  $('refresh-videos').onclick = () => send({ type: 'videos' });
  $('stop-injection').onclick = () => send({ type: 'stop-injection' });
})();
