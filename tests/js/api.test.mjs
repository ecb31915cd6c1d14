// SPEC §3: every API of the plugin instance, with exact result shapes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BACKEND,
  MINUTE,
  VOIP_TOKEN_TTL,
  T0,
  VoipCgiError,
  VoipError,
  VoipPluginError,
  bindFamily,
  callRequest,
  cv,
  makeWorld,
  quietErrors,
  rejectsVoip,
  settle,
} from './helpers.mjs';

describe('package exports', () => {
  test('named exports and the default instance', () => {
    for (const name of [
      'createVoipPlugin',
      'createLocalBackend',
      'configure',
      'memoryStorage',
      'webStorage',
      'wxStorage',
      'fileStorage',
    ]) {
      assert.equal(typeof cv[name], 'function', name);
    }
    assert.equal(typeof cv.PLUGIN_VERSION, 'string');
    assert.match(cv.PLUGIN_VERSION, /^\d+\.\d+\.\d+$/);
    assert.equal(cv.PLUGIN_VERSION, '2.4.0');
    assert.ok(cv.default && typeof cv.default.initByCaller === 'function');
    // Real Error subclasses.
    assert.ok(new VoipPluginError(1004, 'INVALID_ARGUMENT', 'x:fail y') instanceof VoipError);
    assert.ok(new VoipCgiError(3001, 'NOT_ADMIN', 'x:fail y') instanceof Error);
    const e = new VoipCgiError(3001, 'NOT_ADMIN', 'x:fail y');
    assert.equal(e.message, 'x:fail y');
    assert.equal(e.errMsg, 'x:fail y');
    assert.equal(e.errCode, 3001);
    assert.equal(e.code, 'NOT_ADMIN');
    assert.ok(typeof e.stack === 'string');
  });

  test('the instance exposes the whole API', async () => {
    const w = await makeWorld();
    for (const m of [
      'authorizeVoip',
      'revokeVoip',
      'bindVoipAdminContact',
      'getBindContactPath',
      'getVoipBindContactList',
      'deleteVoipBindContact',
      'transerAdmin',
      'inspectBindContactPath',
      'acceptBindContactPath',
      'declineBindContactPath',
      'onVoipEvent',
      'setVoipEndPagePath',
      'getPluginEnterOptions',
      'getPluginOnloadOptions',
      'initByCaller',
      'forceHangUpVoip',
      'getVoipConsent',
      'getDevBackend',
      'getOpenId',
      'dispose',
    ]) {
      assert.equal(typeof w.mum[m], 'function', m);
    }
    assert.equal(await w.mum.getOpenId(), 'mum');
    assert.equal(await w.device.getOpenId(), undefined);
    assert.equal(w.mum.getBackend, undefined, 'no instance hands out its backend');
    assert.equal(w.backend.type, BACKEND);
    if (BACKEND === 'local') {
      assert.equal(await w.mum.getDevBackend(), w.backend);
      assert.equal(w.backend.now(), T0);
    } else {
      // The service's helpers are its own (/v1/dev/*, /wxa): no instance hands out a dev backend.
      await rejectsVoip(w.mum.getDevBackend(), { api: 'getDevBackend', errCode: 1011 });
    }
  });
});

