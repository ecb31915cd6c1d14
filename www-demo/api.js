// The only module that calls the campus-voip API: creates the backends and plugin instances
// (local, or one http backend per phone and device on the contact service), runs each call on
// behalf of someone (logged, then the views refreshed), and the [ours] demo routes.
import { createHttpBackend, createLocalBackend, createVoipPlugin, webStorage } from 'campus-voip';
import { DEVICE, DEVICE2, newOpenId } from './people.js';
import { BIND_END_PAGE, CALL_END_PAGE, DEMO, KEYS, now, PLUGIN_APP_ID, REGISTRY_NAMESPACE, S, saved, TTL } from './state.js';
import { addLog, logEvent } from './log.js';
import { deviceCallEvent, phoneCallEvent } from './calls.js';
import { deliverSignal } from './rtc.js';
import { refresh } from './app.js';

/**
 * Runs one API call on behalf of `who`, logs its result or error, refreshes the live views.
 * Resolves { ok: true, value } or { ok: false, error } (VoipErrors are expected; anything else is
 * a bug and is reported on the console).
 */
export async function run(who, api, args, fn, describe) {
  let out;
  try {
    const value = await fn();
    out = { ok: true, value };
    addLog(who, 'ok', api, describe ? describe(value) : 'ok', { request: args, result: value });
  } catch (error) {
    out = { ok: false, error };
    const isVoip = error && typeof error.errCode === 'number';
    addLog(who, 'fail', api, isVoip ? `errCode ${error.errCode} ${error.code}` : String(error), { request: args, error });
    if (!isVoip) console.error('[demo] unexpected failure in ' + api, error);
  }
  await refresh();
  return out;
}

/** The plugin APIs the phones use (a phone's own instance: its session, its openId). */
const PHONE_APIS = new Set([
  'authorizeVoip',
  'revokeVoip',
  'getVoipConsent',
  'bindVoipAdminContact',
  'getBindContactPath',
  'getVoipBindContactList',
  'deleteVoipBindContact',
  'transerAdmin',
  'inspectBindContactPath',
  'acceptBindContactPath',
  'declineBindContactPath',
  'answerVoip',
  'rejectVoip',
  'forceHangUpVoip',
]);

/** A phone's plugin call: `phoneApi(ph, 'getVoipConsent')`. */
export function phoneApi(ph, api, ...args) {
  if (!PHONE_APIS.has(api)) throw new Error('[demo] not a phone API: ' + api);
  return ph.inst[api](...args);
}

/** The device's plugin call (initByCaller, forceHangUpVoip). */
export function deviceApi(api, ...args) {
  if (api !== 'initByCaller' && api !== 'forceHangUpVoip') throw new Error('[demo] not a device API: ' + api);
  return S.device[api](...args);
}

/**
 * The second device's initByCaller (the local backend only: another device instance on the
 * same in-page backend). Resolves its answer and the events the call had by then (a busy
 * listener's ending comes with the call's own events, before the promise resolves).
 */
export async function secondDeviceCall(req) {
  if (!S.device2) {
    S.device2 = await createVoipPlugin({ backend: S.backend });
    S.device2Events = [];
    S.device2.onVoipEvent((ev) => {
      logEvent(DEVICE2, ev);
      S.device2Events.push(ev);
    });
  }
  S.device2Events.length = 0;
  const answer = await S.device2.initByCaller(req);
  return { answer, events: S.device2Events.slice() };
}

/** The second device hangs up its call (one that rang: the parent was not busy after all). */
export function secondDeviceHangUp(roomId) {
  if (S.device2) S.device2.forceHangUpVoip(roomId);
}

/**
 * What the page asks besides the plugin API: the developer queries getVoipContactList and
 * getVoipCallList, the face-scan stand-in issueVoipToken, and tick (the local backend's own; on
 * the service, the school server's /wxa queries and /v1/dev/tick through serve-demo).
 */
export function schoolApi(api, ...args) {
  if (!['getVoipContactList', 'getVoipCallList', 'issueVoipToken', 'tick'].includes(api)) throw new Error('[demo] not a backend API: ' + api);
  return S.backend[api](...args);
}

