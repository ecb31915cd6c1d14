// A Mini Program logic-layer stand-in for jest + jsdom: what the built campus-voip plugin needs
// from WeChat, installed on the test's global object BEFORE miniprogram-simulate is required
// (simulate merges its own `wx` mock under ours: `global.wx = Object.assign(api, global.wx)`,
// so our functions win and its no-op storage APIs are replaced).
//
// Like a phone (PLATFORM.md §2–3): no WebAssembly, TextEncoder, TextDecoder, fetch or crypto
// globals; wasm only through a path-only WXWebAssembly that reads the package file and
// brotli-decompresses `.wasm.br`; entropy only from the asynchronous wx.getRandomValues.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const nodeCrypto = require('node:crypto');

const REPO = path.resolve(__dirname, '..', '..');
// The built plugin folder; CAMPUS_VOIP_PLUGIN_DIR points the tests at another copy (e.g. to
// check that a deliberately broken component fails them).
const DIST_PLUGIN = process.env.CAMPUS_VOIP_PLUGIN_DIR
  ? path.resolve(process.env.CAMPUS_VOIP_PLUGIN_DIR)
  : path.join(REPO, 'dist', 'miniprogram-plugin', 'plugin');

/** A wx storage that keeps values like the real one (a JSON round trip, '' for a missing key). */
function memoryWxStorage() {
  const map = new Map();
  const MAX_VALUE_BYTES = 1024 * 1024; // wx: 1 MB per key
  const sizeKb = () => {
    let n = 0;
    for (const [k, v] of map) n += Buffer.byteLength(k) + Buffer.byteLength(JSON.stringify(v));
    return Math.ceil(n / 1024);
  };
  return {
    map,
    getStorageSync(key) {
      return map.has(key) ? JSON.parse(JSON.stringify(map.get(key))) : '';
    },
    setStorageSync(key, value) {
      if (typeof key !== 'string' || key === '') throw new Error('setStorageSync:fail parameter error: key must be a non-empty string');
      const json = JSON.stringify(value);
      if (json === undefined) throw new Error('setStorageSync:fail data is not serializable');
      if (Buffer.byteLength(json) > MAX_VALUE_BYTES) throw new Error('setStorageSync:fail exceed max size');
      map.set(key, JSON.parse(json));
    },
    removeStorageSync(key) {
      map.delete(key);
    },
    clearStorageSync() {
      map.clear();
    },
    getStorageInfoSync() {
      return { keys: Array.from(map.keys()), currentSize: sizeKb(), limitSize: 10240 };
    },
  };
}

/**
 * Installs the stand-ins on `g` (the jest environment's global) and returns handles for the test
 * (`navigations`: every wx.redirectTo / reLaunch / switchTab as { api, url }).
 * `pluginRoot` is the built plugin folder (dist/miniprogram-plugin/plugin): absolute
 * WXWebAssembly paths resolve from it, as they do inside a plugin.
 */
function installMiniProgramEnv(g, { openId, backend, pluginRoot = DIST_PLUGIN, pluginAppId = 'wxcampusvoip0000' } = {}) {
  const NativeWebAssembly = g.WebAssembly || WebAssembly;

  // What a phone does not have. (jsdom has no TextEncoder/TextDecoder/fetch to begin with.)
  for (const name of ['WebAssembly', 'TextEncoder', 'TextDecoder', 'fetch', 'crypto']) {
    try {
      delete g[name];
    } catch (e) {
      // not configurable: leave it
    }
    if (g[name] !== undefined) {
      Object.defineProperty(g, name, { value: undefined, configurable: true, writable: true });
    }
  }

  const storage = memoryWxStorage();
  const navigations = [];
  const wasmLoads = [];

  const asyncCallback = (options, fn) => {
    setTimeout(() => {
      let res;
      try {
        res = fn();
      } catch (e) {
        const err = { errMsg: e.message };
        if (options && typeof options.fail === 'function') options.fail(err);
        if (options && typeof options.complete === 'function') options.complete(err);
        return;
      }
      if (options && typeof options.success === 'function') options.success(res);
      if (options && typeof options.complete === 'function') options.complete(res);
    }, 0);
  };

  const navigate = (api) => (options) => {
    navigations.push({ api, url: options && options.url });
    asyncCallback(options, () => ({ errMsg: api + ':ok' }));
  };

  g.wx = {
    getStorageSync: storage.getStorageSync,
    setStorageSync: storage.setStorageSync,
    removeStorageSync: storage.removeStorageSync,
    clearStorageSync: storage.clearStorageSync,
    getStorageInfoSync: storage.getStorageInfoSync,
    // simulate's mock returns all-zero bytes: the plugin seeds its CSPRNG from this.
    getRandomValues(options) {
      asyncCallback(options, () => {
        const length = options && options.length;
        if (!Number.isInteger(length) || length < 1 || length > 1024) throw new Error('getRandomValues:fail invalid length');
        const bytes = nodeCrypto.randomBytes(length);
        return { errMsg: 'getRandomValues:ok', randomValues: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + length) };
      });
    },
    getAccountInfoSync() {
      return {
        miniProgram: { appId: 'wxhostapp0000000', envVersion: 'develop', version: '' },
        plugin: { appId: pluginAppId, version: 'dev' },
      };
    },
    redirectTo: navigate('redirectTo'),
    reLaunch: navigate('reLaunch'),
    switchTab: navigate('switchTab'),
  };

  // Path-only, like the real one: no bytes, no URLs; resolves { instance, module }.
  g.WXWebAssembly = {
    instantiate(filePath, imports) {
      wasmLoads.push(filePath);
      if (typeof filePath !== 'string') {
        return Promise.reject(new TypeError('WXWebAssembly.instantiate: path must be a string (no bytes)'));
      }
      if (!/\.wasm(\.br)?$/.test(filePath) || /^[a-z]+:/i.test(filePath)) {
        return Promise.reject(new Error('WXWebAssembly.instantiate: only .wasm or .wasm.br files of the package'));
      }
      if (!filePath.startsWith('/')) {
        return Promise.reject(new Error('WXWebAssembly.instantiate: use an absolute path (from the plugin root)'));
      }
      let bytes;
      try {
        bytes = fs.readFileSync(path.join(pluginRoot, filePath));
      } catch (e) {
        return Promise.reject(new Error('WXWebAssembly.instantiate: no such file in the package: ' + filePath));
      }
      if (filePath.endsWith('.br')) bytes = zlib.brotliDecompressSync(bytes);
      return NativeWebAssembly.instantiate(bytes, imports);
    },
  };

  // The host's app.json plugin export (voip-export.js), read lazily by the default instance;
  // `backend` is its voipConfig.backend (e.g. { type: 'local', dev: true }), absent by default.
  const exported = { voipConfig: backend === undefined ? { openId } : { openId, backend } };
  g.requireMiniProgram = jest.fn(() => exported);

  return { storage, navigations, wasmLoads, pluginRoot, exported };
}

/** The query a Mini Program page's onLoad receives for a path (decodeURIComponent per value). */
function queryOf(sharePath) {
  const i = sharePath.indexOf('?');
  const query = {};
  if (i < 0) return query;
  for (const kv of sharePath.slice(i + 1).split('&')) {
    if (!kv) continue;
    const j = kv.indexOf('=');
    const k = decodeURIComponent(j < 0 ? kv : kv.slice(0, j));
    if (!(k in query)) query[k] = decodeURIComponent(j < 0 ? '' : kv.slice(j + 1));
  }
  return query;
}

module.exports = { REPO, DIST_PLUGIN, installMiniProgramEnv, memoryWxStorage, queryOf };
