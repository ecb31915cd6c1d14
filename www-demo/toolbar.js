// The overview's toolbar: the demo clock (forward only), the contact limit, Reset; and the
// line that says which backend runs.
import { DEMO, KEYS, now, PREFIX, QUERY, S, saved, VIEW } from './state.js';
import { $, errReason, fmtDateTime, fmtOffset, h, showBanner } from './dom.js';
import { addLog } from './log.js';
import { connect, demoPost, disconnect, schoolApi } from './api.js';
import { renderScan } from './device.js';
import { refresh, refreshBindPreviews } from './app.js';

/** The header's line on where the registry lives, with the switch to the other backend. */
export function showMode() {
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

export function buildToolbar() {
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
    await schoolApi('tick');
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
export function showMax() {
  $('max-contacts').value = String(S.max);
  $('max-note').textContent = `now ${S.max}; the real default is 10`;
  $('max-note').className = 'muted';
}

/** Links and tokens are re-checked by the core at the new time (the share cards re-inspect). */
export async function clockMoved() {
  tick();
  await refresh();
  await refreshBindPreviews();
}

export function tick() {
  if ($('clock-now')) {
    $('clock-now').textContent = fmtDateTime(now());
    const off = $('clock-offset');
    off.textContent = fmtOffset(S.offset);
    off.className = Math.abs(S.offset) >= 60000 ? 'ahead' : 'muted';
  }
  if (S.ui.scanStatus) renderScan();
}
