// The build's guard against device-breaking constructs in shipped plugin code
// (scripts/lib/guard.mjs), on samples, and on the plugin as built.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { forbiddenIn } from '../../scripts/lib/guard.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('each forbidden construct is caught', () => {
  const samples = {
    'import.meta': 'const u = new URL("x", import.meta.url);',
    'fetch(': 'fetch (url).then(r => r.arrayBuffer())',
    'WebAssembly.': 'WebAssembly.instantiate(bytes, imports)',
    initSync: 'initSync({ module })',
    'eval(': 'const x = eval("1+1")',
    'new Function': 'const f = new  Function("return this")',
    'Math.random': 'const nonce = Math.random().toString(36)',
    'crypto.': 'crypto.getRandomValues(out)',
    globalThis: 'const g = globalThis;',
  };
  for (const [name, code] of Object.entries(samples)) assert.deepEqual(forbiddenIn(code), [name], name);
});

test('what the plugin legitimately contains passes', () => {
  const ok = [
    "WXWebAssembly.instantiate('/wasm/campus_voip_bg.wasm.br', imports)",
    'const prefetch = 1; refetchAll(); evaluate(x); newFunction(); typeof Function',
    "'use strict'; module.exports = { initialize: 1 }",
    'wx.getRandomValues({ length: 32 }); const webcrypto = 1; node.crypto_ = 2; myGlobalThisFlag = 0',
  ];
  for (const code of ok) assert.deepEqual(forbiddenIn(code), [], code);
});

test('the built plugin code is clean', () => {
  const dir = path.join(ROOT, 'dist/miniprogram-plugin/plugin');
  const files = fs.readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.js'));
  assert.ok(files.includes('index.js'), 'plugin/index.js is built');
  for (const f of files) assert.deepEqual(forbiddenIn(fs.readFileSync(path.join(dir, f), 'utf8')), [], f);
});
