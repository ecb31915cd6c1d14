// Node host of the default entry: the wasm file read from the package (next to this module),
// compiled once, a fresh instance per loadCore.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import base from './node-base.js';
import { cachedModule, compileBytes, fixFor, instantiateModule, loadError, message } from './wasm-source.js';

const getModule = cachedModule(() => {
  // In the CommonJS build, esbuild defines import.meta.url from __filename.
  const url = new URL('./campus_voip_bg.wasm', import.meta.url);
  const file = url.protocol === 'file:' ? fileURLToPath(url) : String(url);
  // Read synchronously (123 KB, a fraction of a millisecond): node:fs is loaded already, where
  // fs/promises would load its streams for ~1 ms of a cold start.
  let bytes;
  try {
    bytes = readFileSync(url);
  } catch (e) {
    throw loadError('reading ' + file + ' failed (' + message(e) + ').', fixFor('node', url));
  }
  return compileBytes(bytes, file, 'node', url, undefined, true);
});

// Reading and compiling start when the package is imported (just after its modules evaluate), so
// the first createLocalBackend finds the module compiled. A failure is reported by the first
// call that needs the core (getModule() then tries again).
getModule().catch(() => {});

export default {
  ...base,
  instantiate(imports) {
    return getModule().then((module) => instantiateModule(module, imports, true));
  },
};
