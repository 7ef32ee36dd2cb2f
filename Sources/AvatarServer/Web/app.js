// The avatard browser page: speech from the microphone (or a file) → WebCodecs Opus, 20 ms packets → protocol v1
// over WebSocket; the avatar comes back through WHEP (WebRTC) into the <video>. No build step, no dependencies.
'use strict';

const $ = (id) => document.getElementById(id);
const page = {
  avatars: [],
  ws: null,
  pc: null,
  whepLocation: null,
  sessionId: null,
  ready: false,
  ctx: null,
  capture: null,
  encoder: null,
  micStream: null,
  micGain: null,
  fileSource: null,
  rate: 48000,
  samples: 0,        // samples handed to the encoder since session.ready (the timeline)
  seq: 0,
  sent: 0,
  stats: null,
  statsHistory: [],
  onsets: [],        // performance.now() of speech onsets entering the page
  events: [],
  ended: null,
  error: null,
};
window.avatard = page;   // for tests and the curious

function log(text) {
  const line = `${new Date().toISOString().slice(11, 23)} ${text}\n`;
  $('log').textContent = (line + $('log').textContent).slice(0, 20000);
}
function status(text) { $('status').textContent = text; }
function token() { return $('token').value.trim(); }
function authHeaders() { const t = token(); return t ? { Authorization: `Bearer ${t}` } : {}; }

async function loadAvatars() {
  try {
    const r = await fetch('/v1/avatars', { headers: authHeaders() });
    if (r.status === 401) { status('this daemon needs a token'); $('token').focus(); return; }
    if (!r.ok) throw new Error(`${r.status} ${await r.text()}`);
    const body = await r.json();
    page.avatars = body.avatars.filter((a) => a.renders_video);
    const avatar = $('avatar');
    avatar.replaceChildren(...page.avatars.map((a) => new Option(`${a.name} (${a.video.width}×${a.video.height})`, a.name)));
    const output = $('output');
    const outputs = body.webrtc_outputs || [];
    output.replaceChildren(...outputs.map((o) => new Option(o, o)));
    if (outputs.includes('webrtc')) output.value = 'webrtc';
    fillStyles();
    status(page.avatars.length ? 'ready' : 'no video avatar is loaded');
  } catch (e) {
    status('cannot list avatars');
    log(`GET /v1/avatars: ${e.message}`);
  }
}

function fillStyles() {
  const a = page.avatars.find((x) => x.name === $('avatar').value);
  const styles = a ? a.styles : [];
  $('style').replaceChildren(new Option('(default)', ''), ...styles.map((s) => new Option(s, s)));
  if (a && a.default_style) $('style').value = a.default_style;
}

// Protocol v1 binary header: magic 'A', version 1, flags 0, seq u32, ts u64 (48 kHz samples), big-endian.
function packet(seq, ts, opus) {
  const out = new Uint8Array(16 + opus.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, 0x41);
  view.setUint8(1, 1);
  view.setUint16(2, 0);
  view.setUint32(4, seq >>> 0);
  view.setBigUint64(8, BigInt(ts));
  out.set(new Uint8Array(opus), 16);
  return out;
}

async function setupAudio() {
  if (!('AudioEncoder' in window)) throw new Error('this browser has no WebCodecs AudioEncoder');
  const ctx = new AudioContext({ sampleRate: 48000 });
  page.ctx = ctx;
  page.rate = ctx.sampleRate;
  await ctx.audioWorklet.addModule('/capture-worklet.js');
  const capture = new AudioWorkletNode(ctx, 'avatard-capture', { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1,
                                                                 channelCountMode: 'explicit' });
  const sink = ctx.createGain();
  sink.gain.value = 0;
  capture.connect(sink).connect(ctx.destination);
  page.capture = capture;

  const config = { codec: 'opus', sampleRate: page.rate, numberOfChannels: 1, bitrate: 32000,
                   opus: { frameDuration: 20000, format: 'opus' } };
  const support = await AudioEncoder.isConfigSupported(config);
  if (!support.supported) throw new Error('this browser cannot encode Opus with WebCodecs');
  page.encoder = new AudioEncoder({
    output: (chunk) => sendChunk(chunk),
    error: (e) => log(`encoder: ${e.message}`),
  });
  page.encoder.configure(config);

  capture.port.onmessage = (e) => {
    if (e.data.type === 'onset') { if (page.ready) page.onsets.push(performance.now()); return; }
    if (!page.ready || page.encoder.state !== 'configured') return;
    const samples = e.data.samples;
    const data = new AudioData({ format: 'f32', sampleRate: page.rate, numberOfFrames: samples.length, numberOfChannels: 1,
                                 timestamp: Math.round(page.samples * 1e6 / page.rate), data: samples });
    page.samples += samples.length;
    page.encoder.encode(data);
    data.close();
  };

  if ($('use-mic').checked) {
    page.micStream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true } });
    page.micGain = ctx.createGain();
    ctx.createMediaStreamSource(page.micStream).connect(page.micGain).connect(capture);
  }
}

