// What this host hands to the plugin (app.json plugin entry "export"). The plugin reads
// voipConfig on its first call. A real host gets the user's openId from its own server
// (wx.login, then code2Session); this sample keeps a stand-in id in storage.
function demoOpenId() {
  let id = wx.getStorageSync('demo-openid');
  if (!id) {
    id = 'demo_' + Date.now().toString(36);
    wx.setStorageSync('demo-openid', id);
  }
  return id;
}

module.exports = {
  voipConfig: () => ({
    openId: demoOpenId(),
    backend: { type: 'local', maxContacts: 10 },
  }),
};