export async function connect() {
  if (S.mode === 'service') return connectService();
  S.backend = await createLocalBackend({
    // A development backend, on purpose: this page also plays the school's face-pay device,
    // and only a dev backend has issueVoipToken (the stand-in for a face scan; a real device
    // gets its token from WeChat Pay's face recognition). It also has resetStudent and
    // exportSnapshot, which this page does not use. A production host never sets dev.
    dev: true,
    storage: webStorage(localStorage),
    namespace: REGISTRY_NAMESPACE,
    maxContacts: S.max,
    ticketTtlMs: TTL.ticket,
    voipTokenTtlMs: TTL.token,
    pluginAppId: PLUGIN_APP_ID,
    now,
  });
  for (const ph of S.phones) {
    const make = () =>
      createVoipPlugin({
        backend: S.backend,
        openId: ph.openId,
        navigate: (req) => {
          ph.pendingNav = req;
        },
      });
    try {
      ph.inst = await make();
    } catch (e) {
      // The core checks openIds (errCode 20 names the rule); a saved one it refuses is replaced.
      if (!e || e.errCode !== 20) throw e;
      addLog(DEMO, 'note', 'openId', `${ph.p.name}’s saved openId was refused (${e.errMsg}); a new one was generated`);
      ph.openId = newOpenId();
      saved.set(KEYS.parents, S.phones.map((x) => x.openId));
      ph.inst = await make();
    }
    listenPhone(ph);
  }
  S.device = await createVoipPlugin({
    backend: S.backend,
    navigate: (req) => {
      S.deviceNav = req;
    },
  });
  listenDevice();
}

/** Each phone and the device: its own http backend (a session or the device key), own stream. */
export async function connectService() {
  const url = location.origin;
  const backends = [];
  for (const ph of S.phones) {
    if (!ph.here) continue;
    const backend = await createHttpBackend({ url, getSession: () => devSession(ph.openId), now });
    backends.push(backend);
    ph.inst = await createVoipPlugin({
      backend,
      navigate: (req) => {
        ph.pendingNav = req;
      },
    });
    listenPhone(ph);
  }
  if (S.deviceHere) {
    S.deviceBackend = await createHttpBackend({ url, deviceKey: S.cfg.deviceKey, now });
    backends.push(S.deviceBackend);
    S.device = await createVoipPlugin({
      backend: S.deviceBackend,
      navigate: (req) => {
        S.deviceNav = req;
      },
    });
    listenDevice();
  }
  // What the page asks besides the plugin API: the school server's queries (serve-demo holds
  // the app secret), the face-scan stand-in (the device's issueVoipToken), and tick.
  S.backend = {
    getVoipContactList: (args) => demoPost('school/getvoipcontactlist', args),
    getVoipCallList: (args) => demoPost('school/getvoipcalllist', args),
    issueVoipToken: (args) => S.deviceBackend.issueVoipToken(args),
    tick: () => demoPost('tick', {}),
    close: () => backends.forEach((b) => b.close()),
  };
}

/**
 * [ours] WebRTC signalling over the service: POST /v1/rtcSignal { roomId, data } with the
 * phone's session (`ph`) or the device key (no `ph`); the other side hears an `rtcSignal` event.
 */
export async function sendSignal(ph, roomId, data) {
  const auth = ph ? 'Bearer ' + (await devSession(ph.openId)) : 'Device ' + S.cfg.deviceKey;
  const r = await fetch('/v1/rtcSignal', { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: auth }, body: JSON.stringify({ roomId, data }) });
  const j = await r.json();
  if (j.errCode !== 0) throw new Error('/v1/rtcSignal: ' + j.errMsg);
}

/** --dev: a parent's session from the service (POST /v1/dev/session). */
export async function devSession(openId) {
  const r = await fetch('/v1/dev/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ openId }) });
  const j = await r.json();
  if (j.errCode !== 0) throw new Error('/v1/dev/session: ' + j.errMsg);
  return j.session;
}

/** [ours] serve-demo.mjs's demo routes (POST /demo/<route>). */
export async function demoPost(route, body) {
  const r = await fetch('/demo/' + route, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`/demo/${route} answered ${r.status}`);
  return r.json();
}

export function listenPhone(ph) {
  ph.inst.setVoipEndPagePath(BIND_END_PAGE);
  ph.inst.onVoipEvent((ev) => {
    // [ours] the device's offer and ICE for the call's media (not a plugin event: not logged).
    if (ev.eventName === 'rtcSignal') return deliverSignal(ev.roomId, ev.data);
    logEvent(ph.p, ev);
    phoneCallEvent(ph, ev);
  });
}

export function listenDevice() {
  S.device.setVoipEndPagePath(CALL_END_PAGE);
  S.device.onVoipEvent((ev) => {
    if (ev.eventName === 'rtcSignal') return deliverSignal(ev.roomId, ev.data);
    logEvent(DEVICE, ev);
    deviceCallEvent(ev);
  });
}

export function disconnect() {
  for (const ph of S.phones) {
    if (ph.inst) ph.inst.dispose();
    ph.inst = null;
  }
  if (S.device) S.device.dispose();
  S.device = null;
  if (S.device2) S.device2.dispose();
  S.device2 = null;
  if (S.backend) S.backend.close();
  S.backend = null;
}
