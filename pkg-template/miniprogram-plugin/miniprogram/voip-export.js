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
    // dev: true because this sample app also stands in for the face-pay device: its Call button
    // mints a voipToken with issueVoipToken, which only a development backend has (reached with
    // getDevBackend()). A real host leaves dev out: its tokens come from the face scan.
    backend: { type: 'local', maxContacts: 10, dev: true },
  }),
};
