// SPEC §1 and §9 (robustness): a battery of bad inputs across every API. Every one rejects (or
// throws, for synchronous APIs) with a VoipError — never a raw TypeError, never a string — with
// errCode 1004 or 20 (1001 for voipToken); nothing changes; and afterwards the SAME instances
// still work.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BACKEND,
  VoipError,
  assertVoipError,
  bindFamily,
  callRequest,
  cv,
  makeWorld,
  stateOf,
  settle,
} from './helpers.mjs';

const HUGE = 'x'.repeat(1 << 20); // 1 MiB
const LONE_HIGH = '\ud800';
const LONE_LOW = 'a\udc00b';

function throwingProxy() {
  const boom = () => {
    throw new Error('proxy trap (test)');
  };
  return new Proxy({}, { get: boom, has: boom, ownKeys: boom, getOwnPropertyDescriptor: boom, getPrototypeOf: boom });
}

function throwingArrayProxy() {
  return new Proxy(['dad'], {
    get(t, k) {
      if (k === 'length') return 1;
      throw new Error('array trap (test)');
    },
  });
}

function getterThrows(field, base = {}) {
  return Object.defineProperty({ ...base }, field, {
    enumerable: true,
    get() {
      throw new Error(`getter ${field} (test)`);
    },
  });
}

function manyKeys(n) {
  const o = {};
  for (let i = 0; i < n; i++) o['k' + i] = 'v';
  return o;
}

/** Bad values for a required string field such as userId. */
const BAD_USER_IDS = [
  ['undefined', undefined],
  ['null', null],
  ['number', 5],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['negative', -1],
  ['fraction', 1.5],
  ['boolean', true],
  ['array', ['s1']],
  ['object', { id: 's1' }],
  ['empty', ''],
  ['129 bytes', 'a'.repeat(129)],
  ['129 UTF-8 bytes (43 × 学)', '学'.repeat(43)],
  ['1 MiB', HUGE],
  ['NUL', 'a\u0000b'],
  ['tab', 'tab\t'],
  ['newline', 'line\n'],
  ['DEL', '\u007f'],
  ['U+001F', 'x\u001f'],
  ['lone high surrogate', LONE_HIGH],
  ['lone low surrogate', LONE_LOW],
  ['reversed pair', '\udc00\ud800'],
  ['bigint', 10n],
  ['symbol', Symbol('s1')],
  ['function', () => 's1'],
];

/** Bad values for the argument object itself. */
const BAD_OBJECTS = [
  ['undefined', undefined],
  ['null', null],
  ['number', 5],
  ['string', 's1'],
  ['boolean', false],
  ['array', []],
  ['array of the right object', [{ userId: 's1' }]],
  ['function', () => ({ userId: 's1' })],
  ['bigint', 1n],
  ['throwing Proxy', throwingProxy()],
  // Only the fields an API uses are read: the 200 others are never walked, the bad userId is refused.
  ['object with 200 properties and a bad userId', { ...manyKeys(200), userId: 5 }],
];

