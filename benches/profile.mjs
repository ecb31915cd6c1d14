#!/usr/bin/env node
// Where the microseconds of one trivial call go (the measurements behind benches/PROFILE.md).
//
//   node benches/profile.mjs layers   [--pkg F] [--n 200000]   ns per call, layer by layer (interleaved rounds)
//   node benches/profile.mjs count    [--pkg F]                boundary transitions per call, by import/export
//   node --cpu-prof --cpu-prof-dir=D --cpu-prof-interval 100 benches/profile.mjs loop --op OP [--n 200000]
//   node benches/profile.mjs summarize D/*.cpuprofile [--pkg F]   self time by layer and top functions
//   valgrind --tool=callgrind --smc-check=all-non-file node benches/profile.mjs loop --op OP --n N
//                                                              instructions: run with --n 0 and --n N, subtract
//
// OP: api-contactlist | glue-contactlist | pure-contactlist[-sync] | api-transfer-self | glue-transfer-self |
//     pure-transfer-self[-sync] | glue-stats | glue-checkOpenId | bare-wasm | bare-import-x100 | promise-hop
// The glue-* variants call the wasm-bindgen class behind the shim directly (backend._inner of
// today's js/local-backend.js): a diagnostic of the current design, not an API.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const mode = args[0];
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const PKG_FILE = path.resolve(opt('--pkg', path.join(HERE, '../dist/npm/node.mjs')));
const N = Number(opt('--n', 200_000));

// ---- counting every JS→wasm and wasm→JS transition (mode count) ------------------------------
const counts = { exports: new Map(), imports: new Map() };
const short = (name) => name.replace(/^__wbg_/, '').replace(/_([0-9a-f]{16})$/, (m, h) => '#' + h.slice(-4));
function countingResult(res) {
  const inst = res instanceof WebAssembly.Instance ? res : res.instance;
  const exports = {};
  for (const [k, v] of Object.entries(inst.exports)) {
    if (typeof v !== 'function') {
      exports[k] = v;
      continue;
    }
    exports[k] = function (...a) {
      counts.exports.set(k, (counts.exports.get(k) || 0) + 1);
      return v.apply(this, a);
    };
  }
  const fake = { exports };
  return res instanceof WebAssembly.Instance ? fake : { module: res.module, instance: fake };
}
function countingImports(imports) {
  const out = {};
  for (const [mod, fns] of Object.entries(imports || {})) {
    out[mod] = {};
    for (const [k, f] of Object.entries(fns)) {
      if (typeof f !== 'function') {
        out[mod][k] = f;
        continue;
      }
      const name = short(k);
      out[mod][k] = function (...a) {
        counts.imports.set(name, (counts.imports.get(name) || 0) + 1);
        return f.apply(this, a);
      };
    }
  }
  return out;
}
if (mode === 'count') {
  const real = WebAssembly.instantiate;
  WebAssembly.instantiate = async (src, imports) => countingResult(await real(src, countingImports(imports)));
  const RealInstance = WebAssembly.Instance;
  WebAssembly.Instance = new Proxy(RealInstance, {
    construct: (t, [m, imports]) => countingResult(new RealInstance(m, countingImports(imports))),
  });
}

const pkg = await import(pathToFileURL(PKG_FILE).href);
const pure = await import(pathToFileURL(path.join(HERE, 'purejs/index.mjs')).href);

// ---- fixtures ---------------------------------------------------------------------------------
async function setup(api) {
  const backend = await api.createLocalBackend({ storage: api.memoryStorage(), dev: true });
  const admin = await api.createVoipPlugin({ backend, openId: 'adm_7' });
  await admin.authorizeVoip();
  await admin.bindVoipAdminContact({ userId: 'student-7' });
  const link = await admin.getBindContactPath({ userId: 'student-7', userName: '学生 7', userAvatar: '' });
  for (const o of ['par_7_0', 'par_7_1']) {
    const p = await api.createVoipPlugin({ backend, openId: o });
    await p.authorizeVoip();
    await p.acceptBindContactPath(link);
  }
  return { backend, admin, link };
}
const A = await setup(pkg);
const B = await setup(pure);
const Q = { user_id: 'student-7' };
const T = { userId: 'student-7', newAdminOpenid: 'adm_7' };
const inner = A.backend._inner; // today's shim internals (see the header)

