#!/usr/bin/env node
// The shim benchmark (not a test; `make bench` runs it after the build). One side-by-side table:
// every API through the built package (dist/npm/node.mjs, local backend on memoryStorage, 10 000
// students) against the pure-JS implementation of the same rules in benches/purejs/ (the bar of
// SPEC §9), measured interleaved in one run: batches alternate A/B, B/A so drift (turbo, other
// processes, GC debt) falls on both; medians of the per-batch means. Then: one empty crossing,
// cold start (fresh processes, both), the open curve (fileStorage, 1 000 / 10 000 / 100 000
// students), the memory check (10 000 create/use/close cycles) and the size table with twiggy's
// top contributors. A correctness self-check of the bar runs first (benches/purejs/selfcheck.mjs).
//
//   node benches/shim.mjs [--quick] [--students N] [--only calls,cold,open,mem,size]
//                         [--pkg dist/npm/node.mjs] [--skip-check] [--install-twiggy] [--twiggy-wasm FILE]
//
// --quick is a smoke run (fewer and shorter batches, fewer processes, no 100 000 open): its
// figures are indicative only. The full run takes a few minutes; run it on a quiet machine.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { report as reportCheck, selfCheck } from './purejs/selfcheck.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const QUICK = args.includes('--quick');
const STUDENTS = Number(opt('--students', 10_000));
const PKG_FILE = path.resolve(opt('--pkg', path.join(ROOT, 'dist/npm/node.mjs')));
const PURE_FILE = path.join(HERE, 'purejs/index.mjs');
const ONLY = opt('--only', 'calls,cold,open,mem,size').split(',');
const BATCHES = QUICK ? 8 : 16; // even: each side goes first equally often
const K = QUICK ? 200 : 1000; // calls per batch
const WARM = QUICK ? 1000 : 2000; // warm-up calls per side before the first batch
const CALLS = WARM + BATCHES * K; // calls an operation makes per side

if (!fs.existsSync(PKG_FILE)) {
  console.error(`benches/shim.mjs: ${path.relative(process.cwd(), PKG_FILE)} is missing; run \`node scripts/build.mjs\` (or make build) first`);
  process.exit(1);
}
const pkg = await import(pathToFileURL(PKG_FILE).href);
const pure = await import(pathToFileURL(PURE_FILE).href);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const nowUs = () => Number(process.hrtime.bigint()) / 1e3;
const fmt = (x, d = 2) => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d));
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

console.log(
  `campus-voip shim benchmark — Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0].model.trim()}, ` +
    `load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}${QUICK ? ', --quick (indicative only)' : ''}`,
);
console.log(`package: ${path.relative(ROOT, PKG_FILE)}; bar: ${path.relative(ROOT, PURE_FILE)}\n`);

// ---- 0. the bar does the same work ------------------------------------------------------------
if (!args.includes('--skip-check')) {
  const r = await selfCheck(pkg, pure);
  reportCheck(r);
  if (r.mismatches.length) {
    console.error('\nthe pure-JS bar and the package disagree: fix the bar (or the package) before comparing speed (--skip-check to measure anyway)');
    process.exit(1);
  }
  console.log('');
}

// ---- 1. every API, interleaved --------------------------------------------------------------
const admin = (i) => `adm_${i}`;
const member = (i, j) => `par_${i}_${j}`;
const sid = (i) => `student-${i}`;

/** A backend with `students` students (an administrator and two contacts each) and its people. */
async function fixture(api, students) {
  const backend = await api.createLocalBackend({ storage: api.memoryStorage(), maxContacts: 100, dev: true });
  const people = new Map();
  const as = async (openId) => {
    let p = people.get(openId);
    if (!p) people.set(openId, (p = await api.createVoipPlugin({ backend, openId })));
    return p;
  };
  for (let i = 0; i < students; i++) {
    const a = await as(admin(i));
    await a.authorizeVoip();
    await a.bindVoipAdminContact({ userId: sid(i) });
    const link = await a.getBindContactPath({ userId: sid(i), userName: '学生 ' + i, userAvatar: '' });
    for (let j = 0; j < 2; j++) {
      const m = await as(member(i, j));
      await m.authorizeVoip();
      const r = await m.acceptBindContactPath(link);
      if (r.type !== 'success') throw new Error('setup: ' + r.type);
    }
  }
  return { api, backend, as, device: await api.createVoipPlugin({ backend }), joined: [] };
}

