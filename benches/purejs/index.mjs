// The bar for the shim benchmark (benches/shim.mjs): the contact rules of SPEC §1–§4 written in
// plain JavaScript, the way a careful JS developer would write them for Node: a Map registry
// with a reverse index, one JSON record written per change through a storage adapter of the
// same { get, set, remove, keys } shape as js/storage.js, @noble/hashes HMAC-SHA256 with the key
// pads absorbed once, Node's CSPRNG through a pooled buffer, the same argument checks (SPEC §1
// limits, same messages), the same outcome order (SPEC §3.4, row 4b included), the same result
// shapes, errors as Error subclasses with errCode. Not shipped; never imported by the package.
//
// Stored values are versioned JSON with a 64-bit checksum over key and JSON, as SPEC §6.1 asks. Deliberate differences from the core, in this implementation's favour (the
// bar should be hard to beat): student keys are 's.' + userId (no hashing; fine for memory, web
// and wx storage, long ids would be too long as file names); argument objects are read field by
// field (no conversion of the whole object, no budget on extra fields).
import { hmac } from '../../tools/node_modules/@noble/hashes/hmac.js';
import { sha256 } from '../../tools/node_modules/@noble/hashes/sha2.js';

export const PLUGIN_VERSION = '2.4.0';

// ---- errors (SPEC §3.1) ---------------------------------------------------------------------

export class VoipError extends Error {
  constructor(errCode, code, errMsg) {
    super(errMsg);
    this.name = 'VoipError';
    this.errCode = errCode;
    this.code = code;
    this.errMsg = errMsg;
  }
}
export class VoipPluginError extends VoipError {
  constructor(errCode, code, errMsg) {
    super(errCode, code, errMsg);
    this.name = 'VoipPluginError';
  }
}
export class VoipCgiError extends VoipError {
  constructor(errCode, code, errMsg) {
    super(errCode, code, errMsg);
    this.name = 'VoipCgiError';
  }
}

const CODES = {
  BAD_VOIP_TOKEN: [4, false],
  NOT_AUTHORIZED: [8, false],
  NOT_CONTACT_OF_CALLER: [9, false],
  INVALID_OPENID: [20, true],
  VOIP_TOKEN_MISSING: [1001, true],
  INVALID_ARGUMENT: [1004, true],
  BUSY: [1005, true],
  NOT_SUPPORTED: [1011, true],
  NOT_ADMIN: [3001, false],
  ADMIN_EXISTS: [3002, false],
  NOT_CONTACT: [3003, false],
  ADMIN_SELF_DELETE: [3004, false],
  CONTACT_LIMIT: [3005, false],
  STORAGE: [3007, false],
  UNAUTHENTICATED: [3008, false],
};

function fail(api, code, reason) {
  const [errCode, plugin] = CODES[code];
  const Cls = plugin ? VoipPluginError : VoipCgiError;
  return new Cls(errCode, code, api + ':fail ' + reason);
}
const bad = (api, reason) => fail(api, 'INVALID_ARGUMENT', reason);
const ok = (api) => ({ errCode: 0, errMsg: api + ':ok' });

// ---- input checks (SPEC §1) -----------------------------------------------------------------

const MAX_STRING_UNITS = 8192;
const MAX_ITEMS = 128;
const CONTROL = /[\u0000-\u001f\u007f]/;
const OPEN_ID = /^[A-Za-z0-9_-]{1,64}$/;
const AVATAR_SCHEME = /^(?:https|http|cloud|wxfile):./i;

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length > MAX_ITEMS ? 'an array of ' + v.length + ' items' : 'array';
  if (typeof v === 'string' && v.length > MAX_STRING_UNITS) return 'a string of ' + v.length + ' characters';
  return typeof v;
}

/** A message number as the core writes it (whole numbers exactly, others to 6 decimals). */
function num(n) {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
  const a = Math.abs(n);
  const sign = n < 0 ? '-' : '';
  if (a >= 1e15) return sign + 'a number over 10^15';
  let whole = Math.trunc(a);
  let micro = Math.round((a - whole) * 1e6);
  if (micro >= 1e6) {
    whole += 1;
    micro = 0;
  }
  return micro === 0 ? sign + whole : sign + whole + '.' + String(micro).padStart(6, '0').replace(/0+$/, '');
}

/** A value quoted for a message: at most 64 characters, quotes, backslashes and controls escaped. */
function quote(s) {
  let out = '"';
  let i = 0;
  for (const c of s) {
    if (i++ === 64) {
      out += '…';
      break;
    }
    const u = c.codePointAt(0);
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (u < 0x20 || (u >= 0x7f && u <= 0x9f)) out += '\\u{' + u.toString(16) + '}';
    else out += c;
  }
  return out + '"';
}

function utf8Length(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c < 0x800 ? 1 : c >= 0xd800 && c <= 0xdbff ? 0 : 2;
  }
  return n;
}

function controlError(api, field, s) {
  const m = CONTROL.exec(s);
  if (!m) return null;
  const at = utf8Length(s.slice(0, m.index));
  const hex = m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
  return bad(api, field + ' must not contain control characters (U+' + hex + ' at byte ' + at + ')');
}

/** A required string: what the core calls `input::string`. */
function str(api, field, v) {
  if (typeof v !== 'string') throw bad(api, field + ' must be a string, got ' + describe(v));
  if (v.length > MAX_STRING_UNITS) throw bad(api, field + ' is too long (' + v.length + ' characters)');
  if (!v.isWellFormed()) throw bad(api, field + ' is not valid Unicode (it has a lone surrogate)');
  return v;
}

function userIdOk(s) {
  return s.length > 0 && s.length <= 128 && utf8Length(s) <= 128 && !CONTROL.test(s);
}

function userId(api, field, v) {
  const s = str(api, field, v);
  const n = utf8Length(s);
  if (n === 0 || n > 128) throw bad(api, field + ' must be 1–128 bytes of UTF-8, got ' + n);
  if (CONTROL.test(s)) throw controlError(api, field, s);
  return s;
}

function openIdText(api, field, s) {
  if (!OPEN_ID.test(s)) {
    throw fail(api, 'INVALID_OPENID', field + ' must be 1–64 characters of A-Z a-z 0-9 _ -, got ' + quote(s));
  }
  return s;
}
const openId = (api, field, v) => openIdText(api, field, str(api, field, v));

function codePoints(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n;
}

function userNameError(api, field, s) {
  const n = codePoints(s);
  if (n === 0 || n > 64) return bad(api, field + ' must be 1–64 characters, got ' + n);
  return CONTROL.test(s) ? controlError(api, field, s) : null;
}

function avatarError(api, field, s) {
  if (s === '') return null;
  const n = utf8Length(s);
  if (n > 1024) return bad(api, field + ' must be at most 1024 bytes, got ' + n);
  if (!AVATAR_SCHEME.test(s)) {
    return bad(api, field + ' must be empty or a URL starting with https:, http:, cloud: or wxfile:');
  }
  if (CONTROL.test(s)) return controlError(api, field, s);
  if (s.includes(' ')) return bad(api, field + ' must not contain spaces (percent-encode them as %20)');
  return null;
}

function argsObject(api, v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw bad(api, api + ' expects an object argument, got ' + (v === undefined ? 'undefined' : describe(v)));
  }
  return v;
}

/** Reads one property; a throwing getter or Proxy becomes INVALID_ARGUMENT. */
function get(api, obj, name) {
  try {
    return obj[name];
  } catch (e) {
    throw bad(api, name + ' could not be read: ' + (e && e.message ? e.message : String(e)));
  }
}

