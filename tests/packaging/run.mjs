#!/usr/bin/env node
// The packaging matrix (in the style of automerge's packaging_tests): `npm pack` dist/npm, install
// the tarball into a fresh scratch project per consumer (off-line: the package has no
// dependencies; the toolchains are symlinked in from tools/packaging/node_modules, installed by
// scripts/bootstrap.sh from its lockfile), build it with that consumer's recipe from the README
// section "Using the package in your toolchain" (the code blocks marked `<!-- recipe: … -->` are
// written into the projects verbatim), and run the README Usage example: in headless Chromium
// (playwright-core, Debian's /usr/bin/chromium) for the bundlers and the import-map page, in Node
// for Node, in the Mini Program sandbox for the plugin project. The broken cases (a 404, an HTML
// answer, bytes that are not wasm) must give the loadWasm:fail error naming the fix.
//
// Run after a build, from the repository root:  node tests/packaging/run.mjs
// ONLY=vite,esbuild runs the consumers whose name contains one of the words; KEEP_TMP=1 keeps the
// scratch folder.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIST = path.join(ROOT, 'dist', 'npm');
const MP_PLUGIN = path.join(ROOT, 'dist', 'miniprogram-plugin', 'plugin');
const TOOLS = path.join(ROOT, 'tools', 'packaging', 'node_modules');
const PW = path.join(ROOT, 'tools', 'node_modules', 'playwright-core', 'index.mjs');
const TSC = path.join(ROOT, 'tools', 'node_modules', 'typescript', 'bin', 'tsc');
const FIXTURES = path.join(ROOT, 'tests', 'packaging', 'fixtures');
const CHROMIUM = '/usr/bin/chromium';
const PAGE_TIMEOUT = 30_000;
const started = Date.now();
const secs = (t0 = started) => ((Date.now() - t0) / 1000).toFixed(1) + ' s';

function die(msg) {
  console.error(`\x1b[31mpackaging: ${msg}\x1b[0m`);
  process.exit(1);
}
if (!fs.existsSync(path.join(DIST, 'slim.mjs'))) die('dist/npm/ is missing or old: run `node scripts/build.mjs` first');
if (!fs.existsSync(path.join(TOOLS, 'vite7'))) die('tools/packaging/node_modules is missing: run scripts/bootstrap.sh first');
if (!fs.existsSync(PW)) die('tools/node_modules/playwright-core is missing: run scripts/bootstrap.sh first');
if (!fs.existsSync(CHROMIUM)) die(`${CHROMIUM} is missing (apt-get install -y chromium)`);

// ---- the README: the Usage example and the recipes ---------------------------------------------
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const USAGE = /## Usage\n[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)[1];
const sectionStart = readme.indexOf('## Using the package in your toolchain');
if (sectionStart < 0) die('README.md has no "## Using the package in your toolchain" section');
const sectionEnd = readme.indexOf('\n## ', sectionStart + 3);
const SECTION = readme.slice(sectionStart, sectionEnd < 0 ? undefined : sectionEnd);
const RECIPES = {};
for (const m of SECTION.matchAll(/<!-- recipe: (\S+) -->\n```[a-z]*\n([\s\S]*?)```/g)) RECIPES[m[1]] = m[2];
function recipe(key) {
  if (!(key in RECIPES)) throw new Error(`the README section has no recipe "${key}" (known: ${Object.keys(RECIPES).join(', ')})`);
  return RECIPES[key];
}
/** The Usage example on /slim: its imports from 'campus-voip' read 'campus-voip/slim'. */
const slimUsage = () => USAGE.replaceAll("from 'campus-voip';", "from 'campus-voip/slim';");

// ---- scratch projects ---------------------------------------------------------------------------
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-voip-packaging-'));
let tarball;

