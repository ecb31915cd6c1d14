// createHttpBackend against the real contact service (server/, `campus-voip-server --dev` on a
// temporary SQLite file and a free loopback port), started for this file and stopped at the end
// (also when a test fails). The story runs on the http backend AND on a local backend, and the
// two transcripts (results and errors, with links, tokens and room ids blanked) must be equal:
// the same operations and messages of the core on both. Then the transport: 3008 → one
// getSession refresh, a stopped server / a refused port / a timeout → 1002, HTML or an unexpected
// JSON reply → 1003.
//
// The service is started by tests/js/service.mjs (built with cargo when the binary is missing).
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { VoipCgiError, VoipPluginError, assertVoipError, cv } from './helpers.mjs';
import { startService } from './service.mjs';

const USER = 'student-001';

let server = null; // what startService resolves (tests/js/service.mjs)

function stopServer() {
  if (!server) return Promise.resolve();
  const s = server;
  server = null;
  return s.stop();
}

before(async () => {
  server = await startService();
});
after(stopServer);

async function dev(route, body) {
  const res = await fetch(server.url + '/v1/dev/' + route, { method: 'POST', body: JSON.stringify(body) });
  const j = await res.json();
  assert.equal(j.errCode, 0, JSON.stringify(j));
  return j;
}
const mintSession = async (openId) => (await dev('session', { openId })).session;
const mintDevice = async (name) => (await dev('device', { name })).deviceKey;

/** A backend for `openId` whose getSession mints a session (and counts its calls). */
async function parentBackend(openId, extra = {}) {
  const calls = { n: 0 };
  const backend = await cv.createHttpBackend({
    url: server.url,
    getSession: () => (calls.n++, mintSession(openId)),
    ...extra,
  });
  return { backend, calls };
}

const PEOPLE = ['o_dad', 'o_mum', 'o_gran'];

async function httpWorld() {
  const people = {};
  for (const o of PEOPLE) people[o] = await cv.createVoipPlugin({ backend: (await parentBackend(o)).backend });
  const deviceBackend = await cv.createHttpBackend({ url: server.url, deviceKey: await mintDevice('gate-' + Date.now()) });
  const device = await cv.createVoipPlugin({ backend: deviceBackend });
  return { people, device, issueToken: (a) => deviceBackend.issueVoipToken(a) };
}

async function localWorld() {
  const backend = await cv.createLocalBackend({ dev: true });
  const people = {};
  for (const o of PEOPLE) people[o] = await cv.createVoipPlugin({ backend, openId: o });
  const device = await cv.createVoipPlugin({ backend });
  return { people, device, issueToken: (a) => backend.issueVoipToken(a) };
}

/**
 * Runs the story; returns its transcript (secrets and times blanked). `calls`: with the call
 * steps (initByCaller, 1005, a hang-up and the events it brings, a reused token).
 */
async function story(w, { calls = true } = {}) {
  const log = [];
  const { o_dad: dad, o_mum: mum, o_gran: gran } = w.people;
  const step = async (name, fn) => {
    try {
      log.push([name, 'ok', blank(await fn())]);
    } catch (e) {
      log.push([name, 'error', e.constructor.name, e.errCode, e.code, e.errMsg.replace(/(roomId )[^)]+/, '$1…')]);
    }
  };
  await step('gran binds without consent (8)', () => gran.bindVoipAdminContact({ userId: USER }));
  await step('dad consents', () => dad.authorizeVoip());
  await step('dad reads consent', () => dad.getVoipConsent());
  await step('dad binds admin', () => dad.bindVoipAdminContact({ userId: USER }));
  await step('dad binds admin again', () => dad.bindVoipAdminContact({ userId: USER }));
  await step('bad argument (1004)', () => dad.bindVoipAdminContact({ userId: 5 }));
  let sharePath;
  await step('dad shares', async () => (sharePath = await dad.getBindContactPath({ userId: USER, userName: '小明 🎒', userAvatar: '' })));
  await step('mum consents', () => mum.authorizeVoip());
  await step('mum binds admin too (3002)', () => mum.bindVoipAdminContact({ userId: USER }));
  await step('mum inspects', () => mum.inspectBindContactPath(sharePath));
  await step('mum accepts', () => mum.acceptBindContactPath(sharePath + '&from=wechat-group'));
  await step('mum accepts again', () => mum.acceptBindContactPath(sharePath));
  await step('gran declines', () => gran.declineBindContactPath(sharePath));
  await step('mum shares (3001)', () => mum.getBindContactPath({ userId: USER, userName: 'x', userAvatar: '' }));
  await step('mum deletes (3001)', () => mum.deleteVoipBindContact({ userId: USER, openidList: ['o_dad'] }));
  await step('dad lists', () => dad.getVoipBindContactList());
  await step('mum lists one', () => mum.getVoipBindContactList({ userId: USER }));
  await step('dad transfers to gran (3003)', () => dad.transerAdmin({ userId: USER, newAdminOpenid: 'o_gran' }));
  await step('dad deletes gran (3003)', () => dad.deleteVoipBindContact({ userId: USER, openidList: ['o_gran'] }));
  let token;
  await step('device issues a token', async () => typeof (token = await w.issueToken({ userId: USER })));
  if (calls) {
    const req = { roomType: 'voice', caller: { id: USER, name: '小明' }, listener: { id: 'o_mum' }, businessType: 0, voipToken: token };
    const ended = [];
    w.device.onVoipEvent((e) => ended.push(e.eventName));
    await step('device calls mum', () => w.device.initByCaller(req));
    await step('device calls again (busy)', () => w.device.initByCaller(req));
    // Over the service the events follow the hang-up's request on the event stream.
    await step('device hangs up', async () => (w.device.forceHangUpVoip(), await new Promise((r) => setTimeout(r, 300)), ended.slice()));
    await step('the token again (4)', () => w.device.initByCaller(req));
  }
  await step('dad transfers to mum', () => dad.transerAdmin({ userId: USER, newAdminOpenid: 'o_mum' }));
  await step('mum deletes dad', () => mum.deleteVoipBindContact({ userId: USER, openidList: ['o_dad'] }));
  await step('mum lists', () => mum.getVoipBindContactList());
  await step('dad lists', () => dad.getVoipBindContactList());
  await step('device lists (3008)', () => w.device.getVoipBindContactList());
  await step('dad revokes', () => dad.revokeVoip());
  await step('dad reads consent', () => dad.getVoipConsent());
  return log;
}

