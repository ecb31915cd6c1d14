// The face-pay device: scan (issueVoipToken), pick a parent, Call (initByCaller), the call in
// progress and its ending, the student's call log (getVoipCallList).
import { DEVICE, DEVICE2, ROSTER, studentById } from './people.js';
import { explainCallRefusal, explainEnding, explainError } from './explain.js';
import { now, S, TTL } from './state.js';
import { $, avatarImg, errReason, fmtDateTime, fmtDuration, fmtLogTime, fmtSpan, h, radio, shortId } from './dom.js';
import { adminName, consented, nameOf, phById, studentName } from './who.js';
import { addLog } from './log.js';
import { deviceApi, run, schoolApi, secondDeviceCall, secondDeviceHangUp } from './api.js';
import { announce, callView, outcomeBox, useCamera } from './views.js';
import { deviceCallEnded, endedRooms } from './calls.js';
import { refresh } from './app.js';

export function buildDevice() {
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
  // The in-page backend has one device screen: a second device is a button here (the busy row
  // of SPEC §3.7: a parent in a connected call is called again). On the service it is another
  // device page (device.html?device=…), with its own key.
  if (S.mode === 'local') {
    const second = h('button', { type: 'button', class: 'small second-call', onclick: () => callFromSecondDevice() }, 'Call from a second device');
    const secondResult = h('div', { class: 'second-result', role: 'status' });
    root.append(
      h(
        'section',
        { class: 'second-device', 'aria-labelledby': 'second-title' },
        h('h3', { id: 'second-title', text: 'A second device' }),
        h('p', { class: 'muted small', text: 'Another face-pay device on the same in-page backend: it scans the same student and calls the parent this device is talking to.' }),
        second,
        secondResult,
      ),
    );
    Object.assign(S.ui, { second, secondResult });
  }
}

/** The second device (local backend): a fresh scan of the same student, a call to the same parent. */
async function callFromSecondDevice() {
  const c = S.call;
  if (!c || c.phase !== 'connected') return;
  const ph = phById(c.parentId);
  const student = studentById(c.studentId);
  const args = { userId: student.userId };
  const tok = await run(DEVICE2, 'backend.issueVoipToken', args, () => schoolApi('issueVoipToken', args), (t) => `face scan of ${student.name}: voipToken ${shortId(t)}`);
  if (!tok.ok) return;
  const req = { roomType: 'voice', caller: { id: student.userId, name: student.name }, listener: { id: ph.openId, name: ph.p.name }, voipToken: tok.value };
  const r = await run(DEVICE2, 'initByCaller', req, () => secondDeviceCall(req), (v) =>
    v.answer.isSuccess ? `isSuccess: true · roomId ${shortId(v.answer.roomId)}` : `isSuccess: false · errCode ${v.answer.errCode}`,
  );
  const ctx = { student: student.name, parent: ph.p.name, isCaller: true };
  if (r.ok && r.value.answer.isSuccess) {
    const ending = r.value.events.find((e) => e.roomId === r.value.answer.roomId && e.eventName !== 'joinedRoomByCaller' && e.eventName !== 'endVoip' && e.eventName !== 'finishVoip');
    const finish = r.value.events.find((e) => e.eventName === 'finishVoip');
    const ex = explainEnding(ending, ctx);
    S.device2Result = { ...ex, badge: ending ? ending.eventName : null, what: [ex.what, finish ? `Billed time: ${fmtDuration(finish.data.keepTime)} (finishVoip).` : ''].filter(Boolean).join(' ') };
    // Anything but busy rang the parent's phones: the second device hangs it up at once.
    if (!finish) secondDeviceHangUp(r.value.answer.roomId);
  } else if (r.ok) {
    const ex = explainCallRefusal(r.value.answer.errCode, { ...ctx, admin: adminName(student.userId), tokenTtl: fmtSpan(TTL.token) });
    S.device2Result = { tone: 'error', badge: `errCode ${r.value.answer.errCode}`, ...ex, raw: r.value.answer.errMsg };
  } else {
    S.device2Result = { tone: 'error', badge: `errCode ${r.error.errCode}`, ...explainError(r.error, ctx), raw: r.error.errMsg };
  }
  announce(S.device2Result.title);
  renderDevice();
}

export function renderScan() {
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
  const until = fmtDateTime(S.scan.at + TTL.token); // with the day: the demo clock jumps days
  const state = S.scan.used
    ? 'used for a call: scan again for the next call'
    : S.scan.refused
      ? `refused: ${S.scan.refused}`
      : `one call, within ${fmtSpan(TTL.token)} of the scan (until ${until})`;
  el.className = 'scan-status ' + (S.scan.used || S.scan.refused ? 'stale' : 'fresh');
  el.replaceChildren(
    h('b', { text: `Scanned: ${s.name}` }),
    ' · voipToken ',
    h('code', { title: S.scan.token, text: shortId(S.scan.token) }),
    ' · ' + state,
  );
}

export function renderDevice() {
  if (!S.ui.roster) return;
  for (const b of S.ui.roster.children) {
    b.setAttribute('aria-pressed', String(!!S.scan && b.dataset.user === S.scan.userId));
    // One call at a time on a device: no new scan until this one ends.
    b.disabled = !!S.call;
  }
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
  S.ui.callBtn.disabled = !!S.call || !!S.scanning;
  if (S.ui.second) {
    const talking = S.call && S.call.phase === 'connected' ? phById(S.call.parentId).p.name : null;
    S.ui.second.disabled = !talking;
    S.ui.second.textContent = talking ? `Call ${talking} from a second device` : 'Call from a second device (during a connected call)';
    S.ui.secondResult.replaceChildren(...(S.device2Result ? [outcomeBox(S.device2Result)] : []));
  }
  renderDeviceResult();
  renderCallLog();
}

export function renderDeviceResult() {
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
      ...(c.phase === 'connected' && c.media && c.media.source !== 'camera' ? [h('button', { type: 'button', class: 'small ghost', onclick: (ev) => useCamera(c.media, ev.currentTarget) }, 'Use my camera')] : []),
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

export function renderCallLog() {
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

export async function scan(student) {
  if (S.call) return; // the roster is disabled during a call
  const args = { userId: student.userId };
  // Until the scan's token is in, there is nothing to call with.
  S.scanning = true;
  S.ui.callBtn.disabled = true;
  const r = await run(DEVICE, 'backend.issueVoipToken', args, () => schoolApi('issueVoipToken', args), (t) => `face scan of ${student.name}: voipToken ${shortId(t)}`);
  S.scanning = false;
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

export async function call() {
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
  const r = await run(DEVICE, 'initByCaller', req, () => deviceApi('initByCaller', req), (v) =>
    v.isSuccess ? `isSuccess: true · roomId ${shortId(v.roomId)} · chargeType ${v.chargeType}` : `isSuccess: false · errCode ${v.errCode}`,
  );
  const ctx = { student: student.name, parent: ph.p.name, admin: adminName(student.userId), tokenTtl: fmtSpan(TTL.token) };
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

export function hangUp() {
  if (!S.call) return;
  const c = S.call;
  S.deviceNav = null;
  try {
    deviceApi('forceHangUpVoip', c.roomId);
    addLog(DEVICE, 'ok', 'forceHangUpVoip', `room ${shortId(c.roomId)} hung up`, { request: { roomId: c.roomId } });
  } catch (e) {
    addLog(DEVICE, 'fail', 'forceHangUpVoip', `errCode ${e.errCode} ${e.code}`, { request: { roomId: c.roomId }, error: e });
  }
  // The ending, endVoip and finishVoip follow as events (at once on the local backend).
}
