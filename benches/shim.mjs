#!/usr/bin/env node
// The shim benchmark (not a test): median µs per call through the JS API for every contact API
// on the local backend (memoryStorage) with a registry of 10 000 students; cold start (import to
// first result, in fresh processes); share-ticket issue + verify per second, ours (wasm, through
// the API) against the same work in pure JS with @noble/hashes; the size report.
// Run after `make build`: `node benches/shim.mjs [--students N] [--quick]`.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PKG = pathToFileURL(path.join(ROOT, 'dist/npm/node.mjs')).href;
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const QUICK = args.includes('--quick');
const STUDENTS = opt('--students', 10_000);
const BATCHES = QUICK ? 5 : 15;

const api = await import(PKG);
const { createLocalBackend, createVoipPlugin, memoryStorage } = api;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const now = () => Number(process.hrtime.bigint()) / 1e3; // µs

/** Runs `fn(i)` (async) in BATCHES batches of `k`; returns [median, min, max] µs per call. */
async function measure(k, fn) {
  let i = 0;
  for (let w = 0; w < Math.min(k, 200); w++) await fn(i++); // warm-up
  const per = [];
  for (let b = 0; b < BATCHES; b++) {
    const t0 = now();
    for (let j = 0; j < k; j++) await fn(i++);
    per.push((now() - t0) / k);
  }
  return [median(per), Math.min(...per), Math.max(...per)];
}

// ---- setup: 10 000 students, each with an administrator and two ordinary contacts ----------
console.log(`campus-voip shim benchmark — Node ${process.version}, ${STUDENTS} students, ${BATCHES} batches per op`);
const t0 = now();
const backend = await createLocalBackend({ storage: memoryStorage(), maxContacts: 100 });
const instances = new Map();
const as = async (openId) => {
  if (!instances.has(openId)) instances.set(openId, await createVoipPlugin({ backend, openId }));
  return instances.get(openId);
};
const admin = (i) => `adm_${i}`;
const member = (i, j) => `par_${i}_${j}`;
const sid = (i) => `student-${i}`;
for (let i = 0; i < STUDENTS; i++) {
  const a = await createVoipPlugin({ backend, openId: admin(i) });
  await a.authorizeVoip();
  await a.bindVoipAdminContact({ userId: sid(i) });
  const p = await a.getBindContactPath({ userId: sid(i), userName: '学生 ' + i, userAvatar: '' });
  for (let j = 0; j < 2; j++) {
    const m = await createVoipPlugin({ backend, openId: member(i, j) });
    await m.authorizeVoip();
    await m.acceptBindContactPath(p);
  }
}
console.log(`setup: ${backend.stats().students} students, ${backend.stats().contacts} contacts in ${((now() - t0) / 1e6).toFixed(1)} s\n`);

const K = QUICK ? 200 : 1000;
const rows = [];
const row = async (name, k, fn, note = '') => {
  const [med, min, max] = await measure(k, fn);
  rows.push([name, med, min, max, note]);
  console.log(`  ${name.padEnd(40)} ${med.toFixed(2).padStart(8)} µs  (min ${min.toFixed(2)}, max ${max.toFixed(2)})  ${note}`);
};