const LINKED = Math.min(STUDENTS - 10, 2000); // students whose links new joiners accept

/**
 * The operations: `make(fx)` prepares one side (untimed) and returns `fn(i)`, the timed call.
 * Both sides get the same names and the same sequence of arguments.
 */
const OPS = [
  {
    name: 'authorizeVoip (no change)',
    make: async (fx) => {
      const p = await fx.as(member(0, 0));
      return () => p.authorizeVoip();
    },
  },
  {
    name: 'authorizeVoip / revokeVoip (each a change)',
    make: async (fx) => {
      const p = await fx.as('flipper');
      let on = false;
      return () => ((on = !on) ? p.authorizeVoip() : p.revokeVoip());
    },
  },
  {
    name: 'getVoipConsent',
    needs: (fx) => typeof fx.people0.getVoipConsent === 'function',
    make: async (fx) => {
      const p = await fx.as(member(0, 0));
      return () => p.getVoipConsent();
    },
  },
  {
    name: 'bindVoipAdminContact (new student)',
    make: async (fx) => {
      const p = await fx.as('new_admin');
      await p.authorizeVoip();
      return (i) => p.bindVoipAdminContact({ userId: 'new-' + i });
    },
  },
  {
    name: 'bindVoipAdminContact (already admin)',
    make: async (fx) => {
      const p = await fx.as(admin(6));
      return () => p.bindVoipAdminContact({ userId: sid(6) });
    },
  },
  {
    name: 'getBindContactPath',
    make: async (fx) => {
      const p = await fx.as(admin(0));
      return () => p.getBindContactPath({ userId: sid(0), userName: '学生 0', userAvatar: '' });
    },
  },
  {
    name: 'getVoipBindContactList (userId)',
    make: async (fx) => {
      const p = await fx.as(admin(0));
      return () => p.getVoipBindContactList({ userId: sid(0) });
    },
  },
  {
    name: 'getVoipBindContactList (all)',
    make: async (fx) => {
      const p = await fx.as(member(0, 0));
      return () => p.getVoipBindContactList();
    },
  },
  {
    name: 'inspectBindContactPath',
    make: async (fx) => {
      const link = await (await fx.as(admin(0))).getBindContactPath({ userId: sid(0), userName: '学生 0', userAvatar: '' });
      const p = await fx.as(member(0, 0));
      return () => p.inspectBindContactPath(link);
    },
  },
  {
    name: 'acceptBindContactPath (success)',
    note: 'each a new contact',
    make: async (fx) => {
      const links = [];
      for (let s = 1; s <= LINKED; s++) {
        links.push(await (await fx.as(admin(s))).getBindContactPath({ userId: sid(s), userName: 'S', userAvatar: '' }));
      }
      const joiners = [];
      for (let n = 0; n < CALLS; n++) {
        const p = await fx.api.createVoipPlugin({ backend: fx.backend, openId: 'joiner_' + n });
        await p.authorizeVoip();
        joiners.push(p);
      }
      return (n) => {
        fx.joined.push(n);
        return joiners[n].acceptBindContactPath(links[n % LINKED]);
      };
    },
  },
  {
    name: 'acceptBindContactPath (binded)',
    make: async (fx) => {
      const link = await (await fx.as(admin(0))).getBindContactPath({ userId: sid(0), userName: '学生 0', userAvatar: '' });
      const p = await fx.as(member(0, 0));
      return () => p.acceptBindContactPath(link);
    },
  },
  {
    name: 'declineBindContactPath',
    make: async (fx) => {
      const link = await (await fx.as(admin(0))).getBindContactPath({ userId: sid(0), userName: '学生 0', userAvatar: '' });
      const p = await fx.as(member(0, 0));
      return () => p.declineBindContactPath(link);
    },
  },
  {
    name: 'transerAdmin (each a change)',
    make: async (fx) => {
      const a = await fx.as(admin(1));
      const m = await fx.as(member(1, 0));
      let flip = false;
      return () =>
        (flip = !flip)
          ? a.transerAdmin({ userId: sid(1), newAdminOpenid: member(1, 0) })
          : m.transerAdmin({ userId: sid(1), newAdminOpenid: admin(1) });
    },
  },
  {
    name: 'transerAdmin to oneself (no change)',
    crossing: true,
    make: async (fx) => {
      const a = await fx.as(admin(7));
      return () => a.transerAdmin({ userId: sid(7), newAdminOpenid: admin(7) });
    },
  },
  {
    name: 'deleteVoipBindContact (one contact)',
    note: 'each a real delete',
    make: async (fx) => {
      // The contacts the accept row bound (or, if it did not run, bound here, untimed).
      if (fx.joined.length < CALLS) {
        for (let n = 0; n < CALLS; n++) {
          const s = 1 + (n % LINKED);
          const link = await (await fx.as(admin(s))).getBindContactPath({ userId: sid(s), userName: 'S', userAvatar: '' });
          const p = await fx.api.createVoipPlugin({ backend: fx.backend, openId: 'joiner_' + n });
          await p.authorizeVoip();
          await p.acceptBindContactPath(link);
        }
        fx.joined = Array.from({ length: CALLS }, (_, n) => n);
      }
      const admins = [];
      for (let s = 1; s <= LINKED; s++) admins.push(await fx.as(admin(s)));
      return (i) => {
        const n = fx.joined[i];
        const s = n % LINKED;
        return admins[s].deleteVoipBindContact({ userId: sid(s + 1), openidList: ['joiner_' + n] });
      };
    },
  },
  {
    name: 'getVoipContactList (developer query)',
    make: async (fx) => () => fx.backend.getVoipContactList({ user_id: sid(3) }),
  },
  {
    name: 'issueVoipToken',
    make: async (fx) => () => fx.backend.issueVoipToken({ userId: sid(4) }),
  },
  {
    name: 'initByCaller + forceHangUpVoip',
    make: async (fx) => {
      const tokens = [];
      for (let n = 0; n < CALLS; n++) tokens.push(await fx.backend.issueVoipToken({ userId: sid(4) }));
      const dev = fx.device;
      return async (n) => {
        const r = await dev.initByCaller({ roomType: 'voice', caller: { id: sid(4) }, listener: { id: member(4, 0) }, voipToken: tokens[n] });
        if (!r.isSuccess) throw new Error('call refused: ' + r.errMsg);
        dev.forceHangUpVoip(r.roomId);
      };
    },
  },
  {
    name: 'resetStudent + bindVoipAdminContact',
    note: 'two calls',
    make: async (fx) => {
      const a = await fx.as(admin(5));
      return async () => {
        await fx.backend.resetStudent({ userId: sid(5) });
        await a.bindVoipAdminContact({ userId: sid(5) });
      };
    },
  },
  {
    name: 'a refused call: bindVoipAdminContact({ userId: 5 })',
    note: 'error path',
    make: async (fx) => {
      const p = await fx.as(admin(0));
      return () => p.bindVoipAdminContact({ userId: 5 }).catch((e) => e);
    },
  },
];