function sh(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts }, (err, stdout, stderr) => {
      if (err) {
        err.message += `\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
        reject(err);
      } else resolve({ stdout, stderr });
    });
  });
}

/**
 * A fresh project: package.json, the packed tarball installed off-line, the toolchains linked in
 * from tools/packaging (name in the project → folder in tools/packaging/node_modules), with their
 * bin links.
 */
async function project(name, { tools = {}, files = {} } = {}) {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }, null, 2));
  await sh('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: dir });
  const nm = path.join(dir, 'node_modules');
  fs.mkdirSync(path.join(nm, '.bin'), { recursive: true });
  for (const [as, from] of Object.entries(tools)) {
    const target = path.join(TOOLS, from);
    fs.mkdirSync(path.dirname(path.join(nm, as)), { recursive: true });
    fs.symlinkSync(target, path.join(nm, as), 'dir');
    const pkg = JSON.parse(fs.readFileSync(path.join(target, 'package.json'), 'utf8'));
    const bins = typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : pkg.bin || {};
    for (const [bin, file] of Object.entries(bins)) {
      const link = path.join(nm, '.bin', bin);
      if (!fs.existsSync(link)) fs.symlinkSync(path.join(target, file), link);
    }
  }
  write(dir, files);
  return dir;
}

function write(dir, files) {
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
}

/** Runs a recipe's shell lines in the project, with its node_modules/.bin first on PATH. */
function shell(dir, script) {
  return sh('sh', ['-ec', script], { cwd: dir, env: { ...process.env, PATH: path.join(dir, 'node_modules', '.bin') + path.delimiter + process.env.PATH } });
}

const page = (script, { module = true } = {}) =>
  `<!doctype html>\n<meta charset="utf-8">\n<link rel="icon" href="data:,">\n<title>campus-voip</title>\n` +
  `<script ${module ? 'type="module" ' : ''}src="${script}"></script>\n`;

// ---- a static server ----------------------------------------------------------------------------
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };

/**
 * Serves `root`. `fallback`: answer index.html for a file it does not have (as single-page-app
 * servers do); `wasmType`: the content type of .wasm files.
 */
function serve(root, { fallback = false, wasmType = 'application/wasm' } = {}) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let file = path.join(root, decodeURIComponent(url.pathname));
    if (file.endsWith(path.sep)) file = path.join(file, 'index.html');
    const inside = file.startsWith(path.resolve(root) + path.sep);
    if (!inside || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      if (fallback && inside) file = path.join(root, 'index.html');
      else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
        return;
      }
    }
    const ext = path.extname(file);
    res.writeHead(200, { 'content-type': ext === '.wasm' ? wasmType : TYPES[ext] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => server.close(r)) })),
  );
}

// ---- the browser --------------------------------------------------------------------------------
let browser;
async function getBrowser() {
  if (!browser) {
    const { chromium } = await import(pathToFileURL(PW).href);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  }
  return browser;
}

/**
 * Opens `url` and collects console lines until the example printed its last line ('true
 * duration'), an error entry printed 'ERROR …' or 'LOADED', or the page failed.
 */
async function runPage(url) {
  const b = await getBrowser();
  const context = await b.newContext();
  const p = await context.newPage();
  const logs = [];
  const problems = [];
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  p.on('console', (m) => {
    const text = m.text();
    logs.push(text);
    if (m.type() === 'error' && !/Failed to load resource/.test(text)) problems.push('console.error: ' + text);
    if (/^true duration$/.test(text) || /^(ERROR |LOADED)/.test(text)) done();
  });
  p.on('pageerror', (e) => {
    problems.push('page error: ' + e.message);
    done();
  });
  p.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  p.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure() && r.failure().errorText})`));
  try {
    await p.goto(url);
    const timer = new Promise((resolve) => setTimeout(() => resolve('timeout'), PAGE_TIMEOUT));
    if ((await Promise.race([finished, timer])) === 'timeout') problems.push(`no result within ${PAGE_TIMEOUT / 1000} s`);
    // Let a late problem (a second failing request, a reload) show.
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    await context.close();
  }
  return { logs, problems };
}

function expectExample({ logs, problems }, what) {
  if (problems.length) throw new Error(`${what}: ${problems.join('; ')}\n  console: ${logs.join(' | ')}`);
  if (!logs.some((l) => /success/.test(l))) throw new Error(`${what}: the second parent did not bind; console: ${logs.join(' | ')}`);
  if (!logs.includes('true duration')) throw new Error(`${what}: the call was not admitted; console: ${logs.join(' | ')}`);
}

/** The error entry's report: a loadWasm:fail VoipPluginError whose errMsg matches every pattern. */
function expectLoadError({ logs }, patterns, what) {
  const line = logs.find((l) => l.startsWith('ERROR '));
  if (!line) throw new Error(`${what}: expected a load error; console: ${logs.join(' | ')}`);
  const e = JSON.parse(line.slice(6));
  const bad = [];
  if (e.name !== 'VoipPluginError' || e.errCode !== 1011 || e.code !== 'NOT_SUPPORTED') bad.push('not a VoipPluginError 1011 NOT_SUPPORTED');
  for (const re of [/^loadWasm:fail /, ...patterns]) if (!re.test(e.errMsg)) bad.push(`errMsg does not match ${re}`);
  if (bad.length) throw new Error(`${what}: ${bad.join('; ')}\n  error: ${line}`);
  return e.errMsg;
}

