// SPEC §3.4: the bind-contact page's outcomes, their order, inspect statuses, host parameters,
// and the query-object form of the path.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MINUTE, bindFamily, localOnly, makeWorld, queryObject, rejectsVoip } from './helpers.mjs';

const TTL = 10 * MINUTE;

/** Accepts as `who` and checks the resolved value, the emitted event and inspect's status. */
async function expectOutcome(w, who, path, type, { inspect = type } = {}) {
  const p = w.people[who];
  if (inspect !== null) {
    const i = await p.inspectBindContactPath(path);
    assert.equal(i.status, inspect, `inspect status for ${who}`);
  }
  const events = [];
  const off = p.onVoipEvent((e) => events.push(e));
  const r = await p.acceptBindContactPath(path);
  off();
  assert.deepEqual(Object.keys(r).sort(), ['errMsg', 'type', 'userId']);
  assert.equal(r.type, type, `outcome for ${who}: ${r.errMsg}`);
  if (type === 'success') assert.equal(r.errMsg, 'bindContact:ok');
  else assert.match(r.errMsg, /^bindContact:fail ./);
  assert.deepEqual(events, [{ eventName: 'bindContact', data: r }]);
  return r;
}

function tamper(path, param, value) {
  const [page, q] = path.split('?');
  const params = q.split('&').map((kv) => {
    const [k] = kv.split('=');
    return k === param ? `${k}=${encodeURIComponent(value)}` : kv;
  });
  return page + '?' + params.join('&');
}

function ticketOf(path) {
  return new URLSearchParams(path.split('?')[1]).get('ticket');
}