/** Interleaved batches of two sides; per-call µs per batch. */
async function pair(fa, fb) {
  let ia = 0;
  let ib = 0;
  for (let w = 0; w < WARM; w++) {
    await fa(ia++);
    await fb(ib++);
  }
  const ta = [];
  const tb = [];
  const run = async (f, i, out) => {
    const t0 = nowUs();
    for (let j = 0; j < K; j++) await f(i + j);
    out.push((nowUs() - t0) / K);
  };
  for (let b = 0; b < BATCHES; b++) {
    if (b % 2 === 0) {
      await run(fa, ia, ta);
      await run(fb, ib, tb);
    } else {
      await run(fb, ib, tb);
      await run(fa, ia, ta);
    }
    ia += K;
    ib += K;
  }
  return { a: median(ta), b: median(tb), aMin: Math.min(...ta), bMin: Math.min(...tb) };
}

const verdict = (a, b) => (a <= b ? 'ok' : a <= b * 1.1 ? '~' : 'slower');

if (ONLY.includes('calls')) {
  const t0 = Date.now();
  const fa = await fixture(pkg, STUDENTS);
  const ta = Date.now();
  const fb = await fixture(pure, STUDENTS);
  const tb = Date.now();
  fa.people0 = await fa.as(member(0, 0));
  fb.people0 = await fb.as(member(0, 0));
  console.log(
    `setup: ${STUDENTS} students × (1 administrator + 2 contacts), through the API: package ${((ta - t0) / 1000).toFixed(1)} s, ` +
      `pure JS ${((tb - ta) / 1000).toFixed(1)} s`,
  );
  console.log(`\nmedian µs per awaited call, ${BATCHES} interleaved batches × ${K} calls per side (after ${WARM} warm-up calls):\n`);
  const W = 52;
  console.log(`  ${pad('call', W)} ${lpad('package', 9)} ${lpad('pure JS', 9)} ${lpad('pkg/pure', 9)}  ${pad('runs', 10)} note`);
  console.log(`  ${'-'.repeat(W)} ${'-'.repeat(9)} ${'-'.repeat(9)} ${'-'.repeat(9)}  ${'-'.repeat(10)} ----`);
  const rows = [];
  for (const op of OPS) {
    if (op.needs && !(op.needs(fa) && op.needs(fb))) {
      console.log(`  ${pad(op.name, W)} ${lpad('—', 9)} ${lpad('—', 9)} ${lpad('', 9)}  ${pad('', 10)} not in this package yet`);
      continue;
    }
    const [ga, gb] = [await op.make(fa), await op.make(fb)];
    const r = await pair(ga, gb);
    rows.push({ op, ...r });
    const ratio = r.a / r.b;
    console.log(
      `  ${pad(op.name, W)} ${lpad(fmt(r.a), 9)} ${lpad(fmt(r.b), 9)} ${lpad(fmt(ratio) + '×', 9)}  ${pad(`${BATCHES}×${K}`, 10)} ${verdict(r.a, r.b)}${op.note ? ' (' + op.note + ')' : ''}`,
    );
  }
  const c = rows.find((r) => r.op.crossing);
  const slower = rows.filter((r) => r.a > r.b);
  console.log(`\n  pkg/pure < 1: the package is faster. "ok": at or below the bar; "~": within 10 %; "slower": over.`);
  console.log(`  at or below the bar: ${rows.length - slower.length} of ${rows.length} calls`);
  if (c) {
    console.log(
      `\none empty crossing (transerAdmin to oneself: checks, no change, no write), awaited: package ${fmt(c.a)} µs ` +
        `(best batch ${fmt(c.aMin)}), pure JS ${fmt(c.b)} µs (best ${fmt(c.bMin)}); goal: under 2 µs`,
    );
  }
  console.log(`(calls section: ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  fa.backend.close();
  fb.backend.close();
}

// ---- 2. cold start: import → first result, fresh processes -----------------------------------
// ESM (`import()` of the package) and CommonJS (`require` of its node.cjs, the issue's own
// wording), and an empty module: what Node itself charges any package for the same steps.
const EMPTY_FILE = path.join(os.tmpdir(), 'campus-voip-bench-empty.mjs');
function coldScript(file, how) {
  const load = how === 'require' ? `require(${JSON.stringify(file)})` : `await import(${JSON.stringify(pathToFileURL(file).href)})`;
  const body = `
    const t0 = performance.now();
    const api = ${load};
    const t1 = performance.now();
    if (!api.createLocalBackend) { console.log(JSON.stringify({ total: t1 - t0, imp: t1 - t0, open: 0, first: 0 })); return; }
    const backend = await api.createLocalBackend({ storage: api.memoryStorage(), dev: true });
    const t2 = performance.now();
    const p = await api.createVoipPlugin({ backend, openId: 'o1' });
    const r = await p.authorizeVoip();
    const t3 = performance.now();
    if (r.errCode !== 0) throw new Error('no first result');
    console.log(JSON.stringify({ total: t3 - t0, imp: t1 - t0, open: t2 - t1, first: t3 - t2 }));`;
  return how === 'require' ? `(async () => {${body}})().catch((e) => { console.error(e); process.exit(1); });` : `await (async () => {${body}})();`;
}

if (ONLY.includes('cold')) {
  const n = QUICK ? 5 : 11;
  fs.writeFileSync(EMPTY_FILE, 'export {};\n');
  const cjs = path.join(path.dirname(PKG_FILE), 'node.cjs');
  const sides = {
    'package (import)': { file: PKG_FILE, how: 'import', runs: [] },
    ...(fs.existsSync(cjs) ? { 'package (require)': { file: cjs, how: 'require', runs: [] } } : {}),
    'pure JS (import)': { file: PURE_FILE, how: 'import', runs: [] },
    'empty module (import)': { file: EMPTY_FILE, how: 'import', runs: [] },
  };
  const names = Object.keys(sides);
  for (let i = 0; i < n; i++) {
    // Rotated, so no side always runs first.
    for (const name of names.slice(i % names.length).concat(names.slice(0, i % names.length))) {
      const side = sides[name];
      const t0 = performance.now();
      const flags = side.how === 'require' ? ['-e'] : ['--input-type=module', '-e'];
      const out = execFileSync(process.execPath, [...flags, coldScript(side.file, side.how)], { encoding: 'utf8' });
      const wall = performance.now() - t0;
      side.runs.push({ ...JSON.parse(out.trim()), wall });
    }
  }
  console.log(`\ncold start, ${n} fresh Node processes per side (rotated), medians in ms:`);
  console.log(`  ${pad('', 22)} ${lpad('import', 8)} ${lpad('open', 8)} ${lpad('1st call', 9)} ${lpad('total', 8)} ${lpad('(min–max)', 14)} ${lpad('process', 9)}`);
  for (const [name, s] of Object.entries(sides)) {
    const m = (k) => median(s.runs.map((r) => r[k]));
    const tot = s.runs.map((r) => r.total);
    console.log(
      `  ${pad(name, 22)} ${lpad(fmt(m('imp'), 1), 8)} ${lpad(fmt(m('open'), 1), 8)} ${lpad(fmt(m('first'), 1), 9)} ${lpad(fmt(m('total'), 1), 8)} ` +
        `${lpad(`(${fmt(Math.min(...tot), 1)}–${fmt(Math.max(...tot), 1)})`, 14)} ${lpad(fmt(m('wall'), 0), 9)}`,
    );
  }
  console.log('  import = evaluating the modules (the package compiles its wasm here, on this thread); open = createLocalBackend');
  console.log('  on an empty memoryStorage (instantiate, entropy, open); 1st call = createVoipPlugin + authorizeVoip;');
  console.log("  process = spawn to exit (Node start-up included). The empty module's import is Node's own cost of a first import.");
  console.log('  goal for the package: total under 10 ms');
}

// ---- 3. the open curve: fileStorage holding N students --------------------------------------
if (ONLY.includes('open')) {
  const sizes = QUICK ? [1_000, 10_000] : [1_000, 10_000, 100_000];
  const reps = QUICK ? 1 : 3;
  const cache = path.join(os.tmpdir(), 'campus-voip-bench');
  // Keyed by what writes the files (the package's wasm, the bar's source): a new build gets
  // directories in its own storage format; older ones are removed.
  const { createHash } = await import('node:crypto');
  const tag = {
    pkg: createHash('sha256').update(fs.readFileSync(path.join(path.dirname(PKG_FILE), 'campus_voip_bg.wasm'))).digest('hex').slice(0, 12),
    pure: createHash('sha256').update(fs.readFileSync(PURE_FILE)).digest('hex').slice(0, 12),
  };
  fs.mkdirSync(cache, { recursive: true });
  for (const d of fs.readdirSync(cache)) {
    const m = /^open-(pkg|pure)-\d+-([0-9a-f]{12})$/.exec(d);
    if (m && m[2] !== tag[m[1]]) fs.rmSync(path.join(cache, d), { recursive: true, force: true });
  }
  const worker = path.join(HERE, 'open.mjs');
  const node = (a) => {
    const r = spawnSync(process.execPath, [worker, '--pkg', PKG_FILE, ...a], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.status !== 0) return { error: (r.stderr || '').trim().split('\n').slice(-3).join(' | ') };
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };
  console.log(`\nopen curve: createLocalBackend on fileStorage(dir) holding N students (administrator + 1 contact each:`);
  console.log(`3 files per student), warm page cache, median of ${reps} fresh process${reps > 1 ? 'es' : ''}; directories cached in ${cache}`);
  console.log(`  ${lpad('students', 9)} ${lpad('files', 8)} ${lpad('package ms', 11)} ${lpad('µs/student', 11)} ${lpad('pure JS ms', 11)} ${lpad('µs/student', 11)} ${lpad('adapter ms', 11)}`);
  for (const n of sizes) {
    const cells = [];
    let files = '';
    for (const impl of ['pkg', 'pure']) {
      const dir = path.join(cache, `open-${impl}-${n}-${tag[impl]}`);
      let timing = fs.existsSync(path.join(dir, '.bench-complete')) ? node(['--impl', impl, '--dir', dir]) : { error: 'not built' };
      if (timing.error) {
        // Not cached yet, or written by an older storage format: build it through the API once.
        process.stdout.write(`  (building ${dir} through the API: ${n} students …`);
        const t0 = Date.now();
        const b = node(['--build', '--impl', impl, '--dir', dir, '--students', String(n)]);
        process.stdout.write(b.error ? ` failed: ${b.error})\n` : ` ${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
        timing = b.error ? b : null;
      }
      const runs = [];
      if (!timing || !timing.error) {
        for (let r = 0; r < reps; r++) {
          const t = r === 0 && timing ? timing : node(['--impl', impl, '--dir', dir]);
          if (t.error) {
            timing = t;
            break;
          }
          runs.push(t.openMs);
        }
      }
      files = fs.existsSync(dir) ? String(fs.readdirSync(dir).filter((f) => f.endsWith('.cv')).length) : '—';
      if (runs.length) cells.push(lpad(fmt(median(runs), 1), 11), lpad(fmt((median(runs) * 1000) / n, 1), 11));
      else cells.push(lpad('failed', 11), lpad('', 11)), console.log(`  (${impl} ${n}: ${timing.error})`);
    }
    // The floor: fileStorage's keys() and get() of every entry of the package's directory.
    const rawDir = path.join(cache, `open-pkg-${n}-${tag.pkg}`);
    const raws = [];
    for (let r = 0; r < reps && fs.existsSync(rawDir); r++) {
      const t = node(['--raw', '--dir', rawDir]);
      if (!t.error) raws.push(t.openMs);
    }
    cells.push(lpad(raws.length ? fmt(median(raws), 1) : '—', 11));
    console.log(`  ${lpad(n.toLocaleString('en'), 9)} ${lpad(files, 8)} ${cells.join(' ')}`);
  }
  console.log('  adapter ms: fileStorage alone listing and reading every file of the package\'s directory (no decoding): the floor');
  console.log('  for any open that reads the whole store through this adapter. goal for the package: linear, well under a second at 100 000');
}

