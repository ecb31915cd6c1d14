#!/usr/bin/env node
// Correctness self-check of the bar: drives the shipped package (dist/npm/node.mjs) and the
// pure-JS implementation (./index.mjs) through the same story, with the same injected clock,
// and compares every outcome: results, error classes, errCode, code and errMsg, events, enter
// options. Random parts (ticket, token, roomId) are masked. benches/shim.mjs runs it before it
// measures anything; run it alone with `node benches/purejs/selfcheck.mjs [--verbose]`.
//
// A step marked `pending` covers a rule the spec has and the package may not have yet (the
// seam work of issue 7 lands in parallel): a difference there is reported, not failed.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');

/** Turns a result or an error into comparable data (random parts masked). */
function normalize(v) {
  if (v instanceof Error) {
    return { error: v.name, errCode: v.errCode, code: v.code, errMsg: normalize(v.errMsg) };
  }
  if (typeof v === 'string') {
    return v
      .replace(/ticket=[A-Za-z0-9._~-]*/g, 'ticket=<ticket>')
      .replace(/\(roomId [A-Za-z0-9_-]+\)/g, '(roomId <roomId>)')
      .replace(/^[A-Za-z0-9_-]{56}$/, '<voipToken>');
  }
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) {
      if ((k === 'roomId' || k === 'groupId') && typeof v[k] === 'string') out[k] = '<roomId>';
      else if (k === 'ticket' && typeof v[k] === 'string') out[k] = '<ticket>';
      else if (v[k] !== undefined) out[k] = normalize(v[k]);
    }
    return out;
  }
  return v;
}

/**
 * The story, written once against the public API `api` ({ createLocalBackend, createVoipPlugin,
 * memoryStorage }). Returns [label, outcome, pending?] rows.
 */