// An empty exported function: (module (func (export "f"))).
const bare = new WebAssembly.Instance(
  new WebAssembly.Module(
    Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 4, 1, 2, 0, 11]),
  ),
).exports.f;
// 100 wasm→JS calls of an empty JS function: (func (export "g") (param i32) (loop call $f … br_if)).
const bareImports = new WebAssembly.Instance(
  new WebAssembly.Module(
    Uint8Array.from([
      0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 2, 96, 0, 0, 96, 1, 127, 0, 2, 7, 1, 1, 109, 1, 102, 0, 0, 3, 2, 1, 1, 7, 5, 1, 1, 103, 0, 1,
      10, 18, 1, 16, 0, 3, 64, 16, 0, 32, 0, 65, 1, 107, 34, 0, 13, 0, 11, 11,
    ]),
  ),
  { m: { f: () => {} } },
).exports.g;
const resolved = { errcode: 0 };

/** Each op: [sync?, fn]. */
const OPS = {
  'bare-wasm': [true, () => bare()],
  'bare-import-x100': [true, () => bareImports(100)], // 100 empty wasm→JS calls
  'promise-hop': [false, () => Promise.resolve(resolved)],
  'glue-contactlist': [true, () => inner.getVoipContactList(Q)],
  'api-contactlist': [false, () => A.backend.getVoipContactList(Q)],
  'pure-contactlist-sync': [true, () => B.backend.contactList('getVoipContactList', Q)],
  'pure-contactlist': [false, () => B.backend.getVoipContactList(Q)],
  'glue-transfer-self': [true, () => inner.transerAdmin('adm_7', T)],
  'api-transfer-self': [false, () => A.admin.transerAdmin(T)],
  'pure-transfer-self-sync': [true, () => B.backend.transfer('transerAdmin', 'adm_7', T)],
  'pure-transfer-self': [false, () => B.admin.transerAdmin(T)],
  'glue-stats': [true, () => inner.stats()], // no argument, a 2-field result
  'glue-checkOpenId': [true, () => A.backend._core.checkOpenId('adm_7')], // one string in, one out
};

