//! Every backend operation, written once over the store interface ([`Repo`]): read the records
//! it needs, decide with the pure rule (`rules`, `share`, `call`), commit at most one change,
//! last. The local backend (`engine::Engine`) runs them over its in-memory registry; the contact
//! service over one database transaction per request.
//!
//! An operation is given what it acts as and with: the caller's identity (`me`, already
//! authenticated: the instance's openId, or the service's session), a typed request parsed by
//! [`crate::requests`], and a [`Ctx`] (the time, the CSPRNG, the secrets, the configuration).
//! None of them is read from the store, so the same code runs wherever the records live and
//! wherever the keys are kept.
//!
//! The operations (and the request parsers) are `#[inline(always)]`: in the wasm each has one
//! caller, its `Engine` facade, and as a function of its own under `opt-level = "z"` it would
//! keep a stack frame and a copy of its request and result (about 1 KB of wasm in all).

use crate::call::{self, CallRequest};
use crate::codec::b64;
use crate::errors::{Error, ErrorCode, Result};
use crate::ids::{Millis, OpenId, UserId};
use crate::keys::{Key, Keyring};
use crate::lifecycle::{self, Call, CallListQuery, CallRecord, Happening, Phase, Side, Step};
use crate::registry::Change;
use crate::repo::{self, Party, ReadRepo, Repo};
use crate::requests::{
    BindAdminReq, ContactListReq, DeleteReq, ListReq, ResetReq, ShareReq, TokenReq, TransferReq,
};
use crate::rng::Rng;
use crate::rules::{self, ContactListReply, ListEntry};
use crate::share::{self, BindType, ShareQuery};
use crate::ticket::{self, Claims, Subject};
use crate::token::{self, TokenClaims};

pub const DEFAULT_MAX_CONTACTS: usize = 10;
pub const DEFAULT_TICKET_TTL_MS: Millis = 72 * 3600 * 1000;
/// Times in tickets and tokens are 48-bit milliseconds.
const U48_MAX: Millis = (1 << 48) - 1;

/// The operations' settings (`createLocalBackend({ maxContacts, ticketTtlMs, ... })` locally,
/// flags or environment on the service).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub max_contacts: usize,
    pub ticket_ttl_ms: Millis,
    pub token_ttl_ms: Millis,
    /// Put before `pages/bind-contact/bind-contact` in share paths.
    pub path_prefix: String,
    /// How long a call rings before it times out.
    pub ring_timeout_ms: Millis,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_contacts: DEFAULT_MAX_CONTACTS,
            ticket_ttl_ms: DEFAULT_TICKET_TTL_MS,
            token_ttl_ms: token::DEFAULT_TTL_MS,
            path_prefix: String::new(),
            ring_timeout_ms: lifecycle::DEFAULT_RING_TIMEOUT_MS,
        }
    }
}

/// The keys that sign share tickets and face-pay tokens (separate rings: a leaked ticket key
/// cannot mint tokens). Where they are kept is the backend's choice: the local backend stores
/// them with its records (`storage::Meta`), the service keeps them server-side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secrets {
    pub ticket_keys: Keyring,
    pub token_keys: Keyring,
}

impl Secrets {
    /// Fresh keys (id 1 each) from the CSPRNG: the ticket key first, then the token key.
    pub fn generate(rng: &mut Rng) -> Secrets {
        let ticket_keys = Keyring::new(Key::new(1, rng.bytes()));
        let token_keys = Keyring::new(Key::new(1, rng.bytes()));
        Secrets {
            ticket_keys,
            token_keys,
        }
    }
}

/// What an operation acts with besides the store.
pub struct Ctx<'a> {
    /// The time the operation acts at. The backend chooses it (the local backend never lets it
    /// go back: see `Engine::clock`); operations only compare and stamp it.
    pub now: Millis,
    pub rng: &'a mut Rng,
    pub secrets: &'a Secrets,
    pub config: &'a Config,
}

/// The identity an operation runs as; device instances have none.
pub fn identity(actor: Option<&OpenId>) -> Result<&OpenId> {
    actor.ok_or_else(|| {
        Error::new(
            ErrorCode::Unauthenticated,
            "this instance has no openId (a device instance); create one with createVoipPlugin({ openId })",
        )
    })
}

/// The student as a share link shows them (unverified fields are empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkView {
    pub user_id: String,
    pub user_name: String,
    pub user_avatar: String,
}