/** Builds the battery: [label, api, call(ctx), allowed errCodes, sync?]. */
function battery() {
  const cases = [];
  const add = (label, api, call, codes = [1004], sync = false) => cases.push({ label, api, call, codes, sync });
  // A case about the local backend itself (skipped against the contact service; see the reason).
  const addLocal = (why, ...args) => {
    add(...args);
    cases[cases.length - 1].local = why;
  };

  // ---- bindVoipAdminContact (as gran: consented and unbound, so a slip would create a student)
  for (const [l, v] of BAD_OBJECTS) add(`bindVoipAdminContact(${l})`, 'bindVoipAdminContact', (c) => c.gran.bindVoipAdminContact(v));
  add('bindVoipAdminContact({})', 'bindVoipAdminContact', (c) => c.gran.bindVoipAdminContact({}));
  add('bindVoipAdminContact(userId getter throws)', 'bindVoipAdminContact', (c) =>
    c.gran.bindVoipAdminContact(getterThrows('userId')),
  );
  for (const [l, v] of BAD_USER_IDS) {
    add(`bindVoipAdminContact userId ${l}`, 'bindVoipAdminContact', (c) => c.gran.bindVoipAdminContact({ userId: v }));
  }

  // ---- getBindContactPath (as mum, the admin of s1)
  const gbp = (over) => (c) => c.mum.getBindContactPath({ userId: 's1', userName: 'Xiao Ming', userAvatar: '', ...over });
  for (const [l, v] of BAD_OBJECTS) add(`getBindContactPath(${l})`, 'getBindContactPath', (c) => c.mum.getBindContactPath(v));
  for (const [l, v] of BAD_USER_IDS.filter((_, i) => i % 2 === 0)) add(`getBindContactPath userId ${l}`, 'getBindContactPath', gbp({ userId: v }));
  for (const [l, v] of [
    ['missing', undefined],
    ['null', null],
    ['number', 7],
    ['empty', ''],
    ['65 characters', 'n'.repeat(65)],
    ['1 MiB', HUGE],
    ['NUL', 'a\u0000'],
    ['newline', 'Xiao\nMing'],
    ['lone surrogate', 'Ming' + LONE_HIGH],
    ['array', ['Ming']],
  ]) {
    add(`getBindContactPath userName ${l}`, 'getBindContactPath', gbp({ userName: v }));
  }
  for (const [l, v] of [
    ['null', null],
    ['number', 1],
    ['ftp scheme', 'ftp://x/a.png'],
    ['javascript scheme', 'javascript:alert(1)'],
    ['data URL', 'data:image/png;base64,AAAA'],
    ['relative', '/img/a.png'],
    ['space', 'https://a b/c.png'],
    ['control character', 'https://x/\u0001.png'],
    ['over 1024 bytes', 'https://x/' + 'a'.repeat(1020)],
    ['1 MiB', HUGE],
    ['lone surrogate', 'https://x/' + LONE_HIGH],
    ['share path over 1024 bytes', 'https://x/' + '/'.repeat(400)],
  ]) {
    add(`getBindContactPath userAvatar ${l}`, 'getBindContactPath', gbp({ userAvatar: v }));
  }

  // ---- getVoipBindContactList
  for (const [l, v] of BAD_OBJECTS.filter(([l]) => l !== 'undefined')) {
    add(`getVoipBindContactList(${l})`, 'getVoipBindContactList', (c) => c.mum.getVoipBindContactList(v));
  }
  for (const [l, v] of BAD_USER_IDS.filter(([l]) => l !== 'undefined')) {
    add(`getVoipBindContactList userId ${l}`, 'getVoipBindContactList', (c) => c.mum.getVoipBindContactList({ userId: v }));
  }
  add('getVoipBindContactList(userId getter throws)', 'getVoipBindContactList', (c) =>
    c.mum.getVoipBindContactList(getterThrows('userId')),
  );

  // ---- deleteVoipBindContact (as mum; dad is a contact, so a slip would delete him)
  // (no default parameter: `undefined` is one of the bad userIds)
  const del = (openidList, ...u) => (c) => c.mum.deleteVoipBindContact({ userId: u.length ? u[0] : 's1', openidList });
  for (const [l, v] of BAD_OBJECTS) add(`deleteVoipBindContact(${l})`, 'deleteVoipBindContact', (c) => c.mum.deleteVoipBindContact(v));
  for (const [l, v] of BAD_USER_IDS.filter((_, i) => i % 3 === 0)) add(`deleteVoipBindContact userId ${l}`, 'deleteVoipBindContact', del(['dad'], v));
  for (const [l, v, codes] of [
    ['missing', undefined],
    ['null', null],
    ['a string', 'dad'],
    ['an object', { 0: 'dad', length: 1 }],
    ['empty', []],
    ['101 items', Array(101).fill('dad')],
    ['300 items', Array(300).fill('dad')],
    ['a number item', ['dad', 5]],
    ['a null item', ['dad', null]],
    ['an undefined item', ['dad', undefined]],
    ['a hole', [, 'dad']], // eslint-disable-line no-sparse-arrays
    ['a nested array', [['dad']]],
    ['an invalid openId', ['dad', 'bad id'], [20]],
    ['an empty openId', ['dad', ''], [20]],
    ['a 65-character openId', ['x'.repeat(65)], [20]],
    ['a non-ASCII openId', ['dád'], [20]],
    ['a lone surrogate', ['dad', LONE_HIGH]],
    ['a 1 MiB item', [HUGE]],
    ['an array Proxy that throws', throwingArrayProxy()],
    ['a 1 MiB string', HUGE],
  ]) {
    add(`deleteVoipBindContact openidList ${l}`, 'deleteVoipBindContact', del(v), codes || [1004]);
  }

  // ---- transerAdmin (as mum; dad is a contact)
  const tr = (newAdminOpenid, ...u) => (c) => c.mum.transerAdmin({ userId: u.length ? u[0] : 's1', newAdminOpenid });
  for (const [l, v] of BAD_OBJECTS) add(`transerAdmin(${l})`, 'transerAdmin', (c) => c.mum.transerAdmin(v));
  for (const [l, v, codes] of [
    ['missing', undefined],
    ['null', null],
    ['number', 5],
    ['array', ['dad']],
    ['object', { openId: 'dad' }],
    ['empty', '', [20]],
    ['space', 'd a d', [20]],
    ['65 characters', 'd'.repeat(65), [20]],
    ['lone surrogate', 'dad' + LONE_HIGH],
    ['1 MiB', HUGE],
  ]) {
    add(`transerAdmin newAdminOpenid ${l}`, 'transerAdmin', tr(v), codes || [1004]);
  }
  for (const [l, v] of BAD_USER_IDS.filter((_, i) => i % 4 === 1)) add(`transerAdmin userId ${l}`, 'transerAdmin', tr('dad', v));

  // ---- the bind page (as gran: consented, so a slip would bind her)
  for (const api of ['inspectBindContactPath', 'acceptBindContactPath', 'declineBindContactPath']) {
    for (const [l, v] of [
      ['undefined', undefined],
      ['null', null],
      ['number', 42],
      ['NaN', NaN],
      ['boolean', true],
      ['array', []],
      ['array of the path', ['pages/bind-contact/bind-contact?userId=s1']],
      ['function', () => 'x'],
      ['bigint', 5n],
      ['symbol', Symbol('p')],
      ['1 MiB string', HUGE],
      ['lone surrogate', 'pages/bind-contact/bind-contact?userId=' + LONE_HIGH],
      ['throwing Proxy', throwingProxy()],
      ['object with 200 properties', manyKeys(200)],
    ]) {
      add(`${api}(${l})`, api, (c) => c.gran[api](v));
    }
  }

  // ---- initByCaller (device; a slip with a valid token would start a call)
  const call = (mutate) => (c) => {
    const req = callRequest('s1', 'dad', c.token, {});
    mutate(req);
    return c.device.initByCaller(req);
  };
  for (const [l, v] of BAD_OBJECTS) add(`initByCaller(${l})`, 'initByCaller', (c) => c.device.initByCaller(v));
  const reqCases = [
    ['roomType missing', (r) => delete r.roomType],
    ['roomType audio', (r) => (r.roomType = 'audio')],
    ['roomType VOICE', (r) => (r.roomType = 'VOICE')],
    ['roomType number', (r) => (r.roomType = 1)],
    ['roomType null', (r) => (r.roomType = null)],
    ['caller missing', (r) => delete r.caller],
    ['caller null', (r) => (r.caller = null)],
    ['caller string', (r) => (r.caller = 's1')],
    ['caller array', (r) => (r.caller = [{ id: 's1' }])],
    ['caller throwing Proxy', (r) => (r.caller = throwingProxy())],
    ['caller.id getter throws', (r) => (r.caller = getterThrows('id'))],
    ['caller.id missing', (r) => (r.caller = {})],
    ['caller.id empty', (r) => (r.caller.id = '')],
    ['caller.id number', (r) => (r.caller.id = 1)],
    ['caller.id 1 MiB', (r) => (r.caller.id = HUGE)],
    ['caller.id NUL', (r) => (r.caller.id = 's\u00001')],
    ['caller.id lone surrogate', (r) => (r.caller.id = LONE_HIGH)],
    ['listener missing', (r) => delete r.listener],
    ['listener string', (r) => (r.listener = 'dad')],
    ['listener.id missing', (r) => (r.listener = {})],
    ['listener.id number', (r) => (r.listener.id = 5)],
    ['listener.id null', (r) => (r.listener.id = null)],
    ['listener.id lone surrogate', (r) => (r.listener.id = LONE_HIGH)],
    ['listener.id invalid', (r) => (r.listener.id = 'd@d'), [20]],
    ['listener.id empty', (r) => (r.listener.id = ''), [20]],
    ['listener.id 65 chars', (r) => (r.listener.id = 'd'.repeat(65)), [20]],
    ['caller.name empty', (r) => (r.caller.name = '')],
    ['caller.name 65 chars', (r) => (r.caller.name = 'n'.repeat(65))],
    ['caller.name number', (r) => (r.caller.name = 5)],
    ['caller.name bell', (r) => (r.caller.name = 'a\u0007')],
    ['listener.name null', (r) => (r.listener.name = null)],
    ['cameraStatus 2', (r) => (r.caller.cameraStatus = 2)],
    ['cameraStatus -1', (r) => (r.listener.cameraStatus = -1)],
    ['cameraStatus 0.5', (r) => (r.caller.cameraStatus = 0.5)],
    ['cameraStatus string', (r) => (r.caller.cameraStatus = '1')],
    ['cameraStatus NaN', (r) => (r.caller.cameraStatus = NaN)],
    ['businessType 4', (r) => (r.businessType = 4)],
    ['businessType -1', (r) => (r.businessType = -1)],
    ['businessType 1.5', (r) => (r.businessType = 1.5)],
    ['businessType NaN', (r) => (r.businessType = NaN)],
    ['businessType Infinity', (r) => (r.businessType = Infinity)],
    ['businessType string', (r) => (r.businessType = '0')],
    ['businessType null', (r) => (r.businessType = null)],
    ['timeLimit 0', (r) => (r.timeLimit = 0)],
    ['timeLimit -1', (r) => (r.timeLimit = -1)],
    ['timeLimit NaN', (r) => (r.timeLimit = NaN)],
    ['timeLimit Infinity', (r) => (r.timeLimit = Infinity)],
    ['timeLimit -Infinity', (r) => (r.timeLimit = -Infinity)],
    ['timeLimit string', (r) => (r.timeLimit = '60')],
    ['timeLimit null', (r) => (r.timeLimit = null)],
    ['miniprogramState prod', (r) => (r.miniprogramState = 'prod')],
    ['miniprogramState empty', (r) => (r.miniprogramState = '')],
    ['miniprogramState FORMAL', (r) => (r.miniprogramState = 'FORMAL')],
    ['miniprogramState number', (r) => (r.miniprogramState = 1)],
    ['customQuery 2000 bytes', (r) => (r.customQuery = 'q'.repeat(2000))],
    ['customQuery newline', (r) => (r.customQuery = 'a=1\nb=2')],
    ['customQuery number', (r) => (r.customQuery = 5)],
    ['customQuery 1 MiB', (r) => (r.customQuery = HUGE)],
    ['voipToken missing', (r) => delete r.voipToken, [1001]],
    ['voipToken empty', (r) => (r.voipToken = ''), [1001]],
    ['voipToken number', (r) => (r.voipToken = 12345), [1001]],
    ['voipToken null', (r) => (r.voipToken = null), [1001]],
    ['voipToken object', (r) => (r.voipToken = {}), [1001]],
    ['voipToken array', (r) => (r.voipToken = ['t']), [1001]],
    ['voipToken 1 MiB', (r) => (r.voipToken = HUGE), [1001, 1004]],
    ['voipToken lone surrogate', (r) => (r.voipToken = LONE_HIGH), [1001, 1004]],
  ];
  for (const [l, mutate, codes] of reqCases) add(`initByCaller ${l}`, 'initByCaller', call(mutate), codes || [1004]);

  // ---- synchronous APIs
  for (const [l, v] of [
    ['undefined', undefined],
    ['null', null],
    ['number', 5],
    ['string', 'listener'],
    ['object', {}],
    ['array', []],
    ['handleEvent object', { handleEvent() {} }],
    ['symbol', Symbol('l')],
  ]) {
    add(`onVoipEvent(${l})`, 'onVoipEvent', (c) => c.gran.onVoipEvent(v), [1004], true);
  }
  for (const [l, v] of [
    ['undefined', undefined],
    ['null', null],
    ['number', 5],
    ['string', '/pages/a'],
    ['array', []],
    ['empty object', {}],
    ['lower-case key', { key: 'bindContact', url: '/p' }],
    ['unknown key', { key: 'Other', url: '/p' }],
    ['url missing', { key: 'Call' }],
    ['url empty', { key: 'Call', url: '' }],
    ['url number', { key: 'Call', url: 5 }],
    ['url null', { key: 'Call', url: null }],
    ['url 2000 characters', { key: 'Call', url: '/' + 'p'.repeat(2000) }],
    ['url 1 MiB', { key: 'Call', url: HUGE }],
    ['url newline', { key: 'Call', url: '/p\n' }],
    ['options number', { key: 'Call', url: '/p', options: 5 }],
    ['options null', { key: 'Call', url: '/p', options: null }],
    ['options NUL', { key: 'Call', url: '/p', options: 'a=\u0000' }],
    ['options 2000 characters', { key: 'Call', url: '/p', options: 'a'.repeat(2000) }],
    ['options object', { key: 'Call', url: '/p', options: { a: 1 } }],
    ['routeType navigateTo', { key: 'Call', url: '/p', routeType: 'navigateTo' }],
    ['routeType number', { key: 'Call', url: '/p', routeType: 1 }],
    ['routeType null', { key: 'Call', url: '/p', routeType: null }],
    ['routeType empty', { key: 'Call', url: '/p', routeType: '' }],
  ]) {
    add(`setVoipEndPagePath(${l})`, 'setVoipEndPagePath', (c) => c.gran.setVoipEndPagePath(v), [1004], true);
  }
  for (const [l, v] of [
    ['number', 5],
    ['NaN', NaN],
    ['object', {}],
    ['array', []],
    ['boolean', true],
    ['1 MiB', HUGE],
    ['lone surrogate', LONE_HIGH],
  ]) {
    // On a device in a call: a bad roomId throws and the call goes on. (null means "no
    // argument", like undefined: api.test.mjs.)
    const hangUp = [`forceHangUpVoip(${l})`, 'forceHangUpVoip', (c) => c.inCall.forceHangUpVoip(v), [1004], true];
    // Over http the call slot is the http backend's own (js/http-backend.js): it compares the
    // roomId with its call's and checks no string limit (those are the core's input rules).
    if (typeof v === 'string') addLocal('the roomId string limits are checked by the local core', ...hangUp);
    else add(...hangUp);
  }
  // ---- answerVoip / rejectVoip (as dad, the listener of inCall's ringing call: a slip would
  // connect or end it)
  for (const api of ['answerVoip', 'rejectVoip']) {
    for (const [l, v] of BAD_OBJECTS) add(`${api}(${l})`, api, (c) => c.dad[api](v));
    for (const [l, v] of [
      ['{}', {}],
      ['roomId getter throws', getterThrows('roomId')],
      ['roomId null', { roomId: null }],
      ['roomId number', { roomId: 5 }],
      ['roomId NaN', { roomId: NaN }],
      ['roomId object', { roomId: {} }],
      ['roomId array', { roomId: [] }],
      ['roomId boolean', { roomId: true }],
      ['roomId empty', { roomId: '' }],
      ['roomId of no call', { roomId: 'no-such-room' }],
    ]) {
      add(`${api}(${l})`, api, (c) => c.dad[api](v));
    }
    for (const [l, v] of [
      ['roomId 1 MiB', { roomId: HUGE }],
      ['roomId lone surrogate', { roomId: LONE_HIGH }],
      ['roomId NUL', { roomId: 'a\u0000b' }],
    ]) {
      addLocal('the roomId string limits are checked by the local core', `${api}(${l})`, api, (c) => c.dad[api](v));
    }
  }

  // ---- getVoipCallList (the developer query; on the service, the school server's getvoipcalllist)
  for (const [l, v] of [
    ['undefined', undefined],
    ['null', null],
    ['string', 's1'],
    ['empty object', {}],
    ['wrong field name', { userId: 's1' }],
    ['user_id number', { user_id: 5 }],
    ['user_id 1 MiB', { user_id: HUGE }],
    ['begin_time negative', { user_id: 's1', begin_time: -1 }],
    ['begin_time fraction', { user_id: 's1', begin_time: 0.5 }],
    ['begin_time string', { user_id: 's1', begin_time: '0' }],
    ['end_time NaN', { user_id: 's1', end_time: NaN }],
    ['end_time before begin_time', { user_id: 's1', begin_time: 100, end_time: 99 }],
    ['throwing Proxy', throwingProxy()],
  ]) {
    addLocal('a development helper of the local backend', `getVoipCallList(${l})`, 'getVoipCallList', (c) => c.backend.getVoipCallList(v));
  }
  for (const [l, f] of [
    ['webStorage(undefined)', () => cv.webStorage(undefined)],
    ['webStorage(null)', () => cv.webStorage(null)],
    ['webStorage({})', () => cv.webStorage({})],
    ['webStorage(getItem only)', () => cv.webStorage({ getItem() {} })],
    ['wxStorage(undefined)', () => cv.wxStorage(undefined)],
    ['wxStorage({})', () => cv.wxStorage({})],
    ['wxStorage(5)', () => cv.wxStorage(5)],
    ['fileStorage(undefined)', () => cv.fileStorage(undefined)],
    ['fileStorage("")', () => cv.fileStorage('')],
    ['fileStorage(5)', () => cv.fileStorage(5)],
    ['fileStorage({})', () => cv.fileStorage({})],
  ]) {
    add(l, l.split('(')[0], f, [1004], true);
  }

  // ---- backend development helpers
  for (const api of ['issueVoipToken', 'resetStudent']) {
    for (const [l, v] of [
      ['undefined', undefined],
      ['null', null],
      ['number', 5],
      ['array', [{ userId: 's1' }]],
      ['empty object', {}],
      ['userId number', { userId: 5 }],
      ['userId empty', { userId: '' }],
      ['userId 1 MiB', { userId: HUGE }],
      ['userId NUL', { userId: 's1\u0000' }],
      ['userId lone surrogate', { userId: LONE_HIGH }],
      ['throwing Proxy', throwingProxy()],
    ]) {
      const k = [`${api}(${l})`, api, (c) => c.backend[api](v)];
      // On the service, resetStudent is the school server's /wxa/business/resetvoipcontact
      // (47001 for these; server/tests/v1.rs).
      if (api === 'resetStudent') addLocal('a development helper of the local backend', ...k);
      else add(...k);
    }
  }
  for (const [l, v] of [
    ['undefined', undefined],
    ['empty object', {}],
    ['wrong field name', { userId: 's1' }],
    ['user_id number', { user_id: 5 }],
    ['user_id empty', { user_id: '' }],
    ['user_id 1 MiB', { user_id: HUGE }],
  ]) {
    // On the service, the school server's /wxa/business/getvoipcontactlist (44002 / 47001).
    addLocal('a development helper of the local backend', `getVoipContactList(${l})`, 'getVoipContactList', (c) => c.backend.getVoipContactList(v));
  }

  // ---- factories (with the battery's own storage where a storage is given: nothing may be written)
  for (const [l, v] of [
    ['null', null],
    ['number', 5],
    ['string', 'memory'],
    ['boolean', true],
    ['function', () => ({})],
  ]) {
    add(`createLocalBackend(${l})`, 'createLocalBackend', () => cv.createLocalBackend(v));
  }
  const clb = (over) => (c) => cv.createLocalBackend({ storage: c.storage, ...over });
  for (const [l, over] of [
    ['maxContacts 0', { maxContacts: 0 }],
    ['maxContacts 101', { maxContacts: 101 }],
    ['maxContacts 1.5', { maxContacts: 1.5 }],
    ['maxContacts -1', { maxContacts: -1 }],
    ['maxContacts NaN', { maxContacts: NaN }],
    ['maxContacts Infinity', { maxContacts: Infinity }],
    ['maxContacts string', { maxContacts: '5' }],
    ['maxContacts null', { maxContacts: null }],
    ['maxContacts array', { maxContacts: [5] }],
    ['ticketTtlMs 59999', { ticketTtlMs: 59_999 }],
    ['ticketTtlMs 30 days + 1', { ticketTtlMs: 30 * 24 * 3600 * 1000 + 1 }],
    ['ticketTtlMs NaN', { ticketTtlMs: NaN }],
    ['ticketTtlMs negative', { ticketTtlMs: -60_000 }],
    ['ticketTtlMs string', { ticketTtlMs: '60000' }],
    ['voipTokenTtlMs 9999', { voipTokenTtlMs: 9_999 }],
    ['voipTokenTtlMs 1 hour + 1', { voipTokenTtlMs: 3_600_001 }],
    ['voipTokenTtlMs fraction', { voipTokenTtlMs: 10_000.5 }],
    ['ringTimeoutMs 4999', { ringTimeoutMs: 4_999 }],
    ['ringTimeoutMs 120001', { ringTimeoutMs: 120_001 }],
    ['ringTimeoutMs fraction', { ringTimeoutMs: 30_000.5 }],
    ['ringTimeoutMs string', { ringTimeoutMs: '30000' }],
    ['ringTimeoutMs null', { ringTimeoutMs: null }],
    ['now number', { now: 5 }],
    ['now string', { now: 'Date.now' }],
    ['now null', { now: null }],
    ['now object', { now: {} }],
    ['storage {}', { storage: {} }],
    ['storage null', { storage: null }],
    ['storage number', { storage: 5 }],
    ['storage string', { storage: 'localStorage' }],
    ['storage without keys()', { storage: { get() {}, set() {}, remove() {} } }],
    ['namespace number', { namespace: 5 }],
    ['namespace 65 characters', { namespace: 'n'.repeat(65) }],
    ['namespace null', { namespace: null }],
    ['pluginAppId invalid', { pluginAppId: 'wx app' }],
    ['pluginAppId number', { pluginAppId: 5 }],
    ['pluginAppId empty', { pluginAppId: '' }],
    ['pluginAppId 1 MiB', { pluginAppId: HUGE }],
    ['pathPrefix with ?', { pathPrefix: 'a?b/' }],
    ['pathPrefix with space', { pathPrefix: 'a b/' }],
    ['pathPrefix 300 bytes', { pathPrefix: 'p'.repeat(300) }],
    ['pathPrefix newline', { pathPrefix: 'a\n/' }],
    ['pathPrefix number', { pathPrefix: 5 }],
    ['restore string', { dev: true, restore: 'snapshot' }],
    ['restore array', { dev: true, restore: [1, 2, 3] }],
    ['restore ArrayBuffer', { dev: true, restore: new ArrayBuffer(8) }],
    ['restore null', { dev: true, restore: null }],
    ['dev string', { dev: 'yes' }],
    ['unknown key (a typo of maxContacts)', { maxContact: 5 }],
    ['unknown key', { storag: null }],
  ]) {
    add(`createLocalBackend(${l})`, 'createLocalBackend', clb(over));
  }
  for (const [l, f, codes] of [
    ['undefined', () => undefined],
    ['null', () => null],
    ['number', () => 5],
    ['string', () => 'mum'],
    ['empty object', () => ({})],
    ['backend null', () => ({ backend: null })],
    ['backend {}', () => ({ backend: {} })],
    ['backend string', () => ({ backend: 'local' })],
    ['backend options object', () => ({ backend: { type: 'local' } })],
    ['openId invalid', (c) => ({ backend: c.backend, openId: 'bad id' }), [20]],
    ['openId empty', (c) => ({ backend: c.backend, openId: '' }), [20]],
    ['openId 65 characters', (c) => ({ backend: c.backend, openId: 'o'.repeat(65) }), [20]],
    ['openId number', (c) => ({ backend: c.backend, openId: 5 })],
    ['openId null', (c) => ({ backend: c.backend, openId: null })],
    ['openId array', (c) => ({ backend: c.backend, openId: ['mum'] })],
    ['openId lone surrogate', (c) => ({ backend: c.backend, openId: 'mum' + LONE_HIGH })],
    ['openId 1 MiB', (c) => ({ backend: c.backend, openId: HUGE })],
    ['compatVersion 2.3', (c) => ({ backend: c.backend, compatVersion: '2.3' })],
    ['compatVersion 2.3.8.1', (c) => ({ backend: c.backend, compatVersion: '2.3.8.1' })],
    ['compatVersion latest', (c) => ({ backend: c.backend, compatVersion: 'latest' })],
    ['compatVersion number', (c) => ({ backend: c.backend, compatVersion: 2.38 })],
    ['compatVersion empty', (c) => ({ backend: c.backend, compatVersion: '' })],
    ['compatVersion null', (c) => ({ backend: c.backend, compatVersion: null })],
    ['navigate number', (c) => ({ backend: c.backend, openId: 'mum', navigate: 5 })],
    ['navigate string', (c) => ({ backend: c.backend, navigate: 'wx.redirectTo' })],
    ['navigate object', (c) => ({ backend: c.backend, navigate: {} })],
  ]) {
    const k = [`createVoipPlugin(${l})`, 'createVoipPlugin', (c) => cv.createVoipPlugin(f(c)), codes || [1004]];
    // The backend the cases name is the local one; over http an identity is a session's.
    if (/backend: c\.backend/.test(String(f))) addLocal('createVoipPlugin on the local backend (openId, compatVersion, navigate)', ...k);
    else add(...k);
  }
  return cases;
}

