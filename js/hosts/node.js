// Node host: the wasm file read from the package, instantiated with WebAssembly; entropy from
// Node's Web Crypto; memory storage by default (fileStorage(dir) persists).
import { readFile } from 'node:fs/promises';
import { webcrypto } from 'node:crypto';
import { memoryStorage } from '../storage.js';

export default {
  kind: 'node',
  instantiate(imports) {
    // In the CommonJS build, esbuild defines import.meta.url from __filename.
    return readFile(new URL('./campus_voip_bg.wasm', import.meta.url)).then((bytes) =>
      WebAssembly.instantiate(bytes, imports),
    );
  },
  randomBytes(n) {
    const out = new Uint8Array(n);
    webcrypto.getRandomValues(out);
    return Promise.resolve(out);
  },
  defaultStorage: memoryStorage,
  pluginAppId: () => undefined,
};
