// The host of the /slim entries: the wasm comes from the page or app, through initWasm(source).
// A URL or string (fetched; in Node also a file: URL or a path), a Response or a promise of one
// (streaming compile when it is served as application/wasm), bytes (ArrayBuffer or a typed
// array), or a compiled WebAssembly.Module. The Module is kept, so a fresh core instance (after
// markCoreDead) needs no second download.
//
// Calls made before initWasm() was called reject with a loadWasm:fail error saying to call it;
// calls made while it is loading wait for it. Once a wasm is loaded, later initWasm() calls
// resolve at once and ignore their source; after a failed one, initWasm() may be called again.
import { invalidArgument } from '../errors.js';
import { loadCore } from '../core.js';
import { asBytes, compileBytes, compileResponse, fetchAndCompile, instantiateModule, isModule, loadError } from './wasm-source.js';

const notYet = () =>
  loadError(
    'campus-voip/slim has no wasm yet.',
    "call initWasm(source) from 'campus-voip/slim' before (or while) using the API, with the URL, a Response, the bytes or a " +
      "WebAssembly.Module of campus_voip_bg.wasm; or import 'campus-voip' instead, which finds its wasm itself.",
  );

function isResponse(v) {
  return !!v && typeof v === 'object' && typeof v.arrayBuffer === 'function' && 'ok' in v && 'status' in v;
}

function isUrl(v) {
  return !!v && typeof v === 'object' && typeof v.href === 'string' && typeof v.protocol === 'string';
}

/**
 * `base`: the host's entropy and storage (browser-base.js or node-base.js). `readLocal(str)`:
 * in Node, a Promise<Module> for a file: URL or a path, or null to fetch it.
 */
export function slimHost(base, readLocal) {
  let module = null; // Promise<WebAssembly.Module> once initWasm() was called
  let failure = null; // the error of the last failed initWasm()
  let ready = null; // what initWasm() returns once it started

  const host = {
    ...base,
    instantiate(imports) {
      if (!module) return Promise.reject(failure || notYet());
      return module.then((m) => instantiateModule(m, imports));
    },
  };

  function compile(source, depth) {
    if (isModule(source)) return Promise.resolve(source);
    const bytes = asBytes(source);
    if (bytes) return compileBytes(bytes, 'the bytes passed to initWasm()', 'slim', '');
    if (typeof source === 'string' || isUrl(source)) {
      const url = typeof source === 'string' ? source : source.href;
      const local = readLocal ? readLocal(url) : null;
      return local || fetchAndCompile(url, 'slim');
    }
    if (isResponse(source)) return compileResponse(source, source.url || 'the Response passed to initWasm()', 'slim');
    if (depth === 0 && source && typeof source.then === 'function') return Promise.resolve(source).then((v) => compile(v, 1));
    return null;
  }

  /** Loads the wasm; resolves (undefined) once the core is ready. */
  function initWasm(source) {
    if (ready) return ready;
    let compiled;
    try {
      compiled = compile(source, 0);
    } catch (e) {
      compiled = Promise.reject(e);
    }
    if (!compiled) {
      return Promise.reject(
        invalidArgument(
          'initWasm',
          'expects the URL (string or URL), a Response (or a promise of one), the bytes (ArrayBuffer or typed array) or a ' +
            'WebAssembly.Module of campus_voip_bg.wasm; got ' + (source === null ? 'null' : typeof source),
        ),
      );
    }
    compiled = compiled.then((m) => {
      if (!isModule(m)) throw invalidArgument('initWasm', 'the promise passed to initWasm() must resolve to a Response, bytes or a WebAssembly.Module');
      return m;
    });
    module = compiled;
    failure = null;
    ready = compiled
      .then(() => loadCore(host))
      .then(
        () => undefined,
        (e) => {
          // Forget this source: initWasm() may be called again with a better one.
          if (module === compiled) {
            module = null;
            failure = e;
            ready = null;
          }
          throw e;
        },
      );
    return ready;
  }

  return { host, initWasm };
}
