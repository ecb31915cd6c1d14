// The parents' phones: consent, administrator, share links (QR and text), the bind page, the
// list of students, transfer and delete.
import qrcode from 'qrcode-generator';
import { ROSTER, UNKNOWN_LOOK, studentById } from './people.js';
import { explainBind, previewNote } from './explain.js';
import { S, TTL } from './state.js';
import { $, avatarImg, fmtDateTime, fmtSpan, h } from './dom.js';
import { adminName, adminOf, nameOf, phoneOf, studentName } from './who.js';
import { phoneApi, run } from './api.js';
import { errorNotice, outcomeBox } from './views.js';
import { inspectShare } from './app.js';
import { closeCall } from './calls.js';

export function buildPhones() {
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
    // Escape leaves the bind page (as ‹ Back), and closes an ended call's screen (as Close).
    ui.bindpage.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') closeBind(ph);
    });
    ui.callpage.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && ph.call && ph.call.phase === 'ended') closeCall(ph);
    });
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

export function setNotice(ph, n) {
  ph.notice = n;
  renderNotice(ph);
}

export function renderNotice(ph) {
  const el = ph.ui.notice;
  if (!ph.notice) {
    el.replaceChildren();
    el.hidden = true;
    return;
  }
  el.hidden = false;
  el.replaceChildren(outcomeBox(ph.notice), h('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss', onclick: () => setNotice(ph, null) }, '×'));
}


export const CONSENT_NOTICE = {
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
export async function setConsent(ph, allowed) {
  const api = allowed ? 'authorizeVoip' : 'revokeVoip';
  // run() refreshes the views, which reads the consent back with getVoipConsent().
  const r = await run(ph.p, api, undefined, () => phoneApi(ph, api), (v) => v.errMsg);
  if (r.ok) setNotice(ph, CONSENT_NOTICE[allowed]);
  else setNotice(ph, errorNotice(r.error, { me: ph.p.name }));
}

export async function becomeAdmin(ph) {
  const userId = ph.studentId;
  const name = studentName(userId);
  const before = adminOf(userId);
  const args = { userId };
  const ctx = { student: name, me: ph.p.name, admin: before ? nameOf(before) : null };
  const r = await run(ph.p, 'bindVoipAdminContact', args, () => phoneApi(ph, 'bindVoipAdminContact', args), (v) => `${v.errMsg} · ${name}`);
  if (r.ok) {
    setNotice(ph, {
      tone: 'ok',
      title: before === ph.openId ? `You were already ${name}’s administrator` : `You are now ${name}’s administrator`,
      what: `${name} can call this phone, and you decide who else may be called.`,
      next: 'Create a share link and send it to the other parents.',
    });
  } else setNotice(ph, errorNotice(r.error, ctx));
}

export async function createLink(ph) {
  const userId = ph.studentId;
  const s = studentById(userId);
  const args = { userId, userName: s.name, userAvatar: '' };
  const ctx = { student: s.name, me: ph.p.name, admin: adminName(userId) };
  const r = await run(ph.p, 'getBindContactPath', args, () => phoneApi(ph, 'getBindContactPath', args), (v) => `share path (${v.length} chars) for ${s.name}`);
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

export function sendLink(from, to) {
  if (!from.share) return;
  to.ui.link.value = from.share.path;
  setNotice(from, {
    tone: 'info',
    title: `Link sent to ${to.p.name}`,
    what: `${to.p.phone} now shows the bind page for ${studentName(from.share.userId)}.`,
  });
  openLink(to, from.share.path, `Opened from a link ${from.p.name} sent.`);
}

export async function copyLink(ph) {
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

export async function openLink(ph, raw, via) {
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
  const r = await run(ph.p, 'inspectBindContactPath', { path }, () => phoneApi(ph, 'inspectBindContactPath', path), (v) => `${v.userName || '?'} · status ${v.status}`);
  if (!r.ok) {
    setNotice(ph, errorNotice(r.error, { me: ph.p.name }));
    return;
  }
  ph.bind = { path, inspect: r.value, result: null, nav: null, via: via === 'pasted' ? 'Opened from a pasted link.' : via };
  renderBindPage(ph);
}

export async function decide(ph, accept) {
  const b = ph.bind;
  if (!b || b.result) return;
  ph.pendingNav = null;
  const api = accept ? 'acceptBindContactPath' : 'declineBindContactPath';
  const r = await run(ph.p, api, { path: b.path }, () => (accept ? phoneApi(ph, 'acceptBindContactPath', b.path) : phoneApi(ph, 'declineBindContactPath', b.path)), (v) => `type “${v.type}”`);
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

export function closeBind(ph) {
  ph.bind = null;
  renderBindPage(ph);
}

export async function listContacts(ph) {
  const r = await run(ph.p, 'getVoipBindContactList', {}, () => phoneApi(ph, 'getVoipBindContactList'), (v) =>
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

export async function transfer(ph, userId, target) {
  const name = studentName(userId);
  const args = { userId, newAdminOpenid: target };
  const r = await run(ph.p, 'transerAdmin', args, () => phoneApi(ph, 'transerAdmin', args), (v) => `${name}: administrator is now ${nameOf(v.adminOpenid)}`);
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

export async function removeContact(ph, userId, target) {
  const name = studentName(userId);
  const args = { userId, openidList: [target] };
  const r = await run(ph.p, 'deleteVoipBindContact', args, () => phoneApi(ph, 'deleteVoipBindContact', args), (v) => `${name}: removed ${v.deleted.map(nameOf).join(', ')}`);
  if (r.ok) {
    setNotice(ph, {
      tone: 'ok',
      title: `Removed ${nameOf(target)} from ${name}’s contacts`,
      what: `${name} can no longer call ${nameOf(target)}.`,
      next: `To add them back, send ${nameOf(target)} a new share link.`,
    });
  } else setNotice(ph, errorNotice(r.error, { student: name, me: ph.p.name, target: nameOf(target), admin: adminName(userId), max: S.max }));
}

export function renderPhone(ph) {
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

export function renderShare(ph) {
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
                    ? `Valid until ${fmtDateTime(ins.expiresAt)} (${fmtSpan(TTL.ticket)})`
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

export function renderList(ph) {
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

export function renderBindPage(ph) {
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
export function linkTimes(ins) {
  return { ttl: fmtSpan(TTL.ticket), expiresAt: ins && ins.expiresAt !== undefined ? fmtDateTime(ins.expiresAt) : null };
}