describe('consent and contact APIs (§3.2, §3.3)', () => {
  test('authorizeVoip / revokeVoip result shapes; idempotent', async () => {
    const w = await makeWorld();
    assert.deepEqual(await w.mum.authorizeVoip(), { errCode: 0, errMsg: 'authorizeVoip:ok' });
    assert.deepEqual(await w.mum.authorizeVoip(), { errCode: 0, errMsg: 'authorizeVoip:ok' });
    assert.deepEqual(await w.mum.revokeVoip(), { errCode: 0, errMsg: 'revokeVoip:ok' });
    assert.deepEqual(await w.mum.revokeVoip(), { errCode: 0, errMsg: 'revokeVoip:ok' });
    // Revoked: binding needs consent again.
    await rejectsVoip(w.mum.bindVoipAdminContact({ userId: 's1' }), { api: 'bindVoipAdminContact', errCode: 8 });
  });

  test('bindVoipAdminContact: first binder becomes admin; again is a no-op; others get ADMIN_EXISTS', async () => {
    const w = await makeWorld();
    await w.mum.authorizeVoip();
    assert.deepEqual(await w.mum.bindVoipAdminContact({ userId: 's1' }), {
      errCode: 0,
      errMsg: 'bindVoipAdminContact:ok',
      userId: 's1',
    });
    assert.deepEqual((await w.backend.stats()), { students: 1, contacts: 1 });
    assert.deepEqual(await w.mum.bindVoipAdminContact({ userId: 's1' }), {
      errCode: 0,
      errMsg: 'bindVoipAdminContact:ok',
      userId: 's1',
    });
    assert.deepEqual((await w.backend.stats()), { students: 1, contacts: 1 });
    await w.dad.authorizeVoip();
    await rejectsVoip(w.dad.bindVoipAdminContact({ userId: 's1' }), { api: 'bindVoipAdminContact', errCode: 3002 });
    assert.deepEqual(await w.backend.getVoipContactList({ user_id: 's1' }), {
      errcode: 0,
      errmsg: 'ok',
      contact_list: [{ open_id: 'mum', role: 1 }],
    });
  });

  test('pluginAppId (the service: --plugin-app-id): share paths open the plugin page from the host (__plugin__/<appid>/)', async () => {
    const w = await makeWorld({ pluginAppId: 'wx0123456789abcdef' });
    const path = await bindFamily(w, 's1', 'mum');
    assert.ok(path.startsWith('__plugin__/wx0123456789abcdef/pages/bind-contact/bind-contact?'), path);
    await w.dad.authorizeVoip();
    assert.equal((await w.dad.acceptBindContactPath(path)).type, 'success');
  });

  test('getBindContactPath resolves a string share path (§4)', async () => {
    const w = await makeWorld();
    await bindFamily(w, 's1', 'mum');
    const userName = '小明 &=?#%+😀';
    const userAvatar = 'https://img.example/a.png?x=1&y=2#f';
    const p = await w.mum.getBindContactPath({ userId: 'stu 1/学', userName, userAvatar }).catch((e) => e);
    // Not the admin of that other student.
    assert.ok(p instanceof VoipCgiError && p.errCode === 3001);
    const path = await w.mum.getBindContactPath({ userId: 's1', userName, userAvatar });
    assert.equal(typeof path, 'string');
    assert.ok(path.startsWith('pages/bind-contact/bind-contact?'), path);
    const q = new URLSearchParams(path.split('?')[1]);
    assert.deepEqual([...q.keys()], ['userId', 'userName', 'userAvatar', 'ticket']);
    assert.equal(q.get('userName'), userName);
    assert.equal(q.get('userAvatar'), userAvatar);
    const ticket = q.get('ticket');
    assert.match(ticket, /^[A-Za-z0-9._~-]+$/);
    assert.ok(ticket.length <= 160);
    assert.ok(Buffer.byteLength(path) <= 1024);
    // Every value survives decodeURIComponent exactly.
    const inspected = await w.dad.inspectBindContactPath(path);
    // expiresAt is the core's: issue time (the world's clock) plus the ticket lifetime.
    assert.deepEqual(inspected, { userId: 's1', userName, userAvatar, status: 'ready', expiresAt: w.clock.now() + 10 * MINUTE });
    // userAvatar is optional; two paths differ (random nonce).
    const p2 = await w.mum.getBindContactPath({ userId: 's1', userName: 'n' });
    const p3 = await w.mum.getBindContactPath({ userId: 's1', userName: 'n' });
    assert.match(p2, /&userAvatar=&ticket=/);
    assert.notEqual(p2, p3);
    // Over 1024 bytes in total → INVALID_ARGUMENT.
    await rejectsVoip(
      w.mum.getBindContactPath({ userId: 's1', userName: 'n', userAvatar: 'https://x/' + '/'.repeat(500) }),
      { api: 'getBindContactPath', errCode: 1004 },
    );
  });

  test('getVoipBindContactList: admin sees admin first then binding order; ordinary contact sees itself', async () => {
    const w = await makeWorld({ maxContacts: 5 });
    assert.deepEqual(await w.mum.getVoipBindContactList(), []);
    assert.deepEqual(await w.mum.getVoipBindContactList({}), []);
    await bindFamily(w, 's1', 'mum', ['dad', 'gran', 'uncle']);
    assert.deepEqual(await w.mum.getVoipBindContactList(), [
      { user_id: 's1', is_ad: 1, openid_list: ['mum', 'dad', 'gran', 'uncle'] },
    ]);
    assert.deepEqual(await w.gran.getVoipBindContactList({ userId: 's1' }), [
      { user_id: 's1', is_ad: 0, openid_list: ['gran'] },
    ]);
    // Transfer to gran: gran first, then binding order (mum, dad, uncle).
    await w.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'gran' });
    assert.deepEqual(await w.gran.getVoipBindContactList(), [
      { user_id: 's1', is_ad: 1, openid_list: ['gran', 'mum', 'dad', 'uncle'] },
    ]);
    assert.deepEqual(await w.mum.getVoipBindContactList(), [{ user_id: 's1', is_ad: 0, openid_list: ['mum'] }]);
    // Several students; a filter by userId; a student one is not bound to.
    await w.dad.bindVoipAdminContact({ userId: 's2' });
    const all = await w.dad.getVoipBindContactList();
    assert.equal(all.length, 2);
    const byId = Object.fromEntries(all.map((e) => [e.user_id, e]));
    assert.deepEqual(byId.s1, { user_id: 's1', is_ad: 0, openid_list: ['dad'] });
    assert.deepEqual(byId.s2, { user_id: 's2', is_ad: 1, openid_list: ['dad'] });
    assert.deepEqual(await w.dad.getVoipBindContactList({ userId: 's2' }), [byId.s2]);
    assert.deepEqual(await w.aunt.getVoipBindContactList({ userId: 's1' }), []);
    assert.deepEqual(await w.mum.getVoipBindContactList({ userId: 'nobody' }), []);
  });

  test('deleteVoipBindContact: admin only, not itself, all or nothing', async () => {
    const w = await makeWorld({ maxContacts: 5 });
    await bindFamily(w, 's1', 'mum', ['dad', 'gran', 'uncle']);
    await rejectsVoip(w.dad.deleteVoipBindContact({ userId: 's1', openidList: ['gran'] }), {
      api: 'deleteVoipBindContact',
      errCode: 3001,
    });
    await rejectsVoip(w.mum.deleteVoipBindContact({ userId: 's1', openidList: ['dad', 'mum'] }), {
      api: 'deleteVoipBindContact',
      errCode: 3004,
    });
    await rejectsVoip(w.mum.deleteVoipBindContact({ userId: 's1', openidList: ['dad', 'stranger'] }), {
      api: 'deleteVoipBindContact',
      errCode: 3003,
    });
    assert.equal((await w.backend.stats()).contacts, 4, 'nothing was deleted by the failed calls');
    assert.deepEqual(await w.mum.deleteVoipBindContact({ userId: 's1', openidList: ['dad', 'uncle', 'dad'] }), {
      errCode: 0,
      errMsg: 'deleteVoipBindContact:ok',
      userId: 's1',
      deleted: ['dad', 'uncle'],
    });
    assert.deepEqual(await w.mum.getVoipBindContactList(), [{ user_id: 's1', is_ad: 1, openid_list: ['mum', 'gran'] }]);
    assert.deepEqual(await w.dad.getVoipBindContactList(), []);
  });

  test('transerAdmin: admin only, to a contact, to oneself is a no-op', async () => {
    const w = await makeWorld();
    await bindFamily(w, 's1', 'mum', ['dad']);
    assert.deepEqual(await w.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'mum' }), {
      errCode: 0,
      errMsg: 'transerAdmin:ok',
      userId: 's1',
      adminOpenid: 'mum',
    });
    await rejectsVoip(w.dad.transerAdmin({ userId: 's1', newAdminOpenid: 'dad' }), { api: 'transerAdmin', errCode: 3001 });
    await rejectsVoip(w.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'gran' }), { api: 'transerAdmin', errCode: 3003 });
    assert.deepEqual(await w.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'dad' }), {
      errCode: 0,
      errMsg: 'transerAdmin:ok',
      userId: 's1',
      adminOpenid: 'dad',
    });
    assert.deepEqual((await w.backend.getVoipContactList({ user_id: 's1' })).contact_list, [
      { open_id: 'dad', role: 1 },
      { open_id: 'mum', role: 0 },
    ]);
    // The old admin lost its rights; the new one has them.
    await rejectsVoip(w.mum.getBindContactPath({ userId: 's1', userName: 'n' }), { api: 'getBindContactPath', errCode: 3001 });
    assert.equal(typeof (await w.dad.getBindContactPath({ userId: 's1', userName: 'n' })), 'string');
  });

  test('backend development helpers: issueVoipToken, resetStudent, getVoipContactList', async () => {
    const w = await makeWorld();
    assert.deepEqual(await w.backend.getVoipContactList({ user_id: 's1' }), {
      errcode: 1,
      errmsg: 'user has no contact list',
      contact_list: [],
    });
    await bindFamily(w, 's1', 'mum', ['dad']);
    assert.deepEqual(await w.backend.resetStudent({ userId: 's1' }), {
      errCode: 0,
      errMsg: 'resetStudent:ok',
      userId: 's1',
      removed: true,
    });
    assert.equal((await w.backend.resetStudent({ userId: 's1' })).removed, false);
    assert.equal((await w.backend.getVoipContactList({ user_id: 's1' })).errcode, 1);
    assert.deepEqual((await w.backend.stats()), { students: 0, contacts: 0 });
    const tok = await w.backend.issueVoipToken({ userId: 's1' });
    assert.equal(typeof tok, 'string');
    assert.ok(tok.length > 16);
    assert.notEqual(tok, await w.backend.issueVoipToken({ userId: 's1' }));
  });
});

