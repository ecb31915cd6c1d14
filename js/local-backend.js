// The local backend: the whole registry in the wasm core, persisted through a storage adapter.
// Each operation is one synchronous core call that writes its one key before returning, so a
// promise resolves only after the change is stored, and concurrent calls apply in some serial
// order. All rules live in the core; this file only adapts shapes (results cross as one JSON
// text each, parsed here).
//
// The storage adapter contract (README, index.d.ts): get/set/remove/keys are synchronous, each
// set/remove is atomic for its key, and an adapter never calls back into the backend. An adapter
// that returns a promise is refused the first time (nothing is applied) and the backend stops
// writing through it.
import { loadCore } from './core.js';
import { invalidArgument, notSupported, ok, readOptions, reason, storageError, toVoipError } from './errors.js';
import { callCore } from './seam.js';
import { STORE, checkStorage } from './storage.js';

const DEFAULT_NAMESPACE = 'campus-voip/';
/** The shim's own options; the core's (maxContacts, …) come from core.backendOptionNames(). */
const SHIM_OPTIONS = ['storage', 'now', 'namespace', 'restore', 'dev'];
/** Separators of the core's flat results (src/wasm.rs): fields, and entries. */
const US = '\u001f';
const RS = '\u001e';
/**
 * `s.split(sep)` for the core's results: V8 splits a fresh string (one just decoded from wasm)
 * about 4× slower than this loop, which was a third of a cheap call's time.
 */
function cut(s, sep) {
  const out = [];
  for (let i = 0, j; ; i = j + 1) {
    j = s.indexOf(sep, i);
    if (j < 0) return out.push(s.slice(i)), out;
    out.push(s.slice(i, j));
  }
}
const DEV_ONLY = 'exists only on a development backend: createLocalBackend({ dev: true })';

/**
 * The storages (and namespaces) that have an open backend in this JS realm. A backend keeps the
 * registry in memory and reads the storage only when it opens, so two open at once on one
 * storage would each miss the other's changes: the second is refused until the first closes.
 */
const open = new Map(); // store identity -> Set of namespaces

function storeIdentity(storage) {
  return storage[STORE] !== undefined ? storage[STORE] : storage;
}

const isThenable = (v) => v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';

const ASYNC_ADAPTER =
  'the storage adapter returned a promise; adapters must be synchronous (get, set, remove and keys return their result), so this backend no longer writes through it';

function readEntries(api, storage, ns) {
  try {
    const all = storage.keys();
    if (isThenable(all)) throw new Error(ASYNC_ADAPTER);
    const keys = all.filter((k) => typeof k === 'string' && k.startsWith(ns));
    const values = keys.map((k) => {
      const v = storage.get(k);
      if (isThenable(v)) throw new Error(ASYNC_ADAPTER);
      return v;
    });
    return { keys, values };
  } catch (e) {
    throw storageError(api, 'could not read the storage', e);
  }
}

/** Writes a snapshot's entries into an empty store; on failure removes what it wrote. */
function restoreInto(api, core, storage, ns, snapshot) {
  if (!(snapshot instanceof Uint8Array)) {
    throw invalidArgument(api, 'restore must be a Uint8Array from exportSnapshot({ includeSecrets: true })');
  }
  const entries = callCore(core, api, () => JSON.parse(core.snapshotEntries(snapshot)));
  const written = [];
  try {
    for (const [k, v] of entries) {
      if (isThenable(storage.set(ns + k, v))) throw new Error(ASYNC_ADAPTER);
      written.push(ns + k);
    }
  } catch (e) {
    for (const k of written) {
      try {
        storage.remove(k);
      } catch (_) {
        // best effort: the store refused writes already
      }
    }
    throw storageError(api, 'could not restore the snapshot', e);
  }
}

/**
 * The adapter's set/remove as the core calls them: a thrown error or a promise is a failed
 * write (the core then applies nothing); after a promise every later write fails too, since the
 * adapter may still be writing behind our back.
 */
