#!/usr/bin/env node
// Serves the browser demo and, behind it, the contact service in --dev (one port for both).
//   /          www-demo/            the pages (plain HTML/CSS/JS modules)
//   /pkg/      dist/npm/            the built npm package (run `node scripts/build.mjs` first)
//   /vendor/   qrcode-generator's ESM file (from tools/node_modules, installed by bootstrap.sh)
//   /v1/* /wxa/* /cgi-bin/* /healthz /readyz   reverse-proxied to campus-voip-server --dev (its
//              SQLite file under ./data/), the event stream (GET /v1/events) unbuffered
//   /demo/*    [ours] what only a demo needs, none of it part of the plugin API or the service:
//              GET /demo/config (mode, the parents' openIds, the device key, lifetimes, addresses),
//              POST /demo/school/<api> (the school server's /wxa queries, with the app secret
//              kept here), POST /demo/clock, /demo/tick, /demo/limit (restarts the service with
//              another --max-contacts), /demo/reset (a fresh database). (The calls' WebRTC
//              signalling is the service's own: POST /v1/rtcSignal, `rtcSignal` events.)
// Usage: node scripts/serve-demo.mjs [--port 8080] [--lan] [--local]
//   --port 0   any free port          --lan    listen on every interface, print the addresses
//   --local    no service: the pages run on the in-page local backend only
// Prints the address on its first line of output: `campus-voip demo: http://127.0.0.1:<port>/`.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import os from 'node:os';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';


const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');
const SERVER_BIN = process.env.CAMPUS_VOIP_SERVER_BIN ? path.resolve(process.env.CAMPUS_VOIP_SERVER_BIN) : path.join(TARGET, 'debug', 'campus-voip-server');

/** URL prefix → directory, and (for /vendor/) the only files served from it. */
const MOUNTS = [
  { prefix: '/pkg/', dir: path.join(ROOT, 'dist', 'npm'), hint: 'run `node scripts/build.mjs` (or `make demo`) first' },
  {
    prefix: '/vendor/',
    dir: path.join(ROOT, 'tools', 'node_modules', 'qrcode-generator', 'dist'),
    only: ['qrcode.mjs'],
    hint: 'run scripts/bootstrap.sh first (it installs the npm tools)',
  },
  { prefix: '/', dir: path.join(ROOT, 'www-demo') },
];

/** What the service's paths start with: these go to the service, the rest is the demo's. */
const PROXIED = ['/v1/', '/wxa/', '/cgi-bin/'];
const PROXIED_EXACT = ['/healthz', '/readyz'];

// The service's settings for the demo. The page shows them; every decision (is the link expired,
// is the list full) is the core's, inside the service.
const PLUGIN_APP_ID = 'wx0123456789abcdef'; // a made-up plugin AppID: share paths start __plugin__/<it>/
const TICKET_TTL_S = 72 * 3600;
const DEFAULT_MAX_CONTACTS = 3;
const TOKEN_TTL_MS = 5 * 60 * 1000; // the service's voipToken lifetime (not configurable there)
const RING_TIMEOUT_S = 30;
const PARENT_IDS = ['p1', 'p2', 'p3'];

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.cjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

function usage() {
  return 'usage: node scripts/serve-demo.mjs [--port N] [--lan] [--local] [--data DIR]\n' +
    '  --port N   default 8080; 0 = any free port\n' +
    '  --lan      listen on every interface (phones on the same network can open the pages)\n' +
    '  --local    no contact service: the pages run on the in-page local backend\n' +
    '  --data DIR where the service keeps its SQLite file (default ./data)';
}

function parseArgs(argv) {
  const o = { port: 8080, lan: false, local: false, data: path.join(ROOT, 'data') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      console.log(usage());
      process.exit(0);
    } else if (a === '--lan') o.lan = true;
    else if (a === '--local') o.local = true;
    else if (a === '--data' || a.startsWith('--data=')) {
      const v = a === '--data' ? argv[++i] : a.slice(7);
      if (!v) {
        console.error('serve-demo: --data needs a folder');
        process.exit(2);
      }
      o.data = path.resolve(v);
    } else if (a === '--port' || a.startsWith('--port=')) {
      const value = a === '--port' ? argv[++i] : a.slice('--port='.length);
      if (value === undefined || !/^\d{1,5}$/.test(value) || Number(value) > 65535) {
        console.error(`serve-demo: --port needs a number from 0 to 65535, got ${JSON.stringify(value)}`);
        process.exit(2);
      }
      o.port = Number(value);
    } else {
      console.error(`serve-demo: unknown argument ${JSON.stringify(a)}\n${usage()}`);
      process.exit(2);
    }
  }
  return o;
}

