// What each outcome and error means to the person in front of the screen: what happened, and
// what to do next. The raw errMsg is shown too (small), for the developer.

/**
 * Bind page outcomes (SPEC §3.4). `ctx`: { student, me, admin, max } display names, and
 * { ttl, expiresAt } (the backend's configured link lifetime, this link's expiresAt) as text.
 */
export function explainBind(type, ctx) {
  const s = ctx.student || 'this student';
  switch (type) {
    case 'success':
      return {
        tone: 'ok',
        title: `Bound: you are now a contact of ${s}`,
        what: `${s} can now call this phone from the school’s face-pay device.`,
        next: 'Nothing else to do. The administrator can remove you or make you administrator later.',
      };
    case 'binded':
      return {
        tone: 'info',
        title: `Already bound to ${s}`,
        what: `This phone is already one of ${s}’s contacts, so nothing changed.`,
        next: 'Nothing to do: the student can already call you.',
      };
    case 'cancel':
      return {
        tone: 'info',
        title: 'You declined',
        what: `You tapped Cancel, so this phone was not added to ${s}’s contacts. Nothing changed.`,
        next: 'Changed your mind? Open the same link again and tap Bind.',
      };
    case 'overload':
      return {
        tone: 'warn',
        title: `${s} already has the most contacts allowed`,
        what: `A student may have at most ${ctx.max} contacts (administrator included), and ${s} has reached that.`,
        next: `Ask the administrator${ctx.admin ? ' (' + ctx.admin + ')' : ''} to remove a contact, then open the link again.`,
      };
    case 'expire':
      return {
        tone: 'warn',
        title: 'This share link has expired',
        what:
          `Share links are valid for ${ctx.ttl || 'a limited time'} after they are created` +
          (ctx.expiresAt ? `; this one expired ${ctx.expiresAt}.` : '; this one is older.'),
        next: `Ask ${s}’s administrator${ctx.admin ? ' (' + ctx.admin + ')' : ''} to create and send a new link.`,
      };
    case 'invalid':
      return {
        tone: 'error',
        title: 'This share link is not valid',
        what: 'The link was changed or cut short, or the person who sent it is no longer the student’s administrator.',
        next: `Ask the current administrator${ctx.admin ? ' (' + ctx.admin + ')' : ''} for a new link, and paste it whole.`,
      };
    case 'unbind':
      return {
        tone: 'warn',
        title: `${s} has no contacts any more`,
        what: `${s}’s contact list was reset after this link was sent, so the link no longer applies.`,
        next: 'A parent must first become administrator again, then send a new link.',
      };
    case 'auth':
      return {
        tone: 'warn',
        title: 'This phone has not allowed VoIP calls',
        what: 'Binding needs your consent to receive calls (scope.voip), and this phone has not given it.',
        next: 'Tap “Allow VoIP calls” at the top of this phone, then open the link again and tap Bind.',
      };
    default:
      return { tone: 'error', title: `Outcome “${type}”`, what: 'An outcome this demo does not know.', next: '' };
  }
}

/** What the bind page's preview (inspectBindContactPath status) warns about before Bind. */
export function previewNote(status, ctx) {
  if (status === 'ready') return null;
  const e = explainBind(status, ctx);
  return `${e.title}. Tapping Bind will report “${status}”.`;
}

/** initByCaller refusals (isSuccess:false). `ctx`: { student, parent, admin, tokenTtl }. */
export function explainCallRefusal(errCode, ctx) {
  switch (errCode) {
    case 4:
      return {
        title: 'The face scan is no longer valid',
        what: `A face scan lets ${ctx.student} make one call${ctx.tokenTtl ? ' within ' + ctx.tokenTtl : ', for a short time'}. This one was already used for a call, has expired, or belongs to another student.`,
        next: `Scan ${ctx.student}’s face again (tap the student above), then call.`,
      };
    case 8:
      return {
        title: `${ctx.parent} has not allowed VoIP calls`,
        what: `${ctx.parent} has not given consent to receive calls, or took it back (revoke).`,
        next: `Ask ${ctx.parent} to open the Mini Program and tap “Allow VoIP calls”. Meanwhile ${ctx.student} can call another contact.`,
      };
    case 9:
      return {
        title: `${ctx.parent} is not one of ${ctx.student}’s contacts`,
        what: `Students can only call parents bound to them, and ${ctx.parent} is not bound to ${ctx.student}.`,
        next: `${ctx.student}’s administrator${ctx.admin ? ' (' + ctx.admin + ')' : ''} can send ${ctx.parent} a share link; once ${ctx.parent} taps Bind, the call will work.`,
      };
    default:
      return { title: `Call refused`, what: 'The contact service refused the call.', next: 'Try again.' };
  }
}

/**
 * How a call ended, from the ending event one side heard (SPEC §3.7: busy, rejectVoip,
 * cancelVoip, timeout, hangUpVoip, abortVoip). `ctx`: { student, parent, isCaller }; the words
 * follow the event's own status and origin.
 */
