// SPEC §2.5: concurrent operations behave as some serial order (no limit overrun, no double
// admin, no lost update).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BACKEND, bindFamily, cv, makeWorld, rejectsVoip, rng } from './helpers.mjs';

async function parents(w, n, prefix = 'parent') {
  const out = [];
  for (let i = 0; i < n; i++) {
    const p = await w.plugin({ openId: `${prefix}${i}` });
    await p.authorizeVoip();
    out.push(p);
  }
  return out;
}

describe('concurrency', () => {
  for (const maxContacts of [1, 2, 5, 10]) {
    test(`many concurrent accepts never exceed maxContacts ${maxContacts}`, async () => {
      const w = await makeWorld({ maxContacts });
      const path = await bindFamily(w, 's1', 'mum');
      const ps = await parents(w, 25);
      const results = await Promise.all(ps.map((p) => p.acceptBindContactPath(path)));
      const types = results.map((r) => r.type);
      assert.equal(types.filter((t) => t === 'success').length, maxContacts - 1);
      assert.equal(types.filter((t) => t === 'overload').length, 25 - (maxContacts - 1));
      assert.equal(types.length, 25);
      const list = await w.backend.getVoipContactList({ user_id: 's1' });
      assert.equal(list.contact_list.length, maxContacts);
      assert.equal(list.contact_list.filter((c) => c.role === 1).length, 1);
      // Those who got 'success' are exactly the bound ones (in the order the backend took them:
      // the order of the calls locally, of the commits on the service).
      const bound = list.contact_list.slice(1).map((c) => c.open_id);
      const won = ps.map((p, i) => [i, types[i]]).filter(([, t]) => t === 'success').map(([i]) => `parent${i}`);
      if (BACKEND === 'local') assert.deepEqual(bound, won);
      else assert.deepEqual(bound.slice().sort(), won.sort());
      if (BACKEND === 'local') {
        // A persisted view agrees (after the first backend closes: one at a time per storage).
        w.backend.close();
        const again = await cv.createLocalBackend({ storage: w.storage });
        assert.equal((await again.getVoipContactList({ user_id: 's1' })).contact_list.length, maxContacts);
      }
    });
  }

  test('the same person accepting twice concurrently: one success, one binded', async () => {
    const w = await makeWorld({ maxContacts: 5 });
    const path = await bindFamily(w, 's1', 'mum');
    await w.dad.authorizeVoip();
    const dad2 = await w.plugin({ openId: 'dad' });
    const types = (await Promise.all([w.dad.acceptBindContactPath(path), dad2.acceptBindContactPath(path)])).map((r) => r.type);
    assert.deepEqual(types.sort(), ['binded', 'success']);
    assert.equal((await w.backend.stats()).contacts, 2);
  });

  test('concurrent bindVoipAdminContact by several people → exactly one admin', async () => {
    const w = await makeWorld();
    const ps = await parents(w, 12);
    const settled = await Promise.allSettled(ps.map((p) => p.bindVoipAdminContact({ userId: 's1' })));
    const won = settled.filter((s) => s.status === 'fulfilled');
    const lost = settled.filter((s) => s.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 11);
    for (const l of lost) {
      assert.equal(l.reason.errCode, 3002);
      assert.equal(l.reason.code, 'ADMIN_EXISTS');
    }
    const list = await w.backend.getVoipContactList({ user_id: 's1' });
    assert.deepEqual(list.contact_list.length, 1);
    assert.equal(list.contact_list[0].role, 1);
    const winner = ps[settled.indexOf(won[0])];
    assert.equal(list.contact_list[0].open_id, await winner.getOpenId());
  });

  test('concurrent transfers, deletes and accepts keep the invariants', async () => {
    const random = rng(42);
    const w = await makeWorld({ maxContacts: 6 });
    const ps = await parents(w, 10);
    const all = [w.mum, ...ps];
    const path = await bindFamily(w, 's1', 'mum');
    await Promise.all(ps.slice(0, 4).map((p) => p.acceptBindContactPath(path)));
    for (let round = 0; round < 8; round++) {
      const list = await w.backend.getVoipContactList({ user_id: 's1' });
      const admin = all.find((_, i) => (i === 0 ? 'mum' : `parent${i - 1}`) === list.contact_list[0].open_id);
      const sharePath = await admin.getBindContactPath({ userId: 's1', userName: 'n' });
      const ops = [];
      for (let k = 0; k < 12; k++) {
        const who = all[Math.floor(random() * all.length)];
        const target = list.contact_list[Math.floor(random() * list.contact_list.length)].open_id;
        const r = random();
        if (r < 0.4) ops.push(who.acceptBindContactPath(sharePath));
        else if (r < 0.7) ops.push(who.deleteVoipBindContact({ userId: 's1', openidList: [target] }));
        else ops.push(who.transerAdmin({ userId: 's1', newAdminOpenid: target }));
      }
      const settled = await Promise.allSettled(ops);
      for (const s of settled) {
        if (s.status === 'rejected') {
          assert.ok([3001, 3003, 3004].includes(s.reason.errCode), s.reason.errMsg);
        }
      }
      const after = await w.backend.getVoipContactList({ user_id: 's1' });
      assert.equal(after.errcode, 0);
      assert.ok(after.contact_list.length <= 6);
      assert.equal(after.contact_list.filter((c) => c.role === 1).length, 1, 'exactly one admin');
      assert.equal(after.contact_list[0].role, 1, 'admin first');
      assert.equal(new Set(after.contact_list.map((c) => c.open_id)).size, after.contact_list.length, 'no duplicates');
    }
  });

  test('concurrent calls from one device: one admitted, the rest BUSY', async () => {
    const w = await makeWorld();
    await bindFamily(w, 's1', 'mum', ['dad']);
    const toks = await Promise.all([1, 2, 3, 4].map(() => w.backend.issueVoipToken({ userId: 's1' })));
    const settled = await Promise.allSettled(
      toks.map((t) => w.device.initByCaller({ roomType: 'voice', caller: { id: 's1' }, listener: { id: 'mum' }, voipToken: t })),
    );
    assert.equal(settled.filter((s) => s.status === 'fulfilled' && s.value.isSuccess).length, 1);
    const busy = settled.filter((s) => s.status === 'rejected');
    assert.equal(busy.length, 3);
    for (const b of busy) assert.equal(b.reason.errCode, 1005);
    // The same token used concurrently by two devices: admitted once.
    const t = await w.backend.issueVoipToken({ userId: 's1' });
    const devs = await Promise.all([1, 2, 3].map(() => w.plugin()));
    const rs = await Promise.all(
      devs.map((d) => d.initByCaller({ roomType: 'voice', caller: { id: 's1' }, listener: { id: 'dad' }, voipToken: t })),
    );
    assert.equal(rs.filter((r) => r.isSuccess).length, 1);
    assert.deepEqual(rs.filter((r) => !r.isSuccess).map((r) => r.errCode), [4, 4]);
    await rejectsVoip(w.device.initByCaller({ roomType: 'voice', caller: { id: 's1' }, listener: { id: 'mum' }, voipToken: t }), {
      api: 'initByCaller',
      errCode: 1005,
    });
  });
});