describe('each outcome', () => {
  test('success: bound as an ordinary contact; the link can be used by several people', async () => {
    const w = await makeWorld({ ticketTtlMs: TTL });
    const path = await bindFamily(w, 's1', 'mum');
    await w.dad.authorizeVoip();
    await w.gran.authorizeVoip();
    const r = await expectOutcome(w, 'dad', path, 'success', { inspect: 'ready' });
    assert.equal(r.userId, 's1');
    await expectOutcome(w, 'gran', path, 'success', { inspect: 'ready' });
    assert.deepEqual((await w.backend.getVoipContactList({ user_id: 's1' })).contact_list, [
      { open_id: 'mum', role: 1 },
      { open_id: 'dad', role: 0 },
      { open_id: 'gran', role: 0 },
    ]);
  });

  test('binded: already a contact (the admin too)', async () => {
    const w = await makeWorld();
    const path = await bindFamily(w, 's1', 'mum', ['dad']);
    await expectOutcome(w, 'dad', path, 'binded');
    await expectOutcome(w, 'mum', path, 'binded');
    assert.equal((await w.backend.stats()).contacts, 2);
  });

  test('expire: lifetime over (exactly at expiry too); inspect shows the student', async () => {
    const w = await makeWorld({ ticketTtlMs: TTL });
    const path = await bindFamily(w, 's1', 'mum', [], '小明');
    await w.dad.authorizeVoip();
    await w.clock.advance(TTL - 1);
    assert.equal((await w.dad.inspectBindContactPath(path)).status, 'ready');
    await w.clock.advance(1);
    const i = await w.dad.inspectBindContactPath(path);
    assert.deepEqual(i, { userId: 's1', userName: '小明', userAvatar: 'https://img.example/a.png', status: 'expire', expiresAt: w.clock.now() });
    await expectOutcome(w, 'dad', path, 'expire');
    assert.equal((await w.backend.stats()).contacts, 1);
  });

  test('overload: the student already has maxContacts contacts (never 3005)', async () => {
    const w = await makeWorld({ maxContacts: 3 });
    const path = await bindFamily(w, 's1', 'mum', ['dad', 'gran']);
    await w.uncle.authorizeVoip();
    await expectOutcome(w, 'uncle', path, 'overload');
    assert.equal((await w.backend.stats()).contacts, 3);
    // Room again after a delete.
    await w.mum.deleteVoipBindContact({ userId: 's1', openidList: ['gran'] });
    await expectOutcome(w, 'uncle', path, 'success', { inspect: 'ready' });
  });

  test('unbind: the student has no contacts any more', async () => {
    const w = await makeWorld();
    const path = await bindFamily(w, 's1', 'mum');
    await w.dad.authorizeVoip();
    await w.backend.resetStudent({ userId: 's1' });
    await expectOutcome(w, 'dad', path, 'unbind');
    await expectOutcome(w, 'mum', path, 'unbind');
    assert.deepEqual((await w.backend.stats()), { students: 0, contacts: 0 });
  });

  test('invalid (row 1): tampered fields, foreign backend, malformed paths; name and avatar never echoed', async () => {
    const w = await makeWorld();
    const path = await bindFamily(w, 's1', 'mum', [], 'Xiao Ming');
    await w.dad.authorizeVoip();
    const t = ticketOf(path);
    const bad = [
      tamper(path, 'userName', 'Evil'),
      tamper(path, 'userAvatar', 'https://evil.example/x.png'),
      tamper(path, 'userAvatar', ''),
      tamper(path, 'userId', 's2'),
      tamper(path, 'ticket', t.slice(0, -1) + (t.endsWith('A') ? 'B' : 'A')),
      tamper(path, 'ticket', t.slice(0, 20)),
      tamper(path, 'ticket', ''),
      tamper(path, 'ticket', t + 'AA'),
      path.replace('&ticket=' + t, ''),
      path.replace('userName=', 'userNam='),
      path.replace('pages/bind-contact/bind-contact', 'pages/other/other'),
      path.split('?')[0],
      '',
      'garbage',
      '?&&&==',
      path.replace('userId=s1', 'userId=%E0%A4%A'), // bad escape
    ];
    for (const b of bad) {
      const i = await w.dad.inspectBindContactPath(b);
      assert.equal(i.status, 'invalid', b);
      assert.equal(i.userName, '', 'an unverified name is not shown');
      assert.equal(i.userAvatar, '');
      const r = await w.dad.acceptBindContactPath(b);
      assert.equal(r.type, 'invalid', b);
    }
    // A tampered userId is echoed only as the event's userId.
    assert.equal((await w.dad.acceptBindContactPath(tamper(path, 'userId', 's2'))).userId, 's2');
    // A perfectly formed link from another backend (another secret).
    const other = await makeWorld();
    const foreign = await bindFamily(other, 's1', 'mum', [], 'Xiao Ming');
    await expectOutcome(w, 'dad', foreign, 'invalid');
    assert.equal((await w.backend.stats()).contacts, 1);
    // The untouched path still works.
    await expectOutcome(w, 'dad', path, 'success', { inspect: 'ready' });
  });

  test('invalid (row 4): the issuer is no longer the admin after transerAdmin; new admin links work', async () => {
    const w = await makeWorld();
    const oldPath = await bindFamily(w, 's1', 'mum', ['dad']);
    await w.gran.authorizeVoip();
    await w.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'dad' });
    await expectOutcome(w, 'gran', oldPath, 'invalid');
    const newPath = await w.dad.getBindContactPath({ userId: 's1', userName: 'Xiao Ming' });
    await expectOutcome(w, 'gran', newPath, 'success', { inspect: 'ready' });
  });

  test('invalid (row 4): the issuer became admin again (a new term) — old links stay invalid', async () => {
    const w = await makeWorld();
    const oldPath = await bindFamily(w, 's1', 'mum', ['dad']);
    await w.gran.authorizeVoip();
    await w.uncle.authorizeVoip();
    // Transfer away and back.
    await w.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'dad' });
    await w.dad.transerAdmin({ userId: 's1', newAdminOpenid: 'mum' });
    await expectOutcome(w, 'gran', oldPath, 'invalid');
    // Reset and bind again as admin.
    const path2 = await w.mum.getBindContactPath({ userId: 's1', userName: 'Xiao Ming' });
    await w.backend.resetStudent({ userId: 's1' });
    await w.mum.bindVoipAdminContact({ userId: 's1' });
    await expectOutcome(w, 'gran', path2, 'invalid');
    await expectOutcome(w, 'uncle', oldPath, 'invalid');
    // Binding again as admin while already admin keeps the term: a fresh link survives it.
    const path3 = await w.mum.getBindContactPath({ userId: 's1', userName: 'Xiao Ming' });
    await w.mum.bindVoipAdminContact({ userId: 's1' });
    await w.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'mum' });
    await expectOutcome(w, 'gran', path3, 'success', { inspect: 'ready' });
  });

  test('auth: no consent; after consent the same link succeeds', async () => {
    const w = await makeWorld();
    const path = await bindFamily(w, 's1', 'mum');
    await expectOutcome(w, 'dad', path, 'auth', { inspect: 'ready' });
    assert.equal((await w.backend.stats()).contacts, 1);
    await w.dad.authorizeVoip();
    await expectOutcome(w, 'dad', path, 'success', { inspect: 'ready' });
    await w.gran.authorizeVoip();
    await w.gran.revokeVoip();
    await expectOutcome(w, 'gran', path, 'auth', { inspect: 'ready' });
  });

  test('cancel: declineBindContactPath, emitted the same way, changes nothing', async () => {
    const w = await makeWorld();
    const path = await bindFamily(w, 's1', 'mum');
    await w.dad.authorizeVoip();
    const events = [];
    w.dad.onVoipEvent((e) => events.push(e));
    const r = await w.dad.declineBindContactPath(path);
    assert.deepEqual(Object.keys(r).sort(), ['errMsg', 'type', 'userId']);
    assert.equal(r.type, 'cancel');
    assert.equal(r.userId, 's1');
    assert.match(r.errMsg, /^bindContact:fail ./);
    assert.deepEqual(events, [{ eventName: 'bindContact', data: r }]);
    assert.equal((await w.backend.stats()).contacts, 1);
    // Declining even a bad link is 'cancel'.
    assert.equal((await w.dad.declineBindContactPath('garbage')).type, 'cancel');
  });
});

