// `make bench-pg`: the contact service on PostgreSQL (issue 11, "Measure"), run inside
// `scripts/pg.sh run` (a throw-away cluster on loopback, CAMPUS_VOIP_TEST_PG). Prints figures;
// asserts nothing.
//
// 1. Populate BENCH_STUDENTS (2000) students through the endpoints (admin + 2 accepted parents
//    each, as benches/service.mjs does), on one replica.
// 2. Reads: POST /wxa/business/getvoipcontactlist over random students under wrk, with one
//    replica (wrk at C connections) and with two replicas on the same database (two wrk at C/2
//    each, at the same time; rps summed, p99 the worse of the two), for C in BENCH_CONNS (16,64).
// 3. Mutations: POST /v1/acceptBindContactPath, each request a new (parent, share link) pair (a
//    `success`: one contact more, committed before the reply), one replica then two.
// 4. The database side: what PostgreSQL's CPU share was while it ran (from /proc), to say what
//    limits the throughput.
// Each point runs BENCH_REPS (3) times for BENCH_SECONDS (5) s; the table shows medians.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.CAMPUS_VOIP_SERVER_BIN ??= path.join(ROOT, 'target', 'server', 'campus-voip-server');
const { startService } = await import(pathToFileURL(path.join(ROOT, 'tests/js/service.mjs')).href);
const { median, plugin, pool, post } = await import(pathToFileURL(path.join(ROOT, 'benches/prep.mjs')).href);
if (!process.env.CAMPUS_VOIP_TEST_PG) {
  console.error('benches/pg.mjs runs inside scripts/pg.sh run (make bench-pg)');
  process.exit(2);
}
const LUA = path.join(ROOT, 'benches', 'service.lua');
const int = (name, dflt) => (process.env[name] ? Number.parseInt(process.env[name], 10) : dflt);
const SECONDS = int('BENCH_SECONDS', 5);
const REPS = int('BENCH_REPS', 3);
const STUDENTS = int('BENCH_STUDENTS', 2000);
const CONNS = (process.env.BENCH_CONNS || '16,64').split(',').map((c) => Number.parseInt(c, 10));
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'cv-bench-pg-'));
process.on('exit', () => fs.rmSync(DIR, { recursive: true, force: true }));
const started = Date.now();
const log = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`);
const sid = (n) => 's' + String(n).padStart(6, '0');

if (spawnSync('sh', ['-c', 'command -v wrk']).status !== 0) {
  log('wrk is missing: apt-get install -y wrk');
  if (spawnSync('apt-get', ['install', '-y', 'wrk'], { stdio: 'inherit' }).status !== 0) throw new Error('cannot install wrk');
}

/** One wrk run against `url + route` with `lines` (`<auth or ->\t<body>`); runs in the background. */
function wrk(url, route, lines, conns, count) {
  const threads = Math.min(conns, 2);
  const data = path.join(DIR, `wrk-${Math.random().toString(36).slice(2)}.txt`);
  fs.writeFileSync(data, lines.join('\n') + '\n');
  const env = { ...process.env };
  if (count) env.BENCH_COUNT = count;
  else delete env.BENCH_COUNT;
  const args = ['-t', String(threads), '-c', String(conns), '-d', `${SECONDS}s`, '--timeout', '30s', '-s', LUA, url + route, '--', data, String(threads), 'POST'];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { env });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      fs.rmSync(data, { force: true });
      const m = /^BENCH (\{.*\})$/m.exec(out);
      if (code !== 0 || !m) return reject(new Error(`wrk failed (${code}): ${out}`));
      const j = JSON.parse(m[1]);
      const secs = j.duration / 1e6;
      resolve({ rps: j.requests / secs, okRps: j.ok / secs, p99: j.p99 / 1000, errors: j.errors, wrapped: j.wrapped, ok: j.ok, requests: j.requests });
    });
  });
}

/** CPU seconds used so far by every PostgreSQL process (utime + stime from /proc). */
function pgCpu() {
  let ticks = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('postgres')) continue;
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / 100;
}

/** Runs `lines` split over `replicas` (C/n connections each, at once); the combined figures. */
async function point(replicas, route, lines, conns, count) {
  const per = Math.max(1, Math.floor(conns / replicas.length));
  const share = (i) => lines.filter((_, k) => k % replicas.length === i);
  const cpu0 = pgCpu();
  const runs = await Promise.all(replicas.map((r, i) => wrk(r.url, route(r), share(i), per, count)));
  const pgCores = (pgCpu() - cpu0) / SECONDS;
  return {
    rps: runs.reduce((a, r) => a + r.rps, 0),
    okRps: runs.reduce((a, r) => a + r.okRps, 0),
    p99: Math.max(...runs.map((r) => r.p99)),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    wrapped: runs.some((r) => r.wrapped),
    pgCores,
  };
}

log(`PostgreSQL bench: ${STUDENTS} students, ${REPS}× ${SECONDS} s per point, connections ${CONNS.join(', ')}, ${os.cpus().length} cores`);
const a = await startService(['--max-contacts', '10']);
log(`populating ${STUDENTS} students through the endpoints …`);
let t0 = performance.now();
const links = await pool(0, STUDENTS, async (n) => {
  const [x, y, z] = await Promise.all(['a', 'b', 'c'].map((r) => a.session(`o${n}${r}`)));
  for (const s of [x, y, z]) await plugin(a, 'authorizeVoip', {}, s);
  await plugin(a, 'bindVoipAdminContact', { userId: sid(n) }, x);
  const link = await plugin(a, 'getBindContactPath', { userId: sid(n), userName: sid(n) }, x);
  for (const s of [y, z]) await plugin(a, 'acceptBindContactPath', { path: link }, s);
  return link;
});
const popSecs = (performance.now() - t0) / 1000;
log(`  ${STUDENTS} students in ${popSecs.toFixed(1)} s (${((STUDENTS * 6) / popSecs).toFixed(0)} writes/s, 32 clients, one replica)`);
const b = await startService(['--max-contacts', '10'], { replicaOf: a });
const tokenOf = new Map();
for (const r of [a, b]) {
  const t = await (await fetch(`${r.url}/cgi-bin/token?grant_type=client_credential&appid=${r.appId}&secret=${r.appSecret}`)).json();
  tokenOf.set(r, t.access_token);
}
const wxaRoute = (r) => '/wxa/business/getvoipcontactlist?access_token=' + tokenOf.get(r);
const wxaLines = Array.from({ length: 10000 }, () => '-\t' + JSON.stringify({ user_id: sid(Math.floor(Math.random() * STUDENTS)) }));
const sample = await post(a, wxaRoute(a), { user_id: sid(0) });
if (sample.errcode !== 0 || sample.contact_list.length !== 3) throw new Error('getvoipcontactlist: ' + JSON.stringify(sample));

const rows = [];
for (const c of CONNS) {
  for (const [name, set] of [['1 replica', [a]], ['2 replicas', [a, b]]]) {
    const runs = [];
    for (let rep = 0; rep < REPS; rep++) runs.push(await point(set, wxaRoute, wxaLines, c));
    const row = { what: 'getvoipcontactlist', c, name, rps: median(runs.map((r) => r.rps)), p99: median(runs.map((r) => r.p99)), pgCores: median(runs.map((r) => r.pgCores)), errors: runs.reduce((s, r) => s + r.errors, 0) };
    rows.push(row);
    log(`  reads c=${c} ${name}: ${row.rps.toFixed(0)} rps, p99 ${row.p99.toFixed(2)} ms, PostgreSQL ${row.pgCores.toFixed(2)} cores${row.errors ? `, ${row.errors} errors` : ''}`);
  }
}

// Mutations: fresh (parent, link) pairs, 7 per student (3 contacts + 7 = the cap of 10).
const need = Math.min(STUDENTS * 7, int('BENCH_ACCEPTS', 14000));
log(`preparing ${need} accepting parents (a session and consent each) …`);
t0 = performance.now();
const acceptLines = await pool(0, need, async (i) => {
  const n = i % STUDENTS;
  const s = await a.session(`o${n}x${Math.floor(i / STUDENTS)}`);
  await plugin(a, 'authorizeVoip', {}, s);
  return `Bearer ${s}\t${JSON.stringify({ path: links[n] })}`;
});
log(`  in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const c = Math.max(...CONNS);
let from = 0;
for (const [name, set] of [['1 replica', [a]], ['2 replicas', [a, b]]]) {
  // Each run takes lines no run used before (a used pair would be `binded`, no write).
  const slice = acceptLines.slice(from, from + Math.floor(need / 2));
  from += slice.length;
  const r = await point(set, () => '/v1/acceptBindContactPath', slice, c, 'success');
  rows.push({ what: 'acceptBindContactPath (success)', c, name, rps: r.okRps, p99: r.p99, pgCores: r.pgCores, errors: r.errors });
  log(`  accepts c=${c} ${name}: ${r.okRps.toFixed(0)} successes/s (${r.rps.toFixed(0)} rps), p99 ${r.p99.toFixed(2)} ms, PostgreSQL ${r.pgCores.toFixed(2)} cores${r.wrapped ? ' (ran out of fresh pairs: the rest were binded)' : ''}${r.errors ? `, ${r.errors} errors` : ''}`);
}

console.log('\n| what | connections | replicas | rps (median) | p99 ms | PostgreSQL CPU (cores) |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.what} | ${r.c} | ${r.name} | ${r.rps.toFixed(0)} | ${r.p99.toFixed(2)} | ${r.pgCores.toFixed(2)} |`);
for (const c of CONNS) {
  const one = rows.find((r) => r.what === 'getvoipcontactlist' && r.c === c && r.name === '1 replica');
  const two = rows.find((r) => r.what === 'getvoipcontactlist' && r.c === c && r.name === '2 replicas');
  console.log(`reads at ${c} connections: two replicas ${(two.rps / one.rps).toFixed(2)}× one`);
}
await b.stop();
await a.stop();
process.exit(0);
