#!/usr/bin/env node
// The open curve's worker (run by benches/shim.mjs, one fresh process per figure):
//   --build --impl pkg|pure --dir DIR --students N   fills DIR through the API on fileStorage(DIR)
//   --impl pkg|pure --dir DIR                        prints the time createLocalBackend takes to open it
//   --raw --dir DIR                                  prints the time the adapter alone takes to read it all
// Both implementations use the package's fileStorage adapter (the adapter is not what is compared).
// While building, fsync is a no-op (the directory is a benchmark cache, not data): the files and
// their contents are exactly what the API writes.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const impl = arg('--impl', 'pkg');
const dir = arg('--dir');
const pkgFile = path.resolve(arg('--pkg', path.join(HERE, '../dist/npm/node.mjs')));
const pkg = await import(pathToFileURL(pkgFile).href);
const api = impl === 'pure' ? await import(pathToFileURL(path.join(HERE, 'purejs/index.mjs')).href) : pkg;
const DONE = path.join(dir, '.bench-complete');

if (args.includes('--build')) {
  const students = Number(arg('--students'));
  fs.rmSync(dir, { recursive: true, force: true });
  const realFsync = fs.fsyncSync;
  fs.fsyncSync = () => {};
  syncBuiltinESMExports();
  const backend = await api.createLocalBackend({ storage: pkg.fileStorage(dir), maxContacts: 100 });
  // Each student: an administrator and one ordinary contact, both consented.
  for (let i = 0; i < students; i++) {
    const a = await api.createVoipPlugin({ backend, openId: 'adm_' + i });
    await a.authorizeVoip();
    await a.bindVoipAdminContact({ userId: 'student-' + i });
    const link = await a.getBindContactPath({ userId: 'student-' + i, userName: '学生 ' + i, userAvatar: '' });
    const m = await api.createVoipPlugin({ backend, openId: 'par_' + i });
    await m.authorizeVoip();
    const r = await m.acceptBindContactPath(link);
    if (r.type !== 'success') throw new Error('setup: ' + r.type);
  }
  backend.close();
  fs.fsyncSync = realFsync;
  syncBuiltinESMExports();
  fs.writeFileSync(DONE, JSON.stringify({ students, impl, at: new Date().toISOString() }));
  console.log(JSON.stringify({ files: fs.readdirSync(dir).length - 1 }));
} else if (args.includes('--raw')) {
  // The adapter alone: list the keys and read every value, as an open must (no decoding).
  const t0 = performance.now();
  const st = pkg.fileStorage(dir);
  let bytes = 0;
  for (const k of st.keys()) bytes += st.get(k).length;
  console.log(JSON.stringify({ openMs: performance.now() - t0, bytes }));
} else {
  // Load the wasm (or the hash library) first, on an empty store: what is timed is the open.
  (await api.createLocalBackend({ storage: api.memoryStorage() })).close();
  const t0 = performance.now();
  const backend = await api.createLocalBackend({ storage: pkg.fileStorage(dir), maxContacts: 100 });
  const t1 = performance.now();
  const r = await backend.getVoipContactList({ user_id: 'student-0' });
  const t2 = performance.now();
  if (r.errcode !== 0) throw new Error('student-0 missing after open');
  backend.close();
  console.log(JSON.stringify({ openMs: t1 - t0, firstMs: t2 - t1 }));
}
