// Calls over the contact service (issue 10, "Measure"): ring-to-listener latency on loopback and
// what idle event streams cost the service.
//
//   make bench-calls            (builds `--profile server`; CALLS=<n> STREAMS=<n> to change sizes)
//
// 1. Latency: a device (its own http backend) calls a parent whose instance listens on another
//    http backend (its own SSE stream). For each call: from initByCaller resolving to the
//    parent's incomingVoip arriving (negative when it arrived first), and from just before
//    initByCaller to the arrival; then the device hangs up and both settle. Median, p99, max.
// 2. Streams: STREAMS idle SSE connections (one session each, raw node:http, no parser), the
//    service's RSS before and after (/proc/<pid>/status), per stream.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.CAMPUS_VOIP_SERVER_BIN ??= path.join(ROOT, 'target', 'server', 'campus-voip-server');
const { startService } = await import(pathToFileURL(path.join(ROOT, 'tests/js/service.mjs')).href);
const cv = await import(pathToFileURL(path.join(ROOT, 'dist/npm/node.mjs')).href);

const CALLS = Number(process.env.CALLS || 300);
const STREAMS = Number(process.env.STREAMS || 10000);

const q = (xs, p) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};
const ms = (x) => x.toFixed(2) + ' ms';
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;

const svc = await startService();
// On PostgreSQL (CAMPUS_VOIP_TEST_PG, `make bench-pg`) with CAMPUS_VOIP_TEST_REPLICAS=2 the
// parent listens on a second replica: the ring crosses replicas (LISTEN/NOTIFY).
const parents = process.env.CAMPUS_VOIP_TEST_REPLICAS === '2' ? await startService([], { replicaOf: svc }) : svc;
console.log(`service ${process.env.CAMPUS_VOIP_SERVER_BIN} at ${svc.url}${parents === svc ? '' : ` and a replica at ${parents.url} (the parent's)`}${process.env.CAMPUS_VOIP_TEST_PG ? ' on PostgreSQL' : ' on SQLite'}`);

// ---- 1. ring latency ----------------------------------------------------------------------
const mum = await cv.createVoipPlugin({ backend: await cv.createHttpBackend({ url: parents.url, getSession: () => svc.session('o_mum') }) });
await mum.authorizeVoip();
await mum.bindVoipAdminContact({ userId: 's1' });
const deviceBackend = await cv.createHttpBackend({ url: svc.url, deviceKey: await svc.device('gate-bench') });
const device = await cv.createVoipPlugin({ backend: deviceBackend });
let arrived = null;
mum.onVoipEvent((e) => {
  if (e.eventName === 'incomingVoip' && arrived) arrived(performance.now());
});
device.onVoipEvent(() => undefined);
await new Promise((r) => setTimeout(r, 300)); // both streams open
const fromResolve = [];
const fromStart = [];
for (let i = 0; i < CALLS; i++) {
  const voipToken = await deviceBackend.issueVoipToken({ userId: 's1' });
  const got = new Promise((r) => (arrived = r));
  const t0 = performance.now();
  const r = await device.initByCaller({ roomType: 'voice', caller: { id: 's1' }, listener: { id: 'o_mum' }, voipToken });
  const t1 = performance.now();
  if (!r.isSuccess) throw new Error('call refused: ' + JSON.stringify(r));
  const t2 = await got;
  fromResolve.push(t2 - t1);
  fromStart.push(t2 - t0);
  device.forceHangUpVoip(r.roomId);
  await deviceBackend.settle();
  await mum._settings.backend.settle();
}
console.log(`\nring → incomingVoip over the service, ${CALLS} calls (loopback, SSE${parents === svc ? '' : ', device and parent on different replicas'})`);
console.log(`  from initByCaller resolving: median ${ms(q(fromResolve, 0.5))}, p99 ${ms(q(fromResolve, 0.99))}, max ${ms(Math.max(...fromResolve))}`);
console.log(`  from initByCaller called:    median ${ms(q(fromStart, 0.5))}, p99 ${ms(q(fromStart, 0.99))}, max ${ms(Math.max(...fromStart))}`);
deviceBackend.close();
mum._settings.backend.close();

// ---- 2. idle streams ------------------------------------------------------------------------
if (STREAMS === 0) {
  if (parents !== svc) await parents.stop();
  await svc.stop();
  process.exit(0);
}
const pid = svc.pid;
const sessions = [];
for (let i = 0; i < STREAMS; i++) sessions.push(await svc.session('o_p' + i));
await new Promise((r) => setTimeout(r, 500));
const before = rss(pid);
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const u = new URL(svc.url + '/v1/events');
const open = [];
let ready = 0;
await new Promise((resolve, reject) => {
  let started = 0;
  const next = () => {
    while (started < STREAMS && started - ready < 200) {
      const req = http.get({ host: u.hostname, port: u.port, path: u.pathname, agent, headers: { Authorization: 'Bearer ' + sessions[started] } }, (res) => {
        if (res.statusCode !== 200) return reject(new Error('stream answered ' + res.statusCode));
        res.once('data', () => {
          ready++;
          if (ready === STREAMS) resolve();
          else next();
        });
      });
      req.on('error', reject);
      open.push(req);
      started++;
    }
  };
  next();
});
await new Promise((r) => setTimeout(r, 1000));
const after = rss(pid);
console.log(`\n${STREAMS} idle event streams (one parent session each) held by one service process`);
console.log(`  RSS ${(before / 2 ** 20).toFixed(1)} MiB → ${(after / 2 ** 20).toFixed(1)} MiB: ${((after - before) / STREAMS / 1024).toFixed(1)} KiB per stream`);
for (const r of open) r.destroy();
await svc.stop();
process.exit(0);
