// A WeChat-like JavaScript environment in a Node `vm` context, for running the *compiled* plugin
// (miniprogram-ci's output) the way a phone would (PLATFORM.md §2, §3, §6):
//   - no WebAssembly, TextEncoder, TextDecoder, fetch, crypto, process, FinalizationRegistry,
//     WeakRef or globalThis; eval and new Function throw (code generation from strings is off);
//   - WXWebAssembly.instantiate(path, imports) takes a package path only (no bytes, no URLs),
//     resolves it from the plugin root, brotli-decodes .br and instantiates with the real
//     WebAssembly of the outer Node realm, resolving { instance, module };
//   - an in-memory `wx` (storage shared between sandboxes = one device's plugin storage,
//     asynchronous getRandomValues from node:crypto, getAccountInfoSync, navigation recorder,
//     wx.request forwarded to loopback addresses with the outer realm's fetch);
//   - requireMiniProgram() returning the host's export; Component/Page stubs that capture their
//     definitions; a CommonJS `require` over the compiled files with WeChat's module wrapper.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import zlib from 'node:zlib';

export const PLUGIN_APPID = 'wxplugin0000000001';
export const HOST_APPID = 'wx0000000000000000';

/** Globals a phone does not have (PLATFORM.md §3); each sandbox checks they are really gone. */
export const ABSENT_GLOBALS = [
  'WebAssembly',
  'TextEncoder',
  'TextDecoder',
  'fetch',
  'crypto',
  'process',
  'require',
  'module',
  'Buffer',
  'FinalizationRegistry',
  'WeakRef',
  'globalThis',
];

// What WeChat's module wrapper (define(path, function (require, module, exports, window, …)))
// shadows: browser globals are undefined inside every module.
const WRAPPER_PARAMS = [
  'require',
  'module',
  'exports',
  'window',
  'document',
  'frames',
  'self',
  'location',
  'navigator',
  'localStorage',
  'history',
  'Caches',
  'screen',
  'alert',
  'confirm',
  'prompt',
  'XMLHttpRequest',
  'WebSocket',
  'Reporter',
  'webkit',
  'WeixinJSCore',
];

/** One device's plugin storage (what wx.setStorageSync writes), shared by several sandboxes. */
export function createDeviceStorage() {
  return new Map();
}

/** An in-memory `wx` for one sandbox. Records what the plugin asked of it in `wx.__log`. */
export function createWx({ storage, limitBytesPerKey = 1024 * 1024 }) {
  const log = { navigations: [], randomCalls: [], storageWrites: 0, requests: [] };
  const encode = (v) => JSON.stringify({ data: v });
  const wx = {
    __log: log,
    getStorageSync(key) {
      if (typeof key !== 'string' || key === '') throw new Error('getStorageSync:fail parameter error: key must be a non-empty string');
      return storage.has(key) ? JSON.parse(storage.get(key)).data : '';
    },
    setStorageSync(key, value) {
      if (typeof key !== 'string' || key === '') throw new Error('setStorageSync:fail parameter error: key must be a non-empty string');
      const stored = encode(value); // the real one serializes too
      if (stored.length > limitBytesPerKey) throw new Error('setStorageSync:fail entry size limit reached');
      storage.set(key, stored);
      log.storageWrites++;
    },
    removeStorageSync(key) {
      storage.delete(key);
    },
    getStorageInfoSync() {
      let size = 0;
      for (const v of storage.values()) size += v.length;
      return { keys: Array.from(storage.keys()), currentSize: Math.ceil(size / 1024), limitSize: 10240 };
    },
    getRandomValues(opts) {
      const { length, success, fail, complete } = opts || {};
      log.randomCalls.push(length);
      // `wx.__randomDelays` (ms, one per call in order) lets a test make one answer slow.
      const delay = wx.__randomDelays && wx.__randomDelays.length ? wx.__randomDelays.shift() : 0;
      setTimeout(() => {
        if (!Number.isInteger(length) || length <= 0 || length > 1048576) {
          const err = { errMsg: 'getRandomValues:fail invalid length' };
          if (fail) fail(err);
          if (complete) complete(err);
          return;
        }
        // An ArrayBuffer of the outer realm, filled by node:crypto (as the native side would).
        const res = { randomValues: crypto.getRandomValues(new Uint8Array(length)).buffer, errMsg: 'getRandomValues:ok' };
        if (success) success(res);
        if (complete) complete(res);
      }, delay);
    },
    getAccountInfoSync() {
      return {
        miniProgram: { appId: HOST_APPID, envVersion: 'develop', version: '' },
        plugin: { appId: PLUGIN_APPID, version: 'dev' },
      };
    },
  };
  wx.request = (opts) => fakeRequest(opts || {}, log);
  for (const routeType of ['redirectTo', 'switchTab', 'reLaunch', 'navigateTo']) {
    wx[routeType] = (opts) => {
      log.navigations.push({ routeType, url: opts && opts.url });
      setTimeout(() => opts && opts.success && opts.success({ errMsg: routeType + ':ok' }), 0);
    };
  }
  return wx;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * wx.request as WeChat answers it, forwarded with Node's fetch (of the outer realm; the sandbox
 * has none) to a loopback address only: success({ statusCode, data, header, errMsg }) for any
 * HTTP answer (data: the text with dataType 'text' or responseType 'text', else parsed JSON when
 * it parses, an ArrayBuffer with responseType 'arraybuffer'); fail({ errMsg: 'request:fail …' })
 * on a transport error, a timeout, abort() or an address that is not loopback; complete after
 * either. Returns a task with abort(). Each call is recorded in log.requests.
 */
