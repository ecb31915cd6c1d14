#!/usr/bin/env node
// Builds everything shipped, never committed:
//   dist/npm/                  the npm package (ESM for browsers and Node, CommonJS for Node, .d.ts),
//                              and its /slim entry (the host supplies the wasm with initWasm)
//   dist/miniprogram-plugin/   a complete Mini Program plugin project (wasm as .wasm.br)
// One wasm for every host: MVP features only (nightly build-std, target-cpu=mvp), wasm-opt -Oz,
// sign-ext lowered, wasm Global exports stripped (iOS cannot export one). The build fails on a
// forbidden construct in shipped plugin code, on a non-MVP wasm, or over the size budget.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { forbiddenIn } from './lib/guard.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const WORK = path.join(DIST, '.wasm');
const NPM = path.join(DIST, 'npm');
const MP = path.join(DIST, 'miniprogram-plugin');
const TOOLS = path.join(ROOT, 'tools', 'node_modules');
const NIGHTLY = fs.readFileSync(path.join(ROOT, 'rust-nightly-version'), 'utf8').trim();
const BUDGET_PLUGIN_BYTES = 64 * 1024; // whole plugin, compressed (SPEC §9)
const BUDGET_WASM_BROTLI = 48 * 1024; // the wasm alone, brotli (SPEC §9)

