// The call component: one call (query.roomId) from ring to end. It renders the plugin's call
// events (SPEC §3.7) and sends the user's taps to the plugin; every decision is the plugin's.
// The timer is the `calling` events' keepTime (the component runs no clock of its own).
// Navigation to the host's `Call` end page after endVoip is the plugin's, not this file's.
const wmpfVoip = require('../../index.js').default;

const STATUS = {
  ringing: 'Incoming call',
  waiting: 'Calling…',
  connecting: 'Connecting…',
  connected: 'Connected',
  ended: 'Call ended',
  error: 'Call unavailable',
};

const ROOM_TYPES = { voice: 'Voice call', video: 'Video call' };

/** Milliseconds as mm:ss (minutes keep counting past 59); '' for something that is not a time. */
function clock(ms) {
  if (typeof ms !== 'number' || !(ms >= 0) || ms === Infinity) return '';
  const s = Math.floor(ms / 1000);
  const two = (n) => (n < 10 ? '0' : '') + n;
  return two(Math.floor(s / 60)) + ':' + two(s % 60);
}

/**
 * One line per ending event, in the order they arrive. `c`: { isCaller, callerName,
 * listenerName, other } (other = the other person's name, or a fallback).
 */
const ENDINGS = {
  hangUpVoip: (d, c) => {
    if (d.origin === 'timeLimit') return 'The call reached its time limit and ended.';
    if (d.origin === 'forceFromApp') return 'You hung up.';
    const who = d.status === 'endByCaller' ? c.callerName : d.status === 'endByListener' ? c.listenerName : '';
    return (who || c.other) + ' hung up.';
  },
  rejectVoip: (d, c) => (d.status === 'manual' ? 'You declined the call.' : c.other + ' declined the call.'),
  cancelVoip: (d, c) => (d.status === 'forceFromApp' ? 'You cancelled the call.' : c.other + ' hung up before the call was answered.'),
  timeout: (d, c) => (c.isCaller ? 'No answer: ' + c.other + ' did not pick up in time.' : 'Missed call: it was not answered in time.'),
  busy: (d, c) => c.other + ' is on another call. Please try again later.',
  abortVoip: (d) => {
    const why = d.error && typeof d.error.errMsg === 'string' && d.error.errMsg ? ' (' + d.error.errMsg + ')' : '';
    return 'The call was cut off: the connection was lost' + why + '.';
  },
  endVoip: (d) => 'Call length: ' + (clock(d.keepTime) || '00:00') + '.',
  finishVoip: (d) => 'Billed time: ' + (clock(d.keepTime) || '00:00') + '.',
};