function writer(storage, ns) {
  let broken = null;
  const check = (result) => {
    if (isThenable(result)) {
      broken = ASYNC_ADAPTER;
      // The late outcome is the adapter's business; never an unhandled rejection of ours.
      Promise.resolve(result).catch(() => {});
      throw new Error(broken);
    }
  };
  return {
    put(k, v) {
      if (broken) throw new Error(broken);
      check(storage.set(ns + k, v));
    },
    remove(k) {
      if (broken) throw new Error(broken);
      check(storage.remove(ns + k));
    },
  };
}

export class LocalBackend {
  constructor(core, inner, now, release) {
    this.type = 'local';
    this._core = core;
    this._inner = inner;
    this._now = now;
    this._release = release;
    this._busy = false;
    this._ids = new Map(); // openId -> the number the core knows it by (checked once)
    this._instances = new Set(); // instances that listen or call: call events go to them
    this._devices = new WeakMap(); // device instance -> the device id its calls carry
    this._deviceCount = 0;
    this._timer = null; // the one timer, for the earliest deadline the core names
  }

  // ---- call events: routed by the core's delivery (SPEC §3.7) -------------------------------

  _attach(instance) {
    this._instances.add(instance);
  }

  _detach(instance) {
    this._instances.delete(instance);
  }

  _deviceOf(instance) {
    let d = this._devices.get(instance);
    if (d === undefined) {
      d = 'local-device-' + ++this._deviceCount;
      this._devices.set(instance, d);
    }
    return d;
  }

  /** `{ roomId, device, listener, caller: [events], listenerEvents: [events] }` to its instances. */
  _deliver(d) {
    for (const instance of Array.from(this._instances)) {
      const s = instance._settings;
      if (!s) continue;
      if (s.openId === undefined) {
        if (d.caller.length > 0 && this._devices.get(instance) === d.device) instance._hear(d.roomId, d.caller);
      } else if (d.listenerEvents.length > 0 && s.openId === d.listener) {
        instance._hear(d.roomId, d.listenerEvents);
      }
    }
  }

  /** Arms the one timer for the core's next deadline (ring timeout, time limit). */
  _rearm() {
    if (this._timer !== null) clearTimeout(this._timer);
    this._timer = null;
    const inner = this._inner;
    if (!inner) return;
    let wait;
    try {
      const at = callCore(this._core, 'tick', () => inner.nextDeadline());
      if (at < 0) return;
      wait = Math.min(Math.max(0, at - this._time('tick')), 0x7fffffff);
    } catch (_) {
      return; // a dead core or a broken clock: tick() reports it when called
    }
    if (!(wait >= 0)) wait = 1000;
    this._timer = setTimeout(() => {
      this._timer = null;
      // A failed tick (a storage write failing) tries again in a second.
      this.tick().catch(() => {
        if (this._inner && this._timer === null) {
          this._timer = setTimeout(() => {
            this._timer = null;
            this._rearm();
          }, 1000);
          if (this._timer && typeof this._timer.unref === 'function') this._timer.unref();
        }
      });
    }, wait);
    if (this._timer && typeof this._timer.unref === 'function') this._timer.unref();
  }

  /** Runs a call operation, re-arms the deadline timer, then delivers (outside the core call). */
  _callOp(api, fn) {
    const out = this._sync(api, fn);
    this._rearm();
    return out;
  }

