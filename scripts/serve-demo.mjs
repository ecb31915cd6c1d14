#!/usr/bin/env node
// Serves the browser demo on 127.0.0.1 (the embedded default: nothing to install).
//   /          www-demo/            the page (plain HTML/CSS/JS modules)
//   /pkg/      dist/npm/            the built npm package (run `node scripts/build.mjs` first)
//   /vendor/   qrcode-generator's ESM file (from tools/node_modules, installed by bootstrap.sh)
// Usage: node scripts/serve-demo.mjs [--port 8080]   (--port 0 picks a free port)
// Prints the address on its first line of output: `campus-voip demo: http://127.0.0.1:<port>/`.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';

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

function parseArgs(argv) {
  let port = 8080;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    let value;
    if (a === '--port') value = argv[++i];
    else if (a.startsWith('--port=')) value = a.slice('--port='.length);
    else if (a === '-h' || a === '--help') {
      console.log('usage: node scripts/serve-demo.mjs [--port N]   (default 8080; 0 = any free port)');
      process.exit(0);
    } else {
      console.error(`serve-demo: unknown argument ${JSON.stringify(a)} (usage: --port N)`);
      process.exit(2);
    }
    if (value === undefined || !/^\d{1,5}$/.test(value) || Number(value) > 65535) {
      console.error(`serve-demo: --port needs a number from 0 to 65535, got ${JSON.stringify(value)}`);
      process.exit(2);
    }
    port = Number(value);
  }
  return { port };
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

function handle(req, res) {
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

const { port } = parseArgs(process.argv.slice(2));
const server = http.createServer(handle);
server.on('error', (e) => {
  console.error(
    e.code === 'EADDRINUSE'
      ? `serve-demo: port ${port} on ${HOST} is in use; stop what uses it or pass --port <another>`
      : `serve-demo: ${e.message}`,
  );
  process.exit(1);
});
server.listen(port, HOST, () => {
  const actual = server.address().port;
  console.log(`campus-voip demo: http://${HOST}:${actual}/`);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'npm', 'index.mjs'))) {
    console.log('  note: dist/npm/ is not built yet; run `node scripts/build.mjs` (make demo does it)');
  }
  console.log('  Ctrl+C to stop');
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
