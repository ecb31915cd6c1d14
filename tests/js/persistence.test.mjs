// SPEC §6.1: persistence. A new backend on the same storage sees the same state and the same
// secrets (share paths and face-pay tokens issued before still verify), on every adapter;
// snapshots round-trip; every change is written before its promise resolves, one key at a time.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import {
  localOnly,
  bindFamily,
  callRequest,
  cv,
  dump,
  makeClock,
  makeWorld,
  rejectsVoip,
  registryView,
  VoipPluginError,
} from './helpers.mjs';

/** A tiny Web Storage (localStorage) implementation. */
function fakeLocalStorage() {
  const m = new Map();
  return {
    get length() {
      return m.size;
    },
    key: (i) => (i >= 0 && i < m.size ? [...m.keys()][i] : null),
    getItem: (k) => (m.has(String(k)) ? m.get(String(k)) : null),
    setItem: (k, v) => void m.set(String(k), String(v)),
    removeItem: (k) => void m.delete(String(k)),
    clear: () => m.clear(),
    _map: m,
  };
}

/** A Mini Program `wx` storage mock (getStorageSync answers '' for a missing key). */
function fakeWx() {
  const m = new Map();
  return {
    getStorageSync: (k) => (m.has(k) ? m.get(k) : ''),
    setStorageSync: (k, v) => void m.set(k, v),
    removeStorageSync: (k) => void m.delete(k),
    getStorageInfoSync: () => ({ keys: [...m.keys()], currentSize: 0, limitSize: 10240 }),
    _map: m,
  };
}

const tmpDirs = [];
function tmpDir() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-voip-test-'));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * Acts out a story on backend 1, then opens backend 2 on `storage2` (the same storage, or a
 * new adapter over the same place) and checks it sees everything and honours old links/tokens.
 */
async function persistenceStory(storage1, openStorage2) {
  const clock = makeClock();
  const w1 = await makeWorld({ storage: storage1, clock, maxContacts: 4 });
  const path = await bindFamily(w1, 's1', 'mum', ['dad'], '小明');
  await w1.gran.authorizeVoip();
  await bindFamily(w1, 's2', 'uncle');
  const unused = await w1.backend.issueVoipToken({ userId: 's1' });
  const used = await w1.backend.issueVoipToken({ userId: 's1' });
  assert.equal((await w1.device.initByCaller(callRequest('s1', 'dad', used))).isSuccess, true);
  w1.device.forceHangUpVoip();
  const view1 = await registryView(w1.backend, ['s1', 's2', 's3']);
  const snap1 = w1.backend.exportSnapshot({ includeSecrets: true });
  w1.backend.close();

  const w2 = await makeWorld({ storage: openStorage2(), clock, maxContacts: 4 });
  assert.deepEqual(await registryView(w2.backend, ['s1', 's2', 's3']), view1);
  assert.deepEqual(w2.backend.exportSnapshot({ includeSecrets: true }), snap1, 'the same secrets and records');
  assert.deepEqual(await w2.mum.getVoipBindContactList(), [{ user_id: 's1', is_ad: 1, openid_list: ['mum', 'dad'] }]);
  // The share path issued by backend 1 verifies on backend 2 (same ticket secret); gran's
  // consent was persisted too.
  assert.equal((await w2.gran.inspectBindContactPath(path)).userName, '小明');
  assert.equal((await w2.gran.acceptBindContactPath(path)).type, 'success');
  // The face-pay token issued by backend 1 verifies on backend 2; the used one stays used.
  const r = await w2.device.initByCaller(callRequest('s1', 'gran', unused));
  assert.equal(r.isSuccess, true, r.errMsg);
  w2.device.forceHangUpVoip();
  const reused = await w2.device.initByCaller(callRequest('s1', 'mum', used));
  assert.equal(reused.isSuccess, false);
  assert.equal(reused.errCode, 4);
  // Admin rights persisted.
  await rejectsVoip(w2.dad.bindVoipAdminContact({ userId: 's1' }), { api: 'bindVoipAdminContact', errCode: 3002 });
  const view2 = await registryView(w2.backend, ['s1', 's2']);
  w2.backend.close();
  // And a third backend sees backend 2's changes.
  const w3 = await makeWorld({ storage: openStorage2(), clock, maxContacts: 4 });
  assert.deepEqual(await registryView(w3.backend, ['s1', 's2']), view2);
  assert.deepEqual(
    (await w3.backend.getVoipContactList({ user_id: 's1' })).contact_list.map((c) => c.open_id),
    ['mum', 'dad', 'gran'],
  );
  return w3;
}

