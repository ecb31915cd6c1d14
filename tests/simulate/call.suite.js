// The call component of the BUILT plugin (dist/miniprogram-plugin/plugin/components/call),
// rendered by miniprogram-simulate in jsdom, subscribed to the plugin's REAL default instance
// (o_mum, on a dev local backend: voipConfig.backend { type: 'local', dev: true }).
//
// Two kinds of tests:
// - on the real API: a device instance on the default instance's backend (getDevBackend()) calls
//   o_mum; the page is opened from the incomingVoip event (CALL_PAGE_PATH + query, the page's own
//   onLoad); the taps go to the real answerVoip / rejectVoip / forceHangUpVoip, the events come
//   from the backend, the timer from the real once-a-second `calling` events;
// - with fakes (call-fakes.js) for answerVoip, rejectVoip and forceHangUpVoip on that instance:
//   what the real API cannot be made to do on cue (a pending answer, a throwing hang-up, every
//   ending line, odd payloads).
//
// Shared by call.test.js (simulate's JS template compiler) and call.wcc.test.js (the official
// WXML compiler, wcc).
'use strict';

const path = require('node:path');
const { DIST_PLUGIN, installMiniProgramEnv, queryOf } = require('./mp-env');
const { installCallFakes } = require('./call-fakes');

const PLUGIN_MAIN = path.join(DIST_PLUGIN, 'index.js');
const COMPONENT = path.join(DIST_PLUGIN, 'components', 'call', 'call');
const CALL_PAGE = path.join(DIST_PLUGIN, 'pages', 'call', 'call.js');
const PLUGIN_APP_ID = 'wxcampusvoip0000';

const CALLER = '🎒 李小明'; // starts with an astral character: the initial must be the whole emoji
const LISTENER = '妈妈 👩‍👧';
const AVATAR = 'https://img.example.com/头像/小明.png?size=132';

