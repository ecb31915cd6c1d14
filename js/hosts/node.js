// Node host of the default entry: the wasm file read from the package (next to this module),
// compiled once, a fresh instance per loadCore.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import base from './node-base.js';
import { cachedModule, compileBytes, fixFor, instantiateModule, loadError, message } from './wasm-source.js';

const getModule = cachedModule(() => {
  // In the CommonJS build, esbuild defines import.meta.url from __filename.
  const url = new URL('./campus_voip_bg.wasm', import.meta.url);
  const file = url.protocol === 'file:' ? fileURLToPath(url) : String(url);
  return readFile(url).then(
    (bytes) => compileBytes(bytes, file, 'node', url),
    (e) => {
      throw loadError('reading ' + file + ' failed (' + message(e) + ').', fixFor('node', url));
    },
  );
});

export default {
  ...base,
  instantiate(imports) {
    return getModule().then((module) => instantiateModule(module, imports));
  },
};
