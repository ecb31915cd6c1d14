// The bind-contact component: shows the student a share link is about, asks for consent with
// Bind / Cancel, and reports the outcome. All decisions are the plugin's (the wasm core's); this
// file only renders them. Events: `outcome` with the bindContact data { type, errMsg, userId }.
const wmpfVoip = require('../../index.js').default;

const MESSAGES = {
  success: 'Done: you are now a contact and can receive calls.',
  binded: 'You are already a contact of this student.',
  expire: 'This invitation has expired. Ask the administrator to share a new one.',
  overload: 'This student already has the maximum number of contacts. Ask the administrator to remove one.',
  invalid: 'This invitation is not valid (it was changed, or its sender is no longer the administrator).',
  unbind: 'This student has no contacts any more. Ask for a new invitation.',
  auth: 'Calls were not allowed. Allow VoIP calls and open the invitation again.',
  cancel: 'You declined. Nothing was changed.',
};

Component({
  properties: {
    /** The page's onLoad query: userId, userName, userAvatar, ticket (and the host's extras). */
    query: { type: Object, value: {} },
    /** Tapping Bind is the user's consent to VoIP calls (recorded with authorizeVoip). */
    consentOnBind: { type: Boolean, value: true },
  },

  data: {
    phase: 'loading', // loading | ready | done | error
    userName: '',
    userAvatar: '',
    initial: '',
    outcome: '',
    message: '',
    busy: false,
  },

  lifetimes: {
    attached() {
      this.inspect();
    },
  },

  methods: {
    inspect() {
      return wmpfVoip.inspectBindContactPath(this.data.query).then(
        (r) => {
          // First character, not first UTF-16 unit (an emoji is two).
          const shown = { userName: r.userName, userAvatar: r.userAvatar, initial: Array.from(r.userName || '?')[0] };
          if (r.status === 'ready') {
            this.setData(Object.assign({ phase: 'ready', message: '' }, shown));
          } else {
            // Blocked before consent (rows 1–6): finish the page with that outcome, binding no one.
            this.setData(shown);
            return this.finish(wmpfVoip._finishInspection(r));
          }
        },
        (e) => this.setData({ phase: 'error', message: e.errMsg || String(e) }),
      );
    },

    finish(pending) {
      this.setData({ busy: true });
      return pending.then(
        (res) => {
          this.setData({ phase: 'done', busy: false, outcome: res.type, message: MESSAGES[res.type] || res.errMsg });
          this.triggerEvent('outcome', res);
          return res;
        },
        (e) => this.setData({ phase: 'error', busy: false, message: e.errMsg || String(e) }),
      );
    },

    onBind() {
      if (this.data.busy) return undefined;
      const consent = this.data.consentOnBind ? wmpfVoip.authorizeVoip() : Promise.resolve();
      return this.finish(consent.then(() => wmpfVoip.acceptBindContactPath(this.data.query)));
    },

    onCancel() {
      if (this.data.busy) return undefined;
      return this.finish(wmpfVoip.declineBindContactPath(this.data.query));
    },
  },
});