function freePort() {
  return new Promise((resolve) => {
    const s = http.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A Vite dev server on the project (its own vite.config.js if there is one), for `fn(url)`. */
async function withViteDev(dir, fn) {
  const vite = await import(pathToFileURL(path.join(dir, 'node_modules', 'vite', 'dist', 'node', 'index.js')).href);
  const config = path.join(dir, 'vite.config.js');
  const server = await vite.createServer({
    root: dir,
    configFile: fs.existsSync(config) ? config : false,
    logLevel: 'error',
    clearScreen: false,
    server: { host: '127.0.0.1', port: await freePort(), strictPort: true },
  });
  await server.listen();
  try {
    const { port } = server.httpServer.address();
    return await fn(`http://127.0.0.1:${port}/`);
  } finally {
    await server.close();
  }
}

async function servePage(root, opts, fn) {
  const s = await serve(root, opts);
  try {
    return await fn(s.url);
  } finally {
    await s.close();
  }
}

// ---- the consumers ------------------------------------------------------------------------------
const ERROR_ENTRY = fs.readFileSync(path.join(FIXTURES, 'error-entry.js'), 'utf8');
const VITE_BUILD = 'vite build --logLevel error';

const consumers = [
  {
    name: 'Vite 8 (current): build and dev server',
    recipe: 'nothing to configure',
    async run(step) {
      const dir = await project('vite8', { tools: { vite: 'vite' }, files: { 'index.html': page('/src/main.js'), 'src/main.js': USAGE } });
      await shell(dir, VITE_BUILD);
      expectExample(await servePage(path.join(dir, 'dist'), {}, runPage), 'vite build');
      step('build: the example runs');
      expectExample(await withViteDev(dir, runPage), 'vite dev server');
      step('dev server: the example runs');
    },
  },
  {
    name: 'Vite 8 (current) with /slim and ?url: build',
    recipe: 'vite-slim/init.js',
    async run(step) {
      const dir = await project('vite8-slim', {
        tools: { vite: 'vite' },
        files: { 'index.html': page('/src/main.js'), 'src/init.js': recipe('vite-slim/init.js'), 'src/main.js': "import './init.js';\n" + slimUsage() },
      });
      await shell(dir, VITE_BUILD);
      expectExample(await servePage(path.join(dir, 'dist'), {}, runPage), 'vite build, /slim');
      step('build: the example runs');
    },
  },
  {
    name: 'Vite 7 (previous major): dev server and build',
    recipe: 'vite7/vite.config.js (dev server)',
    async run(step) {
      const dir = await project('vite7', {
        tools: { vite: 'vite7' },
        files: { 'index.html': page('/src/main.js'), 'src/main.js': ERROR_ENTRY },
      });
      const msg = await withViteDev(dir, async (url) =>
        expectLoadError(await runPage(url), [/\/node_modules\/\.vite\/deps\/campus_voip_bg\.wasm/, /an HTML page/, /optimizeDeps: \{ exclude: \['campus-voip'\] \}/], 'vite 7 dev, no config'),
      );
      step(`without the recipe, the clear error: "${msg.slice(0, 110)}…"`);
      write(dir, { 'src/main.js': USAGE, 'vite.config.js': recipe('vite7/vite.config.js') });
      expectExample(await withViteDev(dir, runPage), 'vite 7 dev server with optimizeDeps.exclude');
      step('dev server with the recipe: the example runs');
      fs.rmSync(path.join(dir, 'vite.config.js'));
      await shell(dir, VITE_BUILD);
      expectExample(await servePage(path.join(dir, 'dist'), {}, runPage), 'vite 7 build');
      step('build (no config): the example runs');
    },
  },
  {
    name: 'Vite 7 (previous major) with /slim and ?url: dev server',
    recipe: 'vite-slim/init.js',
    async run(step) {
      const dir = await project('vite7-slim', {
        tools: { vite: 'vite7' },
        files: { 'index.html': page('/src/main.js'), 'src/init.js': recipe('vite-slim/init.js'), 'src/main.js': "import './init.js';\n" + slimUsage() },
      });
      expectExample(await withViteDev(dir, runPage), 'vite 7 dev server, /slim');
      step('dev server (no config): the example runs');
    },
  },
  {
    name: 'webpack 5',
    recipe: 'nothing to configure',
    async run(step) {
      const dir = await project('webpack5', { tools: { webpack: 'webpack' }, files: { 'src/index.js': USAGE } });
      const webpack = createRequire(path.join(dir, 'package.json'))('webpack');
      // webpack's defaults: ./src/index.js → dist/main.js (what `npx webpack` does in the
      // project with no config).
      const config = { mode: 'production', context: dir, output: { path: path.join(dir, 'dist') } };
      const stats = await new Promise((resolve, reject) =>
        webpack(config, (err, s) => (err ? reject(err) : resolve(s))),
      );
      if (stats.hasErrors()) throw new Error(stats.toString({ all: false, errors: true }));
      const emitted = fs.readdirSync(path.join(dir, 'dist'));
      if (!emitted.some((f) => f.endsWith('.wasm'))) throw new Error('webpack emitted no wasm: ' + emitted.join(', '));
      write(dir, { 'dist/index.html': page('main.js', { module: false }) });
      expectExample(await servePage(path.join(dir, 'dist'), {}, runPage), 'webpack 5');
      step(`build: the example runs (emitted ${emitted.join(', ')})`);
    },
  },
  {
    name: 'esbuild: copy the wasm next to the bundle',
    recipe: 'esbuild/build.sh',
    async run(step) {
      const dir = await project('esbuild', { tools: { esbuild: 'esbuild' }, files: { 'src/main.js': ERROR_ENTRY, 'dist/index.html': page('main.js') } });
      const [bundle] = recipe('esbuild/build.sh').trim().split('\n');
      await shell(dir, bundle);
      const msg = await servePage(path.join(dir, 'dist'), {}, async (url) =>
        expectLoadError(await runPage(url), [/campus_voip_bg\.wasm answered 404/, /copy node_modules\/campus-voip\/campus_voip_bg\.wasm next to the bundled script/, /campus-voip\/slim/], 'esbuild, no copy'),
      );
      step(`without the copy, the clear error: "${msg.slice(0, 110)}…"`);
      write(dir, { 'src/main.js': USAGE });
      await shell(dir, recipe('esbuild/build.sh'));
      expectExample(await servePage(path.join(dir, 'dist'), {}, runPage), 'esbuild + copy');
      step('with the recipe: the example runs');
    },
  },
  {
    name: 'esbuild: /slim with the file loader',
    recipe: 'esbuild-slim/init.js',
    async run(step) {
      if (!SECTION.includes('--loader:.wasm=file')) throw new Error('the README section does not name --loader:.wasm=file');
      const dir = await project('esbuild-slim', {
        tools: { esbuild: 'esbuild' },
        files: { 'src/init.js': recipe('esbuild-slim/init.js'), 'src/main.js': "import './init.js';\n" + slimUsage(), 'dist/index.html': page('main.js') },
      });
      const [bundle] = recipe('esbuild/build.sh').trim().split('\n');
      await shell(dir, bundle + ' --loader:.wasm=file');
      expectExample(await servePage(path.join(dir, 'dist'), {}, runPage), 'esbuild, /slim + file loader');
      step('the example runs');
    },
  },
  {
    name: 'Rollup + @rollup/plugin-node-resolve',
    recipe: 'rollup/rollup.config.mjs',
    async run(step) {
      const dir = await project('rollup', {
        tools: { rollup: 'rollup', '@rollup/plugin-node-resolve': '@rollup/plugin-node-resolve' },
        files: { 'src/main.js': USAGE, 'rollup.config.mjs': recipe('rollup/rollup.config.mjs') },
      });
      await shell(dir, 'rollup -c --silent');
      write(dir, { 'dist/index.html': page('main.js') });
      expectExample(await servePage(path.join(dir, 'dist'), {}, runPage), 'rollup');
      step('the example runs');
    },
  },
  {
    name: 'import map page (no bundler)',
    recipe: 'importmap/index.html',
    async run(step) {
      const dir = await project('importmap', { files: { 'index.html': recipe('importmap/index.html'), 'main.js': USAGE } });
      expectExample(await servePage(dir, {}, runPage), 'import map');
      step('the example runs (wasm served as application/wasm: streaming compile)');
      expectExample(await servePage(dir, { wasmType: 'application/octet-stream' }, runPage), 'import map, octet-stream');
      step('the example runs (wasm served as application/octet-stream: compiled from the bytes)');
      // The package's code without its wasm, behind a server that answers index.html for files it
      // does not have: the error names the HTML answer.
      fs.mkdirSync(path.join(dir, 'lib'));
      fs.copyFileSync(path.join(dir, 'node_modules/campus-voip/index.mjs'), path.join(dir, 'lib/index.mjs'));
      write(dir, {
        'index.html': recipe('importmap/index.html').replace('/node_modules/campus-voip/index.mjs', '/lib/index.mjs'),
        'main.js': ERROR_ENTRY,
      });
      const msg = await servePage(dir, { fallback: true }, async (url) =>
        expectLoadError(await runPage(url), [/lib\/campus_voip_bg\.wasm \(content-type text\/html/, /starts with 3c /, /an HTML page/, /Fix: /], 'import map, HTML answer'),
      );
      step(`an HTML answer instead of the wasm gives: "${msg.slice(0, 110)}…"`);
    },
  },
  {
    name: 'Node: ESM and CommonJS, default entry and /slim',
    recipe: 'nothing to configure',
    async run(step) {
      const dir = await project('node', {
        files: {
          'example.mjs': USAGE,
          'slim.mjs': fs.readFileSync(path.join(FIXTURES, 'node-slim.mjs'), 'utf8'),
          'cjs.cjs': fs.readFileSync(path.join(FIXTURES, 'node-cjs.cjs'), 'utf8'),
        },
      });
      const { stdout } = await sh(process.execPath, ['example.mjs'], { cwd: dir });
      if (!/success/.test(stdout) || !/^true duration$/m.test(stdout)) throw new Error('the example printed:\n' + stdout);
      step('import: the example runs');
      step((await sh(process.execPath, ['cjs.cjs'], { cwd: dir })).stdout.trim());
      const slim = await sh(process.execPath, ['slim.mjs'], { cwd: dir });
      step(`/slim: ${slim.stdout.trim().split('\n').length} cases pass (sources and errors)`);
    },
  },
  {
    name: 'TypeScript (tsc): bundler and nodenext resolution, default entry and /slim',
    recipe: 'nothing to configure',
    async run(step) {
      const dir = await project('tsc', {
        files: {
          'bundler/tsconfig.json': JSON.stringify({
            compilerOptions: { module: 'esnext', moduleResolution: 'bundler', target: 'es2022', strict: true, noEmit: true, lib: ['es2022', 'dom'], types: [] },
            include: ['*.ts'],
          }),
          'bundler/app.ts': `import wmpfVoip, { createLocalBackend, type LocalBackend } from 'campus-voip';
import * as slim from 'campus-voip/slim';
import { initWasm, type WasmSource } from 'campus-voip/slim';
const ok: Promise<{ errCode: 0 }> = wmpfVoip.authorizeVoip();
const b: Promise<LocalBackend> = createLocalBackend();
const s: Promise<LocalBackend> = slim.createLocalBackend();
const sources: WasmSource[] = [
  '/campus_voip_bg.wasm', new URL('campus_voip_bg.wasm', import.meta.url), fetch('/x.wasm'), new Uint8Array(8), new ArrayBuffer(8),
];
export async function init(res: Response, mod: WebAssembly.Module): Promise<void> {
  await initWasm(res);
  await initWasm(mod);
  await initWasm(await WebAssembly.compileStreaming(fetch('/x.wasm')));
  // @ts-expect-error a number is not a wasm source
  await initWasm(42);
  const same: typeof wmpfVoip = slim.default;
  return void same;
}
export { ok, b, s, sources };
`,
          'nodenext/tsconfig.json': JSON.stringify({
            compilerOptions: { module: 'nodenext', strict: true, noEmit: true, lib: ['es2020'], types: [] },
            include: ['*.mts', '*.cts'],
          }),
          'nodenext/esm.mts': `import { initWasm, createLocalBackend, type LocalBackend } from 'campus-voip/slim';
export const ready: Promise<void> = initWasm('./node_modules/campus-voip/campus_voip_bg.wasm');
export const b: Promise<LocalBackend> = createLocalBackend();
`,
          'nodenext/cjs.cts': `import slim = require('campus-voip/slim');
import campusVoip = require('campus-voip');
export const ready: Promise<void> = slim.initWasm(new Uint8Array(0));
export const ok: Promise<{ errCode: 0 }> = campusVoip.default.authorizeVoip();
`,
        },
      });
      await sh(process.execPath, [TSC, '-p', 'bundler'], { cwd: dir });
      step('moduleResolution bundler (with the DOM lib): both entries typed, initWasm sources checked');
      await sh(process.execPath, [TSC, '-p', 'nodenext'], { cwd: dir });
      step('module nodenext (no DOM lib): import and require of /slim typed');
    },
  },
  {
    name: 'Mini Program: the plugin project in the WeChat-like sandbox',
    recipe: 'miniprogram/app.json, voip-export.js, page.js',
    async run(step) {
      const { createSandbox, createDeviceStorage } = await import(pathToFileURL(path.join(ROOT, 'tests', 'miniprogram', 'sandbox.mjs')).href);
      const appJson = JSON.parse(recipe('miniprogram/app.json'));
      const [alias, decl] = Object.entries(appJson.plugins)[0];
      const pageCode = recipe('miniprogram/page.js');
      if (!pageCode.includes(`requirePlugin('${alias}')`)) throw new Error(`page.js does not requirePlugin('${alias}')`);
      if (decl.export !== 'voip-export.js') throw new Error('app.json exports ' + decl.export + ', the recipe file is voip-export.js');
      // The host's export file, as the framework evaluates it.
      const hostModule = { exports: {} };
      vm.runInNewContext(`(function (module, exports) {${recipe('miniprogram/voip-export.js')}\n})`)(hostModule, hostModule.exports);
      const sb = createSandbox({ pluginRoot: MP_PLUGIN, storage: createDeviceStorage(), hostExport: hostModule.exports, label: 'recipe' });
      const lines = [];
      const plugin = sb.require('index.js');
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('page.js printed nothing within 10 s')), 10_000);
        const log = (...a) => {
          lines.push(a.join(' '));
          clearTimeout(timer);
          resolve();
        };
        sb.eval(`(function (requirePlugin, console) {${pageCode}\n})`)(
          (name) => {
            if (name !== alias) throw new Error('requirePlugin: no plugin ' + name);
            return plugin;
          },
          { log, error: (...a) => reject(new Error(a.join(' '))) },
        );
      });
      if (lines[0] !== 'student-1 1') throw new Error('page.js printed ' + JSON.stringify(lines));
      if (sb.WXWebAssembly.__log.instantiations.length !== 1) throw new Error('expected one WXWebAssembly.instantiate');
      step(`requirePlugin('${alias}').default from voipConfig: printed "${lines[0]}" (WXWebAssembly ${sb.WXWebAssembly.__log.instantiations[0]})`);
    },
  },
];

