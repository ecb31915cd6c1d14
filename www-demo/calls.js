// Both sides of a call (SPEC §3.7): the device's and the phone's events, ringing, Answer /
// Reject / Hang up, and the WebRTC media once answered.
import { DEVICE, UNKNOWN_LOOK, studentById } from './people.js';
import { explainEnding } from './explain.js';
import { pageSignal, startMedia, streamSignal } from './rtc.js';
import { ringTone } from './ring.js';
import { S, VIEW } from './state.js';
import { avatarImg, fmtDuration, h, shortId } from './dom.js';
import { phById, studentName } from './who.js';
import { addLog } from './log.js';
import { phoneApi, run, sendSignal } from './api.js';
import { announce, callView, errorNotice, outcomeBox, showStats, useCamera } from './views.js';
import { renderDevice, renderDeviceResult } from './device.js';
import { setNotice } from './phones.js';
import { refresh } from './app.js';

/** roomId → { ending, end, billed } from the events of calls that ended (or are ending). */
export const endedRooms = new Map();
export const ENDINGS = new Set(['busy', 'rejectVoip', 'cancelVoip', 'timeout', 'hangUpVoip', 'abortVoip']);

export function roomRecord(roomId) {
  let rec = endedRooms.get(roomId);
  if (!rec) {
    rec = { roomId };
    endedRooms.set(roomId, rec);
    if (endedRooms.size > 50) endedRooms.delete(endedRooms.keys().next().value);
  }
  return rec;
}

/** The signalling of `me`'s side ('device' or a phone `ph`) of the call `roomId`. */
export function signalFor(roomId, me, ph) {
  return S.mode === 'service' ? streamSignal(roomId, (room, data) => sendSignal(ph, room, data)) : pageSignal(roomId, me);
}