export async function story(api) {
  const rows = [];
  let t = 1_700_000_000_000;
  const now = () => t;
  const storage = api.memoryStorage();
  const opts = { storage, maxContacts: 3, ticketTtlMs: 60_000, voipTokenTtlMs: 10_000, now, dev: true };
  let backend = await api.createLocalBackend(opts);
  const events = [];
  const step = async (label, fn, pending) => {
    const before = events.length;
    let out;
    try {
      out = await fn();
    } catch (e) {
      out = e;
    }
    const emitted = events.slice(before);
    rows.push([label, emitted.length ? { result: normalize(out), events: emitted } : normalize(out), pending]);
    return out;
  };
  const person = async (openId) => {
    const p = await api.createVoipPlugin({ backend, openId });
    p.onVoipEvent((e) => events.push([openId, e.eventName, normalize(e.data), e.roomId === undefined ? undefined : '<roomId>']));
    return p;
  };
  let [dad, mum, gran, uncle, aunt, stranger] = await Promise.all(
    ['o_dad', 'o_mum', 'o_gran', 'o_uncle', 'o_aunt', 'o_stranger'].map(person),
  );
  const device = await api.createVoipPlugin({ backend });
  device.onVoipEvent((e) => events.push(['device', e.eventName, normalize(e.data), e.roomId === undefined ? undefined : '<roomId>']));
  const S = 'student-1';

  // ---- development helpers only with dev: true (SPEC §6.1) ----
  await step('helpers of a backend without dev', async () => {
    const plain = await api.createLocalBackend({ storage: api.memoryStorage() });
    const out = [plain.dev, typeof plain.issueVoipToken, typeof plain.resetStudent, backend.dev, typeof backend.issueVoipToken];
    plain.close();
    return out;
  }, 'dev-only helpers (issue 7)');
  await step('dev option not a boolean', () => api.createLocalBackend({ storage: api.memoryStorage(), dev: 1 }), 'dev-only helpers (issue 7)');

  // ---- consent and the administrator ----
  const consent = (p) => (typeof p.getVoipConsent === 'function' ? p.getVoipConsent() : 'no getVoipConsent');
  await step('consent before', () => consent(dad), 'getVoipConsent (issue 7)');
  await step('consent of a device', () => consent(device), 'getVoipConsent (issue 7)');
  await step('bind before consent', () => dad.bindVoipAdminContact({ userId: S }));
  await step('authorize', () => dad.authorizeVoip());
  await step('authorize again', () => dad.authorizeVoip());
  await step('consent after', () => consent(dad), 'getVoipConsent (issue 7)');
  await step('bind admin', () => dad.bindVoipAdminContact({ userId: S }));
  await step('bind admin again', () => dad.bindVoipAdminContact({ userId: S }));
  await step('mum authorizes', () => mum.authorizeVoip());
  await step('another admin', () => mum.bindVoipAdminContact({ userId: S }));
  for (const [label, args] of [
    ['no argument', undefined],
    ['null argument', null],
    ['array argument', []],
    ['empty userId', { userId: '' }],
    ['number userId', { userId: 5 }],
    ['null userId', { userId: null }],
    ['129-byte userId', { userId: '学'.repeat(43) }],
    ['control in userId', { userId: 'a\u0000b' }],
    ['lone surrogate', { userId: 'x\ud800' }],
    ['overlong userId', { userId: 'x'.repeat(9000) }],
  ]) {
    await step('bind: ' + label, () => dad.bindVoipAdminContact(args));
  }
  await step('device binds', () => device.bindVoipAdminContact({ userId: S }));

  // ---- share path ----
  await step('path by non-admin', () => mum.getBindContactPath({ userId: S, userName: '小明', userAvatar: '' }));
  for (const [label, args] of [
    ['empty name', { userId: S, userName: '' }],
    ['65-char name', { userId: S, userName: '小'.repeat(65) }],
    ['name with newline', { userId: S, userName: 'a\nb' }],
    ['ftp avatar', { userId: S, userName: 'x', userAvatar: 'ftp://x' }],
    ['avatar with space', { userId: S, userName: 'x', userAvatar: 'https://a b' }],
    ['number avatar', { userId: S, userName: 'x', userAvatar: 7 }],
    ['path too long', { userId: S, userName: '😀'.repeat(64), userAvatar: 'https://x/' + '%'.repeat(900) }],
  ]) {
    await step('path: ' + label, () => dad.getBindContactPath(args));
  }
  const link = await step('path', () => dad.getBindContactPath({ userId: S, userName: '小明 & co', userAvatar: 'https://a/b.png?x=1' }));
  await step('path without avatar', () => dad.getBindContactPath({ userId: S, userName: 'x' }));

  // ---- the bind page ----
  await step('inspect (mum)', async () => {
    const r = await mum.inspectBindContactPath(link + '&from=group');
    return [r, mum.getPluginEnterOptions()];
  });
  await step('gran accepts without consent', () => gran.acceptBindContactPath(link));
  await step('mum accepts', () => mum.acceptBindContactPath(link + '&from=group'));
  await step('enter options', () => mum.getPluginEnterOptions());
  await step('mum accepts again', () => mum.acceptBindContactPath(link));
  await step('inspect binded', () => mum.inspectBindContactPath(link));
  await step('gran authorizes', () => gran.authorizeVoip());
  await step('gran accepts', () => gran.acceptBindContactPath(link));
  await step('uncle authorizes', () => uncle.authorizeVoip());
  await step('uncle: overload', () => uncle.acceptBindContactPath(link));
  await step('inspect overload', () => uncle.inspectBindContactPath(link));
  const q = new URL('x:/' + link).searchParams;
  const params = Object.fromEntries(q);
  await step('accept the query object', () => uncle.inspectBindContactPath(params));
  for (const [label, p] of [
    ['renamed', link.replace('userName=', 'userName=X')],
    ['other student', link.replace('userId=student-1', 'userId=student-2')],
    ['ticket flipped', link.replace(/ticket=(.)/, (m, c) => 'ticket=' + (c === 'A' ? 'B' : 'A'))],
    ['ticket cut', link.slice(0, -3)],
    ['no query', 'pages/bind-contact/bind-contact'],
    ['other page', link.replace('bind-contact?', 'other?')],
    ['garbage', '%%%'],
    ['bad escape', link + '&x=%E5'],
  ]) {
    await step('inspect ' + label, () => uncle.inspectBindContactPath(p));
  }
  for (const [label, p] of [
    ['number', 5],
    ['null', null],
    ['undefined', undefined],
    ['array', [link]],
  ]) {
    await step('accept ' + label, () => uncle.acceptBindContactPath(p));
  }
  await step('decline', () => uncle.declineBindContactPath(link));
  await step('decline tampered', () => uncle.declineBindContactPath(link.replace('userName=', 'userName=X')));
  await step('device inspects', () => device.inspectBindContactPath(link));

  // ---- lists ----
  await step('admin list', () => dad.getVoipBindContactList());
  await step('admin list one', () => dad.getVoipBindContactList({ userId: S }));
  await step('member list', () => mum.getVoipBindContactList());
  await step('stranger list', () => stranger.getVoipBindContactList());
  await step('list other student', () => dad.getVoipBindContactList({ userId: 'nobody' }));
  await step('list bad userId', () => dad.getVoipBindContactList({ userId: 5 }));
  await step('list null', () => dad.getVoipBindContactList(null));
  await step('list {}', () => dad.getVoipBindContactList({}));
  await step('developer query', () => backend.getVoipContactList({ user_id: S }));
  await step('developer query unknown', () => backend.getVoipContactList({ user_id: 'nobody' }));
  await step('developer query bad', () => backend.getVoipContactList({ userId: S }));

  // ---- delete (and removals stick, row 4b) ----
  await step('delete by member', () => mum.deleteVoipBindContact({ userId: S, openidList: ['o_gran'] }));
  await step('delete self', () => dad.deleteVoipBindContact({ userId: S, openidList: ['o_gran', 'o_dad'] }));
  await step('delete stranger', () => dad.deleteVoipBindContact({ userId: S, openidList: ['o_gran', 'o_stranger'] }));
  await step('delete empty list', () => dad.deleteVoipBindContact({ userId: S, openidList: [] }));
  await step('delete bad openId', () => dad.deleteVoipBindContact({ userId: S, openidList: ['bad id'] }));
  await step('delete not a list', () => dad.deleteVoipBindContact({ userId: S, openidList: 'o_gran' }));
  await step('delete 101', () => dad.deleteVoipBindContact({ userId: S, openidList: Array(101).fill('o_gran') }));
  await step('list after failed deletes', () => dad.getVoipBindContactList({ userId: S }));
  t += 1000;
  await step('delete gran (twice listed)', () => dad.deleteVoipBindContact({ userId: S, openidList: ['o_gran', 'o_gran'] }));
  await step('uncle joins with the old link', () => uncle.acceptBindContactPath(link));
  t += 1000;
  await step('delete uncle', () => dad.deleteVoipBindContact({ userId: S, openidList: ['o_uncle'] }));
  t += 1000;
  const link2 = await step('new link', () => dad.getBindContactPath({ userId: S, userName: '小明' }));
  await step('gran rejoins with a new link', () => gran.acceptBindContactPath(link2));

  // A removal sticks (SPEC §3.4 row 4b), on a student of its own so that a package without the
  // rule yet does not change the rest of the story.
  {
    const [radmin, rkid, rother] = await Promise.all(['o_r_admin', 'o_r_kid', 'o_r_other'].map(person));
    for (const p of [radmin, rkid, rother]) await p.authorizeVoip();
    await radmin.bindVoipAdminContact({ userId: 'student-r' });
    const rlink = await radmin.getBindContactPath({ userId: 'student-r', userName: 'R' });
    await step('r: kid joins', () => rkid.acceptBindContactPath(rlink));
    t += 1000;
    await step('r: kid deleted', () => radmin.deleteVoipBindContact({ userId: 'student-r', openidList: ['o_r_kid'] }));
    await step('r: kid rejoins with the old link', () => rkid.acceptBindContactPath(rlink), 'row 4b (issue 7)');
    await step('r: others still join with it', () => rother.acceptBindContactPath(rlink));
  }

  // ---- transfer ----
  await step('transfer to self', () => dad.transerAdmin({ userId: S, newAdminOpenid: 'o_dad' }));
  await step('transfer by member', () => mum.transerAdmin({ userId: S, newAdminOpenid: 'o_mum' }));
  await step('transfer to stranger', () => dad.transerAdmin({ userId: S, newAdminOpenid: 'o_stranger' }));
  await step('transfer bad openId', () => dad.transerAdmin({ userId: S, newAdminOpenid: 'a.b' }));
  await step('transfer missing', () => dad.transerAdmin({ userId: S }));
  await step('transfer to mum', () => dad.transerAdmin({ userId: S, newAdminOpenid: 'o_mum' }));
  await step('old admin path', () => dad.getBindContactPath({ userId: S, userName: 'x' }));
  await step('lists after transfer', async () => [await mum.getVoipBindContactList(), await dad.getVoipBindContactList()]);
  await step('list of the new admin', () => mum.getVoipBindContactList({ userId: S }));
  await step('aunt authorizes', () => aunt.authorizeVoip());
  await step('link of the old admin', () => aunt.acceptBindContactPath(link2));
  const link3 = await step('link of the new admin', () => mum.getBindContactPath({ userId: S, userName: '小明' }));

  // ---- time: expiry, and a clock that steps back ----
  t += 61_000;
  await step('expired link', () => aunt.inspectBindContactPath(link3));
  t -= 120_000;
  await step('expired link after the clock stepped back', () => aunt.inspectBindContactPath(link3), 'monotonic clock (issue 7)');
  t += 120_000;

  // ---- calls ----
  await step('mum deletes gran', () => mum.deleteVoipBindContact({ userId: S, openidList: ['o_gran'] }));
  const tok = await step('issue token', () => backend.issueVoipToken({ userId: S }));
  await step('issue token bad', () => backend.issueVoipToken({ userId: '' }));
  const call = (req) => device.initByCaller({ roomType: 'voice', caller: { id: S }, listener: { id: 'o_dad' }, businessType: 0, voipToken: tok, ...req });
  for (const [label, req] of [
    ['bad roomType', { roomType: 'fax' }],
    ['caller missing', { caller: undefined }],
    ['caller.id number', { caller: { id: 1 } }],
    ['listener bad', { listener: { id: 'a b' } }],
    ['no token', { voipToken: undefined }],
    ['empty token', { voipToken: '' }],
    ['number token', { voipToken: 5 }],
    ['businessType 1', { businessType: 1 }],
    ['businessType 7', { businessType: 7 }],
    ['timeLimit 0', { timeLimit: 0 }],
    ['cameraStatus 2', { caller: { id: S, cameraStatus: 2 } }],
    ['miniprogramState', { miniprogramState: 'beta' }],
    ['customQuery control', { customQuery: 'a\u0085' }],
  ]) {
    await step('call: ' + label, () => call(req));
  }
  await step('call: argument missing', () => device.initByCaller());
  const old = await api.createVoipPlugin({ backend, compatVersion: '2.3.0' });
  await step('businessType 3 on 2.3.0', () => old.initByCaller({ roomType: 'voice', caller: { id: S }, listener: { id: 'o_dad' }, businessType: 3, voipToken: tok }));
  await step('call: forged token', () => call({ voipToken: tok.slice(0, -2) + (tok.endsWith('AA') ? 'BA' : 'AA') }));
  await step('call: token of another student', () => call({ caller: { id: 'student-2' } }));
  await step('call: listener not consented', () => call({ listener: { id: 'o_nobody' } }));
  await step('call: listener not a contact', () => call({ listener: { id: 'o_gran' } }));
  await step('call: success', () => call({ caller: { id: S, name: '小明' } }));
  await step('call: busy', () => call({}));
  await step('hang up another room', () => device.forceHangUpVoip('nope'));
  await step('hang up bad roomId', () => device.forceHangUpVoip(5));
  t += 5000;
  await step('hang up', () => device.forceHangUpVoip());
  await step('call: reused token', () => call({}));
  const tok2 = await backend.issueVoipToken({ userId: S });
  t += 11_000;
  await step('call: expired token', () => call({ voipToken: tok2 }));
  const tok3 = await backend.issueVoipToken({ userId: S });
  await step('call: license mode', async () => {
    const r = await call({ voipToken: tok3, businessType: 3, roomType: 'video', listener: { id: 'o_mum', name: '妈妈' } });
    device.forceHangUpVoip(r.roomId);
    return r;
  });

  // ---- reset, persistence ----
  await step('reset', () => backend.resetStudent({ userId: S }));
  await step('reset again', () => backend.resetStudent({ userId: S }));
  await step('link after reset', () => aunt.inspectBindContactPath(link3));
  await step('rebind after reset', () => mum.bindVoipAdminContact({ userId: S }));
  await step('old link after rebind', () => aunt.acceptBindContactPath(link3));
  const link4 = await mum.getBindContactPath({ userId: S, userName: '小明' });
  await step('aunt joins', () => aunt.acceptBindContactPath(link4));
  await step('second backend on one storage', () => api.createLocalBackend(opts).then(() => 'opened'));
  backend.close();
  await step('closed backend', () => mum.getVoipBindContactList());
  backend = await api.createLocalBackend(opts);
  [mum, aunt, stranger] = await Promise.all(['o_mum', 'o_aunt', 'o_stranger'].map(person));
  await step('reopened: lists', async () => [await mum.getVoipBindContactList(), await aunt.getVoipBindContactList()]);
  await step('reopened: old link', () => stranger.inspectBindContactPath(link4));
  await step('reopened: consent kept', () => mum.bindVoipAdminContact({ userId: 'student-9' }));
  await step('revoke', () => mum.revokeVoip());
  await step('consent after revoke', () => consent(mum), 'getVoipConsent (issue 7)');
  await step('bind after revoke', () => mum.bindVoipAdminContact({ userId: 'student-10' }));
  await step('reopened: stats', () => backend.stats(), 'row 4b (issue 7)');
  backend.close();
  return rows;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Runs the story on both; returns { steps, mismatches: [...], pending: [...], extraFields }.
 * A field the package does not return yet (say, `expiresAt`) is listed, not failed.
 */
export async function selfCheck(shim, pure) {
  const a = await story(shim);
  const b = await story(pure);
  const mismatches = [];
  const pending = [];
  const missing = new Set();
  let seen;
  const strip = (x, y) => {
    // Fields the pure side has and the package lacks entirely: compare without them.
    if (Array.isArray(x) && Array.isArray(y)) return y.map((v, i) => strip(x[i], v));
    if (x && y && typeof x === 'object' && typeof y === 'object') {
      const out = {};
      for (const k of Object.keys(y)) {
        if (!(k in x)) {
          seen.add(k);
          continue;
        }
        out[k] = strip(x[k], y[k]);
      }
      return out;
    }
    return y;
  };
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const [label, x, note] = a[i] || b[i];
    const y = (b[i] || [])[1];
    if (same(x, y)) continue;
    seen = new Set();
    const y2 = strip(x, y);
    if (same(x, y2)) {
      for (const k of seen) missing.add(k);
      continue;
    }
    (note ? pending : mismatches).push({ label, note, shim: x, pure: y2 });
  }
  return { steps: a.length, mismatches, pending, missing: [...missing] };
}