/// `inspectBindContactPath`'s answer; `status` is `None` for `'ready'`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    pub view: LinkView,
    pub status: Option<BindType>,
    /// When the link expires (ms), if its signature verified.
    pub expires_at: Option<Millis>,
    /// Every query parameter, for `getPluginEnterOptions`.
    pub query: Vec<(String, String)>,
}

/// What the bind page reports (the `bindContact` event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindEvent {
    pub kind: BindType,
    pub user_id: String,
    pub query: Vec<(String, String)>,
}

/// `initByCaller`'s backend answer: admitted (the call rings, or ended at once as `busy`), or
/// refused with errCode 4, 8 or 9.
#[derive(Clone, Debug, PartialEq)]
pub enum CallOutcome {
    Admitted(Box<CallDelivery>),
    Refused(Error),
}

fn commit_opt(repo: &mut impl Repo, change: Option<Change>) -> Result<()> {
    change.map_or(Ok(()), |c| repo.commit(c))
}

/// `getVoipConsent`: whether `me` granted VoIP consent.
#[inline(always)]
pub fn consent(repo: &impl ReadRepo, me: &OpenId) -> Result<bool> {
    repo.consented(me)
}

/// `authorizeVoip` (`granted`) and `revokeVoip`; no write when already in that state.
#[inline(always)]
pub fn set_consent(repo: &mut impl Repo, me: &OpenId, granted: bool) -> Result<()> {
    let change = rules::set_consent(repo.consented(me)?, me, granted);
    commit_opt(repo, change)
}

/// `bindVoipAdminContact`: the student's userId.
#[inline(always)]
pub fn bind_admin(
    repo: &mut impl Repo,
    ctx: &mut Ctx,
    me: &OpenId,
    req: BindAdminReq,
) -> Result<UserId> {
    let term = ctx.rng.u32();
    let record = repo.student(&req.user_id)?;
    let consented = repo.consented(me)?;
    let change = rules::bind_admin(
        record.as_deref(),
        &req.user_id,
        me,
        consented,
        ctx.now,
        term,
    )?;
    // The record may be lent by the store: give it back before writing.
    drop(record);
    commit_opt(repo, change)?;
    Ok(req.user_id)
}

/// `getBindContactPath`: a signed share path (administrator only). Writes nothing.
#[inline(always)]
pub fn share_path(
    repo: &impl ReadRepo,
    ctx: &mut Ctx,
    me: &OpenId,
    req: &ShareReq,
) -> Result<String> {
    let record = repo.student(&req.user_id)?;
    let record = rules::require_admin(record.as_deref(), &req.user_id, me)?;
    let claims = Claims {
        issuer: me.clone(),
        issued_at: ctx.now,
        expires_at: ctx
            .now
            .saturating_add(ctx.config.ticket_ttl_ms)
            .min(U48_MAX),
        nonce: ctx.rng.bytes(),
        admin_term: record.admin_term,
    };
    let subject = Subject {
        user_id: req.user_id.as_str(),
        user_name: &req.user_name,
        user_avatar: &req.user_avatar,
    };
    let t = ticket::issue(ctx.secrets.ticket_keys.current(), &claims, &subject);
    let path = share::build_path(&ctx.config.path_prefix, &subject, &t);
    if path.len() > share::MAX_PATH_BYTES {
        return Err(Error::invalid_argument(crate::cat!(
            "the share path would be ",
            crate::input::whole(path.len() as u64),
            " bytes, over the limit of ",
            crate::input::whole(share::MAX_PATH_BYTES as u64),
            "; use a shorter userName or userAvatar"
        )));
    }
    Ok(path)
}

/// `getVoipBindContactList`: one student, or every student `me` is a contact of, in list order.
#[inline(always)]
pub fn list(repo: &impl ReadRepo, me: &OpenId, req: &ListReq) -> Result<Vec<ListEntry>> {
    let entry = |id: &UserId| -> Result<Option<ListEntry>> {
        Ok(repo.student(id)?.and_then(|r| rules::list_entry(&r, me)))
    };
    let mut out = Vec::new();
    match &req.user_id {
        Some(id) => out.extend(entry(id)?),
        None => {
            for id in repo.students_of(me)?.iter() {
                out.extend(entry(id)?);
            }
        }
    }
    Ok(out)
}