describe('the order where two outcomes apply', () => {
  test('invalid (tampered) before expire', async () => {
    const w = await makeWorld({ ticketTtlMs: TTL });
    const path = await bindFamily(w, 's1', 'mum');
    await w.dad.authorizeVoip();
    await w.clock.advance(TTL + 1);
    await expectOutcome(w, 'dad', tamper(path, 'userName', 'x'), 'invalid');
    await expectOutcome(w, 'dad', path, 'expire');
  });

  test('expire before unbind', async () => {
    const w = await makeWorld({ ticketTtlMs: TTL });
    const path = await bindFamily(w, 's1', 'mum');
    await w.backend.resetStudent({ userId: 's1' });
    await w.clock.advance(TTL);
    await expectOutcome(w, 'dad', path, 'expire');
  });

  test('expire before binded, overload and auth', async () => {
    const w = await makeWorld({ ticketTtlMs: TTL, maxContacts: 2 });
    const path = await bindFamily(w, 's1', 'mum', ['dad']);
    await w.clock.advance(TTL);
    await expectOutcome(w, 'dad', path, 'expire'); // binded too
    await expectOutcome(w, 'gran', path, 'expire'); // overload and auth too
  });

  test('unbind before invalid (issuer no longer admin)', async () => {
    const w = await makeWorld();
    const path = await bindFamily(w, 's1', 'mum', ['dad']);
    await w.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'dad' });
    await w.backend.resetStudent({ userId: 's1' });
    await expectOutcome(w, 'gran', path, 'unbind');
  });

  test('invalid (issuer) before binded, overload and auth', async () => {
    const w = await makeWorld({ maxContacts: 2 });
    const path = await bindFamily(w, 's1', 'mum', ['dad']);
    await w.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'dad' });
    await expectOutcome(w, 'mum', path, 'invalid'); // binded too
    await expectOutcome(w, 'gran', path, 'invalid'); // overload and auth too
  });

  test('binded before overload', async () => {
    const w = await makeWorld({ maxContacts: 2 });
    const path = await bindFamily(w, 's1', 'mum', ['dad']);
    await expectOutcome(w, 'dad', path, 'binded');
  });

  test('binded before auth (a contact that revoked consent)', async () => {
    const w = await makeWorld();
    const path = await bindFamily(w, 's1', 'mum', ['dad']);
    await w.dad.revokeVoip();
    await expectOutcome(w, 'dad', path, 'binded');
  });

  test('overload before auth', async () => {
    const w = await makeWorld({ maxContacts: 2 });
    const path = await bindFamily(w, 's1', 'mum', ['dad']);
    await expectOutcome(w, 'gran', path, 'overload'); // gran has no consent
  });

  test('maxContacts 1: every link is overload for anyone else', async () => {
    const w = await makeWorld({ maxContacts: 1 });
    const path = await bindFamily(w, 's1', 'mum');
    await w.dad.authorizeVoip();
    await expectOutcome(w, 'dad', path, 'overload');
    await expectOutcome(w, 'mum', path, 'binded');
  });
});