/** Share paths, tickets, tokens, room ids and times differ between backends: blank them. */
function blank(v) {
  if (typeof v === 'string') return v.length > 40 ? '<secret>' : v;
  if (Array.isArray(v)) return v.map(blank);
  if (v && typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) {
      if (k === 'errObj') out[k] = [v[k].constructor.name, v[k].errCode, v[k].errMsg];
      else out[k] = ['roomId', 'groupId', 'expiresAt', 'query'].includes(k) ? typeof v[k] : blank(v[k]);
    }
    return out;
  }
  return v;
}

/**
 * Why the call steps over http are skipped, or undefined once the http backend has the call
 * lifecycle of SPEC §3.7 (the contact service's call half, issue 10, is being written).
 */
let probed;
function httpCallsMissing() {
  probed ??= (async () => {
    const b = await cv.createHttpBackend({ url: server.url, deviceKey: await mintDevice('gate-probe') });
    return typeof b._attach === 'function' && typeof b.admitCall === 'function'
      ? undefined
      : "the http backend has no call lifecycle yet (SPEC §3.7: the contact service's call half, issue 10)";
  })();
  return probed;
}

test('the story over http: the same results and errors as on the local backend', async () => {
  const local = await story(await localWorld(), { calls: false });
  const remote = await story(await httpWorld(), { calls: false });
  assert.deepEqual(remote, local);
  const codes = local.filter((r) => r[1] === 'error').map((r) => r[3]);
  for (const c of [8, 1004, 3001, 3002, 3003, 3008]) assert.ok(codes.includes(c), 'the story shows ' + c);
  // and the happy path really happened
  const find = (name) => remote.find((r) => r[0] === name);
  assert.deepEqual(find('mum lists')[2], [{ user_id: USER, is_ad: 1, openid_list: ['o_mum'] }]);
});

test('the story with its calls over http: the same results, errors and events as on the local backend', async (t) => {
  const missing = await httpCallsMissing();
  if (missing) return t.skip(missing);
  const local = await story(await localWorld());
  // A fresh service: the story without calls above bound the same student there.
  await stopServer();
  server = await startService();
  const remote = await story(await httpWorld());
  assert.deepEqual(remote, local);
  const codes = local.filter((r) => r[1] === 'error').map((r) => r[3]);
  assert.ok(codes.includes(1005), 'the story shows 1005 (thrown)');
  const find = (name) => remote.find((r) => r[0] === name);
  // errCode 4 is resolved (isSuccess: false), not thrown.
  assert.equal(find('the token again (4)')[2].errCode, 4);
  assert.equal(find('device calls mum')[2].isSuccess, true);
  // A hang-up while ringing (SPEC §3.7): cancelled, 0 ms, billed 0.
  assert.deepEqual(find('device hangs up')[2], ['joinedRoomByCaller', 'cancelVoip', 'endVoip', 'finishVoip']);
});

