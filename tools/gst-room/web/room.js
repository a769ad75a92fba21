// gst-rooms: the page of a room's participant, caller, presenter or viewer (and
// the WebRTC half of the operator console).  It joins with the role, token and
// name of its URL (?role=presenter&token=...&name=Ann), answers the server's
// WebRTC offer, sends camera and microphone when the role sends, and shows
// what the room sends back.  Viewers get emote buttons; presenters see the
// emotes (drawn by emotes.js) and confetti over the whole screen.  When the
// room serves the role a quality ladder, a Quality menu pins a rung or leaves
// it to the room ("Auto (360p)" shows the rung it chose).  A presenter
// gives a name (the label of its tile); without ?name= it joins unnamed and is
// offered a field to set one.  window.room exposes the state for
// tests.
'use strict';

const params = new URLSearchParams(location.search);
const role = params.get('role') || 'participant';
const token = params.get('token') || '';
const videoCodec = params.get('codec');
const displayName = (params.get('name') || '').trim().replace(/\s+/g, ' ');
const statusEl = document.getElementById('status');
const remoteVideo = document.getElementById('remote');
const localVideo = document.getElementById('local');

const room = window.room = { state: 'connecting', role, errors: [], peer: null, port: -1,
                             emotes: { clap: 0, heart: 0, confetti: 0 }, emoteEvents: 0,
                             confettiBursts: 0, name: displayName };
let ws = null;
let pc = null;
let localStream = null;
let sendKinds = [];
let receiveKinds = [];
const pendingCandidates = [];

function setStatus(text, isError) {
  statusEl.textContent = text;
  statusEl.classList.toggle('error', !!isError);
}

// A name is what the stage's label font can draw and a person would type:
// letters, digits, spaces and a little punctuation, at most NAME_MAX_CHARS
// (the server cuts longer ones).  Returns why not, or '' when it is fine.
const NAME_MAX_CHARS = 40;
const NAME_CHARS = /^[\p{L}\p{M}\p{N} .,'\-_!?&()/:+@#]*$/u;
function nameProblem(name) {
  if ([...name].length > NAME_MAX_CHARS) {
    return `A name has at most ${NAME_MAX_CHARS} characters (this one has ${[...name].length}).`;
  }
  if (!NAME_CHARS.test(name)) {
    return 'A name may use letters, digits, spaces and . , \' - _ ! ? & ( ) / : + @ # only.';
  }
  return '';
}

const nameForm = document.getElementById('name-form');
function showNameForm(message) {
  if (!nameForm) return;
  nameForm.hidden = false;
  document.getElementById('name-message').textContent = message || '';
  nameForm.classList.toggle('invalid', !!message);
}
if (nameForm) {
  document.getElementById('name-input').value = displayName;
  nameForm.onsubmit = (e) => {
    e.preventDefault();
    const name = document.getElementById('name-input').value.trim().replace(/\s+/g, ' ');
    const problem = name ? nameProblem(name) : 'Type the name people should see on your tile.';
    if (problem) {
      showNameForm(problem);
      return;
    }
    // join again under the new name (the server labels a tile as it joins)
    params.set('name', name);
    location.search = params.toString();
  };
}

function send(message) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}

