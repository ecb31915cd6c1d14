// The http backend (SPEC §6.2): each operation is one `POST <url>/v1/<api>` to the contact
// service (server/README.md, "The plugin interface contract"), which runs the core's operation
// over its database and answers `{ errCode: 0, errMsg, result }` or `{ errCode, errMsg, code }`.
// The transport is the host's `request(url, init)` (fetch in browsers and Node, wx.request in a
// Mini Program), resolving `{ status, json }` (json: the parsed body, undefined if it is not
// JSON) or rejecting on a transport failure.
//
// Identity: parents' requests carry `Bearer <session>` from getSession() (called when no session
// is cached, and once more after a 3008 reply, the request then retried once); device requests
// carry `Device <deviceKey>`. The service derives who is asking; no body field names anyone.
//
// Retries: the service's mutating endpoints are idempotent for the same request (binding twice
// is `binded`, deleting an absent contact is NOT_CONTACT, …), so a host may repeat a call that
// failed with REQUEST_FAILED (a timeout: the service may have applied it).
//
// Calls (SPEC §3.7) live on the service. Their events reach this backend's instances over one
// stream per backend (`GET /v1/events`): Server-Sent Events read with fetch where there is one
// (browsers, Node), a long-poll (`?poll=`) with the host's request() elsewhere (a Mini
// Program). A reconnect resumes after the last event id, so nothing is lost or delivered twice;
// after its own call operations the backend also fetches what is pending, so (as on the local
// backend) an operation's own events are delivered before its promise resolves.
import { utf8Length } from './utf8.js';
import { CODES, VoipCgiError, VoipPluginError, badResponse, invalidArgument, ok, readOptions, reason, requestFailed } from './errors.js';

const TIMEOUT_MS = 15000;
/**
 * The service's body limit (server/src/http/mod.rs `Limits::default().body_bytes`; a server test
 * keeps the two equal). A larger argument is refused here with 1004, as the service would
 * refuse it (413, 1004), without sending it: a service answering 413 before it has read a
 * large body may reset the connection under its reply.
 */
const MAX_BODY_BYTES = 65536;
/** The result's form per API: ok() fields, a string, an array, or an object passed as is. */
const OK = 1;
const STR = 2;
const ARR = 3;
const OBJ = 4;

const plain = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The fields each API reads (the core's src/requests.rs lists; tests/shim_tables.rs keeps this
 * table equal to them). Only these are sent, as the local binding converts only these: whatever
 * else a host put in the argument costs nothing and never reaches the service.
 */
const FIELDS = {
  bindVoipAdminContact: ['userId'],
  getBindContactPath: ['userId', 'userName', 'userAvatar'],
  getVoipBindContactList: ['userId'],
  deleteVoipBindContact: ['userId', 'openidList'],
  transerAdmin: ['userId', 'newAdminOpenid'],
  issueVoipToken: ['userId'],
  answerVoip: ['roomId'],
  rejectVoip: ['roomId'],
  initByCaller: ['roomType', 'caller', 'listener', 'businessType', 'voipToken', 'customQuery', 'timeLimit', 'miniprogramState'],
};

/** The APIs whose argument is the share path (a string) or the bind page's query object. */
const PATH_APIS = new Set(['inspectBindContactPath', 'acceptBindContactPath', 'declineBindContactPath']);

function tooLarge(api) {
  return invalidArgument(api, 'the argument is over ' + MAX_BODY_BYTES + ' bytes as JSON');
}

/**
 * An object's JSON text built from its members' texts (each value serialised once), refused as
 * soon as it grows past the body limit (a UTF-16 unit is at least one UTF-8 byte).
 */
function objectText(api) {
  const parts = [];
  let units = 2;
  return {
    add(k, t) {
      const part = JSON.stringify(k) + ':' + t;
      units += part.length + 1;
      if (units > MAX_BODY_BYTES) throw tooLarge(api);
      parts.push(part);
    },
    text: () => '{' + parts.join(',') + '}',
  };
}

/**
 * The body sent for `args`: only the API's fields (an unreadable or unsendable field is a 1004
 * naming it), the share path as `{ path }`; other arguments as they are.
 */
