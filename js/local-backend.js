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
import { invalidArgument, notSupported, ok, readOptions, reason, storageError } from './errors.js';
import { callCore } from './seam.js';
import { STORE, checkStorage } from './storage.js';

const DEFAULT_NAMESPACE = 'campus-voip/';
/** The shim's own options; the core's (maxContacts, …) come from core.backendOptionNames(). */
const SHIM_OPTIONS = ['storage', 'now', 'namespace', 'restore', 'dev'];
/** Separators of the core's flat results (src/wasm.rs): fields, and entries. */
const US = '\u001f';
const RS = '\u001e';
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
      return r.split(RS).map((e) => {
        const f = e.split(US);
        return { user_id: f[0], is_ad: f[1] === '1' ? 1 : 0, openid_list: f.slice(2) };
      });
    });
  }

  deleteVoipBindContact(actor, args) {
    return this._run('deleteVoipBindContact', (b, now) => {
      const f = b.deleteVoipBindContact(this._who(b, actor), args, now).split(US);
      return { errCode: 0, errMsg: 'deleteVoipBindContact:ok', userId: f[0], deleted: f.slice(1) };
    });
  }

  transerAdmin(actor, args) {
    return this._run('transerAdmin', (b) => {
      const f = b.transerAdmin(this._who(b, actor), args).split(US);
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

  /** Call admission for one instance's call slot. */
  admitCall(slot, args, compatVersion) {
    return this._run('initByCaller', (b, now) => JSON.parse(b.initByCaller(slot, args, compatVersion, now)));
  }

  /** A new call slot (one per device instance), or `undefined` after close(). */
  _newSlot(api) {
    return callCore(this._core, api, () => new this._core.CallSlot());
  }

  /** `forceHangUpVoip` on a slot: `{ roomId, data }` or undefined. */
  _hangUp(slot, roomId) {
    const api = 'forceHangUpVoip';
    const now = this._time(api);
    const ended = callCore(this._core, api, () => slot.hangUp(roomId, now));
    return ended === undefined ? undefined : JSON.parse(ended);
  }

  /** The developer query, same shape as the contact service's getvoipcontactlist. */
  getVoipContactList(args) {
    return this._run('getVoipContactList', (b) => {
      const rows = b.getVoipContactList(args).split(RS);
      const head = rows[0].split(US);
      const contact_list = [];
      for (let i = 1; i < rows.length; i++) {
        const f = rows[i].split(US);
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