/// `deleteVoipBindContact`: all or nothing; the userId and the deleted openIds.
#[inline(always)]
pub fn delete(
    repo: &mut impl Repo,
    ctx: &mut Ctx,
    me: &OpenId,
    req: DeleteReq,
) -> Result<(UserId, Vec<OpenId>)> {
    let term = ctx.rng.u32();
    let record = repo.student(&req.user_id)?;
    let (change, deleted) = rules::delete_contacts(
        record.as_deref(),
        &req.user_id,
        me,
        &req.openid_list,
        ctx.now,
        term,
    )?;
    drop(record);
    repo.commit(change)?;
    Ok((req.user_id, deleted))
}

/// `transerAdmin`: the userId and the new administrator.
#[inline(always)]
pub fn transfer(
    repo: &mut impl Repo,
    ctx: &mut Ctx,
    me: &OpenId,
    req: TransferReq,
) -> Result<(UserId, OpenId)> {
    let term = ctx.rng.u32();
    let record = repo.student(&req.user_id)?;
    let change = rules::transfer_admin(record.as_deref(), &req.user_id, me, &req.new_admin, term)?;
    drop(record);
    commit_opt(repo, change)?;
    Ok((req.user_id, req.new_admin))
}

/// Verifies a bind page's query against the ticket keys.
fn view(q: &ShareQuery, secrets: &Secrets) -> (Option<share::Link>, LinkView) {
    match share::open(q, &secrets.ticket_keys) {
        Some(link) => {
            let view = LinkView {
                user_id: link.user_id.as_str().to_owned(),
                user_name: link.user_name.clone(),
                user_avatar: link.user_avatar.clone(),
            };
            (Some(link), view)
        }
        None => (
            None,
            LinkView {
                // Unverified: only the id is echoed (for the event), never name or avatar.
                user_id: q
                    .get("userId")
                    .filter(|u| UserId::parse("userId", u).is_ok())
                    .unwrap_or("")
                    .to_owned(),
                user_name: String::new(),
                user_avatar: String::new(),
            },
        ),
    }
}

/// `inspectBindContactPath`: what accepting would do now (rows 1–6), without consent.
#[inline(always)]
pub fn inspect(repo: &impl ReadRepo, ctx: &Ctx, me: &OpenId, q: ShareQuery) -> Result<Inspection> {
    let (link, view) = view(&q, ctx.secrets);
    let record = match &link {
        Some(l) => repo.student(&l.user_id)?,
        None => None,
    };
    let status = share::precheck(
        link.as_ref(),
        record.as_deref(),
        me,
        ctx.now,
        ctx.config.max_contacts,
    );
    Ok(Inspection {
        view,
        status,
        expires_at: link.map(|l| l.claims.expires_at),
        query: q.params,
    })
}

/// `acceptBindContactPath`: the bind page's Bind; `success` adds `me` as an ordinary contact.
#[inline(always)]
pub fn accept(repo: &mut impl Repo, ctx: &Ctx, me: &OpenId, q: ShareQuery) -> Result<BindEvent> {
    let (link, view) = view(&q, ctx.secrets);
    let record = match &link {
        Some(l) => repo.student(&l.user_id)?,
        None => None,
    };
    let (kind, next) = share::accept(
        link.as_ref(),
        record.as_deref(),
        me,
        repo.consented(me)?,
        ctx.now,
        ctx.config.max_contacts,
    );
    drop(record);
    commit_opt(repo, next.map(Change::PutStudent))?;
    Ok(BindEvent {
        kind,
        user_id: view.user_id,
        query: q.params,
    })
}

/// `declineBindContactPath`: the bind page's Cancel (reads and writes nothing).
#[inline(always)]
pub fn decline(secrets: &Secrets, q: ShareQuery) -> BindEvent {
    let (_, view) = view(&q, secrets);
    BindEvent {
        kind: BindType::Cancel,
        user_id: view.user_id,
        query: q.params,
    }
}

/// The face-scan stand-in: a signed, single-use token for this student (reads no record).
#[inline(always)]
pub fn issue_voip_token(ctx: &mut Ctx, req: &TokenReq) -> String {
    let claims = TokenClaims {
        issued_at: ctx.now,
        expires_at: ctx.now.saturating_add(ctx.config.token_ttl_ms).min(U48_MAX),
        nonce: ctx.rng.bytes(),
    };
    token::issue(ctx.secrets.token_keys.current(), &req.user_id, &claims)
}

/// `resetStudent` (the service's `resetvoipcontact`): the userId, and `true` if it had contacts.
#[inline(always)]
pub fn reset_student(repo: &mut impl Repo, req: ResetReq) -> Result<(UserId, bool)> {
    let change = rules::reset_student(repo.student(&req.user_id)?.as_deref());
    let had = change.is_some();
    commit_opt(repo, change)?;
    Ok((req.user_id, had))
}