describe('host parameters and the query-object form', () => {
  test('extra &k=v parameters never change the outcome (not even repeated names)', async () => {
    const w = await makeWorld({ ticketTtlMs: TTL, maxContacts: 3 });
    const path = await bindFamily(w, 's1', 'mum', ['dad']);
    const extras = ['&k=v', '&from=share&scene=1007', '&userId=evil&ticket=zzz&userName=x', '&a', '&=&&', '&x=%E4%BD%A0'];
    for (const extra of extras) {
      await expectOutcome(w, 'dad', path + extra, 'binded');
      await expectOutcome(w, 'gran', path + extra, 'auth', { inspect: 'ready' });
    }
    await w.gran.authorizeVoip();
    await expectOutcome(w, 'gran', path + '&userId=evil&k=v', 'success', { inspect: 'ready' });
    await w.uncle.authorizeVoip();
    await expectOutcome(w, 'uncle', path + '&k=v', 'overload');
    await w.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'dad' });
    await expectOutcome(w, 'uncle', path + '&k=v', 'invalid');
    const fresh = await w.dad.getBindContactPath({ userId: 's1', userName: 'n' });
    await w.clock.advance(TTL);
    await expectOutcome(w, 'uncle', fresh + '&k=v&ticket=x', 'expire');
    // A leading slash (a page path the host navigates to) is accepted too.
    assert.equal((await w.uncle.inspectBindContactPath('/' + fresh)).status, 'expire');
  });

  test('the query object the page got (onLoad options) works like the path', async () => {
    const w = await makeWorld();
    const path = await bindFamily(w, 's1', 'mum', [], '小明 & co');
    const q = queryObject(path);
    assert.equal(q.userName, '小明 & co');
    await w.dad.authorizeVoip();
    const i = await w.dad.inspectBindContactPath(q);
    const { expiresAt, ...rest } = i;
    assert.deepEqual(rest, { userId: 's1', userName: '小明 & co', userAvatar: 'https://img.example/a.png', status: 'ready' });
    assert.equal(expiresAt, (await w.dad.inspectBindContactPath(path)).expiresAt, 'the same link either way');
    await expectOutcome(w, 'dad', { ...q, from: 'share' }, 'success', { inspect: 'ready' });
    assert.deepEqual(w.dad.getPluginOnloadOptions(), { ...q, from: 'share' });
    await expectOutcome(w, 'dad', q, 'binded');
    await expectOutcome(w, 'gran', { ...q, userName: 'other' }, 'invalid');
    await expectOutcome(w, 'gran', { userId: 's1' }, 'invalid');
    await expectOutcome(w, 'gran', {}, 'invalid');
    assert.equal((await w.gran.declineBindContactPath(q)).type, 'cancel');
  });

  test('a malformed argument rejects (1004), emits nothing, changes nothing', async () => {
    const w = await makeWorld();
    await bindFamily(w, 's1', 'mum');
    await w.dad.authorizeVoip();
    const events = [];
    w.dad.onVoipEvent((e) => events.push(e));
    for (const api of ['inspectBindContactPath', 'acceptBindContactPath', 'declineBindContactPath']) {
      for (const bad of [undefined, null, 42, true, ['a'], 'x'.repeat(100_000)]) {
        await rejectsVoip(w.dad[api](bad), { api, errCode: 1004 });
      }
    }
    assert.deepEqual(events, []);
    assert.equal((await w.backend.stats()).contacts, 1);
  });

  test('pathPrefix option replaces the default prefix', localOnly('pathPrefix is a createLocalBackend option'), async () => {
    const w = await makeWorld({ pathPrefix: 'plugin-private://wxabc/' });
    const path = await bindFamily(w, 's1', 'mum');
    assert.ok(path.startsWith('plugin-private://wxabc/pages/bind-contact/bind-contact?'), path);
    await w.dad.authorizeVoip();
    await expectOutcome(w, 'dad', path, 'success', { inspect: 'ready' });
    const plain = await makeWorld();
    const p2 = await bindFamily(plain, 's1', 'mum');
    assert.ok(p2.startsWith('pages/bind-contact/bind-contact?'), p2);
  });
});
