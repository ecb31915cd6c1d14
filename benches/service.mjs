// `make bench-service`: throughput and latency of the contact service (campus-voip-server, its
// production build `--profile server`, --dev) under wrk on loopback, its memory and database
// size at 100 000 students. Prints figures; asserts nothing (SPEC §9: benchmarks, not timed
// tests). See benches/SERVICE.md.
//
// 1. Populate: BENCH_HTTP_STUDENTS (2000) students through the service's own endpoints (timed, and
//    extrapolated to the full count), the rest up to BENCH_STUDENTS (100 000) with the service's
//    store code (server/examples/populate.rs) while the service is stopped. Every student
//    s<n> has three consented contacts o<n>a (administrator), o<n>b, o<n>c.
// 2. Memory (VmRSS of the server from /proc) and database bytes (file + WAL).
// 3. Reads, against GET /healthz of the same server in the same run, at each connection count:
//    POST /wxa/business/getvoipcontactlist?access_token=… {user_id} over 10 000 random students,
//    POST /v1/getVoipBindContactList {} with the sessions of 2 000 random parents.
// 4. Mutations: POST /v1/acceptBindContactPath {path}, each request a new (parent, share link)
//    pair, so each is a real change (a `success` outcome: one contact row more, committed with
//    synchronous=FULL before the reply): with group commit (the default batch) and without
//    (CAMPUS_VOIP_MAX_BATCH=1). Then the same API on pairs already bound (`binded`: a write job
//    that changes no row).
//
// Each point runs BENCH_REPS (3) times for BENCH_SECONDS (5) s; the table shows medians.
// Environment: BENCH_CONNS (1,16,256), BENCH_SKIP_BINDED=1, CARGO_TARGET_DIR.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBanner } from '../tests/js/service.mjs';
import { PREP_CONCURRENCY, median, plugin, pool, post } from './prep.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');
// The service's production build: `--profile server` (opt-level 3, panics unwind; the workspace's
// release profile is tuned for size for the wasm core and aborts on panic, server/README.md).
const PROFILE = 'server';
const SERVER_BIN = path.join(TARGET, PROFILE, 'campus-voip-server');
const POPULATE_BIN = path.join(TARGET, PROFILE, 'examples', 'populate');
const LUA = path.join(ROOT, 'benches', 'service.lua');

const int = (name, dflt) => (process.env[name] ? Number.parseInt(process.env[name], 10) : dflt);
const SECONDS = int('BENCH_SECONDS', 5);
const REPS = int('BENCH_REPS', 3);
const STUDENTS = int('BENCH_STUDENTS', 100000);
const HTTP_STUDENTS = Math.min(int('BENCH_HTTP_STUDENTS', 2000), STUDENTS);
const CONNS = (process.env.BENCH_CONNS || '1,16,256').split(',').map((c) => Number.parseInt(c, 10));
const SKIP_BINDED = process.env.BENCH_SKIP_BINDED === '1';
/** Parents that accept share links in the mutation bench (3 contacts + 7 = the default cap). */
const ACCEPTORS = 7;
const WXA_BODIES = 10000;
const PLUGIN_SESSIONS = 2000;

