// The call's media: one RTCPeerConnection between the face-pay device and the phone that
// answered, no STUN/TURN (loopback or a LAN). Offer, answer and ICE candidates travel over an
// [ours] signalling channel (not part of the plugin API): the contact service's own event
// stream (POST /v1/rtcSignal, `rtcSignal` events) when the demo runs on the service, an in-page
// bus on the local backend.
import { avatarUrl } from './people.js';

// ---- signalling ------------------------------------------------------------------------------

/**
 * Over the contact service: `send(data)` posts `POST /v1/rtcSignal { roomId, data }` **[ours]**
 * (api.js, with this side's session or device key), and the other side's messages arrive as
 * `rtcSignal` events on this side's own event stream (resumed after a reconnect like every call
 * event), handed here by api.js through `deliverSignal`. Messages that arrive before `listen`
 * are kept for it.
 */
const inbox = new Map(); // roomId → { messages, fn }
export function deliverSignal(room, data) {
  if (!inbox.has(room)) {
    inbox.set(room, { messages: [], fn: null });
    // Another window of the same parent may run the media: keep only the last few rooms here.
    if (inbox.size > 20) inbox.delete(inbox.keys().next().value);
  }
  const box = inbox.get(room);
  if (box.fn) box.fn(data);
  else box.messages.push(data);
}
export function streamSignal(room, send) {
  return {
    send: (data) => send(room, data),
    listen(fn) {
      if (!inbox.has(room)) inbox.set(room, { messages: [], fn: null });
      const box = inbox.get(room);
      box.fn = fn;
      for (const m of box.messages.splice(0)) queueMicrotask(() => fn(m));
    },
    close() {
      inbox.delete(room);
    },
  };
}

/** In one page (the local backend): messages kept per room, replayed to a late listener. */
const bus = new Map();
export function pageSignal(room, me) {
  if (!bus.has(room)) bus.set(room, { messages: [], listeners: new Set() });
  const r = bus.get(room);
  let mine = null;
  return {
    send(data) {
      r.messages.push({ from: me, data });
      for (const l of r.listeners) if (l.me !== me) queueMicrotask(() => l.fn(data));
      return Promise.resolve();
    },
    listen(fn) {
      mine = { me, fn };
      r.listeners.add(mine);
      for (const m of r.messages) if (m.from !== me) queueMicrotask(() => fn(m.data));
    },
    close() {
      if (mine) r.listeners.delete(mine);
      if (!r.listeners.size) bus.delete(room);
    },
  };
}

// ---- synthetic media -------------------------------------------------------------------------

/**
 * A camera and a microphone stand-in: a canvas animation (the avatar, or the initials, and a
 * moving ring and the time) and a quiet tone. Works without any permission (a headless browser).
 */
export function syntheticMedia({ look, label, color }) {
  const canvas = document.createElement('canvas');
  canvas.width = 320;
  canvas.height = 240;
  const g = canvas.getContext('2d');
  const img = new Image();
  if (look) img.src = avatarUrl(look);
  let raf = 0;
  let timer = 0;
  const t0 = performance.now();
  const draw = () => {
    const t = (performance.now() - t0) / 1000;
    g.fillStyle = '#0f172a';
    g.fillRect(0, 0, 320, 240);
    const r = 70 + 6 * Math.sin(t * 3);
    g.strokeStyle = color || '#38bdf8';
    g.lineWidth = 6;
    g.beginPath();
    g.arc(160, 110, r, 0, Math.PI * 2);
    g.stroke();
    if (look && img.complete && img.naturalWidth) g.drawImage(img, 100, 50, 120, 120);
    else {
      g.fillStyle = color || '#38bdf8';
      g.font = 'bold 56px system-ui, sans-serif';
      g.textAlign = 'center';
      g.fillText(initials(label), 160, 130);
    }
    g.fillStyle = '#e2e8f0';
    g.font = '16px system-ui, sans-serif';
    g.textAlign = 'center';
    g.fillText(label + ' · ' + t.toFixed(1) + ' s', 160, 220);
    g.fillStyle = color || '#38bdf8';
    g.fillRect(((t * 80) % 360) - 40, 232, 40, 8);
  };
  // requestAnimationFrame stops in a hidden window; a timer keeps frames coming there too.
  const loop = () => {
    draw();
    raf = requestAnimationFrame(loop);
  };
  loop();
  timer = setInterval(draw, 100);
  const video = canvas.captureStream(15);
  const tracks = [...video.getVideoTracks()];
  let ctx = null;
  try {
    ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.frequency.value = 330;
    const gain = ctx.createGain();
    gain.gain.value = 0.02; // quiet
    const dest = ctx.createMediaStreamDestination();
    osc.connect(gain).connect(dest);
    osc.start();
    ctx.resume().catch(() => undefined);
    tracks.push(...dest.stream.getAudioTracks());
  } catch (_) {
    // no Web Audio: video only
  }
  return {
    kind: 'synthetic',
    stream: new MediaStream(tracks),
    stop() {
      cancelAnimationFrame(raf);
      clearInterval(timer);
      for (const t of tracks) t.stop();
      if (ctx) ctx.close().catch(() => undefined);
    },
  };
}