async function onWelcome(m) {
  room.peer = m.peer;
  room.pc = null;
  room.port = m.port;
  room.state = 'joined';
  document.getElementById('title').textContent = m.title;
  room.name = m.name || '';
  const who = () => `${m.role}${room.name ? ` (${room.name})` : ''}`;
  setStatus(`joined as ${who()}`);
  sendKinds = m.send || [];
  receiveKinds = m.receive || [];
  room.showEmotes = !!m.showEmotes;
  // only a page that sends its camera has one to show; a name is asked for
  // where the room draws it (a presenter's tile)
  localVideo.hidden = !sendKinds.includes('video');
  room.nameShown = !!m.nameShown;
  if (room.nameShown && !room.name) showNameForm('');
  document.getElementById('emote-buttons').hidden = !m.emote;
  setUpQuality(m.renditions || []);
  document.getElementById('emote-counts').hidden = !m.showEmotes;
  if (m.emotes) showEmoteCounts(m.emotes);
  pc = new RTCPeerConnection({
    iceServers: m.iceServers || [],
    iceTransportPolicy: m.iceTransportPolicy || 'all',
    bundlePolicy: 'max-bundle',
  });
  room.pc = pc;
  pc.onicecandidate = (e) => {
    if (e.candidate) {
      send({ type: 'candidate', candidate: e.candidate.candidate,
             sdpMLineIndex: e.candidate.sdpMLineIndex });
    }
  };
  pc.ontrack = (e) => {
    if (e.track.kind === 'video' && remoteVideo.requestVideoFrameCallback) {
      // how long a new viewer waits for a picture, from the join
      remoteVideo.requestVideoFrameCallback(() => {
        room.firstFrameMs = Math.round(performance.now() - room.joinedAt);
      });
    }
    const stream = remoteVideo.srcObject || new MediaStream();
    stream.addTrack(e.track);
    remoteVideo.srcObject = stream;
    document.getElementById('remote-hint').hidden = true;
  };
  pc.onconnectionstatechange = () => {
    room.connectionState = pc.connectionState;
    if (pc.connectionState === 'connected' && room.connectedMs === undefined) {
      room.connectedMs = Math.round(performance.now() - room.joinedAt);
    }
    if (pc.connectionState === 'connected') setStatus(`connected as ${who()}`);
    if (pc.connectionState === 'failed') setStatus('connection failed', true);
  };
  if (sendKinds.length > 0) {
    localStream = await navigator.mediaDevices.getUserMedia({
      audio: sendKinds.includes('audio'), video: sendKinds.includes('video') });
    localVideo.srcObject = localStream;
  }
  if (m.browserOffers) await offerToWatch();
}

// A role that only watches the program is served by the room's fan-out:
// the page offers to receive, the room answers.
async function offerToWatch() {
  for (const kind of ['audio', 'video']) {
    if (!receiveKinds.includes(kind)) continue;
    const transceiver = pc.addTransceiver(kind, { direction: 'recvonly' });
    if (kind === 'video' && videoCodec) {
      // ?codec=h264 offers that codec only (as a browser without VP8 would)
      transceiver.setCodecPreferences(RTCRtpReceiver.getCapabilities('video').codecs
        .filter((c) => c.mimeType.toLowerCase() === `video/${videoCodec.toLowerCase()}`));
    }
  }
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  send({ type: 'offer', sdp: offer.sdp });
}

// The Quality menu: Auto and each rung of the room's ladder, heaviest first.
// The room says which rung the viewer gets ({"type":"rendition"}), pinned or
// chosen for its link; the menu follows what the room says, not the click.
const qualityEl = document.getElementById('quality');
const qualitySelect = document.getElementById('quality-select');
function setUpQuality(renditions) {
  room.renditions = renditions;
  room.rendition = null;
  room.renditionPinned = false;
  if (!qualityEl) return; // the console's page has no menu
  qualityEl.hidden = renditions.length === 0;
  qualitySelect.replaceChildren();
  for (const value of ['auto', ...renditions]) {
    const option = document.createElement('option');
    option.value = value;
    option.textContent = value === 'auto' ? 'Auto' : value;
    qualitySelect.appendChild(option);
  }
}
if (qualitySelect) qualitySelect.onchange = () => send({ type: 'quality', rendition: qualitySelect.value });

function onRendition(m) {
  room.rendition = m.rendition;
  room.renditionPinned = !!m.pinned;
  if (!qualitySelect) return;
  const auto = qualitySelect.querySelector('option[value="auto"]');
  if (auto) auto.textContent = m.pinned ? 'Auto' : `Auto (${m.rendition})`;
  qualitySelect.value = m.pinned ? m.rendition : 'auto';
}

async function onAnswer(m) {
  await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
  for (const c of pendingCandidates.splice(0)) await pc.addIceCandidate(c);
}