/** The device's events of its call (SPEC §3.7 event order). */
export function deviceCallEvent(ev) {
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

export function deviceCallEnded(rec) {
  const c = S.call;
  if (!c || c.roomId !== rec.roomId) return;
  if (c.media) c.media.stop();
  S.call = null;
  const parent = phById(c.parentId).p.name;
  const ex = explainEnding(rec.ending, { student: studentName(c.studentId), parent, isCaller: true });
  const keep = rec.end ? rec.end.keepTime : c.keepTime;
  // A call that never connected (busy, rejected, cancelled, no answer) has no length to tell.
  const talked = c.phase === 'connected';
  S.deviceResult = {
    ...ex,
    badge: rec.ending ? rec.ending.eventName : null,
    title: talked ? `${ex.title} · call ended after ${fmtDuration(keep)}` : ex.title,
    what: [ex.what, c.chargeType !== 'duration' ? 'Billed per device license (finishVoip).' : `Billed time: ${fmtDuration(rec.billed)} (finishVoip).`].join(' '),
    next: ex.next || 'For another call, scan the student’s face again (each scan allows one call).',
    nav: S.deviceNav,
  };
  announce(S.deviceResult.title);
  S.logStudent = c.studentId;
  renderDevice();
  refresh();
}


/** The listener's events (SPEC §3.7): incomingVoip rings, startVoip connects, an ending ends. */
export function phoneCallEvent(ph, ev) {
  const name = ev.eventName;
  const c = ph.call && ph.call.roomId === ev.roomId ? ph.call : null;
  if (name === 'incomingVoip') {
    if (ph.call && ph.call.phase !== 'ended') return; // in a call: the service answers busy
    closeCall(ph);
    if (ph.notice && ph.notice.fromCall) setNotice(ph, null); // the last call's note is old news
    const d = ev.data;
    ph.call = { roomId: ev.roomId, callerId: d.callerId, callerName: d.callerName || studentName(d.callerId), roomType: d.roomType, businessType: d.businessType, phase: 'ringing', keepTime: 0, view: callView('phone'), answeredHere: false };
    ph.stopRing = ringTone();
    announce(`${ph.p.name}’s phone: incoming call from ${ph.call.callerName}`);
    renderCallPage(ph);
    // On the phone's own page the call takes the screen, and the keyboard with it (Enter
    // answers); on the overview, focus stays where the person is working.
    if (VIEW === 'phone') ph.ui.callpage.querySelector('button.answer')?.focus();
  } else if (!c) {
    return;
  } else if (name === 'startVoip') {
    stopRing(ph);
    c.phase = 'connected';
    renderCallPage(ph);
    if (c.answeredHere) {
      const s = studentById(c.callerId);
      startMedia({
        signal: signalFor(c.roomId, 'phone', ph),
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
    c.wasConnected = c.phase === 'connected';
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
      if (VIEW === 'phone') ph.ui.callpage.querySelector('button.primary')?.focus();
    } else {
      // Not talked on this screen (missed, declined, answered elsewhere): a note, not a screen.
      const keep = c.end ? c.end.keepTime : c.keepTime;
      const elsewhere = c.phase === 'connected' || c.wasConnected;
      closeCall(ph);
      setNotice(ph, {
        fromCall: true,
        ...(elsewhere
          ? // The ending's words are that screen's ("You hung up"): here it is the other screen's call.
            { tone: 'info', badge: c.ending ? c.ending.eventName : null, title: `${c.callerName}’s call on another screen ended after ${fmtDuration(keep)}`, what: 'Another instance of this parent (another window or phone) answered it.' }
          : { ...ex, badge: c.ending ? c.ending.eventName : null, title: `${ex.title} (${c.callerName})` }),
      });
    }
  }
}

export function stopRing(ph) {
  if (ph.stopRing) ph.stopRing();
  ph.stopRing = null;
}

export function closeCall(ph) {
  stopRing(ph);
  if (ph.call && ph.call.media) ph.call.media.stop();
  ph.call = null;
  if (ph.ui.callpage) renderCallPage(ph);
}

export async function answer(ph) {
  const c = ph.call;
  if (!c || c.phase !== 'ringing') return;
  c.answeredHere = true;
  stopRing(ph);
  const args = { roomId: c.roomId };
  const r = await run(ph.p, 'answerVoip', args, () => phoneApi(ph, 'answerVoip', args), (v) => v.errMsg);
  if (!r.ok) {
    c.answeredHere = false;
    setNotice(ph, errorNotice(r.error, { me: ph.p.name }));
    closeCall(ph);
  }
}

export async function reject(ph) {
  const c = ph.call;
  if (!c || c.phase !== 'ringing') return;
  stopRing(ph);
  const args = { roomId: c.roomId };
  const r = await run(ph.p, 'rejectVoip', args, () => phoneApi(ph, 'rejectVoip', args), (v) => v.errMsg);
  if (!r.ok) setNotice(ph, errorNotice(r.error, { me: ph.p.name }));
}

export function phoneHangUp(ph) {
  const c = ph.call;
  if (!c) return;
  try {
    phoneApi(ph, 'forceHangUpVoip', c.roomId);
    addLog(ph.p, 'ok', 'forceHangUpVoip', `room ${shortId(c.roomId)} hung up`, { request: { roomId: c.roomId } });
  } catch (e) {
    addLog(ph.p, 'fail', 'forceHangUpVoip', `errCode ${e.errCode} ${e.code}`, { request: { roomId: c.roomId }, error: e });
  }
}

export function renderCallPage(ph) {
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
      ...(c.media && c.media.source !== 'camera' ? [h('button', { type: 'button', class: 'small ghost', onclick: (ev) => useCamera(c.media, ev.currentTarget) }, 'Use my camera')] : []),
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
        what: [ex.what, `Billed time: ${fmtDuration(c.billed)} (finishVoip).`].join(' '),
      }),
      h('div', { class: 'btnrow end' }, h('button', { type: 'button', class: 'primary', onclick: () => closeCall(ph) }, 'Close')),
    );
  }
}
