// The BindContact end page: shows what the bind page reported (bindContact event) and the
// parameters the share path carried (getPluginEnterOptions).
const wmpfVoip = requirePlugin('campus-voip').default;

Page({
  data: {
    /** @type {null | { type: string, errMsg: string, userId: string }} */
    result: null,
    /** @type {null | { path?: string, query?: Record<string, string> }} */
    enter: null,
  },
  onLoad() {
    this.setData({ result: getApp().globalData.lastBind, enter: wmpfVoip.getPluginEnterOptions() });
  },
});