test('errors are VoipErrors of the right class, naming the api', async () => {
  const w = await httpWorld();
  const gran = w.people.o_gran;
  const e = await gran.bindVoipAdminContact({ userId: 'student-x' }).catch((x) => x);
  assertVoipError(e, { errCode: 8, code: 'NOT_AUTHORIZED', api: 'bindVoipAdminContact', cls: VoipCgiError });
  const bad = await gran.getBindContactPath({}).catch((x) => x);
  assertVoipError(bad, { errCode: 1004, api: 'getBindContactPath', cls: VoipPluginError });
});

test('over http, admission needs a device key: a parent instance calling is 3008', async (t) => {
  const missing = await httpCallsMissing();
  if (missing) return t.skip(missing);
  const w = await httpWorld();
  // Locally the token alone admits, from any instance.
  const call = { roomType: 'voice', caller: { id: USER }, listener: { id: 'o_gran' }, voipToken: 'x' };
  assertVoipError(await w.people.o_gran.initByCaller(call).catch((x) => x), { errCode: 3008, api: 'initByCaller' });
});

test("the service's error replies carry the core table's origin", async () => {
  const b = await cv.createLocalBackend();
  const origin = new Map(
    b._core
      .errorTable()
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map((f) => [Number(f[0]), f[2]]),
  );
  b.close();
  const session = await mintSession('o_origin');
  const post = async (apiName, body) =>
    (await fetch(server.url + '/v1/' + apiName, { method: 'POST', headers: { authorization: 'Bearer ' + session }, body: JSON.stringify(body) })).json();
  for (const [apiName, body, errCode] of [
    ['getBindContactPath', {}, 1004],
    ['bindVoipAdminContact', { userId: 'student-o' }, 8],
  ]) {
    const j = await post(apiName, body);
    assert.equal(j.errCode, errCode, JSON.stringify(j));
    assert.equal(j.origin, origin.get(errCode), apiName);
  }
});

test('the openId comes from the session; an openId option must match it', async () => {
  const { backend } = await parentBackend('o_kim');
  const kim = await cv.createVoipPlugin({ backend });
  assert.equal(await kim.getOpenId(), 'o_kim');
  assert.equal(await (await cv.createVoipPlugin({ backend, openId: 'o_kim' })).getOpenId(), 'o_kim');
  const wrong = await cv.createVoipPlugin({ backend, openId: 'o_lee' }).catch((x) => x);
  assertVoipError(wrong, { errCode: 1004, api: 'createVoipPlugin' });
  assert.match(wrong.errMsg, /o_kim/);
  const deviceBackend = await cv.createHttpBackend({ url: server.url, deviceKey: await mintDevice('gate-openid') });
  assert.equal(await (await cv.createVoipPlugin({ backend: deviceBackend })).getOpenId(), undefined);
  assertVoipError(await cv.createVoipPlugin({ backend: deviceBackend, openId: 'o_kim' }).catch((x) => x), { errCode: 1004 });
  // a getSession that resolves no session
  const junk = await cv.createHttpBackend({ url: server.url, getSession: () => 'not a session' });
  assertVoipError(await cv.createVoipPlugin({ backend: junk }).catch((x) => x), { errCode: 3008, api: 'createVoipPlugin' });
  const thrower = await cv.createHttpBackend({ url: server.url, getSession: () => Promise.reject(new Error('no login')) });
  const t = await cv.createVoipPlugin({ backend: thrower }).catch((x) => x);
  assertVoipError(t, { errCode: 3008 });
  assert.match(t.errMsg, /no login/);
});

test('createHttpBackend checks its options', async () => {
  const bad = [
    undefined,
    {},
    { url: 'ftp://x', getSession: () => '' },
    { url: server.url },
    { url: server.url, getSession: 'x' },
    { url: server.url, deviceKey: 'has space' },
    { url: server.url, deviceKey: 'k', timeoutMs: 0 },
    { url: server.url, deviceKey: 'k', session: 'typo' },
  ];
  for (const o of bad) assertVoipError(await cv.createHttpBackend(o).catch((x) => x), { errCode: 1004, api: 'createHttpBackend' });
});

