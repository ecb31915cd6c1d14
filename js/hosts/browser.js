// Browser host: the wasm file next to this module, fetched and instantiated with WebAssembly;
// entropy from crypto.getRandomValues; localStorage by default.
import { memoryStorage, webStorage } from '../storage.js';

export default {
  kind: 'browser',
  instantiate(imports) {
    const url = new URL('./campus_voip_bg.wasm', import.meta.url);
    return fetch(url)
      .then((r) => {
        if (!r.ok) throw new Error('GET ' + url + ' answered ' + r.status);
        return r.arrayBuffer();
      })
      .then((bytes) => WebAssembly.instantiate(bytes, imports));
  },
  randomBytes(n) {
    const out = new Uint8Array(n);
    crypto.getRandomValues(out);
    return Promise.resolve(out);
  },
  defaultStorage() {
    try {
      if (typeof localStorage !== 'undefined') return webStorage(localStorage);
    } catch (_) {
      // localStorage can throw (disabled cookies, sandboxed frames)
    }
    return memoryStorage();
  },
  pluginAppId: () => undefined,
};
