// Who is who: names of phones, students and administrators, from S.
import { studentById } from './people.js';
import { S } from './state.js';
import { shortId } from './dom.js';

export function phoneOf(openId) {
  return S.phones.find((ph) => ph.openId === openId) || null;
}
export function nameOf(openId) {
  const ph = phoneOf(openId);
  return ph ? ph.p.name : shortId(openId);
}
export function studentName(userId) {
  const s = studentById(userId);
  return s ? s.name : userId || 'this student';
}
export function adminOf(userId) {
  const c = (S.contacts.get(userId) || []).find((x) => x.role === 1);
  return c ? c.open_id : null;
}
export function adminName(userId) {
  const a = adminOf(userId);
  return a ? nameOf(a) : null;
}
export function isContact(userId, openId) {
  return (S.contacts.get(userId) || []).some((x) => x.open_id === openId);
}
/** The core's answer (getVoipConsent on that phone's instance, read at every refresh). */
export function consented(openId) {
  const ph = phoneOf(openId);
  return !!ph && ph.consent === true;
}

export function phById(id) {
  return S.phones.find((ph) => ph.p.id === id);
}
