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