describe('a new backend on the same storage', localOnly("storage adapters (the service's durability: server/tests)"), () => {
  test('memoryStorage shared between backends', async () => {
    const s = cv.memoryStorage();
    await persistenceStory(s, () => s);
    assert.ok(s.keys().every((k) => k.startsWith('campus-voip/')), 'default namespace');
    assert.ok(s.keys().includes('campus-voip/meta'));
  });

  test('webStorage over a tiny localStorage implementation', async () => {
    const ls = fakeLocalStorage();
    await persistenceStory(cv.webStorage(ls), () => cv.webStorage(ls));
    assert.ok(ls._map.size >= 6, 'meta, two students, consents and a used token are stored');
    for (const v of ls._map.values()) assert.match(v, /^[A-Za-z0-9_-]+$/, 'values are base64url text');
  });

  test('wxStorage over a wx mock', async () => {
    const wx = fakeWx();
    await persistenceStory(cv.wxStorage(wx), () => cv.wxStorage(wx));
    assert.ok(wx._map.has('campus-voip/meta'));
  });

  test('fileStorage in a temporary directory: files appear, a new backend sees the state', async () => {
    const dir = tmpDir();
    const fsA = cv.fileStorage(dir);
    // One file per key, written atomically; no temporary files left behind.
    await persistenceStory(fsA, () => cv.fileStorage(dir));
    const files = fs.readdirSync(dir);
    assert.ok(files.length >= 6, files.join(' '));
    assert.ok(files.every((f) => f.endsWith('.cv')), files.join(' '));
    assert.ok(files.includes(Buffer.from('campus-voip/meta').toString('hex') + '.cv'));
    assert.deepEqual(dump(cv.fileStorage(dir)), dump(fsA));
    // A directory that does not exist yet is created.
    const nested = path.join(tmpDir(), 'a', 'b');
    const w = await makeWorld({ storage: cv.fileStorage(nested) });
    await w.mum.authorizeVoip();
    assert.ok(fs.readdirSync(nested).length >= 2);
  });

  test('every change is stored before its promise resolves, one key per change', async () => {
    const inner = cv.memoryStorage();
    const writes = [];
    const s = {
      get: inner.get,
      keys: inner.keys,
      set: (k, v) => (writes.push(['set', k]), inner.set(k, v)),
      remove: (k) => (writes.push(['remove', k]), inner.remove(k)),
    };
    const w = await makeWorld({ storage: s, maxContacts: 10 });
    // A registry with many students: a change still writes one key.
    let p0;
    for (let i = 0; i < 40; i++) {
      const p = await w.plugin({ openId: 'p' + i });
      await p.authorizeVoip();
      await p.bindVoipAdminContact({ userId: 'student' + i });
      p0 = p0 || p;
    }
    await w.dad.authorizeVoip();
    let sharePath;
    const ops = [
      () => w.mum.authorizeVoip(),
      () => w.mum.bindVoipAdminContact({ userId: 's1' }),
      async () => {
        sharePath = await w.mum.getBindContactPath({ userId: 's1', userName: 'n' });
        assert.deepEqual(writes, [], 'issuing a share path writes nothing');
        return w.dad.acceptBindContactPath(sharePath);
      },
      () => w.mum.transerAdmin({ userId: 's1', newAdminOpenid: 'dad' }),
      () => w.dad.deleteVoipBindContact({ userId: 's1', openidList: ['mum'] }),
      () => w.mum.revokeVoip(),
      () => w.backend.resetStudent({ userId: 's1' }),
    ];
    for (const op of ops) {
      writes.length = 0;
      const before = dump(inner);
      await op();
      assert.equal(writes.length, 1, `exactly one write: ${JSON.stringify(writes)}`);
      assert.notDeepEqual(dump(inner), before, 'the change is in the storage when the promise resolves');
    }
    // Reads and no-op changes write nothing.
    writes.length = 0;
    await w.dad.getVoipBindContactList();
    await w.dad.authorizeVoip();
    await p0.bindVoipAdminContact({ userId: 'student0' });
    await w.backend.getVoipContactList({ user_id: 'student1' });
    await w.backend.issueVoipToken({ userId: 'student1' });
    await w.dad.inspectBindContactPath(sharePath);
    await w.gran.declineBindContactPath(sharePath);
    assert.deepEqual(writes, []);
  });

  test('namespaces keep two backends apart in one storage', async () => {
    const s = cv.memoryStorage();
    const a = await makeWorld({ storage: s, namespace: 'a/' });
    const b = await makeWorld({ storage: s, namespace: 'b/' });
    await bindFamily(a, 's1', 'mum');
    assert.equal((await b.backend.getVoipContactList({ user_id: 's1' })).errcode, 1);
    await bindFamily(b, 's1', 'dad');
    assert.ok(s.keys().some((k) => k.startsWith('a/')) && s.keys().some((k) => k.startsWith('b/')));
    // One open backend per storage and namespace: a second on 'a/' waits for the first to close.
    await assert.rejects(makeWorld({ storage: s, namespace: 'a/' }), (e) => e.errCode === 1004 && /another backend is open/.test(e.errMsg));
    a.backend.close();
    const a2 = await makeWorld({ storage: s, namespace: 'a/' });
    assert.deepEqual((await a2.backend.getVoipContactList({ user_id: 's1' })).contact_list, [{ open_id: 'mum', role: 1 }]);
  });
});