function bodyOf(api, args) {
  if (PATH_APIS.has(api)) {
    const o = objectText(api);
    o.add('path', queryText(api, args));
    return o.text();
  }
  const fields = FIELDS[api];
  if (args === undefined) return '{}';
  if (!fields || !plain(args)) return JSON.stringify(args, faithful);
  const o = objectText(api);
  for (const f of fields) {
    let t;
    try {
      t = JSON.stringify(args[f], faithful); // a revoked Proxy, a throwing getter, a function
    } catch (e) {
      throw invalidArgument(api, f + ' cannot be read: ' + reason(e));
    }
    if (t !== undefined) o.add(f, t);
  }
  return o.text();
}

/**
 * The bind page's query object as the core reads it: a value that cannot be read or sent is
 * left out (the core takes only string values; the rest is sent as it is, within the body limit).
 */
function queryText(api, path) {
  if (!plain(path)) return JSON.stringify(path, faithful);
  const o = objectText(api);
  for (const k of Object.keys(path)) {
    let t;
    try {
      t = JSON.stringify(path[k], faithful);
    } catch (_) {
      continue; // unreadable: like any value that is not a string, it is no parameter
    }
    if (t !== undefined) o.add(k, t);
  }
  return o.text();
}

/**
 * A JSON.stringify replacer that refuses what JSON would silently drop or change (a function or
 * a symbol would vanish, and `{ userId: fn }` would reach the service as `{}`), so the service
 * sees the argument the caller passed or the call fails with 1004.
 */
function faithful(key, v) {
  const t = typeof v;
  if (t === 'function' || t === 'symbol') {
    throw new TypeError((key === '' ? 'the argument' : JSON.stringify(key)) + ' is a ' + t);
  }
  return v;
}

function unauthenticated(api, why) {
  return new VoipCgiError(CODES.UNAUTHENTICATED, 'UNAUTHENTICATED', api + ':fail ' + why);
}

/** The openId field of `v1.<kid>.<openId>.<iat>.<exp>.<mac>` (not verified: the service does). */
export function sessionOpenId(s) {
  const f = typeof s === 'string' ? s.split('.') : [];
  return f.length >= 6 && f[0] === 'v1' ? f.slice(2, -3).join('.') : undefined;
}

export class HttpBackend {
  constructor(host, url, getSession, deviceKey, timeout, now) {
    this.type = 'http';
    this._clock = now;
    this._host = host;
    this._url = url;
    this._getSession = getSession;
    this._key = deviceKey;
    this._timeout = timeout;
    this._session = undefined; // the last session getSession() resolved
    this._openId = undefined; // its openId (every later session must have the same)
    this._getting = null;
    this._closed = false;
    this._instances = new Set(); // instances that listen or call
    this._stream = null; // { stop, abort } of the running event stream
    this._ready = null; // resolves once the stream knows where it starts
    this._lastId = undefined; // the last event id delivered
    this._owners = new Map(); // device backend: roomId -> the instance that called
    this._early = new Map(); // device backend: roomId -> events that came before the reply
    this._connectedAt = new Map(); // roomId -> this device's clock at startVoip (calling.keepTime)
    this._sent = Promise.resolve(); // the last forceHangUpVoip request, once answered
  }

  get dev() {
    return false;
  }

  /** This device's clock (the `now` option, else Date.now): a call's start and keepTime. */
  now() {
    if (this._clock) {
      try {
        const t = this._clock();
        if (typeof t === 'number' && Number.isFinite(t)) return t;
      } catch (_) {
        // A broken clock option must not break a hang-up; the wall clock stands in.
      }
    }
    return Date.now();
  }

  /** The session to use instead of `stale` (undefined: any cached one). */
  _fresh(api, stale) {
    if (this._session !== undefined && this._session !== stale) return Promise.resolve(this._session);
    if (!this._getting) {
      const done = () => (this._getting = null);
      this._getting = Promise.resolve()
        .then(() => this._getSession())
        .then(
          (s) => {
            done();
            const who = sessionOpenId(s);
            if (!who) throw unauthenticated(api, 'getSession() must resolve a session string v1.<kid>.<openId>.<iat>.<exp>.<mac>');
            if (this._openId !== undefined && who !== this._openId) {
              throw unauthenticated(api, 'getSession() resolved a session of another openId than this backend\'s (' + this._openId + ')');
            }
            this._openId = who;
            return (this._session = s);
          },
          (e) => {
            done();
            throw unauthenticated(api, 'getSession() failed: ' + reason(e));
          },
        );
    }
    return this._getting;
  }

  /** The openId of this backend's instances (undefined: a device backend). */
  _who(api) {
    return this._getSession ? this._fresh(api).then(() => this._openId) : Promise.resolve(undefined);
  }