  /**
   * **[ours]** Fires at once every deadline that has passed on the backend's clock (ring
   * timeouts, time limits), delivering their events: tests and demos that move an injected
   * clock see timeouts happen without waiting for the timer.
   */
  tick() {
    try {
      this._tickNow('tick');
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  _tickNow(api) {
    const all = JSON.parse(this._callOp(api, (b, now) => b.tick(now)));
    for (const d of all) this._deliver(d);
  }

  /** The core's number for an instance's identity (0: the device, no openId). */
  _who(inner, openId) {
    if (openId === undefined) return 0;
    let n = this._ids.get(openId);
    if (n === undefined) {
      n = inner.actor(openId);
      this._ids.set(openId, n);
    }
    return n;
  }

  /** The backend's clock (ms). */
  now() {
    return this._time('now');
  }

  _time(api) {
    let t;
    try {
      t = this._now();
    } catch (e) {
      throw invalidArgument(api, 'the backend clock (the now option) threw: ' + reason(e));
    }
    // Range and type are the core's to check (it names the field).
    return typeof t === 'number' ? t : NaN;
  }

  /** One synchronous core call on this backend; the promise settles after it stored its change. */
  _run(api, fn) {
    try {
      return Promise.resolve(this._sync(api, fn));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  _sync(api, fn) {
    const inner = this._inner;
    if (!inner) throw invalidArgument(api, 'this backend was closed');
    if (this._busy) {
      // A storage adapter (or a getter it triggers) called back into the backend mid-operation.
      throw invalidArgument(api, 'the backend was called from inside one of its own storage writes; adapters must not call the backend');
    }
    const now = this._time(api);
    this._busy = true;
    try {
      return callCore(this._core, api, () => fn(inner, now));
    } finally {
      this._busy = false;
    }
  }

  // ---- operations on behalf of an instance's identity (actor: openId or undefined) ----------

  authorizeVoip(actor) {
    return this._run('authorizeVoip', (b) => (b.authorizeVoip(this._who(b, actor)), ok('authorizeVoip')));
  }

  revokeVoip(actor) {
    return this._run('revokeVoip', (b) => (b.revokeVoip(this._who(b, actor)), ok('revokeVoip')));
  }

  getVoipConsent(actor) {
    return this._run('getVoipConsent', (b) => ok('getVoipConsent', { granted: b.getVoipConsent(this._who(b, actor)) }));
  }

  bindVoipAdminContact(actor, args) {
    return this._run('bindVoipAdminContact', (b, now) =>
      ok('bindVoipAdminContact', { userId: b.bindVoipAdminContact(this._who(b, actor), args, now) }),
    );
  }

  getBindContactPath(actor, args) {
    return this._run('getBindContactPath', (b, now) => b.getBindContactPath(this._who(b, actor), args, now));
  }

  getVoipBindContactList(actor, args) {
    return this._run('getVoipBindContactList', (b) => {
      const r = b.getVoipBindContactList(this._who(b, actor), args);
      if (r === '') return [];
      return cut(r, RS).map((e) => {
        const f = cut(e, US);
        return { user_id: f[0], is_ad: f[1] === '1' ? 1 : 0, openid_list: f.slice(2) };
      });
    });
  }

  deleteVoipBindContact(actor, args) {
    return this._run('deleteVoipBindContact', (b, now) => {
      const f = cut(b.deleteVoipBindContact(this._who(b, actor), args, now), US);
      return { errCode: 0, errMsg: 'deleteVoipBindContact:ok', userId: f[0], deleted: f.slice(1) };
    });
  }

  transerAdmin(actor, args) {
    return this._run('transerAdmin', (b) => {
      const f = cut(b.transerAdmin(this._who(b, actor), args), US);
      return { errCode: 0, errMsg: 'transerAdmin:ok', userId: f[0], adminOpenid: f[1] };
    });
  }

  /** `{ userId, userName, userAvatar, status, errMsg, expiresAt?, query }` */
  inspectBindContactPath(actor, path) {
    return this._run('inspectBindContactPath', (b, now) => JSON.parse(b.inspectBindContactPath(this._who(b, actor), path, now)));
  }

  /** `{ type, errMsg, userId, query }` */
  acceptBindContactPath(actor, path) {
    return this._run('acceptBindContactPath', (b, now) => JSON.parse(b.acceptBindContactPath(this._who(b, actor), path, now)));
  }

  declineBindContactPath(actor, path) {
    return this._run('declineBindContactPath', (b) => JSON.parse(b.declineBindContactPath(this._who(b, actor), path)));
  }

  /** `initByCaller` by a device instance: `{ isSuccess, … }`, its events delivered first. */
  admitCall(instance, args, compatVersion) {
    try {
      // A call whose deadline passed before its timer fired ends first (its device is free).
      this._tickNow('initByCaller');
      const r = JSON.parse(
        this._callOp('initByCaller', (b, now) => b.initByCaller(this._deviceOf(instance), args, compatVersion, now)),
      );
      if (r.isSuccess) this._deliver(r.delivery);
      return Promise.resolve(r);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  _act(instance, api, args) {
    const act = api === 'answerVoip' ? 0 : api === 'rejectVoip' ? 1 : 2;
    const openId = instance._settings.openId;
    const out = this._callOp(api, (b, now) => b.actOnCall(this._who(b, openId), this._deviceOf(instance), act, args, now));
    const d = out === undefined ? undefined : JSON.parse(out);
    if (d) this._deliver(d);
    if (d && d.refused) throw toVoipError(api, d.refused);
  }

  /** `answerVoip` / `rejectVoip` by an instance: resolves once the events are delivered. */
  actOnCall(instance, api, args) {
    try {
      this._act(instance, api, args);
      return Promise.resolve(ok(api));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** `forceHangUpVoip(roomId?)` by an instance (synchronous; throws what the API throws). */
  hangUp(instance, roomId) {
    this._act(instance, 'forceHangUpVoip', roomId);
  }

  /** `calling.keepTime` of a connected call now, or undefined once it is not connected. */
  _keepTime(roomId) {
    const inner = this._inner;
    if (!inner) return undefined;
    const t = this._sync('calling', (b, now) => b.callingKeepTime(roomId, now));
    return t < 0 ? undefined : t;
  }

  /** **[ours]** The developer query of call records (`getvoipcalllist` on the service). */
  getVoipCallList(args) {
    return this._run('getVoipCallList', (b) => JSON.parse(b.getVoipCallList(args)));
  }

  /** The developer query, same shape as the contact service's getvoipcontactlist. */
  getVoipContactList(args) {
    return this._run('getVoipContactList', (b) => {
      const rows = cut(b.getVoipContactList(args), RS);
      const head = cut(rows[0], US);
      const contact_list = [];
      for (let i = 1; i < rows.length; i++) {
        const f = cut(rows[i], US);
        contact_list.push({ open_id: f[0], role: f[1] === '1' ? 1 : 0 });
      }
      return { errcode: Number(head[0]), errmsg: head[1], contact_list };
    });
  }

  /** `{ students, contacts }` */
  stats() {
    return this._sync('stats', (b) => JSON.parse(b.stats()));
  }

  /** Whether this backend was created with `dev: true` (its development helpers exist). */
  get dev() {
    return false;
  }

  /**
   * Frees the wasm memory of this backend (FinalizationRegistry is missing on old clients) and
   * lets another backend open on its storage.
   */
  close() {
    const inner = this._inner;
    if (!inner) return;
    this._inner = null;
    if (this._timer !== null) clearTimeout(this._timer);
    this._timer = null;
    this._instances.clear();
    this._release();
    try {
      inner.free();
    } catch (_) {
      // A dead core cannot free; its memory goes with it.
    }
  }
}

/** A backend created with `dev: true`: the development helpers of SPEC §6.1 exist on it. */
export class DevLocalBackend extends LocalBackend {
  get dev() {
    return true;
  }

  /** The face-scan stand-in: resolves a signed, single-use voipToken for the student. */
  issueVoipToken(args) {
    return this._run('issueVoipToken', (b, now) => b.issueVoipToken(args, now));
  }

  /** Removes all the student's contacts. */
  resetStudent(args) {
    return this._run('resetStudent', (b) => {
      const r = b.resetStudent(args); // '1' or '0', then the checked userId
      return ok('resetStudent', { userId: r.slice(1), removed: r[0] === '1' });
    });
  }

  /**
   * All contacts and consents (and, with `{ includeSecrets: true }`, the backend's keys, which
   * a snapshot needs to be restored with links and tokens still valid) as one versioned,
   * checksummed Uint8Array.
   */
  exportSnapshot(options) {
    const api = 'exportSnapshot';
    const o = readOptions(api, options === undefined ? {} : options, ['includeSecrets'], 'options');
    if (o.includeSecrets !== undefined && typeof o.includeSecrets !== 'boolean') {
      throw invalidArgument(api, 'includeSecrets must be a boolean');
    }
    return this._sync(api, (b) => b.exportSnapshot(o.includeSecrets === true));
  }
}

/** `createLocalBackend` for a host (its wasm loader, entropy and default storage). */
export function localBackendFactory(host) {
  return async function createLocalBackend(options) {
    const api = 'createLocalBackend';
    const core = await loadCore(host);
    const names = SHIM_OPTIONS.concat(callCore(core, api, () => core.backendOptionNames()).split(','));
    options = readOptions(api, options === undefined ? {} : options, names, 'options');
    if (options.dev !== undefined && typeof options.dev !== 'boolean') throw invalidArgument(api, 'dev must be a boolean');
    const dev = options.dev === true;
    if (options.restore !== undefined && !dev) throw notSupported(api, 'restore ' + DEV_ONLY);
    const storage = checkStorage(api, options.storage === undefined ? host.defaultStorage() : options.storage);
    const now = options.now === undefined ? Date.now : options.now;
    if (typeof now !== 'function') throw invalidArgument(api, 'now must be a function returning milliseconds');
    const ns = options.namespace === undefined ? DEFAULT_NAMESPACE : options.namespace;
    if (typeof ns !== 'string' || ns.length > 64) {
      throw invalidArgument(api, 'namespace must be a string of at most 64 characters');
    }
    const coreOptions = {};
    for (const name of names) {
      if (SHIM_OPTIONS.indexOf(name) < 0) coreOptions[name] = options[name];
    }
    if (coreOptions.pluginAppId === undefined) coreOptions.pluginAppId = host.pluginAppId();
    callCore(core, api, () => core.checkBackendOptions(coreOptions));
    // Entropy first: from here to the open there is no await, so what is read is what opens
    // (another backend cannot open, write and close in between).
    const seed = await host.randomBytes(32);
    const id = storeIdentity(storage);
    if (open.has(id) && open.get(id).has(ns)) {
      throw invalidArgument(
        api,
        'another backend is open on this storage (namespace ' +
          JSON.stringify(ns) +
          '); use that one, close() it first, or give this one its own namespace',
      );
    }
    let entries = readEntries(api, storage, ns);
    if (options.restore !== undefined) {
      if (entries.keys.length > 0) {
        throw invalidArgument(api, 'restore needs an empty storage (namespace ' + JSON.stringify(ns) + ')');
      }
      restoreInto(api, core, storage, ns, options.restore);
      entries = readEntries(api, storage, ns);
    }
    let t;
    try {
      t = now();
    } catch (e) {
      throw invalidArgument(api, 'the backend clock (the now option) threw: ' + reason(e));
    }
    const w = writer(storage, ns);
    const inner = callCore(core, api, () =>
      core.Backend.open(
        coreOptions,
        seed,
        entries.keys.map((k) => k.slice(ns.length)),
        entries.values,
        w.put,
        w.remove,
        typeof t === 'number' ? t : NaN,
      ),
    );
    if (!open.has(id)) open.set(id, new Set());
    open.get(id).add(ns);
    const release = () => {
      const spaces = open.get(id);
      spaces.delete(ns);
      if (spaces.size === 0) open.delete(id);
    };
    const Cls = dev ? DevLocalBackend : LocalBackend;
    return new Cls(core, inner, now, release);
  };
}
