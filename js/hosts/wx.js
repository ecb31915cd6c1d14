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
  readConfig() {
    const exported = typeof requireMiniProgram === 'function' ? requireMiniProgram() : undefined;
    return exported ? exported.voipConfig : undefined;
  },
};