async function setup() {
  const w = await makeWorld({ maxContacts: 5, people: ['mum', 'dad', 'uncle'] });
  const navs = [];
  const gran = await w.plugin({ openId: 'gran', navigate: (r) => navs.push(r) });
  w.people.gran = gran;
  await bindFamily(w, 's1', 'mum', ['dad']);
  await gran.authorizeVoip();
  gran.setVoipEndPagePath({ key: 'BindContact', url: '/pages/bound/bound', options: 'ok=1' });
  // The battery's device has made and ended a call (it is attached to the backend's calls).
  const t0 = await w.backend.issueVoipToken({ userId: 's1' });
  assert.equal((await w.device.initByCaller(callRequest('s1', 'mum', t0))).isSuccess, true);
  w.device.forceHangUpVoip();
  await settle(); // over the service the hang-up is a request
  // Another device stays in a call for the whole battery.
  const inCall = await w.plugin();
  const room = await inCall.initByCaller(callRequest('s1', 'dad', await w.backend.issueVoipToken({ userId: 's1' })));
  assert.equal(room.isSuccess, true);
  const token = await w.backend.issueVoipToken({ userId: 's1' }); // valid: a slip would use it
  const events = [];
  for (const [who, p] of Object.entries({ mum: w.mum, dad: w.dad, gran, device: w.device, inCall })) {
    p.onVoipEvent((e) => events.push({ who, ...e }));
  }
  return { ...w, gran, inCall, room, token, events, navs };
}