// ---- run ------------------------------------------------------------------------------------------
const only = (process.env.ONLY || '')
  .split(',')
  .map((s) => s.trim().toLowerCase())
  .filter(Boolean);
const selected = consumers.filter((c) => !only.length || only.some((w) => c.name.toLowerCase().includes(w)));
const results = [];
try {
  const packed = JSON.parse((await sh('npm', ['pack', DIST, '--json', '--pack-destination', scratch], { cwd: scratch })).stdout);
  tarball = path.join(scratch, packed[0].filename);
  console.log(`\x1b[1mpackaging:\x1b[0m ${packed[0].filename} (${(packed[0].size / 1024).toFixed(1)} KB); ${selected.length} consumers (${secs()})`);
  for (const c of selected) {
    const t0 = Date.now();
    console.log(`\x1b[1m▸ ${c.name}\x1b[0m  [recipe: ${c.recipe}]`);
    try {
      await c.run((msg) => console.log(`    \x1b[32m✓\x1b[0m ${msg} (${secs(t0)})`));
      results.push({ name: c.name, ok: true, t: secs(t0) });
    } catch (e) {
      console.log(`    \x1b[31m✗ ${String(e && e.stack ? e.stack : e).split('\n').slice(0, 20).join('\n      ')}\x1b[0m`);
      results.push({ name: c.name, ok: false, t: secs(t0) });
    }
  }
} finally {
  if (browser) await browser.close();
  if (process.env.KEEP_TMP) console.log(`packaging: scratch projects kept in ${scratch}`);
  else fs.rmSync(scratch, { recursive: true, force: true });
}
const failed = results.filter((r) => !r.ok);
console.log('');
for (const r of results) console.log(`  ${r.ok ? '\x1b[32mpass\x1b[0m' : '\x1b[31mFAIL\x1b[0m'}  ${r.name.padEnd(80)} ${r.t}`);
if (failed.length) {
  console.log(`\n\x1b[31mpackaging: ${failed.length} of ${results.length} consumers failed\x1b[0m (${secs()})`);
  process.exit(1);
}
console.log(`\n\x1b[32mpackaging: all ${results.length} consumers pass\x1b[0m (${secs()})`);
// The dev servers' helpers (esbuild services, file watchers) may keep the process alive a while.
process.exit(0);
