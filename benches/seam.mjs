// The seam benchmark (issue 7): how long a hostile argument takes to refuse, warm (median of 30)
// and first call. Run after `make build`: `node benches/seam.mjs`.
import * as cv from '../dist/npm/node.mjs';
const b = await cv.createLocalBackend({ dev: true });
const m = await cv.createVoipPlugin({ backend: b, openId: 'mum' });
const s = 'x'.repeat(64); const a3 = Array(128).fill(s), a2 = Array(128).fill(a3), a1 = Array(128).fill(a2);
const bomb = {}; for (let i = 0; i < 128; i++) bomb['k' + i] = a1;
for (const [name, f] of [['inspect(bomb)', () => m.inspectBindContactPath(bomb)], ['delete(openidList: a1)', () => m.deleteVoipBindContact({ userId: 's', openidList: a1 })], ['list({extra: bomb})', () => m.getVoipBindContactList({ userId: 's', extra: bomb })]]) {
  const ts = [];
  for (let i = 0; i < 30; i++) { const t = process.hrtime.bigint(); await f().catch(() => {}); ts.push(Number(process.hrtime.bigint() - t) / 1e6); }
  ts.sort((x, y) => x - y); console.log(name, 'median ms', ts[15].toFixed(3), 'first', ts[29].toFixed(3));
}