describe('bad-input battery', () => {
  test('every bad input is a VoipError (1004 / 20 / 1001) and nothing changes; the same instances still work', async () => {
    const c = await setup();
    const cases = battery().filter((k) => BACKEND === 'local' || !k.local);
    assert.ok(cases.length >= 100, `at least 100 bad inputs (got ${cases.length})`);
    const stateBefore = await stateOf(c, ['s1', 's2', 'x']);
    const listsBefore = [await c.mum.getVoipBindContactList(), await c.dad.getVoipBindContactList(), await c.gran.getVoipBindContactList()];
    const failures = [];
    for (const k of cases) {
      let result;
      let syncError;
      let threw = false;
      try {
        result = k.call(c);
      } catch (e) {
        threw = true;
        syncError = e;
      }
      let err;
      if (k.sync) {
        if (!threw) {
          failures.push(`${k.label}: did not throw (returned ${String(result)})`);
          continue;
        }
        err = syncError;
      } else {
        if (threw) {
          failures.push(`${k.label}: threw synchronously instead of rejecting: ${syncError && syncError.message}`);
          continue;
        }
        if (!result || typeof result.then !== 'function') {
          failures.push(`${k.label}: did not return a promise`);
          continue;
        }
        let resolved = false;
        try {
          const v = await result;
          resolved = true;
          if (v && typeof v.close === 'function' && k.api === 'createLocalBackend') v.close();
          failures.push(`${k.label}: resolved ${JSON.stringify(v)?.slice(0, 100)}`);
        } catch (e) {
          err = e;
        }
        if (resolved) continue;
      }
      try {
        assertVoipError(err, { api: k.api, errCode: k.codes });
      } catch (e) {
        failures.push(`${k.label}: ${e.message}`);
      }
    }
    assert.deepEqual(failures, [], `${failures.length} of ${cases.length} bad inputs misbehaved`);

    // Nothing changed: storage byte for byte and the snapshot (local), every list; no event, no
    // navigation.
    assert.deepEqual(await stateOf(c, ['s1', 's2', 'x']), stateBefore);
    assert.deepEqual(
      [await c.mum.getVoipBindContactList(), await c.dad.getVoipBindContactList(), await c.gran.getVoipBindContactList()],
      listsBefore,
    );
    assert.deepEqual(c.events, []);
    assert.deepEqual(c.navs, []);

    // The SAME instances still work: a full bind + call story.
    const sharePath = await c.mum.getBindContactPath({ userId: 's1', userName: '小明', userAvatar: 'https://x/a.png' });
    assert.equal((await c.gran.inspectBindContactPath(sharePath)).status, 'ready');
    assert.deepEqual(await c.gran.acceptBindContactPath(sharePath), { type: 'success', errMsg: 'bindContact:ok', userId: 's1' });
    assert.equal(c.navs.length, 1);
    assert.equal(c.navs[0].path, '/pages/bound/bound?ok=1', 'the end page set before the battery is intact');
    assert.deepEqual(await c.gran.getVoipBindContactList(), [{ user_id: 's1', is_ad: 0, openid_list: ['gran'] }]);
    const r = await c.device.initByCaller(callRequest('s1', 'gran', c.token));
    assert.equal(r.isSuccess, true, r.errMsg);
    await c.gran.answerVoip({ roomId: r.roomId });
    await c.clock.advance(2000);
    c.device.forceHangUpVoip(r.roomId);
    await settle(); // over the service the hang-up is a request
    // The device in a call throughout: its call is still the same, still ringing (a cancel), and
    // ends normally.
    c.inCall.forceHangUpVoip(c.room.roomId);
    await settle(); // over the service the hang-up is a request
    await new Promise((resolve) => setTimeout(resolve, BACKEND === 'http' ? 300 : 0));
    const heard = (who) => c.events.filter((e) => e.who === who && e.eventName !== 'bindContact').map((e) => [e.eventName, e.roomId]);
    assert.deepEqual(heard('device'), [
      ['joinedRoomByCaller', r.roomId],
      ['startVoip', r.roomId],
      ['hangUpVoip', r.roomId],
      ['endVoip', r.roomId],
      ['finishVoip', r.roomId],
    ]);
    assert.deepEqual(heard('gran'), [
      ['incomingVoip', r.roomId],
      ['hangOnVoip', r.roomId],
      ['startVoip', r.roomId],
      ['hangUpVoip', r.roomId],
      ['endVoip', r.roomId],
      ['finishVoip', r.roomId],
    ]);
    for (const who of ['inCall', 'dad']) {
      assert.deepEqual(heard(who), [
        ['cancelVoip', c.room.roomId],
        ['endVoip', c.room.roomId],
        ['finishVoip', c.room.roomId],
      ], who);
    }
    assert.deepEqual(heard('mum'), []);
    assert.equal(c.events.find((e) => e.who === 'device' && e.eventName === 'endVoip').data.keepTime, 2000);
    await c.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'gran' });
    const del = await c.gran.deleteVoipBindContact({ userId: 's1', openidList: ['dad'] });
    assert.deepEqual(del.deleted, ['dad']);
    await c.uncle.authorizeVoip();
    assert.deepEqual(await c.uncle.bindVoipAdminContact({ userId: 's2' }), {
      errCode: 0,
      errMsg: 'bindVoipAdminContact:ok',
      userId: 's2',
    });
    const listener = () => {};
    const off = c.gran.onVoipEvent(listener);
    assert.equal(typeof off, 'function');
    assert.equal(await c.backend.resetStudent({ userId: 's2' }).then((x) => x.removed), true);
  });
});

