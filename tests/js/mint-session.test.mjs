// mintSession (Node entries): what it mints is accepted by a real contact service started with
// the same --session-secret (tests/js/service.mjs), as that openId; an expired, tampered or
// foreign-secret session is refused with 401 + 3008; bad options are 1004 (20 for an openId the
// core refuses). The format is restated from server/src/session.rs (js/mint-session.js), so the
// real service is the check that both agree.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { DIST, assertVoipError, cv } from './helpers.mjs';
import { startService } from './service.mjs';

const SECRET = 'a known session secret for mint-session.test, 32+ bytes';
let server = null;

before(async () => {
  server = await startService(['--session-secret', SECRET]);
});
after(() => server && server.stop());

/** POST /v1/getVoipConsent with this session: [status, body]. */
async function consent(session) {
  const res = await fetch(server.url + '/v1/getVoipConsent', {
    method: 'POST',
    headers: { authorization: 'Bearer ' + session },
    body: '{}',
  });
  return [res.status, await res.json()];
}

describe('mintSession against the service', () => {
  test('a minted session is accepted, as its openId', async () => {
    const session = await cv.mintSession({ secret: SECRET, openId: 'o_minted' });
    assert.match(session, /^v1\.[A-Za-z0-9_-]{8}\.o_minted\.\d+\.\d+\.[A-Za-z0-9_-]{43}$/);
    const [, , , iat, exp] = session.split('.');
    assert.equal(Number(exp) - Number(iat), 7 * 86400, 'default 7 days, like session mint');
    assert.ok(Math.abs(Number(iat) - Date.now() / 1000) < 5);
    const [status, body] = await consent(session);
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body, { errCode: 0, errMsg: 'getVoipConsent:ok', result: { granted: false } });

    // The http backend takes the openId from it.
    const backend = await cv.createHttpBackend({ url: server.url, getSession: () => cv.mintSession({ secret: SECRET, openId: 'o_minted', ttlSeconds: 60 }) });
    const dad = await cv.createVoipPlugin({ backend });
    assert.equal(await dad.getOpenId(), 'o_minted');
    await dad.authorizeVoip();
    assert.deepEqual((await consent(session))[1].result, { granted: true });
    backend.close();
  });

  test('the dev session of the same service has the same key id (the same kid derivation)', async () => {
    const dev = await (await fetch(server.url + '/v1/dev/session', { method: 'POST', body: '{"openId":"o_x"}' })).json();
    const mine = await cv.mintSession({ secret: SECRET, openId: 'o_x' });
    assert.equal(mine.split('.')[1], dev.session.split('.')[1]);
  });

  test('an injected clock and ttlSeconds set iat and exp', async () => {
    const now = () => 1_800_000_000_999;
    const s = await cv.mintSession({ secret: SECRET, openId: 'o_t', ttlSeconds: 90, now });
    assert.deepEqual(s.split('.').slice(3, 5), ['1800000000', '1800000090']);
  });

  test('an expired session is refused with 3008', async () => {
    const session = await cv.mintSession({ secret: SECRET, openId: 'o_old', ttlSeconds: 3600, now: () => Date.now() - 2 * 3600_000 });
    const [status, body] = await consent(session);
    assert.equal(status, 401);
    assert.equal(body.errCode, 3008);
    assert.equal(body.code, 'UNAUTHENTICATED');
    assert.match(body.errMsg, /expired/);
  });

  test('a tampered session is refused with 3008', async () => {
    const good = await cv.mintSession({ secret: SECRET, openId: 'o_real' });
    const parts = good.split('.');
    const mac = parts[5];
    const flipped = (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1);
    for (const bad of [
      [...parts.slice(0, 2), 'o_other', ...parts.slice(3)].join('.'), // another openId, same mac
      [...parts.slice(0, 4), String(Number(parts[4]) + 86400), parts[5]].join('.'), // a later exp
      [...parts.slice(0, 5), flipped].join('.'),
      good.slice(0, -1),
    ]) {
      const [status, body] = await consent(bad);
      assert.equal(status, 401, bad);
      assert.equal(body.errCode, 3008, bad);
    }
  });

  test('a session minted with another secret is refused with 3008 (unknown key id)', async () => {
    const other = await cv.mintSession({ secret: SECRET + ' but another one', openId: 'o_real' });
    const [status, body] = await consent(other);
    assert.equal(status, 401);
    assert.equal(body.errCode, 3008);
    assert.match(body.errMsg, /another secret/);
  });

  test('the service refuses a 31-byte secret just as mintSession does', async () => {
    const short = 'x'.repeat(31);
    await assert.rejects(startService(['--session-secret', short]), /at least 32 bytes/);
    await assert.rejects(cv.mintSession({ secret: short, openId: 'o' }), (e) => {
      assertVoipError(e, { errCode: 1004, code: 'INVALID_ARGUMENT', api: 'mintSession' });
      return /at least 32 bytes, got 31/.test(e.errMsg);
    });
    // 32 bytes of UTF-8 (16 two-byte characters) is enough, for both.
    const utf8 = 'é'.repeat(16);
    const s = await cv.mintSession({ secret: utf8, openId: 'o_utf8' });
    const svc = await startService(['--session-secret', utf8]);
    try {
      const res = await fetch(svc.url + '/v1/getVoipConsent', { method: 'POST', headers: { authorization: 'Bearer ' + s }, body: '{}' });
      assert.equal((await res.json()).errCode, 0);
    } finally {
      await svc.stop();
    }
  });
});

