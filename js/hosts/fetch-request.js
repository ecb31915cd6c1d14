// The http backend's transport outside a Mini Program: fetch, aborted after `init.timeout` ms.
// Resolves `{ status, json }` (json: the parsed body, undefined when it is not JSON); rejects
// when no answer arrived (refused, offline, DNS, CORS, timeout).
export function fetchRequest(url, init) {
  const ctl = typeof AbortController === 'function' ? new AbortController() : null;
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => {
      if (ctl) ctl.abort();
      reject(new Error('no answer within ' + init.timeout + ' ms'));
    }, init.timeout);
  });
  const work = fetch(url, { method: init.method, headers: init.headers, body: init.body, signal: ctl ? ctl.signal : undefined }).then((res) =>
    res.text().then((text) => {
      let json;
      try {
        json = JSON.parse(text);
      } catch (_) {
        // not JSON: the backend says BAD_RESPONSE
      }
      return { status: res.status, json };
    }),
  );
  const stop = () => clearTimeout(timer);
  return Promise.race([work, late]).then(
    (r) => (stop(), r),
    (e) => {
      stop();
      throw e;
    },
  );
}

/**
 * The event stream's transport: Server-Sent Events over a fetch whose body is read as it
 * arrives. Resolves `{ status, next, abort }` once the headers are in: `next()` resolves the
 * next message `{ id, event, data }` (comments skipped), or undefined at the end; `abort()`
 * closes the connection. (Here, not in the http backend: a Mini Program long-polls instead.)
 */
export function fetchStream(url, headers) {
  const ctl = typeof AbortController === 'function' ? new AbortController() : null;
  return fetch(url, { method: 'GET', headers, signal: ctl ? ctl.signal : undefined }).then((res) => {
    const reader = res.body ? res.body.getReader() : null;
    const dec = new TextDecoder();
    let buf = '';
    const next = async () => {
      for (;;) {
        const i = buf.indexOf('\n\n');
        if (i >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const m = {};
          for (const line of block.split('\n')) {
            const c = line.indexOf(':');
            if (c <= 0) continue; // a comment (keep-alive) or a field without a value
            const field = line.slice(0, c);
            const v = line.slice(c + 1).replace(/^ /, '');
            if (field === 'id') m.id = Number(v);
            else if (field === 'event') m.event = v;
            else if (field === 'data') m.data = m.data === undefined ? v : m.data + '\n' + v;
          }
          if (m.id !== undefined || m.data !== undefined) return m;
          continue;
        }
        const r = reader ? await reader.read() : { done: true };
        if (r.done) return undefined;
        buf += dec.decode(r.value, { stream: true }).replace(/\r\n?/g, '\n');
      }
    };
    return { status: res.status, next, abort: () => ctl && ctl.abort() };
  });
}
