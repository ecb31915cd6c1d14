// One source for every table: the error table and PLUGIN_VERSION live in the core
// (src/errors.rs, src/lib.rs); the shim's copies, the .d.ts union and this suite's own table are
// checked against what the built wasm reports.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CODE_NAMES, DIST, ROOT, cv, makeWorld } from './helpers.mjs';

const { CODES } = await import(path.join(ROOT, 'js/errors.js'));

// The tables are the package's, whatever backend the suite runs on: read from a local backend's core.
async function coreTable() {
  const b = await cv.createLocalBackend();
  const text = b._core.errorTable();
  b.close();
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [n, name, origin] = line.split(' ');
      return { errCode: Number(n), code: name, origin };
    });
}

test('the shim raises only codes of the core, with the core numbers', async () => {
  const rows = await coreTable();
  assert.ok(rows.length >= 18);
  for (const [name, n] of Object.entries(CODES)) {
    const row = rows.find((r) => r.code === name);
    assert.ok(row, `${name} is in the core table`);
    assert.equal(row.errCode, n, name);
  }
});

test('the .d.ts union names every code of the core, and no other', async () => {
  const rows = await coreTable();
  const dts = fs.readFileSync(path.join(DIST, 'index.d.ts'), 'utf8');
  const start = dts.indexOf('export type VoipErrorCode');
  const union = dts.slice(start, dts.indexOf('\n\n', start));
  const names = [...union.matchAll(/'([A-Z_]+)';? \/\/ (\d+)/g)].map((m) => ({ code: m[1], errCode: Number(m[2]) }));
  assert.deepEqual(
    names,
    rows.map((r) => ({ code: r.code, errCode: r.errCode })),
  );
});

test("this suite's table of names is the core's", async () => {
  const rows = await coreTable();
  const reserved = [1002, 1003, 3005]; // not raised by the local backend
  for (const r of rows) {
    if (reserved.includes(r.errCode)) continue;
    assert.equal(CODE_NAMES[r.errCode], r.code, String(r.errCode));
  }
});

test('PLUGIN_VERSION is the core constant, and instances default to it', async () => {
  const b = await cv.createLocalBackend();
  assert.equal(cv.PLUGIN_VERSION, b._core.pluginVersion());
  b.close();
  const lib = fs.readFileSync(path.join(ROOT, 'src/lib.rs'), 'utf8');
  assert.ok(lib.includes(`pub const PLUGIN_VERSION: &str = "${cv.PLUGIN_VERSION}";`));
});

test('the bind page texts cover exactly the core outcomes', async () => {
  const comp = fs.readFileSync(path.join(ROOT, 'pkg-template/miniprogram-plugin/plugin/components/bind-contact/bind-contact.js'), 'utf8');
  const keys = [...comp.slice(comp.indexOf('const MESSAGES'), comp.indexOf('};', comp.indexOf('const MESSAGES'))).matchAll(/^\s+(\w+): '/gm)].map((m) => m[1]);
  const share = fs.readFileSync(path.join(ROOT, 'src/share.rs'), 'utf8');
  const outcomes = [...share.matchAll(/BindType::\w+ => "(\w+)",/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(keys)].sort(), [...new Set(outcomes)].sort());
});
