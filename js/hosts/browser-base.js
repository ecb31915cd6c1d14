// What the browser hosts (the default entry and /slim) share: entropy from
// crypto.getRandomValues, localStorage by default. How the wasm is found is each entry's own.
import { fetchRequest, fetchStream } from './fetch-request.js';
import { memoryStorage, webStorage } from '../storage.js';

export default {
  kind: 'browser',
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
  /** The http backend's transport (js/hosts/fetch-request.js). */
  request: fetchRequest,
  /** The event stream's transport (Server-Sent Events read with fetch). */
  stream: fetchStream,
};
