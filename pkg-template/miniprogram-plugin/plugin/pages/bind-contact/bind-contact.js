// The page a share path opens: a thin Page around the bind-contact component, which holds the
// logic. The query (userId, userName, userAvatar, ticket and the host's extra parameters) is
// already decoded by the Mini Program.
Page({
  data: { query: null },
  onLoad(query) {
    this.setData({ query: query || {} });
  },
});
