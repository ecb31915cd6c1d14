const wmpfVoip = requirePlugin('campus-voip').default;

App({
  onLaunch() {
    // Where the bind page goes when it is done, and where a call ends.
    wmpfVoip.setVoipEndPagePath({ key: 'BindContact', url: '/pages/bound/bound', options: 'from=bind' });
    wmpfVoip.setVoipEndPagePath({ key: 'Call', url: '/pages/index/index', routeType: 'reLaunch' });
    this.stopListening = wmpfVoip.onVoipEvent((event) => {
      console.log('[voip event]', event.eventName, event.data);
      if (event.eventName === 'bindContact') this.globalData.lastBind = event.data;
    });
  },
  /** @type {null | (() => void)} */
  stopListening: null,
  globalData: {
    /** @type {null | { type: string, errMsg: string, userId: string }} */
    lastBind: null,
  },
});