async function loop(op, n) {
  const [sync, fn] = OPS[op];
  if (sync) for (let i = 0; i < n; i++) fn();
  else for (let i = 0; i < n; i++) await fn();
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

if (mode === 'loop') {
  await loop(opt('--op', 'api-contactlist'), N);
} else if (mode === 'layers') {
  const names = Object.keys(OPS).filter((k) => {
    try {
      OPS[k][1]();
      return true;
    } catch (e) {
      console.log(`(skipping ${k}: ${e.message})`);
      return false;
    }
  });
  const rounds = Number(opt('--rounds', 7));
  const per = Math.max(1000, Math.floor(N / rounds));
  const ns = Object.fromEntries(names.map((k) => [k, []]));
  for (const k of names) await loop(k, Math.min(per, 20_000)); // warm up
  for (let r = 0; r < rounds; r++) {
    for (const k of r % 2 ? [...names].reverse() : names) {
      const t0 = process.hrtime.bigint();
      await loop(k, per);
      ns[k].push(Number(process.hrtime.bigint() - t0) / per);
    }
  }
  console.log(`ns per call, median of ${rounds} interleaved rounds × ${per} calls (Node ${process.version}):`);
  for (const k of names) console.log(`  ${k.padEnd(44)} ${median(ns[k]).toFixed(0).padStart(7)}   (min ${Math.min(...ns[k]).toFixed(0)})`);
} else if (mode === 'count') {
  const probe = {
    'getVoipContactList (developer query)': () => A.backend.getVoipContactList(Q),
    'transerAdmin to oneself': () => A.admin.transerAdmin(T),
    'getVoipBindContactList({ userId })': () => A.admin.getVoipBindContactList({ userId: 'student-7' }),
    'authorizeVoip (no change)': () => A.admin.authorizeVoip(),
    'inspectBindContactPath': () => A.admin.inspectBindContactPath(A.link),
    'getBindContactPath': () => A.admin.getBindContactPath({ userId: 'student-7', userName: '学生 7', userAvatar: '' }),
    'backend._inner.stats() (no argument)': () => inner.stats(),
    'backend._core.checkOpenId(string)': () => A.backend._core.checkOpenId('adm_7'),
  };
  const n = 1000;
  for (const [name, fn] of Object.entries(probe)) {
    try {
      await fn();
    } catch (e) {
      console.log(`${name}: skipped (${e.message})`);
      continue;
    }
    counts.exports.clear();
    counts.imports.clear();
    for (let i = 0; i < n; i++) await fn();
    const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0) / n;
    const top = (m) =>
      [...m.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${+(v / n).toFixed(2)}`)
        .join(', ');
    console.log(`${name}: ${sum(counts.exports)} JS→wasm calls, ${sum(counts.imports)} wasm→JS calls per call`);
    console.log(`  JS→wasm: ${top(counts.exports)}`);
    console.log(`  wasm→JS: ${top(counts.imports)}`);
  }
} else if (mode === 'summarize') {
  // Self time by layer: which module of the bundle a frame's line falls in (esbuild writes a
  // `// path` comment before each module), wasm, GC, the VM.
  const bundle = fs.readFileSync(PKG_FILE, 'utf8').split('\n');
  const marks = [];
  bundle.forEach((l, i) => {
    const m = /^\/\/ ((?:dist|js)\/\S+)$/.exec(l);
    if (m) marks.push([i, m[1]]);
  });
  const moduleAt = (line) => {
    let name = '?';
    for (const [i, n] of marks) if (i <= line) name = n;
    return name.replace('dist/.wasm/campus_voip_bg.js', 'wasm-bindgen glue');
  };
  for (const file of args.slice(1).filter((a) => a.endsWith('.cpuprofile'))) {
    const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
    const self = new Map();
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const parent = new Map();
    for (const n of prof.nodes) for (const c of n.children || []) parent.set(c, n.id);
    // Only what runs under the benchmark loop (start-up and setup are left out); GC and the
    // VM's own ticks have no stack and are kept.
    const inLoop = new Map();
    const underLoop = (id) => {
      if (inLoop.has(id)) return inLoop.get(id);
      const f = byId.get(id).callFrame;
      const yes = (f.functionName === 'loop' && f.url.includes('profile.mjs')) || (parent.has(id) && underLoop(parent.get(id)));
      inLoop.set(id, yes);
      return yes;
    };
    const stackless = (id) => ['(garbage collector)', '(program)'].includes(byId.get(id).callFrame.functionName);
    prof.samples.forEach((id, i) => {
      if (underLoop(id) || stackless(id)) self.set(id, (self.get(id) || 0) + (prof.timeDeltas[i] || 0));
    });
    const total = [...self.values()].reduce((a, b) => a + b, 0);
    const layers = new Map();
    const fns = new Map();
    for (const [id, us] of self) {
      const { functionName: fname, url, lineNumber } = byId.get(id).callFrame;
      let layer;
      if (fname === '(garbage collector)') layer = 'GC';
      else if (fname === '(program)' || fname === '(idle)') layer = 'VM / not attributed';
      else if (/^(wasm-to-js|js-to-wasm)|JSToWasm|WasmToJS/.test(fname)) layer = 'JS↔wasm call stubs';
      else if (url.startsWith('wasm://') || /^\$|wasm-function/.test(fname)) layer = 'wasm (core, serde, allocator)';
      else if (fname === 'get buffer') layer = 'memory.buffer getter (glue re-checks its memory views)';
      else if (/^decode(UTF8)?$/.test(fname)) layer = 'TextDecoder (strings out of wasm)';
      else if (/^encode(Into|UTF8)?$/.test(fname)) layer = 'TextEncoder (strings into wasm)';
      else if (url === pathToFileURL(PKG_FILE).href) layer = moduleAt(lineNumber);
      else if (url.includes('profile.mjs')) layer = 'benchmark loop';
      else if (url.includes('purejs')) layer = 'pure JS';
      else if (url === '' && fname) layer = 'runtime: ' + fname;
      else layer = 'other: ' + (url.split('/').pop() || fname);
      layers.set(layer, (layers.get(layer) || 0) + us);
      const key = `${fname || '(anonymous)'} [${layer}${url === pathToFileURL(PKG_FILE).href ? ':' + (lineNumber + 1) : ''}]`;
      fns.set(key, (fns.get(key) || 0) + us);
    }
    // The phase of the call each sample belongs to: the nearest frame, from the leaf up, that
    // names one (so a glue import called by serde-wasm-bindgen counts as result building).
    const PHASES = [
      [/wasm::(to_value|string_value|actor|arg|now_ms)\b/, 'argument → core Value (to_value: type probes, Reflect.get/ownKeys, strings copied in)'],
      [/serde_wasm_bindgen|wasm::(out|set|throw|bind_event)\b/, 'result → JS (serde-wasm-bindgen: objects, keys, strings copied out)'],
      [/campus_voip\[\w+\]::(engine|rules|registry|ids|input|share|ticket|token|call|storage|keys|codec|rng)::|<campus_voip\[\w+\]::(engine|registry)/, 'the rule itself (engine, registry lookup, checks)'],
      [/^backend_|^__wbg_backend|^callslot_|^check[A-Z]/, 'export body (borrow, dispatch, drops)'],
    ];
    const phaseOf = (id) => {
      const leaf = byId.get(id).callFrame;
      if (leaf.functionName === '(garbage collector)') return 'GC';
      if (leaf.functionName === '(program)') return 'VM / not attributed';
      let fallback;
      for (let n = id; n !== undefined; n = parent.get(n)) {
        const f = byId.get(n).callFrame;
        for (const [re, name] of PHASES) if (re.test(f.functionName)) return name;
        if (fallback) continue;
        if (f.url === pathToFileURL(PKG_FILE).href) {
          const mod = moduleAt(f.lineNumber);
          fallback = mod === 'wasm-bindgen glue'
            ? 'glue wrapper (stack pointer, return slots, heap slab, memory views)'
            : 'shim (' + mod + ': Promise.resolve, ok(), error mapping)';
        } else if (f.url.includes('profile.mjs')) fallback = 'await + benchmark loop';
      }
      return fallback || 'other';
    };
    const phases = new Map();
    for (const [id, us] of self) phases.set(phaseOf(id), (phases.get(phaseOf(id)) || 0) + us);
    const pct = (us) => ((100 * us) / total).toFixed(1).padStart(5) + ' %';
    console.log(`${path.basename(file)}: ${(total / 1000).toFixed(0)} ms sampled`);
    console.log('  by phase of the call (self time of everything under it):');
    for (const [k, v] of [...phases].sort((a, b) => b[1] - a[1])) console.log(`    ${pct(v)}  ${k}`);
    console.log('  by layer (self time):');
    for (const [k, v] of [...layers].sort((a, b) => b[1] - a[1]).filter(([, v]) => v / total >= 0.002)) console.log(`    ${pct(v)}  ${k}`);
    console.log('  top functions (self time):');
    for (const [k, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, Number(opt('--top', 25)))) console.log(`    ${pct(v)}  ${k}`);
  }
} else {
  console.error('usage: see the header of benches/profile.mjs');
  process.exit(2);
}