/**
 * The Content-Security-Policy for the page: its own origin only (no CDN, no other network), wasm
 * allowed, and the inline import map allowed by its hash (computed from the file as served).
 */
function csp(html) {
  const hashes = [];
  const re = /<script type="importmap">([\s\S]*?)<\/script>/g;
  let m;
  while ((m = re.exec(html))) hashes.push(`'sha256-${crypto.createHash('sha256').update(m[1]).digest('base64')}'`);
  return [
    "default-src 'self'",
    `script-src 'self' 'wasm-unsafe-eval' ${hashes.join(' ')}`.trim(),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "media-src 'self' blob: mediastream:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Maps a request path to a file inside one mount, or returns an HTTP status. */
function resolve(urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch (_) {
    return { status: 400 };
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return { status: 400 };
  // Any '..' or '.' segment is refused outright (no normalising it away).
  if (decoded.split('/').some((seg) => seg === '..' || seg === '.')) return { status: 400 };
  for (const mount of MOUNTS) {
    if (!decoded.startsWith(mount.prefix)) continue;
    let rel = decoded.slice(mount.prefix.length);
    if (rel === '' || rel.endsWith('/')) rel += 'index.html';
    if (mount.only && !mount.only.includes(rel)) return { status: 404 };
    const file = path.resolve(mount.dir, rel);
    if (file !== mount.dir && !file.startsWith(mount.dir + path.sep)) return { status: 400 };
    return { file, mount };
  }
  return { status: 404 };
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}


// ---- the contact service (a child process) ----------------------------------------------------

const opts = parseArgs(process.argv.slice(2));
const HOST = opts.lan ? '0.0.0.0' : '127.0.0.1';
const STATE_FILE = path.join(opts.data, 'demo.json');
const DB_FILE = path.join(opts.data, 'campus-voip.sqlite3');

/** What the demo remembers across restarts (data/demo.json): the people and the settings. */
let state = null;
/** The running service: { child, url, appId, appSecret, token } (null: none / restarting). */
let svc = null;
let starting = null;

function newOpenId() {
  // The shape of a WeChat openId: 'o' + 27 characters of [A-Za-z0-9_-].
  return 'o' + crypto.randomBytes(21).toString('base64url').slice(0, 27);
}

function freshState() {
  return { parents: Object.fromEntries(PARENT_IDS.map((id) => [id, newOpenId()])), maxContacts: DEFAULT_MAX_CONTACTS, clockAdvancedMs: 0, deviceKeys: {} };
}

function loadState() {
  try {
    const s = JSON.parse(fs.readFileSync(STATE_FILE, 'utf8'));
    if (s && s.parents && PARENT_IDS.every((id) => typeof s.parents[id] === 'string')) return { ...freshState(), ...s };
  } catch (_) {
    // none yet, or unreadable: start fresh
  }
  return freshState();
}

function saveState() {
  fs.writeFileSync(STATE_FILE, JSON.stringify(state, null, 2) + '\n');
}

function startService() {
  if (!fs.existsSync(SERVER_BIN)) {
    throw new Error(`${SERVER_BIN} is missing: run \`cargo build -p campus-voip-server\` (make demo does it)`);
  }
  const args = [
    '--dev',
    '--database', 'sqlite://' + DB_FILE,
    '--listen', '127.0.0.1:0',
    '--max-contacts', String(state.maxContacts),
    '--ticket-ttl', String(TICKET_TTL_S),
    '--ring-timeout', String(RING_TIMEOUT_S),
    '--plugin-app-id', PLUGIN_APP_ID,
    'serve',
  ];
  const child = spawn(SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' } });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    if (svc && svc.child === child) process.stderr.write('[service] ' + d);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the service did not start within 30 s:\n' + out + err)), 30000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({
          child,
          url: m[1].replace(/\/$/, ''),
          appId: /app id:\s+(\S+)/.exec(out)[1],
          appSecret: /app secret:\s+(\S+)/.exec(out)[1],
          token: null,
        });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the service exited (${code}) before listening:\n${out}${err}`));
    });
  }).then(async (s) => {
    s.child.on('exit', (code, sig) => {
      if (svc === s && !stopping) {
        console.error(`serve-demo: the contact service stopped (${code ?? sig}); restarting it`);
        svc = null;
        ensureService().catch((e) => console.error('serve-demo: ' + e.message));
      }
    });
    // The clock moves of this demo (the service's --dev clock offset lives in memory only).
    const c = await post(s.url + '/v1/dev/clock', { advanceMs: state.clockAdvancedMs });
    // A restarted service acts at the clock lease it stored (its time never goes back) until
    // its clock passes it, and would stand still until then: move its --dev clock there now
    // (by exactly what it answers, opsNow − now), so calls right after a restart are timed.
    if (c.opsNow > c.now) {
      await post(s.url + '/v1/dev/clock', { advanceMs: c.opsNow - c.now });
      state.clockAdvancedMs += c.opsNow - c.now;
      saveState();
    }
    return s;
  });
}

/** `start` (a promise of a service) becomes the one requests wait for, then the service. */
function track(start) {
  starting = start.then(
    (s) => {
      svc = s;
      starting = null;
      return s;
    },
    (e) => {
      starting = null;
      throw e;
    },
  );
  return starting;
}

function ensureService() {
  if (svc) return Promise.resolve(svc);
  return starting || track(startService());
}

let stopping = false;
function stopService() {
  const s = svc;
  svc = null;
  if (!s || s.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => s.child.kill('SIGKILL'), 5000);
    s.child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    s.child.kill('SIGTERM');
  });
}

/** Open event streams passed through (ended here, cleanly, before the service stops). */
const streams = new Set();

/**
 * Stops the service, runs `between` (e.g. removing the database), starts it again. Requests that
 * come meanwhile wait for the new one; open event streams are ended first (the pages' backends
 * reconnect after their last event id).
 */
function restartService(between = () => undefined) {
  const run = (async () => {
    stopping = true;
    try {
      for (const res of streams) res.end();
      streams.clear();
      await stopService();
      between();
      saveState();
    } finally {
      stopping = false;
    }
    return startService();
  })();
  return track(run);
}

async function post(url, body) {
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return r.json();
}

/** The school server's /wxa query (it holds the app secret: the page never sees it). */
async function school(route, body) {
  const s = await ensureService();
  for (let attempt = 0; ; attempt++) {
    if (!s.token) {
      const r = await (await fetch(`${s.url}/cgi-bin/token?grant_type=client_credential&appid=${s.appId}&secret=${s.appSecret}`)).json();
      s.token = r.access_token;
    }
    const r = await post(`${s.url}/wxa/business/${route}?access_token=${s.token}`, body);
    // A moved clock may have outlived the access token: fetch a new one once.
    if ((r.errcode === 40001 || r.errcode === 42001) && attempt === 0) {
      s.token = null;
      continue;
    }
    return r;
  }
}

/** The device key of a named device (created once, kept in data/demo.json). */
async function deviceKey(name) {
  if (!state.deviceKeys[name]) {
    const s = await ensureService();
    const r = await post(s.url + '/v1/dev/device', { name });
    if (r.errCode !== 0) throw new Error('/v1/dev/device: ' + JSON.stringify(r));
    state.deviceKeys[name] = r.deviceKey;
    saveState();
  }
  return state.deviceKeys[name];
}

// ---- the reverse proxy -------------------------------------------------------------------------

function proxy(req, res) {
  ensureService().then(
    (s) => {
      const target = new URL(s.url);
      const headers = { ...req.headers, host: target.host };
      const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (r) => {
        const h = { ...r.headers };
        // Event streams pass through as they come (no buffering anywhere between).
        if (String(h['content-type'] || '').startsWith('text/event-stream')) {
          h['x-accel-buffering'] = 'no';
          streams.add(res);
          res.on('close', () => streams.delete(res));
        }
        res.writeHead(r.statusCode, h);
        res.flushHeaders();
        r.pipe(res);
        // The service going away (a restart for a new limit, a reset) ends the stream cleanly;
        // the page's backend reconnects after the last event id.
        r.on('aborted', () => res.end());
        r.on('error', () => res.end());
        r.on('close', () => res.end());
      });
      up.on('error', () => {
        if (!res.headersSent) send(res, 502, 'the contact service is not answering\n');
        else res.end();
      });
      req.on('aborted', () => up.destroy());
      res.on('close', () => up.destroy());
      req.pipe(up);
    },
    (e) => send(res, 503, 'the contact service could not start: ' + e.message + '\n'),
  );
}

// ---- [ours] /demo/* ----------------------------------------------------------------------------

function addresses(port) {
  const list = [`http://127.0.0.1:${port}/`];
  if (!opts.lan) return list;
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs || []) if (a.family === 'IPv4' && !a.internal) list.push(`http://${a.address}:${port}/`);
  }
  return list;
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > 65536) {
        reject(new Error('body over 64 KiB'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      try {
        resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {});
      } catch (e) {
        reject(e);
      }
    });
    req.on('error', reject);
  });
}