function fakeRequest(opts, log) {
  const { url, method = 'GET', header, data, dataType = 'json', responseType = 'text', timeout = 60000, success, fail, complete } = opts;
  const entry = { url, method, header: header ? { ...header } : {}, dataType, timeout, status: undefined, errMsg: undefined };
  log.requests.push(entry);
  const controller = new AbortController();
  let settled = false;
  let why = 'request:fail abort';
  const finish = (ok, res) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    entry.status = res.statusCode;
    entry.errMsg = res.errMsg;
    if (ok && success) success(res);
    if (!ok && fail) fail(res);
    if (complete) complete(res);
  };
  const timer = setTimeout(() => {
    why = 'request:fail timeout';
    controller.abort();
  }, timeout);
  let target;
  try {
    target = new URL(url);
  } catch (_) {
    target = undefined;
  }
  if (!target || !/^https?:$/.test(target.protocol) || !LOOPBACK_HOSTS.has(target.hostname)) {
    // What WeChat says for a domain not in the server domain list; here: anything not loopback.
    setTimeout(() => finish(false, { errMsg: `request:fail url not in domain list (the sandbox reaches loopback only): ${url}` }), 0);
    return { abort() {} };
  }
  const m = String(method).toUpperCase();
  let body;
  if (data !== undefined && data !== null && m !== 'GET' && m !== 'HEAD') {
    if (typeof data === 'string') body = data;
    else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) body = new Uint8Array(data.buffer || data);
    else body = JSON.stringify(data);
  }
  fetch(target, { method: m, headers: header || {}, body, signal: controller.signal, redirect: 'manual' })
    .then(async (res) => {
      const headerOut = Object.fromEntries(res.headers.entries());
      let out;
      if (responseType === 'arraybuffer') out = await res.arrayBuffer();
      else {
        out = await res.text();
        if (dataType === 'json') {
          try {
            out = JSON.parse(out);
          } catch (_) {
            // WeChat hands over the text when it is not JSON
          }
        }
      }
      finish(true, { statusCode: res.status, data: out, header: headerOut, errMsg: 'request:ok' });
    })
    .catch((e) => {
      const cause = e && e.cause && e.cause.code ? e.cause.code : e && e.message;
      finish(false, { errMsg: controller.signal.aborted ? why : 'request:fail ' + cause });
    });
  return {
    abort() {
      if (!settled) controller.abort();
    },
  };
}