async function onOffer(m) {
  await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
  for (const transceiver of pc.getTransceivers()) {
    const kind = transceiver.receiver.track.kind;
    if (kind === 'video' && videoCodec) {
      // ?codec=h264 answers with that codec only (as a browser without VP8 would)
      const codecs = RTCRtpReceiver.getCapabilities('video').codecs
        .filter((c) => c.mimeType.toLowerCase() === `video/${videoCodec.toLowerCase()}`);
      transceiver.setCodecPreferences(codecs);
    }
    const track = localStream && localStream.getTracks().find((t) => t.kind === kind);
    if (track && sendKinds.includes(kind)) {
      await transceiver.sender.replaceTrack(track);
      transceiver.direction = receiveKinds.includes(kind) ? 'sendrecv' : 'sendonly';
    }
  }
  const answer = await pc.createAnswer();
  await pc.setLocalDescription(answer);
  if (videoCodec) {
    // and sends with it too (Chromium otherwise sends the offer's first codec)
    for (const sender of pc.getSenders()) {
      if (!sender.track || sender.track.kind !== 'video') continue;
      const parameters = sender.getParameters();
      const codec = (parameters.codecs || []).find(
        (c) => c.mimeType.toLowerCase() === `video/${videoCodec.toLowerCase()}`);
      if (codec && parameters.encodings && parameters.encodings.length) {
        parameters.encodings[0].codec = codec;
        await sender.setParameters(parameters);
      }
    }
  }
  send({ type: 'answer', sdp: answer.sdp });
  for (const c of pendingCandidates.splice(0)) await pc.addIceCandidate(c);
}

async function onCandidate(m) {
  const c = { candidate: m.candidate, sdpMLineIndex: m.sdpMLineIndex };
  if (!pc || !pc.remoteDescription) pendingCandidates.push(c);
  else await pc.addIceCandidate(c);
}

// An emote from a viewer: a sign floats up over the video, the counts go up.
function showEmoteCounts(counts) {
  room.emotes = counts;
  for (const [kind, count] of Object.entries(counts)) {
    const el = document.querySelector(`#emote-counts [data-emote="${kind}"] .count`);
    if (el) el.textContent = count;
  }
}

function onEmote(m) {
  showEmoteCounts(m.counts);
  room.emoteEvents += 1;
  const sign = document.createElement('span');
  sign.className = 'emote-float';
  const svg = window.roomEmotes.sign(m.emote);
  if (svg) sign.appendChild(svg);
  sign.style.left = `${10 + Math.random() * 80}%`;
  document.getElementById('emote-layer').appendChild(sign);
  sign.addEventListener('animationend', () => sign.remove());
  if (m.emote === 'confetti' && room.showEmotes) {
    room.confettiBursts += 1;
    window.roomEmotes.confetti();
  }
}

function onError(m) {
  room.errors.push(m);
  if (m.request === 'join') room.state = 'refused';
  setStatus(m.message, true);
}

const handlers = window.roomHandlers = {
  welcome: onWelcome, offer: onOffer, answer: onAnswer, candidate: onCandidate, error: onError, emote: onEmote,
  rendition: onRendition,
  left: () => { room.state = 'left'; setStatus('left the room'); },
  // the server drops a page that stops answering (frozen, or its network gone)
  ping: () => send({ type: 'pong' }),
};
window.roomSend = send;
window.roomShowEmoteCounts = showEmoteCounts;

function connect() {
  const problem = displayName ? nameProblem(displayName) : '';
  if (problem) {
    // a name given in the URL that the stage cannot show: say why, join once fixed
    room.state = 'name-refused';
    setStatus('choose another name', true);
    showNameForm(problem);
    return;
  }
  ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onopen = () => {
    room.joinedAt = performance.now();
    send({ type: 'join', role, token, name: displayName });
  };
  // Messages are handled one after the other: the offer must wait until the
  // welcome handler has the camera and microphone.
  let queue = Promise.resolve();
  ws.onmessage = (event) => {
    const m = JSON.parse(event.data);
    const handler = handlers[m.type];
    queue = queue.then(async () => {
      try {
        if (handler) await handler(m);
      } catch (e) {
        room.errors.push({ code: 'page', message: String(e) });
        setStatus(String(e), true);
      }
    });
  };
  ws.onclose = () => {
    if (room.state !== 'refused') room.state = 'closed';
    setStatus('disconnected', true);
  };
}

for (const button of document.querySelectorAll('#emote-buttons button')) {
  button.onclick = () => send({ type: 'emote', emote: button.dataset.emote });
}

document.getElementById('leave').onclick = () => {
  send({ type: 'leave' });
  if (pc) pc.close();
  if (localStream) localStream.getTracks().forEach((t) => t.stop());
};

connect();
