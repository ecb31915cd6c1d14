// The bind-contact component of the BUILT plugin (dist/miniprogram-plugin/plugin), rendered by
// miniprogram-simulate in jsdom, against the plugin's real default instance and wasm core.
//
// Shared by bind-contact.test.js (simulate's JS template compiler) and bind-contact.wcc.test.js
// (the official WXML compiler, wcc). Each test file has its own jest module registry, so its own
// load of plugin/index.js and its own default instance (configured once, on its first call,
// from requireMiniProgram().voipConfig: the parent PARENT).
'use strict';

const path = require('node:path');
const { DIST_PLUGIN, installMiniProgramEnv, queryOf } = require('./mp-env');

const PLUGIN_MAIN = path.join(DIST_PLUGIN, 'index.js');
const COMPONENT = path.join(DIST_PLUGIN, 'components', 'bind-contact', 'bind-contact');
const WASM_PATH = '/wasm/campus_voip_bg.wasm.br';

const ADMIN = 'admin_a';
const PARENT = 'parent_b'; // the default instance's openId (the user who opened the share link)
const HOUR = 3600 * 1000;

const STUDENTS = {
  bind: { userId: 'stu-bind', userName: '小明 Xiao Ming', userAvatar: 'https://example.com/xiaoming.png' },
  cancel: { userId: 'stu-cancel', userName: 'Li Lei', userAvatar: '' },
  expire: { userId: 'stu-expire', userName: 'Han Meimei', userAvatar: '' },
  tamper: { userId: 'stu-tamper', userName: 'Wang Fang', userAvatar: '' },
  auth: { userId: 'stu-auth', userName: 'Zhao Qiang', userAvatar: '' },
};

