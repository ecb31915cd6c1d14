// The BindContact end page: shows what the bind page reported (bindContact event) and the
// parameters the share path carried (getPluginEnterOptions).
const wmpfVoip = requirePlugin('campus-voip').default;

Page({
  data: { result: null, enter: null },
  onLoad() {
    this.setData({ result: getApp().globalData.lastBind, enter: wmpfVoip.getPluginEnterOptions() });
  },
});