describe('one open backend per storage', localOnly("storage adapters"), () => {
  // Each backend keeps the registry in memory and reads the storage only when it opens: two open
  // at once would each miss the other's changes, so the second is refused until the first closes.
  const refused = (p) =>
    assert.rejects(p, (e) => e instanceof VoipPluginError && e.errCode === 1004 && /another backend is open on this storage/.test(e.errMsg));

  test('recognised through different adapters over the same place', async () => {
    const ls = fakeLocalStorage();
    const wx = fakeWx();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-voip-excl-'));
    try {
      for (const make of [() => cv.webStorage(ls), () => cv.wxStorage(wx), () => cv.fileStorage(dir)]) {
        const first = await cv.createLocalBackend({ storage: make() });
        await refused(cv.createLocalBackend({ storage: make() }));
        // Another namespace in the same place is another storage.
        const other = await cv.createLocalBackend({ storage: make(), namespace: 'other/' });
        other.close();
        first.close();
        const second = await cv.createLocalBackend({ storage: make() });
        second.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('two memoryStorage() calls are two storages', async () => {
    const a = await cv.createLocalBackend({ storage: cv.memoryStorage() });
    const b = await cv.createLocalBackend({ storage: cv.memoryStorage() });
    a.close();
    b.close();
  });
});

describe('exportSnapshot / restore', localOnly("snapshots of a local backend (the service's: export / import)"), () => {
  test('round trip into an empty storage: same entries, links and tokens still valid', async () => {
    const s1 = cv.memoryStorage();
    const clock = makeClock();
    const w1 = await makeWorld({ storage: s1, clock });
    const p = await bindFamily(w1, 's1', 'mum', ['dad']);
    await w1.gran.authorizeVoip();
    const tok = await w1.backend.issueVoipToken({ userId: 's1' });
    const usedTok = await w1.backend.issueVoipToken({ userId: 's1' });
    assert.equal((await w1.device.initByCaller(callRequest('s1', 'mum', usedTok))).isSuccess, true);
    const snap = w1.backend.exportSnapshot({ includeSecrets: true });
    assert.ok(snap instanceof Uint8Array);

    const s2 = cv.memoryStorage();
    const restored = await cv.createLocalBackend({ storage: s2, dev: true, restore: snap, now: clock.now });
    assert.deepEqual(dump(s2), dump(s1), 'the restored storage holds exactly the same entries');
    assert.deepEqual(restored.exportSnapshot({ includeSecrets: true }), snap);
    assert.deepEqual(await registryView(restored, ['s1']), await registryView(w1.backend, ['s1']));
    const gran = await cv.createVoipPlugin({ backend: restored, openId: 'gran' });
    assert.equal((await gran.acceptBindContactPath(p)).type, 'success');
    const dev = await cv.createVoipPlugin({ backend: restored });
    assert.equal((await dev.initByCaller(callRequest('s1', 'gran', tok))).isSuccess, true);
    dev.forceHangUpVoip();
    assert.equal((await dev.initByCaller(callRequest('s1', 'mum', usedTok))).errCode, 4);
    // The original is unaffected by what happened on the copy.
    assert.equal((await w1.backend.stats()).contacts, 2);
    // Restoring into another (empty) namespace of a non-empty storage is fine.
    const r2 = await cv.createLocalBackend({ storage: s1, namespace: 'copy/', dev: true, restore: snap });
    assert.equal(r2.stats().contacts, 2);
  });

  test('restore into a non-empty storage is rejected and nothing changes', async () => {
    const s = cv.memoryStorage();
    const w = await makeWorld({ storage: s });
    await bindFamily(w, 's1', 'mum');
    const other = await makeWorld();
    await bindFamily(other, 's9', 'dad');
    const before = dump(s);
    await rejectsVoip(cv.createLocalBackend({ storage: s, dev: true, restore: other.backend.exportSnapshot({ includeSecrets: true }) }), {
      api: 'createLocalBackend',
      errCode: 1004,
    });
    assert.deepEqual(dump(s), before);
  });

  test('a corrupt, truncated or unknown-version snapshot is STORAGE and writes nothing', async () => {
    const w = await makeWorld();
    await bindFamily(w, 's1', 'mum', ['dad']);
    const snap = w.backend.exportSnapshot({ includeSecrets: true });
    const variants = {
      flipped: (() => {
        const c = snap.slice();
        c[Math.floor(c.length / 2)] ^= 0x20;
        return c;
      })(),
      truncated: snap.slice(0, snap.length - 5),
      'cut in half': snap.slice(0, snap.length >> 1),
      empty: new Uint8Array(0),
      'version 2': (() => {
        const c = snap.slice();
        c[6] = 2;
        return c;
      })(),
      'not a snapshot': new TextEncoder().encode('hello world, this is not a snapshot at all!!'),
    };
    for (const [name, bytes] of Object.entries(variants)) {
      const s = cv.memoryStorage();
      await rejectsVoip(cv.createLocalBackend({ storage: s, dev: true, restore: bytes }), {
        api: 'createLocalBackend',
        errCode: 3007,
        code: 'STORAGE',
      }).catch((e) => assert.fail(`${name}: ${e.message}`));
      assert.deepEqual(s.keys(), [], `${name}: nothing written`);
    }
  });
});
