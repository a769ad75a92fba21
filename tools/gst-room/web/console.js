// gst-rooms: the operator console of a live show.  room.js joins (role and
// token from the URL) and shows the program in the monitor; this adds the
// show's state (roster, program, injection, health) and the controls.
// window.show holds the last state, for tests.
'use strict';

(() => {
  const send = window.roomSend;
  const handlers = window.roomHandlers;
  const $ = (id) => document.getElementById(id);
  window.show = null;

  function fmt(seconds) {
    if (seconds === null || seconds === undefined) return '?';
    const s = Math.floor(seconds);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }

  function render(state) {
    for (const b of document.querySelectorAll('[data-source]')) {
      b.classList.toggle('active', b.dataset.source === state.program);
    }
    $('max-tiles').value = String(state.maxTiles);
    const list = $('presenters');
    list.replaceChildren();
    for (const p of state.presenters) {
      const li = document.createElement('li');
      li.textContent = `${p.name || 'presenter'} (#${p.peer}) `;
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = p.peer === state.camera ? 'on camera' : 'to camera';
      button.classList.toggle('active', p.peer === state.camera);
      button.onclick = () => send({ type: 'choose-camera', peer: p.peer });
      li.appendChild(button);
      list.appendChild(li);
    }
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
    $('emote-counts').hidden = false; // room.js hides it for roles without show-emotes
    window.roomShowEmoteCounts(state.emotes || {});
  }

  handlers.show = (m) => { window.show = m; render(m); };
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
  $('max-tiles').onchange = () => send({ type: 'set-max-tiles', tiles: Number($('max-tiles').value) });
  $('inject-form').onsubmit = (e) => {
    e.preventDefault();
    send({ type: 'inject', uri: $('inject-uri').value.trim() });
  };
  $('stop-injection').onclick = () => send({ type: 'stop-injection' });
})();
