// The CommonJS build (dist/npm/node.cjs), loaded with require as a Node user would, and the
// package.json entry points.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, test } from 'node:test';
import { DIST, cv as esm, settle } from './helpers.mjs';

const require = createRequire(import.meta.url);
const cjs = require(path.join(DIST, 'node.cjs'));

describe('CommonJS build', () => {
  test("the default instance: a bad voipConfig rejects under the called API's name, and configure() can fix it", async () => {
    cjs.configure({ openId: 'not an openid!' });
    await assert.rejects(
      cjs.default.authorizeVoip(),
      (e) => e instanceof cjs.VoipPluginError && e.errCode === 20 && e.errMsg.startsWith('authorizeVoip:fail '),
    );
    cjs.configure({ openId: 'fixed', backend: { type: 'local' } });
    assert.deepEqual(await cjs.default.authorizeVoip(), { errCode: 0, errMsg: 'authorizeVoip:ok' });
    assert.equal(await cjs.default.getOpenId(), 'fixed');
    assert.throws(() => cjs.configure({ openId: 'late' }), (e) => e.errCode === 1004);
  });

  test('a backend of the CommonJS build is refused by the ESM factory (not a wasm error later)', async () => {
    const b = await cjs.createLocalBackend();
    await assert.rejects(
      esm.createVoipPlugin({ backend: b, openId: 'x' }),
      (e) => e instanceof esm.VoipPluginError && e.errCode === 1004 && /^createVoipPlugin:fail backend must be/.test(e.errMsg),
    );
  });

  test('exports the same names as the ESM build', () => {
    const names = (m) => Object.keys(m).filter((k) => k !== '__esModule').sort();
    assert.deepEqual(names(cjs), names(esm));
    for (const k of ['createVoipPlugin', 'createLocalBackend', 'configure', 'memoryStorage', 'webStorage', 'wxStorage', 'fileStorage']) {
      assert.equal(typeof cjs[k], 'function', k);
    }
    assert.equal(cjs.PLUGIN_VERSION, esm.PLUGIN_VERSION);
    assert.equal(typeof cjs.default.initByCaller, 'function');
  });

  test('a full story through require(): bind, share, accept, call, hang up, errors', async () => {
    let t = 1_700_000_000_000;
    const backend = await cjs.createLocalBackend({ storage: cjs.memoryStorage(), now: () => t, maxContacts: 3, dev: true });
    const mum = await cjs.createVoipPlugin({ backend, openId: 'mum' });
    const dad = await cjs.createVoipPlugin({ backend, openId: 'dad' });
    const device = await cjs.createVoipPlugin({ backend });
    assert.deepEqual(await mum.authorizeVoip(), { errCode: 0, errMsg: 'authorizeVoip:ok' });
    assert.deepEqual(await mum.bindVoipAdminContact({ userId: 's1' }), { errCode: 0, errMsg: 'bindVoipAdminContact:ok', userId: 's1' });
    const p = await mum.getBindContactPath({ userId: 's1', userName: '小明' });
    assert.equal(typeof p, 'string');
    await dad.authorizeVoip();
    assert.deepEqual(await dad.acceptBindContactPath(p), { type: 'success', errMsg: 'bindContact:ok', userId: 's1' });
    assert.deepEqual(await mum.getVoipBindContactList(), [{ user_id: 's1', is_ad: 1, openid_list: ['mum', 'dad'] }]);
    const events = [];
    device.onVoipEvent((e) => events.push(e.eventName));
    const heard = [];
    dad.onVoipEvent((e) => heard.push([e.eventName, e.data.keepTime]));
    const tok = await backend.issueVoipToken({ userId: 's1' });
    const r = await device.initByCaller({ roomType: 'voice', caller: { id: 's1' }, listener: { id: 'dad' }, voipToken: tok });
    assert.equal(r.isSuccess, true);
    assert.equal(r.chargeType, 'duration');
    assert.deepEqual(await dad.answerVoip({ roomId: r.roomId }), { errCode: 0, errMsg: 'answerVoip:ok' });
    t += 10;
    device.forceHangUpVoip();
    await settle(); // over the service the hang-up is a request
    assert.deepEqual(events, ['joinedRoomByCaller', 'startVoip', 'hangUpVoip', 'endVoip', 'finishVoip']);
    assert.deepEqual(heard, [
      ['incomingVoip', undefined],
      ['hangOnVoip', undefined],
      ['startVoip', undefined],
      ['hangUpVoip', 10],
      ['endVoip', 10],
      ['finishVoip', 60_000],
    ]);
    const list = await backend.getVoipCallList({ user_id: 's1' });
    assert.deepEqual(list.call_list.map((c) => [c.room_id, c.keep_time_ms, c.billed_time_ms, c.ending]), [[r.roomId, 10, 60_000, 'endByCaller']]);
    await assert.rejects(dad.rejectVoip({ roomId: r.roomId }), (x) => x instanceof cjs.VoipPluginError && x.errCode === 1004);
    assert.equal(device.CALL_PAGE_PATH, 'pages/call/call');
    // Errors are the CJS build's own classes.
    const e = await dad.getBindContactPath({ userId: 's1', userName: 'n' }).catch((x) => x);
    assert.ok(e instanceof cjs.VoipCgiError);
    assert.ok(e instanceof cjs.VoipError);
    assert.ok(e instanceof Error);
    assert.equal(e.errCode, 3001);
    assert.equal(e.code, 'NOT_ADMIN');
    assert.match(e.errMsg, /^getBindContactPath:fail /);
    const e2 = await mum.bindVoipAdminContact({ userId: 5 }).catch((x) => x);
    assert.ok(e2 instanceof cjs.VoipPluginError);
    assert.equal(e2.errCode, 1004);
    const refused = await device.initByCaller({ roomType: 'voice', caller: { id: 's1' }, listener: { id: 'dad' }, voipToken: tok });
    assert.equal(refused.isSuccess, false);
    assert.equal(refused.errCode, 4);
    assert.ok(refused.errObj instanceof cjs.VoipCgiError);
  });

  test('state written by the CJS build is read by the ESM build (same format, same secrets)', async () => {
    const storage = cjs.memoryStorage();
    const b1 = await cjs.createLocalBackend({ storage });
    const mum = await cjs.createVoipPlugin({ backend: b1, openId: 'mum' });
    await mum.authorizeVoip();
    await mum.bindVoipAdminContact({ userId: 's1' });
    const p = await mum.getBindContactPath({ userId: 's1', userName: 'n' });
    const b2 = await esm.createLocalBackend({ storage });
    assert.deepEqual((await b2.getVoipContactList({ user_id: 's1' })).contact_list, [{ open_id: 'mum', role: 1 }]);
    const dad = await esm.createVoipPlugin({ backend: b2, openId: 'dad' });
    await dad.authorizeVoip();
    assert.equal((await dad.acceptBindContactPath(p)).type, 'success');
  });

  test('package.json points at the files that exist; the .d.ts declares the API', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(DIST, 'package.json'), 'utf8'));
    // Each condition names its code and its declarations (types first).
    assert.deepEqual(pkg.exports['.'].node.require, { types: './index.d.ts', default: './node.cjs' });
    assert.deepEqual(pkg.exports['.'].node.import, { types: './index.d.mts', default: './node.mjs' });
    assert.deepEqual(pkg.exports['.'].browser, { types: './index.d.mts', default: './index.mjs' });
    for (const cond of Object.values(pkg.exports['.'])) {
      for (const target of 'default' in cond ? [cond] : Object.values(cond)) {
        assert.deepEqual(Object.keys(target), ['types', 'default']);
      }
    }
    assert.equal(
      fs.readFileSync(path.join(DIST, 'index.d.mts'), 'utf8'),
      fs.readFileSync(path.join(DIST, 'index.d.ts'), 'utf8'),
    );
    for (const f of pkg.files) assert.ok(fs.existsSync(path.join(DIST, f)), f);
    const dts = fs.readFileSync(path.join(DIST, 'index.d.ts'), 'utf8');
    for (const name of [
      'createVoipPlugin',
      'createLocalBackend',
      'configure',
      'fileStorage',
      'transerAdmin',
      'inspectBindContactPath',
      'getPluginEnterOptions',
      'forceHangUpVoip',
      'VoipCgiError',
      'VoipPluginError',
      'exportSnapshot',
    ]) {
      assert.ok(dts.includes(name), name);
    }
  });

  test('the .d.ts declares the call lifecycle (SPEC §3.7, issue 10: "in the .d.ts and the README")', () => {
    const dts = fs.readFileSync(path.join(DIST, 'index.d.ts'), 'utf8');
    const missing = ['answerVoip', 'rejectVoip', 'incomingVoip', 'getVoipCallList', 'CALL_PAGE_PATH', 'ringTimeoutMs', 'tick('].filter(
      (name) => !dts.includes(name),
    );
    assert.deepEqual(missing, []);
  });
});
