// SPEC §3.1: every row of the error table the local backend can produce — class, errCode,
// code, and errMsg '<api>:fail <reason>'.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BACKEND,
  CODE_NAMES,
  VOIP_TOKEN_TTL,
  VoipCgiError,
  VoipPluginError,
  assertVoipError,
  bindFamily,
  callRequest,
  cv,
  localOnly,
  failingStorage,
  makeWorld,
  rejectsVoip,
  throwsVoip,
  settle,
} from './helpers.mjs';

async function world() {
  const w = await makeWorld({ maxContacts: 3 });
  await bindFamily(w, 's1', 'mum', ['dad']);
  return w;
}

/** For the resolved refusals of initByCaller. */
function assertRefusal(r, errCode) {
  assert.equal(r.isSuccess, false);
  assert.equal(r.errCode, errCode);
  assert.ok(r.errMsg.startsWith('initByCaller:fail '), r.errMsg);
  assertVoipError(r.errObj, { api: 'initByCaller', errCode, code: CODE_NAMES[errCode], cls: VoipCgiError });
  assert.equal(r.errObj.errMsg, r.errMsg);
}

const seenCodes = new Set();
function mark(code) {
  seenCodes.add(code);
}

describe('error table rows', () => {
  test('4 BAD_VOIP_TOKEN (VoipCgiError, resolved): invalid, other student, expired, reused', async () => {
    const w = await world();
    assertRefusal(await w.device.initByCaller(callRequest('s1', 'mum', 'AAAA')), 4);
    assertRefusal(await w.device.initByCaller(callRequest('s2', 'mum', await w.backend.issueVoipToken({ userId: 's1' }))), 4);
    const tok = await w.backend.issueVoipToken({ userId: 's1' });
    await w.clock.advance(VOIP_TOKEN_TTL);
    assertRefusal(await w.device.initByCaller(callRequest('s1', 'mum', tok)), 4);
    const tok2 = await w.backend.issueVoipToken({ userId: 's1' });
    assert.equal((await w.device.initByCaller(callRequest('s1', 'mum', tok2))).isSuccess, true);
    w.device.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    assertRefusal(await w.device.initByCaller(callRequest('s1', 'mum', tok2)), 4);
    // A token altered by one character.
    const tok3 = await w.backend.issueVoipToken({ userId: 's1' });
    const altered = tok3.slice(0, 10) + (tok3[10] === 'A' ? 'B' : 'A') + tok3.slice(11);
    assertRefusal(await w.device.initByCaller(callRequest('s1', 'mum', altered)), 4);
    mark(4);
  });

  test('8 NOT_AUTHORIZED: bindVoipAdminContact rejects; a call resolves isSuccess:false', async () => {
    const w = await world();
    await rejectsVoip(w.gran.bindVoipAdminContact({ userId: 's9' }), {
      api: 'bindVoipAdminContact',
      errCode: 8,
      code: 'NOT_AUTHORIZED',
      cls: VoipCgiError,
    });
    await w.dad.revokeVoip();
    assertRefusal(await w.device.initByCaller(callRequest('s1', 'dad', await w.backend.issueVoipToken({ userId: 's1' }))), 8);
    mark(8);
  });

  test('9 NOT_CONTACT_OF_CALLER (resolved)', async () => {
    const w = await world();
    await w.gran.authorizeVoip();
    assertRefusal(await w.device.initByCaller(callRequest('s1', 'gran', await w.backend.issueVoipToken({ userId: 's1' }))), 9);
    // A student with no contacts at all.
    assertRefusal(await w.device.initByCaller(callRequest('s7', 'gran', await w.backend.issueVoipToken({ userId: 's7' }))), 9);
    mark(9);
  });

  test('20 INVALID_OPENID (VoipPluginError) wherever an openId is read', async () => {
    const w = await world();
    const e = { errCode: 20, code: 'INVALID_OPENID', cls: VoipPluginError };
    if (BACKEND === 'local') {
      // On the service an identity is a session's; it mints none for a bad openId (server tests).
      await rejectsVoip(w.plugin({ openId: 'has space' }), { ...e, api: 'createVoipPlugin' });
      await rejectsVoip(w.plugin({ openId: '' }), { ...e, api: 'createVoipPlugin' });
      await rejectsVoip(w.plugin({ openId: 'x'.repeat(65) }), { ...e, api: 'createVoipPlugin' });
    }
    await rejectsVoip(w.mum.deleteVoipBindContact({ userId: 's1', openidList: ['dad', 'bad/id'] }), {
      ...e,
      api: 'deleteVoipBindContact',
    });
    await rejectsVoip(w.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'ünïcode' }), { ...e, api: 'transerAdmin' });
    await rejectsVoip(w.device.initByCaller(callRequest('s1', 'a.b', 'tok')), { ...e, api: 'initByCaller' });
    // 64 characters of the allowed alphabet is fine.
    const ok = await w.plugin({ openId: 'aZ09_-'.repeat(10) + 'abcd' });
    assert.equal((await ok.getOpenId()).length, 64);
    assert.equal((await w.backend.stats()).contacts, 2);
    mark(20);
  });

  test('1001 VOIP_TOKEN_MISSING: missing, empty, not a string (businessType 0 and 3)', async () => {
    const w = await world();
    for (const voipToken of [undefined, '', 5, null, {}, ['t']]) {
      for (const businessType of [0, 3, undefined]) {
        const req = callRequest('s1', 'mum', voipToken, businessType === undefined ? {} : { businessType });
        if (voipToken === undefined) delete req.voipToken;
        await rejectsVoip(w.device.initByCaller(req), { api: 'initByCaller', errCode: 1001, cls: VoipPluginError });
      }
    }
    mark(1001);
  });

  test('1004 INVALID_ARGUMENT (VoipPluginError) on each API', async () => {
    const w = await world();
    const e = { errCode: 1004, code: 'INVALID_ARGUMENT', cls: VoipPluginError };
    await rejectsVoip(w.mum.bindVoipAdminContact({}), { ...e, api: 'bindVoipAdminContact' });
    await rejectsVoip(w.mum.getBindContactPath({ userId: 's1' }), { ...e, api: 'getBindContactPath' });
    await rejectsVoip(w.mum.getVoipBindContactList({ userId: 7 }), { ...e, api: 'getVoipBindContactList' });
    await rejectsVoip(w.mum.deleteVoipBindContact({ userId: 's1', openidList: [] }), { ...e, api: 'deleteVoipBindContact' });
    await rejectsVoip(w.mum.transerAdmin({ userId: 's1' }), { ...e, api: 'transerAdmin' });
    await rejectsVoip(w.mum.inspectBindContactPath(1), { ...e, api: 'inspectBindContactPath' });
    await rejectsVoip(w.mum.acceptBindContactPath(1), { ...e, api: 'acceptBindContactPath' });
    await rejectsVoip(w.mum.declineBindContactPath(1), { ...e, api: 'declineBindContactPath' });
    await rejectsVoip(w.device.initByCaller({ ...callRequest('s1', 'mum', 't'), roomType: 'audio' }), { ...e, api: 'initByCaller' });
    await rejectsVoip(w.backend.issueVoipToken({}), { ...e, api: 'issueVoipToken' });
    if (BACKEND === 'local') {
      // The local backend's development helpers; on the service they are the school server's
      // /wxa interface, which answers 47001 (server/tests/v1.rs).
      await rejectsVoip(w.backend.resetStudent({}), { ...e, api: 'resetStudent' });
      await rejectsVoip(w.backend.getVoipContactList({}), { ...e, api: 'getVoipContactList' });
    }
    await rejectsVoip(cv.createLocalBackend({ maxContacts: 101 }), { ...e, api: 'createLocalBackend' });
    await rejectsVoip(cv.createVoipPlugin({}), { ...e, api: 'createVoipPlugin' });
    throwsVoip(() => w.mum.onVoipEvent('nope'), { ...e, api: 'onVoipEvent' });
    throwsVoip(() => w.mum.setVoipEndPagePath({ key: 'Nope', url: '/p' }), { ...e, api: 'setVoipEndPagePath' });
    throwsVoip(() => cv.webStorage(undefined), { ...e, api: 'webStorage' });
    throwsVoip(() => cv.wxStorage(undefined), { ...e, api: 'wxStorage' });
    throwsVoip(() => cv.fileStorage(''), { ...e, api: 'fileStorage' });
    // The errMsg names the field.
    const err = await w.mum.getBindContactPath({ userId: 's1', userName: '' }).catch((x) => x);
    assert.match(err.errMsg, /userName/);
    mark(1004);
  });

  test('1005 BUSY while a call is in progress', async () => {
    const w = await world();
    const r = await w.device.initByCaller(callRequest('s1', 'mum', await w.backend.issueVoipToken({ userId: 's1' })));
    assert.equal(r.isSuccess, true);
    await rejectsVoip(
      w.device.initByCaller(callRequest('s1', 'dad', await w.backend.issueVoipToken({ userId: 's1' }))),
      { api: 'initByCaller', errCode: 1005, code: 'BUSY', cls: VoipPluginError },
    );
    mark(1005);
  });

  test('1011 NOT_SUPPORTED: businessType 1/2, and 3 below 2.3.8', async () => {
    const w = await world();
    const tok = await w.backend.issueVoipToken({ userId: 's1' });
    for (const bt of [1, 2]) {
      await rejectsVoip(w.device.initByCaller(callRequest('s1', 'mum', tok, { businessType: bt })), {
        api: 'initByCaller',
        errCode: 1011,
        code: 'NOT_SUPPORTED',
        cls: VoipPluginError,
      });
    }
    for (const v of ['2.3.7', '2.2.99', '1.0.0']) {
      const d = await w.plugin({ compatVersion: v });
      await rejectsVoip(d.initByCaller(callRequest('s1', 'mum', tok, { businessType: 3 })), {
        api: 'initByCaller',
        errCode: 1011,
        cls: VoipPluginError,
      });
    }
    for (const v of ['2.3.8', '2.3.10', '3.0.0']) {
      const d = await w.plugin({ compatVersion: v });
      const t = await w.backend.issueVoipToken({ userId: 's1' });
      assert.equal((await d.initByCaller(callRequest('s1', 'mum', t, { businessType: 3 }))).chargeType, 'license', v);
      d.forceHangUpVoip();
      await settle(); // over the service the hang-up is a request
    }
    mark(1011);
  });

  test('3001 NOT_ADMIN: path, delete, transfer by a non-admin (also on an unknown student)', async () => {
    const w = await world();
    const e = { errCode: 3001, code: 'NOT_ADMIN', cls: VoipCgiError };
    await rejectsVoip(w.dad.getBindContactPath({ userId: 's1', userName: 'n' }), { ...e, api: 'getBindContactPath' });
    await rejectsVoip(w.gran.getBindContactPath({ userId: 's1', userName: 'n' }), { ...e, api: 'getBindContactPath' });
    await rejectsVoip(w.mum.getBindContactPath({ userId: 'unknown', userName: 'n' }), { ...e, api: 'getBindContactPath' });
    await rejectsVoip(w.dad.deleteVoipBindContact({ userId: 's1', openidList: ['mum'] }), { ...e, api: 'deleteVoipBindContact' });
    await rejectsVoip(w.dad.transerAdmin({ userId: 's1', newAdminOpenid: 'dad' }), { ...e, api: 'transerAdmin' });
    assert.equal((await w.backend.getVoipContactList({ user_id: 's1' })).contact_list[0].open_id, 'mum');
    mark(3001);
  });

  test('3002 ADMIN_EXISTS', async () => {
    const w = await world();
    await rejectsVoip(w.dad.bindVoipAdminContact({ userId: 's1' }), {
      api: 'bindVoipAdminContact',
      errCode: 3002,
      code: 'ADMIN_EXISTS',
      cls: VoipCgiError,
    });
    mark(3002);
  });

  test('3003 NOT_CONTACT: delete and transfer', async () => {
    const w = await world();
    const e = { errCode: 3003, code: 'NOT_CONTACT', cls: VoipCgiError };
    await rejectsVoip(w.mum.deleteVoipBindContact({ userId: 's1', openidList: ['gran'] }), { ...e, api: 'deleteVoipBindContact' });
    await rejectsVoip(w.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'gran' }), { ...e, api: 'transerAdmin' });
    mark(3003);
  });

  test('3004 ADMIN_SELF_DELETE', async () => {
    const w = await world();
    await rejectsVoip(w.mum.deleteVoipBindContact({ userId: 's1', openidList: ['mum'] }), {
      api: 'deleteVoipBindContact',
      errCode: 3004,
      code: 'ADMIN_SELF_DELETE',
      cls: VoipCgiError,
    });
    mark(3004);
  });

  test('3007 STORAGE: a failing write on every writing API', localOnly('a storage adapter that fails'), async () => {
    const storage = failingStorage();
    const w = await makeWorld({ storage });
    await bindFamily(w, 's1', 'mum', ['dad']);
    await w.gran.authorizeVoip();
    const path = await w.mum.getBindContactPath({ userId: 's1', userName: 'n' });
    const tok = await w.backend.issueVoipToken({ userId: 's1' });
    storage.failWrites = true;
    const e = { errCode: 3007, code: 'STORAGE', cls: VoipCgiError };
    await rejectsVoip(w.uncle.authorizeVoip(), { ...e, api: 'authorizeVoip' });
    await rejectsVoip(w.dad.revokeVoip(), { ...e, api: 'revokeVoip' });
    await rejectsVoip(w.gran.bindVoipAdminContact({ userId: 's2' }), { ...e, api: 'bindVoipAdminContact' });
    await rejectsVoip(w.gran.acceptBindContactPath(path), { ...e, api: 'acceptBindContactPath' });
    await rejectsVoip(w.mum.deleteVoipBindContact({ userId: 's1', openidList: ['dad'] }), { ...e, api: 'deleteVoipBindContact' });
    await rejectsVoip(w.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'dad' }), { ...e, api: 'transerAdmin' });
    await rejectsVoip(w.backend.resetStudent({ userId: 's1' }), { ...e, api: 'resetStudent' });
    await rejectsVoip(w.device.initByCaller(callRequest('s1', 'mum', tok)), { ...e, api: 'initByCaller' });
    mark(3007);
  });

  test('3007 STORAGE: a storage that refuses the secrets on first open', async () => {
    const s = failingStorage();
    s.failWrites = true;
    await rejectsVoip(cv.createLocalBackend({ storage: s }), {
      api: 'createLocalBackend',
      errCode: 3007,
      code: 'STORAGE',
      cls: VoipCgiError,
    });
    assert.deepEqual(s.keys(), []);
  });

  test('3008 UNAUTHENTICATED (device instance)', async () => {
    const w = await world();
    await rejectsVoip(w.device.getVoipBindContactList(), {
      api: 'getVoipBindContactList',
      errCode: 3008,
      code: 'UNAUTHENTICATED',
      cls: VoipCgiError,
    });
    mark(3008);
  });

  test('messages name the values they are about (the shipped wasm has no Debug formatting)', async () => {
    const w = await world();
    const msg = (p) => p.then(() => assert.fail('resolved'), (e) => e.errMsg);
    assert.equal(
      await msg(w.dad.getBindContactPath({ userId: 's1', userName: 'n' })),
      'getBindContactPath:fail only the administrator of student "s1" may do this',
    );
    assert.equal(
      await msg(w.mum.deleteVoipBindContact({ userId: 's1', openidList: ['gran'] })),
      'deleteVoipBindContact:fail gran is not a contact of student "s1"; nothing was deleted',
    );
    assert.match(await msg(w.dad.bindVoipAdminContact({ userId: 's1' })), /student "s1" already has another administrator/);
    assert.match(await msg(w.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'bad id' })), /got "bad id"$/);
    assert.match(
      await msg(w.device.initByCaller({ ...callRequest('s1', 'mum', 'x'), roomType: 'fax' })),
      /roomType must be "voice" or "video", got "fax"$/,
    );
  });

  test('the backend produces every row it can (and never 3005)', () => {
    // 3007 needs a failing storage adapter: local only.
    for (const c of [4, 8, 9, 20, 1001, 1004, 1005, 1011, 3001, 3002, 3003, 3004, 3008, ...(BACKEND === 'local' ? [3007] : [])]) {
      assert.ok(seenCodes.has(c), `row ${c} was exercised`);
    }
    assert.ok(!seenCodes.has(3005));
  });
});
