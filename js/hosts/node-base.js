// What the Node hosts (the default entry and /slim) share: entropy from Node's Web Crypto,
// memory storage by default (fileStorage(dir) persists). Web Crypto is the global one (Node 19
// and later; node:crypto's on Node 18), reached when the first backend opens, not when the
// package is imported: loading it costs 1–2 ms that a program which never opens one never pays.
import { fetchRequest, fetchStream } from './fetch-request.js';
import { memoryStorage } from '../storage.js';

export default {
  kind: 'node',
  randomBytes(n) {
    const out = new Uint8Array(n);
    const fill = (c) => (c.getRandomValues(out), out);
    return globalThis.crypto ? Promise.resolve(fill(globalThis.crypto)) : import('node:crypto').then((m) => fill(m.webcrypto));
  },
  defaultStorage: memoryStorage,
  pluginAppId: () => undefined,
  /** The http backend's transport (js/hosts/fetch-request.js). */
  request: fetchRequest,
  /** The event stream's transport (Server-Sent Events read with fetch). */
  stream: fetchStream,
};