export function report(r, log = console.log) {
  log(`self-check: ${r.steps} steps of one story on both implementations, ${r.mismatches.length} differences` +
    (r.pending.length ? `, ${r.pending.length} pending in the package (${[...new Set(r.pending.map((p) => p.note))].join('; ')})` : '') +
    (r.missing.length ? `; fields the package does not return yet: ${r.missing.join(', ')}` : ''));
  for (const m of [...r.mismatches, ...r.pending]) {
    log(`  ${m.note ? 'pending' : 'DIFFERENT'}: ${m.label}`);
    log(`    package: ${JSON.stringify(m.shim)}`);
    log(`    pure JS: ${JSON.stringify(m.pure)}`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const pkgArg = process.argv.indexOf('--pkg');
  const pkg = pkgArg > 0 ? path.resolve(process.argv[pkgArg + 1]) : path.join(ROOT, 'dist/npm/node.mjs');
  const shim = await import(pathToFileURL(pkg).href);
  const pure = await import(pathToFileURL(path.join(HERE, 'index.mjs')).href);
  const r = await selfCheck(shim, pure);
  report(r);
  if (process.argv.includes('--verbose')) {
    for (const [label, out] of await story(pure)) console.log(label, JSON.stringify(out));
  }
  process.exit(r.mismatches.length ? 1 : 0);
}