async function config(port, device) {
  if (opts.local) return { mode: 'local', addresses: addresses(port) };
  await ensureService();
  return {
    mode: 'service',
    parents: state.parents,
    // device.html?device=<name>: another face-pay device, with a key of its own.
    deviceKey: await deviceKey(/^[a-z0-9-]{1,32}$/.test(device || '') ? device : 'canteen-1'),
    maxContacts: state.maxContacts,
    ticketTtlMs: TICKET_TTL_S * 1000,
    voipTokenTtlMs: TOKEN_TTL_MS,
    ringTimeoutMs: RING_TIMEOUT_S * 1000,
    pluginAppId: PLUGIN_APP_ID,
    clockAdvancedMs: state.clockAdvancedMs,
    addresses: addresses(port),
  };
}

async function demo(req, res, url, port) {
  const route = url.pathname.slice('/demo/'.length);
  if (route === 'config' && req.method === 'GET') return sendJson(res, 200, await config(port, url.searchParams.get('device')));
  if (req.method !== 'POST') return send(res, 405, 'method not allowed\n', { Allow: 'POST' });
  const body = await readJson(req);
  if (opts.local) return sendJson(res, 404, { error: 'serve-demo runs with --local: no contact service' });
  if (route.startsWith('school/')) {
    const api = route.slice('school/'.length);
    if (!['getvoipcontactlist', 'getvoipcalllist'].includes(api)) return sendJson(res, 404, { error: 'not a demo query' });
    return sendJson(res, 200, await school(api, body));
  }
  if (route === 'clock') {
    const s = await ensureService();
    const r = await post(s.url + '/v1/dev/clock', { advanceMs: body.advanceMs });
    if (r.errCode === 0) {
      state.clockAdvancedMs += body.advanceMs;
      saveState();
    }
    return sendJson(res, 200, r);
  }
  if (route === 'tick') {
    const s = await ensureService();
    return sendJson(res, 200, await post(s.url + '/v1/dev/tick', {}));
  }
  if (route === 'limit') {
    // The service takes its limit at start: restart it on the same database with the new one.
    // The service checks the number (it refuses to start otherwise); then the old one comes back.
    const before = state.maxContacts;
    state.maxContacts = body.maxContacts;
    try {
      await restartService();
    } catch (e) {
      state.maxContacts = before;
      await restartService();
      const why = /error: ([^\n]*)/.exec(e.message);
      return sendJson(res, 200, { errCode: 1004, errMsg: 'maxContacts:fail ' + (why ? why[1] : 'the service refused it') });
    }
    saveState();
    return sendJson(res, 200, { errCode: 0, errMsg: 'maxContacts:ok', maxContacts: state.maxContacts });
  }
  if (route === 'reset') {
    await restartService(() => {
      for (const f of fs.readdirSync(opts.data)) if (f.startsWith('campus-voip.sqlite3')) fs.rmSync(path.join(opts.data, f), { force: true });
      state = freshState();
      saveState();
    });
    return sendJson(res, 200, { errCode: 0, errMsg: 'reset:ok' });
  }
  return sendJson(res, 404, { error: 'no such demo route' });
}

