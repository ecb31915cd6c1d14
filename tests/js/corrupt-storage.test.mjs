// SPEC §6.1 and §2.3: corrupt or unknown-version stored data fails with STORAGE and is never
// overwritten; a failing write rejects with STORAGE and changes nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  localOnly,
  VoipCgiError,
  b64urlDecode,
  bindFamily,
  callRequest,
  cv,
  dump,
  failingStorage,
  flipChar,
  makeClock,
  makeWorld,
  registryView,
  rejectsVoip,
  throwsVoip,
  withVersion,
  copyOf,
} from './helpers.mjs';

const NS = 'campus-voip/';

/** A storage holding every kind of entry: meta, students, consents, a used token. */
async function populated() {
  const storage = cv.memoryStorage();
  const clock = makeClock();
  const w = await makeWorld({ storage, clock });
  await bindFamily(w, 's1', 'mum', ['dad']);
  await bindFamily(w, 's2', 'gran');
  const tok = await w.backend.issueVoipToken({ userId: 's1' });
  const { roomId, isSuccess } = await w.device.initByCaller(callRequest('s1', 'mum', tok));
  assert.equal(isSuccess, true);
  await w.mum.answerVoip({ roomId });
  await clock.advance(65_000);
  w.device.forceHangUpVoip(); // the call's record
  const keys = storage.keys();
  const byKind = {
    meta: keys.find((k) => k === NS + 'meta'),
    student: keys.find((k) => k.startsWith(NS + 's.')),
    consent: keys.find((k) => k.startsWith(NS + 'c.')),
    token: keys.find((k) => k.startsWith(NS + 't.')),
    record: keys.find((k) => k === NS + 'r.' + roomId),
  };
  for (const [kind, k] of Object.entries(byKind)) assert.ok(k, `a ${kind} entry exists`);
  const view = await registryView(w.backend, ['s1', 's2']);
  view.calls = await w.backend.getVoipCallList({ user_id: 's1' });
  assert.equal(view.calls.call_list.length, 1);
  // One backend at a time on a storage: this one is done.
  w.backend.close();
  return { storage, clock, byKind, view };
}

async function expectStorageFailure(storage, clock, label) {
  const before = dump(storage);
  const err = await rejectsVoip(cv.createLocalBackend({ storage, now: clock.now }), {
    api: 'createLocalBackend',
    errCode: 3007,
    code: 'STORAGE',
    cls: VoipCgiError,
  }).catch((e) => assert.fail(`${label}: ${e.message}`));
  assert.deepEqual(dump(storage), before, `${label}: nothing in the storage was overwritten`);
  return err;
}

