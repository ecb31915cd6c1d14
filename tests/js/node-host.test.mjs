// The Node host of the default entry (js/hosts/node.js): it reads and compiles the wasm next to
// the package's module when the package is imported. A missing or damaged file must not be an
// unhandled rejection at import (this file would crash); the first call that needs the core
// reports it as loadWasm:fail with the fix, and a later call tries again.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { DIST } from './helpers.mjs';

const dirs = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A copy of the built node.mjs in a folder of its own, with `wasm` (bytes, or none) next to it. */
async function packageWith(wasm) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-voip-node-host-'));
  dirs.push(dir);
  fs.copyFileSync(path.join(DIST, 'node.mjs'), path.join(dir, 'node.mjs'));
  if (wasm) fs.writeFileSync(path.join(dir, 'campus_voip_bg.wasm'), wasm);
  return { dir, api: await import(pathToFileURL(path.join(dir, 'node.mjs')).href) };
}

const loadFail = (...patterns) => (e) => {
  assert.equal(e.errCode, 1011, e.errMsg);
  for (const re of [/^loadWasm:fail /, ...patterns]) assert.match(e.errMsg, re);
  return true;
};

test('a missing wasm file is reported by the first open, and the next open tries again', async () => {
  const { dir, api } = await packageWith(null);
  await assert.rejects(
    api.createLocalBackend({ storage: api.memoryStorage() }),
    loadFail(/reading .*campus_voip_bg\.wasm failed/, /must stay next to the package's code/),
  );
  fs.copyFileSync(path.join(DIST, 'campus_voip_bg.wasm'), path.join(dir, 'campus_voip_bg.wasm'));
  const b = await api.createLocalBackend({ storage: api.memoryStorage() });
  const p = await api.createVoipPlugin({ backend: b, openId: 'o1' });
  assert.equal((await p.authorizeVoip()).errMsg, 'authorizeVoip:ok');
  b.close();
});

test('a file that is not wasm, or a damaged one, is named as such', async () => {
  const notWasm = await packageWith(Buffer.from('<!doctype html>'));
  await assert.rejects(notWasm.api.createLocalBackend(), loadFail(/is not the campus-voip wasm/));
  const real = fs.readFileSync(path.join(DIST, 'campus_voip_bg.wasm'));
  const damaged = await packageWith(real.subarray(0, real.length >> 1));
  await assert.rejects(damaged.api.createLocalBackend(), loadFail(/is a damaged wasm file/, /reinstall campus-voip/));
});
