// View pieces shared by the device and the phones: outcome cards, the live call (videos,
// timer, media line), the polite live region.
import { explainError } from './explain.js';
import { $, h } from './dom.js';

/** The words and videos of a call in progress, built once per call (the videos keep playing). */
export function callView(side) {
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

export function showStats(v, st) {
  const el = v.stats;
  Object.assign(el.dataset, { videoWidth: st.videoWidth, currentTime: st.currentTime.toFixed(2), bytesReceived: st.bytesReceived, state: st.state });
  el.textContent = `Media: ${st.state} · receiving ${st.videoWidth ? st.videoWidth + '×' + st.videoHeight + ' video' : 'no video yet'} · ${(st.bytesReceived / 1024).toFixed(1)} KiB received · sending ${st.source === 'camera' ? 'your camera' : 'a synthetic picture and tone'}`;
}

/** "Use my camera": asks for it (the browser prompts), then sends it instead; the button goes. */
export async function useCamera(media, button) {
  const ok = await media.useCamera();
  if (ok && button) button.remove();
  announce(ok ? 'Your camera is on.' : 'The browser did not allow the camera; the synthetic picture stays.');
}

/** Says it once in the page's polite live region (outcomes, calls). */
export function announce(text) {
  const el = $('announce');
  if (!el) return;
  el.textContent = '';
  setTimeout(() => (el.textContent = text), 50);
}

/** A result card: { tone, badge, title, what, next, raw, extra, nav }. */
export function outcomeBox(r) {
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

export function navNote(nav) {
  return h(
    'p',
    { class: 'nav' },
    `Next, the Mini Program opens the ${nav.key} end page: `,
    h('code', { text: `${nav.routeType} ${nav.path}` }),
  );
}

export function errorNotice(e, ctx) {
  const ex = explainError(e, ctx);
  return { tone: 'error', badge: e && e.errCode ? `errCode ${e.errCode}` : null, ...ex, raw: e && e.errMsg };
}
