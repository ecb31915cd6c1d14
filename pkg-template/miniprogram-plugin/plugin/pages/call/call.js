// The call page: a thin Page around the call component, which holds the logic. The query
// (roomId, isCaller, callerName, listenerName, callerAvatar, roomType) is already decoded by
// the Mini Program; the plugin keeps it for getPluginOnloadOptions().
const wmpfVoip = require('../../index.js').default;

Page({
  data: { query: null },
  onLoad(query) {
    const q = query || {};
    if (typeof wmpfVoip._callPageLoaded === 'function') wmpfVoip._callPageLoaded(q);
    this.setData({ query: q });
  },
});
