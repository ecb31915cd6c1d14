// campus-voip browser demo: three parent phones, one face-pay device, a live picture of who can
// call whom, and an event log. On the contact service (serve-demo.mjs runs it in --dev behind
// this page) each phone and the device has its own backend connection and identity, so each can
// also be its own page (phone.html?parent=p2, device.html) in another window or on another
// machine; with ?backend=local everything runs in this page on one local backend (saved in
// localStorage). Plain DOM, no framework.
import { createHttpBackend, createLocalBackend, createVoipPlugin, webStorage } from 'campus-voip';
import qrcode from 'qrcode-generator';
import { DEVICE, PARENTS, ROSTER, UNKNOWN_LOOK, avatarUrl, newOpenId, studentById } from './people.js';
import { explainBind, explainCallRefusal, explainEnding, explainError, previewNote } from './explain.js';
import { pageSignal, relaySignal, startMedia } from './rtc.js';
import { ringTone } from './ring.js';

// ---- settings and saved state ----------------------------------------------------------------

/** Every localStorage key of this demo starts with this; Reset removes exactly these. */
const PREFIX = 'campus-voip-demo/';
const KEYS = {
  parents: PREFIX + 'parent-openids',
  offset: PREFIX + 'clock-offset-ms',
  max: PREFIX + 'max-contacts',
  log: PREFIX + 'event-log',
};
/** Older versions of this page kept their own copy of the phones' consents here. */
const LEGACY_CONSENT_KEY = PREFIX + 'consent';
const REGISTRY_NAMESPACE = PREFIX + 'registry/';
// The lifetimes this demo configures its backend with (createLocalBackend options). The page
// only shows them; whether a link or a token has expired is always the core's answer.
const TICKET_TTL_MS = 72 * 3600 * 1000;
const TOKEN_TTL_MS = 5 * 60 * 1000;
const DEFAULT_MAX_CONTACTS = 3;
const PLUGIN_APP_ID = 'wx0123456789abcdef'; // a made-up plugin AppID: share paths start __plugin__/<it>/
const LOG_LIMIT = 300;
const BIND_END_PAGE = { key: 'BindContact', url: '/pages/family/family', options: 'from=bindContact', routeType: 'redirectTo' };
const CALL_END_PAGE = { key: 'Call', url: '/pages/call-ended/call-ended', options: 'from=facepay', routeType: 'reLaunch' };
const DEMO = { id: 'demo', name: 'Demo', color: '#64748b' };
/** Which screen this page is: the overview (index.html), one phone, or the device. */
const VIEW = document.body.dataset.view || 'overview';
const QUERY = new URLSearchParams(location.search);

