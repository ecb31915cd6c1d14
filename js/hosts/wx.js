// Mini Program host: WXWebAssembly with a package path (the only wasm loader there; no bytes,
// no fetch), entropy from wx.getRandomValues (there is no crypto), the plugin's own storage,
// navigation with wx, and the host's voipConfig from requireMiniProgram().
/* global wx, WXWebAssembly, requireMiniProgram */
import { wxStorage } from '../storage.js';

export const WASM_PATH = '/wasm/campus_voip_bg.wasm.br';

export default {
  kind: 'wx',
  instantiate(imports) {
    return WXWebAssembly.instantiate(WASM_PATH, imports);
  },
  randomBytes(n) {
    return new Promise((resolve, reject) => {
      wx.getRandomValues({
        length: n,
        success: (res) => resolve(new Uint8Array(res.randomValues)),
        fail: (err) => reject(new Error((err && err.errMsg) || 'wx.getRandomValues failed')),
      });
    });
  },
  defaultStorage: () => wxStorage(wx),
  pluginAppId() {
    try {
      const info = wx.getAccountInfoSync();
      return (info && info.plugin && info.plugin.appId) || undefined;
    } catch (_) {
      return undefined;
    }
  },
  navigate(routeType, url) {
    wx[routeType]({ url });
  },
  /**
   * The http backend's transport: wx.request (no fetch in a Mini Program), the body as text,
   * given up (and aborted) after init.timeout ms. `fail` (timeout, offline, a domain not in the
   * plugin's server domain list) rejects; any answer resolves `{ status, json }`.
   */
  request(url, init) {
    return new Promise((resolve, reject) => {
      let task;
      const timer = setTimeout(() => {
        if (task && task.abort) task.abort();
        reject(new Error('no answer within ' + init.timeout + ' ms'));
      }, init.timeout);
      task = wx.request({
        url,
        method: init.method,
        header: init.headers,
        data: init.body,
        dataType: 'text',
        responseType: 'text',
        timeout: init.timeout,
        success: (res) => {
          clearTimeout(timer);
          let json = res.data;
          if (typeof json === 'string') {
            try {
              json = JSON.parse(json);
            } catch (_) {
              json = undefined;
            }
          }
          resolve({ status: res.statusCode, json });
        },
        fail: (err) => {
          clearTimeout(timer);
          reject(new Error((err && err.errMsg) || 'wx.request failed'));
        },
      });
    });
  },
  readConfig() {
    const exported = typeof requireMiniProgram === 'function' ? requireMiniProgram() : undefined;
    return exported ? exported.voipConfig : undefined;
  },
};
