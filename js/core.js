// Loads the wasm core: one glue module per wasm instance (re-instantiating under the same glue
// would leave stale memory views, PLATFORM.md §4), so the build turns wasm-bindgen's glue into a
// factory ('campus-voip-glue': `createGlue()` returns new module state on every call). The host
// supplies `instantiate(imports)`: WXWebAssembly with a package path in a Mini Program,
// WebAssembly elsewhere (hosts/*.js).
//
// One live core per JS realm: loadCore resolves the same glue object until it is marked dead.
// After markCoreDead(core) (a wasm trap ended that instance), the next loadCore creates a fresh
// glue and a fresh wasm instance; objects of the dead core keep failing, new ones use the new
// core. A failed load is forgotten, so a later call may try again.
import createGlue from 'campus-voip-glue';
import { VoipError, VoipPluginError } from './errors.js';

let loading = null; // Promise<glue> of the live (or loading) core
let current = null; // the glue object behind `loading`
const dead = new WeakSet();

export function loadCore(host) {
  if (!loading) {
    const glue = createGlue();
    const attempt = Promise.resolve()
      .then(() => host.instantiate({ './campus_voip_bg.js': glue }))
      .then(
        (res) => {
          const instance = res && res.instance ? res.instance : res;
          glue.__wbg_set_wasm(instance.exports);
          // Without this call, calls silently return wrong values (PLATFORM.md §4).
          if (typeof instance.exports.__wbindgen_start === 'function') {
            instance.exports.__wbindgen_start();
          }
          return glue;
        },
        (e) => {
          if (loading === attempt) {
            loading = null; // a later call may try again
            current = null;
          }
          // The browser and Node loaders explain their failures themselves (hosts/wasm-source.js).
          if (e instanceof VoipError && /^loadWasm:fail /.test(e.errMsg)) throw e;
          throw new VoipPluginError(
            1011,
            'NOT_SUPPORTED',
            'loadWasm:fail could not load the campus-voip wasm core: ' + (e && e.message ? e.message : String(e)),
          );
        },
      );
    loading = attempt;
    current = glue;
  }
  return loading;
}

/**
 * Marks `core` (the glue object loadCore resolved) dead: isCoreDead(core) is true from now on,
 * and if it is the live core, the next loadCore(host) loads a fresh glue and wasm instance.
 * Anything that is not a core object is ignored. Idempotent.
 */
export function markCoreDead(core) {
  if (!core || (typeof core !== 'object' && typeof core !== 'function')) return;
  dead.add(core);
  if (core === current) {
    loading = null;
    current = null;
  }
}

/** True once markCoreDead(core) was called for this core object. */
export function isCoreDead(core) {
  if (!core || (typeof core !== 'object' && typeof core !== 'function')) return false;
  return dead.has(core);
}