describe('device instances (no openId)', () => {
  test('contact APIs reject with 3008 UNAUTHENTICATED', async () => {
    const w = await makeWorld();
    const path = await bindFamily(w, 's1', 'mum');
    const d = w.device;
    const calls = {
      authorizeVoip: () => d.authorizeVoip(),
      revokeVoip: () => d.revokeVoip(),
      bindVoipAdminContact: () => d.bindVoipAdminContact({ userId: 's1' }),
      getBindContactPath: () => d.getBindContactPath({ userId: 's1', userName: 'n' }),
      getVoipBindContactList: () => d.getVoipBindContactList(),
      deleteVoipBindContact: () => d.deleteVoipBindContact({ userId: 's1', openidList: ['mum'] }),
      transerAdmin: () => d.transerAdmin({ userId: 's1', newAdminOpenid: 'mum' }),
      inspectBindContactPath: () => d.inspectBindContactPath(path),
      acceptBindContactPath: () => d.acceptBindContactPath(path),
      declineBindContactPath: () => d.declineBindContactPath(path),
    };
    for (const [api, call] of Object.entries(calls)) {
      await rejectsVoip(call(), { api, errCode: 3008, cls: VoipCgiError });
    }
    assert.deepEqual((await w.backend.stats()), { students: 1, contacts: 1 });
  });
});

