// Shared setup for the node --test suite. Everything is tested through the BUILT npm package
// (dist/npm/), exactly as a user imports it. Build it first with `node scripts/build.mjs`.
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// CAMPUS_VOIP_DIST may point at another copy of the package (e.g. a mutated one, to check that
// the suite catches breakage).
export const DIST = process.env.CAMPUS_VOIP_DIST ? path.resolve(process.env.CAMPUS_VOIP_DIST) : path.join(ROOT, 'dist', 'npm');

if (!fs.existsSync(path.join(DIST, 'node.mjs'))) {
  throw new Error('dist/npm/node.mjs is missing: run `node scripts/build.mjs` first');
}

/** The ESM build for Node, as `import ... from 'campus-voip'` resolves it. */
export const cv = await import(pathToFileURL(path.join(DIST, 'node.mjs')).href);
export const { VoipError, VoipPluginError, VoipCgiError } = cv;

/** A fixed start time (ms) so tests are deterministic. */
export const T0 = 1_700_000_000_000;

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
/** A face-pay token's lifetime by default (the core's token::DEFAULT_TTL_MS), on both backends. */
export const VOIP_TOKEN_TTL = 5 * MINUTE;

/** An injectable clock: `clock.now` is what the backend gets; `clock.advance(ms)` moves time. */
export function makeClock(start = T0) {
  const clock = {
    t: start,
    now: () => clock.t,
    advance(ms) {
      clock.t += ms;
      return clock.t;
    },
  };
  return clock;
}

/**
 * A backend on an injectable clock plus one plugin instance per openId and a device instance.
 * Options: maxContacts, ticketTtlMs, voipTokenTtlMs, ringTimeoutMs, storage, people (openIds),
 * compatVersion, pluginAppId, clock. `plugin(options)` makes more instances (a parent's with an
 * openId, else a device: each device instance is its own device).
 */
export async function makeWorld(opts = {}) {
  if (BACKEND === 'http') return makeHttpWorld(opts);
  const clock = opts.clock || makeClock();
  const storage = opts.storage || cv.memoryStorage();
  const backendOptions = {
    storage,
    now: clock.now,
    maxContacts: opts.maxContacts ?? 4,
    ticketTtlMs: opts.ticketTtlMs ?? 10 * MINUTE,
    // The development helpers (issueVoipToken, resetStudent, exportSnapshot, restore).
    dev: opts.dev ?? true,
  };
  for (const k of ['voipTokenTtlMs', 'ringTimeoutMs', 'pluginAppId', 'pathPrefix', 'namespace']) {
    if (opts[k] !== undefined) backendOptions[k] = opts[k];
  }
  const backend = await cv.createLocalBackend(backendOptions);
  const people = {};
  for (const openId of opts.people || ['mum', 'dad', 'gran', 'uncle', 'aunt']) {
    people[openId] = await cv.createVoipPlugin({ backend, openId });
  }
  const device = await cv.createVoipPlugin({
    backend,
    ...(opts.compatVersion ? { compatVersion: opts.compatVersion } : {}),
  });
  /** A new plugin instance on this world's backend (`openId` for a parent, none for a device). */
  const plugin = (o = {}) => cv.createVoipPlugin({ backend, ...o });
  return { cv, clock, storage, backend, plugin, people, device, ...people };
}

/**
 * CAMPUS_VOIP_BACKEND=http: makeWorld runs on the contact service (one `--dev` service per
 * world, tests/js/service.mjs) through createHttpBackend: one backend per person (its own
 * session), the device on a device key. `backend` stands for the whole service: issueVoipToken
 * (the device's), getVoipContactList and resetStudent (the school server's /wxa interface), and
 * stats (`/v1/dev/stats`), tick (`/v1/dev/tick`: passed deadlines now) and getVoipCallList (the
 * school server's getvoipcalllist). The service's clock is frozen (`/v1/dev/clock`) and
 * `clock.advance(ms)` moves it, returning a promise: tests `await` it on both backends. Storage and snapshots are the service's
 * own: the tests about them are marked `localOnly`.
 */
export const BACKEND = process.env.CAMPUS_VOIP_BACKEND || 'local';

/**
 * Options for a test (or suite) that is about the local backend itself (its storage adapter,
 * snapshots, its wasm instance, an identity given as `openId`): skipped, with the reason, when
 * the suite runs against the contact service.
 */
export function localOnly(reason) {
  return BACKEND === 'http' ? { skip: `local backend only: ${reason}` } : {};
}

/**
 * Every http backend of the test file, closed after its last test: an open event stream (a
 * fetch reading the service's SSE) would keep the process alive.
 */
const httpBackends = [];
after(() => {
  for (const b of httpBackends.splice(0)) b.close();
});

