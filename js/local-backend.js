// The local backend: the whole registry in the wasm core, persisted through a storage adapter.
// Each operation is one synchronous core call that writes its one key before returning, so a
// promise resolves only after the change is stored, and concurrent calls apply in some serial
// order. All rules live in the core; this file only adapts shapes.
import { loadCore } from './core.js';
import { VoipCgiError, invalidArgument, ok, readFields, toVoipError } from './errors.js';
import { STORE, checkStorage } from './storage.js';

const DEFAULT_NAMESPACE = 'campus-voip/';
const OPTIONS = ['storage', 'now', 'namespace', 'maxContacts', 'ticketTtlMs', 'voipTokenTtlMs', 'pluginAppId', 'pathPrefix', 'restore'];

/**
 * The storages (and namespaces) that have an open backend in this JS realm. A backend keeps the
 * registry in memory and reads the storage only when it opens, so two open at once on one
 * storage would each miss the other's changes: the second is refused until the first closes.
 */
const open = new Map(); // store identity -> Set of namespaces

function storeIdentity(storage) {
  return storage[STORE] !== undefined ? storage[STORE] : storage;
}

function storageError(api, what, e) {
  return new VoipCgiError(
    3007,
    'STORAGE',
    api + ':fail ' + what + ': ' + (e && e.message ? e.message : String(e)) + '; nothing was changed',
  );
}

function readEntries(api, storage, ns) {
  try {
    const keys = storage.keys().filter((k) => typeof k === 'string' && k.startsWith(ns));
    return { keys, values: keys.map((k) => storage.get(k)) };
  } catch (e) {
    throw storageError(api, 'could not read the storage', e);
  }
}