function sendChunk(chunk) {
  if (!page.ready || !page.ws || page.ws.readyState !== WebSocket.OPEN) return;
  const opus = new ArrayBuffer(chunk.byteLength);
  chunk.copyTo(opus);
  const ts = Math.round(chunk.timestamp * 48000 / 1e6);   // µs since session.ready → 48 kHz samples
  page.ws.send(packet(page.seq, ts, opus));
  page.seq = (page.seq + 1) >>> 0;
  page.sent += 1;
  $('s-sent').textContent = String(page.sent);
}

async function start() {
  $('start').disabled = true;
  page.ready = false; page.samples = 0; page.seq = 0; page.sent = 0; page.ended = null; page.error = null;
  page.onsets = []; page.statsHistory = []; page.events = [];
  try {
    await setupAudio();
  } catch (e) {
    log(`audio: ${e.message}`);
    status('audio unavailable');
    await teardown();
    return;
  }
  const t = token();
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/session${t ? `?token=${encodeURIComponent(t)}` : ''}`;
  const ws = new WebSocket(url, 'avatard.v1');
  ws.binaryType = 'arraybuffer';
  page.ws = ws;
  ws.onopen = () => {
    const start = { type: 'session.start', avatar: $('avatar').value, output: $('output').value,
                    audio: { codec: 'opus', sample_rate: 48000, channels: 1 } };
    if ($('style').value) start.style = $('style').value;
    ws.send(JSON.stringify(start));
    status('starting session…');
  };
  ws.onmessage = (e) => { if (typeof e.data === 'string') onMessage(JSON.parse(e.data)); };
  ws.onclose = (e) => {
    log(`WebSocket closed ${e.code}${e.reason ? ` (${e.reason})` : ''}`);
    status(page.error ? `error: ${page.error.code}` : 'session over');
    teardown();
  };
  ws.onerror = () => log('WebSocket error');
}

function onMessage(m) {
  page.events.push(m.type);
  switch (m.type) {
    case 'session.ready':
      page.sessionId = m.session_id;
      page.ready = true;
      $('s-session').textContent = m.session_id;
      $('s-video').textContent = `${m.video.width}×${m.video.height} @ ${m.video.fps} fps, output delay ${m.latency_ms} ms`;
      $('stop').disabled = false; $('interrupt').disabled = false; $('play-file').disabled = false;
      status('talking');
      log(`session ${m.session_id} ready`);
      startWhep(m.session_id).catch((e) => { log(`WHEP: ${e.message}`); status('no video'); });
      break;
    case 'stats':
      page.stats = m;
      page.statsHistory.push(m);
      $('s-latency').textContent = `${m.latency_ms_p50} / ${m.latency_ms_p95} ms`;
      $('s-frames').textContent = `${m.frames_rendered} / ${m.frames_dropped}`;
      $('s-audio').textContent = `${m.buffered_ms} ms / ${m.packets_lost} packets`;
      break;
    case 'input.interrupted':
      log(`interrupted: ${(m.last_rendered_ts / 48000).toFixed(2)} s of speech were shown`);
      break;
    case 'session.ended':
      page.ended = m;
      log(`session ended: ${m.frames} frames, ${m.frames_dropped} dropped`);
      break;
    case 'error':
      page.error = m;
      log(`error ${m.code}: ${m.message}`);
      break;
    default:
      log(`message ${m.type}`);
  }
}

async function startWhep(sessionId) {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  page.pc = pc;
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.ontrack = (e) => {
    stream.addTrack(e.track);
    const video = $('video');
    if (video.srcObject !== stream) video.srcObject = stream;
    video.play().catch(() => {});
  };
  pc.onconnectionstatechange = () => log(`WebRTC ${pc.connectionState}`);
  await pc.setLocalDescription(await pc.createOffer());
  // Non-trickle WHEP: the offer goes out with the candidates gathered so far (at most 2 s of gathering).
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const timer = setTimeout(resolve, 2000);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); }
    });
  });
  const r = await fetch(`/v1/sessions/${encodeURIComponent(sessionId)}/whep`, {
    method: 'POST', headers: { 'Content-Type': 'application/sdp', ...authHeaders() }, body: pc.localDescription.sdp,
  });
  const answer = await r.text();
  if (r.status !== 201) throw new Error(`${r.status} ${answer.trim()}`);
  page.whepLocation = new URL(r.headers.get('Location'), location.href).href;
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  log('WHEP viewer joined');
}

async function stopWhep() {
  const location_ = page.whepLocation;
  page.whepLocation = null;
  if (page.pc) { page.pc.close(); page.pc = null; }
  if (location_) {
    try { await fetch(location_, { method: 'DELETE', headers: authHeaders() }); } catch (e) { /* the session may be gone */ }
  }
}

async function teardown() {
  page.ready = false;
  if (page.fileSource) { try { page.fileSource.stop(); } catch (e) { /* already stopped */ } page.fileSource = null; }
  if (page.micStream) { page.micStream.getTracks().forEach((t) => t.stop()); page.micStream = null; }
  if (page.encoder && page.encoder.state !== 'closed') page.encoder.close();
  page.encoder = null;
  if (page.ctx) { await page.ctx.close(); page.ctx = null; }
  await stopWhep();
  $('start').disabled = false; $('stop').disabled = true; $('interrupt').disabled = true; $('play-file').disabled = true;
}

async function flushAndClose() {
  $('stop').disabled = true;
  page.ready = false;
  if (page.encoder && page.encoder.state === 'configured') {
    const encoder = page.encoder;
    page.ready = true;           // let the flushed packets out
    try { await encoder.flush(); } catch (e) { /* closed meanwhile */ }
    page.ready = false;
  }
  if (page.ws && page.ws.readyState === WebSocket.OPEN) page.ws.send(JSON.stringify({ type: 'session.close' }));
  status('closing…');
}

function interrupt() {
  if (page.fileSource) { try { page.fileSource.stop(); } catch (e) { /* ended */ } }
  if (page.ws && page.ws.readyState === WebSocket.OPEN) page.ws.send(JSON.stringify({ type: 'input.interrupt' }));
  log('barge-in sent');
}

async function playFile() {
  const file = $('file').files[0];
  if (!file || !page.ctx) { log('choose a speech file first'); return; }
  const buffer = await page.ctx.decodeAudioData(await file.arrayBuffer());
  if (page.fileSource) { try { page.fileSource.stop(); } catch (e) { /* ended */ } }
  const source = page.ctx.createBufferSource();
  source.buffer = buffer;
  source.connect(page.capture);
  if (page.micGain) page.micGain.gain.value = 0;   // the file speaks instead of the microphone
  source.onended = () => {
    if (page.fileSource === source) page.fileSource = null;
    if (page.micGain) page.micGain.gain.value = 1;
    log('file played');
  };
  page.fileSource = source;
  source.start();
  log(`playing ${file.name} (${buffer.duration.toFixed(1)} s)`);
}

setInterval(async () => {
  if (!page.pc) return;
  const report = await page.pc.getStats();
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      $('s-webrtc').textContent = `${s.framesDecoded ?? 0} / ${s.framesDropped ?? 0}`;
    }
  });
}, 1000);

$('avatar').addEventListener('change', fillStyles);
$('token').addEventListener('change', loadAvatars);
$('start').addEventListener('click', start);
$('stop').addEventListener('click', flushAndClose);
$('interrupt').addEventListener('click', interrupt);
$('play-file').addEventListener('click', playFile);
loadAvatars();
