// The event log: every plugin event and API result, newest first (saved in localStorage).
import { DEVICE, DEVICE2, PARENTS } from './people.js';
import { DEMO, KEYS, LOG_LIMIT, now, S, saved } from './state.js';
import { $, fmtDuration, fmtLogTime, h, shortId } from './dom.js';
import { studentName } from './who.js';

export function personaOf(id) {
  return [DEVICE, DEVICE2, DEMO, ...PARENTS].find((p) => p.id === id) || DEMO;
}

export function plain(v) {
  if (v === undefined) return undefined;
  return JSON.parse(
    JSON.stringify(v, (k, x) => {
      if (x instanceof Error) return { name: x.name, errCode: x.errCode, code: x.code, errMsg: x.errMsg || x.message };
      return x;
    }),
  );
}

export function addLog(who, kind, name, summary, data) {
  const entry = { t: now(), who: who.id, kind, name, summary, data: plain(data) };
  S.log.push(entry);
  if (S.log.length > LOG_LIMIT) S.log.splice(0, S.log.length - LOG_LIMIT);
  saved.set(KEYS.log, S.log);
  if (S.ui.logList) {
    S.ui.logList.prepend(logItem(entry));
    while (S.ui.logList.childElementCount > LOG_LIMIT) S.ui.logList.lastElementChild.remove();
    applyLogFilter();
  }
}

/** roomId:who of the calls whose `calling` ticks are already in the log (one line per call). */
export const callingLogged = new Set();

export function logEvent(who, ev) {
  if (ev.eventName === 'calling') {
    // Once a second while connected: the log keeps the first, the timer shows the rest.
    const k = ev.roomId + ':' + who.id;
    if (callingLogged.has(k)) return;
    callingLogged.add(k);
    addLog(who, 'event', 'calling', 'every second while connected (only the first is logged; the timer shows keepTime)', ev);
    return;
  }
  let summary = '';
  const d = ev.data || {};
  if (ev.eventName === 'bindContact') summary = `type “${d.type}” for ${studentName(d.userId)}`;
  else if (ev.eventName === 'cancelVoip') summary = `status ${d.status} · room ${shortId(ev.roomId || '')}`;
  else if (ev.eventName === 'endVoip') {
    summary = `call ended after ${fmtDuration(d.keepTime || 0)} · ${d.callerName} → ${d.listenerName}`;
    S.lastEnd = d;
  }
  addLog(who, 'event', ev.eventName, summary, ev);
}

export function logItem(e) {
  const who = personaOf(e.who);
  return h(
    'li',
    { class: 'entry kind-' + e.kind, 'data-who': e.who },
    h(
      'div',
      { class: 'meta' },
      h('time', { text: fmtLogTime(e.t) }),
      h('span', { class: 'who', style: `--c:${who.color}`, text: who.name }),
      h('span', { class: 'kind', text: e.kind === 'event' ? 'event' : e.kind === 'ok' ? 'result' : e.kind === 'fail' ? 'error' : 'note' }),
    ),
    h('div', { class: 'line' }, h('b', { text: e.name }), ' ', h('span', { text: e.summary })),
    e.data === undefined ? null : h('details', null, h('summary', { text: 'data' }), h('pre', { text: JSON.stringify(e.data, null, 2) })),
  );
}

export function applyLogFilter() {
  const f = S.logFilter;
  for (const li of S.ui.logList.children) li.hidden = f !== 'all' && li.dataset.who !== f;
}


export function buildLog() {
  const root = $('log');
  const filter = h(
    'select',
    {
      'aria-label': 'Show events of',
      onchange: (ev) => {
        S.logFilter = ev.target.value;
        applyLogFilter();
      },
    },
    h('option', { value: 'all', text: 'everyone' }),
    [DEVICE, ...PARENTS, DEMO].map((p) => h('option', { value: p.id, text: p.phone ? `${p.name} (${p.phone})` : p.name })),
  );
  const list = h('ol', { class: 'entries', reversed: true });
  root.append(
    h(
      'header',
      { class: 'panel-head' },
      h('h2', { id: 'log-title' }, 'Event log'),
      h('p', { class: 'muted', text: 'Every plugin event (onVoipEvent) and API result, newest first, with the demo clock’s time.' }),
      h(
        'div',
        { class: 'log-tools' },
        h('label', null, 'Show ', filter),
        h(
          'button',
          {
            type: 'button',
            class: 'small ghost',
            onclick: () => {
              S.log = [];
              saved.set(KEYS.log, S.log);
              list.replaceChildren();
            },
          },
          'Clear log',
        ),
      ),
    ),
    list,
  );
  S.ui.logList = list;
  for (const e of S.log) list.prepend(logItem(e));
}