/**
 * Lets the events of the last actions reach every instance: at once on the local backend (its
 * events are delivered synchronously); over the service, every backend of the file waits for
 * its requests and fetches what is pending.
 */
export async function settle() {
  for (const b of httpBackends.slice()) await b.settle();
}

async function opened(created) {
  const b = await created;
  httpBackends.push(b);
  return b;
}

async function makeHttpWorld(opts) {
  for (const k of ['storage', 'clock', 'voipTokenTtlMs', 'pathPrefix', 'namespace']) {
    if (opts[k] !== undefined) throw new Error(`makeWorld({ ${k} }) has no meaning on the contact service: mark the test localOnly`);
  }
  const { startService } = await import('./service.mjs');
  const flags = ['--max-contacts', String(opts.maxContacts ?? 4), '--ticket-ttl', String(Math.round((opts.ticketTtlMs ?? 10 * MINUTE) / 1000))];
  if (opts.pluginAppId !== undefined) flags.push('--plugin-app-id', opts.pluginAppId);
  if (opts.ringTimeoutMs !== undefined) {
    // The service counts it in whole seconds (--ring-timeout, 5–120).
    if (opts.ringTimeoutMs % 1000 !== 0) throw new Error('makeWorld({ ringTimeoutMs }) must be whole seconds on the contact service');
    flags.push('--ring-timeout', String(opts.ringTimeoutMs / 1000));
  }
  const svc = await startService(flags);
  // CAMPUS_VOIP_TEST_REPLICAS=2 (on PostgreSQL): a second replica of the same database; the
  // parents talk to it, the devices to the first, so every call crosses replicas (its events
  // go by LISTEN/NOTIFY).
  const parents = process.env.CAMPUS_VOIP_TEST_REPLICAS === '2' ? await startService(flags, { replicaOf: svc }) : svc;
  const replicas = parents === svc ? [svc] : [parents, svc];
  // The services' clocks, frozen (as the local backend's injected clock): they move only when a
  // test moves them, so lifetimes are exact. With replicas: frozen in turn, then each moved up
  // to the latest time any of them acts at (a replica that started after another acts at the
  // lease the first stored, up to 10 s ahead, until its clock passes it): every replica then
  // acts at the same time.
  const frozen = [];
  for (const r of replicas) frozen.push(await r.clockReading({ freeze: true }));
  let t = Math.max(...frozen.map((f) => Math.max(f.now, f.opsNow)));
  for (let i = 0; i < replicas.length; i++) {
    if (frozen[i].now < t) await replicas[i].clock({ advanceMs: t - frozen[i].now });
  }
  const clock = {
    now: () => t,
    async advance(ms) {
      for (const r of replicas) t = await r.clock({ advanceMs: ms });
      return t;
    },
  };
  // The device measures a call's keepTime on the same clock.
  const deviceBackend = await opened(cv.createHttpBackend({ url: svc.url, deviceKey: await svc.device('gate-1'), now: clock.now }));
  const backend = {
    type: 'http',
    dev: true,
    service: svc,
    now: clock.now,
    issueVoipToken: (args) => deviceBackend.issueVoipToken(args),
    getVoipContactList: (args) => svc.wxa('getvoipcontactlist', args),
    async resetStudent(args) {
      const r = await svc.wxa('resetvoipcontact', { user_id: args && args.userId });
      if (r.errcode !== 0) throw new Error('resetvoipcontact: ' + JSON.stringify(r));
      return { errCode: 0, errMsg: 'resetStudent:ok', userId: args.userId, removed: r.removed };
    },
    stats: () => svc.stats(),
    tick: () => svc.tick(),
    getVoipCallList: (args) => svc.wxa('getvoipcalllist', args),
    close: () => deviceBackend.close(),
  };
  // The world's first device is `device` (on deviceBackend, which also issues the tokens); every
  // other device instance is another device, with its own device key (one call at a time each).
  let devices = 0;
  const backendFor = async (openId) => {
    if (openId !== undefined) return opened(cv.createHttpBackend({ url: parents.url, getSession: () => svc.session(openId), now: clock.now }));
    if (devices++ === 0) return deviceBackend;
    return opened(cv.createHttpBackend({ url: svc.url, deviceKey: await svc.device('gate-' + devices), now: clock.now }));
  };
  /** A new plugin instance: a parent's (`openId`, on its own session) or the device's. */
  const plugin = async ({ openId, ...rest } = {}) => cv.createVoipPlugin({ backend: await backendFor(openId), ...rest });
  const people = {};
  for (const openId of opts.people || ['mum', 'dad', 'gran', 'uncle', 'aunt']) {
    people[openId] = await plugin({ openId });
  }
  const device = await plugin(opts.compatVersion ? { compatVersion: opts.compatVersion } : {});
  return { cv, clock, storage: undefined, backend, plugin, people, device, ...people };
}