  async _call(api, args, form, device, compat) {
    if (this._closed) throw invalidArgument(api, 'this backend was closed');
    let body;
    try {
      body = bodyOf(api, args);
    } catch (e) {
      if (e instanceof VoipPluginError) throw e;
      throw invalidArgument(api, 'the argument cannot be sent as JSON: ' + reason(e)); // e.g. a revoked Proxy
    }
    if (body === undefined) throw invalidArgument(api, 'the argument cannot be sent as JSON');
    // UTF-8 bytes are at most 3 per UTF-16 unit: only a long body needs counting.
    if (body.length * 3 > MAX_BODY_BYTES && utf8Length(body) > MAX_BODY_BYTES) throw tooLarge(api);
    if (device && !this._key) throw unauthenticated(api, 'this backend has no deviceKey (createHttpBackend({ url, deviceKey }) on the device)');
    if (!device && !this._getSession) {
      // The core's message for a device instance (ops::identity).
      throw unauthenticated(api, 'this instance has no openId (a device instance); create one with createVoipPlugin({ openId })');
    }
    let used;
    for (let retry = false; ; retry = true) {
      const headers = { 'Content-Type': 'application/json' };
      if (device) headers.Authorization = 'Device ' + this._key;
      else headers.Authorization = 'Bearer ' + (used = await this._fresh(api, used));
      if (compat) headers['X-Compat-Version'] = compat;
      let r;
      try {
        r = await this._host.request(this._url + api, { method: 'POST', headers, body, timeout: this._timeout });
      } catch (e) {
        throw requestFailed(api, 'the contact service could not be reached: ' + reason(e));
      }
      const j = r && r.json;
      if (!device && !retry && r.status === 401 && plain(j) && j.errCode === CODES.UNAUTHENTICATED) continue;
      return answer(api, r.status, j, form);
    }
  }

  authorizeVoip() {
    return this._call('authorizeVoip', undefined, OK);
  }

  revokeVoip() {
    return this._call('revokeVoip', undefined, OK);
  }

  getVoipConsent() {
    return this._call('getVoipConsent', undefined, OK);
  }

  bindVoipAdminContact(actor, args) {
    return this._call('bindVoipAdminContact', args, OK);
  }

  getBindContactPath(actor, args) {
    return this._call('getBindContactPath', args, STR);
  }

  getVoipBindContactList(actor, args) {
    return this._call('getVoipBindContactList', args, ARR);
  }

  deleteVoipBindContact(actor, args) {
    return this._call('deleteVoipBindContact', args, OK);
  }

  transerAdmin(actor, args) {
    return this._call('transerAdmin', args, OK);
  }

  inspectBindContactPath(actor, path) {
    return this._call('inspectBindContactPath', path, OBJ);
  }

  acceptBindContactPath(actor, path) {
    return this._call('acceptBindContactPath', path, OBJ);
  }

  declineBindContactPath(actor, path) {
    return this._call('declineBindContactPath', path, OBJ);
  }

  /** The face-scan stand-in, for a device: a signed, single-use voipToken. */
  issueVoipToken(args) {
    return this._call('issueVoipToken', args, STR, true);
  }

  // ---- calls (SPEC §3.7): the event stream ------------------------------------------------

  _attach(instance) {
    this._instances.add(instance);
    this._startStream().catch(() => undefined);
  }

  _detach(instance) {
    this._instances.delete(instance);
    if (this._instances.size === 0) this._stopStream();
  }

  /** Parent backends send the session, device backends the device key. */
  get _device() {
    return !this._getSession;
  }

  async _headers(api, stale) {
    if (this._device) return { Authorization: 'Device ' + this._key };
    return { Authorization: 'Bearer ' + (await this._fresh(api, stale)) };
  }

  /** One `GET <url>/v1/<path>`: the parsed reply of a 200, or a thrown VoipError. */
  async _get(api, path, timeout) {
    let stale;
    for (let retry = false; ; retry = true) {
      const headers = await this._headers(api, stale);
      stale = headers.Authorization.slice(7);
      let r;
      try {
        r = await this._host.request(this._url + path, { method: 'GET', headers, timeout });
      } catch (e) {
        throw requestFailed(api, 'the contact service could not be reached: ' + reason(e));
      }
      const j = r && r.json;
      if (!this._device && !retry && r.status === 401) continue;
      if (r.status === 200 && plain(j) && j.errCode === 0) return j;
      return answer(api, r.status, j, OBJ);
    }
  }

