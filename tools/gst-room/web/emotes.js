// gst-rooms: the emotes' signs, drawn as inline SVG so that they look the
// same on every machine (emoji characters show as empty boxes where no emoji
// font is installed, as in headless Chromium), and the confetti that fills a
// presenter's screen.  window.roomEmotes is used by room.js.
'use strict';

(() => {
  const SVG = 'http://www.w3.org/2000/svg';

  // Each sign: shapes on a 24x24 grid, as [element, attributes].
  const SIGNS = {
    clap: [
      ['path', { d: 'M4 3.5l1.2 2.3M8 1.8v2.6M12 3.5l-1.2 2.3', stroke: '#ffd35a',
        'stroke-width': '1.4', 'stroke-linecap': 'round', fill: 'none' }],
      ['rect', { x: '5.5', y: '7', width: '6.5', height: '14', rx: '3.2', fill: '#e9a23b',
        transform: 'rotate(-18 8.75 14)' }],
      ['rect', { x: '11', y: '7.5', width: '6.5', height: '14', rx: '3.2', fill: '#f6c56b',
        transform: 'rotate(14 14.25 14.5)' }],
      ['path', { d: 'M13.2 10.5l2.4 1M12.9 13.3l2.6.7M12.8 16.2l2.5.3', stroke: '#c97f1d',
        'stroke-width': '0.9', 'stroke-linecap': 'round', fill: 'none' }],
    ],
    heart: [
      ['path', { d: 'M12 21.2S3.4 15.9 2.4 10.2C1.7 6.4 4.2 3.6 7.3 3.6c2.1 0 3.6 1.2 4.7 2.9 '
        + '1.1-1.7 2.6-2.9 4.7-2.9 3.1 0 5.6 2.8 4.9 6.6-1 5.7-9.6 11-9.6 11z', fill: '#e8334f' }],
      ['path', { d: 'M6 7.4c-1 .4-1.6 1.4-1.5 2.6', stroke: '#ff9aa9', 'stroke-width': '1.3',
        'stroke-linecap': 'round', fill: 'none' }],
    ],
    confetti: [
      ['path', { d: 'M2.5 21.5l5-13.5 8.5 8.5z', fill: '#f2a93b' }],
      ['path', { d: 'M4.6 15.8l3.6 3.6M6.2 11.5l6.3 6.3', stroke: '#d9602b', 'stroke-width': '1.2',
        fill: 'none' }],
      ['path', { d: 'M12 7c1-2.5 3-3 3.5-5M16 11c2-1.5 4-1 5.5-2.5', stroke: '#3b8fe8',
        'stroke-width': '1.4', 'stroke-linecap': 'round', fill: 'none' }],
      ['circle', { cx: '19', cy: '4', r: '1.4', fill: '#e8334f' }],
      ['circle', { cx: '10.5', cy: '3', r: '1.1', fill: '#4cc46b' }],
      ['circle', { cx: '21', cy: '14.5', r: '1.1', fill: '#b45be8' }],
      ['rect', { x: '14.5', y: '6.5', width: '2.2', height: '2.2', fill: '#ffd35a',
        transform: 'rotate(30 15.6 7.6)' }],
    ],
  };
  const TITLES = { clap: 'Clap', heart: 'Heart', confetti: 'Confetti' };

  // A new <svg> of the emote @kind (null for an unknown one).
  function sign(kind) {
    const shapes = SIGNS[kind];
    if (!shapes) return null;
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('class', 'emote-sign');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', TITLES[kind]);
    for (const [name, attributes] of shapes) {
      const el = document.createElementNS(SVG, name);
      for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, value);
      svg.appendChild(el);
    }
    return svg;
  }

  // Puts the sign into every element marked data-emote-sign="KIND".
  function drawSigns(root = document) {
    for (const el of root.querySelectorAll('[data-emote-sign]')) {
      const svg = sign(el.dataset.emoteSign);
      if (svg) el.replaceChildren(svg);
    }
  }

  // Confetti over the whole screen: a presenter performs a few metres from
  // the computer.  It lasts CONFETTI_MS; a new burst while one falls adds to
  // it, and every piece is gone when its own animation ends.
  const CONFETTI_MS = 3500;
  const COLOURS = ['#e8334f', '#f2a93b', '#ffd35a', '#4cc46b', '#3b8fe8', '#b45be8', '#ffffff'];
  function confetti(pieces = 120) {
    let layer = document.getElementById('confetti');
    if (!layer) {
      layer = document.createElement('div');
      layer.id = 'confetti';
      layer.className = 'confetti';
      document.body.appendChild(layer);
    }
    const reduced = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    const count = reduced ? Math.round(pieces / 4) : pieces;
    for (let i = 0; i < count; i++) {
      const piece = document.createElement('i');
      const fall = 1800 + Math.random() * (CONFETTI_MS - 2300);
      piece.style.left = `${Math.random() * 100}%`;
      piece.style.background = COLOURS[i % COLOURS.length];
      piece.style.setProperty('--drift', `${(Math.random() - 0.5) * 30}vw`);
      piece.style.setProperty('--spin', `${Math.round((Math.random() - 0.5) * 1440)}deg`);
      piece.style.animationDuration = `${Math.round(fall)}ms`;
      piece.style.animationDelay = `${Math.round(Math.random() * 500)}ms`;
      if (i % 3 === 0) piece.style.borderRadius = '50%';
      piece.addEventListener('animationend', () => piece.remove());
      layer.appendChild(piece);
    }
    // Bounded whatever happens to the animations (a hidden tab runs none).
    clearTimeout(layer.endTimer);
    layer.endTimer = setTimeout(() => layer.remove(), CONFETTI_MS + 200);
  }

  window.roomEmotes = { sign, drawSigns, confetti, CONFETTI_MS };
  drawSigns();
})();