function defineBindContactSuite({ compiler, label }) {
  // Before miniprogram-simulate is required (it merges its wx mock under ours).
  const env = installMiniProgramEnv(global, { openId: PARENT });
  const simulate = require('miniprogram-simulate');
  // The same module object the component gets from require('../../index.js'): jest resolves both
  // to this absolute path in the test file's registry. (Asserted below through events.)
  const plugin = require(PLUGIN_MAIN);
  const wmpfVoip = plugin.default;

  const paths = {}; // share paths, made by the administrator before the default instance starts
  let componentId;

  /**
   * A fresh backend on what the wx storage holds, as the administrator: reads what was persisted.
   * (On a copy: the default instance keeps its backend open on the storage itself, and only one
   * backend may be open on a storage at a time.)
   */
  async function contactsOf(userId) {
    const before = JSON.stringify(Array.from(env.storage.map));
    const source = plugin.wxStorage(wx);
    const copy = plugin.memoryStorage();
    for (const k of source.keys()) copy.set(k, source.get(k));
    const backend = await plugin.createLocalBackend({ storage: copy });
    try {
      const admin = await plugin.createVoipPlugin({ backend, openId: ADMIN });
      const list = await admin.getVoipBindContactList({ userId });
      expect(list).toHaveLength(1);
      expect(list[0]).toMatchObject({ user_id: userId, is_ad: 1 });
      return list[0].openid_list;
    } finally {
      backend.close();
      // Reading it must not have written to the device storage.
      expect(JSON.stringify(Array.from(env.storage.map))).toBe(before);
    }
  }

  async function until(what, predicate, comp, timeoutMs = 5000) {
    const start = Date.now();
    while (!predicate()) {
      if (Date.now() - start > timeoutMs) {
        throw new Error(`timed out waiting for ${what}; component data: ${JSON.stringify(comp && comp.data)}`);
      }
      await simulate.sleep(5);
    }
  }

  const text = (comp, selector) => {
    const node = comp.querySelector(selector);
    return node ? node.dom.textContent.trim() : undefined;
  };

  /** Renders the component the way the bind page does (<bind-contact query="{{query}}" />). */
  async function openBindPage(query, props = {}) {
    const comp = simulate.render(componentId, Object.assign({ query }, props));
    const outcomes = [];
    comp.addEventListener('outcome', (evt) => outcomes.push(evt.detail));
    const parent = document.createElement('parent-wrapper');
    document.body.appendChild(parent);
    comp.attach(parent); // runs lifetimes.attached -> inspect()

    // First paint, before the plugin answered.
    expect(comp.data.phase).toBe('loading');
    expect(text(comp, '.hint')).toBe('Checking the invitation…');
    expect(comp.querySelector('.bind')).toBeUndefined();

    await until('the inspection', () => comp.data.phase !== 'loading', comp);
    return { comp, outcomes };
  }

  function expectNoButtons(comp) {
    expect(comp.querySelector('.buttons')).toBeUndefined();
    expect(comp.querySelector('.bind')).toBeUndefined();
    expect(comp.querySelector('.cancel')).toBeUndefined();
    expect(comp.dom.querySelectorAll('wx-button')).toHaveLength(0);
    expect(comp.querySelector('.question')).toBeUndefined();
  }

  function expectBlocked(comp, outcomes, { type, userId, shownName, message }) {
    expect(comp.data).toMatchObject({ phase: 'done', outcome: type, busy: false });
    expectNoButtons(comp);
    expect(text(comp, '.name')).toBe(shownName);
    expect(text(comp, '.message')).toMatch(message);
    expect(comp.dom.textContent).toMatch(message);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toEqual({ type, errMsg: expect.stringMatching(/^bindContact:fail /), userId });
    // The end page of the host (setVoipEndPagePath in beforeAll) is opened with wx.redirectTo.
    expect(env.navigations).toEqual([{ api: 'redirectTo', url: '/pages/bound/bound?from=bind' }]);
  }

  describe(`bind-contact component (${label})`, () => {
    let events;
    let stopListening;

    beforeAll(async () => {
      // Load (compile + run the component's js) once per test file: simulate runs the js with
      // require() and then deletes require.cache[...], which jest's require ignores, so a second
      // load() would not run Component() again and render() would return undefined.
      componentId = simulate.load(COMPONENT, 'bind-contact', compiler.loadOptions);
      expect(typeof TextEncoder).toBe('undefined'); // the bundle must bring its own codec
      expect(typeof WebAssembly).toBe('undefined'); // only WXWebAssembly, as on a phone

      // The administrator, on the plugin's own storage (the same wx storage), with its own clock.
      let adminNow = Date.now() - 96 * HOUR; // opens, consents and mints the expired link in the past
      const backend = await plugin.createLocalBackend({ storage: plugin.wxStorage(wx), now: () => adminNow });
      const admin = await plugin.createVoipPlugin({ backend, openId: ADMIN });
      await admin.authorizeVoip();
      // The expired link first: the backend's clock never goes back, so the link minted 96 h
      // ago (default lifetime 72 h) must come before the others.
      const order = Object.entries(STUDENTS).sort(([a], [b]) => (a === 'expire' ? -1 : b === 'expire' ? 1 : 0));
      for (const [key, student] of order) {
        adminNow = key === 'expire' ? Date.now() - 96 * HOUR : Date.now();
        await admin.bindVoipAdminContact({ userId: student.userId });
        paths[key] = await admin.getBindContactPath(student);
      }
      backend.close();

      // The wasm was loaded once, the Mini Program way; the default instance has not started yet.
      expect(env.wasmLoads).toEqual([WASM_PATH]);
      expect(requireMiniProgram).not.toHaveBeenCalled();

      // What the host's app.js does in onLaunch.
      wmpfVoip.setVoipEndPagePath({ key: 'BindContact', url: '/pages/bound/bound', options: 'from=bind' });
    });

    beforeEach(() => {
      env.navigations.length = 0;
      events = [];
      stopListening = wmpfVoip.onVoipEvent((e) => events.push(e));
    });

    afterEach(() => {
      stopListening();
    });

    test('the share path is a plugin path for this host', () => {
      for (const [key, p] of Object.entries(paths)) {
        expect(p).toMatch(/^__plugin__\/wxcampusvoip0000\/pages\/bind-contact\/bind-contact\?userId=/);
        expect(queryOf(p)).toMatchObject(STUDENTS[key]);
      }
    });

    test('shows the student, then Bind makes the parent a contact (outcome success)', async () => {
      const s = STUDENTS.bind;
      // The host appends its own parameters to the share path (SPEC §3.4: never change the outcome).
      const { comp, outcomes } = await openBindPage(queryOf(paths.bind + '&from=demo-host'));

      // Configured lazily, once, from the host's export; no extra wasm load.
      expect(requireMiniProgram).toHaveBeenCalledTimes(1);
      expect(env.wasmLoads).toEqual([WASM_PATH]);

      expect(comp.data).toMatchObject({ phase: 'ready', userName: s.userName, userAvatar: s.userAvatar, initial: '小', busy: false });
      expect(text(comp, '.name')).toBe('小明 Xiao Ming');
      expect(text(comp, '.question')).toContain('Become a contact of 小明 Xiao Ming?');
      expect(comp.querySelector('.avatar').dom.tagName).toBe('WX-IMAGE'); // avatar given: an image
      expect(comp.querySelector('.placeholder')).toBeUndefined();
      expect(comp.querySelector('.message')).toBeUndefined();
      expect(text(comp, '.bind')).toBe('Bind');
      expect(text(comp, '.cancel')).toBe('Cancel');
      expect(comp.dom.querySelectorAll('wx-button')).toHaveLength(2);
      expect(outcomes).toEqual([]);
      expect(events).toEqual([]); // inspecting emits nothing
      expect(wmpfVoip.getPluginEnterOptions()).toEqual({
        path: 'pages/bind-contact/bind-contact',
        query: expect.objectContaining({ userId: s.userId, userName: s.userName, from: 'demo-host' }),
      });
      expect(await contactsOf(s.userId)).toEqual([ADMIN]);

      // A double tap: the second is ignored while the first is pending (busy).
      comp.querySelector('.bind').dispatchEvent('tap');
      comp.querySelector('.bind').dispatchEvent('tap');
      await until('the outcome', () => comp.data.phase === 'done', comp);
      await simulate.sleep(20);

      const expected = { type: 'success', errMsg: 'bindContact:ok', userId: s.userId };
      expect(outcomes).toEqual([expected]);
      // The component and this test share the plugin's default instance: its event is ours.
      expect(events).toEqual([{ eventName: 'bindContact', data: expected }]);
      expect(comp.data).toMatchObject({ phase: 'done', outcome: 'success', busy: false });
      expect(text(comp, '.message')).toBe('Done: you are now a contact and can receive calls.');
      expect(comp.querySelector('.message').dom.className).toMatch(/\bbind-contact--good\b/);
      expect(text(comp, '.name')).toBe('小明 Xiao Ming');
      expectNoButtons(comp);
      expect(env.navigations).toEqual([{ api: 'redirectTo', url: '/pages/bound/bound?from=bind' }]);

      // Persisted in the wx storage: the administrator (another backend) sees the new contact.
      expect(await contactsOf(s.userId)).toEqual([ADMIN, PARENT]);
      comp.detach();

      // Opening the same link again: already a contact (row 5), blocked before consent.
      env.navigations.length = 0;
      const again = await openBindPage(queryOf(paths.bind));
      await until('the outcome', () => again.comp.data.phase === 'done', again.comp);
      expectBlocked(again.comp, again.outcomes, {
        type: 'binded',
        userId: s.userId,
        shownName: s.userName,
        message: 'You are already a contact of this student.',
      });
      again.comp.detach();
    });

    test('Cancel declines: outcome cancel, nothing changes', async () => {
      const s = STUDENTS.cancel;
      const { comp, outcomes } = await openBindPage(queryOf(paths.cancel));
      expect(comp.data.phase).toBe('ready');
      expect(text(comp, '.name')).toBe('Li Lei');
      expect(comp.querySelector('.avatar').dom.tagName).toBe('WX-VIEW'); // no avatar: the initial
      expect(text(comp, '.placeholder')).toBe('L');

      comp.querySelector('.cancel').dispatchEvent('tap');
      await until('the outcome', () => comp.data.phase === 'done', comp);

      expect(outcomes).toHaveLength(1);
      expect(outcomes[0]).toEqual({ type: 'cancel', errMsg: expect.stringMatching(/^bindContact:fail /), userId: s.userId });
      expect(events).toEqual([{ eventName: 'bindContact', data: outcomes[0] }]);
      expect(comp.data).toMatchObject({ phase: 'done', outcome: 'cancel' });
      expect(text(comp, '.message')).toBe('You declined. Nothing was changed.');
      expect(comp.querySelector('.message').dom.className).not.toMatch(/--good/);
      expectNoButtons(comp);
      expect(env.navigations).toEqual([{ api: 'redirectTo', url: '/pages/bound/bound?from=bind' }]);
      expect(await contactsOf(s.userId)).toEqual([ADMIN]);
      comp.detach();
    });

    test('an expired link is blocked: outcome expire, no Bind/Cancel', async () => {
      const s = STUDENTS.expire;
      const { comp, outcomes } = await openBindPage(queryOf(paths.expire));
      await until('the outcome', () => comp.data.phase === 'done', comp);
      expectBlocked(comp, outcomes, {
        type: 'expire',
        userId: s.userId,
        shownName: 'Han Meimei', // the link verifies; only its lifetime is over
        message: 'This invitation has expired. Ask the administrator to share a new one.',
      });
      expect(events).toEqual([{ eventName: 'bindContact', data: outcomes[0] }]);
      expect(await contactsOf(s.userId)).toEqual([ADMIN]);
      comp.detach();
    });

    const tamperings = [
      ['userName changed', (q) => Object.assign(q, { userName: 'Wang Fan' })],
      ['userAvatar added', (q) => Object.assign(q, { userAvatar: 'https://evil.example/a.png' })],
      ['userId changed to another student of the same admin', (q) => Object.assign(q, { userId: STUDENTS.cancel.userId })],
      ['one ticket character changed', (q) => Object.assign(q, { ticket: q.ticket.slice(0, 20) + (q.ticket[20] === 'A' ? 'B' : 'A') + q.ticket.slice(21) })],
      ['ticket truncated', (q) => Object.assign(q, { ticket: q.ticket.slice(0, -4) })],
      ['ticket missing', (q) => { delete q.ticket; return q; }],
    ];

    test.each(tamperings)('a tampered link is blocked (%s): outcome invalid, no Bind/Cancel', async (_name, tamper) => {
      const query = tamper(queryOf(paths.tamper));
      const { comp, outcomes } = await openBindPage(query);
      await until('the outcome', () => comp.data.phase === 'done', comp);
      expectBlocked(comp, outcomes, {
        type: 'invalid',
        userId: query.userId,
        shownName: 'Unknown student', // nothing from an unverified link is shown
        message: 'This invitation is not valid (it was changed, or its sender is no longer the administrator).',
      });
      expect(comp.data).toMatchObject({ userName: '', userAvatar: '', initial: '?' });
      expect(text(comp, '.placeholder')).toBe('?');
      expect(await contactsOf(STUDENTS.tamper.userId)).toEqual([ADMIN]);
      expect(await contactsOf(STUDENTS.cancel.userId)).toEqual([ADMIN]);
      comp.detach();
    });

    test('without consent (consentOnBind false, consent revoked) Bind gives outcome auth', async () => {
      const s = STUDENTS.auth;
      await wmpfVoip.revokeVoip();
      const { comp, outcomes } = await openBindPage(queryOf(paths.auth), { consentOnBind: false });
      expect(comp.data.phase).toBe('ready'); // consent is asked after the inspection
      comp.querySelector('.bind').dispatchEvent('tap');
      await until('the outcome', () => comp.data.phase === 'done', comp);
      expect(outcomes).toEqual([{ type: 'auth', errMsg: expect.stringMatching(/^bindContact:fail /), userId: s.userId }]);
      expect(text(comp, '.message')).toBe('Calls were not allowed. Allow VoIP calls and open the invitation again.');
      expectNoButtons(comp);
      expect(await contactsOf(s.userId)).toEqual([ADMIN]);
      comp.detach();
    });
  });
}

module.exports = { defineBindContactSuite };