/** The path-only WXWebAssembly: a package path, resolved from the plugin root. */
export function createWXWebAssembly(pluginRoot) {
  const log = { instantiations: [] };
  return {
    __log: log,
    instantiate(wasmPath, imports) {
      if (typeof wasmPath !== 'string') {
        return Promise.reject(new TypeError('WXWebAssembly.instantiate: the first argument must be a package path string (no bytes)'));
      }
      if (/^[a-z][a-z0-9+.-]*:/i.test(wasmPath)) {
        return Promise.reject(new TypeError('WXWebAssembly.instantiate: URLs are not supported, only package paths: ' + wasmPath));
      }
      if (!/\.wasm(\.br)?$/.test(wasmPath)) {
        return Promise.reject(new TypeError('WXWebAssembly.instantiate: path must end in .wasm or .wasm.br: ' + wasmPath));
      }
      const file = path.join(pluginRoot, path.posix.normalize('/' + wasmPath));
      if (!file.startsWith(pluginRoot + path.sep) || !fs.existsSync(file)) {
        return Promise.reject(new Error('WXWebAssembly.instantiate: no such file in the plugin package: ' + wasmPath));
      }
      log.instantiations.push(wasmPath);
      let bytes = fs.readFileSync(file);
      if (file.endsWith('.br')) bytes = zlib.brotliDecompressSync(bytes);
      // The real WebAssembly, from the outer realm (the sandbox has none).
      return WebAssembly.instantiate(bytes, imports).then(({ instance, module }) => ({ instance, module }));
    },
  };
}

/** Parses a page path's query as the Mini Program does (decodeURIComponent on each value). */
export function parseQuery(pagePath) {
  const q = pagePath.indexOf('?') >= 0 ? pagePath.slice(pagePath.indexOf('?') + 1) : '';
  const out = {};
  for (const pair of q.split('&')) {
    if (!pair) continue;
    const i = pair.indexOf('=');
    const k = i >= 0 ? pair.slice(0, i) : pair;
    out[decodeURIComponent(k)] = i >= 0 ? decodeURIComponent(pair.slice(i + 1)) : '';
  }
  return out;
}

/**
 * A sandbox: one Mini Program session of the plugin (its own JS realm, module cache, glue and
 * wasm instance), on a shared device storage.
 */
