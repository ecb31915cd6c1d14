#!/usr/bin/env node
// Tests the npm package as a user installs it: `npm pack` dist/npm, install the tarball into a
// scratch project (off-line: the package has no dependencies), then run the README usage
// examples against it, with `import` (ESM) and `require` (CommonJS).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-voip-pack-'));
const sh = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

try {
  const packed = JSON.parse(sh('npm', ['pack', path.join(ROOT, 'dist/npm'), '--json', '--pack-destination', scratch], ROOT));
  const tarball = path.join(scratch, packed[0].filename);
  const files = packed[0].files.map((f) => f.path).sort();
  assert.deepEqual(files, [
    'README.md',
    'campus_voip_bg.wasm',
    'index.d.mts',
    'index.d.ts',
    'index.mjs',
    'node.cjs',
    'node.mjs',
    'package.json',
    'slim-node.cjs',
    'slim-node.mjs',
    'slim.d.mts',
    'slim.d.ts',
    'slim.mjs',
  ]);
  console.log(`pack: ${packed[0].filename}, ${files.length} files, ${(packed[0].size / 1024).toFixed(1)} KB`);

  const app = path.join(scratch, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }));
  sh('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], app);

  // The README examples, verbatim: the first ```js block of each README.
  const examples = [
    ['README.md', path.join(ROOT, 'README.md')],
    ['npm README.md', path.join(ROOT, 'pkg-template/npm/README.md')],
  ];
  for (const [name, file] of examples) {
    const block = /```js\n([\s\S]*?)```/.exec(fs.readFileSync(file, 'utf8'));
    assert.ok(block, `${name} has a js example`);
    fs.writeFileSync(path.join(app, 'example.mjs'), block[1]);
    const out = sh('node', ['example.mjs'], app);
    assert.match(out, /success/, `${name} example: the second parent binds`);
    assert.match(out, /^true duration$/m, `${name} example: the call is admitted`);
    console.log(`ok: the ${name} usage example runs against the installed package`);
  }

  // CommonJS users get the same API.
  fs.writeFileSync(
    path.join(app, 'cjs.cjs'),
    `const v = require('campus-voip');
     const names = ['default', 'configure', 'createVoipPlugin', 'createLocalBackend', 'memoryStorage', 'webStorage',
       'wxStorage', 'fileStorage', 'VoipError', 'VoipPluginError', 'VoipCgiError', 'PLUGIN_VERSION'];
     const missing = names.filter((n) => v[n] === undefined);
     if (missing.length) throw new Error('missing exports: ' + missing);
     v.createLocalBackend().then((b) => v.createVoipPlugin({ backend: b, openId: 'o1' }))
       .then((p) => p.authorizeVoip()).then((r) => console.log(r.errMsg));`,
  );
  assert.equal(sh('node', ['cjs.cjs'], app).trim(), 'authorizeVoip:ok');
  console.log('ok: require("campus-voip") works and exports the whole API');

  // TypeScript users under Node's own module rules get the right declarations for import
  // (index.d.mts) and for require (index.d.ts).
  fs.writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'nodenext', strict: true, noEmit: true, lib: ['es2020'], types: [] } }),
  );
  fs.writeFileSync(
    path.join(app, 'esm.mts'),
    `import wmpfVoip, { createLocalBackend, type LocalBackend } from 'campus-voip';
     const ok: Promise<{ errCode: 0 }> = wmpfVoip.authorizeVoip();
     const b: Promise<LocalBackend> = createLocalBackend();
     export { ok, b };`,
  );
  fs.writeFileSync(
    path.join(app, 'cjs.cts'),
    `import campusVoip = require('campus-voip');
     export const ok: Promise<{ errCode: 0 }> = campusVoip.default.authorizeVoip();`,
  );
  sh(path.join(ROOT, 'tools/node_modules/.bin/tsc'), ['-p', '.'], app);
  console.log('ok: tsc (module nodenext) types both import and require of the installed package');
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