  /** Starts the stream if it is not running; resolves once it knows its starting point. */
  _startStream() {
    if (this._closed) return Promise.reject(invalidArgument('events', 'this backend was closed'));
    if (!this._stream) {
      const st = { stop: false, abort: null };
      this._stream = st;
      let resolve;
      this._ready = new Promise((r) => (resolve = r));
      st.ready = resolve;
      this._run(st);
    }
    return this._ready;
  }

  _stopStream() {
    const st = this._stream;
    if (!st) return;
    st.stop = true;
    if (st.abort) st.abort();
    this._stream = null;
  }

  async _run(st) {
    let pause = 250;
    while (!st.stop && !this._closed) {
      try {
        if (this._host.stream) await this._sse(st);
        else await this._poll(st);
        pause = 250;
      } catch (e) {
        // Reconnect after a pause (the service restarting, the network away): resumes after
        // the last event id.
      }
      if (st.stop || this._closed) break;
      await new Promise((r) => {
        const t = setTimeout(r, pause);
        if (t && typeof t.unref === 'function') t.unref();
      });
      pause = Math.min(pause * 2, 5000);
    }
  }

  _started(st, id) {
    if (this._lastId === undefined) this._lastId = id;
    st.ready();
  }

  async _sse(st) {
    const headers = await this._headers('events');
    if (this._lastId !== undefined) headers['Last-Event-ID'] = String(this._lastId);
    const res = await this._host.stream(this._url + 'events', headers);
    st.abort = res.abort;
    if (st.stop) return res.abort();
    if (res.status === 401 && !this._device) this._session = undefined;
    if (res.status !== 200) {
      res.abort();
      throw new Error('HTTP ' + res.status); // reconnects after a pause
    }
    for (;;) {
      const m = await res.next();
      if (m === undefined || st.stop) return;
      if (m.event === 'ready') this._started(st, m.id);
      else if (m.id !== undefined && m.data !== undefined) this._message(m.id, JSON.parse(m.data));
    }
  }

  async _poll(st) {
    if (this._lastId === undefined) this._started(st, (await this._get('events', 'events?poll=0', this._timeout)).lastEventId);
    else st.ready();
    while (!st.stop && !this._closed) {
      const r = await this._get('events', 'events?poll=20&after=' + this._lastId, 30000);
      this._messages(r);
    }
  }

  _messages(r) {
    for (const m of Array.isArray(r.messages) ? r.messages : []) this._message(m.id, m);
  }

  /** Fetches what is pending now (an operation's own events, before it resolves). */
  async _drain(api) {
    await this._startStream();
    this._messages(await this._get(api, 'events?poll=0&after=' + this._lastId, this._timeout));
  }

  /** One stream message `{ roomId, events }`, delivered once, in id order. */
  _message(id, m) {
    if (!(typeof id === 'number' && id > this._lastId) || !plain(m) || !Array.isArray(m.events)) return;
    this._lastId = id;
    const roomId = m.roomId;
    // calling.keepTime runs from the service's connect time (`at`), unless this device's clock
    // is behind the service's or a minute off: then from when startVoip arrived.
    const now = this.now();
    const at = typeof m.at === 'number' && m.at <= now && now - m.at < 60000 ? m.at : now;
    for (const ev of m.events) {
      if (ev.eventName === 'startVoip') this._connectedAt.set(roomId, at);
      if (ev.eventName === 'endVoip') this._connectedAt.delete(roomId);
    }
    if (!this._device) {
      for (const instance of Array.from(this._instances)) instance._hear(roomId, m.events);
      return;
    }
    const owner = this._owners.get(roomId);
    if (owner) {
      owner._hear(roomId, m.events);
      if (m.events.some((e) => e.eventName === 'finishVoip')) this._owners.delete(roomId);
    } else {
      // The call's events can come before initByCaller's reply names its room.
      const early = this._early.get(roomId) || [];
      this._early.set(roomId, early.concat(m.events));
    }
  }

  /** `calling.keepTime` from this device's clock since startVoip arrived. */
  _keepTime(roomId) {
    const at = this._connectedAt.get(roomId);
    return at === undefined ? undefined : Math.max(0, this.now() - at);
  }

  /** Admission by the service; the call's events come over the stream (opened first). */
  async admitCall(instance, args, compat) {
    const api = 'initByCaller';
    await this._startStream();
    const r = await this._call(api, args, OBJ, true, compat);
    if (r.isSuccess === true) {
      this._owners.set(r.roomId, instance);
      const early = this._early.get(r.roomId);
      this._early.clear();
      if (early) instance._hear(r.roomId, early);
      await this._drain(api).catch(() => undefined);
    }
    return r;
  }

