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
 * The event stream's transport: a GET whose body is read as it arrives. Resolves
 * `{ status, read, abort }` once the headers are in: `read()` resolves the next chunk of text,
 * or undefined at the end; `abort()` closes the connection.
 */
export function fetchStream(url, headers) {
  const ctl = typeof AbortController === 'function' ? new AbortController() : null;
  return fetch(url, { method: 'GET', headers, signal: ctl ? ctl.signal : undefined }).then((res) => {
    const reader = res.body ? res.body.getReader() : null;
    const dec = new TextDecoder();
    return {
      status: res.status,
      read: () => (reader ? reader.read().then((r) => (r.done ? undefined : dec.decode(r.value, { stream: true }))) : Promise.resolve(undefined)),
      abort: () => ctl && ctl.abort(),
    };
  });
}