export function explainEnding(ending, ctx) {
  const name = ending ? ending.eventName : '';
  const d = (ending && ending.data) || {};
  const them = ctx.isCaller ? ctx.parent : ctx.student;
  switch (name) {
    case 'busy':
      return { tone: 'warn', title: `${ctx.parent} is busy`, what: `${ctx.parent} is already in another call, so this one did not ring.`, next: 'Try again in a moment (scan the face again).' };
    case 'rejectVoip':
      return d.status === 'manual'
        ? { tone: 'info', title: 'You declined the call', what: `${ctx.student}’s call was not answered.` }
        : { tone: 'warn', title: `${ctx.parent} declined the call`, what: `${ctx.parent} tapped Reject.`, next: 'Call another contact, or try later.' };
    case 'cancelVoip':
      return ctx.isCaller
        ? { tone: 'info', title: 'Call cancelled', what: `${ctx.student} hung up before ${ctx.parent} answered.` }
        : { tone: 'info', title: 'Missed call', what: `${ctx.student} hung up before you answered.` };
    case 'timeout':
      return { tone: 'warn', title: 'No answer', what: ctx.isCaller ? `${ctx.parent} did not answer in time, so the call stopped ringing.` : `You did not answer ${ctx.student}’s call in time.` };
    case 'hangUpVoip':
      if (d.origin === 'timeLimit') return { tone: 'info', title: 'Time is up', what: 'The call reached the time limit the device set.' };
      return {
        tone: 'info',
        title: d.origin === 'forceFromApp' ? 'You hung up' : `${them} hung up`,
        what: `The call is over (${d.status === 'endByListener' ? ctx.parent : ctx.student} ended it).`,
      };
    case 'abortVoip':
      return { tone: 'error', title: 'The call was cut off', what: 'One side lost its connection to the contact service.' };
    default:
      return { tone: 'info', title: 'Call ended', what: '' };
  }
}

/** A rejected VoipError from a phone or the device. `ctx`: { api, student, me, target, admin, max }. */
export function explainError(e, ctx) {
  const s = ctx.student || 'this student';
  const admin = ctx.admin;
  if (!e || typeof e.errCode !== 'number') {
    return {
      title: 'Something went wrong in the demo',
      what: String((e && e.message) || e),
      next: 'Reload the page. If it happens again, press “Reset demo”.',
    };
  }
  switch (e.code) {
    case 'NOT_AUTHORIZED':
      return {
        title: `${ctx.me || 'This phone'} has not allowed VoIP calls`,
        what: 'Becoming a contact needs consent to receive calls (scope.voip) first.',
        next: 'Tap “Allow VoIP calls” at the top of this phone, then try again.',
      };
    case 'ADMIN_EXISTS':
      return {
        title: `${s} already has an administrator${admin ? ': ' + admin : ''}`,
        what: 'Each student has exactly one administrator; the others join through a share link.',
        next: `Ask ${admin || 'the administrator'} to create a share link and send it to this phone.`,
      };
    case 'NOT_ADMIN':
      return {
        title: `Only ${s}’s administrator can do this`,
        what: admin
          ? `${admin} is ${s}’s administrator; this phone is not.`
          : `${s} has no administrator yet.`,
        next: admin
          ? `Ask ${admin} to do it, or to make you administrator (“Make admin”).`
          : `Tap “Become administrator” for ${s} first.`,
      };
    case 'NOT_CONTACT':
      return {
        title: `${ctx.target || 'That parent'} is not a contact of ${s}`,
        what: 'Nothing was changed: the list may have changed since you last looked.',
        next: 'Look at the updated list and try again. To make someone administrator, they must be bound first.',
      };
    case 'ADMIN_SELF_DELETE':
      return {
        title: 'The administrator cannot remove themselves',
        what: `${s} always needs an administrator, so nothing was removed.`,
        next: 'Make another contact administrator first (“Make admin”), then ask them to remove you.',
      };
    case 'CONTACT_LIMIT':
      return {
        title: `${s} already has ${ctx.max} contacts`,
        what: 'That is the most allowed per student (administrator included).',
        next: 'Remove a contact first, or raise “Max contacts” at the top of the page.',
      };
    case 'STORAGE':
      if (ctx.api === 'createLocalBackend') {
        return {
          title: 'The demo’s saved data in this browser is damaged or from another version',
          what: 'The registry could not be loaded. Nothing was overwritten.',
          next: 'Press “Reset demo” to start over with a fresh registry.',
        };
      }
      return {
        title: 'The browser could not save the change',
        what: 'The browser storage is full, blocked or damaged. Nothing was changed and nothing was lost.',
        next: 'Free some browser storage or allow it for this site, then try again; “Reset demo” starts over.',
      };
    case 'UNAUTHENTICATED':
      return {
        title: 'Not signed in',
        what: 'This action needs a WeChat user (an openId); the face-pay device has none.',
        next: 'Do it from a parent phone.',
      };
    case 'BUSY':
      return {
        title: 'A call is already in progress',
        what: 'The device handles one call at a time.',
        next: 'Tap “Hang up” first, then call again.',
      };
    case 'VOIP_TOKEN_MISSING':
      return {
        title: 'No face scan',
        what: 'A call from the face-pay device needs the voipToken of a face scan.',
        next: 'Tap a student to scan their face, then call.',
      };
    case 'NOT_SUPPORTED':
      return {
        title: 'Not available in this mode',
        what: reason(e),
        next: 'Use businessType 0 (face-pay) or 3 (face recognition).',
      };
    case 'INVALID_ARGUMENT':
    case 'INVALID_OPENID':
      return {
        title: 'The request was not accepted',
        what: capital(reason(e)) + '.',
        next: 'Check what you entered and try again.',
      };
    default:
      return {
        title: `Failed (errCode ${e.errCode})`,
        what: capital(reason(e)) + '.',
        next: 'Try again; if it keeps failing, press “Reset demo”.',
      };
  }
}

function reason(e) {
  const m = String(e.errMsg || '');
  const i = m.indexOf(':fail ');
  return i >= 0 ? m.slice(i + 6) : m;
}

function capital(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}