/**
 * Binds `admin` as administrator of `userId` (with consent), then binds every openId in
 * `others` through a share link. Returns the share path used.
 */
export async function bindFamily(world, userId, admin, others = [], userName = 'Xiao Ming') {
  const a = world.people[admin];
  await a.authorizeVoip();
  await a.bindVoipAdminContact({ userId });
  const sharePath = await a.getBindContactPath({ userId, userName, userAvatar: 'https://img.example/a.png' });
  for (const o of others) {
    const p = world.people[o];
    await p.authorizeVoip();
    const r = await p.acceptBindContactPath(sharePath);
    assert.equal(r.type, 'success', `${o} should bind to ${userId}`);
  }
  return sharePath;
}

/** A valid initByCaller request from student `userId` to parent `openId`. */
export function callRequest(userId, openId, voipToken, extra = {}) {
  return { roomType: 'voice', caller: { id: userId }, listener: { id: openId }, voipToken, ...extra };
}

/** Asserts `err` is a VoipError of the right subclass, errCode, code and errMsg prefix. */
export function assertVoipError(err, { errCode, code, api, cls }) {
  assert.ok(err instanceof Error, `expected an Error, got ${typeof err}: ${String(err)}`);
  assert.ok(err instanceof VoipError, `expected a VoipError, got ${err && err.constructor && err.constructor.name}: ${err && err.message}`);
  if (errCode !== undefined) {
    if (Array.isArray(errCode)) assert.ok(errCode.includes(err.errCode), `errCode ${err.errCode} not in ${errCode}: ${err.errMsg}`);
    else assert.equal(err.errCode, errCode, `errCode of: ${err.errMsg}`);
  }
  assert.equal(typeof err.errCode, 'number');
  assert.equal(typeof err.code, 'string');
  assert.match(err.code, /^[A-Z_]+$/);
  if (code !== undefined) assert.equal(err.code, code);
  assert.equal(typeof err.errMsg, 'string');
  if (api !== undefined) {
    assert.ok(err.errMsg.startsWith(api + ':fail '), `errMsg should start with "${api}:fail ": ${err.errMsg}`);
  } else {
    assert.match(err.errMsg, /^[A-Za-z]+:fail ./);
  }
  assert.ok(err.errMsg.length < 2000, 'errMsg should be short (no echo of huge inputs)');
  const expectedCls = cls || (pluginCodes.has(err.errCode) ? VoipPluginError : VoipCgiError);
  assert.ok(err instanceof expectedCls, `errCode ${err.errCode} should be a ${expectedCls.name}, got ${err.constructor.name}`);
  const otherCls = expectedCls === VoipPluginError ? VoipCgiError : VoipPluginError;
  assert.ok(!(err instanceof otherCls), `should not also be a ${otherCls.name}`);
  return err;
}

const pluginCodes = new Set([20, 1001, 1004, 1005, 1011, 3006]);

export const CODE_NAMES = {
  4: 'BAD_VOIP_TOKEN',
  8: 'NOT_AUTHORIZED',
  9: 'NOT_CONTACT_OF_CALLER',
  20: 'INVALID_OPENID',
  1001: 'VOIP_TOKEN_MISSING',
  1004: 'INVALID_ARGUMENT',
  1005: 'BUSY',
  1011: 'NOT_SUPPORTED',
  3001: 'NOT_ADMIN',
  3002: 'ADMIN_EXISTS',
  3003: 'NOT_CONTACT',
  3004: 'ADMIN_SELF_DELETE',
  3006: 'INTERNAL',
  3007: 'STORAGE',
  3008: 'UNAUTHENTICATED',
};

/** Awaits a promise that must reject with a VoipError; returns the error. */
export async function rejectsVoip(promise, expect) {
  assert.ok(promise && typeof promise.then === 'function', 'an async API must return a promise');
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, `expected a rejection (${expect.api} ${expect.errCode})`);
  if (expect.errCode !== undefined && !Array.isArray(expect.errCode) && expect.code === undefined) {
    expect = { ...expect, code: CODE_NAMES[expect.errCode] };
  }
  return assertVoipError(err, expect);
}

/** Calls a synchronous API that must throw a VoipError; returns the error. */
export function throwsVoip(fn, expect) {
  let err;
  let threw = false;
  try {
    fn();
  } catch (e) {
    threw = true;
    err = e;
  }
  assert.ok(threw, `expected ${expect.api} to throw`);
  if (expect.errCode !== undefined && !Array.isArray(expect.errCode) && expect.code === undefined) {
    expect = { ...expect, code: CODE_NAMES[expect.errCode] };
  }
  return assertVoipError(err, expect);
}

/** A full copy of a storage adapter's contents (key → value). */
/**
 * Everything a backend keeps, to check that a refused call changed nothing: the storage byte for
 * byte and the snapshot (local), or the contact lists and counts of `userIds` (both).
 */