function handle(req, res) {
  let url;
  try {
    url = new URL(req.url, 'http://localhost');
  } catch (_) {
    send(res, 400, 'bad request\n');
    return;
  }
  const p = url.pathname;
  if (!opts.local && (PROXIED.some((x) => p.startsWith(x)) || PROXIED_EXACT.includes(p))) return proxy(req, res);
  if (p.startsWith('/demo/')) {
    demo(req, res, url, server.address().port).catch((e) => {
      console.error('serve-demo: ' + p + ': ' + e.message);
      if (!res.headersSent) sendJson(res, 500, { error: e.message });
    });
    return;
  }
  if (opts.local && (p === '/healthz' || p === '/readyz')) return send(res, 200, 'ok\n');
  serveStatic(req, res);
}


function serveStatic(req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    return;
  }
  let urlPath;
  try {
    urlPath = new URL(req.url, `http://${HOST}`).pathname;
  } catch (_) {
    send(res, 400, 'bad request\n');
    return;
  }
  const r = resolve(urlPath);
  if (r.status) {
    send(res, r.status, r.status === 404 ? 'not found\n' : 'bad request\n');
    return;
  }
  fs.stat(r.file, (err, st) => {
    if (err || !st.isFile()) {
      const hint = r.mount.hint && !fs.existsSync(r.mount.dir) ? ` (${r.mount.dir} is missing: ${r.mount.hint})` : '';
      if (hint) console.error(`serve-demo: ${urlPath} not found${hint}`);
      send(res, 404, `not found${hint}\n`);
      return;
    }
    const type = MIME[path.extname(r.file).toLowerCase()] || 'application/octet-stream';
    const headers = {
      'Content-Type': type,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    };
    if (type.startsWith('text/html')) {
      fs.readFile(r.file, 'utf8', (e, html) => {
        if (e) return send(res, 500, 'read error\n');
        const body = Buffer.from(html);
        res.writeHead(200, { ...headers, 'Content-Length': body.length, 'Content-Security-Policy': csp(html) });
        res.end(req.method === 'HEAD' ? undefined : body);
      });
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': st.size });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = fs.createReadStream(r.file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  });
}

if (!opts.local) {
  fs.mkdirSync(opts.data, { recursive: true });
  state = loadState();
  saveState();
}
const server = http.createServer(handle);
server.on('error', (e) => {
  console.error(
    e.code === 'EADDRINUSE'
      ? `serve-demo: port ${opts.port} on ${HOST} is in use; stop what uses it or pass --port <another>`
      : `serve-demo: ${e.message}`,
  );
  process.exit(1);
});

async function main() {
  if (!opts.local) {
    try {
      await ensureService();
    } catch (e) {
      console.error('serve-demo: ' + e.message + '\n  (or run the demo without the service: node scripts/serve-demo.mjs --local)');
      process.exit(1);
    }
  }
  server.listen(opts.port, HOST, () => {
    const actual = server.address().port;
    console.log(`campus-voip demo: http://127.0.0.1:${actual}/`);
    if (opts.lan) {
      for (const a of addresses(actual).slice(1)) console.log(`  on the network: ${a}  (a phone: ${a}phone.html?parent=p2; the overview has QR codes)`);
      console.log('  --lan: anyone on this network can use this demo, which runs the service in --dev (sessions for any openId)');
    }
    console.log(
      opts.local
        ? '  no contact service (--local): the pages run on the in-page local backend'
        : `  contact service --dev at ${svc.url} behind it (SQLite ${path.relative(process.cwd(), DB_FILE) || DB_FILE}); /healthz answers here`,
    );
    if (!fs.existsSync(path.join(ROOT, 'dist', 'npm', 'index.mjs'))) {
      console.log('  note: dist/npm/ is not built yet; run `node scripts/build.mjs` (make demo does it)');
    }
    console.log('  Ctrl+C to stop');
  });
}
main();

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    stopping = true;
    server.close();
    server.closeAllConnections();
    stopService().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  });
}
process.on('exit', () => {
  if (svc && svc.child.exitCode === null) svc.child.kill('SIGKILL');
});