// ---- 4. memory: 10 000 create/use/close cycles -----------------------------------------------
if (ONLY.includes('mem')) {
  const cycles = QUICK ? 2_000 : 10_000;
  const KB = (b) => (b / 1024).toFixed(0) + ' KB';
  const MB = (b) => (b / 1048576).toFixed(1) + ' MB';
  console.log(`\nmemory: ${cycles.toLocaleString('en')} cycles of createLocalBackend + 3 instances + 15 calls (bind, link, accept, lists, call, delete) + close`);
  console.log(`  ${pad('', 8)} ${lpad('cycles', 7)} ${lpad('wasm memory', 12)} ${lpad('rss', 9)} ${lpad('heapUsed', 9)} ${lpad('external', 9)} ${lpad('arrayBufs', 9)}`);
  for (const impl of ['pkg', 'pure']) {
    const r = spawnSync(process.execPath, ['--expose-gc', path.join(HERE, 'mem.mjs'), '--impl', impl, '--cycles', String(cycles), '--pkg', PKG_FILE], {
      encoding: 'utf8',
    });
    if (r.status !== 0) {
      console.log(`  ${impl}: failed: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
      continue;
    }
    const { samples } = JSON.parse(r.stdout.trim().split('\n').pop());
    for (const s of samples) {
      console.log(
        `  ${pad(impl === 'pkg' ? 'package' : 'pure JS', 8)} ${lpad(s.cycles, 7)} ${lpad(impl === 'pkg' ? KB(s.wasm) + (s.instances > 1 ? ` (${s.instances})` : '') : '—', 12)} ` +
          `${lpad(MB(s.rss), 9)} ${lpad(MB(s.heapUsed), 9)} ${lpad(MB(s.external), 9)} ${lpad(MB(s.arrayBuffers), 9)}`,
      );
    }
    const [first, last] = [samples[0], samples[samples.length - 1]];
    if (impl === 'pkg') {
      console.log(`  ${pad('', 8)} wasm memory growth from ${first.cycles} to ${last.cycles} cycles: ${KB(last.wasm - first.wasm)}${last.wasm > first.wasm ? ' (it never shrinks: a leak or fragmentation in the core)' : ' (none)'}`);
    }
  }
}

// ---- 5. sizes and top contributors -------------------------------------------------------------
if (ONLY.includes('size')) {
  const reportFile = path.join(path.dirname(PKG_FILE), '..', 'size-report.json');
  if (fs.existsSync(reportFile)) {
    const { rows: sizes, pluginCompressed, budget } = JSON.parse(fs.readFileSync(reportFile, 'utf8'));
    console.log(`\nsizes (${path.relative(ROOT, reportFile)}, from the last build):`);
    console.log(`  ${pad('file', 52)} ${lpad('raw KB', 8)} ${lpad('gzip KB', 8)} ${lpad('brotli KB', 10)}`);
    for (const [name, raw, gz, br] of sizes) {
      console.log(`  ${pad(name, 52)} ${lpad(fmt(raw / 1024, 1), 8)} ${lpad(fmt(gz / 1024, 1), 8)} ${lpad(fmt(br / 1024, 1), 10)}`);
    }
    const wasm = sizes.find((r) => r[0].startsWith('wasm'));
    console.log(`  whole plugin compressed: ${fmt(pluginCompressed / 1024, 1)} KB of ${fmt(budget / 1024, 0)} KB; wasm brotli ${wasm ? fmt(wasm[3] / 1024, 1) : '?'} KB (goal: at most 48 KB)`);
  } else {
    console.log(`\nsizes: ${path.relative(ROOT, reportFile)} missing (run the build)`);
  }
  // --twiggy-wasm: the same wasm built with names (strip = false, wasm-opt -g), to see which
  // functions the shipped one's code[N] are (benches/PROFILE.md says how to build it).
  const wasmFile = path.resolve(opt('--twiggy-wasm', path.join(path.dirname(PKG_FILE), 'campus_voip_bg.wasm')));
  const cargoBin = path.join(os.homedir(), '.cargo', 'bin');
  const findTwiggy = () => {
    for (const dir of [...(process.env.PATH || '').split(path.delimiter), cargoBin]) {
      const f = path.join(dir, 'twiggy');
      if (fs.existsSync(f)) return f;
    }
    return null;
  };
  let twiggy = findTwiggy();
  if (!twiggy && args.includes('--install-twiggy')) {
    console.log('\ninstalling twiggy (cargo install twiggy; a few minutes) …');
    spawnSync('cargo', ['install', 'twiggy'], { stdio: 'inherit' });
    twiggy = findTwiggy();
  }
  if (!twiggy) {
    console.log('\ntop contributors: twiggy is not installed; `cargo install twiggy` (or rerun with --install-twiggy) to list them');
  } else if (fs.existsSync(wasmFile)) {
    console.log(`\ntop contributors (twiggy top -n 15 ${path.relative(ROOT, wasmFile)}):`);
    const r = spawnSync(twiggy, ['top', '-n', '15', wasmFile], { encoding: 'utf8' });
    console.log((r.stdout || r.stderr).trimEnd().split('\n').map((l) => '  ' + l).join('\n'));
    const csv = spawnSync(twiggy, ['top', '-f', 'csv', wasmFile], { encoding: 'utf8', maxBuffer: 1 << 24 }).stdout || '';
    if (/[a-z_]{4,}\[[0-9a-f]+\]::/.test(csv)) {
      // With names: the same bytes by the crate that defines each function (generic code counts
      // for the crate that defines it, say core's sort instantiated for our types).
      const crates = new Map();
      let total = 0;
      for (const line of csv.trim().split('\n').slice(1)) {
        const m = /^"?(.*?)"?,(\d+),/.exec(line);
        if (!m || m[1].includes('function names')) continue;
        const name = m[1].replace(/^[<&]+/, '');
        const crate = /^data\[/.test(name)
          ? 'data segments'
          : /^(backend_|callslot_|check[A-Z]|snapshotEntries|__wbg_|__wbindgen)/.test(name)
            ? 'exports (and code inlined in them)'
            : (/^([A-Za-z0-9_]+)\[[0-9a-f]+\]::/.exec(name) || [, /^(str|\[)/.test(name) ? 'core' : 'other'])[1];
        crates.set(crate, (crates.get(crate) || 0) + Number(m[2]));
        total += Number(m[2]);
      }
      console.log(`\n  by crate (${fmt(total / 1024, 1)} KB of code and data, names left out):`);
      for (const [k, v] of [...crates].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
        console.log(`    ${pad(k, 34)} ${lpad(fmt(v / 1024, 1), 7)} KB ${lpad(fmt((100 * v) / total, 1), 6)} %`);
      }
    } else if (!/[a-z_]{4,}::/.test(r.stdout || '')) {
      console.log('  (the shipped wasm carries no names; --twiggy-wasm FILE reads a build with names instead: see benches/PROFILE.md)');
    }
  }
}