export function createSandbox({ pluginRoot, storage, hostExport, label }) {
  const wx = createWx({ storage });
  const WXWebAssembly = createWXWebAssembly(pluginRoot);
  const components = [];
  const pages = [];
  const consoleLog = { error: [], warn: [] };
  const counters = { mathRandom: 0 };
  let currentModule = null;
  // The plugin's console output, one line per call (an Error shows as its message).
  const line = (a) => a.map((x) => (x && typeof x === 'object' && 'message' in x ? `${x.name}: ${x.message}` : String(x))).join(' ');
  const sandboxConsole = {
    log: (...a) => console.log(`      [${label} console.log] ${line(a)}`),
    info: (...a) => console.log(`      [${label} console.info] ${line(a)}`),
    warn: (...a) => {
      consoleLog.warn.push(line(a));
      console.log(`      [${label} console.warn] ${line(a)}`);
    },
    error: (...a) => {
      consoleLog.error.push(line(a));
      console.log(`      [${label} console.error] ${line(a)}`);
    },
    debug: () => {},
  };
  const globals = {
    wx,
    WXWebAssembly,
    requireMiniProgram: () => hostExport,
    Component: (def) => void components.push({ file: currentModule, def }),
    Page: (def) => void pages.push({ file: currentModule, def }),
    Behavior: (def) => def,
    getCurrentPages: () => [],
    console: sandboxConsole,
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
  };
  const context = vm.createContext(globals, {
    name: `wechat-sandbox:${label}`,
    // eval and new Function are forbidden in Mini Programs; wasm is compiled outside only.
    codeGeneration: { strings: false, wasm: false },
  });
  // Strip what V8 gives every context but a phone's JS engine does not (or not reliably).
  vm.runInContext(
    `delete this.WebAssembly; delete this.FinalizationRegistry; delete this.WeakRef; delete this.SharedArrayBuffer;
     (function (random, count) { Math.random = function () { count(); return random(); }; })(Math.random, __countRandom);
     delete this.__countRandom; delete this.globalThis;`,
    Object.assign(context, { __countRandom: () => counters.mathRandom++ }),
  );

  const cache = new Map();
  const rootReal = path.resolve(pluginRoot);

  function resolve(fromDir, id) {
    const candidates = [];
    const add = (p) => candidates.push(p, p + '.js', path.join(p, 'index.js'));
    if (id.startsWith('./') || id.startsWith('../')) add(path.resolve(fromDir, id));
    else if (id.startsWith('/')) add(path.join(rootReal, id));
    else {
      // Non-relative ids (the compiler's @babel/runtime helpers): the current directory, then
      // each parent up to the package root.
      for (let dir = fromDir; ; dir = path.dirname(dir)) {
        add(path.join(dir, id));
        if (dir === rootReal || !dir.startsWith(rootReal)) break;
      }
    }
    for (const c of candidates) {
      if ((c === rootReal || c.startsWith(rootReal + path.sep)) && fs.existsSync(c) && fs.statSync(c).isFile() && c.endsWith('.js')) return c;
    }
    throw new Error(`[${label}] module "${id}" is not defined (from ${path.relative(rootReal, fromDir) || '.'})`);
  }

  function load(file) {
    if (cache.has(file)) return cache.get(file).exports;
    const module = vm.runInContext('({ exports: {} })', context);
    cache.set(file, module);
    const rel = path.relative(rootReal, file).split(path.sep).join('/');
    const code = fs.readFileSync(file, 'utf8');
    const fn = new vm.Script(`(function (${WRAPPER_PARAMS.join(', ')}) {${code}\n})`, {
      filename: `plugin/${rel}`,
    }).runInContext(context);
    const req = (id) => load(resolve(path.dirname(file), id));
    const prev = currentModule;
    currentModule = rel;
    try {
      fn.call(module.exports, req, module, module.exports);
    } catch (e) {
      cache.delete(file);
      throw e;
    } finally {
      currentModule = prev;
    }
    return module.exports;
  }

  return {
    label,
    wx,
    WXWebAssembly,
    context,
    components,
    pages,
    consoleLog,
    counters,
    /** require() from the plugin root, as the runtime loads plugin.json's main or a page. */
    require: (id) => load(resolve(rootReal, id)),
    /** Evaluates an expression in the sandbox's realm. */
    eval: (code) => vm.runInContext(code, context),
    loadedModules: () => Array.from(cache.keys()).map((f) => path.relative(rootReal, f)),
  };
}

/**
 * A component instance as the framework would make it: data from properties (defaults, then the
 * given values) and `data`; setData merges (and must be serializable, as on a phone, where it
 * crosses to the render layer); triggerEvent records.
 */
export function instantiateComponent(def, props) {
  const data = {};
  for (const [k, spec] of Object.entries(def.properties || {})) {
    data[k] = props && k in props ? props[k] : spec && typeof spec === 'object' ? spec.value : undefined;
  }
  Object.assign(data, JSON.parse(JSON.stringify(def.data || {})));
  const record = { setData: [], events: [] };
  const self = {
    data,
    properties: data,
    __record: record,
    setData(patch) {
      const wire = JSON.stringify(patch); // throws on BigInt; functions would vanish
      const back = JSON.parse(wire);
      for (const k of Object.keys(patch)) {
        if (!(k in back) || typeof patch[k] === 'function') throw new Error(`setData: ${k} cannot cross to the render layer`);
      }
      record.setData.push(back);
      Object.assign(data, back);
    },
    triggerEvent(name, detail, options) {
      record.events.push({ name, detail, options });
    },
  };
  for (const [name, fn] of Object.entries(def.methods || {})) self[name] = fn;
  return self;
}