/// The developer query (`getvoipcontactlist`).
#[inline(always)]
pub fn contact_list(repo: &impl ReadRepo, req: &ContactListReq) -> Result<ContactListReply> {
    Ok(rules::contact_list(repo.student(&req.user_id)?.as_deref()))
}

/// `initByCaller`'s admission for the device `device`. `Err` is what the API throws (a call
/// already in progress on this device: 1005) or a store failure; `Ok(Refused)` is its
/// `isSuccess: false` answer. The token is marked used by the same change that rings the call;
/// if the store reports it already used (another process admitted it between our read and our
/// write), the call is refused as reused, errCode 4.
#[inline(always)]
pub fn admit_call(
    repo: &mut impl Repo,
    ctx: &mut Ctx,
    device: &str,
    req: &CallRequest,
) -> Result<CallOutcome> {
    if let Some(c) = repo.live_calls(Party::Device(device))?.first() {
        return Err(Error::new(
            ErrorCode::Busy,
            crate::cat!(
                "a call is already in progress (roomId ",
                c.room_id,
                "); forceHangUpVoip() first"
            ),
        ));
    }
    let token = token::verify(
        &ctx.secrets.token_keys,
        &req.voip_token,
        &req.caller_id,
        ctx.now,
    );
    let used = match &token {
        Ok(c) => repo.token_used(&c.nonce)?,
        Err(_) => false,
    };
    let record = repo.student(&req.caller_id)?;
    let consented = repo.consented(&req.listener_id)?;
    let claims = match call::admit(token, used, record.as_deref(), req, consented) {
        Ok(c) => c,
        Err(refusal) => return Ok(CallOutcome::Refused(refusal)),
    };
    drop(record);
    let busy = repo
        .live_calls(Party::Parent(&req.listener_id))?
        .iter()
        .any(|c| c.phase == Phase::Connected);
    let room_id = b64(&ctx.rng.bytes::<16>());
    let (mut call, mut step) = lifecycle::ring(
        req,
        room_id,
        device.to_owned(),
        ctx.config.ring_timeout_ms,
        busy,
        ctx.now,
    );
    record_if_ended(&mut call, &mut step, ctx.now);
    match repo.commit(Change::PutCall {
        call: Box::new(call.clone()),
        token: Some((claims.nonce, claims.expires_at)),
    }) {
        Ok(()) => {}
        Err(e) if repo::is_token_already_used(&e) => return Ok(CallOutcome::Refused(e)),
        Err(e) => return Err(e),
    }
    Ok(CallOutcome::Admitted(Box::new(CallDelivery { call, step })))
}

/// A call after one change, and what each side hears of it (`step.refused`: the error the
/// acting API rejects with, after the events are delivered).
#[derive(Clone, Debug, PartialEq)]
pub struct CallDelivery {
    pub call: Call,
    pub step: Step,
}

/// **[ours]** Who hears a WebRTC signalling message (offer, answer, ICE) `who` sends about
/// `room_id`: the other side of that call, while it rings or is connected. A party not in the
/// call, or a call that ended, is 1004 as for `answerVoip` on an unknown room. Returns the call
/// and the side to deliver to (not a change: nothing is stored but the message itself).
pub fn signal_peer(repo: &impl ReadRepo, who: Party<'_>, room_id: &str) -> Result<(Call, Side)> {
    let call = repo
        .live_call(room_id)?
        .map(|c| Call::clone(&c))
        .filter(|c| who.is_in(c))
        .ok_or_else(|| lifecycle::unknown_room(room_id))?;
    let to = match who {
        Party::Device(_) => Side::Listener,
        Party::Parent(_) => Side::Caller,
    };
    Ok((call, to))
}

/// What a party does to a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallAct {
    /// `answerVoip({ roomId })`
    Answer,
    /// `rejectVoip({ roomId })`
    Reject,
    /// `forceHangUpVoip(roomId?)`
    HangUp,
}

/// Once a call has ended, the backend records it: this change's commit is the record, so
/// `finishVoip` goes out with the ending.
fn record_if_ended(call: &mut Call, step: &mut Step, now: Millis) {
    if call.phase == Phase::Ended {
        let s = lifecycle::step(call, Happening::Recorded, now);
        step.caller.extend(s.caller);
        step.listener.extend(s.listener);
    }
}