Component({
  properties: {
    /** The call page's onLoad query: roomId, isCaller ('1' device / '0' listener), callerName,
     *  listenerName, callerAvatar, roomType ('voice' | 'video'). */
    query: { type: Object, value: {} },
  },

  data: {
    phase: 'ringing', // ringing | waiting | connecting | connected | ended | error
    status: '',
    isCaller: false,
    roomTypeText: '',
    peerName: '', // the other person: the caller for a listener, the listener for the caller
    avatar: '',
    initial: '',
    timer: '',
    pending: false, // an Answer / Reject is on its way: both buttons are disabled
    message: '', // the last failure, shown until the next action
    endLines: [], // [{ id, text }], one per ending event
  },

  lifetimes: {
    attached() {
      const q = this.data.query || {};
      const roomId = typeof q.roomId === 'string' ? q.roomId : '';
      this._names = { callerName: str(q.callerName), listenerName: str(q.listenerName) };
      const isCaller = q.isCaller === '1' || q.isCaller === 1 || q.isCaller === true;
      this._roomId = roomId;
      this.setData(Object.assign({ isCaller, roomTypeText: ROOM_TYPES[q.roomType] || 'Call' }, this.peer(isCaller, str(q.callerAvatar))));
      if (!roomId) {
        this.setData({ phase: 'error', status: STATUS.error, message: 'This call page was opened without a roomId.' });
        return;
      }
      this.go(isCaller ? 'waiting' : 'ringing');
      this._off = wmpfVoip.onVoipEvent((e) => this.onEvent(e));
    },
    detached() {
      if (this._off) this._off();
      this._off = null;
    },
  },

  methods: {
    /** The other person's name, avatar and initial. */
    peer(isCaller, avatar) {
      const name = isCaller ? this._names.listenerName : this._names.callerName;
      // First character, not first UTF-16 unit (an emoji is two).
      return { peerName: name, avatar: isCaller ? '' : avatar, initial: Array.from(name || '?')[0] };
    },

    go(phase, extra) {
      this.setData(Object.assign({ phase, status: STATUS[phase], pending: false }, extra));
    },

    onEvent(e) {
      if (!e || e.roomId !== this._roomId) return;
      const d = e.data && typeof e.data === 'object' ? e.data : {};
      const phase = this.data.phase;
      const name = e.eventName;
      if (name === 'incomingVoip' || name === 'endVoip') {
        // Fill in what the query left out (names and room type travel with these events).
        let changed = false;
        for (const k of ['callerName', 'listenerName']) {
          if (!this._names[k] && typeof d[k] === 'string' && d[k]) {
            this._names[k] = d[k];
            changed = true;
          }
        }
        const patch = changed ? this.peer(this.data.isCaller, this.data.avatar) : {};
        if (!(this.data.query || {}).roomType && ROOM_TYPES[d.roomType]) patch.roomTypeText = ROOM_TYPES[d.roomType];
        if (Object.keys(patch).length) this.setData(patch);
      }
      if (ENDINGS[name]) {
        const c = Object.assign({ isCaller: this.data.isCaller, other: this.data.peerName || 'The other person' }, this._names);
        const endLines = this.data.endLines.concat([{ id: this.data.endLines.length, text: ENDINGS[name](d, c) }]);
        if (phase === 'ended') this.setData({ endLines });
        else this.go('ended', { endLines, message: '' });
        return;
      }
      if (phase === 'ended' || phase === 'error') return;
      if (name === 'hangOnVoip') {
        if (phase === 'ringing') this.go('connecting', { pending: true });
      } else if (name === 'startVoip') {
        this.go('connected', { timer: clock(0), message: '' });
      } else if (name === 'calling') {
        const timer = clock(d.keepTime);
        if (!timer) return;
        if (phase === 'connected') this.setData({ timer });
        else this.go('connected', { timer, message: '' });
      }
    },

    /** Answer / Reject: one at a time; a failure is shown and the buttons come back. */
    act(api) {
      if (this.data.pending || this.data.phase !== 'ringing') return undefined;
      const roomId = this._roomId;
      this.setData({ pending: true, message: '' });
      return new Promise((resolve) => resolve(wmpfVoip[api]({ roomId }))).then(
        () => {
          // The events (startVoip, rejectVoip) move the page on; until they come, stay disabled.
          if (api === 'answerVoip' && this.data.phase === 'ringing') this.go('connecting', { pending: true });
        },
        // Still ringing: the buttons come back. (A phase change already cleared `pending`.)
        (err) => this.setData(this.data.phase === 'ringing' ? { pending: false, message: errorText(err) } : { message: errorText(err) }),
      );
    },

    onAnswer() {
      return this.act('answerVoip');
    },

    onReject() {
      return this.act('rejectVoip');
    },

    onHangUp() {
      if (['waiting', 'connecting', 'connected'].indexOf(this.data.phase) < 0) return;
      this.setData({ message: '' });
      try {
        wmpfVoip.forceHangUpVoip(this._roomId);
      } catch (err) {
        this.setData({ message: errorText(err) });
      }
    },
  },
});

function str(v) {
  return typeof v === 'string' ? v : '';
}

function errorText(err) {
  return (err && (err.errMsg || err.message)) || String(err);
}
