// The contact service for tests: `campus-voip-server --dev` on a temporary SQLite file and a free
// loopback port. The binary is $CARGO_TARGET_DIR (default target/)/debug/campus-voip-server,
// built with `cargo build -p campus-voip-server` when missing. Every service started is killed
// (and its folder removed) when the process exits, also after a failure.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');
/** The binary (`CAMPUS_VOIP_SERVER_BIN` overrides it: the benches run the production build). */
export const SERVER_BIN = process.env.CAMPUS_VOIP_SERVER_BIN ? path.resolve(process.env.CAMPUS_VOIP_SERVER_BIN) : path.join(TARGET, 'debug', 'campus-voip-server');

const running = new Set();
process.on('exit', () => {
  for (const s of running) {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});

export function ensureServerBuilt() {
  if (fs.existsSync(SERVER_BIN)) return;
  console.log('# building the contact service (cargo build -p campus-voip-server), once …');
  const r = spawnSync('cargo', ['build', '-p', 'campus-voip-server'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error('cargo build -p campus-voip-server failed');
}

/**
 * Waits for a `--dev` service's start-up lines on its stdout; resolves `{ url, appId, appSecret }`
 * (rejects if it exits first or says nothing within `timeoutMs`; `stderr()` is its error output
 * so far, for the message).
 */
export function readBanner(child, stderr, timeoutMs) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`the service did not start within ${timeoutMs / 1000} s:\n` + text + stderr())), timeoutMs);
    child.stdout.on('data', (d) => {
      text += d;
      if (/listening on http:\/\/\S+/.test(text)) {
        clearTimeout(timer);
        resolve({
          url: /listening on (http:\/\/\S+)/.exec(text)[1],
          appId: /app id:\s+(\S+)/.exec(text)[1],
          appSecret: /app secret:\s+(\S+)/.exec(text)[1],
        });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error('the service exited (' + code + ') before listening:\n' + text + stderr()));
    });
  });
}

/**
 * The database of a new service: a SQLite file in `dir`, or — with CAMPUS_VOIP_TEST_PG (a
 * superuser URL, set by scripts/pg.sh run) — a fresh PostgreSQL database, dropped by `stop()`.
 */
function newDatabase(dir) {
  const admin = process.env.CAMPUS_VOIP_TEST_PG;
  if (!admin) return { url: 'sqlite:' + path.join(dir, 'db.sqlite3'), flags: [], drop() {} };
  const name = 'n_' + path.basename(dir).replace(/[^a-zA-Z0-9]/g, '').toLowerCase();
  const psql = (sql) => {
    const r = spawnSync('psql', [admin, '-qAtc', sql], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`psql ${sql}: ${r.stderr || r.error}`);
  };
  psql(`CREATE DATABASE ${name}`);
  return {
    url: admin.replace(/\/[^/]*$/, '/' + name),
    // Many services run at once in the suite: a small pool each (CAMPUS_VOIP_TEST_DB_POOL).
    flags: ['--db-pool', process.env.CAMPUS_VOIP_TEST_DB_POOL || '4'],
    drop: () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/**
 * Starts a service; resolves `{ url, appId, appSecret, stop(), session(openId), device(name), wxa(route, body) }`.
 * `{ replicaOf: other }` starts another replica of `other`'s PostgreSQL database instead of a
 * new database (it shares the keys, the --dev credentials and every row; `other` drops it).
 */
export async function startService(flags = [], { replicaOf } = {}) {
  ensureServerBuilt();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cv-service-'));
  if (replicaOf && !process.env.CAMPUS_VOIP_TEST_PG) throw new Error('replicas need PostgreSQL (CAMPUS_VOIP_TEST_PG)');
  const database = replicaOf ? { ...replicaOf.database, drop() {} } : newDatabase(dir);
  const args = ['--dev', '--database', database.url, ...database.flags, '--listen', '127.0.0.1:0', ...flags, 'serve'];
  const child = spawn(SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
  const s = { child, dir };
  running.add(s);
  // A test file's process ends when its tests are done; the exit handler kills what is left.
  child.unref();
  child.stdout.unref();
  child.stderr.unref();
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const { url, appId, appSecret } = await readBanner(child, () => err, 30000);
  const post = async (route, body) => {
    const res = await fetch(url + route, { method: 'POST', body: JSON.stringify(body) });
    return res.json();
  };
  const dev = async (route, body) => {
    const j = await post('/v1/dev/' + route, body);
    if (j.errCode !== 0) throw new Error('/v1/dev/' + route + ': ' + JSON.stringify(j));
    return j;
  };
  let token;
  return {
    url,
    pid: child.pid,
    database,
    appId,
    appSecret,
    session: async (openId) => (await dev('session', { openId })).session,
    device: async (name) => (await dev('device', { name })).deviceKey,
    /**
     * The school server's WeChat-compatible interface: POST /wxa/business/<route>. Like a WeChat
     * SDK, it fetches a new access token when the one it holds is refused (40001 / 42001: the
     * service's clock may have been moved past its lifetime).
     */
    async wxa(route, body) {
      for (let attempt = 0; ; attempt++) {
        if (!token) {
          const r = await (await fetch(url + '/cgi-bin/token?grant_type=client_credential&appid=' + appId + '&secret=' + appSecret)).json();
          token = r.access_token;
        }
        const r = await post('/wxa/business/' + route + '?access_token=' + token, body);
        if ((r.errcode === 40001 || r.errcode === 42001) && attempt === 0) {
          token = undefined;
          continue;
        }
        return r;
      }
    },
    /**
     * --dev: moves the service's clock `advanceMs` forward and/or freezes it (`freeze: true`: it
     * then moves only when told to); resolves its new reading.
     */
    clock: async (args) => (await dev('clock', args)).now,
    /** --dev: as clock(), resolving `{ now, opsNow }` (opsNow: the time operations act at). */
    clockReading: async (args) => {
      const { now, opsNow } = await dev('clock', args);
      return { now, opsNow };
    },
    /** --dev: fires every passed deadline (ring timeouts, time limits) now, as the local backend's tick(). */
    async tick() {
      await dev('tick', {});
    },
    /** --dev: `{ students, contacts }` (what the local backend's stats() returns). */
    async stats() {
      const { students, contacts } = await dev('stats', {});
      return { students, contacts };
    },
    stop() {
      running.delete(s);
      return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        // The child was unref'd so a test file can end without stopping it; while we wait for
        // its exit it must keep the event loop alive (after the SIGKILL timer nothing else may).
        child.ref();
        const kill = setTimeout(() => child.kill('SIGKILL'), 10000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }).then(() => {
        fs.rmSync(dir, { recursive: true, force: true });
        database.drop();
      });
    },
  };
}