function initials(label) {
  return String(label || '?')
    .split(/\s+/)
    .map((w) => w[0] || '')
    .join('')
    .slice(0, 2)
    .toUpperCase();
}

/** The real camera and microphone, only where permission is already granted (never a prompt here). */
async function cameraIfAllowed() {
  try {
    if (!navigator.permissions || !navigator.mediaDevices) return null;
    const [cam, mic] = await Promise.all([navigator.permissions.query({ name: 'camera' }), navigator.permissions.query({ name: 'microphone' })]);
    if (cam.state !== 'granted' || mic.state !== 'granted') return null;
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 }, audio: true });
    return { kind: 'camera', stream, stop: () => stream.getTracks().forEach((t) => t.stop()) };
  } catch (_) {
    return null;
  }
}

// ---- the call ----------------------------------------------------------------------------------

/**
 * Starts the media of one answered call. `offerer`: the device (it sends the offer); the phone
 * answers it. `remote` / `local`: <video> elements. `onStats(s)` gets, every second,
 * `{ state, videoWidth, videoHeight, currentTime, bytesReceived, source }`.
 * Resolves a handle with `stop()` and `useCamera()` (asks for the camera, replaces the tracks).
 */
export async function startMedia({ signal, offerer, me, remote, local, onStats }) {
  let media = (await cameraIfAllowed()) || syntheticMedia(me);
  let source = media.kind;
  const pc = new RTCPeerConnection({ iceServers: [] });
  for (const t of media.stream.getTracks()) pc.addTrack(t, media.stream);
  local.srcObject = media.stream;
  local.muted = true;
  local.play().catch(() => undefined);
  const inbound = new MediaStream();
  remote.srcObject = inbound;
  pc.ontrack = (ev) => {
    inbound.addTrack(ev.track);
    remote.play().catch(() => undefined);
  };
  pc.onicecandidate = (ev) => {
    if (ev.candidate) signal.send({ ice: ev.candidate.toJSON() }).catch(() => undefined);
  };
  const early = [];
  let described = false;
  const addIce = (c) => pc.addIceCandidate(c).catch(() => undefined);
  Promise.resolve(signal.listen(async (m) => {
    try {
      if (m.sdp) {
        await pc.setRemoteDescription(m.sdp);
        described = true;
        for (const c of early.splice(0)) addIce(c);
        if (m.sdp.type === 'offer') {
          await pc.setLocalDescription(await pc.createAnswer());
          await signal.send({ sdp: pc.localDescription.toJSON() });
        }
      } else if (m.ice) {
        if (described) addIce(m.ice);
        else early.push(m.ice);
      }
    } catch (e) {
      console.warn('[demo] signalling message not applied', e);
    }
  })).catch((e) => console.warn('[demo] the signalling stream failed', e));
  if (offerer) {
    await pc.setLocalDescription(await pc.createOffer());
    await signal.send({ sdp: pc.localDescription.toJSON() });
  }
  let stopped = false;
  const poll = setInterval(async () => {
    if (stopped) return;
    let bytesReceived = 0;
    try {
      const stats = await pc.getStats();
      stats.forEach((r) => {
        if (r.type === 'inbound-rtp') bytesReceived += r.bytesReceived || 0;
      });
    } catch (_) {
      // closed meanwhile
    }
    if (stopped) return;
    onStats({
      state: pc.connectionState,
      videoWidth: remote.videoWidth,
      videoHeight: remote.videoHeight,
      currentTime: remote.currentTime,
      bytesReceived,
      source,
    });
  }, 1000);
  return {
    /** 'camera' or 'synthetic': what this side sends. */
    get source() {
      return source;
    },
    async useCamera() {
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 }, audio: true });
        for (const sender of pc.getSenders()) {
          const t = stream.getTracks().find((x) => sender.track && x.kind === sender.track.kind);
          if (t) await sender.replaceTrack(t);
        }
        media.stop();
        media = { kind: 'camera', stream, stop: () => stream.getTracks().forEach((t) => t.stop()) };
        source = 'camera';
        local.srcObject = stream;
        return true;
      } catch (_) {
        return false;
      }
    },
    stop() {
      stopped = true;
      clearInterval(poll);
      signal.close();
      pc.close();
      media.stop();
      local.srcObject = null;
      remote.srcObject = null;
    },
  };
}