export async function stateOf(w, userIds) {
  const view = await registryView(w.backend, userIds);
  if (BACKEND === 'http') return { view };
  return { view, storage: dump(w.storage), snapshot: w.backend.exportSnapshot() };
}

export function dump(storage) {
  const out = {};
  for (const k of storage.keys().slice().sort()) out[k] = storage.get(k);
  return out;
}

/**
 * A memory storage holding the same entries as `storage`: a second backend can open "the same
 * state" there while the first stays open on the original (one open backend per storage).
 */
export function copyOf(storage) {
  const copy = cv.memoryStorage();
  for (const [k, v] of Object.entries(dump(storage))) copy.set(k, v);
  return copy;
}

/** A memory storage whose writes can be made to fail (`s.failWrites = true`). */
export function failingStorage(inner = cv.memoryStorage()) {
  const s = {
    failWrites: false,
    writes: 0,
    get: (k) => inner.get(k),
    set(k, v) {
      if (s.failWrites) throw new Error('disk full (test)');
      s.writes++;
      inner.set(k, v);
    },
    remove(k) {
      if (s.failWrites) throw new Error('disk full (test)');
      s.writes++;
      inner.remove(k);
    },
    keys: () => inner.keys(),
  };
  return s;
}

/** The state as the developer query sees it, for several students. */
export async function registryView(backend, userIds) {
  const out = { stats: await backend.stats() };
  for (const u of userIds) out[u] = await backend.getVoipContactList({ user_id: u });
  return out;
}

// ---- stored-value surgery (the format: base64url of [version, kind, body..., sha256(keylen‖key‖body)[..8]]) ----

export function b64urlDecode(s) {
  return Buffer.from(s, 'base64url');
}

export function b64urlEncode(buf) {
  return Buffer.from(buf).toString('base64url');
}

/** Re-seals a stored value with another format version and a CORRECT checksum. */
export function withVersion(key, value, version) {
  const raw = b64urlDecode(value);
  const body = Buffer.from(raw.subarray(0, raw.length - 8));
  body[0] = version;
  const keyBytes = Buffer.from(key, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(keyBytes.length);
  const sum = createHash('sha256').update(len).update(keyBytes).update(body).digest().subarray(0, 8);
  return b64urlEncode(Buffer.concat([body, sum]));
}

/** Flips one base64url character in the middle of a value (changes a decoded byte). */
export function flipChar(value) {
  const i = Math.floor(value.length / 2);
  const c = value[i];
  return value.slice(0, i) + (c === 'A' ? 'B' : 'A') + value.slice(i + 1);
}

/** Temporarily silences console.error (the shim logs throwing listeners). */
export async function quietErrors(fn) {
  const orig = console.error;
  const logged = [];
  console.error = (...a) => logged.push(a);
  try {
    await fn();
  } finally {
    console.error = orig;
  }
  return logged;
}

/** A deterministic PRNG (mulberry32). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Parses a share path's query exactly like a Mini Program page's onLoad (decodeURIComponent). */
export function queryObject(sharePath) {
  const q = sharePath.slice(sharePath.indexOf('?') + 1);
  const out = {};
  for (const kv of q.split('&')) {
    if (!kv) continue;
    const i = kv.indexOf('=');
    const k = decodeURIComponent(i < 0 ? kv : kv.slice(0, i));
    const v = decodeURIComponent(i < 0 ? '' : kv.slice(i + 1));
    if (!(k in out)) out[k] = v;
  }
  return out;
}

// ---- call events (SPEC §3.7) ----------------------------------------------------------------

/** A call event as an instance hears it: `{ eventName, data, roomId, groupId }`. */
export function callEvent(roomId, eventName, data = {}) {
  return { eventName, data, roomId, groupId: roomId };
}

/** Records every event `instance` hears, in order (an array; `log.off()` stops recording). */
export function eventLog(instance) {
  const log = [];
  log.off = instance.onVoipEvent((e) => log.push(e));
  return log;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Asserts each `[log, expected]` pair: the log holds exactly the expected events, in order. The
 * local backend delivers a change's events before the API's promise resolves (or, for the
 * synchronous forceHangUpVoip, before it returns), so nothing is awaited; over the service they
 * come on the event stream, so this waits (up to 5 s) until every log is long enough, and a
 * little longer for events that should not come.
 */
export async function expectEvents(pairs, message) {
  if (BACKEND === 'http') {
    const until = Date.now() + 5000;
    while (Date.now() < until && pairs.some(([log, expected]) => log.length < expected.length)) await sleep(10);
    await sleep(100);
  }
  pairs.forEach(([log, expected], i) => {
    assert.deepEqual(log.slice(), expected, `${message ? message + ': ' : ''}events of log #${i + 1}`);
  });
}
