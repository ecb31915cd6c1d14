// Small DOM and formatting helpers (no state).
import { avatarUrl } from './people.js';

export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  setProps(el, props);
  for (const c of kids.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag, props, ...kids) {
  const el = document.createElementNS(SVG_NS, tag);
  setProps(el, props);
  for (const c of kids.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export function setProps(el, props) {
  if (!props) return;
  for (const [k, v] of Object.entries(props)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function avatarImg(look, size, alt) {
  return h('img', { class: 'avatar', src: avatarUrl(look), width: size, height: size, alt: alt || '' });
}

export const $ = (id) => document.getElementById(id);

export function fmtDateTime(ms) {
  return new Date(ms).toLocaleString('en-GB', { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}
export function fmtLogTime(ms) {
  const d = new Date(ms);
  return d.toLocaleDateString('en-GB', { weekday: 'short' }) + ' ' + d.toLocaleTimeString('en-GB');
}
export function fmtOffset(ms) {
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
export function fmtSpan(ms) {
  const unit = (n, one) => `${n} ${one}${n === 1 ? '' : 's'}`;
  if (ms % 3600000 === 0) return unit(ms / 3600000, 'hour');
  if (ms % 60000 === 0) return unit(ms / 60000, 'minute');
  return unit(Math.round(ms / 1000), 'second');
}
export function fmtDuration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}
/** The reason part of an errMsg ('initByCaller:fail <reason>'). */
export function errReason(errMsg) {
  const m = String(errMsg || '');
  const i = m.indexOf(':fail ');
  return i >= 0 ? m.slice(i + 6) : m;
}
export function shortId(id) {
  return id.length > 14 ? id.slice(0, 8) + '…' + id.slice(-4) : id;
}

export function showBanner(text, next, raw) {
  const b = $('banner');
  b.replaceChildren(
    h('strong', { text }),
    next ? h('span', { text: ' ' + next }) : null,
    raw ? h('code', { class: 'raw', text: raw }) : null,
  );
  b.hidden = false;
}

export function radio(name, value, checked, label, hint, onchange) {
  return h(
    'label',
    { class: 'radio' },
    h('input', { type: 'radio', name, value, checked: checked || null, onchange }),
    h('span', null, h('b', { text: label }), hint ? h('small', { text: hint }) : null),
  );
}
