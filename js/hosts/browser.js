// Browser host of the default entry: the wasm file next to this module, fetched and compiled
// once (streaming when served as application/wasm), a fresh instance per loadCore. The literal
// `new URL('./campus_voip_bg.wasm', import.meta.url)` is what webpack 5 and Vite recognise to emit
// the file with the bundle; keep it literal. A 404, an HTML answer or bytes that are not wasm give
// a loadWasm:fail error naming the fix (hosts/wasm-source.js).
import base from './browser-base.js';
import { cachedModule, fetchAndCompile, instantiateModule } from './wasm-source.js';

const getModule = cachedModule(() => fetchAndCompile(new URL('./campus_voip_bg.wasm', import.meta.url), 'default'));

export default {
  ...base,
  instantiate(imports) {
    return getModule().then((module) => instantiateModule(module, imports));
  },
};