const started = Date.now();
const step = (msg) => console.log(`\x1b[1mbuild:\x1b[0m ${msg} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
const fail = (msg) => {
  console.error(`\x1b[31mbuild failed:\x1b[0m ${msg}`);
  process.exit(1);
};
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...opts });
const rmrf = (p) => fs.rmSync(p, { recursive: true, force: true });
const copyDir = (from, to) => fs.cpSync(from, to, { recursive: true });

if (!fs.existsSync(path.join(TOOLS, '.bin', 'esbuild'))) fail('npm tools missing: run scripts/bootstrap.sh first');
const esbuild = await import(path.join(TOOLS, 'esbuild', 'lib', 'main.js'));

// ---- 1. the wasm ------------------------------------------------------------------------------
step(`compiling the core for wasm32 (MVP features, ${NIGHTLY}, build-std)`);
run('cargo', [
  `+${NIGHTLY}`,
  'build',
  '--release',
  '--lib',
  '--target',
  'wasm32-unknown-unknown',
  '-Z',
  'build-std=std,panic_abort',
  '--target-dir',
  'target/mvp',
], {
  env: {
    ...process.env,
    // MVP instructions only; panics abort without formatting (no input reaches a panic, and a
    // panic would end the instance anyway); no location strings or Debug output in the binary.
    RUSTFLAGS: '-C target-cpu=mvp -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none --cfg sha2_backend_soft="compact"',
  },
});

step('generating the bindings (wasm-bindgen --target bundler)');
rmrf(WORK);
fs.mkdirSync(WORK, { recursive: true });
run('wasm-bindgen', [
  '--target',
  'bundler',
  '--out-dir',
  WORK,
  path.join(ROOT, 'target/mvp/wasm32-unknown-unknown/release/campus_voip.wasm'),
]);

step('optimizing (wasm-opt -Oz), lowering sign-ext, stripping Global exports');
const bindgenWasm = path.join(WORK, 'campus_voip_bg.wasm');
const globalExports = WebAssembly.Module.exports(new WebAssembly.Module(fs.readFileSync(bindgenWasm)))
  .filter((e) => e.kind === 'global')
  .map((e) => e.name);
const wasmOpt = path.join(TOOLS, '.bin', 'wasm-opt');
const optWasm = path.join(WORK, 'campus_voip_bg.opt.wasm');
run(wasmOpt, [
  bindgenWasm,
  // Nothing lives in the low 1 KiB of memory: the 1 MiB stack comes first and grows down from
  // 1 MiB, data and heap lie above it, so only a stack ~1 MiB deep would reach it (the core
  // does not recurse past depth 4). Lets wasm-opt fold pointer offsets into loads and stores:
  // ~350 B brotli.
  '--low-memory-unused',
  '-Oz',
  // Two rounds on a flattened, re-relooped body, each -Oz run twice, all until nothing shrinks:
  // ~500 B brotli less than -Oz alone on this core (one round with one -Oz: ~220 B less).
  '--flatten',
  '--rereloop',
  '-Oz',
  '--flatten',
  '--rereloop',
  '-Oz',
  '-Oz',
  '--converge',
  '--signext-lowering',
  // The producers section (which rustc and wasm-bindgen made it) is of no use to a host.
  '--strip-producers',
  ...globalExports.flatMap((name) => ['--remove-exports', `--pass-arg=remove-exports@${name}`]),
  '-o',
  optWasm,
]);
// The wasm imports the glue's functions by wasm-bindgen's names (`__wbg_call_` and a 16-digit
// hash): ~1 KB of import section that brotli cannot shrink. They become `a`, `b`, … here, and the
// glue factory (below) also returns each of its imported functions under its short name.
const importNames = shortenImportNames(optWasm); // short name -> wasm-bindgen's name
const wasmBytes = fs.readFileSync(optWasm);
{
  // --low-memory-unused (above) holds only while the stack comes first: the stack pointer
  // (the first global) starts at 1 MiB or so and every data segment lies above it.
  const text = execFileSync(path.join(TOOLS, '.bin', 'wasm-dis'), [bindgenWasm], { maxBuffer: 1 << 28 }).toString();
  const sp = Number(/^ \(global \$\S+ \(mut i32\) \(i32\.const (\d+)\)\)/m.exec(text)?.[1]);
  const data = [...text.matchAll(/^ \(data \$\S+ \(i32\.const (\d+)\)/gm)].map((m) => Number(m[1]));
  if (!(sp >= 65536) || !data.length || data.some((at) => at < sp)) {
    fail(`the memory layout is not stack-first (stack pointer ${sp}, data at ${data.join(', ')}): drop --low-memory-unused`);
  }
}
const mod = new WebAssembly.Module(wasmBytes);
const leftGlobals = WebAssembly.Module.exports(mod).filter((e) => e.kind === 'global');
if (leftGlobals.length) fail(`the wasm still exports Globals (iOS cannot): ${leftGlobals.map((g) => g.name).join(', ')}`);
const importModules = [...new Set(WebAssembly.Module.imports(mod).map((i) => i.module))];
if (importModules.join() !== './campus_voip_bg.js') fail(`unexpected wasm import modules: ${importModules.join(', ')}`);
try {
  // Validates only if the module uses MVP features (and mutable globals) and nothing else.
  execFileSync(wasmOpt, [optWasm, '--mvp-features', '--enable-mutable-globals', '-o', path.join(WORK, 'mvp-check.wasm')], {
    stdio: 'pipe',
  });
} catch (e) {
  fail(`the wasm uses features beyond MVP:\n${e.stderr}`);
}

// ---- 2. the JS bundles -----------------------------------------------------------------------
// One glue module per wasm instance (PLATFORM.md §4): wasm-bindgen's campus_voip_bg.js keeps its
// state (the instance, memory views, the heap of JS objects) at module level, so it becomes the
// body of a factory. js/core.js calls it once per instance, and a fresh instance after a trap
// (markCoreDead) gets fresh state. Checked: the factory returns exactly the glue's exports, and
// they include every import of the wasm.
step('turning the glue into a factory (new module state per wasm instance)');
/**
 * wasm-bindgen reads and writes the return slots (16-aligned stack space, `retptr`, and the
 * out-parameters of its number/string imports) through `getDataViewMemory0()`, and every call of
 * it compares `wasm.memory.buffer` (a C++ getter on Node 20 and older, which lack
 * ArrayBuffer#detached): up to 4 times per call and twice per string argument. They become
 * `getInt32Memory0()[(p >>> 2) + k]` / `getFloat64Memory0()[(p >>> 3) + k]` on typed views that
 * are re-made when the memory grows (byteLength 0), like wasm-bindgen's own Uint8Array view:
 * the form older wasm-bindgen versions generated. The slots are aligned to their type by Rust's
 * layout; wasm memory is little-endian, as every JS host is. The DataView helper goes.
 */
function typedReturnSlots(src) {
  let n = 0;
  const slot = /getDataViewMemory0\(\)\.(get|set)(Int32|Float64)\((retptr|\(arg\d >>> 0\)) \+ (4|8) \* (\d)(?:, ([^,;]+))?, true\)/g;
  let out = src.replace(slot, (_, op, type, base, stride, k, value) => {
    // The slot's byte offset (stride × k) in elements of the view; a stride that is not the
    // view's element size would need another index, so it is refused rather than guessed.
    const bytes = type === 'Int32' ? 4 : 8;
    if (Number(stride) !== bytes) fail(`the glue steps ${type} slots by ${stride} bytes: update typedReturnSlots`);
    n++;
    const view = `get${type}Memory0()[(${base} >>> ${bytes === 4 ? 2 : 3}) + ${k}]`;
    return op === 'get' ? view : `${view} = ${value}`;
  });
  const helper = /let cachedDataViewMemory0 = null;\nfunction getDataViewMemory0\(\) \{\n[\s\S]*?\n\}\n/;
  const anchor = 'function getUint8ArrayMemory0() {';
  if (n === 0 || !helper.test(out) || !out.includes(anchor)) {
    fail('the wasm-bindgen glue uses its return slots in a form scripts/build.mjs does not know: update typedReturnSlots');
  }
  out = out.replace(helper, '');
  if (/getDataViewMemory0|DataView/.test(out)) {
    fail('the wasm-bindgen glue reads memory through a DataView in a form scripts/build.mjs does not rewrite: update typedReturnSlots');
  }
  const view = (type) =>
    `let cached${type}Memory0 = null;\nfunction get${type}Memory0() {\n` +
    `    if (cached${type}Memory0 === null || cached${type}Memory0.byteLength === 0) cached${type}Memory0 = new ${type}Array(wasm.memory.buffer);\n` +
    `    return cached${type}Memory0;\n}\n`;
  return out.replace(anchor, view('Int32') + view('Float64') + anchor);
}
const glue = path.join(WORK, 'campus_voip_bg.js');
const glueFactory = path.join(WORK, 'campus_voip_glue.js');
{
  const src = typedReturnSlots(fs.readFileSync(glue, 'utf8'));
  const names = [];
  const body = src.replace(/^export (function|class|const|let) ([A-Za-z_$][\w$]*)/gm, (_, kw, name) => {
    names.push(name);
    return `${kw} ${name}`;
  });
  if (/^\s*(export|import)\b/m.test(body) || /\bimport\.meta\b/.test(body)) {
    fail('the wasm-bindgen glue has an import or export form the factory transform does not know: update scripts/build.mjs');
  }
  const probe = await esbuild.build({ entryPoints: [glue], bundle: true, write: false, format: 'esm', metafile: true, logLevel: 'silent' });
  const exported = Object.values(probe.metafile.outputs)[0].exports.slice().sort();
  if (exported.join() !== names.slice().sort().join()) {
    fail(`the glue factory would return ${names.length} names but the glue exports ${exported.length}`);
  }
  const missing = WebAssembly.Module.imports(mod).filter((i) => !names.includes(importNames[i.name]));
  if (missing.length) fail(`the glue lacks wasm imports: ${missing.map((i) => importNames[i.name] || i.name).join(', ')}`);
  const clash = Object.keys(importNames).filter((short) => names.includes(short));
  if (clash.length) fail(`short import names clash with glue exports: ${clash.join(', ')}`);
  fs.writeFileSync(
    glueFactory,
    `// Generated by scripts/build.mjs from wasm-bindgen's campus_voip_bg.js: each call returns new\n` +
      `// module state (one glue per wasm instance).\nexport default function createGlue() {\n${body}\n` +
      `return { ${names.join(', ')}, ${Object.entries(importNames).map(([short, name]) => `${short}: ${name}`).join(', ')} };\n}\n`,
  );
}
const alias = { 'campus-voip-glue': glueFactory };
// The Mini Program's glue: its TextDecoder is js/utf8.js (devices have none), so wasm-bindgen's
// workaround for Safari's TextDecoder (a new decoder every 2 GB decoded) is dead code there, and
// no Mini Program runtime has Symbol.dispose. ~0.1 KB of the plugin's budget.
const glueFactoryMp = path.join(WORK, 'campus_voip_glue_mp.js');
{
  const src = fs.readFileSync(glueFactory, 'utf8');
  const decode = /function decodeText\(bytes\) \{[\s\S]*?\n\}\n/;
  const dispose = /^if \(Symbol\.dispose\) Backend\.prototype\[Symbol\.dispose\] = Backend\.prototype\.free;\n/m;
  if (!decode.test(src) || !dispose.test(src)) fail('the glue changed: update the Mini Program glue transform in scripts/build.mjs');
  fs.writeFileSync(
    glueFactoryMp,
    src.replace(decode, 'function decodeText(bytes) {\n    return cachedTextDecoder.decode(bytes);\n}\n').replace(dispose, ''),
  );
}
const banner = `// campus-voip ${readPackageVersion()} — built ${new Date().toISOString().slice(0, 10)}; see README.md`;

step('bundling the npm package (browser ESM, Node ESM, Node CommonJS; the same for /slim)');
rmrf(NPM);
fs.mkdirSync(NPM, { recursive: true });
const common = { bundle: true, alias, logLevel: 'warning', banner: { js: banner }, legalComments: 'none' };
// One row per file: [entry, output, format, platform]. Browser files target es2020; Node files
// node18; the CommonJS default entry also gets import.meta.url from
// __filename. campus-voip/slim (the host hands the wasm to initWasm()) names no wasm file, so
// bundlers that cannot emit it (esbuild, Rollup) have nothing to miss.
const NPM_BUNDLES = [
  ['browser.js', 'index.mjs', 'esm', 'browser'],
  ['node.js', 'node.mjs', 'esm', 'node'],
  ['node.js', 'node.cjs', 'cjs', 'node'],
  ['slim-browser.js', 'slim.mjs', 'esm', 'browser'],
  ['slim-node.js', 'slim-node.mjs', 'esm', 'node'],
  ['slim-node.js', 'slim-node.cjs', 'cjs', 'node'],
];
for (const [entry, out, format, platform] of NPM_BUNDLES) {
  const node = platform === 'node';
  const cjsUrl = entry === 'node.js' && format === 'cjs';
  await esbuild.build({
    ...common,
    entryPoints: [path.join(ROOT, 'js/entry', entry)],
    outfile: path.join(NPM, out),
    format,
    platform,
    target: node ? 'node18' : 'es2020',
    ...(cjsUrl ? { define: { 'import.meta.url': '__campus_voip_module_url' } } : {}),
    // Node decodes with its own TextDecoder: on Node 20 it beats Buffer#toString for the core's
    // short strings (84 against 160 ns for 20 bytes, 317 against 388 ns for 60 bytes of CJK).
    ...(cjsUrl ? { inject: [path.join(ROOT, 'js/hosts/node-cjs-url.js')] } : {}),
  });
}
for (const f of ['slim.mjs', 'slim-node.mjs', 'slim-node.cjs']) {
  if (/import\.meta|new URL\(\s*['"]\.\/campus_voip_bg/.test(fs.readFileSync(path.join(NPM, f), 'utf8'))) {
    fail(`npm/${f} refers to the wasm file; /slim must not`);
  }
}
fs.copyFileSync(optWasm, path.join(NPM, 'campus_voip_bg.wasm'));
// The same declarations for require (index.d.ts) and import (index.d.mts) consumers.
fs.copyFileSync(path.join(ROOT, 'pkg-template/npm/index.d.ts'), path.join(NPM, 'index.d.ts'));
fs.copyFileSync(path.join(ROOT, 'pkg-template/npm/index.d.ts'), path.join(NPM, 'index.d.mts'));
// /slim's declarations re-export those of the main entry: ./index.js (index.d.ts) for require,
// ./index.mjs (index.d.mts) for import.
const slimTypes = fs.readFileSync(path.join(ROOT, 'pkg-template/npm/slim.d.ts'), 'utf8');
if (!slimTypes.includes("from './index.js'")) fail("pkg-template/npm/slim.d.ts must re-export from './index.js'");
fs.writeFileSync(path.join(NPM, 'slim.d.ts'), slimTypes);
fs.writeFileSync(path.join(NPM, 'slim.d.mts'), slimTypes.replaceAll("from './index.js'", "from './index.mjs'"));
fs.copyFileSync(path.join(ROOT, 'pkg-template/npm/README.md'), path.join(NPM, 'README.md'));
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'pkg-template/npm/package.json'), 'utf8'));
pkg.version = readPackageVersion();
fs.writeFileSync(path.join(NPM, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');

step('assembling the Mini Program plugin project');
rmrf(MP);
copyDir(path.join(ROOT, 'pkg-template/miniprogram-plugin'), MP);
// The plugin's pages and components ship minified, as index.js does: every byte of plugin/ counts
// against the budget (comments alone were a fifth of their JS). Their readable source is
// pkg-template/miniprogram-plugin/plugin/; what runs is what tests/simulate and tests/miniprogram
// test. JS: esbuild (es2017 like index.js: old iOS JavaScriptCore), CommonJS kept as it is
// (require, Page, Component stay free names). WXML: comments dropped. WXSS: comments dropped.
for (const file of listFiles(path.join(MP, 'plugin'))) {
  if (file === path.join(MP, 'plugin', 'index.js')) continue;
  const text = fs.readFileSync(file, 'utf8');
  let out = text;
  if (file.endsWith('.js')) {
    out = (await esbuild.transform(text, { loader: 'js', target: 'es2017', minify: true, legalComments: 'none' })).code;
  } else if (file.endsWith('.wxml')) {
    out = text.replace(/<!--[\s\S]*?-->[ \t]*\n?/g, '');
  } else if (file.endsWith('.wxss')) {
    out = text.replace(/\/\*[\s\S]*?\*\/[ \t]*\n?/g, '');
  }
  if (out !== text) fs.writeFileSync(file, out);
}
await esbuild.build({
  ...common,
  alias: { 'campus-voip-glue': glueFactoryMp },
  entryPoints: [path.join(ROOT, 'js/entry/wx.js')],
  outfile: path.join(MP, 'plugin/index.js'),
  format: 'cjs',
  platform: 'neutral',
  // Old iOS JavaScriptCore: no optional chaining, no ?? in the shipped code.
  target: 'es2017',
  minify: true,
  // The shim's own underscore members (`_settings`, `_hear`, …) are private to this one bundle:
  // short names save ~0.5 KB. Kept: those the plugin's pages and components call
  // (pkg-template/miniprogram-plugin/plugin/) and tests/simulate reaches for.
  mangleProps: /^_[a-z]/,
  reserveProps: /^_(callPageLoaded|finishInspection|emit)$/,
  // Devices have no TextEncoder/TextDecoder: the glue gets module-scoped ones.
  inject: [path.join(ROOT, 'js/utf8.js')],
});
fs.mkdirSync(path.join(MP, 'plugin/wasm'), { recursive: true });
fs.writeFileSync(
  path.join(MP, 'plugin/wasm/campus_voip_bg.wasm.br'),
  zlib.brotliCompressSync(wasmBytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }),
);

// ---- 3. guards -------------------------------------------------------------------------------
step('checking shipped plugin code for constructs that fail on devices');
const pluginJs = listFiles(path.join(MP, 'plugin')).filter((f) => f.endsWith('.js'));
const violations = [];
for (const file of pluginJs) {
  for (const name of forbiddenIn(fs.readFileSync(file, 'utf8'))) violations.push(`${path.relative(DIST, file)}: ${name}`);
}
if (violations.length) fail(`forbidden constructs in plugin code:\n  ${violations.join('\n  ')}`);

// ---- 4. size report and budget -----------------------------------------------------------------
step('size report');
const gz = (b) => zlib.gzipSync(b, { level: 9 }).length;
const br = (b) => zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
const rows = [];
rows.push(['wasm (shipped, all hosts)', wasmBytes.length, gz(wasmBytes), br(wasmBytes)]);
const pluginFiles = listFiles(path.join(MP, 'plugin'));
let pluginCompressed = 0;
for (const f of pluginFiles) {
  const b = fs.readFileSync(f);
  const isBr = f.endsWith('.br');
  const c = isBr ? b.length : br(b);
  pluginCompressed += c;
  if (!isBr) rows.push([`plugin/${path.relative(path.join(MP, 'plugin'), f)}`, b.length, gz(b), c]);
}
for (const f of ['index.mjs', 'node.mjs', 'node.cjs', 'slim.mjs', 'slim-node.mjs', 'slim-node.cjs']) {
  const b = fs.readFileSync(path.join(NPM, f));
  rows.push([`npm/${f}`, b.length, gz(b), br(b)]);
}
const kb = (n) => (n / 1024).toFixed(1).padStart(7) + ' KB';
console.log(`\n  ${'file'.padEnd(48)}${'raw'.padStart(11)}${'gzip'.padStart(11)}${'brotli'.padStart(11)}`);
for (const [name, raw, g, b] of rows) console.log(`  ${name.padEnd(48)}${kb(raw)}${kb(g)}${kb(b)}`);
const wasmBrotli = rows[0][3];
console.log(
  `\n  wasm (brotli): ${wasmBrotli} B of ${BUDGET_WASM_BROTLI} B budget (${BUDGET_WASM_BROTLI - wasmBrotli} B left)` +
    `\n  whole plugin (plugin/, brotli per file): ${kb(pluginCompressed).trim()} of ${kb(BUDGET_PLUGIN_BYTES).trim()} budget\n`,
);
fs.writeFileSync(
  path.join(DIST, 'size-report.json'),
  JSON.stringify({ rows, pluginCompressed, budget: BUDGET_PLUGIN_BYTES, wasmBrotli, wasmBudget: BUDGET_WASM_BROTLI }, null, 2) + '\n',
);
if (wasmBrotli > BUDGET_WASM_BROTLI) {
  fail(`the wasm is ${wasmBrotli} bytes brotli, over the ${BUDGET_WASM_BROTLI}-byte budget`);
}
if (pluginCompressed > BUDGET_PLUGIN_BYTES) {
  fail(`the plugin is ${pluginCompressed} bytes compressed, over the ${BUDGET_PLUGIN_BYTES}-byte budget`);
}
step('done: dist/npm and dist/miniprogram-plugin');

function listFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? listFiles(p) : [p];
  });
}