const started = Date.now();
const log = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`);
const sid = (n) => 's' + String(n).padStart(6, '0');
const oid = (n, role) => 'o' + String(n).padStart(6, '0') + role;

// ---------------------------------------------------------------------------------------------
// Tools

function ensureWrk() {
  if (spawnSync('sh', ['-c', 'command -v wrk']).status === 0) return;
  log('wrk is missing: apt-get install -y wrk');
  const sudo = process.getuid && process.getuid() !== 0 ? ['sudo'] : [];
  const apt = (args) => spawnSync(sudo[0] || 'apt-get', [...(sudo.length ? ['apt-get'] : []), ...args], { stdio: 'inherit' }).status === 0;
  if (!apt(['install', '-y', 'wrk']) && !(apt(['update']) && apt(['install', '-y', 'wrk']))) {
    throw new Error('cannot install wrk (apt-get install -y wrk)');
  }
}

function ensureBuilt() {
  if (fs.existsSync(SERVER_BIN) && fs.existsSync(POPULATE_BIN)) return;
  log(`building the service (cargo build --profile ${PROFILE} -p campus-voip-server --bins --example populate)`);
  const r = spawnSync('cargo', ['build', '--profile', PROFILE, '-p', 'campus-voip-server', '--bins', '--example', 'populate'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('cargo build failed');
}

const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'cv-bench-service-'));
const DB = path.join(DIR, 'bench.sqlite3');
const servers = new Set();
process.on('exit', () => {
  for (const c of servers) if (c.exitCode === null) c.kill('SIGKILL');
  fs.rmSync(DIR, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

/** Starts `campus-voip-server --dev` on DB; resolves { url, appId, appSecret, pid, stop() }. */
async function startServer(maxBatch) {
  const env = { ...process.env, RUST_LOG: 'warn' };
  if (maxBatch) env.CAMPUS_VOIP_MAX_BATCH = String(maxBatch);
  const child = spawn(SERVER_BIN, ['--dev', '--database', 'sqlite:' + DB, '--listen', '127.0.0.1:0', 'serve'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  servers.add(child);
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    if (err.length > 65536) err = err.slice(-32768);
  });
  const banner = await readBanner(child, () => err, 60000);
  return {
    ...banner,
    pid: child.pid,
    stderr: () => err,
    stop: () =>
      new Promise((resolve) => {
        servers.delete(child);
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

function procStatus(pid) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number.parseInt(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)[1], 10);
  return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
}

function dbBytes() {
  const size = (f) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
  return { file: size(DB), wal: size(DB + '-wal'), shm: size(DB + '-shm') };
}

const MB = (b) => (b / 1048576).toFixed(1) + ' MiB';

/** The disk's sync latency next to the database: 100 × (4 KiB append + fdatasync), ms. */
function fsyncProbe() {
  const f = path.join(DIR, 'fsync-probe');
  const fd = fs.openSync(f, 'w');
  const block = Buffer.alloc(4096, 1);
  const ms = [];
  for (let i = 0; i < 100; i++) {
    fs.writeSync(fd, block);
    const t = performance.now();
    fs.fdatasyncSync(fd);
    ms.push(performance.now() - t);
  }
  fs.closeSync(fd);
  fs.rmSync(f);
  ms.sort((a, b) => a - b);
  return { p50: ms[50], p99: ms[98] };
}

// ---------------------------------------------------------------------------------------------
// HTTP for the preparation (benches/prep.mjs)

async function session(srv, openId) {
  const j = await post(srv, '/v1/dev/session', { openId });
  if (j.errCode !== 0) throw new Error('/v1/dev/session: ' + JSON.stringify(j));
  return j.session;
}

/**
 * Student n the way a school and its parents make one: 6 writes, 1 read, 3 dev sessions (10
 * requests, one after the other). Resolves the two accepted (session, link) request lines.
 */
async function studentOverHttp(srv, n) {
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((r) => session(srv, oid(n, r))));
  for (const s of [a, b, c]) await plugin(srv, 'authorizeVoip', {}, s);
  await plugin(srv, 'bindVoipAdminContact', { userId: sid(n) }, a);
  const link = await plugin(srv, 'getBindContactPath', { userId: sid(n), userName: sid(n) }, a);
  const bound = [];
  for (const s of [b, c]) {
    const e = await plugin(srv, 'acceptBindContactPath', { path: link }, s);
    if (e.type !== 'success') throw new Error('accept while populating: ' + JSON.stringify(e));
    bound.push(`Bearer ${s}\t${JSON.stringify({ path: link })}`);
  }
  return bound;
}

// ---------------------------------------------------------------------------------------------
// wrk

let runNo = 0;

/**
 * One wrk run: `lines` are `<auth or ->\t<body>` request lines; resolves
 * { rps, okRps, p50, p99 (ms), requests, ok, errors, wrapped }.
 */
function wrk(srv, route, lines, conns, { method = 'POST', count = null } = {}) {
  const threads = Math.min(conns, 2);
  const data = path.join(DIR, `wrk-${++runNo}.txt`);
  fs.writeFileSync(data, lines.join('\n') + '\n');
  const env = { ...process.env };
  if (count) env.BENCH_COUNT = count;
  else delete env.BENCH_COUNT;
  const args = ['-t', String(threads), '-c', String(conns), '-d', `${SECONDS}s`, '--timeout', '30s', '-s', LUA, srv.url + route, '--', data, String(threads), method];
  const r = spawnSync('wrk', args, { env, encoding: 'utf8', maxBuffer: 1 << 24 });
  fs.rmSync(data, { force: true });
  const m = /^BENCH (\{.*\})$/m.exec(r.stdout || '');
  if (r.status !== 0 || !m) throw new Error(`wrk ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  const j = JSON.parse(m[1]);
  const secs = j.duration / 1e6;
  // The lines not sent (thread t sent its first sent[t] of lines t, t+T, …; all if it wrapped).
  const unsent = j.wrapped ? [] : lines.filter((_, i) => lines.length >= threads && Math.floor(i / threads) >= j.sent[i % threads]);
  return { ...j, unsent, rps: j.requests / secs, okRps: j.ok / secs, p50: j.p50 / 1000, p99: j.p99 / 1000 };
}

