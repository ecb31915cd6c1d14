// Storage adapters: a synchronous key-value interface { get, set, remove, keys }. The core
// decides keys and values (one key per record; every value versioned and checksummed) and
// persists each change with a single set or remove, which these adapters make atomic.
import { invalidArgument } from './errors.js';

/**
 * What an adapter stores into (the Map, the localStorage object, the wx object, the directory),
 * so that two adapters over the same place are recognised as one storage.
 */
export const STORE = Symbol('campus-voip store');

function tag(adapter, target) {
  Object.defineProperty(adapter, STORE, { value: target });
  return adapter;
}

/** In memory; share one between backends to act out persistence. */
export function memoryStorage() {
  const map = new Map();
  return tag(
    {
      get: (key) => (map.has(key) ? map.get(key) : null),
      set: (key, value) => void map.set(key, value),
      remove: (key) => void map.delete(key),
      keys: () => Array.from(map.keys()),
    },
    map,
  );
}

/** A Web Storage object (`localStorage`, `sessionStorage`). */
export function webStorage(store) {
  if (!store || typeof store.getItem !== 'function' || typeof store.setItem !== 'function') {
    throw invalidArgument('webStorage', 'expects a Web Storage object such as localStorage');
  }
  return tag(
    {
      get: (key) => store.getItem(key),
      set: (key, value) => store.setItem(key, value),
      remove: (key) => store.removeItem(key),
      keys() {
        const out = [];
        for (let i = 0; i < store.length; i++) out.push(store.key(i));
        return out;
      },
    },
    store,
  );
}

/** A Mini Program's `wx` storage (in a plugin: the plugin's own storage). */
export function wxStorage(wxApi) {
  if (!wxApi || typeof wxApi.getStorageSync !== 'function') {
    throw invalidArgument('wxStorage', 'expects the wx object of a Mini Program');
  }
  return tag(
    {
      // getStorageSync answers '' for a missing key; stored values are never empty.
      get(key) {
        const v = wxApi.getStorageSync(key);
        return v === '' || v === undefined ? null : v;
      },
      set: (key, value) => wxApi.setStorageSync(key, value),
      remove: (key) => wxApi.removeStorageSync(key),
      keys: () => wxApi.getStorageInfoSync().keys,
    },
    wxApi,
  );
}

/** Checks an adapter's shape; returns it. */
export function checkStorage(api, storage) {
  const ok =
    storage &&
    typeof storage === 'object' &&
    ['get', 'set', 'remove', 'keys'].every((m) => typeof storage[m] === 'function');
  if (!ok) {
    throw invalidArgument(
      api,
      'storage must be an adapter with get, set, remove and keys functions (memoryStorage(), webStorage(localStorage), wxStorage(wx), fileStorage(dir))',
    );
  }
  return storage;
}