describe('mintSession options', () => {
  const bad = async (options, errCode, re) => {
    await assert.rejects(cv.mintSession(options), (e) => {
      assertVoipError(e, { errCode, api: 'mintSession' });
      assert.match(e.errMsg, re);
      return true;
    });
  };

  test('the openId is checked by the core', async () => {
    await bad({ secret: SECRET, openId: 'not an openid!' }, 20, /^mintSession:fail openId must be 1–64 characters/);
    await bad({ secret: SECRET, openId: 'o'.repeat(65) }, 20, /openId/);
    await bad({ secret: SECRET, openId: '' }, 20, /openId/);
    await bad({ secret: SECRET, openId: 12 }, 1004, /openId/);
    await bad({ secret: SECRET }, 1004, /openId/);
  });

  test('secret, ttlSeconds, now and the options object', async () => {
    await bad({ openId: 'o' }, 1004, /secret must be the session secret string/);
    await bad({ secret: Buffer.from(SECRET), openId: 'o' }, 1004, /secret must be/);
    await bad({ secret: '', openId: 'o' }, 1004, /at least 32 bytes, got 0/);
    for (const ttlSeconds of [0, -1, 1.5, 366 * 86400 + 1, '60', null, NaN]) {
      await bad({ secret: SECRET, openId: 'o', ttlSeconds }, 1004, /ttlSeconds must be a whole number/);
    }
    assert.ok(await cv.mintSession({ secret: SECRET, openId: 'o', ttlSeconds: 366 * 86400 }));
    assert.ok(await cv.mintSession({ secret: SECRET, openId: 'o', ttlSeconds: 1 }));
    await bad({ secret: SECRET, openId: 'o', now: 5 }, 1004, /now must be a function/);
    await bad({ secret: SECRET, openId: 'o', now: () => 'soon' }, 1004, /now\(\) must return/);
    await bad({ secret: SECRET, openId: 'o', ttl: 60 }, 1004, /unknown key "ttl"/);
    await bad(null, 1004, /expects an options object/);
    await bad('o', 1004, /expects an options object/);
  });
});

describe('mintSession mints on the Node entries only', () => {
  test('node.mjs, node.cjs, slim-node.*: it mints; the browser entries: it rejects 1011 NOT_SUPPORTED', async () => {
    const require = createRequire(import.meta.url);
    assert.equal(typeof cv.mintSession, 'function');
    assert.equal(typeof require(path.join(DIST, 'node.cjs')).mintSession, 'function');
    assert.equal(typeof require(path.join(DIST, 'slim-node.cjs')).mintSession, 'function');
    const slimNode = await import(pathToFileURL(path.join(DIST, 'slim-node.mjs')).href);
    assert.equal(typeof slimNode.mintSession, 'function');
    for (const f of ['index.mjs', 'slim.mjs']) {
      const m = await import(pathToFileURL(path.join(DIST, f)).href);
      // The session secret never ships in a client.
      await assert.rejects(m.mintSession({ secret: SECRET, openId: 'o_c' }), (e) => e instanceof m.VoipPluginError && e.errCode === 1011 && e.code === 'NOT_SUPPORTED', f);
    }
    // The CommonJS build mints the same session (its own copy of the core checks the openId).
    const cjs = require(path.join(DIST, 'node.cjs'));
    const now = () => 1_800_000_000_000;
    assert.equal(await cjs.mintSession({ secret: SECRET, openId: 'o_c', now }), await cv.mintSession({ secret: SECRET, openId: 'o_c', now }));
  });
});