const results = new Map(); // key → [run]
function record(key, run) {
  if (!results.has(key)) results.set(key, []);
  results.get(key).push(run);
}
const med = (key, field) => median(results.get(key).map((r) => r[field]));

const fmtRun = (r) => `${r.rps.toFixed(0)} rps, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms${r.errors ? `, ${r.errors} errors` : ''}`;

// ---------------------------------------------------------------------------------------------

async function main() {
  ensureWrk();
  ensureBuilt();
  const wrkVersion = (spawnSync('wrk', ['-v'], { encoding: 'utf8' }).stdout || '').split('\n')[0];
  log(`database in ${DIR}; ${STUDENTS} students; ${REPS}× ${SECONDS} s per point; connections ${CONNS.join(', ')}; ${wrkVersion}`);
  const facts = { loadStart: os.loadavg()[0] };

  // 1. Populate.
  let srv = await startServer();
  log(`populating students 0..${HTTP_STUDENTS} through the endpoints (${PREP_CONCURRENCY} at a time) …`);
  let t0 = performance.now();
  // Accepted once already: the `binded` bench sends them again.
  const boundLines = (await pool(0, HTTP_STUDENTS, (n) => studentOverHttp(srv, n))).flat();
  const httpSecs = (performance.now() - t0) / 1000;
  facts.httpPopulate = { students: HTTP_STUDENTS, secs: httpSecs, perSec: HTTP_STUDENTS / httpSecs };
  log(`  ${HTTP_STUDENTS} students in ${httpSecs.toFixed(1)} s (${facts.httpPopulate.perSec.toFixed(0)} students/s, ${((HTTP_STUDENTS * 6) / httpSecs).toFixed(0)} writes/s): ${STUDENTS} would take ~${((STUDENTS / facts.httpPopulate.perSec) / 60).toFixed(1)} min`);
  await srv.stop();
  log(`populating students ${HTTP_STUDENTS}..${STUDENTS} with the store code (examples/populate) …`);
  t0 = performance.now();
  const pop = spawnSync(POPULATE_BIN, [DB, String(HTTP_STUDENTS), String(STUDENTS)], { encoding: 'utf8' });
  if (pop.status !== 0) throw new Error('populate failed: ' + pop.stdout + pop.stderr);
  facts.storePopulate = { students: STUDENTS - HTTP_STUDENTS, secs: (performance.now() - t0) / 1000 };
  log('  ' + pop.stdout.trim());

  // 2. Memory and size, then the reads.
  srv = await startServer();
  await new Promise((r) => setTimeout(r, 500));
  facts.rssIdle = procStatus(srv.pid).rss;
  facts.dbStart = dbBytes();
  log(`server RSS after start ${MB(facts.rssIdle)}; database ${MB(facts.dbStart.file)} + WAL ${MB(facts.dbStart.wal)}`);
  const tok = await (await fetch(`${srv.url}/cgi-bin/token?grant_type=client_credential&appid=${srv.appId}&secret=${srv.appSecret}`)).json();
  if (!tok.access_token) throw new Error('/cgi-bin/token: ' + JSON.stringify(tok));
  const wxaRoute = '/wxa/business/getvoipcontactlist?access_token=' + tok.access_token;
  const rand = (k) => Math.floor(Math.random() * k);
  const wxaLines = Array.from({ length: WXA_BODIES }, () => '-\t' + JSON.stringify({ user_id: sid(rand(STUDENTS)) }));
  log(`minting ${PLUGIN_SESSIONS} parent sessions for the plugin list …`);
  const parents = Array.from({ length: PLUGIN_SESSIONS }, () => oid(rand(STUDENTS), 'abc'[rand(3)]));
  const sessions = await pool(0, PLUGIN_SESSIONS, (i) => session(srv, parents[i]));
  const pluginLines = sessions.map((s) => `Bearer ${s}\t{}`);
  // What the routes answer (checked once, outside the timed runs).
  const sample = await post(srv, wxaRoute, { user_id: sid(STUDENTS - 1) });
  if (sample.errcode !== 0 || sample.contact_list.length !== 3) throw new Error('getvoipcontactlist: ' + JSON.stringify(sample));
  const list = await plugin(srv, 'getVoipBindContactList', {}, sessions[0]);
  if (list.length !== 1) throw new Error('getVoipBindContactList: ' + JSON.stringify(list));

  const reads = [
    { key: 'hello', label: 'GET /healthz (hello world)', route: '/healthz', lines: ['-\t'], method: 'GET' },
    { key: 'wxa', label: 'POST /wxa/business/getvoipcontactlist', route: wxaRoute, lines: wxaLines },
    { key: 'list', label: 'POST /v1/getVoipBindContactList', route: '/v1/getVoipBindContactList', lines: pluginLines },
  ];
  const total = REPS * CONNS.length * reads.length;
  let k = 0;
  for (const r of reads) wrk(srv, r.route, r.lines.slice(0, 100), 16, r); // warm-up (1 run each)
  for (let rep = 1; rep <= REPS; rep++) {
    for (const c of CONNS) {
      for (const r of reads) {
        const run = wrk(srv, r.route, r.lines, c, r);
        record(`${r.key}/${c}`, run);
        log(`  [${++k}/${total}] ${r.label} c=${c} rep ${rep}: ${fmtRun(run)}`);
      }
    }
  }
  const after = procStatus(srv.pid);
  facts.rssAfterReads = after.rss;
  facts.hwmAfterReads = after.hwm;
  log(`server RSS after the reads ${MB(after.rss)} (peak ${MB(after.hwm)})`);

  // 3. Mutations.
  log(`preparing ${ACCEPTORS} accepting parents …`);
  const acceptors = [];
  for (let j = 0; j < ACCEPTORS; j++) {
    const s = await session(srv, `x_acceptor${j}`);
    await plugin(srv, 'authorizeVoip', {}, s);
    acceptors.push(s);
  }
  // Fresh (acceptor, share link) pairs, each sent at most once (the lines a run did not send go
  // back); links are made on demand, in blocks, and every acceptor gets every link of a block
  // (so consecutive requests are for different students). Students from the top down: the
  // first HTTP_STUDENTS keep their links for the `binded` bench.
  let fresh = [];
  let nextLinkStudent = STUDENTS;
  let offered = 0;
  const ensureFresh = async (count) => {
    while (fresh.length < count) {
      const block = Math.min(2000, nextLinkStudent - HTTP_STUDENTS);
      if (block <= 0) throw new Error('out of students for share links');
      nextLinkStudent -= block;
      const from = nextLinkStudent;
      const links = await pool(from, from + block, async (n) =>
        plugin(srv, 'getBindContactPath', { userId: sid(n), userName: sid(n) }, await session(srv, oid(n, 'a'))),
      );
      for (const s of acceptors) for (const l of links) fresh.push(`Bearer ${s}\t${JSON.stringify({ path: l })}`);
    }
  };
  const seen = new Map(); // conns → the highest rate seen at that count
  const guess = (c) => Math.max(3000, ...[...seen].filter(([cc]) => cc <= c).map(([cc, v]) => (cc === c ? v : v * 2)));
  const acceptRun = async (c) => {
    for (let attempt = 0; ; attempt++) {
      const need = Math.ceil(guess(c) * SECONDS * 1.3) + 500;
      await ensureFresh(need);
      const lines = fresh.splice(0, need);
      const run = wrk(srv, '/v1/acceptBindContactPath', lines, c, { count: 'success' });
      fresh = run.unsent.concat(fresh);
      offered += lines.length - run.unsent.length;
      seen.set(c, Math.max(seen.get(c) || 0, run.rps));
      if (!run.wrapped || attempt === 2) return run;
      log(`    (ran out of fresh pairs after ${run.requests}; again with more)`);
      seen.set(c, run.rps * 1.5);
    }
  };
  const modes = [
    { key: 'gc', label: 'group commit (default batch)', maxBatch: null },
    { key: 'nogc', label: 'no group commit (CAMPUS_VOIP_MAX_BATCH=1)', maxBatch: 1 },
  ];
  // The modes alternate within each rep (a restart each), so a slow minute of the shared disk
  // does not land on one mode only.
  let current = 'gc';
  const useMode = async (mode) => {
    if (current === mode.key) return;
    await srv.stop();
    srv = await startServer(mode.maxBatch);
    current = mode.key;
  };
  const batches = async () => {
    const text = await (await fetch(srv.url + '/metrics')).text();
    const num = (name) => Number((new RegExp(`^${name} (\\S+)$`, 'm').exec(text) || [0, 0])[1]);
    return { sum: num('campus_voip_db_write_batch_jobs_sum'), count: num('campus_voip_db_write_batch_jobs_count') };
  };
  const kinds = SKIP_BINDED ? 1 : 2;
  const totalM = REPS * modes.length * CONNS.length * kinds;
  k = 0;
  for (let rep = 1; rep <= REPS; rep++) {
    for (const mode of modes) {
      await useMode(mode);
      const sync = fsyncProbe();
      (facts.fsync ||= []).push(sync);
      log(`acceptBindContactPath rep ${rep}, ${mode.label} (fdatasync here now: p50 ${sync.p50.toFixed(2)} ms, p99 ${sync.p99.toFixed(2)} ms):`);
      for (const c of CONNS) {
        const before = await batches();
        const run = await acceptRun(c);
        const after = await batches();
        run.perCommit = (after.sum - before.sum) / Math.max(1, after.count - before.count);
        record(`accept-${mode.key}/${c}`, run);
        log(`  [${++k}/${totalM}] new contacts c=${c}: ${fmtRun(run)}; ${run.ok} of ${run.requests} "success", ${run.perCommit.toFixed(1)} writes per commit`);
      }
      if (SKIP_BINDED) continue;
      for (const c of CONNS) {
        const before = await batches();
        const run = wrk(srv, '/v1/acceptBindContactPath', boundLines, c, { count: 'binded' });
        const after = await batches();
        run.perCommit = (after.sum - before.sum) / Math.max(1, after.count - before.count);
        record(`binded-${mode.key}/${c}`, run);
        log(`  [${++k}/${totalM}] already bound c=${c}: ${fmtRun(run)}; ${run.ok} of ${run.requests} "binded", ${run.perCommit.toFixed(1)} jobs per commit`);
      }
    }
  }
  facts.dbEnd = dbBytes();
  facts.pairsUsed = offered;
  await srv.stop();

  // 4. The table.
  const row = (cells, widths) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  const W = [44, 5, 9, 8, 8, 10];
  console.log('');
  console.log(`campus-voip-server (--profile ${PROFILE}, --dev, RUST_LOG=warn), wrk on loopback, ${os.cpus().length} CPUs (${os.cpus()[0].model.trim()}), load average ${facts.loadStart.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end`);
  console.log(`medians of ${REPS} runs of ${SECONDS} s; wrk threads = min(connections, 2); ${STUDENTS} students × 3 contacts`);
  console.log('');
  console.log(row(['reads', 'conns', 'rps', 'p50 ms', 'p99 ms', '× hello'], W));
  for (const r of reads) {
    for (const c of CONNS) {
      const key = `${r.key}/${c}`;
      const ratio = med(key, 'rps') / med(`hello/${c}`, 'rps');
      console.log(row([r.label, c, med(key, 'rps').toFixed(0), med(key, 'p50').toFixed(2), med(key, 'p99').toFixed(2), r.key === 'hello' ? '1' : ratio.toFixed(2)], W));
    }
  }
  // The ratio per rep (hello and the read ran back to back), for the spread.
  console.log('');
  for (const r of reads.slice(1)) {
    for (const c of CONNS) {
      const rs = results.get(`${r.key}/${c}`).map((x, i) => (x.rps / results.get(`hello/${c}`)[i].rps).toFixed(2));
      console.log(`  ${r.label} c=${c}: × hello per rep ${rs.join(', ')}`);
    }
  }
  console.log('');
  const WM = [44, 5, 9, 8, 8, 10, 10];
  console.log(row(['acceptBindContactPath (acknowledged writes)', 'conns', 'acks/s', 'p50 ms', 'p99 ms', 'gc / no gc', 'per commit'], WM));
  for (const kind of ['accept', ...(SKIP_BINDED ? [] : ['binded'])]) {
    for (const mode of modes) {
      for (const c of CONNS) {
        const key = `${kind}-${mode.key}/${c}`;
        const okField = 'okRps';
        const gain = mode.key === 'gc' ? (med(key, okField) / med(`${kind}-nogc/${c}`, okField)).toFixed(1) + '×' : '';
        const label = `${kind === 'accept' ? 'new contact' : 'binded (no change)'}, ${mode.key === 'gc' ? 'group commit' : 'batch of 1'}`;
        console.log(row([label, c, med(key, okField).toFixed(0), med(key, 'p50').toFixed(2), med(key, 'p99').toFixed(2), gain, med(key, 'perCommit').toFixed(1)], WM));
      }
    }
  }
  const fs50 = facts.fsync.map((x) => x.p50);
  console.log(`fdatasync of 4 KiB next to the database, probed before each mode of each rep: p50 ${median(fs50).toFixed(2)} ms (${Math.min(...fs50).toFixed(2)}–${Math.max(...fs50).toFixed(2)}), p99 ${median(facts.fsync.map((x) => x.p99)).toFixed(2)} ms`);
  console.log('');
  console.log(`memory: server RSS ${MB(facts.rssIdle)} after start, ${MB(facts.rssAfterReads)} after the reads (peak ${MB(facts.hwmAfterReads)})`);
  console.log(`database at ${STUDENTS} students × 3 contacts: ${MB(facts.dbStart.file)} file + ${MB(facts.dbStart.wal)} WAL = ${MB(facts.dbStart.file + facts.dbStart.wal)} (${facts.dbStart.file + facts.dbStart.wal} bytes; shm ${facts.dbStart.shm})`);
  console.log(`database after the mutation runs (${facts.pairsUsed} accepts sent): ${MB(facts.dbEnd.file)} file + ${MB(facts.dbEnd.wal)} WAL`);
  const hp = facts.httpPopulate;
  console.log(`populate: ${hp.students} students through the endpoints in ${hp.secs.toFixed(1)} s (${hp.perSec.toFixed(0)}/s, 10 requests and 6 writes each; ${STUDENTS} would take ~${(STUDENTS / hp.perSec / 60).toFixed(1)} min), ${facts.storePopulate.students} with the store code in ${facts.storePopulate.secs.toFixed(1)} s`);
  console.log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