const adm0 = await as(admin(0));
const mem0 = await as(member(0, 0));
const path0 = await adm0.getBindContactPath({ userId: sid(0), userName: '学生 0', userAvatar: '' });
console.log('median µs per call (awaited one at a time):');
await row('authorizeVoip (no change)', K, () => mem0.authorizeVoip());
{
  // Alternate revoke/authorize on one parent: every call is a real change (one storage write).
  const p = await as('flipper');
  let on = true;
  await row('authorizeVoip / revokeVoip (changes)', K, () => ((on = !on) ? p.authorizeVoip() : p.revokeVoip()));
}
{
  const fresh = await as('new_admin');
  await fresh.authorizeVoip();
  await row('bindVoipAdminContact (new student)', K, (i) => fresh.bindVoipAdminContact({ userId: 'new-' + i }));
}
await row('getBindContactPath', K, () => adm0.getBindContactPath({ userId: sid(0), userName: '学生 0', userAvatar: '' }));
await row('getVoipBindContactList (userId)', K, () => adm0.getVoipBindContactList({ userId: sid(0) }));
await row('getVoipBindContactList (all)', K, () => mem0.getVoipBindContactList());
await row('inspectBindContactPath', K, () => mem0.inspectBindContactPath(path0));
{
  // Each iteration: a new parent accepts a link of a different student (success path).
  let n = 0;
  const paths = [];
  for (let i = 1; i <= Math.min(STUDENTS - 1, 2000); i++) {
    paths.push(await (await as(admin(i))).getBindContactPath({ userId: sid(i), userName: 'S', userAvatar: '' }));
  }
  const joiners = [];
  for (let i = 0; i < K * (BATCHES + 1) + 200; i++) {
    const p = await createVoipPlugin({ backend, openId: 'joiner_' + i });
    await p.authorizeVoip();
    joiners.push(p);
  }
  await row('acceptBindContactPath (success)', K, (i) => joiners[n++].acceptBindContactPath(paths[i % paths.length]), 'each a new contact');
}
await row('declineBindContactPath', K, () => mem0.declineBindContactPath(path0));
{
  // Transfer back and forth between the admin and a member of student 1: each call changes.
  const a = await as(admin(1));
  const m = await as(member(1, 0));
  let flip = false;
  await row('transerAdmin (changes)', K, () =>
    (flip = !flip)
      ? a.transerAdmin({ userId: sid(1), newAdminOpenid: member(1, 0) })
      : m.transerAdmin({ userId: sid(1), newAdminOpenid: admin(1) }),
  );
}
{
  // Delete a contact, then bind it back (two calls per iteration; reported per delete).
  const a = await as(admin(2));
  const m = await as(member(2, 1));
  const link = await a.getBindContactPath({ userId: sid(2), userName: 'S', userAvatar: '' });
  const [med, min, max] = await measure(K, async () => {
    await a.deleteVoipBindContact({ userId: sid(2), openidList: [member(2, 1)] });
    await m.acceptBindContactPath(link);
  });
  const accept = rows.find((r) => r[0].startsWith('acceptBindContactPath'))[1];
  const del = med - accept;
  rows.push(['deleteVoipBindContact', del, min - accept, max - accept, 'delete + accept minus accept']);
  console.log(`  ${'deleteVoipBindContact'.padEnd(40)} ${del.toFixed(2).padStart(8)} µs  (delete + re-accept ${med.toFixed(2)} minus accept)`);
}
await row('getVoipContactList (developer query)', K, () => backend.getVoipContactList({ user_id: sid(3) }));
{
  const dev = await createVoipPlugin({ backend });
  await row('issueVoipToken', K, () => backend.issueVoipToken({ userId: sid(4) }));
  const tokens = [];
  for (let i = 0; i < K * (BATCHES + 1) + 200; i++) tokens.push(await backend.issueVoipToken({ userId: sid(4) }));
  let n = 0;
  await row('initByCaller + forceHangUpVoip', K, async () => {
    const r = await dev.initByCaller({ roomType: 'voice', caller: { id: sid(4) }, listener: { id: member(4, 0) }, voipToken: tokens[n++] });
    if (!r.isSuccess) throw new Error('call refused: ' + r.errMsg);
    dev.forceHangUpVoip(r.roomId);
  });
}
{
  const a = await as(admin(5));
  await row('resetStudent + bindVoipAdminContact', K, async () => {
    await backend.resetStudent({ userId: sid(5) });
    await a.bindVoipAdminContact({ userId: sid(5) });
  }, 'two calls');
}

