// What the service benchmarks (benches/service.mjs, benches/pg.mjs) prepare their data with:
// requests over node:http with keep-alive (Node's fetch is 2–3× slower here), a pool running
// them PREP_CONCURRENCY at a time, and the median of the figures.
import http from 'node:http';

export const PREP_CONCURRENCY = 32;

const agent = new http.Agent({ keepAlive: true, maxSockets: PREP_CONCURRENCY });

/** POST `body` as JSON to `srv.url + route` (with a parent's `session`); resolves the JSON reply. */
export function post(srv, route, body, session) {
  const data = JSON.stringify(body);
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) };
  if (session) headers.authorization = 'Bearer ' + session;
  return new Promise((resolve, reject) => {
    const req = http.request(srv.url + route, { method: 'POST', agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (e) {
          reject(new Error(`${route}: HTTP ${res.statusCode}, not JSON`));
        }
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** A plugin API over the service (`/v1/<api>`): its result, or an error. */
export async function plugin(srv, api, body, session) {
  const j = await post(srv, '/v1/' + api, body, session);
  if (j.errCode !== 0) throw new Error(`${api}: ${JSON.stringify(j)}`);
  return j.result;
}

/** Runs `f(i)` for i in [from, to) with `PREP_CONCURRENCY` at a time; resolves the results. */
export async function pool(from, to, f) {
  const out = new Array(to - from);
  let next = from;
  const worker = async () => {
    while (next < to) {
      const i = next++;
      out[i - from] = await f(i);
    }
  };
  await Promise.all(Array.from({ length: PREP_CONCURRENCY }, worker));
  return out;
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