test('3008: getSession is called once more and the request retried once', async () => {
  const real = await mintSession('o_ref');
  const forged = real.replace(/[^.]+$/, 'A'.repeat(43)); // same openId, wrong mac
  let n = 0;
  const backend = await cv.createHttpBackend({ url: server.url, getSession: () => (n++ === 0 ? forged : real) });
  const p = await cv.createVoipPlugin({ backend });
  assert.equal(n, 1);
  assert.deepEqual(await p.authorizeVoip(), { errCode: 0, errMsg: 'authorizeVoip:ok' });
  assert.equal(n, 2);
  await p.getVoipConsent();
  assert.equal(n, 2, 'the refreshed session is kept');
  // a session that stays refused: one refresh, then the 3008 is the answer
  let m = 0;
  const stuck = await cv.createHttpBackend({ url: server.url, getSession: () => (m++, forged) });
  const q = await cv.createVoipPlugin({ backend: stuck });
  assertVoipError(await q.authorizeVoip().catch((x) => x), { errCode: 3008, code: 'UNAUTHENTICATED', api: 'authorizeVoip', cls: VoipCgiError });
  assert.equal(m, 2);
  // a refresh may not change who the backend is
  let k = 0;
  const other = await mintSession('o_other');
  const swap = await cv.createHttpBackend({ url: server.url, getSession: () => (k++ === 0 ? forged : other) });
  const s = await cv.createVoipPlugin({ backend: swap });
  assertVoipError(await s.authorizeVoip().catch((x) => x), { errCode: 3008 });
});

test('the default instance with voipConfig.backend { type: "http" }', async () => {
  cv.configure({ openId: 'o_cfg', backend: { type: 'http', url: server.url + '/', getSession: () => mintSession('o_cfg') } });
  assert.deepEqual(await cv.default.authorizeVoip(), { errCode: 0, errMsg: 'authorizeVoip:ok' });
  assert.equal(await cv.default.getOpenId(), 'o_cfg');
  assert.deepEqual(await cv.default.getVoipBindContactList(), []);
});

/** A throwaway http server answering every request with `handler(req, res)`. */
async function fakeService(handler) {
  const s = http.createServer(handler);
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  return { url: 'http://127.0.0.1:' + s.address().port, close: () => (s.closeAllConnections(), new Promise((r) => s.close(r))) };
}

test('1003 BAD_RESPONSE: HTML, or JSON of an unexpected shape', async () => {
  const replies = [
    [200, 'text/html', '<!doctype html><title>Portal</title>'],
    [502, 'text/html', '<h1>Bad gateway</h1>'],
    [200, 'application/json', '{"errCode":0,"errMsg":"authorizeVoip:ok"}'],
    [200, 'application/json', '[1,2]'],
    [200, 'application/json', '{"errCode":0,"errMsg":"x","result":{"an object":"where a string belongs"}}'],
    [200, 'application/json', '{"errCode":1004}'],
  ];
  let i = 0;
  const fake = await fakeService((req, res) => {
    const [status, type, body] = replies[i++];
    res.writeHead(status, { 'Content-Type': type }).end(body);
  });
  try {
    const backend = await cv.createHttpBackend({ url: fake.url, deviceKey: 'cvd1.fake.key' });
    const device = await cv.createVoipPlugin({ backend });
    for (let k = 0; k < replies.length; k++) {
      const e = await backend.issueVoipToken({ userId: USER }).catch((x) => x);
      assertVoipError(e, { errCode: 1003, code: 'BAD_RESPONSE', api: 'issueVoipToken', cls: VoipCgiError });
    }
    assert.ok(device);
  } finally {
    await fake.close();
  }
});

test('1002 REQUEST_FAILED: a refused port, and a timeout', async () => {
  const probe = net.createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const port = probe.address().port;
  await new Promise((r) => probe.close(r));
  const refused = await cv.createHttpBackend({ url: 'http://127.0.0.1:' + port, deviceKey: 'cvd1.a.b' });
  assertVoipError(await refused.issueVoipToken({ userId: USER }).catch((x) => x), { errCode: 1002, code: 'REQUEST_FAILED', cls: VoipCgiError });
  const silent = await fakeService(() => {}); // never answers
  try {
    const slow = await cv.createHttpBackend({ url: silent.url, deviceKey: 'cvd1.a.b', timeoutMs: 200 });
    const t0 = Date.now();
    const e = await slow.issueVoipToken({ userId: USER }).catch((x) => x);
    assertVoipError(e, { errCode: 1002, api: 'issueVoipToken' });
    assert.match(e.errMsg, /200 ms/);
    assert.ok(Date.now() - t0 < 5000);
  } finally {
    await silent.close();
  }
});

test('a stopped service: 1002, and a call after close() is refused', async () => {
  const { backend } = await parentBackend('o_last');
  const p = await cv.createVoipPlugin({ backend });
  await p.authorizeVoip();
  await stopServer();
  assertVoipError(await p.getVoipConsent().catch((x) => x), { errCode: 1002, code: 'REQUEST_FAILED', api: 'getVoipConsent' });
  backend.close();
  assertVoipError(await p.getVoipConsent().catch((x) => x), { errCode: 1004, api: 'getVoipConsent' });
});
