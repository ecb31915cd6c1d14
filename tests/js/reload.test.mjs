// js/core.js: one live core per realm, and a fresh glue + wasm instance after markCoreDead (a
// trap ends an instance; issue 7). The loader is internal, so this test bundles js/core.js and the
// Node and Mini Program hosts with esbuild (as scripts/build.mjs does, with the generated glue
// factory dist/.wasm/campus_voip_glue.js) into a temporary folder, next to the built wasm.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { DIST, ROOT } from './helpers.mjs';

const FACTORY = path.join(ROOT, 'dist', '.wasm', 'campus_voip_glue.js');
const MP_PLUGIN = path.join(ROOT, 'dist', 'miniprogram-plugin', 'plugin');
let tmp;
let m; // the bundled internals

before(async () => {
  assert.ok(fs.existsSync(FACTORY), 'dist/.wasm/campus_voip_glue.js is missing: run `node scripts/build.mjs` first');
  const esbuild = await import(pathToFileURL(path.join(ROOT, 'tools', 'node_modules', 'esbuild', 'lib', 'main.js')).href);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-voip-reload-'));
  const entry = path.join(tmp, 'entry.mjs');
  const js = (p) => JSON.stringify(path.join(ROOT, 'js', p));
  fs.writeFileSync(
    entry,
    `export { loadCore, markCoreDead, isCoreDead } from ${js('core.js')};
     export { default as nodeHost } from ${js('hosts/node.js')};
     export { default as wxHost, WASM_PATH } from ${js('hosts/wx.js')};
     export { buildApi } from ${js('api.js')};
     export { memoryStorage } from ${js('storage.js')};`,
  );
  await esbuild.build({
    entryPoints: [entry],
    outfile: path.join(tmp, 'internals.mjs'),
    bundle: true,
    format: 'esm',
    platform: 'node',
    alias: { 'campus-voip-glue': FACTORY },
    logLevel: 'warning',
  });
  fs.copyFileSync(path.join(DIST, 'campus_voip_bg.wasm'), path.join(tmp, 'campus_voip_bg.wasm'));
  m = await import(pathToFileURL(path.join(tmp, 'internals.mjs')).href);
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  delete globalThis.WXWebAssembly;
});

/** The Node host, counting instantiations and keeping each instance. */
function countingHost(base) {
  const seen = [];
  return {
    ...base,
    seen,
    instantiate(imports) {
      return Promise.resolve(base.instantiate(imports)).then((res) => {
        seen.push({ imports: imports['./campus_voip_bg.js'], instance: res.instance || res });
        return res;
      });
    },
  };
}

/** A core works: a backend, a parent with consent, a bind (round trips through the wasm). */
async function works(host) {
  const api = m.buildApi(host);
  const backend = await api.createLocalBackend({ storage: m.memoryStorage() });
  const p = await api.createVoipPlugin({ backend, openId: 'o_dad' });
  assert.equal((await p.authorizeVoip()).errMsg, 'authorizeVoip:ok');
  assert.equal((await p.bindVoipAdminContact({ userId: '学生-1' })).errMsg, 'bindVoipAdminContact:ok');
  const list = await p.getVoipBindContactList({ userId: '学生-1' });
  assert.deepEqual(list, [{ user_id: '学生-1', is_ad: 1, openid_list: ['o_dad'] }]);
  backend.close();
}

test('one live core per realm; after markCoreDead the next loadCore gives a fresh glue and instance that work', async () => {
  const host = countingHost(m.nodeHost);
  const a = await m.loadCore(host);
  assert.equal(await m.loadCore(host), a, 'a live core is cached');
  assert.equal(host.seen.length, 1);
  assert.equal(m.isCoreDead(a), false);
  await works(host);

  m.markCoreDead(a);
  assert.equal(m.isCoreDead(a), true);
  const b = await m.loadCore(host);
  assert.notEqual(b, a, 'a new glue object');
  assert.equal(m.isCoreDead(b), false);
  assert.equal(host.seen.length, 2, 'a second instantiation');
  assert.equal(host.seen[1].imports, b, 'the new instance imports the new glue');
  assert.notEqual(host.seen[1].instance, host.seen[0].instance, 'a new wasm instance');
  assert.notEqual(host.seen[1].instance.exports.memory, host.seen[0].instance.exports.memory, 'its own memory');
  assert.equal(b.Backend === a.Backend, false, 'its own classes');
  await works(host);
  // The old glue still talks to its own instance (no shared, stale module state) ...
  assert.equal(a.checkOpenId('o_still_a'), 'o_still_a');
  assert.equal(b.checkOpenId('o_now_b'), 'o_now_b');
  // ... and marking it again, or marking a stale core, does not drop the live one.
  m.markCoreDead(a);
  assert.equal(await m.loadCore(host), b);
  assert.equal(host.seen.length, 2);
});

test('markCoreDead ignores values that are not objects, and marking another object leaves the live core alone', async () => {
  for (const v of [undefined, null, 0, 'core', {}]) {
    m.markCoreDead(v);
    assert.equal(m.isCoreDead(v), typeof v === 'object' && v !== null, String(v));
  }
  const live = await m.loadCore(m.nodeHost);
  assert.equal(m.isCoreDead(live), false);
  assert.equal(await m.loadCore(m.nodeHost), live, 'unrelated marks leave the live core alone');
});

test('a failed load is not cached: the next loadCore tries again', async () => {
  m.markCoreDead(await m.loadCore(m.nodeHost));
  let calls = 0;
  const flaky = {
    ...m.nodeHost,
    instantiate(imports) {
      calls++;
      return calls === 1 ? Promise.reject(new Error('disk on fire')) : m.nodeHost.instantiate(imports);
    },
  };
  await assert.rejects(m.loadCore(flaky), (e) => {
    assert.equal(e.name, 'VoipPluginError');
    assert.equal(e.errCode, 1011);
    assert.equal(e.code, 'NOT_SUPPORTED');
    assert.match(e.errMsg, /^loadWasm:fail .*disk on fire/);
    return true;
  });
  const c = await m.loadCore(flaky);
  assert.equal(calls, 2);
  assert.equal(c.checkOpenId('o_retry'), 'o_retry');
});

test('Mini Program path: a fresh instance comes from WXWebAssembly.instantiate with the package path again', async () => {
  const paths = [];
  globalThis.WXWebAssembly = {
    instantiate(wasmPath, imports) {
      assert.equal(typeof wasmPath, 'string', 'a package path, never bytes');
      paths.push(wasmPath);
      const bytes = zlib.brotliDecompressSync(fs.readFileSync(path.join(MP_PLUGIN, wasmPath)));
      return WebAssembly.instantiate(bytes, imports).then(({ instance, module }) => ({ instance, module }));
    },
  };
  m.markCoreDead(await m.loadCore(m.nodeHost));
  const a = await m.loadCore(m.wxHost);
  m.markCoreDead(a);
  const b = await m.loadCore(m.wxHost);
  assert.notEqual(a, b);
  assert.deepEqual(paths, [m.WASM_PATH, m.WASM_PATH]);
  assert.equal(b.checkOpenId('o_wx'), 'o_wx');
  // The API on the wx host (storage, entropy and config are the wx host's; give it an in-memory
  // storage and the Node host's entropy, as the sandbox test does with its own wx).
  await works({ ...m.wxHost, randomBytes: m.nodeHost.randomBytes, defaultStorage: m.memoryStorage });
  assert.equal(paths.length, 2, 'the live wx core is reused');
});