// ---- ticket issue + verify: ours against @noble/hashes ------------------------------------
const { hmac } = await import(pathToFileURL(path.join(ROOT, 'tools/node_modules/@noble/hashes/hmac.js')).href);
const { sha256 } = await import(pathToFileURL(path.join(ROOT, 'tools/node_modules/@noble/hashes/sha2.js')).href);
const enc = new TextEncoder();
const key = crypto.getRandomValues(new Uint8Array(32));
const DOMAIN = enc.encode('campus-voip/share-ticket/v1');
const b64url = (b) => Buffer.from(b).toString('base64url');
const lp = (parts) => {
  // Length-prefixed concatenation, as the core's MAC input.
  const total = parts.reduce((n, p) => n + 4 + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    new DataView(out.buffer).setUint32(o, p.length);
    out.set(p, o + 4);
    o += 4 + p.length;
  }
  return out;
};
/** The same work as the core's ticket issue + share path, in pure JS with @noble/hashes. */
function jsIssue(userId, userName, userAvatar, issuer, t) {
  const iss = enc.encode(issuer);
  const header = new Uint8Array(27 + iss.length);
  const dv = new DataView(header.buffer);
  header[0] = 1;
  header[1] = 1;
  dv.setUint16(2, Math.floor(t / 2 ** 32));
  dv.setUint32(4, t >>> 0);
  dv.setUint16(8, Math.floor((t + 259200000) / 2 ** 32));
  dv.setUint32(10, (t + 259200000) >>> 0);
  header.set(crypto.getRandomValues(new Uint8Array(8)), 14);
  dv.setUint32(22, 77);
  header[26] = iss.length;
  header.set(iss, 27);
  const tag = hmac(sha256, key, lp([DOMAIN, header, enc.encode(userId), enc.encode(userName), enc.encode(userAvatar)])).subarray(0, 16);
  const ticket = b64url(Buffer.concat([header, tag]));
  return `pages/bind-contact/bind-contact?userId=${encodeURIComponent(userId)}&userName=${encodeURIComponent(userName)}&userAvatar=${encodeURIComponent(userAvatar)}&ticket=${ticket}`;
}
function jsVerify(p) {
  const q = Object.fromEntries(p.split('?')[1].split('&').map((kv) => kv.split('=').map(decodeURIComponent)));
  const raw = Buffer.from(q.ticket, 'base64url');
  const header = raw.subarray(0, raw.length - 16);
  const want = hmac(sha256, key, lp([DOMAIN, header, enc.encode(q.userId), enc.encode(q.userName), enc.encode(q.userAvatar)]));
  let diff = 0;
  for (let i = 0; i < 16; i++) diff |= want[i] ^ raw[raw.length - 16 + i];
  return diff === 0;
}
const perSecond = async (fn, ms = QUICK ? 300 : 1500) => {
  const rates = [];
  for (let b = 0; b < (QUICK ? 3 : 7); b++) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < ms / 5) {
      await fn();
      n++;
    }
    rates.push(n / ((performance.now() - start) / 1000));
  }
  return median(rates);
};
const ours = await perSecond(async () => {
  const p = await adm0.getBindContactPath({ userId: sid(0), userName: '学生 0', userAvatar: '' });
  const r = await mem0.inspectBindContactPath(p);
  if (r.status !== 'binded') throw new Error('unexpected ' + r.status);
});
const noble = await perSecond(() => {
  const p = jsIssue(sid(0), '学生 0', '', admin(0), Date.now());
  if (!jsVerify(p)) throw new Error('noble verify failed');
});
console.log('\nshare ticket issue + verify (path built, MAC, parsed back), pairs per second:');
console.log(`  campus-voip wasm, through the API (getBindContactPath + inspectBindContactPath): ${Math.round(ours).toLocaleString('en')}`);
console.log(`  pure JS, @noble/hashes HMAC-SHA256, same ticket work (no registry, no checks):   ${Math.round(noble).toLocaleString('en')}`);
console.log(`  ratio: ${(ours / noble).toFixed(2)}x`);

// ---- cold start: import to first result, fresh processes ------------------------------------
const coldScript = `
  const t0 = performance.now();
  const { createLocalBackend, createVoipPlugin } = await import(${JSON.stringify(PKG)});
  const backend = await createLocalBackend();
  const p = await createVoipPlugin({ backend, openId: 'o1' });
  await p.authorizeVoip();
  console.log(performance.now() - t0);`;
const colds = [];
for (let i = 0; i < (QUICK ? 3 : 9); i++) {
  colds.push(Number(execFileSync(process.execPath, ['--input-type=module', '-e', coldScript], { encoding: 'utf8' }).trim()));
}
console.log(`\ncold start (import → first result, ${colds.length} fresh processes): median ${median(colds).toFixed(1)} ms (min ${Math.min(...colds).toFixed(1)}, max ${Math.max(...colds).toFixed(1)})`);

// ---- sizes ---------------------------------------------------------------------------------
const report = path.join(ROOT, 'dist/size-report.json');
if (fs.existsSync(report)) {
  const { rows: sizes, pluginCompressed, budget } = JSON.parse(fs.readFileSync(report, 'utf8'));
  console.log('\nsizes (from the last build):');
  for (const [name, raw, gz, br] of sizes) {
    console.log(`  ${name.padEnd(48)} raw ${(raw / 1024).toFixed(1).padStart(6)} KB  gzip ${(gz / 1024).toFixed(1).padStart(5)} KB  brotli ${(br / 1024).toFixed(1).padStart(5)} KB`);
  }
  console.log(`  whole plugin compressed: ${(pluginCompressed / 1024).toFixed(1)} KB of ${(budget / 1024).toFixed(0)} KB`);
}
