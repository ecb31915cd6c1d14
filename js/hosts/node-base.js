// What the Node hosts (the default entry and /slim) share: entropy from Node's Web Crypto,
// memory storage by default (fileStorage(dir) persists).
import { webcrypto } from 'node:crypto';
import { fetchRequest, fetchStream } from './fetch-request.js';
import { memoryStorage } from '../storage.js';

export default {
  kind: 'node',
  randomBytes(n) {
    const out = new Uint8Array(n);
    webcrypto.getRandomValues(out);
    return Promise.resolve(out);
  },
  defaultStorage: memoryStorage,
  pluginAppId: () => undefined,
  /** The http backend's transport (js/hosts/fetch-request.js). */
  request: fetchRequest,
  /** The event stream's transport (Server-Sent Events read with fetch). */
  stream: fetchStream,
};