function readPackageVersion() {
  const m = /^version = "([^"]+)"/m.exec(fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8'));
  return m ? m[1] : '0.0.0';
}

/**
 * Renames the function imports of the wasm at `file` to `a`, `b`, … `Z`, `ba`, … (in place);
 * returns { short: original }. Only the import section changes (names are not referenced
 * anywhere else in a module).
 */
function shortenImportNames(file) {
  const b = fs.readFileSync(file);
  const leb = (buf, i) => {
    let n = 0;
    let shift = 0;
    let x;
    do {
      x = buf[i++];
      n += (x & 127) * 2 ** shift;
      shift += 7;
    } while (x & 128);
    return [n, i];
  };
  const uleb = (n) => {
    const out = [];
    do {
      let x = n & 127;
      n = Math.floor(n / 128);
      if (n) x |= 128;
      out.push(x);
    } while (n);
    return Buffer.from(out);
  };
  const name = (s) => Buffer.concat([uleb(Buffer.byteLength(s)), Buffer.from(s)]);
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const short = (n) => (n < letters.length ? '' : short(Math.floor(n / letters.length) - 1)) + letters[n % letters.length];
  const map = {};
  const out = [b.subarray(0, 8)];
  let i = 8;
  while (i < b.length) {
    const id = b[i];
    const [len, start] = leb(b, i + 1);
    const end = start + len;
    if (id !== 2) {
      out.push(b.subarray(i, end));
    } else {
      let [count, k] = leb(b, start);
      const parts = [uleb(count)];
      for (let c = 0; c < count; c++) {
        const [moduleLen, m] = leb(b, k);
        const moduleName = b.subarray(m, m + moduleLen);
        const [fieldLen, f] = leb(b, m + moduleLen);
        const field = b.subarray(f, f + fieldLen).toString();
        k = f + fieldLen;
        if (b[k] !== 0) fail(`wasm import ${field} is not a function: shortenImportNames handles functions only`);
        const [type, next] = leb(b, k + 1);
        k = next;
        map[short(c)] = field;
        parts.push(uleb(moduleLen), moduleName, name(short(c)), Buffer.from([0]), uleb(type));
      }
      if (k !== end) fail('unexpected wasm import section layout');
      const body = Buffer.concat(parts);
      out.push(Buffer.from([2]), uleb(body.length), body);
    }
    i = end;
  }
  const renamed = Buffer.concat(out);
  new WebAssembly.Module(renamed); // still valid
  fs.writeFileSync(file, renamed);
  return map;
}
