// Preloaded (node --require) into the miniprogram-ci compiler process and, through execArgv,
// into every process it forks: no TCP/TLS connection and no DNS lookup can leave the machine.
// miniprogram-ci asks servicewechat.com for its file-extension allow-list and falls back to its
// built-in list when that fails; the blocked attempts are recorded (stderr and
// globalThis.__blockedNetwork) so the test can show that the compile ran off-line.
'use strict';
const net = require('node:net');
const dns = require('node:dns');

const blocked = (globalThis.__blockedNetwork = globalThis.__blockedNetwork || []);

function refuse(what) {
  blocked.push(what);
  process.stderr.write(`[no-network] blocked ${what}\n`);
  return Object.assign(new Error(`network disabled by tests/miniprogram (${what})`), { code: 'ENETUNREACH' });
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  let opts = args[0];
  if (Array.isArray(opts)) opts = opts[0]; // internal normalized form
  if (opts && typeof opts === 'object' && opts.path) return connect.apply(this, args); // local pipe
  if (typeof opts === 'string' && isNaN(Number(opts))) return connect.apply(this, args); // pipe path
  const host = opts && typeof opts === 'object' ? opts.host || opts.hostname || 'localhost' : args[1] || 'localhost';
  const port = opts && typeof opts === 'object' ? opts.port : opts;
  const err = refuse(`connect ${host}:${port}`);
  process.nextTick(() => this.destroy(err));
  return this;
};

const refuseLookup = (host, options, cb) => {
  const callback = typeof options === 'function' ? options : cb;
  const err = refuse(`dns ${host}`);
  err.code = 'ENOTFOUND';
  process.nextTick(() => callback(err));
};
dns.lookup = refuseLookup;
for (const m of ['resolve', 'resolve4', 'resolve6', 'resolveAny']) {
  dns[m] = (host, ...rest) => refuseLookup(host, undefined, rest[rest.length - 1]);
}
if (dns.promises) {
  dns.promises.lookup = (host) => Promise.reject(refuse(`dns ${host}`));
}
