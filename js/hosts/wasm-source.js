// Turns whatever holds the campus-voip wasm (a URL, a Response, bytes, a compiled Module) into a
// WebAssembly.Module, and explains a failure: the HTTP status, the content type and the first
// four bytes are checked, and the error says what happened and the likely fix for the toolchain
// (README: "Using the package in your toolchain"). Browser and Node loaders only: the Mini
// Program loader (hosts/wx.js) never imports this file (no fetch, no WebAssembly there).
import { VoipPluginError, VoipError } from '../errors.js';

const MAGIC = [0x00, 0x61, 0x73, 0x6d]; // "\0asm"
const SEE = ' (README of campus-voip: "Using the package in your toolchain")';

/** A VoipPluginError 1011 NOT_SUPPORTED whose errMsg starts with 'loadWasm:fail '. */
export function loadError(what, fix) {
  return new VoipPluginError(1011, 'NOT_SUPPORTED', 'loadWasm:fail ' + what + (fix ? ' Fix: ' + fix + SEE : ''));
}

/**
 * The fix for the likely toolchain. `where` is 'default' (the package found its wasm itself, next
 * to its own module), 'slim' (the host passed the source to initWasm) or 'node'.
 */
export function fixFor(where, url) {
  if (where === 'slim') {
    return (
      'pass initWasm() the URL (or the bytes, a Response or a WebAssembly.Module) of this package\'s ' +
      "campus_voip_bg.wasm: `import wasmUrl from 'campus-voip/campus_voip_bg.wasm?url'` (Vite), or the same " +
      'import with esbuild\'s file loader (--loader:.wasm=file); the server must answer it with status 200.'
    );
  }
  if (where === 'node') {
    return (
      'campus_voip_bg.wasm must stay next to the package\'s code: if you bundle for Node, mark campus-voip ' +
      'as external, or copy node_modules/campus-voip/campus_voip_bg.wasm next to the bundle.'
    );
  }
  if (/\/\.vite\/deps(_[a-z]+)?\//.test(String(url))) {
    return (
      "Vite's dev server (Vite 7 and older) pre-bundled campus-voip into .vite/deps/ without its wasm file: " +
      "add `optimizeDeps: { exclude: ['campus-voip'] }` to vite.config.js (Vite 8 needs nothing)."
    );
  }
  return (
    'your bundler kept the package\'s reference to its wasm file but did not emit the file ' +
    '(esbuild and Rollup do not): copy node_modules/campus-voip/campus_voip_bg.wasm next to the bundled ' +
    "script, or import from 'campus-voip/slim' and call initWasm() with the file's URL " +
    "(esbuild: --loader:.wasm=file; Vite: '?url')."
  );
}

function isArrayBuffer(v) {
  return Object.prototype.toString.call(v) === '[object ArrayBuffer]' || Object.prototype.toString.call(v) === '[object SharedArrayBuffer]';
}