describe('events and navigation (§3.5)', () => {
  test('onVoipEvent returns an unsubscribe function; a throwing listener does not stop the others', async () => {
    const w = await makeWorld();
    const path = await bindFamily(w, 's1', 'mum');
    await w.dad.authorizeVoip();
    const seen = [];
    const off1 = w.dad.onVoipEvent(() => {
      throw new Error('listener bug');
    });
    const off2 = w.dad.onVoipEvent((e) => seen.push(['l2', e]));
    const off3 = w.dad.onVoipEvent((e) => seen.push(['l3', e]));
    assert.equal(typeof off1, 'function');
    const logged = await quietErrors(async () => {
      const r = await w.dad.acceptBindContactPath(path);
      assert.deepEqual(r, { type: 'success', errMsg: 'bindContact:ok', userId: 's1' });
    });
    assert.ok(logged.length >= 1, 'the throwing listener was reported');
    assert.deepEqual(seen, [
      ['l2', { eventName: 'bindContact', data: { type: 'success', errMsg: 'bindContact:ok', userId: 's1' } }],
      ['l3', { eventName: 'bindContact', data: { type: 'success', errMsg: 'bindContact:ok', userId: 's1' } }],
    ]);
    // Events go to this instance's listeners only.
    const mumSeen = [];
    w.mum.onVoipEvent((e) => mumSeen.push(e));
    off1();
    off2();
    off2(); // twice is harmless
    seen.length = 0;
    const r2 = await w.dad.declineBindContactPath(path);
    assert.equal(r2.type, 'cancel');
    assert.match(r2.errMsg, /^bindContact:fail /);
    assert.deepEqual(seen, [['l3', { eventName: 'bindContact', data: r2 }]]);
    assert.deepEqual(mumSeen, []);
    off3();
  });

  test('setVoipEndPagePath + navigate: called with url?options after accept and decline', async () => {
    const w = await makeWorld();
    const path = await bindFamily(w, 's1', 'mum');
    const navs = [];
    const gran = await w.plugin({ openId: 'gran', navigate: (r) => navs.push(r) });
    assert.equal(
      gran.setVoipEndPagePath({ key: 'BindContact', url: '/pages/done/done', options: 'from=bind&x=1' }),
      undefined,
    );
    await gran.authorizeVoip();
    await gran.declineBindContactPath(path);
    assert.deepEqual(navs, [
      {
        key: 'BindContact',
        url: '/pages/done/done',
        options: 'from=bind&x=1',
        routeType: 'redirectTo',
        path: '/pages/done/done?from=bind&x=1',
      },
    ]);
    await gran.acceptBindContactPath(path);
    assert.equal(navs.length, 2);
    assert.equal(navs[1].path, '/pages/done/done?from=bind&x=1');
    // Any outcome navigates (here 'binded'); a malformed argument does not.
    await gran.acceptBindContactPath(path);
    assert.equal(navs.length, 3);
    await gran.acceptBindContactPath(42).catch(() => {});
    assert.equal(navs.length, 3);
    // routeType is kept; no options → url alone.
    gran.setVoipEndPagePath({ key: 'BindContact', url: '/pages/tab/tab', routeType: 'switchTab' });
    await gran.declineBindContactPath(path);
    assert.equal(navs[3].routeType, 'switchTab');
    assert.equal(navs[3].path, '/pages/tab/tab');
    // No end page for Call → nothing on hang-up until set.
    const dev = await w.plugin({ navigate: (r) => navs.push(r) });
    dev.setVoipEndPagePath({ key: 'Call', url: '/pages/after-call/index', options: 'a=b', routeType: 'reLaunch' });
    await w.mum.authorizeVoip();
    const tok = await w.backend.issueVoipToken({ userId: 's1' });
    const r = await dev.initByCaller(callRequest('s1', 'mum', tok));
    assert.equal(r.isSuccess, true);
    assert.equal(navs.length, 4);
    dev.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    assert.deepEqual(navs[4], {
      key: 'Call',
      url: '/pages/after-call/index',
      options: 'a=b',
      routeType: 'reLaunch',
      path: '/pages/after-call/index?a=b',
    });
  });

  test('getPluginEnterOptions / getPluginOnloadOptions: the bind page last entered', async () => {
    const w = await makeWorld();
    const path = await bindFamily(w, 's1', 'mum', [], '小明');
    assert.deepEqual(w.dad.getPluginOnloadOptions(), {});
    const before = w.dad.getPluginEnterOptions();
    assert.ok(before && typeof before === 'object');
    assert.equal(before.path, undefined);
    await w.dad.authorizeVoip();
    await w.dad.acceptBindContactPath(path + '&from=share&n=%E4%BD%A0');
    const ticket = new URLSearchParams(path.split('?')[1]).get('ticket');
    const query = {
      userId: 's1',
      userName: '小明',
      userAvatar: 'https://img.example/a.png',
      ticket,
      from: 'share',
      n: '你',
    };
    assert.deepEqual(w.dad.getPluginEnterOptions(), { path: 'pages/bind-contact/bind-contact', query });
    assert.deepEqual(w.dad.getPluginOnloadOptions(), query);
    // The next page entered replaces it.
    await w.dad.declineBindContactPath(path + '&second=1');
    assert.equal(w.dad.getPluginEnterOptions().query.second, '1');
    assert.equal(w.dad.getPluginEnterOptions().query.from, undefined);
  });
});