function optNumber(api, field, v) {
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw bad(api, field + ' must be a number, got ' + describe(v));
  if (!Number.isFinite(v)) throw bad(api, field + ' must be a finite number');
  return v;
}

// ---- bytes: UTF-8, base64url, CSPRNG, MAC ---------------------------------------------------

const utf8 = new TextEncoder();
const b64 = (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url');
const B64URL = /^[A-Za-z0-9_-]*$/;

/** Strict base64url without padding (non-canonical text is refused, as the core does). */
function unb64(s) {
  if (!B64URL.test(s) || s.length % 4 === 1) return null;
  const raw = Buffer.from(s, 'base64url');
  return raw.toString('base64url') === s ? raw : null;
}

const hex = (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');

/** Node's CSPRNG through a pooled buffer (one getRandomValues call per 4 KiB). */
class Entropy {
  constructor() {
    this.pool = new Uint8Array(4096);
    this.pos = this.pool.length;
  }
  take(n) {
    if (this.pos + n > this.pool.length) {
      crypto.getRandomValues(this.pool);
      this.pos = 0;
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }
  bytes(n) {
    const at = this.take(n);
    return this.pool.slice(at, at + n);
  }
  u32() {
    const at = this.take(4);
    const p = this.pool;
    return ((p[at] << 24) | (p[at + 1] << 16) | (p[at + 2] << 8) | p[at + 3]) >>> 0;
  }
}

const TAG_LEN = 16;
const TICKET_DOMAIN = utf8.encode('campus-voip/share-ticket/v1');
const TOKEN_DOMAIN = utf8.encode('campus-voip/voip-token/v1');

/** One HMAC-SHA256 key with its pads absorbed once; tags over length-prefixed parts. */
class MacKey {
  constructor(id, secret) {
    this.id = id;
    this.secret = secret;
    this.base = hmac.create(sha256, secret);
    this.buf = new Uint8Array(4096);
    this.view = new DataView(this.buf.buffer);
  }
  /** `parts`: Uint8Arrays and strings (UTF-8), each written with a u32 length prefix. */
  tag(domain, parts) {
    const buf = this.buf;
    let o = this.put(0, domain);
    for (const p of parts) o = typeof p === 'string' ? this.putString(o, p) : this.put(o, p);
    return this.base.clone().update(buf.subarray(0, o)).digest();
  }
  put(o, bytes) {
    this.view.setUint32(o, bytes.length);
    this.buf.set(bytes, o + 4);
    return o + 4 + bytes.length;
  }
  putString(o, s) {
    const { written } = utf8.encodeInto(s, this.buf.subarray(o + 4));
    this.view.setUint32(o, written);
    return o + 4 + written;
  }
  /** Constant-time comparison of the first TAG_LEN bytes. */
  verify(domain, parts, tag) {
    if (tag.length !== TAG_LEN) return false;
    const want = this.tag(domain, parts);
    let diff = 0;
    for (let i = 0; i < TAG_LEN; i++) diff |= want[i] ^ tag[i];
    return diff === 0;
  }
}

function putU48(bytes, at, t) {
  const hi = Math.floor(t / 4294967296);
  bytes[at] = hi >>> 8;
  bytes[at + 1] = hi & 0xff;
  bytes[at + 2] = t >>> 24;
  bytes[at + 3] = (t >>> 16) & 0xff;
  bytes[at + 4] = (t >>> 8) & 0xff;
  bytes[at + 5] = t & 0xff;
}
const getU48 = (b, at) =>
  (b[at] * 256 + b[at + 1]) * 4294967296 + (((b[at + 2] << 24) | (b[at + 3] << 16) | (b[at + 4] << 8) | b[at + 5]) >>> 0);

// ---- share path and ticket (SPEC §4) ----------------------------------------------------------

const PAGE = 'pages/bind-contact/bind-contact';
const TICKET_MAX = 160;
const OUTCOME_MSG = {
  success: 'bindContact:ok',
  unbind: 'bindContact:fail the student has no contacts any more; ask for a new link',
  binded: 'bindContact:fail you are already a contact of this student',
  expire: 'bindContact:fail the share link has expired; ask the administrator for a new one',
  overload: 'bindContact:fail the student already has the maximum number of contacts',
  invalid: 'bindContact:fail the share link is not valid (altered, or its sender is no longer the administrator)',
  auth: 'bindContact:fail VoIP call permission (scope.voip) was not granted',
  cancel: 'bindContact:fail you declined the binding',
};

/** Ticket: ver | kid | issued u48 | expires u48 | nonce[8] | term u32 | issuer (u8 len) | tag[16]. */
function issueTicket(key, issuer, issuedAt, expiresAt, nonceAt, pool, term, subject) {
  const n = issuer.length; // ASCII (a checked openId)
  const raw = new Uint8Array(27 + n + TAG_LEN);
  raw[0] = 1;
  raw[1] = key.id;
  putU48(raw, 2, issuedAt);
  putU48(raw, 8, expiresAt);
  raw.set(pool.subarray(nonceAt, nonceAt + 8), 14);
  raw[22] = term >>> 24;
  raw[23] = (term >>> 16) & 0xff;
  raw[24] = (term >>> 8) & 0xff;
  raw[25] = term & 0xff;
  raw[26] = n;
  for (let i = 0; i < n; i++) raw[27 + i] = issuer.charCodeAt(i);
  const header = raw.subarray(0, 27 + n);
  const tag = key.tag(TICKET_DOMAIN, [header, subject.userId, subject.userName, subject.userAvatar]);
  raw.set(tag.subarray(0, TAG_LEN), 27 + n);
  return b64(raw);
}

/** The claims of a ticket whose tag matches `subject`, or null (outcome `invalid`). */
function verifyTicket(keys, ticket, subject) {
  if (ticket.length === 0 || ticket.length > TICKET_MAX) return null;
  const raw = unb64(ticket);
  if (!raw || raw.length < 27 + TAG_LEN || raw[0] !== 1) return null;
  const n = raw[26];
  if (raw.length !== 27 + n + TAG_LEN) return null;
  let issuer = '';
  for (let i = 0; i < n; i++) issuer += String.fromCharCode(raw[27 + i]);
  if (!OPEN_ID.test(issuer)) return null;
  const key = keys.get(raw[1]);
  if (!key) return null;
  const header = raw.subarray(0, 27 + n);
  if (!key.verify(TICKET_DOMAIN, [header, subject.userId, subject.userName, subject.userAvatar], raw.subarray(27 + n))) {
    return null;
  }
  return {
    issuer,
    issuedAt: getU48(raw, 2),
    expiresAt: getU48(raw, 8),
    term: ((raw[22] << 24) | (raw[23] << 16) | (raw[24] << 8) | raw[25]) >>> 0,
  };
}

function decodeComponent(s) {
  if (s.indexOf('%') < 0) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** A share path's query: `{ pageOk, params }`, params an object (first value of a name wins). */
function parsePath(path) {
  const qi = path.indexOf('?');
  const page = qi < 0 ? path : path.slice(0, qi);
  const params = {};
  if (qi >= 0) {
    for (const kv of path.slice(qi + 1).split('&')) {
      if (kv === '') continue;
      const ei = kv.indexOf('=');
      const k = decodeComponent(ei < 0 ? kv : kv.slice(0, ei));
      const v = decodeComponent(ei < 0 ? '' : kv.slice(ei + 1));
      if (k === null || v === null || Object.prototype.hasOwnProperty.call(params, k)) continue;
      params[k] = v;
    }
  }
  return { pageOk: page.endsWith(PAGE), params };
}

/** The bind-page APIs take a share path or the page's query object. */
function shareQuery(api, v) {
  if (typeof v === 'string') {
    if (v.length > MAX_STRING_UNITS || !v.isWellFormed()) {
      throw bad(api, 'path must be a share path string or the bind page\'s query object, got ' + (v.length > MAX_STRING_UNITS ? describe(v) : 'a string with a lone surrogate (not valid Unicode)'));
    }
    return parsePath(v);
  }
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const params = {};
    for (const k of Object.keys(v)) {
      const x = get(api, v, k);
      if (typeof x === 'string' && x.length <= MAX_STRING_UNITS && x.isWellFormed()) params[k] = x;
    }
    return { pageOk: true, params };
  }
  throw bad(api, 'path must be a share path string or the bind page\'s query object, got ' + (v === undefined ? 'undefined' : describe(v)));
}

const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

// ---- storage ----------------------------------------------------------------------------------

/** In memory: the same adapter as js/storage.js memoryStorage. */
export function memoryStorage() {
  const map = new Map();
  return {
    get: (key) => (map.has(key) ? map.get(key) : null),
    set: (key, value) => void map.set(key, value),
    remove: (key) => void map.delete(key),
    keys: () => Array.from(map.keys()),
  };
}

/**
 * A stored value: the record's JSON, then '~' and a 64-bit checksum over the key and the JSON
 * (FNV-1a and djb2 over the UTF-16 code units, in hex), so a truncated, altered or swapped value
 * is refused on load. Corruption, not an attacker, is what it guards against: no need for SHA-256.
 */
function checksum(key, json) {
  let a = 0x811c9dc5;
  let b = 5381;
  const mix = (c) => {
    a = Math.imul(a ^ c, 0x01000193);
    b = (Math.imul(b, 33) ^ c) | 0;
  };
  for (let i = 0; i < key.length; i++) mix(key.charCodeAt(i));
  mix(10);
  for (let i = 0; i < json.length; i++) mix(json.charCodeAt(i));
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
const seal = (key, json) => json + '~' + checksum(key, json);
function unseal(key, value) {
  if (typeof value !== 'string') return null;
  const i = value.lastIndexOf('~');
  if (i < 0) return null;
  const json = value.slice(0, i);
  return seal(key, json) === value ? json : null;
}

const META = 'meta';
const FORMAT = 1;
const studentKey = (id) => 's.' + id;
const consentKey = (id) => 'c.' + id;
const tokenKey = (h) => 't.' + h;

function encodeStudent(r) {
  const c = r.contacts.map((x) => [x.openId, x.role, x.boundAt]);
  const out = { v: FORMAT, u: r.userId, t: r.term, c };
  if (r.removed.length) out.r = r.removed.map((x) => [x.openId, x.at]);
  return JSON.stringify(out);
}

function decodeStudent(key, o) {
  if (!userIdOk(o.u) || studentKey(o.u) !== key || !Number.isInteger(o.t) || !Array.isArray(o.c)) return null;
  const contacts = [];
  let admins = 0;
  const seen = new Set();
  for (const x of o.c) {
    if (!Array.isArray(x) || typeof x[0] !== 'string' || !OPEN_ID.test(x[0]) || (x[1] !== 0 && x[1] !== 1) || !Number.isInteger(x[2])) return null;
    if (seen.has(x[0])) return null;
    seen.add(x[0]);
    admins += x[1];
    contacts.push({ openId: x[0], role: x[1], boundAt: x[2] });
  }
  if (admins !== 1 || contacts.length > 100) return null;
  const removed = [];
  for (const x of o.r || []) {
    if (!Array.isArray(x) || typeof x[0] !== 'string' || !OPEN_ID.test(x[0]) || seen.has(x[0]) || !Number.isInteger(x[1])) return null;
    removed.push({ openId: x[0], at: x[1] });
  }
  return { userId: o.u, term: o.t, contacts, removed };
}

// ---- the registry and its rules (SPEC §2–§3) ------------------------------------------------

const U48_MAX = 2 ** 48 - 1;
const MAX_REMOVALS = 32;
const UNAUTH = 'this instance has no openId (a device instance); create one with createVoipPlugin({ openId })';
const CLOSED = 'this backend was closed';

const adminOf = (r) => {
  for (const c of r.contacts) if (c.role === 1) return c.openId;
  return undefined;
};
const contains = (r, who) => {
  for (const c of r.contacts) if (c.openId === who) return true;
  return false;
};
/** Administrator first, then binding order. */
function ordered(r) {
  const out = [];
  for (const c of r.contacts) if (c.role === 1) out.push(c);
  for (const c of r.contacts) if (c.role !== 1) out.push(c);
  return out;
}

const boundAtOf = (r, who) => {
  for (const c of r.contacts) if (c.openId === who) return c.boundAt;
  return 0;
};

function wholeIn(api, field, v, lo, hi, dflt) {
  const n = optNumber(api, field, v);
  if (n === undefined) return dflt;
  if (!Number.isInteger(n) || n < lo || n > hi) {
    throw bad(api, field + ' must be a whole number from ' + lo + ' to ' + hi + ', got ' + num(n));
  }
  return n;
}

const open = new WeakMap(); // storage -> Set of namespaces with an open backend

class PureBackend {
  constructor(storage, ns, options, now) {
    this.type = 'local';
    this.storage = storage;
    this.ns = ns;
    this.maxContacts = options.maxContacts;
    this.ticketTtlMs = options.ticketTtlMs;
    this.tokenTtlMs = options.tokenTtlMs;
    this.prefix = options.prefix;
    this.hostNow = now;
    this.closed = false;
    this.rng = new Entropy();
    // No Map entry is ever deleted and re-added: in V8 11 (Node 20) deleting a key of a large Map
    // and setting it again costs a rehash of the whole table (15–35 µs at 10 000 entries), so a
    // removed student is a null and a revoked consent a false.
    this.students = new Map(); // userId -> { userId, term, contacts: [{openId, role, boundAt}], removed } | null
    this.consents = new Map(); // openId -> whether it granted consent
    this.index = new Map(); // openId -> userIds, in order of (bind time, userId)
    this.used = new Map(); // used face-pay token nonce (hex) -> expiresAt
    this.pruneAt = 64;
    this.meta = null;
    this.ticketKeys = new Map();
    this.tokenKeys = new Map();
    this.instances = new Set(); // plugins that listen or call, in that order: call events go to them
  }

  /** A call's events to its device (`caller`) and to the listener's instances, in attach order. */
  deliver(device, call, callerEvents, listenerEvents) {
    for (const p of Array.from(this.instances)) {
      if (p === device) p.hear(call.roomId, callerEvents);
      else if (p.openId === call.listenerId) p.hear(call.roomId, listenerEvents);
    }
  }

  /** The clock: the host's, never earlier than anything this backend already acted at. */
  clock(api) {
    const t = this.hostNow();
    if (typeof t !== 'number' || !(t >= 0 && t < 2 ** 48)) {
      throw bad(api, 'now must be a time in milliseconds between 0 and 2^48, got ' + (typeof t === 'number' ? num(t) : typeof t));
    }
    const n = Math.floor(t);
    if (n > this.meta.hw) this.meta.hw = n;
    return this.meta.hw;
  }

  now() {
    return this.hostNow();
  }

  /** Whether this backend was created with `dev: true` (its development helpers exist). */
  get dev() {
    return false;
  }

  live(api) {
    if (this.closed) throw bad(api, CLOSED);
  }

  // ---- persistence: one key per change, written before it is applied ----------------------

  write(api, key, value) {
    try {
      if (value === null) this.storage.remove(this.ns + key);
      else this.storage.set(this.ns + key, seal(key, value));
    } catch (e) {
      throw fail(api, 'STORAGE', 'could not persist the change (' + (e && e.message ? e.message : String(e)) + '); nothing was changed');
    }
  }

  writeMeta() {
    const m = this.meta;
    const ring = (keys) => [...keys.values()].map((k) => [k.id, b64(k.secret)]);
    return JSON.stringify({ v: FORMAT, hw: m.hw, tk: ring(this.ticketKeys), vk: ring(this.tokenKeys) });
  }

  /** Stores `next` (the student's new record, or null to remove it) and applies it. */
  putStudent(api, userId, next) {
    this.write(api, studentKey(userId), next === null ? null : encodeStudent(next));
    const old = this.students.get(userId);
    this.students.set(userId, next);
    if (old) for (const c of old.contacts) if (!next || !contains(next, c.openId)) this.unindex(c.openId, userId);
    if (next) for (const c of next.contacts) if (!old || !contains(old, c.openId)) this.indexAdd(c.openId, userId, c.boundAt);
  }

  indexAdd(who, userId, boundAt) {
    let list = this.index.get(who);
    if (!list) this.index.set(who, (list = []));
    // Usually the newest binding: appended; otherwise inserted by (bind time, userId).
    let i = list.length;
    while (i > 0) {
      const prev = list[i - 1];
      const t = boundAtOf(this.students.get(prev), who);
      if (t < boundAt || (t === boundAt && prev < userId)) break;
      i--;
    }
    list.splice(i, 0, userId);
  }

  unindex(who, userId) {
    const list = this.index.get(who);
    if (!list) return;
    const i = list.indexOf(userId);
    if (i >= 0) list.splice(i, 1);
  }

  // ---- operations (actor: a checked openId, or undefined for a device instance) -------------

  setConsent(api, actor, granted) {
    this.live(api);
    if (actor === undefined) throw fail(api, 'UNAUTHENTICATED', UNAUTH);
    if ((this.consents.get(actor) === true) === granted) return;
    this.write(api, consentKey(actor), granted ? JSON.stringify({ v: FORMAT, o: actor }) : null);
    this.consents.set(actor, granted);
  }

  consent(api, actor) {
    this.live(api);
    if (actor === undefined) throw fail(api, 'UNAUTHENTICATED', UNAUTH);
    return this.consents.get(actor) === true;
  }

  bindAdmin(api, actor, args) {
    this.live(api);
    if (actor === undefined) throw fail(api, 'UNAUTHENTICATED', UNAUTH);
    const now = this.clock(api);
    argsObject(api, args);
    const id = userId(api, 'userId', get(api, args, 'userId'));
    if (this.consents.get(actor) !== true) {
      throw fail(api, 'NOT_AUTHORIZED', actor + ' has not granted VoIP consent (scope.voip); call authorizeVoip() after the user agrees');
    }
    const r = this.students.get(id);
    if (!r) {
      this.putStudent(api, id, { userId: id, term: this.rng.u32(), contacts: [{ openId: actor, role: 1, boundAt: now }], removed: [] });
    } else if (adminOf(r) !== actor) {
      throw fail(api, 'ADMIN_EXISTS', 'student ' + quote(id) + ' already has another administrator');
    }
    return id;
  }

  requireAdmin(api, id, actor) {
    const r = this.students.get(id);
    if (!r || adminOf(r) !== actor) throw fail(api, 'NOT_ADMIN', 'only the administrator of student ' + quote(id) + ' may do this');
    return r;
  }

  sharePath(api, actor, args) {
    this.live(api);
    if (actor === undefined) throw fail(api, 'UNAUTHENTICATED', UNAUTH);
    const now = this.clock(api);
    argsObject(api, args);
    const id = userId(api, 'userId', get(api, args, 'userId'));
    const userName = str(api, 'userName', get(api, args, 'userName'));
    let e = userNameError(api, 'userName', userName);
    if (e) throw e;
    let userAvatar = get(api, args, 'userAvatar');
    if (userAvatar === undefined) userAvatar = '';
    else if ((e = avatarError(api, 'userAvatar', str(api, 'userAvatar', userAvatar)))) throw e;
    const r = this.requireAdmin(api, id, actor);
    const subject = { userId: id, userName, userAvatar };
    const nonceAt = this.rng.take(8);
    const key = this.ticketKeys.get(this.currentTicketKid);
    const ticket = issueTicket(key, actor, now, Math.min(now + this.ticketTtlMs, U48_MAX), nonceAt, this.rng.pool, r.term, subject);
    const path =
      this.prefix + PAGE + '?userId=' + encodeURIComponent(id) + '&userName=' + encodeURIComponent(userName) +
      '&userAvatar=' + encodeURIComponent(userAvatar) + '&ticket=' + ticket;
    if (path.length > 1024) {
      throw bad(api, 'the share path would be ' + path.length + ' bytes, over the limit of 1024; use a shorter userName or userAvatar');
    }
    return path;
  }

  list(api, actor, args) {
    this.live(api);
    if (actor === undefined) throw fail(api, 'UNAUTHENTICATED', UNAUTH);
    let filter;
    if (args !== undefined) {
      argsObject(api, args);
      const v = get(api, args, 'userId');
      if (v !== undefined) filter = userId(api, 'userId', v);
    }
    const entry = (id) => {
      const r = this.students.get(id);
      if (!r) return null;
      if (adminOf(r) === actor) return { user_id: id, is_ad: 1, openid_list: ordered(r).map((c) => c.openId) };
      if (contains(r, actor)) return { user_id: id, is_ad: 0, openid_list: [actor] };
      return null;
    };
    if (filter !== undefined) {
      const e = entry(filter);
      return e ? [e] : [];
    }
    const out = [];
    for (const id of this.index.get(actor) || []) {
      const e = entry(id);
      if (e) out.push(e);
    }
    return out;
  }

  remove(api, actor, args) {
    this.live(api);
    if (actor === undefined) throw fail(api, 'UNAUTHENTICATED', UNAUTH);
    const now = this.clock(api);
    argsObject(api, args);
    const id = userId(api, 'userId', get(api, args, 'userId'));
    const list = get(api, args, 'openidList');
    if (!Array.isArray(list)) throw bad(api, 'openidList must be an array, got ' + describe(list));
    if (list.length === 0 || list.length > 100) {
      throw bad(api, 'openidList must have 1–100 items, got ' + list.length);
    }
    const targets = [];
    for (let i = 0; i < list.length; i++) {
      const t = openId(api, 'openidList[' + i + ']', list[i]);
      if (!targets.includes(t)) targets.push(t);
    }
    const r = this.requireAdmin(api, id, actor);
    if (targets.includes(actor)) {
      throw fail(api, 'ADMIN_SELF_DELETE', 'the administrator cannot delete itself; transfer the role first (transerAdmin)');
    }
    for (const t of targets) {
      if (!contains(r, t)) throw fail(api, 'NOT_CONTACT', t + ' is not a contact of student ' + quote(id) + '; nothing was deleted');
    }
    let term = r.term;
    let removed = r.removed.filter((x) => !targets.includes(x.openId));
    for (const t of targets) removed.push({ openId: t, at: now });
    if (removed.length > MAX_REMOVALS) {
      // Bounded state: a new term outdates every earlier link, so the list starts afresh.
      term = this.freshTerm(r.term);
      removed = [];
    }
    const next = { userId: id, term, contacts: r.contacts.filter((c) => !targets.includes(c.openId)), removed };
    this.putStudent(api, id, next);
    return { userId: id, deleted: targets };
  }

  freshTerm(current) {
    const t = this.rng.u32();
    return t === current ? (t + 1) >>> 0 : t;
  }

  transfer(api, actor, args) {
    this.live(api);
    if (actor === undefined) throw fail(api, 'UNAUTHENTICATED', UNAUTH);
    argsObject(api, args);
    const id = userId(api, 'userId', get(api, args, 'userId'));
    const to = openId(api, 'newAdminOpenid', get(api, args, 'newAdminOpenid'));
    const r = this.requireAdmin(api, id, actor);
    if (to !== actor) {
      if (!contains(r, to)) {
        throw fail(api, 'NOT_CONTACT', to + ' is not a contact of student ' + quote(id) + '; bind them first');
      }
      const contacts = r.contacts.map((c) => ({ openId: c.openId, role: c.openId === to ? 1 : 0, boundAt: c.boundAt }));
      this.putStudent(api, id, { userId: id, term: this.freshTerm(r.term), contacts, removed: [] });
    }
    return { userId: id, adminOpenid: to };
  }

  /** A share query's verified link (or null) and what the page may show of it. */
  view(q) {
    const p = q.params;
    let link = null;
    if (q.pageOk && has(p, 'userId') && has(p, 'userName') && has(p, 'userAvatar') && has(p, 'ticket')) {
      const subject = { userId: p.userId, userName: p.userName, userAvatar: p.userAvatar };
      if (userIdOk(subject.userId) && !userNameError('', '', subject.userName) && !avatarError('', '', subject.userAvatar)) {
        const claims = verifyTicket(this.ticketKeys, p.ticket, subject);
        if (claims) link = { subject, claims };
      }
    }
    if (link) return { link, view: link.subject };
    const uid = has(p, 'userId') && userIdOk(p.userId) ? p.userId : '';
    return { link: null, view: { userId: uid, userName: '', userAvatar: '' } };
  }

  /** Rows 1–6 of SPEC §3.4: the first that applies, or null ('ready'). */
  precheck(link, actor, now) {
    if (!link) return 'invalid';
    const c = link.claims;
    if (now >= c.expiresAt) return 'expire';
    const r = this.students.get(link.subject.userId);
    if (!r) return 'unbind';
    if (adminOf(r) !== c.issuer || r.term !== c.term) return 'invalid';
    for (const x of r.removed) if (x.openId === actor && c.issuedAt < x.at) return 'invalid';
    if (contains(r, actor)) return 'binded';
    if (r.contacts.length >= this.maxContacts) return 'overload';
    return null;
  }

  inspect(api, actor, path) {
    this.live(api);
    if (actor === undefined) throw fail(api, 'UNAUTHENTICATED', UNAUTH);
    const now = this.clock(api);
    const q = shareQuery(api, path);
    const { link, view } = this.view(q);
    const status = this.precheck(link, actor, now);
    return {
      userId: view.userId,
      userName: view.userName,
      userAvatar: view.userAvatar,
      status: status || 'ready',
      expiresAt: link ? link.claims.expiresAt : undefined,
      errMsg: status ? OUTCOME_MSG[status] : '',
      query: q.params,
    };
  }

  accept(api, actor, path) {
    this.live(api);
    if (actor === undefined) throw fail(api, 'UNAUTHENTICATED', UNAUTH);
    const now = this.clock(api);
    const q = shareQuery(api, path);
    const { link, view } = this.view(q);
    let type = this.precheck(link, actor, now);
    if (!type) {
      if (this.consents.get(actor) !== true) type = 'auth';
      else {
        const r = this.students.get(link.subject.userId);
        const next = {
          userId: r.userId,
          term: r.term,
          contacts: [...r.contacts, { openId: actor, role: 0, boundAt: now }],
          removed: r.removed.filter((x) => x.openId !== actor),
        };
        this.putStudent(api, r.userId, next);
        type = 'success';
      }
    }
    return { type, errMsg: OUTCOME_MSG[type], userId: view.userId, query: q.params };
  }

  decline(api, actor, path) {
    this.live(api);
    if (actor === undefined) throw fail(api, 'UNAUTHENTICATED', UNAUTH);
    const q = shareQuery(api, path);
    const { view } = this.view(q);
    return { type: 'cancel', errMsg: OUTCOME_MSG.cancel, userId: view.userId, query: q.params };
  }

  contactList(api, args) {
    this.live(api);
    argsObject(api, args);
    const id = userId(api, 'user_id', get(api, args, 'user_id'));
    const r = this.students.get(id);
    if (!r) return { errcode: 1, errmsg: 'user has no contact list', contact_list: [] };
    return { errcode: 0, errmsg: 'ok', contact_list: ordered(r).map((c) => ({ open_id: c.openId, role: c.role })) };
  }

  issueToken(api, args) {
    this.live(api);
    const now = this.clock(api);
    argsObject(api, args);
    const id = userId(api, 'userId', get(api, args, 'userId'));
    const key = this.tokenKeys.get(this.currentTokenKid);
    const raw = new Uint8Array(26 + TAG_LEN);
    raw[0] = 1;
    raw[1] = key.id;
    putU48(raw, 2, now);
    putU48(raw, 8, Math.min(now + this.tokenTtlMs, U48_MAX));
    const at = this.rng.take(12);
    raw.set(this.rng.pool.subarray(at, at + 12), 14);
    raw.set(key.tag(TOKEN_DOMAIN, [raw.subarray(0, 26), id]).subarray(0, TAG_LEN), 26);
    return b64(raw);
  }

  reset(api, args) {
    this.live(api);
    argsObject(api, args);
    const id = userId(api, 'userId', get(api, args, 'userId'));
    if (!this.students.get(id)) return false;
    this.putStudent(api, id, null);
    return true;
  }

  /** initByCaller's backend half: `{ roomId, chargeType }` or `{ refused: VoipCgiError }`. */
  admit(api, req, slot) {
    this.live(api);
    const now = this.clock(api);
    const refuse = (code, reason) => ({ refused: fail(api, code, reason) });
    const raw = req.voipToken.length <= 256 ? unb64(req.voipToken) : null;
    let key = null;
    if (raw && raw.length === 26 + TAG_LEN && raw[0] === 1) key = this.tokenKeys.get(raw[1]) || null;
    if (!key || !key.verify(TOKEN_DOMAIN, [raw.subarray(0, 26), req.callerId], raw.subarray(26))) {
      return refuse('BAD_VOIP_TOKEN', 'voipToken is invalid or was issued for another student');
    }
    const expiresAt = getU48(raw, 8);
    if (now >= expiresAt) return refuse('BAD_VOIP_TOKEN', 'voipToken has expired; scan the face again');
    const nonce = hex(raw.subarray(14, 26));
    if (this.used.has(nonce)) return refuse('BAD_VOIP_TOKEN', 'voipToken was already used; scan the face again');
    if (this.consents.get(req.listenerId) !== true) {
      return refuse('NOT_AUTHORIZED', req.listenerId + ' has not granted VoIP consent (scope.voip)');
    }
    const r = this.students.get(req.callerId);
    if (!r || !contains(r, req.listenerId)) {
      return refuse('NOT_CONTACT_OF_CALLER', req.listenerId + ' is not a contact of student ' + quote(req.callerId));
    }
    this.write(api, tokenKey(nonce), JSON.stringify({ v: FORMAT, x: expiresAt }));
    this.used.set(nonce, expiresAt);
    if (this.used.size >= this.pruneAt) {
      this.forgetExpired(now);
      this.pruneAt = Math.max(64, 2 * this.used.size);
    }
    const roomId = b64(this.rng.bytes(16));
    slot.start(req, roomId, now);
    return { roomId, chargeType: req.businessType === 3 ? 'license' : 'duration' };
  }

  /** Forgets expired used tokens, once the clock that expired them is stored (so it never goes back). */
  forgetExpired(now) {
    try {
      this.storage.set(this.ns + META, seal(META, this.writeMeta()));
    } catch {
      return;
    }
    for (const [nonce, exp] of this.used) {
      if (exp > now) continue;
      try {
        this.storage.remove(this.ns + tokenKey(nonce));
      } catch {
        // harmless: an expired token is refused as expired before reuse is checked
      }
      this.used.delete(nonce);
    }
  }

  // ---- public backend API (SPEC §5, §6.1) -------------------------------------------------

  getVoipContactList(args) {
    try {
      return Promise.resolve(this.contactList('getVoipContactList', args));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  stats() {
    this.live('stats');
    let contacts = 0;
    let students = 0;
    for (const r of this.students.values()) {
      if (!r) continue;
      students++;
      contacts += r.contacts.length;
    }
    return { students, contacts };
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    const spaces = open.get(this.storage);
    if (spaces) spaces.delete(this.ns);
  }
}

/** A backend created with `dev: true`: the development helpers of SPEC §6.1 exist only here. */
class DevPureBackend extends PureBackend {
  get dev() {
    return true;
  }

  issueVoipToken(args) {
    try {
      return Promise.resolve(this.issueToken('issueVoipToken', args));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  resetStudent(args) {
    try {
      const removed = this.reset('resetStudent', args);
      return Promise.resolve({ errCode: 0, errMsg: 'resetStudent:ok', userId: args.userId, removed });
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

function loadEntries(b, api) {
  const fails = (key, what) => fail(api, 'STORAGE', 'stored entry ' + quote(key) + ' is corrupt: ' + what);
  let keys;
  const ns = b.ns;
  try {
    keys = b.storage.keys().filter((k) => typeof k === 'string' && k.startsWith(ns));
  } catch (e) {
    throw fail(api, 'STORAGE', 'could not read the storage: ' + (e && e.message ? e.message : String(e)) + '; nothing was changed');
  }
  const tokens = [];
  const pending = [];
  for (const full of keys) {
    const key = full.slice(ns.length);
    let o;
    let json;
    try {
      json = unseal(key, b.storage.get(full));
    } catch (e) {
      throw fail(api, 'STORAGE', 'could not read the storage: ' + (e && e.message ? e.message : String(e)) + '; nothing was changed');
    }
    if (json === null) throw fails(key, 'checksum mismatch');
    try {
      o = JSON.parse(json);
    } catch {
      throw fails(key, 'not JSON');
    }
    if (!o || typeof o !== 'object' || o.v !== FORMAT) {
      throw fail(api, 'STORAGE', 'stored entry ' + quote(key) + ' has an unknown format; upgrade the plugin or restore a backup');
    }
    if (key === META) {
      b.meta = { hw: o.hw };
      for (const [id, s] of o.tk) b.ticketKeys.set(id, new MacKey(id, Buffer.from(s, 'base64url')));
      for (const [id, s] of o.vk) b.tokenKeys.set(id, new MacKey(id, Buffer.from(s, 'base64url')));
      b.currentTicketKid = o.tk[o.tk.length - 1][0];
      b.currentTokenKid = o.vk[o.vk.length - 1][0];
    } else if (key.startsWith('s.')) {
      const r = decodeStudent(key, o);
      if (!r) throw fails(key, 'invalid content');
      b.students.set(r.userId, r);
      for (const c of r.contacts) pending.push([c.openId, c.boundAt, r.userId]);
    } else if (key.startsWith('c.')) {
      if (consentKey(o.o) !== key || !OPEN_ID.test(o.o)) throw fails(key, 'invalid content');
      b.consents.set(o.o, true);
    } else if (key.startsWith('t.')) {
      if (!Number.isInteger(o.x)) throw fails(key, 'invalid content');
      tokens.push([key.slice(2), o.x]);
    } else {
      throw fails(key, 'unknown entry kind');
    }
  }
  // The reverse index in (bind time, userId) order, whatever order the storage listed.
  pending.sort((a, b2) => a[1] - b2[1] || (a[2] < b2[2] ? -1 : a[2] > b2[2] ? 1 : 0));
  for (const [who, , id] of pending) {
    let list = b.index.get(who);
    if (!list) b.index.set(who, (list = []));
    list.push(id);
  }
  return tokens;
}

const BACKEND_OPTIONS = ['storage', 'now', 'namespace', 'maxContacts', 'ticketTtlMs', 'voipTokenTtlMs', 'pluginAppId', 'pathPrefix', 'dev'];

/** `createLocalBackend({ storage, now, namespace, maxContacts, ticketTtlMs, voipTokenTtlMs, pluginAppId, pathPrefix, dev })` */
export async function createLocalBackend(options = {}) {
  const api = 'createLocalBackend';
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw bad(api, 'expects an options object');
  const o = {};
  for (const k of BACKEND_OPTIONS) o[k] = get(api, options, k);
  if (o.dev !== undefined && typeof o.dev !== 'boolean') throw bad(api, 'dev must be a boolean');
  const storage = o.storage === undefined ? memoryStorage() : o.storage;
  if (!storage || typeof storage !== 'object' || !['get', 'set', 'remove', 'keys'].every((m) => typeof storage[m] === 'function')) {
    throw bad(api, 'storage must be an adapter with get, set, remove and keys functions');
  }
  const now = o.now === undefined ? Date.now : o.now;
  if (typeof now !== 'function') throw bad(api, 'now must be a function returning milliseconds');
  const ns = o.namespace === undefined ? 'campus-voip/' : o.namespace;
  if (typeof ns !== 'string' || ns.length > 64) throw bad(api, 'namespace must be a string of at most 64 characters');
  const maxContacts = wholeIn(api, 'maxContacts', o.maxContacts, 1, 100, 10);
  const ticketTtlMs = wholeIn(api, 'ticketTtlMs', o.ticketTtlMs, 60_000, 2_592_000_000, 259_200_000);
  const tokenTtlMs = wholeIn(api, 'voipTokenTtlMs', o.voipTokenTtlMs, 10_000, 3_600_000, 300_000);
  let prefix = '';
  if (o.pathPrefix !== undefined) {
    prefix = str(api, 'pathPrefix', o.pathPrefix);
    if (utf8Length(prefix) > 256 || /[\u0000-\u001f\u007f-\u009f?&#= ]/.test(prefix)) {
      throw bad(api, 'pathPrefix must be at most 256 bytes without spaces, control characters, ?, &, # or =');
    }
  } else if (o.pluginAppId !== undefined) {
    const id = str(api, 'pluginAppId', o.pluginAppId);
    if (!OPEN_ID.test(id)) throw bad(api, 'pluginAppId must be 1–64 characters of A-Z a-z 0-9 _ -, got ' + quote(id));
    prefix = '__plugin__/' + id + '/';
  }
  let spaces = open.get(storage);
  if (spaces && spaces.has(ns)) {
    throw bad(api, 'another backend is open on this storage (namespace ' + JSON.stringify(ns) + '); use that one, close() it first, or give this one its own namespace');
  }
  const b = new (o.dev === true ? DevPureBackend : PureBackend)(storage, ns, { maxContacts, ticketTtlMs, tokenTtlMs, prefix }, now);
  const tokens = loadEntries(b, api);
  const t = now();
  if (!(typeof t === 'number' && t >= 0 && t < 2 ** 48)) throw bad(api, 'now must be a time in milliseconds between 0 and 2^48');
  if (!b.meta) {
    if (b.students.size || b.consents.size || tokens.length) {
      throw fail(api, 'STORAGE', 'the store has records but no secrets (its "meta" entry is missing); nothing was changed');
    }
    b.meta = { hw: Math.floor(t) };
    b.ticketKeys.set(1, new MacKey(1, b.rng.bytes(32)));
    b.tokenKeys.set(1, new MacKey(1, b.rng.bytes(32)));
    b.currentTicketKid = 1;
    b.currentTokenKid = 1;
    b.write(api, META, b.writeMeta());
  }
  const floorNow = Math.max(Math.floor(t), b.meta.hw);
  const stale = tokens.filter(([, x]) => x <= floorNow);
  for (const [nonce, x] of tokens) if (x > floorNow) b.used.set(nonce, x);
  if (stale.length) {
    b.meta.hw = floorNow;
    try {
      b.storage.set(ns + META, seal(META, b.writeMeta()));
      for (const [nonce] of stale) b.storage.remove(ns + tokenKey(nonce));
    } catch {
      // forgetting expired tokens may wait for the next open
    }
  }
  b.meta.hw = floorNow;
  if (!spaces) open.set(storage, (spaces = new Set()));
  spaces.add(ns);
  return b;
}

// ---- the plugin instance (SPEC §3) ----------------------------------------------------------

const END_PAGE_KEYS = ['BindContact', 'Call'];
const ROUTE_TYPES = ['redirectTo', 'switchTab', 'reLaunch'];

function parseVersion(api, field, v) {
  const s = str(api, field, v);
  const m = /^(\d{1,4})\.(\d{1,4})\.(\d{1,4})$/.exec(s);
  if (!m || m.slice(1).some((p) => Number(p) > 65535)) {
    throw bad(api, field + ' must be a version like "2.3.8", got ' + quote(s));
  }
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}
const below = (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

function optName(api, field, v) {
  if (v === undefined) return undefined;
  const s = str(api, field, v);
  const e = userNameError(api, field, s);
  if (e) throw e;
  return s;
}

function camera(api, field, v) {
  const n = optNumber(api, field, v);
  if (n === undefined) return 0;
  if (n !== 0 && n !== 1) throw bad(api, field + ' must be 0 (camera on) or 1 (camera off), got ' + num(n));
  return n;
}

/** Everything initByCaller throws for, in the spec's order (SPEC §3.6). */
function checkCall(api, req, compat) {
  argsObject(api, req);
  const roomType = str(api, 'roomType', get(api, req, 'roomType'));
  if (roomType !== 'voice' && roomType !== 'video') {
    throw bad(api, 'roomType must be "voice" or "video", got ' + quote(roomType));
  }
  const caller = get(api, req, 'caller');
  if (caller === null || typeof caller !== 'object' || Array.isArray(caller)) {
    throw bad(api, 'caller must be an object, got ' + (caller === undefined ? 'undefined' : describe(caller)));
  }
  const listener = get(api, req, 'listener');
  if (listener === null || typeof listener !== 'object' || Array.isArray(listener)) {
    throw bad(api, 'listener must be an object, got ' + (listener === undefined ? 'undefined' : describe(listener)));
  }
  const callerId = userId(api, 'caller.id', get(api, caller, 'id'));
  const callerName = optName(api, 'caller.name', get(api, caller, 'name'));
  camera(api, 'caller.cameraStatus', get(api, caller, 'cameraStatus'));
  const listenerId = openId(api, 'listener.id', get(api, listener, 'id'));
  const listenerName = optName(api, 'listener.name', get(api, listener, 'name'));
  camera(api, 'listener.cameraStatus', get(api, listener, 'cameraStatus'));
  let businessType = optNumber(api, 'businessType', get(api, req, 'businessType'));
  if (businessType === undefined) businessType = 0;
  else if (businessType !== 0 && businessType !== 1 && businessType !== 2 && businessType !== 3) {
    throw bad(api, 'businessType must be 0, 1, 2 or 3, got ' + num(businessType));
  }
  const q = get(api, req, 'customQuery');
  if (q !== undefined) {
    str(api, 'customQuery', q);
    const n = utf8Length(q);
    if (n > 1024) throw bad(api, 'customQuery must be at most 1024 bytes, got ' + n);
    if (/[\u0000-\u001f\u007f-\u009f]/.test(q)) throw bad(api, 'customQuery must not contain control characters');
  }
  const timeLimit = optNumber(api, 'timeLimit', get(api, req, 'timeLimit'));
  if (timeLimit !== undefined && timeLimit <= 0) throw bad(api, 'timeLimit must be a number of seconds > 0, got ' + num(timeLimit));
  const state = get(api, req, 'miniprogramState');
  if (state !== undefined && state !== 'formal' && state !== 'trial' && state !== 'developer') {
    str(api, 'miniprogramState', state);
    throw bad(api, 'miniprogramState must be "formal", "trial" or "developer", got ' + quote(state));
  }
  const campus = businessType === 0 || businessType === 3;
  let voipToken = get(api, req, 'voipToken');
  const usable = typeof voipToken === 'string' && voipToken !== '' && voipToken.length <= MAX_STRING_UNITS && voipToken.isWellFormed();
  if (!usable) {
    if (campus) {
      const what =
        voipToken === '' ? 'empty'
        : voipToken === undefined ? 'missing'
        : 'not a string (' + (typeof voipToken === 'string' && voipToken.length <= MAX_STRING_UNITS ? 'a string with a lone surrogate (not valid Unicode)' : describe(voipToken)) + ')';
      throw fail(api, 'VOIP_TOKEN_MISSING', 'voipToken is ' + what + '; businessType ' + businessType + ' needs the face-pay voip_token');
    }
    voipToken = '';
  }
  if (!campus) {
    throw fail(api, 'NOT_SUPPORTED', 'businessType ' + businessType + ' (hardware-device mode) is not part of the campus plugin; use 0 or 3');
  }
  if (businessType === 3 && below(compat, [2, 3, 8]) < 0) {
    throw fail(api, 'NOT_SUPPORTED', 'businessType 3 needs plugin 2.3.8 or later; compatVersion is ' + compat.join('.'));
  }
  return { roomType, callerId, callerName, listenerId, listenerName, businessType, voipToken };
}

class CallSlot {
  constructor() {
    this.active = null;
  }
  start(req, roomId, now) {
    this.active = {
      roomId,
      startedAt: now,
      callerId: req.callerId,
      listenerId: req.listenerId,
      callerName: req.callerName === undefined ? req.callerId : req.callerName,
      listenerName: req.listenerName === undefined ? req.listenerId : req.listenerName,
      roomType: req.roomType,
      businessType: req.businessType,
    };
  }
}

function badText(s) {
  return /[\u0000-\u001f\u007f]/.test(s) || !s.isWellFormed();
}

export class PurePlugin {
  #backend;
  #openId;
  #compat;
  #navigate;
  #listeners = [];
  #endPages = {};
  #enter = {};
  #onload = {};
  #slot = null;

  constructor(backend, openId, compat, navigate) {
    this.#backend = backend;
    this.#openId = openId;
    this.#compat = compat;
    this.#navigate = navigate;
  }

  #emit(eventName, data, roomId) {
    const event = { eventName, data };
    if (roomId !== undefined) {
      event.roomId = roomId;
      event.groupId = roomId;
    }
    for (const listener of this.#listeners.slice()) {
      try {
        listener(event);
      } catch (e) {
        console.error('[campus-voip] an onVoipEvent listener threw', e);
      }
    }
  }

  #goToEndPage(key) {
    const page = this.#endPages[key];
    if (!page || !this.#navigate) return;
    try {
      this.#navigate({ key, url: page.url, options: page.options, routeType: page.routeType, path: page.options ? page.url + '?' + page.options : page.url });
    } catch (e) {
      console.error('[campus-voip] navigation to the ' + key + ' end page failed', e);
    }
  }

  #finish(r) {
    const data = { type: r.type, errMsg: r.errMsg, userId: r.userId };
    this.#enter = { path: PAGE, query: r.query };
    this.#onload = r.query;
    this.#emit('bindContact', data);
    this.#goToEndPage('BindContact');
    return data;
  }

  async authorizeVoip() {
    this.#backend.setConsent('authorizeVoip', this.#openId, true);
    return ok('authorizeVoip');
  }

  async revokeVoip() {
    this.#backend.setConsent('revokeVoip', this.#openId, false);
    return ok('revokeVoip');
  }

  async getVoipConsent() {
    const granted = this.#backend.consent('getVoipConsent', this.#openId);
    return { errCode: 0, errMsg: 'getVoipConsent:ok', granted };
  }

  async bindVoipAdminContact(args) {
    const userId = this.#backend.bindAdmin('bindVoipAdminContact', this.#openId, args);
    return { errCode: 0, errMsg: 'bindVoipAdminContact:ok', userId };
  }

  async getBindContactPath(args) {
    return this.#backend.sharePath('getBindContactPath', this.#openId, args);
  }

  async getVoipBindContactList(args) {
    return this.#backend.list('getVoipBindContactList', this.#openId, args);
  }

  async deleteVoipBindContact(args) {
    const r = this.#backend.remove('deleteVoipBindContact', this.#openId, args);
    return { errCode: 0, errMsg: 'deleteVoipBindContact:ok', userId: r.userId, deleted: r.deleted };
  }

  async transerAdmin(args) {
    const r = this.#backend.transfer('transerAdmin', this.#openId, args);
    return { errCode: 0, errMsg: 'transerAdmin:ok', userId: r.userId, adminOpenid: r.adminOpenid };
  }

  async inspectBindContactPath(path) {
    const r = this.#backend.inspect('inspectBindContactPath', this.#openId, path);
    this.#enter = { path: PAGE, query: r.query };
    this.#onload = r.query;
    return { userId: r.userId, userName: r.userName, userAvatar: r.userAvatar, status: r.status, expiresAt: r.expiresAt };
  }

  async acceptBindContactPath(path) {
    return this.#finish(this.#backend.accept('acceptBindContactPath', this.#openId, path));
  }

  async declineBindContactPath(path) {
    return this.#finish(this.#backend.decline('declineBindContactPath', this.#openId, path));
  }

  onVoipEvent(listener) {
    if (typeof listener !== 'function') throw bad('onVoipEvent', 'listener must be a function');
    this.#listeners.push(listener);
    this.#backend.instances.add(this);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  setVoipEndPagePath(req) {
    const api = 'setVoipEndPagePath';
    argsObject(api, req);
    const key = get(api, req, 'key');
    const url = get(api, req, 'url');
    const options = get(api, req, 'options');
    const routeType = get(api, req, 'routeType');
    if (!END_PAGE_KEYS.includes(key)) throw bad(api, 'key must be "BindContact" or "Call"');
    if (typeof url !== 'string' || url === '' || url.length > 1024 || badText(url)) {
      throw bad(api, 'url must be a page path of 1–1024 characters, without control characters');
    }
    if (options !== undefined && (typeof options !== 'string' || options.length > 1024 || badText(options))) {
      throw bad(api, 'options must be a query string of at most 1024 characters, without control characters');
    }
    if (routeType !== undefined && !ROUTE_TYPES.includes(routeType)) {
      throw bad(api, 'routeType must be "redirectTo", "switchTab" or "reLaunch"');
    }
    this.#endPages[key] = { key, url, options: options || '', routeType: routeType || 'redirectTo' };
  }

  getPluginEnterOptions() {
    return this.#enter;
  }

  getPluginOnloadOptions() {
    return this.#onload;
  }

  /** Emits a delivery's events (`[eventName, data]` pairs) to this instance's listeners. */
  hear(roomId, events) {
    for (const [name, data] of events) this.#emit(name, data, roomId);
  }

  get openId() {
    return this.#openId;
  }

  async initByCaller(req) {
    const api = 'initByCaller';
    const call = checkCall(api, req, this.#compat);
    if (!this.#slot) this.#slot = new CallSlot();
    if (this.#slot.active) {
      throw fail(api, 'BUSY', 'a call is already in progress (roomId ' + this.#slot.active.roomId + '); forceHangUpVoip() first');
    }
    this.#backend.instances.add(this);
    const r = this.#backend.admit(api, call, this.#slot);
    if (r.refused) return { isSuccess: false, errCode: r.refused.errCode, errMsg: r.refused.errMsg, errObj: r.refused };
    const c = this.#slot.active;
    const incoming = { businessType: c.businessType, callerId: c.callerId, callerName: c.callerName, roomId: c.roomId, roomType: c.roomType };
    this.#backend.deliver(this, c, [['joinedRoomByCaller', {}]], [['incomingVoip', incoming]]);
    return { errCode: 0, errMsg: 'initByCaller:ok', isSuccess: true, roomId: r.roomId, groupId: r.roomId, chargeType: r.chargeType };
  }

  /**
   * The caller hangs up a ringing call (the bar has no answerVoip, so a call never connects and
   * its keepTime is 0): both sides hear cancelVoip, endVoip and finishVoip.
   */
  forceHangUpVoip(roomId) {
    if (roomId === null) roomId = undefined;
    if (roomId !== undefined && typeof roomId !== 'string') {
      throw bad('forceHangUpVoip', 'roomId must be a string, got ' + (Array.isArray(roomId) ? 'array' : typeof roomId));
    }
    const call = this.#slot && this.#slot.active;
    if (!call || (roomId !== undefined && roomId !== call.roomId)) return;
    this.#slot.active = null;
    const end = (isCaller) => ({
      keepTime: 0,
      callerName: call.callerName,
      listenerName: call.listenerName,
      roomType: call.roomType,
      isCaller,
      businessType: call.businessType,
    });
    const finish = () => ['finishVoip', { keepTime: 0 }];
    this.#backend.deliver(
      this,
      call,
      [['cancelVoip', { status: 'forceFromApp' }], ['endVoip', end(true)], finish()],
      [['cancelVoip', { status: 'other' }], ['endVoip', end(false)], finish()],
    );
    this.#goToEndPage('Call');
  }

  async getOpenId() {
    return this.#openId;
  }

  dispose() {
    this.#backend.instances.delete(this);
    this.#slot = null;
    this.#listeners.length = 0;
  }
}

/** `createVoipPlugin({ backend, openId, compatVersion, navigate })` */
export async function createVoipPlugin(options) {
  const api = 'createVoipPlugin';
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw bad(api, 'expects an options object');
  const backend = get(api, options, 'backend');
  const id = get(api, options, 'openId');
  const compatVersion = get(api, options, 'compatVersion');
  const navigate = get(api, options, 'navigate');
  if (!(backend instanceof PureBackend)) {
    throw bad(api, 'backend must be a backend from this copy of campus-voip (createLocalBackend())');
  }
  const who = id === undefined ? undefined : openId(api, 'openId', id);
  const compat = compatVersion === undefined ? [2, 4, 0] : parseVersion(api, 'compatVersion', compatVersion);
  if (navigate !== undefined && typeof navigate !== 'function') throw bad(api, 'navigate must be a function');
  return new PurePlugin(backend, who, compat, navigate);
}