/** A Uint8Array view of an ArrayBuffer or typed array (also from another realm), or null. */
export function asBytes(v) {
  if (v && ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (isArrayBuffer(v)) return new Uint8Array(v);
  return null;
}

export function isModule(v) {
  return (
    (typeof WebAssembly !== 'undefined' && v instanceof WebAssembly.Module) ||
    Object.prototype.toString.call(v) === '[object WebAssembly.Module]'
  );
}

/** Says what the bytes look like when they are not wasm. */
function describeBytes(b, contentType) {
  if (b.length === 0) return 'it is empty';
  const head = Array.prototype.slice.call(b, 0, 4);
  const hex = head.map((x) => (x < 16 ? '0' : '') + x.toString(16)).join(' ');
  const text = head.map((x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
  const html = /html/i.test(contentType || '') || b[0] === 0x3c; // '<'
  return (
    'it starts with ' + hex + ' ("' + text + '"), not the wasm magic 00 61 73 6d' +
    (html ? ': an HTML page, probably a server\'s fallback (index.html) for a file it does not have' : '')
  );
}

/**
 * Checks the magic number and compiles. `label` names the source in messages. `sync`: compile
 * on this thread (Node: about 1.2 ms for the core against 1.9 ms off-thread, and
 * nothing else to overlap at import); browsers keep the asynchronous path (their main thread
 * refuses large synchronous compiles).
 */
export function compileBytes(bytes, label, where, url, contentType, sync) {
  const b = asBytes(bytes);
  if (b.length < 4 || MAGIC.some((x, i) => b[i] !== x)) {
    return Promise.reject(loadError(label + ' is not the campus-voip wasm: ' + describeBytes(b, contentType) + '.', fixFor(where, url)));
  }
  return (sync ? new Promise((ok) => ok(new WebAssembly.Module(b))) : WebAssembly.compile(b)).catch((e) => {
    throw loadError(label + ' is a damaged wasm file (' + message(e) + ').', 'reinstall campus-voip (the file is truncated or was altered).');
  });
}

/** Checks the status and content type of a fetch Response, then compiles (streaming if it can). */
export function compileResponse(res, url, where) {
  const label = 'GET ' + (res.url || String(url));
  if (!res.ok) {
    const status = res.status === 0 ? 'failed (an opaque or network error response)' : 'answered ' + res.status + (res.statusText ? ' ' + res.statusText : '');
    return Promise.reject(loadError(label + ' ' + status + '.', fixFor(where, res.url || url)));
  }
  if (res.bodyUsed) {
    return Promise.reject(loadError(label + ': the Response was already read.', 'pass a fresh Response (or fetch(url)) to initWasm().'));
  }
  const type = (res.headers && typeof res.headers.get === 'function' && res.headers.get('content-type')) || '';
  const wasmType = /^\s*application\/wasm\s*(;|$)/i.test(type);
  if (wasmType && typeof WebAssembly.compileStreaming === 'function') {
    // Streaming compile needs the application/wasm content type; anything else takes the bytes.
    return WebAssembly.compileStreaming(res).catch((e) => {
      throw loadError(label + ' is a damaged wasm file (' + message(e) + ').', 'reinstall campus-voip (the file is truncated or was altered).');
    });
  }
  return res.arrayBuffer().then(
    (buf) => compileBytes(buf, label + ' (content-type ' + (type || 'none') + ')', where, res.url || url, type),
    (e) => {
      throw loadError(label + ': reading the answer failed (' + message(e) + ').', fixFor(where, res.url || url));
    },
  );
}

/** fetch(url), then compileResponse. */
export function fetchAndCompile(url, where) {
  if (typeof fetch !== 'function') {
    return Promise.reject(loadError('this JS host has no fetch() to load ' + url + '.', "import from 'campus-voip/slim' and pass initWasm() the wasm's bytes."));
  }
  let pending;
  try {
    pending = fetch(url);
  } catch (e) {
    pending = Promise.reject(e);
  }
  return Promise.resolve(pending).then(
    (res) => compileResponse(res, url, where),
    (e) => {
      throw loadError('GET ' + url + ' failed (' + message(e) + ').', fixFor(where, url));
    },
  );
}

/** `sync`: instantiate on this thread (Node; see compileBytes). */
export function instantiateModule(module, imports, sync) {
  if (!WebAssembly.Module.exports(module).some((e) => e.name === 'memory' && e.kind === 'memory')) {
    return Promise.reject(
      loadError('the wasm module is not the campus-voip core (it exports no memory).', "use this package's campus_voip_bg.wasm."),
    );
  }
  return (sync ? new Promise((ok) => ok(new WebAssembly.Instance(module, imports))) : WebAssembly.instantiate(module, imports)).catch((e) => {
    if (e instanceof VoipError) throw e;
    throw loadError(
      'the wasm does not fit this version of the campus-voip code (' + message(e) + ').',
      'use the campus_voip_bg.wasm of the same installed campus-voip package (clear your bundler\'s cache).',
    );
  });
}

export function message(e) {
  return e && e.message ? (e.name && e.name !== 'Error' ? e.name + ': ' : '') + e.message : String(e);
}

/**
 * Caches the compiled Module (a fresh instance after markCoreDead needs no second download); a
 * failed compile is forgotten, so a later call tries again.
 */
export function cachedModule(compile) {
  let pending = null;
  return function getModule() {
    if (!pending) {
      pending = Promise.resolve()
        .then(compile)
        .catch((e) => {
          pending = null;
          throw e;
        });
    }
    return pending;
  };
}