describe('loading corrupt data', localOnly("stored entries of a local backend (the service's: check)"), () => {
  const corruptions = {
    'one character flipped': (k, v) => flipChar(v),
    'first character flipped': (k, v) => (v[0] === 'A' ? 'B' : 'A') + v.slice(1),
    'truncated to half': (k, v) => v.slice(0, v.length >> 1),
    'last character removed': (k, v) => v.slice(0, -1),
    'truncated to 3 characters': (k, v) => v.slice(0, 3),
    'empty string': () => '',
    'not base64url': (k, v) => v.slice(0, 4) + '!*' + v.slice(6),
    'unknown version 3 (valid checksum)': (k, v) => withVersion(k.slice(NS.length), v, 3),
    'unknown version 0 (valid checksum)': (k, v) => withVersion(k.slice(NS.length), v, 0),
    'unknown version 255 (valid checksum)': (k, v) => withVersion(k.slice(NS.length), v, 255),
    'trailing data': (k, v) => v + 'AAAA',
  };

  for (const [name, corrupt] of Object.entries(corruptions)) {
    test(`${name}: rejected with STORAGE for every kind of entry, storage untouched`, async () => {
      const { storage, clock, byKind, view } = await populated();
      for (const [kind, key] of Object.entries(byKind)) {
        const original = storage.get(key);
        const bad = corrupt(key, original);
        assert.notEqual(bad, original);
        storage.set(key, bad);
        const err = await expectStorageFailure(storage, clock, `${name} / ${kind}`);
        assert.match(err.errMsg, /^createLocalBackend:fail /);
        if (name.startsWith('unknown version')) assert.match(err.errMsg, /version/, 'reported as a version problem');
        storage.set(key, original);
      }
      // Repaired: nothing was lost.
      const b = await cv.createLocalBackend({ storage, now: clock.now });
      assert.deepEqual({ ...(await registryView(b, ['s1', 's2'])), calls: await b.getVoipCallList({ user_id: 's1' }) }, view);
    });
  }

  test('the version check is really a version check (the re-sealed value with version 2 loads)', async () => {
    const { storage, clock, byKind, view } = await populated();
    for (const key of Object.values(byKind)) {
      const v = storage.get(key);
      assert.equal(b64urlDecode(v)[0], 2, 'format version 2');
      assert.equal(withVersion(key.slice(NS.length), v, 2), v, 'the test re-seals exactly like the core');
    }
    const b = await cv.createLocalBackend({ storage, now: clock.now });
    assert.deepEqual({ ...(await registryView(b, ['s1', 's2'])), calls: await b.getVoipCallList({ user_id: 's1' }) }, view);
  });

  test('a value stored under another key (swapped students) is rejected', async () => {
    const { storage, clock } = await populated();
    const students = storage.keys().filter((k) => k.startsWith(NS + 's.'));
    assert.equal(students.length, 2);
    const [a, b] = students.map((k) => storage.get(k));
    storage.set(students[0], b);
    storage.set(students[1], a);
    await expectStorageFailure(storage, clock, 'swapped');
  });

  test('the meta entry removed but records kept → STORAGE (never fresh secrets over old records)', async () => {
    const { storage, clock } = await populated();
    storage.remove(NS + 'meta');
    const err = await expectStorageFailure(storage, clock, 'no meta');
    assert.match(err.errMsg, /meta|secret/);
    assert.equal(storage.get(NS + 'meta'), null, 'no new meta was written');
    // Only a consent record left, still no meta.
    for (const k of storage.keys()) if (!k.includes('/c.')) storage.remove(k);
    assert.ok(storage.keys().length >= 1);
    await expectStorageFailure(storage, clock, 'only consents');
  });

  test('a non-text value, a throwing get() or keys() → STORAGE', async () => {
    const { storage, clock, byKind } = await populated();
    const wrap = (over) => ({ get: storage.get, set: storage.set, remove: storage.remove, keys: storage.keys, ...over });
    const before = dump(storage);
    for (const [label, s] of [
      ['number value', wrap({ get: (k) => (k === byKind.student ? 42 : storage.get(k)) })],
      ['object value', wrap({ get: (k) => (k === byKind.meta ? { v: 1 } : storage.get(k)) })],
      ['get throws', wrap({ get: () => { throw new Error('EIO'); } })],
      ['keys throws', wrap({ keys: () => { throw new Error('EIO'); } })],
    ]) {
      await rejectsVoip(cv.createLocalBackend({ storage: s, now: clock.now }), {
        api: 'createLocalBackend',
        errCode: 3007,
        cls: VoipCgiError,
      }).catch((e) => assert.fail(`${label}: ${e.message}`));
    }
    assert.deepEqual(dump(storage), before);
  });

  test('fileStorage: a corrupted file is STORAGE and stays as it was', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-voip-corrupt-'));
    try {
      const clock = makeClock();
      const w = await makeWorld({ storage: cv.fileStorage(dir), clock });
      await bindFamily(w, 's1', 'mum', ['dad']);
      w.backend.close(); // one open backend per storage (the directory)
      const studentFile = fs
        .readdirSync(dir)
        .find((f) => Buffer.from(f.slice(0, -3), 'hex').toString().startsWith(NS + 's.'));
      assert.ok(studentFile);
      const full = path.join(dir, studentFile);
      const good = fs.readFileSync(full, 'utf8');
      fs.writeFileSync(full, good.slice(0, 10));
      const files = Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
      await rejectsVoip(cv.createLocalBackend({ storage: cv.fileStorage(dir), now: clock.now }), {
        api: 'createLocalBackend',
        errCode: 3007,
      });
      const after = Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
      assert.deepEqual(after, files);
      fs.writeFileSync(full, good);
      const b = await cv.createLocalBackend({ storage: cv.fileStorage(dir), now: clock.now });
      assert.equal(b.stats().contacts, 2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a storage whose writes fail', localOnly("storage adapters"), () => {
  test('every writing operation rejects with STORAGE; state unchanged now and for a new backend', async () => {
    const storage = failingStorage();
    const clock = makeClock();
    const w = await makeWorld({ storage, clock, maxContacts: 5 });
    const path1 = await bindFamily(w, 's1', 'mum', ['dad']);
    await w.gran.authorizeVoip();
    const tok = await w.backend.issueVoipToken({ userId: 's1' });
    const view = await registryView(w.backend, ['s1', 's2']);
    const lists = async () => ({
      mum: await w.mum.getVoipBindContactList(),
      dad: await w.dad.getVoipBindContactList(),
      gran: await w.gran.getVoipBindContactList(),
    });
    const listsBefore = await lists();
    const before = dump(storage);
    const events = [];
    const navs = [];
    w.gran.onVoipEvent((e) => events.push(e));
    w.device.onVoipEvent((e) => events.push(e));
    const gran2 = await w.plugin({ openId: 'gran', navigate: (r) => navs.push(r) });
    gran2.setVoipEndPagePath({ key: 'BindContact', url: '/done' });

    storage.failWrites = true;
    const e = { errCode: 3007, code: 'STORAGE', cls: VoipCgiError };
    await rejectsVoip(w.uncle.authorizeVoip(), { ...e, api: 'authorizeVoip' });
    await rejectsVoip(w.gran.revokeVoip(), { ...e, api: 'revokeVoip' });
    await rejectsVoip(w.gran.bindVoipAdminContact({ userId: 's2' }), { ...e, api: 'bindVoipAdminContact' });
    await rejectsVoip(w.gran.acceptBindContactPath(path1), { ...e, api: 'acceptBindContactPath' });
    await rejectsVoip(gran2.acceptBindContactPath(path1), { ...e, api: 'acceptBindContactPath' });
    await rejectsVoip(w.mum.deleteVoipBindContact({ userId: 's1', openidList: ['dad'] }), { ...e, api: 'deleteVoipBindContact' });
    await rejectsVoip(w.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'dad' }), { ...e, api: 'transerAdmin' });
    await rejectsVoip(w.backend.resetStudent({ userId: 's1' }), { ...e, api: 'resetStudent' });
    await rejectsVoip(w.device.initByCaller(callRequest('s1', 'mum', tok)), { ...e, api: 'initByCaller' });
    // Nothing changed, nothing was emitted, nobody navigated.
    assert.deepEqual(events, []);
    assert.deepEqual(navs, []);
    assert.deepEqual(dump(storage), before);
    assert.deepEqual(await registryView(w.backend, ['s1', 's2']), view);
    assert.deepEqual(await lists(), listsBefore);
    // gran's consent survived the failed revoke; uncle is still without consent.
    assert.equal((await w.uncle.acceptBindContactPath(path1)).type, 'auth');
    assert.equal((await w.gran.inspectBindContactPath(path1)).status, 'ready');
    // The same admin rights as before.
    await rejectsVoip(w.dad.getBindContactPath({ userId: 's1', userName: 'n' }), { api: 'getBindContactPath', errCode: 3001 });
    // A new backend on what the storage holds sees the old state.
    const w2 = await makeWorld({ storage: copyOf(storage), clock, maxContacts: 5 });
    assert.deepEqual(await registryView(w2.backend, ['s1', 's2']), view);

    // Writes work again: the token was not consumed and the device is not busy.
    storage.failWrites = false;
    const r = await w.device.initByCaller(callRequest('s1', 'mum', tok));
    assert.equal(r.isSuccess, true, r.errMsg);
    assert.equal((await w.gran.acceptBindContactPath(path1)).type, 'success');
    assert.deepEqual(events.map((x) => x.eventName), ['joinedRoomByCaller', 'bindContact']);
  });

  test("a call's ending is a write (its record): with failing writes every ending throws or rejects STORAGE, nothing is heard, the calls go on", async () => {
    const storage = failingStorage();
    const clock = makeClock();
    const w = await makeWorld({ storage, clock, maxContacts: 5 });
    await bindFamily(w, 's1', 'mum', ['dad']);
    const logs = new Map();
    const listen = (name, p) => {
      const log = [];
      p.onVoipEvent((e) => log.push(e.eventName));
      logs.set(name, log);
    };
    // A ringing call (device → dad) and a connected one (dev2 → mum).
    const dev2 = await w.plugin();
    for (const [name, p] of [['device', w.device], ['dev2', dev2], ['mum', w.mum], ['dad', w.dad]]) listen(name, p);
    const call = async (from, to) => (await from.initByCaller(callRequest('s1', to, await w.backend.issueVoipToken({ userId: 's1' })))).roomId;
    const ringing = await call(w.device, 'dad');
    const connected = await call(dev2, 'mum');
    await w.mum.answerVoip({ roomId: connected });
    const heard = () => Object.fromEntries(Array.from(logs, ([k, v]) => [k, v.slice()]));
    const heardBefore = heard();
    const before = dump(storage);

    storage.failWrites = true;
    const e = { errCode: 3007, code: 'STORAGE', cls: VoipCgiError };
    throwsVoip(() => w.device.forceHangUpVoip(), { ...e, api: 'forceHangUpVoip' });
    await rejectsVoip(w.dad.rejectVoip({ roomId: ringing }), { ...e, api: 'rejectVoip' });
    throwsVoip(() => w.dad.forceHangUpVoip(ringing), { ...e, api: 'forceHangUpVoip' });
    throwsVoip(() => w.mum.forceHangUpVoip(), { ...e, api: 'forceHangUpVoip' });
    throwsVoip(() => dev2.forceHangUpVoip(connected), { ...e, api: 'forceHangUpVoip' });
    await clock.advance(30_000); // the ring timeout passes
    await rejectsVoip(w.backend.tick(), { ...e, api: 'tick' });
    assert.deepEqual(heard(), heardBefore, 'nothing was heard');
    assert.deepEqual(dump(storage), before, 'nothing was written');
    assert.deepEqual((await w.backend.getVoipCallList({ user_id: 's1' })).call_list, []);

    // Writes work again: the ring timeout fires at its own time, the connected call goes on.
    storage.failWrites = false;
    await w.backend.tick();
    await clock.advance(5_000);
    w.mum.forceHangUpVoip();
    const endings = (await w.backend.getVoipCallList({ user_id: 's1' })).call_list.map((r) => [r.room_id, r.ending, r.ended_at_ms - r.rang_at_ms]);
    assert.deepEqual(endings, [
      [ringing, 'timeout', 30_000],
      [connected, 'endByListener', 35_000],
    ]);
    assert.deepEqual(logs.get('device').slice(1), ['timeout', 'endVoip', 'finishVoip']);
    assert.deepEqual(logs.get('mum').slice(-3), ['hangUpVoip', 'endVoip', 'finishVoip']);
    // The records are stored: a backend opened later on the same data lists them.
    const copy = await cv.createLocalBackend({ storage: copyOf(storage), now: clock.now });
    assert.deepEqual((await copy.getVoipCallList({ user_id: 's1' })).call_list.map((r) => [r.room_id, r.ending, r.ended_at_ms - r.rang_at_ms]), endings);
    copy.close();
  });

  test('a failed write in the middle of a busy sequence keeps the earlier successes', async () => {
    const storage = failingStorage();
    const w = await makeWorld({ storage, maxContacts: 6 });
    const p = await bindFamily(w, 's1', 'mum');
    const order = ['dad', 'gran', 'uncle', 'aunt'];
    for (const o of order) await w.people[o].authorizeVoip();
    const results = [];
    for (const [i, o] of order.entries()) {
      storage.failWrites = i === 2;
      results.push(await w.people[o].acceptBindContactPath(p).then((r) => r.type, (e) => e.code));
    }
    storage.failWrites = false;
    assert.deepEqual(results, ['success', 'success', 'STORAGE', 'success']);
    assert.deepEqual((await w.mum.getVoipBindContactList())[0].openid_list, ['mum', 'dad', 'gran', 'aunt']);
    const w2 = await makeWorld({ storage: copyOf(storage) });
    assert.deepEqual((await w2.mum.getVoipBindContactList())[0].openid_list, ['mum', 'dad', 'gran', 'aunt']);
  });

  test('a deadline whose timer fired while writes failed still fires by itself once they work again (no tick() needed)', async () => {
    const storage = failingStorage();
    const clock = makeClock();
    const w = await makeWorld({ storage, clock });
    await bindFamily(w, 's1', 'mum');
    const log = [];
    w.mum.onVoipEvent((e) => log.push(e.eventName));
    await w.device.initByCaller(callRequest('s1', 'mum', await w.backend.issueVoipToken({ userId: 's1' })));
    storage.failWrites = true;
    await clock.advance(30_000);
    w.device.forceHangUpVoip('another-room'); // any call operation re-arms: the timer fires now, and fails
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(log, ['incomingVoip']);
    storage.failWrites = false;
    // The phone must not ring for ever: the backend retries on its own (within a few seconds).
    const until = Date.now() + 3_000;
    while (log.length === 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(log, ['incomingVoip', 'timeout', 'endVoip', 'finishVoip']);
  });
});