/** Writes a snapshot's entries into an empty store; on failure removes what it wrote. */
function restoreInto(api, core, storage, ns, snapshot) {
  if (!(snapshot instanceof Uint8Array)) {
    throw invalidArgument(api, 'restore must be a Uint8Array from exportSnapshot()');
  }
  let entries;
  try {
    entries = core.snapshotEntries(snapshot);
  } catch (e) {
    throw toVoipError(api, e);
  }
  const written = [];
  try {
    for (const [k, v] of entries) {
      storage.set(ns + k, v);
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

export class LocalBackend {
  constructor(core, inner, now, release) {
    this.type = 'local';
    this._core = core;
    this._inner = inner;
    this._now = now;
    this._release = release;
  }

  /** The backend's clock (ms). */
  now() {
    return this._now();
  }

  _run(api, fn) {
    const inner = this._inner;
    if (!inner) return Promise.reject(invalidArgument(api, 'this backend was closed'));
    try {
      return Promise.resolve(fn(inner, this._now()));
    } catch (e) {
      return Promise.reject(toVoipError(api, e));
    }
  }

  // ---- operations on behalf of an instance's identity (actor: openId or undefined) ----------

  authorizeVoip(actor) {
    return this._run('authorizeVoip', (b) => (b.authorizeVoip(actor), ok('authorizeVoip')));
  }

  revokeVoip(actor) {
    return this._run('revokeVoip', (b) => (b.revokeVoip(actor), ok('revokeVoip')));
  }

  bindVoipAdminContact(actor, args) {
    return this._run('bindVoipAdminContact', (b, now) =>
      ok('bindVoipAdminContact', { userId: b.bindVoipAdminContact(actor, args, now) }),
    );
  }

  getBindContactPath(actor, args) {
    return this._run('getBindContactPath', (b, now) => b.getBindContactPath(actor, args, now));
  }

  getVoipBindContactList(actor, args) {
    return this._run('getVoipBindContactList', (b) => b.getVoipBindContactList(actor, args));
  }

  deleteVoipBindContact(actor, args) {
    return this._run('deleteVoipBindContact', (b) =>
      ok('deleteVoipBindContact', b.deleteVoipBindContact(actor, args)),
    );
  }

  transerAdmin(actor, args) {
    return this._run('transerAdmin', (b) => ok('transerAdmin', b.transerAdmin(actor, args)));
  }

  /** `{ userId, userName, userAvatar, status, query }` */
  inspectBindContactPath(actor, path) {
    return this._run('inspectBindContactPath', (b, now) => b.inspectBindContactPath(actor, path, now));
  }

  /** `{ type, errMsg, userId, query }` */
  acceptBindContactPath(actor, path) {
    return this._run('acceptBindContactPath', (b, now) => b.acceptBindContactPath(actor, path, now));
  }

  declineBindContactPath(actor, path) {
    return this._run('declineBindContactPath', (b) => b.declineBindContactPath(actor, path));
  }

  /** Call admission for one instance's call slot. */
  admitCall(slot, args, compatVersion) {
    return this._run('initByCaller', (b, now) => b.initByCaller(slot, args, compatVersion, now));
  }

  // ---- development helpers (SPEC §6.1) ---------------------------------------------------

  /** The face-scan stand-in: resolves a signed, single-use voipToken for the student. */
  issueVoipToken(args) {
    return this._run('issueVoipToken', (b, now) => b.issueVoipToken(args, now));
  }

  /** Removes all the student's contacts. */
  resetStudent(args) {
    return this._run('resetStudent', (b) => {
      const removed = b.resetStudent(args);
      return ok('resetStudent', { userId: args.userId, removed });
    });
  }

  /** The developer query, same shape as the contact service's getvoipcontactlist. */
  getVoipContactList(args) {
    return this._run('getVoipContactList', (b) => b.getVoipContactList(args));
  }

  /** All contacts, consents and secrets as one versioned, checksummed Uint8Array. */
  exportSnapshot() {
    if (!this._inner) throw invalidArgument('exportSnapshot', 'this backend was closed');
    return this._inner.exportSnapshot();
  }

  /** `{ students, contacts }` */
  stats() {
    if (!this._inner) throw invalidArgument('stats', 'this backend was closed');
    return this._inner.stats();
  }

  /**
   * Frees the wasm memory of this backend (FinalizationRegistry is missing on old clients) and
   * lets another backend open on its storage.
   */
  close() {
    if (this._inner) {
      this._inner.free();
      this._inner = null;
      this._release();
    }
  }
}

/** `createLocalBackend` for a host (its wasm loader, entropy and default storage). */
export function localBackendFactory(host) {
  return async function createLocalBackend(options) {
    const api = 'createLocalBackend';
    options = readFields(api, options === undefined ? {} : options, OPTIONS, 'options');
    const core = await loadCore(host);
    const storage = checkStorage(api, options.storage === undefined ? host.defaultStorage() : options.storage);
    const now = options.now === undefined ? Date.now : options.now;
    if (typeof now !== 'function') throw invalidArgument(api, 'now must be a function returning milliseconds');
    const ns = options.namespace === undefined ? DEFAULT_NAMESPACE : options.namespace;
    if (typeof ns !== 'string' || ns.length > 64) {
      throw invalidArgument(api, 'namespace must be a string of at most 64 characters');
    }
    const coreOptions = {
      maxContacts: options.maxContacts,
      ticketTtlMs: options.ticketTtlMs,
      voipTokenTtlMs: options.voipTokenTtlMs,
      pluginAppId: options.pluginAppId === undefined ? host.pluginAppId() : options.pluginAppId,
      pathPrefix: options.pathPrefix,
    };
    try {
      core.checkBackendOptions(coreOptions);
    } catch (e) {
      throw toVoipError(api, e);
    }
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
    const seed = await host.randomBytes(32);
    if (open.has(id) && open.get(id).has(ns)) {
      // Another backend opened on it while this one awaited its entropy.
      throw invalidArgument(api, 'another backend is open on this storage (namespace ' + JSON.stringify(ns) + ')');
    }
    let inner;
    try {
      inner = core.Backend.open(
        coreOptions,
        seed,
        entries.keys.map((k) => k.slice(ns.length)),
        entries.values,
        (k, v) => storage.set(ns + k, v),
        (k) => storage.remove(ns + k),
        now(),
      );
    } catch (e) {
      throw toVoipError(api, e);
    }
    if (!open.has(id)) open.set(id, new Set());
    open.get(id).add(ns);
    const release = () => {
      const spaces = open.get(id);
      spaces.delete(ns);
      if (spaces.size === 0) open.delete(id);
    };
    return new LocalBackend(core, inner, now, release);
  };
}