describe('initByCaller (§3.6)', () => {
  /** Over the service, call events come on the event stream: a moment for them to arrive. */
  const settled = () => (BACKEND === 'http' ? new Promise((r) => setTimeout(r, 300)) : undefined);

  async function callWorld(extra) {
    const w = await makeWorld(extra);
    await bindFamily(w, 's1', 'mum', ['dad']);
    return w;
  }

  test('success: isSuccess, roomId = groupId, chargeType duration; unguessable room ids', async () => {
    const w = await callWorld();
    const rooms = new Set();
    for (let i = 0; i < 5; i++) {
      const tok = await w.backend.issueVoipToken({ userId: 's1' });
      const r = await w.device.initByCaller(callRequest('s1', i % 2 ? 'mum' : 'dad', tok, { roomType: 'video' }));
      assert.deepEqual(Object.keys(r).sort(), ['chargeType', 'errCode', 'errMsg', 'groupId', 'isSuccess', 'roomId']);
      assert.equal(r.errCode, 0);
      assert.equal(r.errMsg, 'initByCaller:ok');
      assert.equal(r.isSuccess, true);
      assert.equal(r.chargeType, 'duration');
      assert.equal(r.groupId, r.roomId);
      assert.equal(typeof r.roomId, 'string');
      assert.ok(r.roomId.length >= 16, 'at least ~96 bits of randomness');
      rooms.add(r.roomId);
      w.device.forceHangUpVoip(r.roomId);
      await settle(); // over the service the hang-up is a request
    }
    assert.equal(rooms.size, 5);
  });

  test("businessType 3: 'license' from 2.3.8; rejected 1011 with compatVersion '2.3.7'; 1 and 2 rejected 1011", async () => {
    const w = await callWorld();
    const tok = await w.backend.issueVoipToken({ userId: 's1' });
    const old = await w.plugin({ compatVersion: '2.3.7' });
    await rejectsVoip(old.initByCaller(callRequest('s1', 'mum', tok, { businessType: 3 })), {
      api: 'initByCaller',
      errCode: 1011,
      cls: VoipPluginError,
    });
    for (const bt of [1, 2]) {
      await rejectsVoip(w.device.initByCaller(callRequest('s1', 'mum', tok, { businessType: bt })), {
        api: 'initByCaller',
        errCode: 1011,
      });
    }
    // The token was not consumed by the refused attempts.
    const exact = await w.plugin({ compatVersion: '2.3.8' });
    const r = await exact.initByCaller(callRequest('s1', 'mum', tok, { businessType: 3 }));
    assert.equal(r.isSuccess, true);
    assert.equal(r.chargeType, 'license');
    // businessType 0 still works on 2.3.7.
    const tok2 = await w.backend.issueVoipToken({ userId: 's1' });
    const r0 = await old.initByCaller(callRequest('s1', 'dad', tok2, { businessType: 0 }));
    assert.equal(r0.chargeType, 'duration');
  });

  test('double style: thrown VoipPluginError vs resolved isSuccess:false with a VoipCgiError errObj', async () => {
    const w = await callWorld();
    // Thrown (rejected): bad parameters, missing token.
    await rejectsVoip(w.device.initByCaller({ roomType: 'voice', caller: { id: 's1' } }), {
      api: 'initByCaller',
      errCode: 1004,
    });
    await rejectsVoip(w.device.initByCaller(callRequest('s1', 'mum', undefined)), { api: 'initByCaller', errCode: 1001 });
    // Resolved: a bad token.
    const r = await w.device.initByCaller(callRequest('s1', 'mum', 'not-a-token'));
    assert.deepEqual(Object.keys(r).sort(), ['errCode', 'errMsg', 'errObj', 'isSuccess']);
    assert.equal(r.isSuccess, false);
    assert.equal(r.errCode, 4);
    assert.match(r.errMsg, /^initByCaller:fail /);
    assert.ok(r.errObj instanceof VoipCgiError);
    assert.ok(r.errObj instanceof VoipError);
    assert.equal(r.errObj.errCode, 4);
    assert.equal(r.errObj.code, 'BAD_VOIP_TOKEN');
    assert.equal(r.errObj.errMsg, r.errMsg);
  });

  test('backend refusals in order: token (4) before consent (8) before contact (9)', async () => {
    const w = await callWorld();
    const issue = () => w.backend.issueVoipToken({ userId: 's1' });
    const refusal = async (req, errCode) => {
      const r = await w.device.initByCaller(req);
      assert.equal(r.isSuccess, false, JSON.stringify(r));
      assert.equal(r.errCode, errCode, r.errMsg);
      assert.equal(r.errObj.errCode, errCode);
      assert.ok(r.errObj instanceof VoipCgiError);
    };
    // aunt: no consent and not a contact. gran: consent, not a contact.
    await w.gran.authorizeVoip();
    await refusal(callRequest('s1', 'aunt', 'garbage'), 4);
    await refusal(callRequest('s1', 'aunt', await issue()), 8);
    await refusal(callRequest('s1', 'gran', await issue()), 9);
    // For another student.
    await refusal(callRequest('s2', 'mum', await issue()), 4);
    // Expired.
    const tok = await issue();
    await w.clock.advance(VOIP_TOKEN_TTL);
    await refusal(callRequest('s1', 'mum', tok), 4);
    // Reused.
    const tok2 = await issue();
    const ok = await w.device.initByCaller(callRequest('s1', 'mum', tok2));
    assert.equal(ok.isSuccess, true);
    w.device.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    await refusal(callRequest('s1', 'mum', tok2), 4);
    // Revoked consent → 8 even for a contact.
    await w.dad.revokeVoip();
    await refusal(callRequest('s1', 'dad', await issue()), 8);
    // A refused call does not make the instance busy.
    const ok2 = await w.device.initByCaller(callRequest('s1', 'mum', await issue()));
    assert.equal(ok2.isSuccess, true);
  });

  test('busy 1005 until forceHangUpVoip; a hang-up while ringing is cancelVoip, endVoip { keepTime: 0 }, finishVoip; connected, keepTime in ms', async () => {
    const w = await callWorld();
    const events = [];
    const off = w.device.onVoipEvent((e) => events.push(e));
    const ev = (roomId, eventName, data = {}) => ({ eventName, data, roomId, groupId: roomId });
    const tok = await w.backend.issueVoipToken({ userId: 's1' });
    const r = await w.device.initByCaller(
      callRequest('s1', 'dad', tok, { roomType: 'video', caller: { id: 's1', name: '小明' }, listener: { id: 'dad', name: 'Dad' } }),
    );
    assert.equal(r.isSuccess, true);
    const tok2 = await w.backend.issueVoipToken({ userId: 's1' });
    await rejectsVoip(w.device.initByCaller(callRequest('s1', 'mum', tok2)), { api: 'initByCaller', errCode: 1005 });
    // Another device instance on the same backend is not busy.
    const dev2 = await w.plugin();
    const r2 = await dev2.initByCaller(callRequest('s1', 'mum', tok2));
    assert.equal(r2.isSuccess, true);
    assert.notEqual(r2.roomId, r.roomId);
    dev2.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    // No call / non-matching roomId: nothing happens.
    assert.equal(w.device.forceHangUpVoip('some-other-room'), undefined);
    await settled();
    assert.deepEqual(events, [ev(r.roomId, 'joinedRoomByCaller')]);
    await rejectsVoip(w.device.initByCaller(callRequest('s1', 'mum', tok2)), { api: 'initByCaller', errCode: 1005 });
    // Still ringing after 83 s (the ring timeout is 30 s, but nothing ticked): a hang-up now
    // would be a cancel; dad answers first, so the call lasts from here.
    await w.clock.advance(20_000);
    await w.dad.answerVoip({ roomId: r.roomId });
    await w.clock.advance(83_456);
    w.device.forceHangUpVoip(r.roomId);
    await settle(); // over the service the hang-up is a request
    await settled();
    const ended = {
      keepTime: 83_456,
      callerName: '小明',
      listenerName: 'Dad',
      roomType: 'video',
      isCaller: true,
      businessType: 0,
    };
    assert.deepEqual(events, [
      ev(r.roomId, 'joinedRoomByCaller'),
      ev(r.roomId, 'startVoip'),
      ev(r.roomId, 'hangUpVoip', { keepTime: 83_456, status: 'endByCaller', origin: 'forceFromApp' }),
      ev(r.roomId, 'endVoip', ended),
      ev(r.roomId, 'finishVoip', { keepTime: 120_000 }),
    ]);
    // Ended: hanging up again does nothing; a new call may start.
    w.device.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    w.device.forceHangUpVoip(r.roomId);
    await settle(); // over the service the hang-up is a request
    await settled();
    assert.equal(events.length, 5);
    const tok3 = await w.backend.issueVoipToken({ userId: 's1' });
    const r3 = await w.device.initByCaller(callRequest('s1', 'mum', tok3));
    assert.equal(r3.isSuccess, true);
    await w.clock.advance(1500);
    w.device.forceHangUpVoip(); // no argument ends the current call: while ringing, a cancel
    await settle(); // over the service the hang-up is a request
    await settled();
    // Names default to the ids; a call never answered lasted 0 ms, billed 0.
    assert.deepEqual(events.slice(5), [
      ev(r3.roomId, 'joinedRoomByCaller'),
      ev(r3.roomId, 'cancelVoip', { status: 'forceFromApp' }),
      ev(r3.roomId, 'endVoip', { keepTime: 0, callerName: 's1', listenerName: 'mum', roomType: 'voice', isCaller: true, businessType: 0 }),
      ev(r3.roomId, 'finishVoip', { keepTime: 0 }),
    ]);
    // null is "no roomId": it ends the current call, like no argument.
    const r4 = await w.device.initByCaller(callRequest('s1', 'mum', await w.backend.issueVoipToken({ userId: 's1' })));
    assert.equal(r4.isSuccess, true);
    w.device.forceHangUpVoip(null);
    await settle(); // over the service the hang-up is a request
    await settled();
    assert.deepEqual(events.slice(9).map((e) => [e.eventName, e.roomId]), [
      ['joinedRoomByCaller', r4.roomId],
      ['cancelVoip', r4.roomId],
      ['endVoip', r4.roomId],
      ['finishVoip', r4.roomId],
    ]);
    off();
    // A fresh device never called: forceHangUpVoip does nothing.
    const fresh = await w.plugin();
    assert.equal(fresh.forceHangUpVoip(), undefined);
    assert.equal(fresh.forceHangUpVoip('x'), undefined);
  });

  test('dispose drops the listeners and the call timers; the device still hangs up its call (the listener hears it) and can call again', async () => {
    const w = await callWorld();
    const events = [];
    w.device.onVoipEvent((e) => events.push(e));
    const heard = [];
    w.mum.onVoipEvent((e) => heard.push(e.eventName));
    const r = await w.device.initByCaller(callRequest('s1', 'mum', await w.backend.issueVoipToken({ userId: 's1' })));
    assert.equal(r.isSuccess, true);
    await settled();
    assert.deepEqual(events.map((e) => e.eventName), ['joinedRoomByCaller']);
    w.device.dispose();
    // The call is the backend's, the device's still: its hang-up ends it for the listener.
    w.device.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    await settled();
    assert.deepEqual(heard, ['incomingVoip', 'cancelVoip', 'endVoip', 'finishVoip'], 'the hang-up after dispose ended the call');
    const r2 = await w.device.initByCaller(callRequest('s1', 'mum', await w.backend.issueVoipToken({ userId: 's1' })));
    assert.equal(r2.isSuccess, true, 'not busy: its call ended');
    w.device.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    await settled();
    assert.deepEqual(events.map((e) => e.eventName), ['joinedRoomByCaller'], 'listeners were dropped');
  });

  test('optional request fields are accepted', async () => {
    const w = await callWorld();
    const tok = await w.backend.issueVoipToken({ userId: 's1' });
    const r = await w.device.initByCaller({
      roomType: 'video',
      caller: { id: 's1', name: '小明', cameraStatus: 1 },
      listener: { id: 'mum', name: '妈妈', cameraStatus: 0 },
      businessType: 0,
      voipToken: tok,
      miniprogramState: 'trial',
      customQuery: 'a=1&b=2',
      timeLimit: 0.5,
    });
    assert.equal(r.isSuccess, true);
  });
});

describe('the default instance', () => {
  test('configure() then use; configure after first use is rejected', async () => {
    cv.configure({ openId: 'defaultMum', backend: { type: 'local', maxContacts: 2, dev: true } });
    const wmpfVoip = cv.default;
    assert.deepEqual(await wmpfVoip.authorizeVoip(), { errCode: 0, errMsg: 'authorizeVoip:ok' });
    assert.equal(await wmpfVoip.getOpenId(), 'defaultMum');
    await wmpfVoip.bindVoipAdminContact({ userId: 'kid' });
    assert.deepEqual(await wmpfVoip.getVoipBindContactList(), [
      { user_id: 'kid', is_ad: 1, openid_list: ['defaultMum'] },
    ]);
    const backend = await wmpfVoip.getDevBackend();
    assert.equal(backend.type, 'local');
    assert.throws(() => cv.configure({ openId: 'other' }), (e) => e instanceof VoipError && e.errCode === 1004);
  });
});
