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
// The call slot (one call at a time per device instance, forceHangUpVoip) stays in the client:
// the service only admits calls. The wasm core's CallSlot can be started only by the local
// engine, so this backend keeps a small JS slot with the same busy rule and hang-up data.
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

  /** Admission by the service; the call itself is this slot's. */
  async admitCall(slot, args, compat) {
    const api = 'initByCaller';
    if (slot.c) {
      throw new VoipPluginError(
        CODES.BUSY,
        'BUSY',
        api + ':fail a call is already in progress' + (slot.c.roomId ? ' (roomId ' + slot.c.roomId + ')' : '') + '; forceHangUpVoip() first',
      );
    }
    slot.c = {}; // reserved while the service decides
    let r;
    try {
      r = await this._call(api, args, OBJ, true, compat);
    } finally {
      slot.c = null;
    }
    if (r.isSuccess !== true) return r;
    const req = plain(args) ? args : {};
    const caller = plain(req.caller) ? req.caller : {};
    const listener = plain(req.listener) ? req.listener : {};
    slot.c = {
      roomId: r.roomId,
      at: this.now(),
      callerName: typeof caller.name === 'string' ? caller.name : String(caller.id),
      listenerName: typeof listener.name === 'string' ? listener.name : String(listener.id),
      roomType: req.roomType,
      businessType: typeof req.businessType === 'number' ? req.businessType : 0,
    };
    return r;
  }

  _newSlot() {
    return { c: null, free() {} };
  }

  _hangUp(slot, roomId) {
    const c = slot.c;
    if (!c || !c.roomId || (roomId !== undefined && roomId !== c.roomId)) return undefined;
    slot.c = null;
    const data = { keepTime: Math.max(0, this.now() - c.at), callerName: c.callerName, listenerName: c.listenerName };
    data.roomType = c.roomType;
    data.isCaller = true;
    data.businessType = c.businessType;
    return { roomId: c.roomId, data };
  }

  /** Refuses later calls (nothing to free: no connection is kept open). */
  close() {
    this._closed = true;
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
