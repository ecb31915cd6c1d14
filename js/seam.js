// The one place the shim calls into the wasm core. Whatever a call throws becomes a VoipError;
// a fault of the core itself (a wasm trap, a Rust value left borrowed) marks that core dead, so
// every later call on it rejects at once with INTERNAL (3006) and the next backend created
// loads a fresh instance (js/core.js).
import { isCoreDead, markCoreDead } from './core.js';
import { VoipPluginError, toVoipError } from './errors.js';

/** What a wasm trap or a broken Rust borrow looks like from JS (messages of wasm-bindgen). */
const FAULT = /recursive use of an object|attempted to take ownership of Rust value|null pointer passed to rust|unreachable|memory access out of bounds/;

function isCoreFault(e) {
  // WebAssembly.RuntimeError, also where no WebAssembly global exists (WXWebAssembly).
  return !!e && typeof e === 'object' && (e.name === 'RuntimeError' || (e.errCode === undefined && FAULT.test(String(e.message))));
}

export function deadCore(api) {
  return new VoipPluginError(
    3006,
    'INTERNAL',
    api + ':fail the campus-voip core failed and this instance cannot go on; reload the page (a new backend gets a fresh core)',
  );
}

/** Runs `fn()` (synchronous wasm calls) for `api`; rethrows as a VoipError. */
export function callCore(core, api, fn) {
  if (isCoreDead(core)) throw deadCore(api);
  try {
    return fn();
  } catch (e) {
    if (isCoreFault(e)) {
      markCoreDead(core);
      throw deadCore(api);
    }
    throw toVoipError(api, e);
  }
}
