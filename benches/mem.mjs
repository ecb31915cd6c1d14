#!/usr/bin/env node
// The memory check (run by benches/shim.mjs; alone: `node --expose-gc benches/mem.mjs --impl pkg
// --cycles 10000`): create / use / close a backend and three instances (admin, parent, device)
// over and over, and print the wasm memory (every instance's exports.memory, found by wrapping
// WebAssembly.instantiate and WebAssembly.Instance before the package loads), rss, heapUsed,
// external and arrayBuffers after a warm-up, after 1 000 and after all cycles (GC first). The
// wasm memory never shrinks, so growth there is a leak inside the core or the glue.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const impl = arg('--impl', 'pkg');
const cycles = Number(arg('--cycles', 10_000));
const pkgFile = path.resolve(arg('--pkg', path.join(HERE, '../dist/npm/node.mjs')));

const memories = new Set();
const capture = (inst) => {
  const m = inst && inst.exports && inst.exports.memory;
  if (m instanceof WebAssembly.Memory) memories.add(m);
};
const realInstantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async function (...a) {
  const r = await realInstantiate.apply(this, a);
  capture(r instanceof WebAssembly.Instance ? r : r.instance);
  return r;
};
const RealInstance = WebAssembly.Instance;
WebAssembly.Instance = new Proxy(RealInstance, {
  construct(target, a, newTarget) {
    const inst = Reflect.construct(target, a, newTarget);
    capture(inst);
    return inst;
  },
});

const api = await import(pathToFileURL(impl === 'pure' ? path.join(HERE, 'purejs/index.mjs') : pkgFile).href);

async function cycle(i) {
  const backend = await api.createLocalBackend({ storage: api.memoryStorage(), dev: true });
  const admin = await api.createVoipPlugin({ backend, openId: 'o_admin' });
  const parent = await api.createVoipPlugin({ backend, openId: 'o_parent' });
  const device = await api.createVoipPlugin({ backend });
  const off = parent.onVoipEvent(() => {});
  await admin.authorizeVoip();
  await parent.authorizeVoip();
  const userId = 'student-' + i;
  await admin.bindVoipAdminContact({ userId });
  const link = await admin.getBindContactPath({ userId, userName: '学生', userAvatar: '' });
  await parent.inspectBindContactPath(link);
  const r = await parent.acceptBindContactPath(link + '&from=group');
  if (r.type !== 'success') throw new Error('cycle ' + i + ': ' + r.type);
  await admin.getVoipBindContactList();
  await admin.getVoipBindContactList({ userId });
  await admin.transerAdmin({ userId, newAdminOpenid: 'o_admin' });
  await backend.getVoipContactList({ user_id: userId });
  await admin.bindVoipAdminContact({ userId: 5 }).catch(() => {}); // an error path too
  const voipToken = await backend.issueVoipToken({ userId });
  const call = await device.initByCaller({ roomType: 'voice', caller: { id: userId }, listener: { id: 'o_parent' }, voipToken });
  if (!call.isSuccess) throw new Error('cycle ' + i + ': call refused ' + call.errMsg);
  device.forceHangUpVoip(call.roomId);
  await admin.deleteVoipBindContact({ userId, openidList: ['o_parent'] });
  off();
  for (const p of [admin, parent, device]) if (typeof p.dispose === 'function') p.dispose();
  backend.close();
}

function sample(label, done) {
  if (typeof gc === 'function') {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  let wasm = 0;
  for (const mem of memories) wasm += mem.buffer.byteLength;
  return { label, cycles: done, wasm, instances: memories.size, rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

const out = [];
let done = 0;
for (; done < 10; done++) await cycle(done);
out.push(sample('start', done));
const marks = [Math.min(1000, cycles), cycles];
for (const mark of marks) {
  for (; done < mark; done++) await cycle(done);
  if (out[out.length - 1].cycles !== done) out.push(sample('after', done));
}
console.log(JSON.stringify({ impl, gc: typeof gc === 'function', samples: out }));
