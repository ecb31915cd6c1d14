// Every API of the plugin, as a parent (administrator) and as the face-pay device would use it
// (the device side through the development backend: see voip-export.js).
const wmpfVoip = requirePlugin('campus-voip').default;

const STUDENT = { userId: 'student-001', userName: 'Xiao Ming', userAvatar: '' };

Page({
  data: {
    contacts: /** @type {{ user_id: string, is_ad: number, openid_list: string[] }[]} */ ([]),
    sharePath: '',
    log: /** @type {string[]} */ ([]),
    roomId: '',
  },

  /** @param {string} line */
  log(line) {
    this.setData({ log: [line].concat(this.data.log).slice(0, 20) });
  },

  /** @param {{ errCode?: number, code?: string, errMsg?: string }} e */
  fail(e) {
    this.log(`${e.errCode} ${e.code}: ${e.errMsg}`);
    wx.showToast({ title: e.errMsg || 'failed', icon: 'none' });
  },

  onShow() {
    this.refresh();
    this.showConsent();
    this.log('enter options: ' + JSON.stringify(wmpfVoip.getPluginEnterOptions()));
  },

  /** What the plugin has recorded: whether this user granted VoIP consent. */
  showConsent() {
    return wmpfVoip
      .getVoipConsent()
      .then((r) => this.log(r.granted ? 'VoIP calls allowed' : 'VoIP calls not allowed yet'))
      .catch((e) => this.fail(e));
  },

  refresh() {
    return wmpfVoip
      .getVoipBindContactList({ userId: STUDENT.userId })
      .then((list) => this.setData({ contacts: list }))
      .catch((e) => this.fail(e));
  },

  // Consent: the host asks (scope.voip is whitelisted), then tells the plugin.
  onConsent() {
    wx.authorize({ scope: 'scope.voip' })
      .catch(() => undefined) // not whitelisted in this sample app: record the in-app consent anyway
      .then(() => wmpfVoip.authorizeVoip())
      .then((r) => this.log(r.errMsg))
      .then(() => this.showConsent())
      .catch((e) => this.fail(e));
  },

  onRevoke() {
    wmpfVoip
      .revokeVoip()
      .then((r) => this.log(r.errMsg))
      .then(() => this.showConsent())
      .catch((e) => this.fail(e));
  },

  onBecomeAdmin() {
    wmpfVoip
      .bindVoipAdminContact({ userId: STUDENT.userId })
      .then((r) => {
        this.log(r.errMsg);
        return this.prepareShare();
      })
      .then(() => this.refresh())
      .catch((e) => this.fail(e));
  },

  prepareShare() {
    return wmpfVoip.getBindContactPath(STUDENT).then((path) => {
      this.setData({ sharePath: path + '&from=demo-host' });
      this.log('share path ready');
    });
  },

  onShareAppMessage() {
    return { title: `Become a contact of ${STUDENT.userName}`, path: this.data.sharePath };
  },

  /** @param {WechatMiniprogram.BaseEvent} e */
  onDelete(e) {
    wmpfVoip
      .deleteVoipBindContact({ userId: STUDENT.userId, openidList: [e.currentTarget.dataset.openid] })
      .then((r) => this.log(`${r.errMsg}: ${r.deleted.join(', ')}`))
      .then(() => this.refresh())
      .catch((err) => this.fail(err));
  },

  /** @param {WechatMiniprogram.BaseEvent} e */
  onTransfer(e) {
    wmpfVoip
      .transerAdmin({ userId: STUDENT.userId, newAdminOpenid: e.currentTarget.dataset.openid })
      .then((r) => this.log(`${r.errMsg}: admin is now ${r.adminOpenid}`))
      .then(() => this.refresh())
      .catch((err) => this.fail(err));
  },

  // The face-pay device side: a face scan yields a voipToken, then the call. This sample mints
  // the token itself with the development backend (voip-export.js sets dev: true); without
  // dev, getDevBackend() rejects with errCode 1011 NOT_SUPPORTED.
  /** @param {WechatMiniprogram.BaseEvent} e */
  onCall(e) {
    const listenerId = e.currentTarget.dataset.openid;
    wmpfVoip
      .getDevBackend()
      .then((backend) => backend.issueVoipToken({ userId: STUDENT.userId }))
      .then((voipToken) =>
        wmpfVoip.initByCaller({
          roomType: 'voice',
          caller: { id: STUDENT.userId, name: STUDENT.userName },
          listener: { id: listenerId },
          businessType: 0,
          voipToken,
        }),
      )
      .then((res) => {
        if (res.isSuccess) {
          this.setData({ roomId: res.roomId });
          this.log(`calling, room ${res.roomId} (${res.chargeType})`);
        } else {
          this.log(`call refused: ${res.errCode} ${res.errMsg}`);
        }
      })
      .catch((err) => this.fail(err));
  },

  onHangUp() {
    wmpfVoip.forceHangUpVoip(this.data.roomId);
    this.setData({ roomId: '' });
    this.log('onload options: ' + JSON.stringify(wmpfVoip.getPluginOnloadOptions()));
  },
});