/// Runs one step on a stored call and commits it if it changed anything.
fn step_call(
    repo: &mut impl Repo,
    now: Millis,
    mut call: Call,
    what: Happening<'_>,
) -> Result<CallDelivery> {
    let before = (call.phase, call.link_lost_at);
    let mut step = lifecycle::step(&mut call, what, now);
    record_if_ended(&mut call, &mut step, now);
    // Only the phase (and its times) and the links change a call; `seen` alone need not be
    // stored (the backend's clock never goes back anyway).
    if (call.phase, call.link_lost_at) != before {
        repo.commit(Change::PutCall {
            call: Box::new(call.clone()),
            token: None,
        })?;
    }
    Ok(CallDelivery { call, step })
}

/// The call a party's `forceHangUpVoip()` without a roomId means: the device's call, or the
/// parent's connected call, else the newest that rings.
fn current_call(repo: &impl ReadRepo, who: Party<'_>) -> Result<Option<Call>> {
    let calls = repo.live_calls(who)?;
    let connected = calls.iter().position(|c| c.phase == Phase::Connected);
    let newest = calls
        .iter()
        .enumerate()
        .max_by_key(|(_, c)| c.rang_at)
        .map(|(i, _)| i);
    Ok(connected.or(newest).map(|i| Call::clone(&calls[i])))
}

/// Answer, reject or hang up. `Err`: 1004 for an unknown or ended roomId (answer, reject), 1005
/// for answering while in another connected call, or a store failure. `Ok(None)`: a hang-up
/// that matched no call of this party (nothing happens, as in the real plugin).
#[inline(always)]
pub fn act_on_call(
    repo: &mut impl Repo,
    ctx: &Ctx,
    who: Party<'_>,
    room_id: Option<&str>,
    act: CallAct,
) -> Result<Option<CallDelivery>> {
    let call = match room_id {
        Some(r) => repo.live_call(r)?.map(|c| Call::clone(&c)),
        None => current_call(repo, who)?,
    };
    let by = match who {
        Party::Parent(o) => Some(o),
        Party::Device(_) => None,
    };
    let what = match act {
        CallAct::HangUp => match call.as_ref().filter(|c| who.is_in(c)) {
            None => return Ok(None),
            Some(_) if by.is_some() => Happening::HangUp(Side::Listener),
            Some(_) => Happening::HangUp(Side::Caller),
        },
        CallAct::Answer | CallAct::Reject => {
            let Some(c) = &call else {
                return Err(lifecycle::unknown_room(room_id.unwrap_or("")));
            };
            if act == CallAct::Answer && who.is_in(c) && by.is_some() {
                if let Some(other) = repo
                    .live_calls(who)?
                    .iter()
                    .find(|o| o.phase == Phase::Connected && o.room_id != c.room_id)
                {
                    return Err(Error::new(
                        ErrorCode::Busy,
                        crate::cat!(
                            "already in the call ",
                            other.room_id,
                            "; hang it up with forceHangUpVoip() first"
                        ),
                    ));
                }
            }
            if act == CallAct::Answer {
                Happening::Answer { by }
            } else {
                Happening::Reject { by }
            }
        }
    };
    let Some(call) = call else { return Ok(None) };
    step_call(repo, ctx.now, call, what).map(Some)
}

/// Fires the call's deadline if it has passed (ring timeout, time limit, a lost link's 20 s).
/// `None`: no such call any more.
#[inline(always)]
pub fn tick_call(repo: &mut impl Repo, ctx: &Ctx, room_id: &str) -> Result<Option<CallDelivery>> {
    let call = repo.live_call(room_id)?.map(|c| Call::clone(&c));
    match call {
        Some(call) => step_call(repo, ctx.now, call, Happening::Tick).map(Some),
        None => Ok(None),
    }
}

/// A side's connection to the backend went away (`lost`) or came back.
pub fn link_call(
    repo: &mut impl Repo,
    ctx: &Ctx,
    room_id: &str,
    side: Side,
    lost: bool,
) -> Result<Option<CallDelivery>> {
    let what = if lost {
        Happening::LinkLost(side)
    } else {
        Happening::LinkBack(side)
    };
    let call = repo.live_call(room_id)?.map(|c| Call::clone(&c));
    match call {
        Some(call) => step_call(repo, ctx.now, call, what).map(Some),
        None => Ok(None),
    }
}

/// The developer query `getVoipCallList({ user_id, begin_time, end_time })`.
#[inline(always)]
pub fn call_list(repo: &impl ReadRepo, q: &CallListQuery) -> Result<Vec<CallRecord>> {
    repo.call_records(q)
}
