// Loads the wasm core once per JS realm (one glue module per instance: re-instantiating under
// the same glue would leave stale memory views). The host supplies `instantiate(imports)`:
// WXWebAssembly with a package path in a Mini Program, WebAssembly elsewhere.
import * as glue from 'campus-voip-glue';
import { VoipPluginError } from './errors.js';

let loading = null;

export function loadCore(host) {
  if (!loading) {
    loading = Promise.resolve()
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
          loading = null; // a later call may try again
          throw new VoipPluginError(
            1011,
            'NOT_SUPPORTED',
            'loadWasm:fail could not load the campus-voip wasm core: ' + (e && e.message ? e.message : String(e)),
          );
        },
      );
  }
  return loading;
}