  /** `answerVoip` / `rejectVoip`: resolves once the change's own events were delivered. */
  async actOnCall(instance, api, args) {
    await this._startStream();
    await this._call(api, args, OK, this._device);
    await this._drain(api).catch(() => undefined);
    return ok(api);
  }

  /** `forceHangUpVoip(roomId?)`: sent at once; the events follow over the stream. */
  hangUp(instance, roomId) {
    const api = 'forceHangUpVoip';
    const sent = this._call(api, roomId === undefined ? {} : { roomId }, OK, this._device)
      .then(() => this._drain(api))
      .catch((e) => {
        if (typeof console !== 'undefined') console.error('[campus-voip] forceHangUpVoip failed', e);
      });
    this._sent = this._sent.then(() => sent);
  }

  /**
   * **[ours]** Resolves once this backend's own requests were answered and every event the
   * service has for it so far was delivered (tests, and hosts that want to wait for the events
   * of another device's action).
   */
  async settle() {
    await this._sent;
    if (this._stream && !this._closed) await this._drain('events');
  }

  /** **[ours]** Fires passed deadlines now (a `--dev` service, after its clock moved). */
  async tick() {
    await this._call('dev/tick', {}, OBJ, this._device);
    if (this._instances.size > 0) await this._drain('tick').catch(() => undefined);
  }

  /** Stops the event stream and refuses later calls. */
  close() {
    this._closed = true;
    this._stopStream();
    this._instances.clear();
  }
}

/** The service's reply as the local backend would have resolved or rejected it. */
function answer(api, status, j, form) {
  if (plain(j) && typeof j.errCode === 'number') {
    if (j.errCode === 0 && status === 200) {
      const r = j.result;
      if (form === OK && plain(r)) return ok(api, r);
      if (form === STR ? typeof r === 'string' : form === ARR ? Array.isArray(r) : form === OBJ && plain(r)) return r;
    } else if (j.errCode !== 0 && typeof j.errMsg === 'string' && typeof j.code === 'string') {
      // The class is the core's (its error table's origin, sent by the service).
      const Cls = j.origin === 'plugin' ? VoipPluginError : VoipCgiError;
      throw new Cls(j.errCode, j.code, api + ':fail ' + j.errMsg.replace(/^[A-Za-z]+:fail /, ''));
    }
  }
  throw badResponse(api, 'the contact service answered HTTP ' + status + (j === undefined ? ' with a body that is not JSON' : ' with an unexpected reply'));
}

/** `createHttpBackend({ url, getSession, deviceKey, timeoutMs, now })` for a host (its request()). */
export function httpBackendFactory(host) {
  return async function createHttpBackend(options) {
    const api = 'createHttpBackend';
    const o = readOptions(api, options, ['url', 'getSession', 'deviceKey', 'timeoutMs', 'now'], 'options');
    if (typeof o.url !== 'string' || !/^https?:\/\/[^\s]+$/i.test(o.url)) {
      throw invalidArgument(api, 'url must be the contact service\'s http(s) address, e.g. "https://voip.school.example"');
    }
    if (o.getSession !== undefined && typeof o.getSession !== 'function') {
      throw invalidArgument(api, 'getSession must be a function resolving the session string');
    }
    if (o.deviceKey !== undefined && (typeof o.deviceKey !== 'string' || !/^[\x21-\x7e]{1,256}$/.test(o.deviceKey))) {
      throw invalidArgument(api, 'deviceKey must be the device key string (cvd1.…)');
    }
    if (!o.getSession && !o.deviceKey) throw invalidArgument(api, 'needs getSession (a parent\'s app) or deviceKey (a face-pay device)');
    const t = o.timeoutMs === undefined ? TIMEOUT_MS : o.timeoutMs;
    if (typeof t !== 'number' || !(t >= 1 && t <= 120000)) throw invalidArgument(api, 'timeoutMs must be 1–120000 (default 15000)');
    if (o.now !== undefined && typeof o.now !== 'function') throw invalidArgument(api, 'now must be a function returning ms since the epoch (default Date.now)');
    const base = o.url.replace(/\/+$/, '');
    return new HttpBackend(host, /\/v1$/.test(base) ? base + '/' : base + '/v1/', o.getSession, o.deviceKey, t, o.now);
  };
}