function defineCallSuite({ compiler, label }) {
  // Before miniprogram-simulate is required (it merges its wx mock under ours).
  const env = installMiniProgramEnv(global, { openId: 'o_mum', backend: { type: 'local', dev: true }, pluginAppId: PLUGIN_APP_ID });
  const simulate = require('miniprogram-simulate');
  // The same module object the component gets from require('../../index.js').
  const plugin = require(PLUGIN_MAIN);
  const wmpfVoip = plugin.default;

  let componentId;
  let fakes;
  let rooms = 0;
  const opened = [];

  const text = (comp, selector) => {
    const node = comp.querySelector(selector);
    return node ? node.dom.textContent.trim() : undefined;
  };
  const lines = (comp) => comp.querySelectorAll('.line').map((n) => n.dom.textContent.trim());
  const buttons = (comp) => Array.from(comp.dom.querySelectorAll('wx-button')).map((b) => b.textContent.trim());
  const tap = (comp, selector) => comp.querySelector(selector).dispatchEvent('tap');
  const settle = () => simulate.sleep(10);
  const mmss = (ms) => {
    const sec = Math.floor(ms / 1000);
    return String(Math.floor(sec / 60)).padStart(2, '0') + ':' + String(sec % 60).padStart(2, '0');
  };
  const failure = (api, why) => new plugin.VoipPluginError(1004, 'INVALID_ARGUMENT', `${api}:fail ${why}`);

  /** Renders the component as the call page does (<voip-call query="{{query}}" />). */
  function openCallPage(query) {
    const roomId = 'room-' + ++rooms; // each test its own room
    const comp = simulate.render(componentId, { query: Object.assign({ roomId }, query) });
    const parent = document.createElement('parent-wrapper');
    document.body.appendChild(parent);
    comp.attach(parent); // lifetimes.attached subscribes
    opened.push(comp);
    return { comp, roomId };
  }
  const asListener = (extra) => openCallPage(Object.assign({ isCaller: '0', callerName: CALLER, listenerName: LISTENER, callerAvatar: AVATAR, roomType: 'video' }, extra));
  const asCaller = (extra) => openCallPage(Object.assign({ isCaller: '1', callerName: CALLER, listenerName: LISTENER, roomType: 'voice' }, extra));

  /**
   * The call page as the plugin opens it: its own onLoad (pages/call/call.js, a thin Page that
   * hands the query to the plugin) with the query a Mini Program decodes from the URL the host
   * navigates to, then the component it renders (<voip-call query="{{query}}" />).
   */
  let pageDefinition;
  function loadCallPage(url) {
    if (!pageDefinition) {
      const saved = global.Page;
      global.Page = (definition) => (pageDefinition = definition);
      try {
        require(CALL_PAGE); // the page requires the same plugin main (one default instance)
      } finally {
        global.Page = saved;
      }
    }
    const page = { data: {}, setData(d) { Object.assign(this.data, d); } };
    pageDefinition.onLoad.call(page, queryOf(url));
    const comp = simulate.render(componentId, { query: page.data.query });
    const parent = document.createElement('parent-wrapper');
    document.body.appendChild(parent);
    comp.attach(parent);
    opened.push(comp);
    return comp;
  }

  function defineRealCallTests() {
    let backend;
    let device;
    let students = 0;
    const deviceEvents = [];

    beforeAll(async () => {
      backend = await wmpfVoip.getDevBackend();
      device = await plugin.createVoipPlugin({ backend });
      device.onVoipEvent((e) => deviceEvents.push(e));
      expect(await wmpfVoip.authorizeVoip()).toEqual({ errCode: 0, errMsg: 'authorizeVoip:ok' });
      // The host's Call end page, opened with wx.redirectTo after endVoip.
      wmpfVoip.setVoipEndPagePath({ key: 'Call', url: '/pages/after-call/after-call', options: 'from=call' });
    });

    /**
     * A student of o_mum's calls her from `from` (default: the device); resolves the roomId,
     * the incomingVoip event o_mum's instance heard, and the URL the host opens from it.
     */
    async function ring(from = device) {
      const userId = 'stu-real-' + ++students;
      await wmpfVoip.bindVoipAdminContact({ userId });
      const voipToken = await backend.issueVoipToken({ userId });
      const heard = [];
      const off = wmpfVoip.onVoipEvent((e) => e.eventName === 'incomingVoip' && heard.push(e));
      const r = await from.initByCaller({
        roomType: 'video',
        caller: { id: userId, name: CALLER },
        listener: { id: 'o_mum', name: LISTENER },
        voipToken,
      });
      off();
      expect(r).toMatchObject({ isSuccess: true, errCode: 0 });
      // Delivered before initByCaller resolved (one backend, in process).
      expect(heard).toEqual([
        {
          eventName: 'incomingVoip',
          data: { roomId: r.roomId, callerId: userId, callerName: CALLER, roomType: 'video', businessType: 0 },
          roomId: r.roomId,
          groupId: r.roomId,
        },
      ]);
      const d = heard[0].data;
      // What a host's incomingVoip handler navigates to (wx.navigateTo).
      const url =
        wmpfVoip.CALL_PAGE_PATH +
        '?roomId=' + encodeURIComponent(d.roomId) +
        '&isCaller=0&callerName=' + encodeURIComponent(d.callerName) +
        '&callerAvatar=' + encodeURIComponent(AVATAR) +
        '&roomType=' + d.roomType;
      return { roomId: r.roomId, userId, url };
    }

    const eventsOf = (roomId) => deviceEvents.filter((e) => e.roomId === roomId).map((e) => [e.eventName, e.data]);

    test('incomingVoip → the call page (CALL_PAGE_PATH, getPluginOnloadOptions) → Answer → real answerVoip → startVoip → calling → Hang up → the ending, length and billed time; the Call end page', async () => {
      const { roomId, userId, url } = await ring();
      expect(url.startsWith(`plugin-private://${PLUGIN_APP_ID}/pages/call/call?roomId=`)).toBe(true);
      const comp = loadCallPage(url);
      expect(wmpfVoip.getPluginOnloadOptions()).toEqual({ roomId, isCaller: '0', callerName: CALLER, callerAvatar: AVATAR, roomType: 'video' });
      expect(comp.data).toMatchObject({ phase: 'ringing', isCaller: false, peerName: CALLER, avatar: AVATAR });
      expect(text(comp, '.name')).toBe(CALLER);
      expect(text(comp, '.type')).toBe('Video call');
      expect(buttons(comp)).toEqual(['Answer', 'Reject']);

      tap(comp, '.answer');
      await settle();
      expect(comp.data).toMatchObject({ phase: 'connected', timer: '00:00', pending: false });
      expect(text(comp, '.status')).toBe('Connected');
      expect(buttons(comp)).toEqual(['Hang up']);
      expect(eventsOf(roomId)).toEqual([['joinedRoomByCaller', {}], ['startVoip', {}]]);

      // The plugin's own once-a-second calling events (keepTime from the backend's clock, here
      // the real one: about 1 s after the answer).
      const mine = [];
      const off = wmpfVoip.onVoipEvent((e) => e.roomId === roomId && mine.push(e));
      await simulate.sleep(1100);
      const calling = mine.filter((e) => e.eventName === 'calling');
      expect(calling).toHaveLength(1);
      expect(calling[0].data.keepTime).toBeGreaterThanOrEqual(990);
      expect(calling[0].data.keepTime).toBeLessThan(1900);
      expect(text(comp, '.timer')).toBe(mmss(calling[0].data.keepTime));

      const navigated = env.navigations.length;
      tap(comp, '.hangup');
      await settle();
      off();
      const kept = mine.find((e) => e.eventName === 'endVoip').data.keepTime;
      expect(mine.map((e) => e.eventName)).toEqual(['calling', 'hangUpVoip', 'endVoip', 'finishVoip']);
      expect(mine[1].data).toEqual({ keepTime: kept, status: 'endByListener', origin: 'forceFromApp' });
      expect(kept).toBeGreaterThanOrEqual(calling[0].data.keepTime);
      expect(comp.data.phase).toBe('ended');
      expect(text(comp, '.status')).toBe('Call ended');
      expect(lines(comp)).toEqual(['You hung up.', `Call length: ${mmss(kept)}.`, 'Billed time: 01:00.']);
      expect(buttons(comp)).toEqual([]);
      expect(env.navigations.slice(navigated)).toEqual([{ api: 'redirectTo', url: '/pages/after-call/after-call?from=call' }]);
      const ended = eventsOf(roomId);
      expect(ended.map((e) => e[0])).toEqual(['joinedRoomByCaller', 'startVoip', 'calling', 'hangUpVoip', 'endVoip', 'finishVoip']);
      expect(ended[3][1]).toMatchObject({ status: 'endByListener', origin: 'other' });
      expect(ended[4][1]).toMatchObject({ callerName: CALLER, listenerName: LISTENER, roomType: 'video', isCaller: true, businessType: 0 });
      expect(ended[5][1]).toEqual({ keepTime: 60000 });
      const { call_list } = await backend.getVoipCallList({ user_id: userId });
      expect(call_list.map((c) => [c.room_id, c.open_id, c.ending, c.billed_time_ms])).toEqual([[roomId, 'o_mum', 'endByListener', 60000]]);

      // Nothing ticks after the end.
      await simulate.sleep(1100);
      expect(lines(comp)).toHaveLength(3);
      expect(eventsOf(roomId)).toHaveLength(6);
    });

    test('Reject → real rejectVoip: "You declined the call."; the device hears rejectVoip { status: "other" }', async () => {
      const { roomId, url } = await ring();
      const comp = loadCallPage(url);
      tap(comp, '.reject');
      await settle();
      expect(comp.data).toMatchObject({ phase: 'ended', pending: false });
      expect(lines(comp)).toEqual(['You declined the call.', 'Call length: 00:00.', 'Billed time: 00:00.']);
      expect(buttons(comp)).toEqual([]);
      expect(eventsOf(roomId)).toEqual([
        ['joinedRoomByCaller', {}],
        ['rejectVoip', { status: 'other' }],
        ['endVoip', { keepTime: 0, callerName: CALLER, listenerName: LISTENER, roomType: 'video', isCaller: true, businessType: 0 }],
        ['finishVoip', { keepTime: 0 }],
      ]);
    });

    test('the device hangs up while it rings: the page shows the cancel, no buttons', async () => {
      const { url } = await ring();
      const comp = loadCallPage(url);
      device.forceHangUpVoip();
      await settle();
      expect(comp.data.phase).toBe('ended');
      expect(lines(comp)).toEqual([`${CALLER} hung up before the call was answered.`, 'Call length: 00:00.', 'Billed time: 00:00.']);
      expect(buttons(comp)).toEqual([]);
    });

    test('Answer while in another connected call: the real 1005 is shown, the buttons come back; after that call ends, Answer connects', async () => {
      // Two calls ring (a call that comes while o_mum is connected would be `busy`, never ring).
      const first = await ring();
      const device2 = await plugin.createVoipPlugin({ backend });
      const second = await ring(device2);
      const page1 = loadCallPage(first.url);
      const page2 = loadCallPage(second.url);
      tap(page1, '.answer');
      await settle();
      expect(page1.data.phase).toBe('connected');
      expect(page2.data.phase).toBe('ringing');
      tap(page2, '.answer');
      await settle();
      expect(page2.data).toMatchObject({ phase: 'ringing', pending: false });
      expect(text(page2, '.message')).toBe(`answerVoip:fail already in the call ${first.roomId}; hang it up with forceHangUpVoip() first`);
      expect(buttons(page2)).toEqual(['Answer', 'Reject']);
      // The first call's hang-up ends that page only.
      tap(page1, '.hangup');
      await settle();
      expect(page1.data.phase).toBe('ended');
      expect(page2.data.phase).toBe('ringing');
      tap(page2, '.answer');
      await settle();
      expect(page2.data).toMatchObject({ phase: 'connected', message: '' });
      wmpfVoip.forceHangUpVoip(second.roomId);
      await settle();
      expect(lines(page2)[0]).toBe('You hung up.');
    });
  }

  describe(`call component (${label})`, () => {
    beforeAll(() => {
      // Once per test file (see bind-contact.suite.js: a second load() registers nothing).
      componentId = simulate.load(COMPONENT, 'voip-call', compiler.loadOptions);
    });

    afterEach(() => {
      while (opened.length) {
        const comp = opened.pop();
        if (comp.dom.parentNode) comp.detach();
      }
    });

    describe('on the real API: a device instance calls the default instance', () => {
      defineRealCallTests();
    });

    describe('with fakes for answerVoip, rejectVoip and forceHangUpVoip', () => {
      beforeEach(() => {
        fakes = installCallFakes(wmpfVoip);
      });

      afterEach(() => {
        fakes.restore();
      });

      test('ringing (listener): caller name, avatar, room type, Answer and Reject', () => {
        const { comp } = asListener();
        expect(comp.data).toMatchObject({ phase: 'ringing', isCaller: false, peerName: CALLER, avatar: AVATAR, pending: false });
        expect(text(comp, '.name')).toBe(CALLER);
        expect(comp.querySelector('.avatar').dom.tagName).toBe('WX-IMAGE');
        expect(text(comp, '.type')).toBe('Video call');
        expect(text(comp, '.status')).toBe('Incoming call');
        expect(buttons(comp)).toEqual(['Answer', 'Reject']);
        expect(comp.querySelector('.hangup')).toBeUndefined();
        expect(comp.querySelector('.timer')).toBeUndefined();
        expect(comp.querySelector('.message')).toBeUndefined();
        expect(fakes.calls).toEqual([]);
      });

      test('no avatar: the first whole character of the name; a voice call', () => {
        const { comp } = asListener({ callerAvatar: '', roomType: 'voice' });
        expect(comp.querySelector('.avatar').dom.tagName).toBe('WX-VIEW');
        expect(text(comp, '.placeholder')).toBe('🎒');
        expect(text(comp, '.type')).toBe('Voice call');
      });

      test('Answer calls answerVoip({ roomId }) once, buttons disabled while pending; startVoip, then calling events drive the timer', async () => {
        const { comp, roomId } = asListener();
        tap(comp, '.answer');
        tap(comp, '.answer'); // ignored: one is pending
        tap(comp, '.reject'); // ignored too
        await settle();
        expect(fakes.calls).toEqual([{ api: 'answerVoip', arg: { roomId } }]);
        expect(comp.data.pending).toBe(true);
        expect(buttons(comp)).toEqual(['Answer', 'Reject']); // still shown, disabled="{{pending}}"

        fakes.resolve('answerVoip', { errCode: 0, errMsg: 'answerVoip:ok' });
        await settle();
        // Answered; the call starts with the startVoip event, not with the promise.
        expect(comp.data).toMatchObject({ phase: 'connecting', pending: true });
        expect(text(comp, '.status')).toBe('Connecting…');
        expect(comp.querySelector('.answer')).toBeUndefined();

        fakes.emit('hangOnVoip', {}, roomId);
        fakes.emit('startVoip', {}, roomId);
        expect(comp.data).toMatchObject({ phase: 'connected', timer: '00:00', pending: false });
        expect(text(comp, '.status')).toBe('Connected');
        expect(text(comp, '.timer')).toBe('00:00');
        expect(buttons(comp)).toEqual(['Hang up']);

        fakes.emit('calling', { keepTime: 3000 }, roomId);
        expect(text(comp, '.timer')).toBe('00:03');
        fakes.emit('calling', { keepTime: 3999 }, roomId); // whole seconds, rounded down
        expect(text(comp, '.timer')).toBe('00:03');
        fakes.emit('calling', { keepTime: 65000 }, roomId);
        expect(text(comp, '.timer')).toBe('01:05');
        fakes.emit('calling', { keepTime: 'soon' }, roomId); // not a time: ignored
        expect(text(comp, '.timer')).toBe('01:05');
        fakes.emit('calling', { keepTime: 3600 * 1000 + 7000 }, roomId); // minutes go on past 59
        expect(text(comp, '.timer')).toBe('60:07');

        // The component keeps no clock of its own: without calling events the timer stands still.
        await simulate.sleep(1100);
        expect(text(comp, '.timer')).toBe('60:07');
      });

      test('Hang up while connected calls forceHangUpVoip(roomId); the ending, the length and the billed time are shown', async () => {
        const { comp, roomId } = asListener();
        fakes.emit('hangOnVoip', {}, roomId);
        fakes.emit('startVoip', {}, roomId);
        fakes.emit('calling', { keepTime: 65000 }, roomId);
        // What the shim does on a hang-up while connected (SPEC §3.7): the ending, then endVoip.
        fakes.onHangUp = (id) => {
          fakes.emit('hangUpVoip', { keepTime: 65400, status: 'endByListener', origin: 'forceFromApp' }, id);
          fakes.emit('endVoip', { keepTime: 65400, callerName: CALLER, listenerName: LISTENER, roomType: 'video', isCaller: false, businessType: 0 }, id);
        };
        tap(comp, '.hangup');
        await settle();
        expect(fakes.calls).toEqual([{ api: 'forceHangUpVoip', arg: roomId }]);
        expect(comp.data.phase).toBe('ended');
        expect(text(comp, '.status')).toBe('Call ended');
        expect(lines(comp)).toEqual(['You hung up.', 'Call length: 01:05.']);
        expect(buttons(comp)).toEqual([]);
        expect(comp.querySelector('.timer')).toBeUndefined();

        fakes.emit('finishVoip', { keepTime: 120000 }, roomId); // billed per started minute
        expect(lines(comp)).toEqual(['You hung up.', 'Call length: 01:05.', 'Billed time: 02:00.']);
        fakes.emit('calling', { keepTime: 70000 }, roomId); // a late tick changes nothing
        expect(comp.data.phase).toBe('ended');
        expect(lines(comp)).toHaveLength(3);
      });

      test('Reject calls rejectVoip({ roomId }); the rejectVoip event ends the page', async () => {
        const { comp, roomId } = asListener();
        tap(comp, '.reject');
        tap(comp, '.reject');
        await settle();
        expect(fakes.calls).toEqual([{ api: 'rejectVoip', arg: { roomId } }]);
        expect(comp.data.pending).toBe(true);
        fakes.resolve('rejectVoip', { errCode: 0, errMsg: 'rejectVoip:ok' });
        await settle();
        expect(comp.data).toMatchObject({ phase: 'ringing', pending: true }); // until the event
        fakes.emit('rejectVoip', { status: 'manual' }, roomId);
        fakes.emit('endVoip', { keepTime: 0, callerName: CALLER, listenerName: LISTENER, roomType: 'video', isCaller: false, businessType: 0 }, roomId);
        expect(comp.data).toMatchObject({ phase: 'ended', pending: false });
        expect(lines(comp)).toEqual(['You declined the call.', 'Call length: 00:00.']);
        expect(buttons(comp)).toEqual([]);
      });

      test('an answerVoip rejection shows its errMsg and the buttons come back', async () => {
        const { comp, roomId } = asListener();
        tap(comp, '.answer');
        await settle();
        fakes.reject('answerVoip', failure('answerVoip', 'no such call (roomId ' + roomId + ')'));
        await settle();
        expect(comp.data).toMatchObject({ phase: 'ringing', pending: false });
        expect(text(comp, '.message')).toBe(`answerVoip:fail no such call (roomId ${roomId})`);
        expect(buttons(comp)).toEqual(['Answer', 'Reject']);

        // Usable again: a second Answer goes out (and clears the message).
        tap(comp, '.answer');
        await settle();
        expect(fakes.calls).toEqual([
          { api: 'answerVoip', arg: { roomId } },
          { api: 'answerVoip', arg: { roomId } },
        ]);
        expect(comp.querySelector('.message')).toBeUndefined();
        fakes.reject('answerVoip', failure('answerVoip', 'again'));
        await settle();
        expect(text(comp, '.message')).toBe('answerVoip:fail again');
        expect(comp.data.pending).toBe(false);
      });

      test('a rejectVoip rejection shows its errMsg and the buttons come back', async () => {
        const { comp } = asListener();
        tap(comp, '.reject');
        await settle();
        fakes.reject('rejectVoip', failure('rejectVoip', 'the call was answered elsewhere'));
        await settle();
        expect(comp.data).toMatchObject({ phase: 'ringing', pending: false });
        expect(text(comp, '.message')).toBe('rejectVoip:fail the call was answered elsewhere');
      });

      test('waiting (caller): listener name, Calling…, Hang up → forceHangUpVoip(roomId), cancelVoip ends it', async () => {
        const { comp, roomId } = asCaller();
        expect(comp.data).toMatchObject({ phase: 'waiting', isCaller: true, peerName: LISTENER, avatar: '' });
        expect(text(comp, '.name')).toBe(LISTENER);
        expect(text(comp, '.placeholder')).toBe('妈');
        expect(text(comp, '.type')).toBe('Voice call');
        expect(text(comp, '.status')).toBe('Calling…');
        expect(buttons(comp)).toEqual(['Hang up']);
        fakes.emit('joinedRoomByCaller', {}, roomId);
        expect(comp.data.phase).toBe('waiting');

        fakes.onHangUp = (id) => {
          fakes.emit('cancelVoip', { status: 'forceFromApp' }, id);
          fakes.emit('endVoip', { keepTime: 0, callerName: CALLER, listenerName: LISTENER, roomType: 'voice', isCaller: true, businessType: 0 }, id);
        };
        tap(comp, '.hangup');
        await settle();
        expect(fakes.calls).toEqual([{ api: 'forceHangUpVoip', arg: roomId }]);
        expect(lines(comp)).toEqual(['You cancelled the call.', 'Call length: 00:00.']);
        expect(buttons(comp)).toEqual([]);
      });

      test('waiting → the listener answers: startVoip connects the caller', () => {
        const { comp, roomId } = asCaller();
        fakes.emit('startVoip', {}, roomId);
        expect(comp.data).toMatchObject({ phase: 'connected', timer: '00:00' });
        fakes.emit('calling', { keepTime: 1000 }, roomId);
        expect(text(comp, '.timer')).toBe('00:01');
        expect(buttons(comp)).toEqual(['Hang up']);
      });

      test('a throwing forceHangUpVoip shows its errMsg; the page stays usable', async () => {
        const { comp, roomId } = asCaller();
        fakes.onHangUp = () => {
          throw failure('forceHangUpVoip', 'roomId does not match the current call');
        };
        tap(comp, '.hangup');
        await settle();
        expect(text(comp, '.message')).toBe('forceHangUpVoip:fail roomId does not match the current call');
        expect(comp.data.phase).toBe('waiting');
        fakes.onHangUp = () => {};
        tap(comp, '.hangup');
        await settle();
        expect(comp.querySelector('.message')).toBeUndefined();
        expect(fakes.calls.map((c) => c.arg)).toEqual([roomId, roomId]);
      });

      const endings = [
        // [side, eventName, data, its line, endVoip's keepTime → length line, billed ms → line]
        ['listener', 'hangUpVoip', { keepTime: 9000, status: 'endByCaller', origin: 'other' }, `${CALLER} hung up.`, 9000, '00:09'],
        ['caller', 'hangUpVoip', { keepTime: 9000, status: 'endByListener', origin: 'other' }, `${LISTENER} hung up.`, 9000, '00:09'],
        ['caller', 'hangUpVoip', { keepTime: 300000, status: 'endByCaller', origin: 'timeLimit' }, 'The call reached its time limit and ended.', 300000, '05:00'],
        ['caller', 'hangUpVoip', { keepTime: 9000, status: 'endByCaller', origin: 'forceFromApp' }, 'You hung up.', 9000, '00:09'],
        ['caller', 'rejectVoip', { status: 'other' }, `${LISTENER} declined the call.`, 0, '00:00'],
        ['listener', 'rejectVoip', { status: 'manual' }, 'You declined the call.', 0, '00:00'],
        ['listener', 'cancelVoip', { status: 'other' }, `${CALLER} hung up before the call was answered.`, 0, '00:00'],
        ['caller', 'cancelVoip', { status: 'forceFromApp' }, 'You cancelled the call.', 0, '00:00'],
        ['caller', 'timeout', {}, `No answer: ${LISTENER} did not pick up in time.`, 0, '00:00'],
        ['listener', 'timeout', {}, 'Missed call: it was not answered in time.', 0, '00:00'],
        ['caller', 'busy', {}, `${LISTENER} is on another call. Please try again later.`, 0, '00:00'],
        [
          'listener',
          'abortVoip',
          { keepTime: 20000, status: 'endByCaller', error: { errMsg: 'connection to the service lost for 20 s' } },
          'The call was cut off: the connection was lost (connection to the service lost for 20 s).',
          20000,
          '00:20',
        ],
        ['caller', 'abortVoip', { keepTime: 0, status: 'endByListener', error: {} }, 'The call was cut off: the connection was lost.', 0, '00:00'],
      ];
      test.each(endings)('%s side, %s %j → "%s"', (side, eventName, data, line, keepTime, length) => {
        const { comp, roomId } = side === 'caller' ? asCaller() : asListener();
        fakes.emit(eventName, data, roomId);
        expect(comp.data.phase).toBe('ended');
        expect(text(comp, '.status')).toBe('Call ended');
        expect(lines(comp)).toEqual([line]);
        expect(buttons(comp)).toEqual([]);
        fakes.emit('endVoip', { keepTime, callerName: CALLER, listenerName: LISTENER, roomType: 'video', isCaller: side === 'caller', businessType: 0 }, roomId);
        expect(lines(comp)).toEqual([line, `Call length: ${length}.`]);
        // Billed per started minute (businessType 0).
        fakes.emit('finishVoip', { keepTime: 60000 * Math.ceil(keepTime / 60000) }, roomId);
        expect(lines(comp)).toEqual([line, `Call length: ${length}.`, `Billed time: ${keepTime ? String(Math.ceil(keepTime / 60000)).padStart(2, '0') : '00'}:00.`]);
      });

      test('events of another roomId (or of no room) are ignored', () => {
        const { comp, roomId } = asListener();
        const before = JSON.stringify(comp.data);
        const other = roomId + '-other';
        for (const [name, data] of [
          ['startVoip', {}],
          ['calling', { keepTime: 5000 }],
          ['hangUpVoip', { keepTime: 1, status: 'endByCaller', origin: 'other' }],
          ['rejectVoip', { status: 'manual' }],
          ['cancelVoip', { status: 'other' }],
          ['timeout', {}],
          ['busy', {}],
          ['abortVoip', { keepTime: 0, status: 'endByCaller', error: { errMsg: 'x' } }],
          ['endVoip', { keepTime: 0, callerName: 'Someone else' }],
          ['finishVoip', { keepTime: 60000 }],
        ]) {
          fakes.emit(name, data, other);
        }
        fakes.emit('bindContact', { type: 'success', errMsg: 'bindContact:ok', userId: 's' }); // no roomId
        expect(JSON.stringify(comp.data)).toBe(before);
        expect(comp.data.phase).toBe('ringing');
        expect(lines(comp)).toEqual([]);

        // …while its own room's events still arrive.
        fakes.emit('startVoip', {}, roomId);
        expect(comp.data.phase).toBe('connected');
      });

      test('detached unsubscribes: an event after detach changes nothing', () => {
        const { comp, roomId } = asListener();
        comp.detach();
        const before = JSON.stringify(comp.data);
        fakes.emit('startVoip', {}, roomId);
        fakes.emit('calling', { keepTime: 3000 }, roomId);
        fakes.emit('hangUpVoip', { keepTime: 3000, status: 'endByCaller', origin: 'other' }, roomId);
        expect(JSON.stringify(comp.data)).toBe(before);
        expect(comp.data.phase).toBe('ringing');
      });

      test('names and room type missing from the query come from incomingVoip', () => {
        const { comp, roomId } = openCallPage({ isCaller: '0' });
        expect(text(comp, '.name')).toBe('Unknown caller');
        expect(text(comp, '.placeholder')).toBe('?');
        expect(text(comp, '.type')).toBe('Call');
        fakes.emit('incomingVoip', { roomId, callerId: 'stu-1', callerName: CALLER, roomType: 'video', businessType: 0 }, roomId);
        expect(text(comp, '.name')).toBe(CALLER);
        expect(text(comp, '.placeholder')).toBe('🎒');
        expect(text(comp, '.type')).toBe('Video call');
      });

      test('without a roomId: a message, no buttons, nothing called', () => {
        const comp = simulate.render(componentId, { query: { isCaller: '0', callerName: CALLER } });
        const parent = document.createElement('parent-wrapper');
        document.body.appendChild(parent);
        comp.attach(parent);
        opened.push(comp);
        expect(comp.data.phase).toBe('error');
        expect(text(comp, '.message')).toBe('This call page was opened without a roomId.');
        expect(buttons(comp)).toEqual([]);
        fakes.emit('startVoip', {}, undefined);
        fakes.emit('startVoip', {}, '');
        expect(comp.data.phase).toBe('error');
        expect(fakes.calls).toEqual([]);
      });
    });
  });
}

module.exports = { defineCallSuite };