const saved = {
  get(key, fallback) {
    try {
      const v = localStorage.getItem(key);
      return v === null ? fallback : JSON.parse(v);
    } catch (_) {
      return fallback;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch (_) {
      showBanner('This browser refused to save the demo’s settings (storage full or blocked). The demo keeps working until you reload.');
    }
  },
};

const S = {
  backend: null,
  device: null,
  phones: PARENTS.map((p) => ({
    p,
    openId: '',
    inst: null,
    studentId: ROSTER[0].userId,
    consent: null, // getVoipConsent().granted at the last refresh (null: not read yet)
    share: null, // { path, userId, inspect }: inspect = inspectBindContactPath(path) on this phone
    bind: null, // { path, inspect, result, nav, via }
    notice: null, // { tone, title, what, next, raw }
    list: [], // getVoipBindContactList()
    pendingNav: null,
    here: false, // this page shows (and connects) this phone
    call: null, // { roomId, callerId, callerName, roomType, businessType, phase, keepTime, ending, billed }
    media: null, // the running startMedia() handle
    ui: {},
  })),
  contacts: new Map(), // userId -> [{ open_id, role }] (developer query)
  offset: 0,
  max: DEFAULT_MAX_CONTACTS,
  mode: 'local', // 'service': the contact service behind serve-demo.mjs; 'local': in this page
  cfg: null, // GET /demo/config (service mode)
  deviceHere: false,
  deviceBackend: null,
  scan: null, // { userId, token, at, used, refused }
  // { roomId, studentId, parentId, phase: 'ringing' | 'connected', keepTime, chargeType, businessType, roomType }
  call: null,
  media: null, // the device's running startMedia() handle
  callLog: [], // getVoipCallList rows of the student last scanned (newest first)
  logStudent: null,
  deviceResult: null,
  deviceNav: null,
  lastEnd: null,
  selParent: PARENTS[0].id,
  businessType: 0,
  roomType: 'voice',
  log: [],
  logFilter: 'all',
  ui: {},
};

const now = () => Date.now() + S.offset;

// ---- small DOM helpers -----------------------------------------------------------------------

function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  setProps(el, props);
  for (const c of kids.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function svg(tag, props, ...kids) {
  const el = document.createElementNS(SVG_NS, tag);
  setProps(el, props);
  for (const c of kids.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

function setProps(el, props) {
  if (!props) return;
  for (const [k, v] of Object.entries(props)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function avatarImg(look, size, alt) {
  return h('img', { class: 'avatar', src: avatarUrl(look), width: size, height: size, alt: alt || '' });
}

const $ = (id) => document.getElementById(id);

function fmtDateTime(ms) {
  return new Date(ms).toLocaleString('en-GB', { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}
function fmtLogTime(ms) {
  const d = new Date(ms);
  return d.toLocaleDateString('en-GB', { weekday: 'short' }) + ' ' + d.toLocaleTimeString('en-GB');
}
function fmtOffset(ms) {
  if (Math.abs(ms) < 60000) return 'real time';
  const sign = ms < 0 ? '−' : '+';
  let m = Math.round(Math.abs(ms) / 60000);
  const d = Math.floor(m / 1440);
  m -= d * 1440;
  const hh = Math.floor(m / 60);
  m -= hh * 60;
  const parts = [];
  if (d) parts.push(d + ' d');
  if (hh || d) parts.push(hh + ' h');
  if (!d && m) parts.push(m + ' min');
  return sign + parts.join(' ') + ' ahead of real time';
}
/** A configured lifetime in words: 5 minutes, 72 hours. */
function fmtSpan(ms) {
  const unit = (n, one) => `${n} ${one}${n === 1 ? '' : 's'}`;
  if (ms % 3600000 === 0) return unit(ms / 3600000, 'hour');
  if (ms % 60000 === 0) return unit(ms / 60000, 'minute');
  return unit(Math.round(ms / 1000), 'second');
}
function fmtDuration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}
/** The reason part of an errMsg ('initByCaller:fail <reason>'). */
function errReason(errMsg) {
  const m = String(errMsg || '');
  const i = m.indexOf(':fail ');
  return i >= 0 ? m.slice(i + 6) : m;
}
function shortId(id) {
  return id.length > 14 ? id.slice(0, 8) + '…' + id.slice(-4) : id;
}

// ---- who is who ------------------------------------------------------------------------------

function phoneOf(openId) {
  return S.phones.find((ph) => ph.openId === openId) || null;
}
function nameOf(openId) {
  const ph = phoneOf(openId);
  return ph ? ph.p.name : shortId(openId);
}
function studentName(userId) {
  const s = studentById(userId);
  return s ? s.name : userId || 'this student';
}
function adminOf(userId) {
  const c = (S.contacts.get(userId) || []).find((x) => x.role === 1);
  return c ? c.open_id : null;
}
function adminName(userId) {
  const a = adminOf(userId);
  return a ? nameOf(a) : null;
}
function isContact(userId, openId) {
  return (S.contacts.get(userId) || []).some((x) => x.open_id === openId);
}
/** The core's answer (getVoipConsent on that phone's instance, read at every refresh). */
function consented(openId) {
  const ph = phoneOf(openId);
  return !!ph && ph.consent === true;
}

// ---- the event log ---------------------------------------------------------------------------

function personaOf(id) {
  return [DEVICE, DEMO, ...PARENTS].find((p) => p.id === id) || DEMO;
}

function plain(v) {
  if (v === undefined) return undefined;
  return JSON.parse(
    JSON.stringify(v, (k, x) => {
      if (x instanceof Error) return { name: x.name, errCode: x.errCode, code: x.code, errMsg: x.errMsg || x.message };
      return x;
    }),
  );
}

function addLog(who, kind, name, summary, data) {
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
const callingLogged = new Set();

function logEvent(who, ev) {
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

function logItem(e) {
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

function applyLogFilter() {
  const f = S.logFilter;
  for (const li of S.ui.logList.children) li.hidden = f !== 'all' && li.dataset.who !== f;
}

/**
 * Runs one API call on behalf of `who`, logs its result or error, refreshes the live views.
 * Resolves { ok: true, value } or { ok: false, error } (VoipErrors are expected; anything else is
 * a bug and is reported on the console).
 */
async function run(who, api, args, fn, describe) {
  let out;
  try {
    const value = await fn();
    out = { ok: true, value };
    addLog(who, 'ok', api, describe ? describe(value) : 'ok', { request: args, result: value });
  } catch (error) {
    out = { ok: false, error };
    const isVoip = error && typeof error.errCode === 'number';
    addLog(who, 'fail', api, isVoip ? `errCode ${error.errCode} ${error.code}` : String(error), { request: args, error });
    if (!isVoip) console.error('[demo] unexpected failure in ' + api, error);
  }
  await refresh();
  return out;
}

// ---- boot ------------------------------------------------------------------------------------

async function connect() {
  if (S.mode === 'service') return connectService();
  S.backend = await createLocalBackend({
    // A development backend, on purpose: this page also plays the school's face-pay device,
    // and only a dev backend has issueVoipToken (the stand-in for a face scan; a real device
    // gets its token from WeChat Pay's face recognition). It also has resetStudent and
    // exportSnapshot, which this page does not use. A production host never sets dev.
    dev: true,
    storage: webStorage(localStorage),
    namespace: REGISTRY_NAMESPACE,
    maxContacts: S.max,
    ticketTtlMs: TICKET_TTL_MS,
    voipTokenTtlMs: TOKEN_TTL_MS,
    pluginAppId: PLUGIN_APP_ID,
    now,
  });
  for (const ph of S.phones) {
    const make = () =>
      createVoipPlugin({
        backend: S.backend,
        openId: ph.openId,
        navigate: (req) => {
          ph.pendingNav = req;
        },
      });
    try {
      ph.inst = await make();
    } catch (e) {
      // The core checks openIds (errCode 20 names the rule); a saved one it refuses is replaced.
      if (!e || e.errCode !== 20) throw e;
      addLog(DEMO, 'note', 'openId', `${ph.p.name}’s saved openId was refused (${e.errMsg}); a new one was generated`);
      ph.openId = newOpenId();
      saved.set(KEYS.parents, S.phones.map((x) => x.openId));
      ph.inst = await make();
    }
    listenPhone(ph);
  }
  S.device = await createVoipPlugin({
    backend: S.backend,
    navigate: (req) => {
      S.deviceNav = req;
    },
  });
  listenDevice();
}

/** Each phone and the device: its own http backend (a session or the device key), own stream. */
async function connectService() {
  const url = location.origin;
  const backends = [];
  for (const ph of S.phones) {
    if (!ph.here) continue;
    const backend = await createHttpBackend({ url, getSession: () => devSession(ph.openId), now });
    backends.push(backend);
    ph.inst = await createVoipPlugin({
      backend,
      navigate: (req) => {
        ph.pendingNav = req;
      },
    });
    listenPhone(ph);
  }
  if (S.deviceHere) {
    S.deviceBackend = await createHttpBackend({ url, deviceKey: S.cfg.deviceKey, now });
    backends.push(S.deviceBackend);
    S.device = await createVoipPlugin({
      backend: S.deviceBackend,
      navigate: (req) => {
        S.deviceNav = req;
      },
    });
    listenDevice();
  }
  // What the page asks besides the plugin API: the school server's queries (serve-demo holds
  // the app secret), the face-scan stand-in (the device's issueVoipToken), and tick.
  S.backend = {
    getVoipContactList: (args) => demoPost('school/getvoipcontactlist', args),
    getVoipCallList: (args) => demoPost('school/getvoipcalllist', args),
    issueVoipToken: (args) => S.deviceBackend.issueVoipToken(args),
    tick: () => demoPost('tick', {}),
    close: () => backends.forEach((b) => b.close()),
  };
}

/** --dev: a parent's session from the service (POST /v1/dev/session). */
async function devSession(openId) {
  const r = await fetch('/v1/dev/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ openId }) });
  const j = await r.json();
  if (j.errCode !== 0) throw new Error('/v1/dev/session: ' + j.errMsg);
  return j.session;
}

/** [ours] serve-demo.mjs's demo routes (POST /demo/<route>). */
async function demoPost(route, body) {
  const r = await fetch('/demo/' + route, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`/demo/${route} answered ${r.status}`);
  return r.json();
}

function listenPhone(ph) {
  ph.inst.setVoipEndPagePath(BIND_END_PAGE);
  ph.inst.onVoipEvent((ev) => {
    logEvent(ph.p, ev);
    phoneCallEvent(ph, ev);
  });
}

function listenDevice() {
  S.device.setVoipEndPagePath(CALL_END_PAGE);
  S.device.onVoipEvent((ev) => {
    logEvent(DEVICE, ev);
    deviceCallEvent(ev);
  });
}

function disconnect() {
  for (const ph of S.phones) {
    if (ph.inst) ph.inst.dispose();
    ph.inst = null;
  }
  if (S.device) S.device.dispose();
  S.device = null;
  if (S.backend) S.backend.close();
  S.backend = null;
}

function loadSaved() {
  const offset = Number(saved.get(KEYS.offset, 0));
  // The demo clock only moves forward (the backend's never goes back), so an offset is >= 0.
  S.offset = Number.isFinite(offset) && offset > 0 ? offset : 0;
  // The limit and the openIds are the core's to check (connect() reports what it refuses).
  const max = saved.get(KEYS.max, DEFAULT_MAX_CONTACTS);
  S.max = typeof max === 'number' ? max : DEFAULT_MAX_CONTACTS;
  try {
    localStorage.removeItem(LEGACY_CONSENT_KEY); // consents are read from the backend now
  } catch (_) {
    // nothing to clean up where storage is blocked
  }
  let ids = saved.get(KEYS.parents, null);
  const ok = Array.isArray(ids) && ids.length === PARENTS.length && ids.every((x) => typeof x === 'string');
  if (!ok) {
    ids = PARENTS.map(() => newOpenId());
    saved.set(KEYS.parents, ids);
  }
  S.phones.forEach((ph, i) => (ph.openId = ids[i]));
  if (S.mode === 'service') {
    // The service's demo keeps the people, the clock and the limit (data/demo.json): every
    // window and every machine sees the same Mum, Dad and Grandma.
    S.phones.forEach((ph) => (ph.openId = S.cfg.parents[ph.p.id]));
    S.offset = S.cfg.clockAdvancedMs;
    S.max = S.cfg.maxContacts;
  }
  for (const ph of S.phones) ph.here = VIEW === 'overview' || (VIEW === 'phone' && ph.p.id === QUERY.get('parent'));
  S.deviceHere = VIEW !== 'phone';
  const log = saved.get(KEYS.log, []);
  S.log = Array.isArray(log) ? log.filter((e) => e && typeof e.t === 'number' && typeof e.name === 'string') : [];
}

/** The service behind serve-demo (GET /demo/config), unless the page asks for ?backend=local. */
async function pickMode() {
  if (QUERY.get('backend') === 'local') return;
  try {
    const r = await fetch('/demo/config' + (QUERY.get('device') ? '?device=' + encodeURIComponent(QUERY.get('device')) : ''));
    if (!r.ok) return;
    const cfg = await r.json();
    if (cfg.mode !== 'service') return;
    S.mode = 'service';
    S.cfg = cfg;
  } catch (_) {
    // a static server without the demo routes: the local backend
  }
}

async function boot() {
  await pickMode();
  if (S.mode === 'local') KEYS.log += VIEW === 'overview' ? '' : '/' + VIEW;
  else KEYS.log = PREFIX + 'service/event-log/' + VIEW + (QUERY.get('parent') || '');
  loadSaved();
  document.body.dataset.backend = S.mode;
  showMode();
  if (S.mode === 'local' && VIEW !== 'overview') {
    $('loading').hidden = true;
    showBanner('This screen needs the contact service.', 'Start the demo with `make demo` (not --local), or use the overview page with the in-page backend.');
    return;
  }
  if (VIEW === 'phone' && !S.phones.some((ph) => ph.here)) {
    $('loading').hidden = true;
    showBanner('No such phone.', 'Open phone.html?parent=p1 (Mum), p2 (Dad) or p3 (Grandma).');
    return;
  }
  buildToolbar();
  tick();
  try {
    try {
      await connect();
    } catch (e) {
      // A saved limit the core refuses (1004 naming the range): start with the default instead.
      if (!e || e.errCode !== 1004 || S.max === DEFAULT_MAX_CONTACTS) throw e;
      disconnect();
      addLog(DEMO, 'note', 'maxContacts', `the saved limit was refused (${e.errMsg}); using ${DEFAULT_MAX_CONTACTS}`);
      S.max = DEFAULT_MAX_CONTACTS;
      saved.set(KEYS.max, S.max);
      showMax();
      await connect();
    }
  } catch (e) {
    disconnect();
    $('loading').hidden = true;
    const ex = explainError(e, { api: 'createLocalBackend' });
    showBanner(`The demo could not start. ${ex.title}. ${ex.what}`, ex.next, e && e.errMsg);
    return;
  }
  if (S.deviceHere) buildDevice();
  if ($('relations')) buildRelations();
  buildPhones();
  if ($('screens')) buildScreens();
  if ($('log')) buildLog();
  $('loading').hidden = true;
  $('app').hidden = false;
  await refresh();
  tick();
  setInterval(tick, 1000);
  // Other windows and machines change the registry too: look again every 2 s (the views are
  // redrawn only when what the service says has changed).
  if (S.mode === 'service') setInterval(() => refresh({ quiet: true }), 2000);
  document.body.dataset.ready = 'true';
}

function showBanner(text, next, raw) {
  const b = $('banner');
  b.replaceChildren(
    h('strong', { text }),
    next ? h('span', { text: ' ' + next }) : null,
    raw ? h('code', { class: 'raw', text: raw }) : null,
  );
  b.hidden = false;
}

// ---- toolbar: clock, limit, reset ------------------------------------------------------------

/** The header's line on where the registry lives, with the switch to the other backend. */
function showMode() {
  const el = $('mode');
  if (!el) return;
  const here = location.pathname;
  if (S.mode === 'service') {
    el.replaceChildren(
      'Backend: the contact service (',
      h('code', { text: 'campus-voip-server --dev' }),
      ', SQLite under ./data/), one connection per phone and device. ',
      ...(VIEW === 'overview' ? [h('a', { href: here + '?backend=local' }, 'Run everything in this page instead')] : []),
    );
    const note = $('reset-note');
    if (note) note.textContent = 'a fresh database for everyone (every window and phone)';
  } else {
    el.replaceChildren(
      'Backend: in this page (WebAssembly core, one local backend saved in this browser). ',
      ...(QUERY.get('backend') === 'local' ? [h('a', { href: here }, 'Use the contact service')] : []),
    );
  }
}

function buildToolbar() {
  if (!$('clock-1h')) return;
  // Forward only: the backend acts at the highest time it has seen (and stores it), so a clock
  // set back would not be believed. "Reset demo" is the way back to real time.
  const move = (ms, label) => async () => {
    if (S.mode === 'service') {
      const r = await demoPost('clock', { advanceMs: ms });
      if (r.errCode !== 0) {
        addLog(DEMO, 'fail', 'clock', r.errMsg, r);
        return;
      }
    }
    S.offset += ms;
    if (S.mode === 'local') saved.set(KEYS.offset, S.offset);
    addLog(DEMO, 'note', 'clock', `moved ${label}: now ${fmtDateTime(now())}`);
    // Deadlines that passed (a ringing call's timeout) fire now.
    await S.backend.tick();
    clockMoved();
  };
  $('clock-1h').addEventListener('click', move(3600e3, '+1 hour'));
  $('clock-1d').addEventListener('click', move(86400e3, '+1 day'));
  $('clock-3d').addEventListener('click', move(3 * 86400e3, '+3 days'));
  const input = $('max-contacts');
  showMax();
  const apply = async () => {
    // What the person typed goes to the core as a number; its 1004 says what the limit may be.
    const v = input.value.trim() === '' ? NaN : Number(input.value);
    if (S.call) {
      $('max-note').textContent = 'Hang up the call on the device first.';
      $('max-note').className = 'error-text';
      return;
    }
    $('max-note').className = 'muted';
    if (v === S.max) {
      showMax();
      return;
    }
    if (S.mode === 'service') {
      // The service takes the limit at start: serve-demo restarts it on the same database.
      const r = await demoPost('limit', { maxContacts: v });
      if (r.errCode !== 0) {
        addLog(DEMO, 'fail', 'maxContacts', r.errMsg, { request: { maxContacts: v }, error: r });
        showMax();
        $('max-note').textContent = `${errReason(r.errMsg)}. Still ${S.max}.`;
        $('max-note').className = 'error-text';
        return;
      }
      S.max = r.maxContacts;
      showMax();
      addLog(DEMO, 'note', 'maxContacts', `limit set to ${v} contacts per student (service restarted on the same database)`);
      await refresh();
      await refreshBindPreviews();
      return;
    }
    const before = S.max;
    disconnect();
    S.max = v;
    try {
      await connect();
    } catch (e) {
      disconnect();
      S.max = before;
      try {
        await connect();
      } catch (e2) {
        showBanner('The demo could not restart its backend.', 'Press “Reset demo”.', e2 && e2.errMsg);
        return;
      }
      const isVoip = !!e && typeof e.errCode === 'number';
      if (!isVoip) console.error('[demo] unexpected failure re-creating the backend', e);
      addLog(DEMO, 'fail', 'createLocalBackend', isVoip ? `errCode ${e.errCode} ${e.code}` : String(e), { request: { maxContacts: v }, error: e });
      // The core's own words (e.g. "maxContacts must be a whole number from 1 to 100, got 0").
      showMax();
      $('max-note').textContent = `${isVoip ? errReason(e.errMsg) : String(e)}. Still ${S.max}.`;
      $('max-note').className = 'error-text';
      await refresh();
      return;
    }
    saved.set(KEYS.max, v);
    showMax();
    addLog(DEMO, 'note', 'maxContacts', `limit set to ${v} contacts per student (backend re-created on the same storage)`);
    await refresh();
    refreshBindPreviews();
  };
  $('max-apply').addEventListener('click', apply);
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') apply();
  });
  $('reset').addEventListener('click', async () => {
    if (S.mode === 'service') {
      // A fresh database, new people, real time (serve-demo restarts the service).
      $('reset').disabled = true;
      $('reset').textContent = 'Resetting…';
      await demoPost('reset', {});
    }
    try {
      const mine = [];
      for (let i = 0; i < localStorage.length; i++) {
        const k = localStorage.key(i);
        if (k && k.startsWith(PREFIX)) mine.push(k);
      }
      for (const k of mine) localStorage.removeItem(k);
    } catch (_) {
      showBanner('This browser would not let the demo clear its saved data.', 'Clear this site’s data in the browser settings instead.');
      return;
    }
    location.reload();
  });
}

/** The limit field and its note show the limit the backend runs with. */
function showMax() {
  $('max-contacts').value = String(S.max);
  $('max-note').textContent = `now ${S.max}; the real default is 10`;
  $('max-note').className = 'muted';
}

/** Links and tokens are re-checked by the core at the new time (the share cards re-inspect). */
async function clockMoved() {
  tick();
  await refresh();
  await refreshBindPreviews();
}

function tick() {
  if ($('clock-now')) {
    $('clock-now').textContent = fmtDateTime(now());
    const off = $('clock-offset');
    off.textContent = fmtOffset(S.offset);
    off.className = Math.abs(S.offset) >= 60000 ? 'ahead' : 'muted';
  }
  if (S.ui.scanStatus) renderScan();
}

// ---- live data -------------------------------------------------------------------------------

let refreshing = null;
let lastSeen = '';

/**
 * Reads everything the views show (the core's answers) and redraws them. `quiet` (the periodic
 * look in service mode): redraws only if something changed, and skips while another runs.
 */
async function refresh({ quiet = false } = {}) {
  if (!S.backend) return;
  if (refreshing) {
    if (quiet) return;
    await refreshing.catch(() => undefined);
  }
  refreshing = readAll(quiet);
  try {
    await refreshing;
  } finally {
    refreshing = null;
  }
}

async function readAll(quiet) {
  try {
    if (S.mode === 'service' && quiet) {
      const r = await fetch('/demo/config');
      const cfg = await r.json();
      if (cfg.clockAdvancedMs !== S.offset || cfg.maxContacts !== S.max) {
        S.offset = cfg.clockAdvancedMs;
        S.max = cfg.maxContacts;
        if ($('max-contacts')) showMax();
        tick();
      }
    }
    const lists = await Promise.all(ROSTER.map((s) => S.backend.getVoipContactList({ user_id: s.userId })));
    ROSTER.forEach((s, i) => S.contacts.set(s.userId, lists[i].errcode === 0 ? lists[i].contact_list : []));
    for (const ph of S.phones) {
      if (!ph.here) {
        // Another window's phone: its consent as the developer query cannot tell; unknown here.
        continue;
      }
      ph.list = await ph.inst.getVoipBindContactList();
      ph.consent = (await ph.inst.getVoipConsent()).granted;
      if (ph.share) ph.share.inspect = await inspectShare(ph);
    }
    if (S.deviceHere && S.logStudent) {
      const r = await S.backend.getVoipCallList({ user_id: S.logStudent });
      S.callLog = r.errcode === 0 ? r.call_list.slice().reverse() : [];
    }
  } catch (e) {
    if (quiet) return;
    const ex = explainError(e, {});
    showBanner(ex.title + '. ' + ex.what, ex.next, e && e.errMsg);
    return;
  }
  const seen = JSON.stringify([[...S.contacts], S.phones.map((ph) => [ph.list, ph.consent, ph.share && ph.share.inspect]), S.callLog, S.max]);
  if (quiet && seen === lastSeen) return;
  lastSeen = seen;
  if (S.ui.graph) renderRelations();
  if (S.deviceHere) renderDevice();
  for (const ph of S.phones) if (ph.here) renderPhone(ph);
}

/**
 * What the core says about the link this phone created, as seen from this phone: `expiresAt`
 * (absent when the link no longer verifies) and `status` (“binded” while it still works for
 * its administrator, “expire”, “invalid” once this phone is no longer the administrator who
 * created it, …). Resolves null if the core refused the question.
 */
async function inspectShare(ph) {
  try {
    return await ph.inst.inspectBindContactPath(ph.share.path);
  } catch (_) {
    return null;
  }
}

/** Open bind pages re-check their link (the clock or the limit changed). */
async function refreshBindPreviews() {
  for (const ph of S.phones) {
    if (!ph.bind || ph.bind.result || !ph.inst) continue;
    try {
      ph.bind.inspect = await ph.inst.inspectBindContactPath(ph.bind.path);
    } catch (_) {
      // the preview stays as it was; Bind will report the real outcome
    }
    renderBindPage(ph);
  }
}

// ---- the face-pay device ---------------------------------------------------------------------

function buildDevice() {
  const root = $('device');
  const roster = h('div', { class: 'roster', role: 'group', 'aria-label': 'Students (tap to scan a face)' });
  for (const s of ROSTER) {
    roster.append(
      h(
        'button',
        {
          type: 'button',
          class: 'student',
          'data-user': s.userId,
          'aria-pressed': 'false',
          'aria-label': `Scan ${s.name}`,
          onclick: () => scan(s),
        },
        avatarImg(s.look, 48),
        h('span', { class: 'sname', text: s.name }),
      ),
    );
  }
  const parents = h('div', { class: 'parent-pick', role: 'radiogroup', 'aria-label': 'Parent to call' });
  const bt = h(
    'fieldset',
    { class: 'bt' },
    h('legend', { text: 'businessType' }),
    radio('bt', '0', S.businessType === 0, '0 · face-pay', 'billed by call duration', () => (S.businessType = 0)),
    radio('bt', '3', S.businessType === 3, '3 · face recognition', 'billed per device licence', () => (S.businessType = 3)),
  );
  const roomType = h(
    'select',
    { id: 'room-type', onchange: (ev) => (S.roomType = ev.target.value) },
    h('option', { value: 'voice', text: 'voice call' }),
    h('option', { value: 'video', text: 'video call' }),
  );
  const callBtn = h('button', { type: 'button', class: 'primary call', onclick: () => call() }, 'Call');
  const result = h('div', { class: 'device-result' });
  const callLog = h('div', { class: 'calllog-body' });
  const scanStatus = h('p', { class: 'scan-status' });
  root.append(
    h(
      'header',
      { class: 'panel-head' },
      h('h2', { id: 'device-title' }, 'Face-pay device'),
      h('p', { class: 'muted', text: 'School canteen · a device instance: createVoipPlugin({ backend }), no openId' }),
    ),
    h(
      'ol',
      { class: 'steps' },
      h('li', null, h('h3', { text: 'Scan a student’s face' }), roster, scanStatus),
      h(
        'li',
        null,
        h('h3', { text: 'Choose whom to call' }),
        parents,
        h('div', { class: 'call-opts' }, bt, h('label', { class: 'rt' }, 'Room ', roomType)),
        callBtn,
      ),
      h('li', null, h('h3', { text: 'Result' }), result),
    ),
    h('section', { class: 'calllog', 'aria-labelledby': 'calllog-title' }, h('h3', { id: 'calllog-title', text: 'Call log' }), callLog),
  );
  Object.assign(S.ui, { roster, parents, callBtn, result, scanStatus, callLog });
}

function radio(name, value, checked, label, hint, onchange) {
  return h(
    'label',
    { class: 'radio' },
    h('input', { type: 'radio', name, value, checked: checked || null, onchange }),
    h('span', null, h('b', { text: label }), hint ? h('small', { text: hint }) : null),
  );
}

function renderScan() {
  const el = S.ui.scanStatus;
  if (!S.scan) {
    el.className = 'scan-status muted';
    el.textContent = 'No face scanned yet. Tap a student: the device recognises the face and gets a voipToken for them.';
    return;
  }
  const s = studentById(S.scan.userId);
  // The core offers no read of a token's expiry: issueVoipToken resolves only the token string
  // (its times sit inside the signed token), and there is no inspectVoipToken. So the card shows
  // the lifetime this demo configured (voipTokenTtlMs) from the time of the scan, and never
  // decides "expired" itself: initByCaller does, with errCode 4 and a reason ("voipToken has
  // expired; scan the face again", "… was already used …"), which the card then shows.
  const until = fmtDateTime(S.scan.at + TOKEN_TTL_MS); // with the day: the demo clock jumps days
  const state = S.scan.used
    ? 'used for a call: scan again for the next call'
    : S.scan.refused
      ? `refused: ${S.scan.refused}`
      : `one call, within ${fmtSpan(TOKEN_TTL_MS)} of the scan (until ${until})`;
  el.className = 'scan-status ' + (S.scan.used || S.scan.refused ? 'stale' : 'fresh');
  el.replaceChildren(
    h('b', { text: `Scanned: ${s.name}` }),
    ' · voipToken ',
    h('code', { title: S.scan.token, text: shortId(S.scan.token) }),
    ' · ' + state,
  );
}

function renderDevice() {
  if (!S.ui.roster) return;
  for (const b of S.ui.roster.children) b.setAttribute('aria-pressed', String(!!S.scan && b.dataset.user === S.scan.userId));
  renderScan();
  const uid = S.scan && S.scan.userId;
  const pick = S.ui.parents;
  pick.replaceChildren(
    ...S.phones.map((ph) => {
      const tags = [];
      if (uid) {
        const c = (S.contacts.get(uid) || []).find((x) => x.open_id === ph.openId);
        tags.push(
          c
            ? h('span', { class: 'tag ' + (c.role === 1 ? 'admin' : 'contact'), text: c.role === 1 ? '★ admin' : 'contact' })
            : h('span', { class: 'tag none', text: 'not a contact' }),
        );
      }
      // A phone of another window: its consent is that phone's to read (the call says).
      if (ph.here) {
        tags.push(
          consented(ph.openId) ? h('span', { class: 'tag yes', text: 'calls allowed' }) : h('span', { class: 'tag no', text: 'calls not allowed' }),
        );
      }
      return h(
        'label',
        { class: 'parent-option' },
        h('input', {
          type: 'radio',
          name: 'call-parent',
          value: ph.p.id,
          checked: S.selParent === ph.p.id || null,
          onchange: () => (S.selParent = ph.p.id),
        }),
        avatarImg(ph.p.look, 32),
        h('span', { class: 'pname' }, h('b', { text: ph.p.name }), h('small', { text: ph.p.phone })),
        h('span', { class: 'tags' }, tags),
      );
    }),
  );
  S.ui.callBtn.disabled = !!S.call;
  renderDeviceResult();
  renderCallLog();
}

/** The words and videos of a call in progress, built once per call (the videos keep playing). */
function callView(side) {
  const v = {
    title: h('p', { class: 'title' }),
    timer: h('span', { class: 'timer', role: 'timer', 'aria-label': 'call time' }),
    remote: h('video', { class: 'remote', playsinline: true, autoplay: true, 'aria-label': side === 'device' ? 'The parent’s video' : 'The student’s video' }),
    local: h('video', { class: 'local', playsinline: true, autoplay: true, muted: true, 'aria-label': 'Your own video' }),
    stats: h('p', { class: 'media-stats muted small', 'data-testid': 'media-stats' }),
    actions: h('div', { class: 'btnrow' }),
  };
  v.media = h('div', { class: 'media', hidden: true }, v.remote, v.local);
  v.root = h('div', { class: 'outcome tone-ok call-live' }, v.title, v.media, v.stats, v.actions);
  return v;
}

function showStats(v, st) {
  const el = v.stats;
  Object.assign(el.dataset, { videoWidth: st.videoWidth, currentTime: st.currentTime.toFixed(2), bytesReceived: st.bytesReceived, state: st.state });
  el.textContent = `Media: ${st.state} · receiving ${st.videoWidth ? st.videoWidth + '×' + st.videoHeight + ' video' : 'no video yet'} · ${(st.bytesReceived / 1024).toFixed(1)} KiB received · sending ${st.source === 'camera' ? 'your camera' : 'a synthetic picture and tone'}`;
}

function renderDeviceResult() {
  const box = S.ui.result;
  const r = S.deviceResult;
  if (S.call) {
    const c = S.call;
    const v = c.view;
    const parent = nameOf(phById(c.parentId).openId);
    v.title.replaceChildren(...(c.phase === 'ringing' ? [`Ringing ${parent}…`] : [`Connected: ${studentName(c.studentId)} is talking to ${parent} `, v.timer]));
    v.timer.textContent = fmtDuration(c.keepTime);
    v.media.hidden = c.phase === 'ringing';
    v.actions.replaceChildren(
      h('button', { type: 'button', class: 'danger', onclick: hangUp }, c.phase === 'ringing' ? 'Cancel call' : 'Hang up'),
      ...(c.phase === 'connected' && c.media ? [h('button', { type: 'button', class: 'small ghost', onclick: () => useCamera(c.media) }, 'Use my camera')] : []),
    );
    if (!v.kv) {
      v.kv = h(
        'dl',
        { class: 'kv' },
        h('dt', { text: 'roomId' }),
        h('dd', null, h('code', { text: c.roomId })),
        h('dt', { text: 'chargeType' }),
        h('dd', null, h('code', { text: c.chargeType }), c.chargeType === 'duration' ? ' (billed by call length)' : ' (billed per device license)'),
        h('dt', { text: 'businessType' }),
        h('dd', { text: String(c.businessType) + ' · ' + c.roomType }),
      );
      v.title.after(v.kv);
    }
    if (box.firstChild !== v.root) box.replaceChildren(v.root);
    return;
  }
  if (!r) {
    box.replaceChildren(h('p', { class: 'muted', text: 'Scan a student, pick a parent, then tap Call.' }));
    return;
  }
  box.replaceChildren(outcomeBox(r));
}

async function useCamera(media) {
  const ok = await media.useCamera();
  announce(ok ? 'Your camera is on.' : 'The browser did not allow the camera; the synthetic picture stays.');
}

/** Says it once in the page's polite live region (outcomes, calls). */
function announce(text) {
  const el = $('announce');
  if (!el) return;
  el.textContent = '';
  setTimeout(() => (el.textContent = text), 50);
}

function renderCallLog() {
  const box = S.ui.callLog;
  if (!box) return;
  if (!S.logStudent) {
    box.replaceChildren(h('p', { class: 'muted small', text: 'Scan a student to see their calls (getVoipCallList).' }));
    return;
  }
  const name = studentName(S.logStudent);
  if (!S.callLog.length) {
    box.replaceChildren(h('p', { class: 'muted small', text: `No ended calls of ${name} yet.` }));
    return;
  }
  box.replaceChildren(
    h(
      'table',
      { class: 'calls' },
      h('caption', { text: `${name}’s calls, newest first (getVoipCallList)` }),
      h('thead', null, h('tr', null, ['Rang', 'Parent', 'Ending', 'Talked', 'Billed'].map((t) => h('th', { scope: 'col', text: t })))),
      h(
        'tbody',
        null,
        S.callLog.map((row) =>
          h(
            'tr',
            { 'data-room': row.room_id },
            h('td', { text: fmtLogTime(row.rang_at_ms) }),
            h('td', { text: nameOf(row.open_id) }),
            h('td', { text: row.ending }),
            h('td', { text: fmtDuration(row.keep_time_ms) }),
            h('td', { text: row.charge_type === 'duration' ? fmtDuration(row.billed_time_ms) : 'license' }),
          ),
        ),
      ),
    ),
  );
}

function phById(id) {
  return S.phones.find((ph) => ph.p.id === id);
}

/** A result card: { tone, badge, title, what, next, raw, extra, nav }. */
function outcomeBox(r) {
  return h(
    'div',
    { class: 'outcome tone-' + (r.tone || 'info') },
    h('p', { class: 'title' }, r.badge ? h('span', { class: 'badge', text: r.badge }) : null, r.title),
    r.what ? h('p', { class: 'what', text: r.what }) : null,
    r.next ? h('p', { class: 'next' }, h('b', { text: 'What to do: ' }), r.next) : null,
    r.extra || null,
    r.nav ? navNote(r.nav) : null,
    r.raw ? h('p', { class: 'raw' }, h('code', { text: r.raw })) : null,
  );
}

function navNote(nav) {
  return h(
    'p',
    { class: 'nav' },
    `Next, the Mini Program opens the ${nav.key} end page: `,
    h('code', { text: `${nav.routeType} ${nav.path}` }),
  );
}

async function scan(student) {
  if (S.call) {
    S.deviceResult = { tone: 'warn', ...explainError({ errCode: 1005, code: 'BUSY' }, {}) };
    renderDevice();
    return;
  }
  const args = { userId: student.userId };
  const r = await run(DEVICE, 'backend.issueVoipToken', args, () => S.backend.issueVoipToken(args), (t) => `face scan of ${student.name}: voipToken ${shortId(t)}`);
  if (r.ok) {
    S.scan = { userId: student.userId, token: r.value, at: now(), used: false, refused: null };
    S.deviceResult = null;
    if (S.logStudent !== student.userId) {
      S.logStudent = student.userId;
      S.callLog = [];
      refresh();
    }
  } else {
    const ex = explainError(r.error, { student: student.name });
    S.deviceResult = { tone: 'error', ...ex, raw: r.error.errMsg };
  }
  renderDevice();
}

async function call() {
  if (S.call) return;
  const ph = phById(S.selParent);
  if (!S.scan) {
    S.deviceResult = {
      tone: 'warn',
      title: 'No face scanned yet',
      what: 'A call from the face-pay device needs the voipToken of a face scan.',
      next: 'Tap a student above to scan their face, then tap Call.',
    };
    renderDevice();
    return;
  }
  const student = studentById(S.scan.userId);
  const req = {
    roomType: S.roomType,
    caller: { id: student.userId, name: student.name },
    listener: { id: ph.openId, name: ph.p.name },
    businessType: S.businessType,
    voipToken: S.scan.token,
  };
  S.ui.callBtn.disabled = true;
  const r = await run(DEVICE, 'initByCaller', req, () => S.device.initByCaller(req), (v) =>
    v.isSuccess ? `isSuccess: true · roomId ${shortId(v.roomId)} · chargeType ${v.chargeType}` : `isSuccess: false · errCode ${v.errCode}`,
  );
  const ctx = { student: student.name, parent: ph.p.name, admin: adminName(student.userId), tokenTtl: fmtSpan(TOKEN_TTL_MS) };
  if (r.ok && r.value.isSuccess) {
    S.scan.used = true;
    S.call = {
      roomId: r.value.roomId,
      studentId: student.userId,
      parentId: ph.p.id,
      phase: 'ringing',
      keepTime: 0,
      chargeType: r.value.chargeType,
      businessType: S.businessType,
      roomType: S.roomType,
      view: callView('device'),
      media: null,
    };
    S.deviceResult = null;
    // A busy listener: the ending came with the call's own events, before its promise resolved.
    const early = endedRooms.get(r.value.roomId);
    if (early && early.billed !== undefined) return deviceCallEnded(early);
    announce(`Ringing ${ph.p.name}`);
  } else if (r.ok) {
    // errCode 4: the core refused the token itself (expired, used, another student's); its
    // errMsg says which.
    if (r.value.errCode === 4) S.scan.refused = errReason(r.value.errMsg);
    const ex = explainCallRefusal(r.value.errCode, ctx);
    S.deviceResult = { tone: r.value.errCode === 4 ? 'warn' : 'error', badge: `errCode ${r.value.errCode}`, ...ex, raw: r.value.errMsg };
    announce(ex.title);
  } else {
    const ex = explainError(r.error, ctx);
    S.deviceResult = { tone: 'error', badge: `errCode ${r.error.errCode}`, ...ex, raw: r.error.errMsg };
    announce(ex.title);
  }
  renderDevice();
}

function hangUp() {
  if (!S.call) return;
  const c = S.call;
  S.deviceNav = null;
  try {
    S.device.forceHangUpVoip(c.roomId);
    addLog(DEVICE, 'ok', 'forceHangUpVoip', `room ${shortId(c.roomId)} hung up`, { request: { roomId: c.roomId } });
  } catch (e) {
    addLog(DEVICE, 'fail', 'forceHangUpVoip', `errCode ${e.errCode} ${e.code}`, { request: { roomId: c.roomId }, error: e });
  }
  // The ending, endVoip and finishVoip follow as events (at once on the local backend).
}

/** roomId → { ending, end, billed } from the events of calls that ended (or are ending). */
const endedRooms = new Map();
const ENDINGS = new Set(['busy', 'rejectVoip', 'cancelVoip', 'timeout', 'hangUpVoip', 'abortVoip']);

function roomRecord(roomId) {
  let rec = endedRooms.get(roomId);
  if (!rec) {
    rec = { roomId };
    endedRooms.set(roomId, rec);
    if (endedRooms.size > 50) endedRooms.delete(endedRooms.keys().next().value);
  }
  return rec;
}

function signalFor(roomId, me) {
  return S.mode === 'service' ? relaySignal(roomId, me) : pageSignal(roomId, me);
}

/** The device's events of its call (SPEC §3.7 event order). */
function deviceCallEvent(ev) {
  const name = ev.eventName;
  const c = S.call && S.call.roomId === ev.roomId ? S.call : null;
  if (name === 'startVoip' && c) {
    c.phase = 'connected';
    announce(`Connected to ${phById(c.parentId).p.name}`);
    renderDeviceResult();
    const student = studentById(c.studentId);
    startMedia({
      signal: signalFor(c.roomId, 'device'),
      offerer: true,
      me: { look: student.look, label: student.name, color: '#2563eb' },
      remote: c.view.remote,
      local: c.view.local,
      onStats: (st) => showStats(c.view, st),
    }).then(
      (m) => {
        if (S.call === c) {
          c.media = m;
          renderDeviceResult();
        } else m.stop();
      },
      (e) => addLog(DEVICE, 'fail', 'media', String(e)),
    );
  } else if (name === 'calling' && c) {
    c.keepTime = ev.data.keepTime;
    c.view.timer.textContent = fmtDuration(c.keepTime);
  } else if (ENDINGS.has(name)) {
    roomRecord(ev.roomId).ending = ev;
  } else if (name === 'endVoip') {
    roomRecord(ev.roomId).end = ev.data;
  } else if (name === 'finishVoip') {
    const rec = roomRecord(ev.roomId);
    rec.billed = ev.data.keepTime;
    if (c) deviceCallEnded(rec);
  }
}

function deviceCallEnded(rec) {
  const c = S.call;
  if (!c || c.roomId !== rec.roomId) return;
  if (c.media) c.media.stop();
  S.call = null;
  const parent = phById(c.parentId).p.name;
  const ex = explainEnding(rec.ending, { student: studentName(c.studentId), parent, isCaller: true });
  const keep = rec.end ? rec.end.keepTime : c.keepTime;
  S.deviceResult = {
    ...ex,
    badge: rec.ending ? rec.ending.eventName : null,
    title: `${ex.title} · call ended after ${fmtDuration(keep)}`,
    what: [ex.what, c.chargeType === 'duration' ? `Billed time: ${fmtDuration(rec.billed)} (finishVoip).` : 'Billed per device license (finishVoip).'].join(' '),
    next: ex.next || 'For another call, scan the student’s face again (each scan allows one call).',
    nav: S.deviceNav,
  };
  announce(S.deviceResult.title);
  S.logStudent = c.studentId;
  renderDevice();
  refresh();
}

// ---- the relationship picture ----------------------------------------------------------------

function buildRelations() {
  const root = $('relations');
  const graph = h('div', { class: 'graph' });
  root.append(
    h(
      'header',
      { class: 'panel-head' },
      h('h2', { id: 'relations-title' }, 'Who can call whom'),
      h('p', { class: 'muted', text: 'Live view of the registry: each student’s contacts (developer query getVoipContactList).' }),
    ),
    graph,
    h(
      'ul',
      { class: 'legend' },
      h('li', null, h('span', { class: 'sw ok' }), 'contact: the call goes through'),
      h('li', null, h('span', { class: 'sw blocked' }), 'contact, but calls not allowed yet (errCode 8)'),
      h('li', null, h('span', { class: 'star', text: '★' }), 'administrator (manages the list)'),
      h('li', null, 'no line: not a contact, calls refused (errCode 9)'),
    ),
  );
  S.ui.graph = graph;
}

function renderRelations() {
  const W = 640;
  const rowH = 78;
  const top = 14;
  const H = top * 2 + ROSTER.length * rowH;
  const sx = 196; // edge start (right of student labels)
  const px = W - 200; // edge end (left of parent avatars)
  const sy = (i) => top + i * rowH + rowH / 2;
  const pGap = (H - 2 * top) / PARENTS.length;
  const py = (j) => top + j * pGap + pGap / 2;
  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'rel',
    role: 'img',
    'aria-label': 'Students on the left, parents on the right, a line for each contact',
  });
  const edges = svg('g', { class: 'edges' });
  const marks = svg('g', { class: 'marks' });
  const nodes = svg('g', { class: 'nodes' });
  const desc = [];
  ROSTER.forEach((s, i) => {
    const list = S.contacts.get(s.userId) || [];
    const y = sy(i);
    const admin = list.find((c) => c.role === 1);
    nodes.append(
      svg('image', { href: avatarUrl(s.look), x: 8, y: y - 24, width: 48, height: 48 }),
      svg('text', { x: 64, y: y - 8, class: 'n-name' }, s.name),
      svg('text', { x: 64, y: y + 9, class: 'n-sub' }, s.cls),
      svg(
        'text',
        { x: 64, y: y + 25, class: 'n-count' + (list.length >= S.max ? ' full' : '') },
        list.length ? `${list.length} of ${S.max} contacts${list.length >= S.max ? ' · full' : ''}` : 'no contacts yet',
      ),
    );
    const names = [];
    for (const c of list) {
      const j = S.phones.findIndex((ph) => ph.openId === c.open_id);
      if (j < 0) continue;
      const y2 = py(j);
      const ok = consented(c.open_id);
      const d = `M${sx},${y} C${sx + 120},${y} ${px - 120},${y2} ${px},${y2}`;
      edges.append(
        svg('path', {
          d,
          class: 'edge ' + (ok ? 'ok' : 'blocked') + (c.role === 1 ? ' admin' : ''),
          'data-student': s.userId,
          'data-parent': PARENTS[j].id,
        }),
      );
      names.push(nameOf(c.open_id) + (c.role === 1 ? ' (admin)' : '') + (ok ? '' : ' (calls not allowed)'));
    }
    if (admin) {
      // the star sits on the administrator's line, near the student
      const j = S.phones.findIndex((ph) => ph.openId === admin.open_id);
      if (j >= 0) {
        const t = 0.12;
        const y2 = py(j);
        const bx = (1 - t) ** 3 * sx + 3 * (1 - t) ** 2 * t * (sx + 120) + 3 * (1 - t) * t * t * (px - 120) + t ** 3 * px;
        const by = (1 - t) ** 3 * y + 3 * (1 - t) ** 2 * t * y + 3 * (1 - t) * t * t * y2 + t ** 3 * y2;
        marks.append(
          svg('g', { class: 'admin-mark' }, svg('title', null, `${nameOf(admin.open_id)} is ${s.name}’s administrator`), svg('circle', { cx: bx, cy: by, r: 10 }), svg('text', { x: bx, y: by + 4.5 }, '★')),
        );
      }
    }
    desc.push(`${s.name}: ${names.length ? names.join(', ') : 'no contacts'}`);
  });
  S.phones.forEach((ph, j) => {
    const y = py(j);
    const ok = consented(ph.openId);
    nodes.append(
      svg('image', { href: avatarUrl(ph.p.look), x: px + 8, y: y - 24, width: 48, height: 48 }),
      svg('text', { x: px + 64, y: y - 6, class: 'n-name' }, ph.p.name),
      svg('text', { x: px + 64, y: y + 10, class: 'n-sub' }, ph.p.phone),
      svg('text', { x: px + 64, y: y + 26, class: 'n-consent ' + (ok ? 'yes' : 'no') }, ok ? '✓ calls allowed' : '✕ calls not allowed'),
    );
  });
  root.append(edges, marks, nodes);
  S.ui.graph.replaceChildren(root, h('p', { class: 'visually-hidden', 'data-testid': 'relations-text', text: desc.join('. ') }));
}

// ---- the phones ------------------------------------------------------------------------------

function buildPhones() {
  const root = $('phones');
  for (const ph of S.phones) {
    if (!ph.here) continue;
    const ui = ph.ui;
    ui.notice = h('div', { class: 'notice', 'aria-live': 'polite' });
    ui.consent = h('p', { class: 'consent-state' });
    ui.select = h(
      'select',
      { onchange: (ev) => (ph.studentId = ev.target.value) },
      ROSTER.map((s) => h('option', { value: s.userId, text: `${s.name} · ${s.cls}` })),
    );
    ui.share = h('div', { class: 'share' });
    ui.link = h('textarea', { rows: 3, placeholder: 'Paste a share link here (it starts with __plugin__/… )', spellcheck: 'false', 'aria-label': 'Share link to open' });
    ui.list = h('div', { class: 'clist' });
    ui.bindpage = h('div', { class: 'bindpage', hidden: true, role: 'dialog', 'aria-label': `Bind page on ${ph.p.phone}` });
    ui.callpage = h('div', { class: 'callpage', hidden: true, role: 'alertdialog', 'aria-label': `Call on ${ph.p.phone}` });
    const section = h(
      'section',
      { class: 'phone', style: `--accent:${ph.p.color}`, 'aria-label': `${ph.p.phone}: ${ph.p.name}`, 'data-parent': ph.p.id },
      h(
        'header',
        { class: 'phone-top' },
        avatarImg(ph.p.look, 44),
        h('div', null, h('h2', null, ph.p.name, ' ', h('span', { class: 'phone-no', text: ph.p.phone })), h('code', { class: 'openid', title: 'openId (generated at first load)', text: ph.openId })),
      ),
      h(
        'div',
        { class: 'screen-wrap' },
        h(
        'div',
        { class: 'screen' },
        ui.notice,
        h(
          'div',
          { class: 'card' },
          h('h3', { text: 'VoIP calls' }),
          ui.consent,
          h(
            'div',
            { class: 'btnrow' },
            h('button', { type: 'button', class: 'primary', onclick: () => setConsent(ph, true) }, 'Allow VoIP calls'),
            h('button', { type: 'button', onclick: () => setConsent(ph, false) }, 'Revoke'),
          ),
        ),
        h(
          'div',
          { class: 'card' },
          h('h3', { text: 'Manage a student' }),
          h('label', { class: 'field' }, h('span', { text: 'Student' }), ui.select),
          h(
            'div',
            { class: 'btnrow' },
            h('button', { type: 'button', onclick: () => becomeAdmin(ph) }, 'Become administrator'),
            h('button', { type: 'button', onclick: () => createLink(ph) }, 'Create share link'),
          ),
          ui.share,
        ),
        h(
          'div',
          { class: 'card' },
          h('h3', { text: 'Open a share link' }),
          ui.link,
          h('div', { class: 'btnrow' }, h('button', { type: 'button', onclick: () => openLink(ph, ui.link.value, 'pasted') }, 'Open link')),
        ),
        h(
          'div',
          { class: 'card' },
          h('div', { class: 'card-head' }, h('h3', { text: 'My students' }), h('button', { type: 'button', class: 'small ghost', onclick: () => listContacts(ph) }, 'Refresh list')),
          ui.list,
        ),
      ),
        ui.bindpage,
        ui.callpage,
      ),
    );
    ui.section = section;
    root.append(section);
    renderPhone(ph);
  }
}

function setNotice(ph, n) {
  ph.notice = n;
  renderNotice(ph);
}

function renderNotice(ph) {
  const el = ph.ui.notice;
  if (!ph.notice) {
    el.replaceChildren();
    el.hidden = true;
    return;
  }
  el.hidden = false;
  el.replaceChildren(outcomeBox(ph.notice), h('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss', onclick: () => setNotice(ph, null) }, '×'));
}

// ---- a phone's calls ---------------------------------------------------------------------------

/** The listener's events (SPEC §3.7): incomingVoip rings, startVoip connects, an ending ends. */
function phoneCallEvent(ph, ev) {
  const name = ev.eventName;
  const c = ph.call && ph.call.roomId === ev.roomId ? ph.call : null;
  if (name === 'incomingVoip') {
    if (ph.call && ph.call.phase !== 'ended') return; // in a call: the service answers busy
    closeCall(ph);
    const d = ev.data;
    ph.call = { roomId: ev.roomId, callerId: d.callerId, callerName: d.callerName || studentName(d.callerId), roomType: d.roomType, businessType: d.businessType, phase: 'ringing', keepTime: 0, view: callView('phone'), answeredHere: false };
    ph.stopRing = ringTone();
    announce(`${ph.p.name}’s phone: incoming call from ${ph.call.callerName}`);
    renderCallPage(ph);
    ph.ui.callpage.querySelector('button.answer')?.focus();
  } else if (!c) {
    return;
  } else if (name === 'startVoip') {
    stopRing(ph);
    c.phase = 'connected';
    renderCallPage(ph);
    if (c.answeredHere) {
      const s = studentById(c.callerId);
      startMedia({
        signal: signalFor(c.roomId, 'phone'),
        offerer: false,
        me: { look: ph.p.look, label: ph.p.name, color: ph.p.color },
        remote: c.view.remote,
        local: c.view.local,
        onStats: (st) => showStats(c.view, st),
      }).then(
        (m) => {
          if (ph.call === c && c.phase === 'connected') {
            c.media = m;
            renderCallPage(ph);
          } else m.stop();
        },
        (e) => addLog(ph.p, 'fail', 'media', String(e)),
      );
      void s;
    }
  } else if (name === 'calling') {
    c.keepTime = ev.data.keepTime;
    c.view.timer.textContent = fmtDuration(c.keepTime);
  } else if (ENDINGS.has(name)) {
    c.ending = ev;
    stopRing(ph);
  } else if (name === 'endVoip') {
    c.end = ev.data;
  } else if (name === 'finishVoip') {
    c.billed = ev.data.keepTime;
    c.phase = 'ended';
    if (c.media) c.media.stop();
    c.media = null;
    stopRing(ph);
    const ex = explainEnding(c.ending, { student: c.callerName, parent: ph.p.name, isCaller: false });
    announce(`${ph.p.name}’s phone: ${ex.title}`);
    if (c.answeredHere) {
      renderCallPage(ph); // the ending and the billed time, until Close
      ph.ui.callpage.querySelector('button.primary')?.focus();
    } else {
      // Not talked on this screen (missed, declined, answered elsewhere): a note, not a screen.
      closeCall(ph);
      setNotice(ph, { ...ex, badge: c.ending ? c.ending.eventName : null, title: `${ex.title} (${c.callerName})` });
    }
  }
}

function stopRing(ph) {
  if (ph.stopRing) ph.stopRing();
  ph.stopRing = null;
}

function closeCall(ph) {
  stopRing(ph);
  if (ph.call && ph.call.media) ph.call.media.stop();
  ph.call = null;
  if (ph.ui.callpage) renderCallPage(ph);
}

async function answer(ph) {
  const c = ph.call;
  if (!c || c.phase !== 'ringing') return;
  c.answeredHere = true;
  stopRing(ph);
  const args = { roomId: c.roomId };
  const r = await run(ph.p, 'answerVoip', args, () => ph.inst.answerVoip(args), (v) => v.errMsg);
  if (!r.ok) {
    c.answeredHere = false;
    setNotice(ph, errorNotice(r.error, { me: ph.p.name }));
    closeCall(ph);
  }
}

async function reject(ph) {
  const c = ph.call;
  if (!c || c.phase !== 'ringing') return;
  stopRing(ph);
  const args = { roomId: c.roomId };
  const r = await run(ph.p, 'rejectVoip', args, () => ph.inst.rejectVoip(args), (v) => v.errMsg);
  if (!r.ok) setNotice(ph, errorNotice(r.error, { me: ph.p.name }));
}

function phoneHangUp(ph) {
  const c = ph.call;
  if (!c) return;
  try {
    ph.inst.forceHangUpVoip(c.roomId);
    addLog(ph.p, 'ok', 'forceHangUpVoip', `room ${shortId(c.roomId)} hung up`, { request: { roomId: c.roomId } });
  } catch (e) {
    addLog(ph.p, 'fail', 'forceHangUpVoip', `errCode ${e.errCode} ${e.code}`, { request: { roomId: c.roomId }, error: e });
  }
}

function renderCallPage(ph) {
  const el = ph.ui.callpage;
  const c = ph.call;
  if (!c) {
    el.hidden = true;
    el.replaceChildren();
    ph.ui.section.classList.remove('on-callpage');
    return;
  }
  el.hidden = false;
  ph.ui.section.classList.add('on-callpage');
  const s = studentById(c.callerId);
  const v = c.view;
  const head = h(
    'div',
    { class: 'cp-head' },
    avatarImg(s ? s.look : UNKNOWN_LOOK, 72, ''),
    h('h3', { class: 'cp-name', id: `cp-name-${ph.p.id}`, text: c.callerName }),
    h('p', { class: 'muted small', text: `${s ? s.cls + ' · ' : ''}school face-pay device · ${c.roomType} call` }),
  );
  if (c.phase === 'ringing') {
    el.replaceChildren(
      head,
      h('p', { class: 'cp-state ringing', text: 'Incoming call…' }),
      h(
        'div',
        { class: 'btnrow cp-actions' },
        h('button', { type: 'button', class: 'danger reject', onclick: () => reject(ph) }, 'Reject'),
        h('button', { type: 'button', class: 'primary answer', onclick: () => answer(ph) }, 'Answer'),
      ),
    );
  } else if (c.phase === 'connected') {
    v.title.replaceChildren(c.answeredHere ? 'Connected ' : 'Answered on another screen ', v.timer);
    v.timer.textContent = fmtDuration(c.keepTime);
    v.media.hidden = !c.answeredHere;
    v.actions.replaceChildren(
      h('button', { type: 'button', class: 'danger', onclick: () => phoneHangUp(ph) }, 'Hang up'),
      ...(c.media ? [h('button', { type: 'button', class: 'small ghost', onclick: () => useCamera(c.media) }, 'Use my camera')] : []),
    );
    if (el.lastChild !== v.root) el.replaceChildren(head, v.root);
  } else {
    const ex = explainEnding(c.ending, { student: c.callerName, parent: ph.p.name, isCaller: false });
    const keep = c.end ? c.end.keepTime : c.keepTime;
    el.replaceChildren(
      head,
      outcomeBox({
        ...ex,
        badge: c.ending ? c.ending.eventName : null,
        title: `${ex.title} · call ended after ${fmtDuration(keep)}`,
        what: [ex.what, c.end && c.billed !== undefined && c.businessType === 0 ? `Billed time: ${fmtDuration(c.billed)} (finishVoip).` : 'finishVoip received.'].join(' '),
      }),
      h('div', { class: 'btnrow end' }, h('button', { type: 'button', class: 'primary', onclick: () => closeCall(ph) }, 'Close')),
    );
  }
}

function renderPhone(ph) {
  if (!ph.ui.section) return;
  const ui = ph.ui;
  // ph.consent is getVoipConsent().granted, read from the core at every refresh.
  ui.consent.className = 'consent-state ' + (ph.consent === null ? 'muted' : ph.consent ? 'yes' : 'no');
  ui.consent.textContent =
    ph.consent === null
      ? 'Asking the plugin (getVoipConsent)…'
      : ph.consent
        ? 'Allowed: students bound to this phone can call it.'
        : 'Not allowed: calls to this phone are refused, and binding is not possible yet.';
  renderNotice(ph);
  renderShare(ph);
  renderList(ph);
  renderBindPage(ph);
}

function renderShare(ph) {
  const box = ph.ui.share;
  const sh = ph.share;
  if (!sh) {
    box.replaceChildren();
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const s = studentById(sh.userId);
  // Both come from the core (inspectBindContactPath on this phone, see inspectShare).
  const ins = sh.inspect;
  const status = ins ? ins.status : null;
  const stale = status === 'invalid' || status === 'unbind';
  const expired = status === 'expire';
  const qr = h('div', { class: 'qr', title: 'QR code of the share link' });
  const q = qrcode(0, 'M');
  q.addData(sh.path);
  q.make();
  qr.innerHTML = q.createSvgTag({ cellSize: 3, margin: 3, scalable: true, alt: { text: `QR code: share link for ${s.name}`, id: `qr-alt-${ph.p.id}` } });
  const linkText = h('textarea', { class: 'linktext', readonly: true, rows: 4, 'aria-label': `Share link for ${s.name}`, onfocus: (ev) => ev.target.select() });
  linkText.value = sh.path;
  const others = S.phones.filter((x) => x !== ph && x.here);
  box.replaceChildren(
    h(
      'div',
      { class: 'share-card' + (stale ? ' stale' : '') },
      qr,
      h(
        'div',
        { class: 'share-body' },
        h('p', { class: 'share-title' }, h('b', { text: `Share link for ${s.name}` })),
        h(
          'p',
          {
            class: 'small ' + (stale || expired ? 'error-text' : 'muted'),
            text: expired
              ? `Expired ${fmtDateTime(ins.expiresAt)}: the administrator can create a new link.`
              : status === 'invalid'
                ? 'No longer works: this phone is not the administrator who created it any more.'
                : status === 'unbind'
                  ? `No longer works: ${s.name}’s contacts were reset.`
                  : ins && ins.expiresAt !== undefined
                    ? `Valid until ${fmtDateTime(ins.expiresAt)} (${fmtSpan(TICKET_TTL_MS)})`
                    : 'The plugin could not check this link.',
          },
        ),
        stale ? null : h('p', { class: 'muted small', text: 'Parents scan the QR code with WeChat, or get the link as a shared card.' }),
      ),
      linkText,
      h(
        'div',
        { class: 'btnrow send' },
        others.map((o) =>
          h('button', { type: 'button', class: 'small', disabled: stale, onclick: () => sendLink(ph, o) }, `Send to ${o.p.name}`),
        ),
        h('button', { type: 'button', class: 'small ghost', onclick: () => copyLink(ph) }, 'Copy'),
      ),
    ),
  );
}

function renderList(ph) {
  const box = ph.ui.list;
  if (!ph.list.length) {
    box.replaceChildren(h('p', { class: 'muted small', text: 'Not bound to any student yet. Become a student’s administrator, or open a share link from one.' }));
    return;
  }
  box.replaceChildren(
    ...ph.list.map((entry) => {
      const s = studentById(entry.user_id);
      const look = s ? s.look : UNKNOWN_LOOK;
      const name = s ? s.name : entry.user_id;
      const isAdmin = entry.is_ad === 1;
      const head = h(
        'div',
        { class: 'cstudent' },
        avatarImg(look, 30),
        h('b', { text: name }),
        h('span', { class: 'role ' + (isAdmin ? 'admin' : 'contact'), text: isAdmin ? '★ you are administrator' : 'you are a contact' }),
      );
      if (!isAdmin) {
        return h(
          'div',
          { class: 'centry', 'data-student': entry.user_id },
          head,
          h('p', { class: 'muted small', text: `${name} can call you. Only the administrator sees and changes the full list.` }),
        );
      }
      return h(
        'div',
        { class: 'centry', 'data-student': entry.user_id },
        head,
        h('p', { class: 'muted small', text: `${entry.openid_list.length} of ${S.max} contacts` }),
        h(
          'ul',
          { class: 'contacts' },
          entry.openid_list.map((oid, k) => {
            const other = phoneOf(oid);
            const me = oid === ph.openId;
            return h(
              'li',
              { 'data-openid': oid },
              other ? avatarImg(other.p.look, 24) : avatarImg(UNKNOWN_LOOK, 24),
              h('span', { class: 'cname' }, h('b', { text: nameOf(oid) + (me ? ' (you)' : '') }), k === 0 ? h('span', { class: 'tag admin', text: '★ admin' }) : null),
              me
                ? null
                : h(
                    'span',
                    { class: 'actions' },
                    h('button', { type: 'button', class: 'small', 'aria-label': `Make ${nameOf(oid)} administrator of ${name}`, onclick: () => transfer(ph, entry.user_id, oid) }, 'Make admin'),
                    h('button', { type: 'button', class: 'small danger-ghost', 'aria-label': `Remove ${nameOf(oid)} from ${name}`, onclick: () => removeContact(ph, entry.user_id, oid) }, 'Remove'),
                  ),
            );
          }),
        ),
      );
    }),
  );
}

function renderBindPage(ph) {
  const el = ph.ui.bindpage;
  const b = ph.bind;
  if (!b) {
    el.hidden = true;
    el.replaceChildren();
    ph.ui.section.classList.remove('on-bindpage');
    return;
  }
  el.hidden = false;
  ph.ui.section.classList.add('on-bindpage');
  const ins = b.inspect;
  const s = studentById(ins.userId);
  const name = ins.userName || (s ? s.name : '');
  const ctx = { student: name || 'this student', admin: adminName(ins.userId), max: S.max, ...linkTimes(ins) };
  const warn = b.result ? null : previewNote(ins.status, ctx);
  let body;
  if (b.result) {
    const ex = explainBind(b.result.type, ctx);
    body = [
      outcomeBox({ ...ex, badge: b.result.type, raw: b.result.errMsg, nav: b.nav }),
      h('div', { class: 'btnrow end' }, h('button', { type: 'button', class: 'primary', onclick: () => closeBind(ph) }, 'Done')),
    ];
  } else {
    body = [
      warn ? h('p', { class: 'preview-warn', role: 'note' }, h('b', { text: 'Heads-up: ' }), warn) : null,
      h(
        'div',
        { class: 'btnrow end' },
        h('button', { type: 'button', onclick: () => decide(ph, false) }, 'Cancel'),
        h('button', { type: 'button', class: 'primary', onclick: () => decide(ph, true) }, 'Bind'),
      ),
    ];
  }
  el.replaceChildren(
    h(
      'div',
      { class: 'bp-bar' },
      h('button', { type: 'button', class: 'ghost small', 'aria-label': 'Back', onclick: () => closeBind(ph) }, '‹ Back'),
      h('span', null, h('b', { text: 'Bind contact' }), h('small', { text: 'plugin page · pages/bind-contact/bind-contact' })),
    ),
    h(
      'div',
      { class: 'bp-body' },
      b.via ? h('p', { class: 'via muted small', text: b.via }) : null,
      avatarImg(s ? s.look : UNKNOWN_LOOK, 84, name),
      h('h3', { class: 'bp-name', text: name || 'Unknown student' }),
      s ? h('p', { class: 'muted small', text: s.cls }) : null,
      h(
        'p',
        { class: 'bp-ask', text: `Bind ${ph.p.name} as a contact of ${name || 'this student'}? ${name || 'The student'} will be able to call this phone from the school’s face-pay device.` },
      ),
      body,
      h(
        'p',
        { class: 'demo-note' },
        h('b', { text: 'In this demo ' }),
        'Bind calls acceptBindContactPath only: it does not ask for VoIP consent. A phone that has not tapped “Allow VoIP calls” gets the outcome “auth”.',
      ),
    ),
  );
}

/** For explainBind: the configured link lifetime, and when this link expires (the core's expiresAt). */
function linkTimes(ins) {
  return { ttl: fmtSpan(TICKET_TTL_MS), expiresAt: ins && ins.expiresAt !== undefined ? fmtDateTime(ins.expiresAt) : null };
}

// ---- phone actions ---------------------------------------------------------------------------

const CONSENT_NOTICE = {
  true: {
    tone: 'ok',
    title: 'VoIP calls allowed',
    what: 'Students bound to this phone can now call it, and this phone can become a contact.',
    next: 'Become a student’s administrator, or open a share link from one.',
  },
  false: {
    tone: 'info',
    title: 'VoIP calls turned off',
    what: 'Calls from the school device to this phone are now refused (errCode 8). Your bindings stay as they are.',
    next: 'Tap “Allow VoIP calls” to receive calls again.',
  },
};

/** Allow (authorizeVoip) or revoke (revokeVoip) VoIP calls on a phone. */
async function setConsent(ph, allowed) {
  const api = allowed ? 'authorizeVoip' : 'revokeVoip';
  // run() refreshes the views, which reads the consent back with getVoipConsent().
  const r = await run(ph.p, api, undefined, () => ph.inst[api](), (v) => v.errMsg);
  if (r.ok) setNotice(ph, CONSENT_NOTICE[allowed]);
  else setNotice(ph, errorNotice(r.error, { me: ph.p.name }));
}

function errorNotice(e, ctx) {
  const ex = explainError(e, ctx);
  return { tone: 'error', badge: e && e.errCode ? `errCode ${e.errCode}` : null, ...ex, raw: e && e.errMsg };
}

async function becomeAdmin(ph) {
  const userId = ph.studentId;
  const name = studentName(userId);
  const before = adminOf(userId);
  const args = { userId };
  const ctx = { student: name, me: ph.p.name, admin: before ? nameOf(before) : null };
  const r = await run(ph.p, 'bindVoipAdminContact', args, () => ph.inst.bindVoipAdminContact(args), (v) => `${v.errMsg} · ${name}`);
  if (r.ok) {
    setNotice(ph, {
      tone: 'ok',
      title: before === ph.openId ? `You were already ${name}’s administrator` : `You are now ${name}’s administrator`,
      what: `${name} can call this phone, and you decide who else may be called.`,
      next: 'Create a share link and send it to the other parents.',
    });
  } else setNotice(ph, errorNotice(r.error, ctx));
}

async function createLink(ph) {
  const userId = ph.studentId;
  const s = studentById(userId);
  const args = { userId, userName: s.name, userAvatar: '' };
  const ctx = { student: s.name, me: ph.p.name, admin: adminName(userId) };
  const r = await run(ph.p, 'getBindContactPath', args, () => ph.inst.getBindContactPath(args), (v) => `share path (${v.length} chars) for ${s.name}`);
  if (r.ok) {
    ph.share = { path: r.value, userId, inspect: null };
    ph.share.inspect = await inspectShare(ph); // its expiresAt is the card's "valid until"
    setNotice(ph, {
      tone: 'ok',
      title: `Share link created for ${s.name}`,
      what: 'In WeChat you would share it as a Mini Program card (onShareAppMessage), or show the QR code.',
      next: 'Send it to another parent with the buttons below the link.',
    });
    renderShare(ph);
  } else setNotice(ph, errorNotice(r.error, ctx));
}

function sendLink(from, to) {
  if (!from.share) return;
  to.ui.link.value = from.share.path;
  setNotice(from, {
    tone: 'info',
    title: `Link sent to ${to.p.name}`,
    what: `${to.p.phone} now shows the bind page for ${studentName(from.share.userId)}.`,
  });
  openLink(to, from.share.path, `Opened from a link ${from.p.name} sent.`);
}

async function copyLink(ph) {
  try {
    await navigator.clipboard.writeText(ph.share.path);
    setNotice(ph, { tone: 'info', title: 'Link copied', what: 'Paste it into another phone’s “Open a share link” box.' });
  } catch (_) {
    setNotice(ph, {
      tone: 'warn',
      title: 'The browser did not allow copying',
      what: 'Clipboard access was refused.',
      next: 'Select the link text (click it), copy it with Ctrl+C / ⌘C, and paste it on another phone.',
    });
  }
}

async function openLink(ph, raw, via) {
  const path = String(raw || '').trim();
  if (!path) {
    setNotice(ph, {
      tone: 'warn',
      title: 'No link to open',
      what: 'The “Open a share link” box is empty.',
      next: 'Paste a share link there (or use “Send to …” on the administrator’s phone), then tap “Open link”.',
    });
    return;
  }
  const r = await run(ph.p, 'inspectBindContactPath', { path }, () => ph.inst.inspectBindContactPath(path), (v) => `${v.userName || '?'} · status ${v.status}`);
  if (!r.ok) {
    setNotice(ph, errorNotice(r.error, { me: ph.p.name }));
    return;
  }
  ph.bind = { path, inspect: r.value, result: null, nav: null, via: via === 'pasted' ? 'Opened from a pasted link.' : via };
  renderBindPage(ph);
}

async function decide(ph, accept) {
  const b = ph.bind;
  if (!b || b.result) return;
  ph.pendingNav = null;
  const api = accept ? 'acceptBindContactPath' : 'declineBindContactPath';
  const r = await run(ph.p, api, { path: b.path }, () => (accept ? ph.inst.acceptBindContactPath(b.path) : ph.inst.declineBindContactPath(b.path)), (v) => `type “${v.type}”`);
  if (ph.bind !== b) return;
  if (r.ok) {
    b.result = r.value;
    b.nav = ph.pendingNav;
    const name = b.inspect.userName || studentName(b.inspect.userId);
    const ex = explainBind(r.value.type, { student: name, admin: adminName(b.inspect.userId), max: S.max, ...linkTimes(b.inspect) });
    ph.notice = { ...ex, badge: r.value.type, raw: r.value.errMsg };
  } else {
    ph.notice = errorNotice(r.error, { me: ph.p.name });
    ph.bind = null;
  }
  renderPhone(ph);
}

function closeBind(ph) {
  ph.bind = null;
  renderBindPage(ph);
}

async function listContacts(ph) {
  const r = await run(ph.p, 'getVoipBindContactList', {}, () => ph.inst.getVoipBindContactList(), (v) =>
    v.length ? v.map((e) => `${studentName(e.user_id)}${e.is_ad ? ' (admin)' : ''}: ${e.openid_list.map(nameOf).join(', ')}`).join(' · ') : '[] (not bound)',
  );
  if (r.ok) {
    setNotice(ph, {
      tone: 'info',
      title: 'List refreshed',
      what: r.value.length ? `Bound to ${r.value.length} student${r.value.length > 1 ? 's' : ''}.` : 'Not bound to any student.',
    });
  } else setNotice(ph, errorNotice(r.error, { me: ph.p.name }));
}

async function transfer(ph, userId, target) {
  const name = studentName(userId);
  const args = { userId, newAdminOpenid: target };
  const r = await run(ph.p, 'transerAdmin', args, () => ph.inst.transerAdmin(args), (v) => `${name}: administrator is now ${nameOf(v.adminOpenid)}`);
  if (r.ok) {
    setNotice(ph, {
      tone: 'ok',
      title: `${nameOf(target)} is now ${name}’s administrator`,
      what: `You stay one of ${name}’s contacts. Share links you created for ${name} no longer work.`,
      next: `${nameOf(target)} now manages ${name}’s contacts.`,
    });
    const to = phoneOf(target);
    if (to) setNotice(to, { tone: 'info', title: `You are now ${name}’s administrator`, what: `${ph.p.name} handed the role to you. You can now send share links and manage ${name}’s contacts.` });
  } else setNotice(ph, errorNotice(r.error, { student: name, me: ph.p.name, target: nameOf(target), admin: adminName(userId) }));
}

async function removeContact(ph, userId, target) {
  const name = studentName(userId);
  const args = { userId, openidList: [target] };
  const r = await run(ph.p, 'deleteVoipBindContact', args, () => ph.inst.deleteVoipBindContact(args), (v) => `${name}: removed ${v.deleted.map(nameOf).join(', ')}`);
  if (r.ok) {
    setNotice(ph, {
      tone: 'ok',
      title: `Removed ${nameOf(target)} from ${name}’s contacts`,
      what: `${name} can no longer call ${nameOf(target)}.`,
      next: `To add them back, send ${nameOf(target)} a new share link.`,
    });
  } else setNotice(ph, errorNotice(r.error, { student: name, me: ph.p.name, target: nameOf(target), admin: adminName(userId), max: S.max }));
}

// ---- other screens: the device and each phone as a page of its own ---------------------------

function buildScreens() {
  const root = $('screens');
  const head = h(
    'header',
    { class: 'panel-head' },
    h('h2', { id: 'screens-title' }, 'Open on other screens'),
    h('p', { class: 'muted', text: 'Each page has its own connection to the contact service and its own identity: open them in other windows, or scan a QR code with a phone on the same network.' }),
  );
  if (S.mode !== 'service') {
    root.append(head, h('p', { class: 'muted small', text: 'Separate screens need the contact service: start the demo with `make demo` and open it without ?backend=local.' }));
    return;
  }
  // A phone on the network needs an address other than 127.0.0.1 (serve-demo --lan prints them).
  const lan = (S.cfg.addresses || []).find((a) => !a.startsWith('http://127.'));
  const base = lan || location.origin + '/';
  const card = (label, href, look, qrText) => {
    const q = qrcode(0, 'M');
    q.addData(base.replace(/\/$/, '') + href);
    q.make();
    const qr = h('div', { class: 'qr small-qr' });
    qr.innerHTML = q.createSvgTag({ cellSize: 2, margin: 2, scalable: true, alt: { text: qrText } });
    return h('li', { class: 'screen-card' }, avatarImg(look, 32), h('a', { href, target: '_blank', rel: 'noopener' }, label), qr);
  };
  root.append(
    head,
    h(
      'ul',
      { class: 'screen-list' },
      card('Face-pay device', 'device.html', ROSTER[0].look, 'QR code: the device page'),
      PARENTS.map((p) => card(`${p.name} · ${p.phone}`, `phone.html?parent=${p.id}`, p.look, `QR code: ${p.name}’s phone page`)),
    ),
    lan ? null : h('p', { class: 'muted small', text: 'The QR codes point at 127.0.0.1 (this computer only). For a real phone, start the demo with `node scripts/serve-demo.mjs --lan`.' }),
  );
}

// ---- the log panel ---------------------------------------------------------------------------

function buildLog() {
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

boot().catch((e) => {
  console.error('[demo] failed to start', e);
  showBanner('The demo failed to start.', 'Reload the page; if it fails again, press “Reset demo”.', String(e && (e.errMsg || e.message)));
});