describe('bad inputs found by this suite (regressions)', () => {
  // Each of these once escaped as a raw error or was accepted; now a VoipError with errCode 1004.
  const expect1004 = async (thunk, api, sync = false) => {
    let err;
    let resolved;
    try {
      const r = thunk();
      if (sync) resolved = r;
      else resolved = await r;
    } catch (e) {
      err = e;
    }
    assert.ok(err !== undefined, `${api} accepted a bad input (returned ${resolved})`);
    assert.ok(err instanceof VoipError, `${api}: a raw ${err && err.constructor && err.constructor.name}: ${err && err.message}`);
    assertVoipError(err, { api, errCode: 1004 });
  };

  test(
    'createLocalBackend: options with a throwing getter or a throwing Proxy',
    async () => {
      await expect1004(() => cv.createLocalBackend(throwingProxy()), 'createLocalBackend');
      await expect1004(() => cv.createLocalBackend(getterThrows('storage')), 'createLocalBackend');
      await expect1004(() => cv.createLocalBackend(getterThrows('maxContacts')), 'createLocalBackend');
    },
  );

  test(
    'createLocalBackend: an array as the options object',
    async () => {
      await expect1004(() => cv.createLocalBackend([]), 'createLocalBackend');
    },
  );

  test(
    'createVoipPlugin: options with a throwing getter or a throwing Proxy',
    async () => {
      const b = await cv.createLocalBackend();
      await expect1004(() => cv.createVoipPlugin(throwingProxy()), 'createVoipPlugin');
      await expect1004(() => cv.createVoipPlugin(getterThrows('backend')), 'createVoipPlugin');
      await expect1004(() => cv.createVoipPlugin(getterThrows('openId', { backend: b })), 'createVoipPlugin');
      await expect1004(() => cv.createVoipPlugin(getterThrows('navigate', { backend: b })), 'createVoipPlugin');
    },
  );

  test(
    'setVoipEndPagePath: a throwing getter or Proxy',
    async () => {
      const w = await makeWorld({ people: ['mum'] });
      await expect1004(() => w.mum.setVoipEndPagePath(throwingProxy()), 'setVoipEndPagePath', true);
      await expect1004(() => w.mum.setVoipEndPagePath(getterThrows('url', { key: 'Call' })), 'setVoipEndPagePath', true);
    },
  );

  test(
    'setVoipEndPagePath: lone surrogates in url / options',
    async () => {
      const w = await makeWorld({ people: ['mum'] });
      await expect1004(() => w.mum.setVoipEndPagePath({ key: 'Call', url: '/p' + LONE_HIGH }), 'setVoipEndPagePath', true);
      await expect1004(
        () => w.mum.setVoipEndPagePath({ key: 'Call', url: '/p', options: 'a=' + LONE_LOW }),
        'setVoipEndPagePath',
        true,
      );
    },
  );

  test(
    'forceHangUpVoip: a bad roomId on an instance that never called',
    async () => {
      const w = await makeWorld({ people: ['mum'] });
      await expect1004(() => w.device.forceHangUpVoip(5), 'forceHangUpVoip', true);
      await expect1004(() => w.device.forceHangUpVoip({}), 'forceHangUpVoip', true);
    },
  );
});
