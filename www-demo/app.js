// campus-voip browser demo: three parent phones, one face-pay device, a live picture of who can
// call whom, and an event log. On the contact service (serve-demo.mjs runs it in --dev behind
// this page) each phone and the device has its own backend connection and identity, so each can
// also be its own page (phone.html?parent=p2, device.html) in another window or on another
// machine; with ?backend=local everything runs in this page on one local backend (saved in
// localStorage). Plain DOM, no framework.
import { PARENTS, ROSTER, newOpenId } from './people.js';
import { explainError } from './explain.js';
import { DEFAULT_MAX_CONTACTS, DEMO, KEYS, LEGACY_CONSENT_KEY, PREFIX, QUERY, S, saved, TTL, VIEW } from './state.js';
import { $, showBanner } from './dom.js';
import { addLog, buildLog } from './log.js';
import { connect, disconnect, phoneApi, schoolApi } from './api.js';
import { buildToolbar, showMax, showMode, tick } from './toolbar.js';
import { buildDevice, renderDevice } from './device.js';
import { buildRelations, renderRelations } from './relations.js';
import { buildPhones, renderBindPage, renderPhone } from './phones.js';
import { buildScreens } from './screens.js';

export function loadSaved() {
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
    TTL.ticket = S.cfg.ticketTtlMs;
    TTL.token = S.cfg.voipTokenTtlMs;
  }
  for (const ph of S.phones) ph.here = VIEW === 'overview' || (VIEW === 'phone' && ph.p.id === QUERY.get('parent'));
  S.deviceHere = VIEW !== 'phone';
  const log = saved.get(KEYS.log, []);
  S.log = Array.isArray(log) ? log.filter((e) => e && typeof e.t === 'number' && typeof e.name === 'string') : [];
}

/** The service behind serve-demo (GET /demo/config), unless the page asks for ?backend=local. */
export async function pickMode() {
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

export async function boot() {
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


export let refreshing = null;
export let lastSeen = '';

/**
 * Reads everything the views show (the core's answers) and redraws them. `quiet` (the periodic
 * look in service mode): redraws only if something changed, and skips while another runs.
 */
export async function refresh({ quiet = false } = {}) {
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

export async function readAll(quiet) {
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
    const lists = await Promise.all(ROSTER.map((s) => schoolApi('getVoipContactList', { user_id: s.userId })));
    ROSTER.forEach((s, i) => S.contacts.set(s.userId, lists[i].errcode === 0 ? lists[i].contact_list : []));
    for (const ph of S.phones) {
      if (!ph.here) {
        // Another window's phone: its consent as the developer query cannot tell; unknown here.
        continue;
      }
      ph.list = await phoneApi(ph, 'getVoipBindContactList');
      ph.consent = (await phoneApi(ph, 'getVoipConsent')).granted;
      if (ph.share) ph.share.inspect = await inspectShare(ph);
    }
    if (S.deviceHere && S.logStudent) {
      const r = await schoolApi('getVoipCallList', { user_id: S.logStudent });
      S.callLog = r.errcode === 0 ? r.call_list.slice().sort((x, y) => y.rang_at_ms - x.rang_at_ms) : [];
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
export async function inspectShare(ph) {
  try {
    return await phoneApi(ph, 'inspectBindContactPath', ph.share.path);
  } catch (_) {
    return null;
  }
}

/** Open bind pages re-check their link (the clock or the limit changed). */
export async function refreshBindPreviews() {
  for (const ph of S.phones) {
    if (!ph.bind || ph.bind.result || !ph.inst) continue;
    try {
      ph.bind.inspect = await phoneApi(ph, 'inspectBindContactPath', ph.bind.path);
    } catch (_) {
      // the preview stays as it was; Bind will report the real outcome
    }
    renderBindPage(ph);
  }
}

boot().catch((e) => {
  console.error('[demo] failed to start', e);
  showBanner('The demo failed to start.', 'Reload the page; if it fails again, press “Reset demo”.', String(e && (e.errMsg || e.message)));
});
