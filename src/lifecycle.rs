//! Calls from ring to end (SPEC §3.7): one pure step (call, what happened, now) → (call, events
//! for the caller, events for the listener), the next deadline the shells arm a timer for,
//! billing, and the records of ended calls with their `getVoipCallList` filter.
//!
//! Time only moves forward here: every decision uses the latest clock reading seen so far, so a
//! clock that goes back never ends a call early nor makes a `keepTime` shrink. A deadline that
//! passed fires at its own time (not when a late timer noticed it), before anything else in the
//! step, so an answer that comes after the ring timeout finds the call ended.

use crate::call::{CallRequest, ChargeType, RoomType};
use crate::errors::{Error, ErrorCode, Result};
use crate::ids::{Millis, OpenId, UserId};
use crate::input::{self, Value};
use crate::json::Json;

pub const DEFAULT_RING_TIMEOUT_MS: Millis = 30_000;
pub const MIN_RING_TIMEOUT_MS: Millis = 5_000;
pub const MAX_RING_TIMEOUT_MS: Millis = 120_000;
/// How long a side's connection may be gone before the call is aborted.
pub const LINK_LOSS_MS: Millis = 20_000;
const MINUTE_MS: Millis = 60_000;

/// `abortVoip.error.errMsg` on the side whose connection was lost, and (the real plugin's
/// wording) on the other side.
pub const LINK_LOST_MSG: &str = "connection to the backend lost for 20 s";
pub const PEER_ABORT_MSG: &str = "room status is abort";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Caller,
    Listener,
}

const SIDES: [Side; 2] = [Side::Caller, Side::Listener];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Ringing,
    Connected,
    /// Ended; the ending events and `endVoip` went out.
    Ended,
    /// Recorded by the backend; `finishVoip` went out. Nothing happens after this.
    Finished,
}

/// How a call ended (the call record's `ending`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The listener was in another connected call.
    Busy,
    /// The listener rejected (or hung up while it rang).
    Rejected,
    /// The caller hung up while it rang.
    Cancelled,
    /// Nobody answered within the ring timeout.
    Timeout,
    HungUp(Side),
    TimeLimit,
    /// This side's connection was gone for [`LINK_LOSS_MS`].
    LinkLost(Side),
}

impl Ending {
    pub fn as_str(self) -> &'static str {
        match self {
            Ending::Busy => "busy",
            Ending::Rejected => "rejected",
            Ending::Cancelled => "cancelled",
            Ending::Timeout => "timeout",
            Ending::HungUp(Side::Caller) => "endByCaller",
            Ending::HungUp(Side::Listener) => "endByListener",
            Ending::TimeLimit => "timeLimit",
            Ending::LinkLost(Side::Caller) => "abortByCaller",
            Ending::LinkLost(Side::Listener) => "abortByListener",
        }
    }
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Ringing => "ringing",
            Phase::Connected => "connected",
            Phase::Ended => "ended",
            Phase::Finished => "finished",
        }
    }

    /// The phase of [`Phase::as_str`] (a store reading its rows back).
    pub fn parse(s: &str) -> Option<Phase> {
        [
            Phase::Ringing,
            Phase::Connected,
            Phase::Ended,
            Phase::Finished,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// Every ending, in a fixed order (the local backend stores an ending as its index here).
pub const ENDINGS: [Ending; 9] = [
    Ending::Busy,
    Ending::Rejected,
    Ending::Cancelled,
    Ending::Timeout,
    Ending::HungUp(Side::Caller),
    Ending::HungUp(Side::Listener),
    Ending::TimeLimit,
    Ending::LinkLost(Side::Caller),
    Ending::LinkLost(Side::Listener),
];

impl Ending {
    /// The ending of [`Ending::as_str`] (a store reading its rows back).
    pub fn parse(s: &str) -> Option<Ending> {
        ENDINGS.into_iter().find(|e| e.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadlineKind {
    RingTimeout,
    TimeLimit,
    LinkLoss(Side),
}

/// One call event's `eventName` and `data` fields (the shell adds `roomId` and `groupId`).
/// Times are milliseconds. What the call itself says (names, room type) is not copied into
/// each event: the writer takes it from the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    JoinedRoomByCaller,
    /// `data`: the call's roomId, callerId, callerName, roomType and businessType (written from
    /// the [`Call`] by [`write_event`]).
    IncomingVoip,
    Busy,
    StartVoip,
    HangOnVoip,
    RejectVoip {
        status: &'static str,
    },
    CancelVoip {
        status: &'static str,
    },
    Timeout,
    HangUpVoip {
        keep_time: Millis,
        status: &'static str,
        origin: &'static str,
    },
    /// `data.error.errMsg` is `err_msg`.
    AbortVoip {
        keep_time: Millis,
        status: &'static str,
        err_msg: &'static str,
    },
    /// `data` also holds the call's callerName, listenerName, roomType and businessType
    /// (written from the [`Call`] by [`write_event`]).
    EndVoip {
        keep_time: Millis,
        is_caller: bool,
    },
    /// `keep_time` is the billed time.
    FinishVoip {
        keep_time: Millis,
    },
    /// Built by the shells once a second from [`calling_keep_time`].
    Calling {
        keep_time: Millis,
    },
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::JoinedRoomByCaller => "joinedRoomByCaller",
            Event::IncomingVoip => "incomingVoip",
            Event::Busy => "busy",
            Event::StartVoip => "startVoip",
            Event::HangOnVoip => "hangOnVoip",
            Event::RejectVoip { .. } => "rejectVoip",
            Event::CancelVoip { .. } => "cancelVoip",
            Event::Timeout => "timeout",
            Event::HangUpVoip { .. } => "hangUpVoip",
            Event::AbortVoip { .. } => "abortVoip",
            Event::EndVoip { .. } => "endVoip",
            Event::FinishVoip { .. } => "finishVoip",
            Event::Calling { .. } => "calling",
        }
    }

    /// The event that ends a call on its side (`endVoip` follows it).
    pub fn is_ending(&self) -> bool {
        matches!(
            self,
            Event::Busy
                | Event::RejectVoip { .. }
                | Event::CancelVoip { .. }
                | Event::Timeout
                | Event::HangUpVoip { .. }
                | Event::AbortVoip { .. }
        )
    }

    pub fn keep_time(&self) -> Option<Millis> {
        match self {
            Event::HangUpVoip { keep_time, .. }
            | Event::AbortVoip { keep_time, .. }
            | Event::EndVoip { keep_time, .. }
            | Event::FinishVoip { keep_time }
            | Event::Calling { keep_time } => Some(*keep_time),
            _ => None,
        }
    }
}

/// A call from admission until it is recorded. The fields are public for the shells to read
/// and to persist; only [`ring`] and [`step`] should change them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub room_id: String,
    /// Who made the call: the device instance (local backend) or the device key's id (the
    /// contact service). Only that device acts as the caller side.
    pub device: String,
    pub caller_id: UserId,
    pub listener_id: OpenId,
    pub caller_name: String,
    pub listener_name: String,
    pub room_type: RoomType,
    pub business_type: u8,
    pub ring_timeout_ms: Millis,
    pub time_limit_ms: Option<Millis>,
    pub phase: Phase,
    pub rang_at: Millis,
    pub connected_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub ending: Option<Ending>,
    /// The latest clock reading seen: the call's own "now".
    pub seen: Millis,
    /// Since when each side's connection has been gone (`[caller, listener]`).
    pub link_lost_at: [Option<Millis>; 2],
}

impl Call {
    pub fn is_live(&self) -> bool {
        matches!(self.phase, Phase::Ringing | Phase::Connected)
    }

    /// Milliseconds from connect to the end (or to the latest time seen while connected); 0 if
    /// never connected.
    pub fn keep_time(&self) -> Millis {
        match self.connected_at {
            None => 0,
            Some(c) => self.ended_at.unwrap_or(self.seen).saturating_sub(c),
        }
    }

    pub fn charge_type(&self) -> ChargeType {
        charge_type(self.business_type)
    }

    /// What `finishVoip` reports: [`billed_time`] of the kept time.
    pub fn billed_time(&self) -> Millis {
        billed_time(self.business_type, self.keep_time())
    }
}

/// What happened to a call. `by` is the acting instance's openId (`None` for a device).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Happening<'a> {
    Answer {
        by: Option<&'a OpenId>,
    },
    Reject {
        by: Option<&'a OpenId>,
    },
    /// `forceHangUpVoip` on that side.
    HangUp(Side),
    /// That side's connection to the backend went away / came back.
    LinkLost(Side),
    LinkBack(Side),
    /// Only fires deadlines (every step does that first).
    Tick,
    /// The backend has recorded the call, which had ended before this step: `finishVoip`
    /// goes out.
    Recorded,
}

/// What a step emits, in delivery order per side. `refused` is the error the acting API
/// rejects with (the call is then unchanged, except for a deadline that fired first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Step {
    pub caller: Vec<Event>,
    pub listener: Vec<Event>,
    pub refused: Option<Error>,
}

impl Step {
    fn side(&mut self, side: Side) -> &mut Vec<Event> {
        match side {
            Side::Caller => &mut self.caller,
            Side::Listener => &mut self.listener,
        }
    }
}

pub fn charge_type(business_type: u8) -> ChargeType {
    if business_type == 3 {
        ChargeType::License
    } else {
        ChargeType::Duration
    }
}

/// Billing: every started minute for businessType 0 (so 0 ms is 0, 1 ms is one minute), the
/// exact time for 3.
pub fn billed_time(business_type: u8, keep_time: Millis) -> Millis {
    match charge_type(business_type) {
        ChargeType::License => keep_time,
        ChargeType::Duration => keep_time.div_ceil(MINUTE_MS).saturating_mul(MINUTE_MS),
    }
}

/// `ringTimeoutMs` of the backend options: default 30 000, a whole number 5 000–120 000.
pub fn ring_timeout_ms(v: &Value) -> Result<Millis> {
    input::whole_in(
        "ringTimeoutMs",
        v,
        MIN_RING_TIMEOUT_MS,
        MAX_RING_TIMEOUT_MS,
        DEFAULT_RING_TIMEOUT_MS,
    )
}

/// 1004 for a roomId no call has (for the shells' look-up).
pub fn unknown_room(room_id: &str) -> Error {
    Error::invalid_argument(crate::cat!("no call with roomId ", input::quote(room_id)))
}

fn ended_room(call: &Call) -> Error {
    Error::invalid_argument(crate::cat!("the call ", call.room_id, " has ended"))
}

/// An admitted call (`initByCaller` succeeded): ringing, or ended at once as `busy` when the
/// listener is in another connected call (the listener then hears nothing of it).
/// `ring_timeout_ms` is clamped to its range.
pub fn ring(
    req: &CallRequest,
    room_id: String,
    device: String,
    ring_timeout_ms: Millis,
    listener_busy: bool,
    now: Millis,
) -> (Call, Step) {
    let name = |n: &Option<String>, id: &str| n.clone().unwrap_or_else(|| id.to_owned());
    let mut call = Call {
        room_id,
        device,
        caller_id: req.caller_id.clone(),
        listener_id: req.listener_id.clone(),
        caller_name: name(&req.caller_name, req.caller_id.as_str()),
        listener_name: name(&req.listener_name, req.listener_id.as_str()),
        room_type: req.room_type,
        business_type: req.business_type,
        ring_timeout_ms: ring_timeout_ms.clamp(MIN_RING_TIMEOUT_MS, MAX_RING_TIMEOUT_MS),
        // Seconds > 0 (checked by `check_request`), to whole milliseconds rounded up; `as`
        // saturates, so a huge limit is simply never reached.
        time_limit_ms: req
            .time_limit
            .filter(|s| *s > 0.0)
            .map(|s| (s * 1000.0).ceil() as Millis),
        phase: Phase::Ringing,
        rang_at: now,
        connected_at: None,
        ended_at: None,
        ending: None,
        seen: now,
        link_lost_at: [None; 2],
    };
    let mut s = Step::default();
    if listener_busy {
        end(&mut call, Ending::Busy, now, &mut s);
    } else {
        s.caller.push(Event::JoinedRoomByCaller);
        s.listener.push(Event::IncomingVoip);
    }
    (call, s)
}

/// The next time something happens by itself: the ring timeout while ringing, the time limit
/// while connected, a lost connection's 20 s. The earliest wins; on a tie, the ring timeout or
/// time limit, then the caller's link, then the listener's.
pub fn next_deadline(call: &Call) -> Option<(Millis, DeadlineKind)> {
    let mut best = match call.phase {
        Phase::Ringing => Some((
            call.rang_at.saturating_add(call.ring_timeout_ms),
            DeadlineKind::RingTimeout,
        )),
        Phase::Connected => call
            .connected_at
            .zip(call.time_limit_ms)
            .map(|(c, l)| (c.saturating_add(l), DeadlineKind::TimeLimit)),
        Phase::Ended | Phase::Finished => return None,
    };
    for side in SIDES {
        if let Some(at) = call.link_lost_at[side as usize] {
            let d = at.saturating_add(LINK_LOSS_MS);
            if best.is_none_or(|(b, _)| d < b) {
                best = Some((d, DeadlineKind::LinkLoss(side)));
            }
        }
    }
    best
}

/// `calling.keepTime` while connected (`None` otherwise), for the shells' once-a-second tick.
/// It takes the call mutably only to remember `now` as seen (as every clock reading given to
/// the core is), so that no later event can report less; it stops at a deadline that has
/// passed but not fired yet.
pub fn calling_keep_time(call: &mut Call, now: Millis) -> Option<Millis> {
    call.seen = call.seen.max(now);
    keep_time_at(call, call.seen)
}

/// `calling.keepTime` at `now` without remembering it (the call is not changed): `None` unless
/// connected; stops at a deadline that has passed but not fired yet.
pub fn keep_time_at(call: &Call, now: Millis) -> Option<Millis> {
    if call.phase != Phase::Connected {
        return None;
    }
    let t = now.max(call.seen);
    let t = next_deadline(call).map_or(t, |(d, _)| t.min(d));
    call.connected_at.map(|c| t.saturating_sub(c))
}

/// The state machine: fires a deadline that has passed, then applies `what`.
pub fn step(call: &mut Call, what: Happening<'_>, now: Millis) -> Step {
    let mut s = Step::default();
    // The record the shell stored was of a call that had ended before this step.
    let recorded = matches!(what, Happening::Recorded) && call.phase == Phase::Ended;
    call.seen = call.seen.max(now);
    let t = call.seen;
    if let Some((at, kind)) = next_deadline(call).filter(|(at, _)| *at <= t) {
        let how = match kind {
            DeadlineKind::RingTimeout => Ending::Timeout,
            DeadlineKind::TimeLimit => Ending::TimeLimit,
            DeadlineKind::LinkLoss(side) => Ending::LinkLost(side),
        };
        end(call, how, at, &mut s);
    }
    match what {
        Happening::Answer { by } | Happening::Reject { by } => {
            let answer = matches!(what, Happening::Answer { .. });
            if !call.is_live() {
                s.refused = Some(ended_room(call));
            } else if by != Some(&call.listener_id) {
                s.refused = Some(Error::new(
                    ErrorCode::NotContactOfCaller,
                    crate::cat!(
                        "only the listener of call ",
                        call.room_id,
                        " may ",
                        if answer { "answer" } else { "reject" },
                        " it"
                    ),
                ));
            } else if call.phase == Phase::Ringing && answer {
                call.phase = Phase::Connected;
                call.connected_at = Some(t);
                s.caller.push(Event::StartVoip);
                s.listener.push(Event::HangOnVoip);
                s.listener.push(Event::StartVoip);
            } else if call.phase == Phase::Ringing {
                end(call, Ending::Rejected, t, &mut s);
            } else if !answer {
                s.refused = Some(Error::invalid_argument(crate::cat!(
                    "the call ",
                    call.room_id,
                    " is connected; hang up with forceHangUpVoip"
                )));
            } // answering a connected call again: nothing to do
        }
        Happening::HangUp(side) => {
            let how = match (call.phase, side) {
                (Phase::Ringing, Side::Caller) => Ending::Cancelled,
                (Phase::Ringing, Side::Listener) => Ending::Rejected,
                (Phase::Connected, side) => Ending::HungUp(side),
                _ => return s,
            };
            end(call, how, t, &mut s);
        }
        Happening::LinkLost(side) if call.is_live() => {
            call.link_lost_at[side as usize].get_or_insert(t);
        }
        Happening::LinkBack(side) if call.is_live() => {
            call.link_lost_at[side as usize] = None;
        }
        Happening::Recorded if recorded => {
            call.phase = Phase::Finished;
            let keep_time = call.billed_time();
            for side in SIDES {
                if hears(call, side) {
                    s.side(side).push(Event::FinishVoip { keep_time });
                }
            }
        }
        _ => {}
    }
    s
}

/// Whether a side hears of the call at all (a busy listener does not).
fn hears(call: &Call, side: Side) -> bool {
    side == Side::Caller || call.ending != Some(Ending::Busy)
}

fn end(call: &mut Call, how: Ending, at: Millis, s: &mut Step) {
    call.phase = Phase::Ended;
    call.ended_at = Some(at);
    call.ending = Some(how);
    let keep_time = call.keep_time();
    for side in SIDES {
        if !hears(call, side) {
            continue;
        }
        let mine = |s: Side| if s == side { "forceFromApp" } else { "other" };
        let ending = match how {
            Ending::Busy => Event::Busy,
            Ending::Rejected => Event::RejectVoip {
                status: if side == Side::Listener {
                    "manual"
                } else {
                    "other"
                },
            },
            Ending::Cancelled => Event::CancelVoip {
                status: mine(Side::Caller),
            },
            Ending::Timeout => Event::Timeout,
            Ending::HungUp(by) => Event::HangUpVoip {
                keep_time,
                status: how.as_str(),
                origin: mine(by),
            },
            // The caller's device set the limit, so the caller's end it is.
            Ending::TimeLimit => Event::HangUpVoip {
                keep_time,
                status: Ending::HungUp(Side::Caller).as_str(),
                origin: "timeLimit",
            },
            // The real plugin's statuses: `abortBy<Side>` where the trouble was, `unknown` on
            // the other end.
            Ending::LinkLost(lost) => Event::AbortVoip {
                keep_time,
                status: if lost == side {
                    how.as_str()
                } else {
                    "unknown"
                },
                err_msg: if lost == side {
                    LINK_LOST_MSG
                } else {
                    PEER_ABORT_MSG
                },
            },
        };
        let out = s.side(side);
        out.push(ending);
        out.push(Event::EndVoip {
            keep_time,
            is_caller: side == Side::Caller,
        });
    }
}

/// An ended call as the backend keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    pub room_id: String,
    pub user_id: UserId,
    pub open_id: OpenId,
    pub business_type: u8,
    pub charge_type: ChargeType,
    pub rang_at: Millis,
    pub connected_at: Option<Millis>,
    pub ended_at: Millis,
    pub keep_time: Millis,
    pub billed_time: Millis,
    pub ending: Ending,
}

/// The record of an ended call (`None` while it is live).
pub fn record(call: &Call) -> Option<CallRecord> {
    Some(CallRecord {
        room_id: call.room_id.clone(),
        user_id: call.caller_id.clone(),
        open_id: call.listener_id.clone(),
        business_type: call.business_type,
        charge_type: call.charge_type(),
        rang_at: call.rang_at,
        connected_at: call.connected_at,
        ended_at: call.ended_at?,
        keep_time: call.keep_time(),
        billed_time: call.billed_time(),
        ending: call.ending?,
    })
}

/// `getVoipCallList({ user_id, begin_time, end_time })`: the student's calls that began ringing
/// from `begin_time` to `end_time`, both Unix **seconds** (as WeChat's server APIs count) and
/// inclusive, both optional.
#[derive(Clone, Debug, PartialEq)]
pub struct CallListQuery {
    pub user_id: UserId,
    pub from_ms: Millis,
    pub to_ms: Millis,
}

/// Seconds up to 2^53 / 1000, so milliseconds stay exact as a JS number.
const MAX_SECONDS: f64 = 9_007_199_254_740.0;

fn seconds(field: &str, v: &Value) -> Result<Option<Millis>> {
    match input::opt_number(field, v)? {
        None => Ok(None),
        Some(n) if n.fract() == 0.0 && (0.0..=MAX_SECONDS).contains(&n) => Ok(Some(n as Millis)),
        Some(n) => Err(Error::invalid_argument(crate::cat!(
            field,
            " must be a whole number of seconds ≥ 0, got ",
            input::num(n)
        ))),
    }
}

impl CallListQuery {
    pub fn from_value(args: &Value) -> Result<CallListQuery> {
        let args = input::args("getVoipCallList", args)?;
        let user_id = UserId::from_value("user_id", args.get("user_id"))?;
        let begin = seconds("begin_time", args.get("begin_time"))?.unwrap_or(0);
        let end = seconds("end_time", args.get("end_time"))?;
        if end.is_some_and(|e| e < begin) {
            return Err(Error::invalid_argument(
                "end_time must not be before begin_time",
            ));
        }
        Ok(CallListQuery {
            user_id,
            from_ms: begin * 1000,
            to_ms: end.map_or(Millis::MAX, |e| e * 1000 + 999),
        })
    }

    pub fn matches(&self, r: &CallRecord) -> bool {
        r.user_id == self.user_id && (self.from_ms..=self.to_ms).contains(&r.rang_at)
    }
}

/// The matching records, in the order given: backends keep records in the order the calls
/// ended, oldest first, and list them so. (No sort here: it would cost the wasm 3 KB.)
pub fn call_list<'a>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    q: &CallListQuery,
) -> Vec<&'a CallRecord> {
    records.into_iter().filter(|r| q.matches(r)).collect()
}

/// One event of `call` as the shells deliver it: `{"eventName":…,"data":{…}}` (the plugin adds
/// `roomId` and `groupId`). Written here so that the local backend and the contact service say
/// the same.
pub fn write_event(j: &mut Json, call: &Call, ev: &Event) {
    j.raw("{")
        .key("eventName")
        .str(ev.name())
        .key("data")
        .raw("{");
    if let Some(k) = ev.keep_time() {
        j.key("keepTime").num(k);
    }
    match ev {
        Event::IncomingVoip => {
            j.key("roomId")
                .str(&call.room_id)
                .key("callerId")
                .str(call.caller_id.as_str())
                .key("callerName")
                .str(&call.caller_name);
        }
        Event::RejectVoip { status } | Event::CancelVoip { status } => {
            j.key("status").str(status);
        }
        Event::HangUpVoip { status, origin, .. } => {
            j.key("status").str(status).key("origin").str(origin);
        }
        Event::AbortVoip {
            status, err_msg, ..
        } => {
            j.key("status")
                .str(status)
                .key("error")
                .raw("{")
                .key("errMsg")
                .str(err_msg)
                .raw("}");
        }
        Event::EndVoip { is_caller, .. } => {
            j.key("callerName")
                .str(&call.caller_name)
                .key("listenerName")
                .str(&call.listener_name)
                .key("isCaller")
                .bool(*is_caller);
        }
        _ => {}
    }
    if matches!(ev, Event::IncomingVoip | Event::EndVoip { .. }) {
        j.key("roomType")
            .str(call.room_type.as_str())
            .key("businessType")
            .num(call.business_type.into());
    }
    j.raw("}}");
}

/// A list of `call`'s events as a JSON array.
pub fn write_events(j: &mut Json, call: &Call, events: &[Event]) {
    j.raw("[");
    for (i, ev) in events.iter().enumerate() {
        if i > 0 {
            j.raw(",");
        }
        write_event(j, call, ev);
    }
    j.raw("]");
}

/// What one change to a call delivers, as the shells route it:
/// `{"roomId","device","listener","caller":[events],"listenerEvents":[events]}` — the caller's
/// events go to the device that made the call, the listener's to every instance of the
/// listener's openId.
pub fn write_delivery(j: &mut Json, call: &Call, step: &Step) {
    j.raw("{");
    write_delivery_members(j, call, step);
    j.raw("}");
}

/// [`write_delivery`]'s members without the braces (for an answer that adds its own).
pub fn write_delivery_members(j: &mut Json, call: &Call, step: &Step) {
    j.key("roomId")
        .str(&call.room_id)
        .key("device")
        .str(&call.device)
        .key("listener")
        .str(call.listener_id.as_str())
        .key("caller");
    write_events(j, call, &step.caller);
    j.key("listenerEvents");
    write_events(j, call, &step.listener);
}

/// `getVoipCallList`'s answer (the shape of WeChat's developer interface, as
/// `getvoipcontactlist`): `{ errcode: 0, errmsg: "ok", call_list: [ … ] }`, times in Unix
/// milliseconds, `connected_at_ms` null for a call never answered.
pub fn write_call_list<'a>(j: &mut Json, records: impl IntoIterator<Item = &'a CallRecord>) {
    j.raw("{\"errcode\":0,\"errmsg\":\"ok\",\"call_list\":[");
    for (i, r) in records.into_iter().enumerate() {
        if i > 0 {
            j.raw(",");
        }
        j.raw("{")
            .key("room_id")
            .str(&r.room_id)
            .key("user_id")
            .str(r.user_id.as_str())
            .key("open_id")
            .str(r.open_id.as_str())
            .key("business_type")
            .num(r.business_type.into())
            .key("charge_type")
            .str(r.charge_type.as_str())
            .key("rang_at_ms")
            .num(r.rang_at)
            .key("connected_at_ms");
        match r.connected_at {
            Some(t) => j.num(t),
            None => j.raw("null"),
        };
        j.key("ended_at_ms")
            .num(r.ended_at)
            .key("keep_time_ms")
            .num(r.keep_time)
            .key("billed_time_ms")
            .num(r.billed_time)
            .key("ending")
            .str(r.ending.as_str())
            .raw("}");
    }
    j.raw("]}");
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_800_000_000_000;
    const ROOM: &str = "room1";

    fn id(s: &str) -> OpenId {
        OpenId::parse("o", s).unwrap()
    }

    fn req(business_type: u8, time_limit: Option<f64>) -> CallRequest {
        CallRequest {
            room_type: RoomType::Video,
            caller_id: UserId::parse("u", "s1").unwrap(),
            caller_name: Some("小明".into()),
            caller_camera: 0,
            listener_id: id("mum"),
            listener_name: None,
            listener_camera: 0,
            business_type,
            voip_token: "tok".into(),
            custom_query: None,
            time_limit,
            miniprogram_state: "formal",
        }
    }

    fn ringing(business_type: u8, time_limit: Option<f64>) -> Call {
        ring(
            &req(business_type, time_limit),
            ROOM.into(),
            "dev".into(),
            DEFAULT_RING_TIMEOUT_MS,
            false,
            T0,
        )
        .0
    }

    fn answered(business_type: u8, time_limit: Option<f64>, at: Millis) -> Call {
        let mut c = ringing(business_type, time_limit);
        let mum = id("mum");
        let s = step(&mut c, Happening::Answer { by: Some(&mum) }, at);
        assert_eq!(s.refused, None);
        assert_eq!(c.phase, Phase::Connected);
        c
    }

    fn end_voip(keep_time: Millis, is_caller: bool) -> Event {
        Event::EndVoip {
            keep_time,
            is_caller,
        }
    }

    /// Both sides' events of a step, and that it refused nothing.
    fn ok(s: Step) -> (Vec<Event>, Vec<Event>) {
        assert_eq!(s.refused, None);
        (s.caller, s.listener)
    }

    fn finish(c: &mut Call, now: Millis) -> (Vec<Event>, Vec<Event>) {
        let s = ok(step(c, Happening::Recorded, now));
        assert_eq!(c.phase, Phase::Finished);
        s
    }

    #[test]
    fn admitted_rings_both_sides() {
        let (c, s) = ring(&req(0, None), ROOM.into(), "dev".into(), 30_000, false, T0);
        assert_eq!(c.phase, Phase::Ringing);
        assert_eq!(
            ok(s),
            (vec![Event::JoinedRoomByCaller], vec![Event::IncomingVoip])
        );
        assert_eq!(
            next_deadline(&c),
            Some((T0 + 30_000, DeadlineKind::RingTimeout))
        );
        // Names fall back to the ids.
        let mut r = req(3, None);
        r.caller_name = None;
        let (c, s) = ring(&r, ROOM.into(), "dev".into(), 30_000, false, T0);
        assert_eq!(c.caller_name, "s1");
        assert_eq!(s.listener, [Event::IncomingVoip]);
    }

    #[test]
    fn busy_listener_ends_at_once_and_hears_nothing() {
        let (mut c, s) = ring(&req(0, None), ROOM.into(), "dev".into(), 30_000, true, T0);
        assert_eq!(c.phase, Phase::Ended);
        assert_eq!(c.ending, Some(Ending::Busy));
        assert_eq!(ok(s), (vec![Event::Busy, end_voip(0, true)], vec![]));
        assert_eq!(next_deadline(&c), None);
        assert_eq!(
            finish(&mut c, T0 + 5),
            (vec![Event::FinishVoip { keep_time: 0 }], vec![])
        );
        let r = record(&c).unwrap();
        assert_eq!(
            (r.ending, r.keep_time, r.billed_time, r.ended_at),
            (Ending::Busy, 0, 0, T0)
        );
    }

    #[test]
    fn listener_answers() {
        let mut c = ringing(0, None);
        let mum = id("mum");
        let s = ok(step(
            &mut c,
            Happening::Answer { by: Some(&mum) },
            T0 + 4_000,
        ));
        assert_eq!(
            s,
            (
                vec![Event::StartVoip],
                vec![Event::HangOnVoip, Event::StartVoip]
            )
        );
        assert_eq!(c.connected_at, Some(T0 + 4_000));
        // No time limit: nothing is due.
        assert_eq!(next_deadline(&c), None);
        // Answering again changes nothing.
        assert_eq!(
            ok(step(
                &mut c,
                Happening::Answer { by: Some(&mum) },
                T0 + 5_000
            )),
            (vec![], vec![])
        );
        assert_eq!(c.connected_at, Some(T0 + 4_000));
    }

    #[test]
    fn listener_rejects() {
        let mut c = ringing(0, None);
        let mum = id("mum");
        let s = ok(step(
            &mut c,
            Happening::Reject { by: Some(&mum) },
            T0 + 3_000,
        ));
        assert_eq!(
            s,
            (
                vec![Event::RejectVoip { status: "other" }, end_voip(0, true)],
                vec![Event::RejectVoip { status: "manual" }, end_voip(0, false)]
            )
        );
        assert_eq!(c.ending, Some(Ending::Rejected));
        // A listener's hang-up while it rings is a rejection too.
        let mut c = ringing(0, None);
        let s = ok(step(&mut c, Happening::HangUp(Side::Listener), T0 + 3_000));
        assert_eq!(s.0[0], Event::RejectVoip { status: "other" });
        assert_eq!(s.1[0], Event::RejectVoip { status: "manual" });
        assert_eq!(c.ending, Some(Ending::Rejected));
    }

    #[test]
    fn caller_cancels_while_ringing() {
        let mut c = ringing(0, None);
        let s = ok(step(&mut c, Happening::HangUp(Side::Caller), T0 + 3_000));
        assert_eq!(
            s,
            (
                vec![
                    Event::CancelVoip {
                        status: "forceFromApp"
                    },
                    end_voip(0, true)
                ],
                vec![Event::CancelVoip { status: "other" }, end_voip(0, false)]
            )
        );
        assert_eq!(c.ending, Some(Ending::Cancelled));
        assert_eq!(c.ended_at, Some(T0 + 3_000));
    }

    #[test]
    fn ring_timeout() {
        let mut r = req(0, None);
        r.listener_name = Some("Mum".into());
        let (mut c, _) = ring(&r, ROOM.into(), "dev".into(), 5_000, false, T0);
        assert_eq!(
            ok(step(&mut c, Happening::Tick, T0 + 4_999)),
            (vec![], vec![])
        );
        assert_eq!(c.phase, Phase::Ringing);
        let s = ok(step(&mut c, Happening::Tick, T0 + 5_000));
        let end = |is_caller| Event::EndVoip {
            keep_time: 0,
            is_caller,
        };
        assert_eq!(
            s,
            (
                vec![Event::Timeout, end(true)],
                vec![Event::Timeout, end(false)]
            )
        );
        assert_eq!(
            (c.ending, c.ended_at),
            (Some(Ending::Timeout), Some(T0 + 5_000))
        );
        // The ring timeout is clamped to 5–120 s.
        let (c, _) = ring(&r, ROOM.into(), "dev".into(), 1, false, T0);
        assert_eq!(c.ring_timeout_ms, 5_000);
        let (c, _) = ring(&r, ROOM.into(), "dev".into(), 1 << 40, false, T0);
        assert_eq!(c.ring_timeout_ms, 120_000);
    }

    #[test]
    fn an_answer_after_the_ring_timeout_finds_the_call_ended() {
        let mut c = ringing(0, None);
        let mum = id("mum");
        // The timer was late: the answer's step fires the timeout (at its own time) first.
        let s = step(&mut c, Happening::Answer { by: Some(&mum) }, T0 + 31_000);
        assert_eq!(s.caller, vec![Event::Timeout, end_voip(0, true)]);
        assert_eq!(s.listener, vec![Event::Timeout, end_voip(0, false)]);
        assert_eq!(s.refused.unwrap().err_code(), 1004);
        assert_eq!((c.ended_at, c.connected_at), (Some(T0 + 30_000), None));
    }

    #[test]
    fn connected_hang_up_by_either_side() {
        for (side, status, mine, theirs) in [
            (Side::Caller, "endByCaller", "forceFromApp", "other"),
            (Side::Listener, "endByListener", "other", "forceFromApp"),
        ] {
            let mut c = answered(0, None, T0 + 2_000);
            let s = ok(step(&mut c, Happening::HangUp(side), T0 + 63_000));
            assert_eq!(
                s,
                (
                    vec![
                        Event::HangUpVoip {
                            keep_time: 61_000,
                            status,
                            origin: mine
                        },
                        end_voip(61_000, true)
                    ],
                    vec![
                        Event::HangUpVoip {
                            keep_time: 61_000,
                            status,
                            origin: theirs
                        },
                        end_voip(61_000, false)
                    ]
                )
            );
            assert_eq!(c.ending, Some(Ending::HungUp(side)));
            // Billed per started minute.
            let fin = vec![Event::FinishVoip { keep_time: 120_000 }];
            assert_eq!(finish(&mut c, T0 + 64_000), (fin.clone(), fin));
            // Nothing after the end.
            for what in [
                Happening::HangUp(Side::Caller),
                Happening::HangUp(Side::Listener),
                Happening::Tick,
                Happening::Recorded,
                Happening::LinkLost(Side::Caller),
            ] {
                assert_eq!(ok(step(&mut c, what, T0 + 200_000)), (vec![], vec![]));
            }
            assert_eq!(c.keep_time(), 61_000);
        }
    }

    #[test]
    fn time_limit() {
        // 90.0001 s → 90 001 ms (rounded up to a whole millisecond).
        let mut c = answered(0, Some(90.0001), T0 + 1_000);
        assert_eq!(c.time_limit_ms, Some(90_001));
        assert_eq!(
            next_deadline(&c),
            Some((T0 + 91_001, DeadlineKind::TimeLimit))
        );
        assert_eq!(
            ok(step(&mut c, Happening::Tick, T0 + 91_000)),
            (vec![], vec![])
        );
        // A late tick still ends it at the limit; a hang-up in the same moment comes too late.
        let s = ok(step(&mut c, Happening::HangUp(Side::Listener), T0 + 95_000));
        let hang = Event::HangUpVoip {
            keep_time: 90_001,
            status: "endByCaller",
            origin: "timeLimit",
        };
        assert_eq!(
            s,
            (
                vec![hang, end_voip(90_001, true)],
                vec![hang, end_voip(90_001, false)]
            )
        );
        assert_eq!(c.ending, Some(Ending::TimeLimit));
        let fin = vec![Event::FinishVoip { keep_time: 120_000 }];
        assert_eq!(finish(&mut c, T0 + 95_000), (fin.clone(), fin));
        // The limit counts from the connect, not from the ring.
        let mut c = answered(3, Some(0.5), T0 + 20_000);
        assert_eq!(
            ok(step(&mut c, Happening::Tick, T0 + 20_499)),
            (vec![], vec![])
        );
        let s = ok(step(&mut c, Happening::Tick, T0 + 20_500));
        assert_eq!(s.0[0].keep_time(), Some(500));
    }

    #[test]
    fn link_loss_aborts_after_20_s() {
        // While ringing: the listener's phone went offline.
        let mut c = ringing(0, None);
        step(&mut c, Happening::LinkLost(Side::Listener), T0 + 1_000);
        // Lost again later: the first time counts.
        step(&mut c, Happening::LinkLost(Side::Listener), T0 + 5_000);
        assert_eq!(
            next_deadline(&c),
            Some((T0 + 21_000, DeadlineKind::LinkLoss(Side::Listener)))
        );
        assert_eq!(
            ok(step(&mut c, Happening::Tick, T0 + 20_999)),
            (vec![], vec![])
        );
        let s = ok(step(&mut c, Happening::Tick, T0 + 21_000));
        assert_eq!(
            s,
            (
                vec![
                    Event::AbortVoip {
                        keep_time: 0,
                        status: "unknown",
                        err_msg: PEER_ABORT_MSG
                    },
                    end_voip(0, true)
                ],
                vec![
                    Event::AbortVoip {
                        keep_time: 0,
                        status: "abortByListener",
                        err_msg: LINK_LOST_MSG
                    },
                    end_voip(0, false)
                ]
            )
        );
        assert_eq!(c.ending, Some(Ending::LinkLost(Side::Listener)));

        // While connected: the device's link; it comes back in time once, then not.
        let mut c = answered(3, None, T0 + 1_000);
        step(&mut c, Happening::LinkLost(Side::Caller), T0 + 2_000);
        step(&mut c, Happening::LinkBack(Side::Caller), T0 + 21_999);
        assert_eq!(next_deadline(&c), None);
        step(&mut c, Happening::LinkLost(Side::Caller), T0 + 30_000);
        let s = ok(step(&mut c, Happening::Tick, T0 + 90_000));
        assert_eq!(
            s.0[0],
            Event::AbortVoip {
                keep_time: 49_000,
                status: "abortByCaller",
                err_msg: LINK_LOST_MSG
            }
        );
        assert_eq!(
            s.1[0],
            Event::AbortVoip {
                keep_time: 49_000,
                status: "unknown",
                err_msg: PEER_ABORT_MSG
            }
        );
        assert_eq!(s.1[1], end_voip(49_000, false));
        // Licence billing is exact.
        let fin = vec![Event::FinishVoip { keep_time: 49_000 }];
        assert_eq!(finish(&mut c, T0 + 90_000), (fin.clone(), fin));
    }

    #[test]
    fn the_earliest_deadline_wins_and_ties_go_to_the_table_order() {
        let mut c = answered(0, Some(30.0), T0);
        step(&mut c, Happening::LinkLost(Side::Listener), T0 + 5_000);
        assert_eq!(
            next_deadline(&c),
            Some((T0 + 25_000, DeadlineKind::LinkLoss(Side::Listener)))
        );
        step(&mut c, Happening::LinkLost(Side::Caller), T0 + 5_000);
        assert_eq!(
            next_deadline(&c),
            Some((T0 + 25_000, DeadlineKind::LinkLoss(Side::Caller)))
        );
        let mut c = answered(0, Some(25.0), T0);
        step(&mut c, Happening::LinkLost(Side::Caller), T0 + 5_000);
        assert_eq!(
            next_deadline(&c),
            Some((T0 + 25_000, DeadlineKind::TimeLimit))
        );
        let mut c = ringing(0, None);
        step(&mut c, Happening::LinkLost(Side::Caller), T0 + 10_000);
        assert_eq!(
            next_deadline(&c),
            Some((T0 + 30_000, DeadlineKind::RingTimeout))
        );
        // A jump far past both fires the earlier one only.
        let s = ok(step(&mut c, Happening::Tick, T0 + 1_000_000));
        assert_eq!(s.0[0], Event::Timeout);
        assert_eq!(c.ended_at, Some(T0 + 30_000));
    }

    #[test]
    fn only_the_listener_may_answer_or_reject() {
        let mut c = ringing(0, None);
        let (mum, dad) = (id("mum"), id("dad"));
        for what in [
            Happening::Answer { by: Some(&dad) },
            Happening::Answer { by: None },
            Happening::Reject { by: Some(&dad) },
            Happening::Reject { by: None },
        ] {
            let before = c.clone();
            let s = step(&mut c, what, T0 + 1_000);
            assert_eq!((s.caller.len(), s.listener.len()), (0, 0));
            assert_eq!(s.refused.unwrap().code, ErrorCode::NotContactOfCaller);
            assert_eq!(c.phase, before.phase);
        }
        // Connected: rejecting is too late (1004); a stranger still gets 9.
        let s = step(&mut c, Happening::Answer { by: Some(&mum) }, T0 + 2_000);
        assert_eq!(s.refused, None);
        let s = step(&mut c, Happening::Reject { by: Some(&mum) }, T0 + 3_000);
        assert_eq!(s.refused.unwrap().err_code(), 1004);
        assert_eq!(c.phase, Phase::Connected);
        let s = step(&mut c, Happening::Answer { by: Some(&dad) }, T0 + 3_000);
        assert_eq!(s.refused.unwrap().err_code(), 9);
        // Ended (and finished): 1004 for anyone, and nothing changes.
        step(&mut c, Happening::HangUp(Side::Caller), T0 + 4_000);
        for phase in [Phase::Ended, Phase::Finished] {
            assert_eq!(c.phase, phase);
            for by in [Some(&mum), Some(&dad), None] {
                for what in [Happening::Answer { by }, Happening::Reject { by }] {
                    let before = c.clone();
                    let s = step(&mut c, what, T0 + 5_000);
                    assert_eq!((s.caller.len(), s.listener.len()), (0, 0));
                    assert_eq!(s.refused.unwrap().err_code(), 1004);
                    assert_eq!(c.keep_time(), before.keep_time());
                    assert_eq!(c.phase, before.phase);
                }
            }
            step(&mut c, Happening::Recorded, T0 + 5_000);
        }
        assert_eq!(unknown_room("nope").err_code(), 1004);
        assert!(unknown_room("nope").message.contains("\"nope\""));
    }

    #[test]
    fn recorded_only_after_the_end_and_once() {
        let mut c = ringing(0, None);
        assert_eq!(
            ok(step(&mut c, Happening::Recorded, T0 + 1)),
            (vec![], vec![])
        );
        assert_eq!(c.phase, Phase::Ringing);
        assert_eq!(record(&c), None);
        step(&mut c, Happening::HangUp(Side::Caller), T0 + 2);
        let fin = vec![Event::FinishVoip { keep_time: 0 }];
        assert_eq!(finish(&mut c, T0 + 3), (fin.clone(), fin));
        assert_eq!(
            ok(step(&mut c, Happening::Recorded, T0 + 4)),
            (vec![], vec![])
        );
        // A call that ends in the step that reports it recorded was not the one recorded.
        let mut c = ringing(0, None);
        let s = ok(step(&mut c, Happening::Recorded, T0 + 30_000));
        assert_eq!(s.0, vec![Event::Timeout, end_voip(0, true)]);
        assert_eq!(c.phase, Phase::Ended);
    }

    #[test]
    fn a_clock_going_back_ends_nothing_early_and_shrinks_no_keep_time() {
        let mut c = ringing(0, None);
        let mum = id("mum");
        step(&mut c, Happening::Tick, T0 + 29_000);
        // Back by an hour: still rings, still times out at the same instant.
        step(&mut c, Happening::Tick, T0 - 3_600_000);
        assert_eq!(c.phase, Phase::Ringing);
        step(&mut c, Happening::Answer { by: Some(&mum) }, T0 - 3_000_000);
        assert_eq!(c.connected_at, Some(T0 + 29_000));
        assert_eq!(calling_keep_time(&mut c, T0 + 39_000), Some(10_000));
        // An earlier reading afterwards never reports less.
        assert_eq!(calling_keep_time(&mut c, T0), Some(10_000));
        let s = ok(step(&mut c, Happening::HangUp(Side::Caller), T0 + 30_000));
        assert_eq!(s.0[0].keep_time(), Some(10_000));
    }

    #[test]
    fn calling_keep_time_runs_from_connect_and_stops_at_a_passed_deadline() {
        let mut c = ringing(0, Some(10.0));
        assert_eq!(calling_keep_time(&mut c, T0 + 1_000), None);
        let mum = id("mum");
        step(&mut c, Happening::Answer { by: Some(&mum) }, T0 + 2_000);
        assert_eq!(calling_keep_time(&mut c, T0 + 2_000), Some(0));
        assert_eq!(calling_keep_time(&mut c, T0 + 3_000), Some(1_000));
        // The limit passed but its timer has not fired yet.
        assert_eq!(calling_keep_time(&mut c, T0 + 15_000), Some(10_000));
        let s = ok(step(&mut c, Happening::Tick, T0 + 15_000));
        assert_eq!(s.1[0].keep_time(), Some(10_000));
        assert_eq!(calling_keep_time(&mut c, T0 + 16_000), None);
    }

    #[test]
    fn billing() {
        for (bt, keep, billed) in [
            (0, 0, 0),
            (0, 1, 60_000),
            (0, 60_000, 60_000),
            (0, 60_001, 120_000),
            (0, 61_000, 120_000),
            (3, 0, 0),
            (3, 61_001, 61_001),
            (0, Millis::MAX, Millis::MAX),
        ] {
            assert_eq!(billed_time(bt, keep), billed, "{bt} {keep}");
        }
        assert_eq!(charge_type(0), ChargeType::Duration);
        assert_eq!(charge_type(3), ChargeType::License);
    }

    #[test]
    fn ring_timeout_option() {
        assert_eq!(ring_timeout_ms(&Value::Missing), Ok(30_000));
        assert_eq!(ring_timeout_ms(&Value::Num(5_000.0)), Ok(5_000));
        assert_eq!(ring_timeout_ms(&Value::Num(120_000.0)), Ok(120_000));
        for bad in [4_999.0, 120_001.0, 6_000.5, -1.0] {
            let e = ring_timeout_ms(&Value::Num(bad)).unwrap_err();
            assert_eq!(e.err_code(), 1004);
            assert_eq!(
                e.message,
                crate::cat!(
                    "ringTimeoutMs must be a whole number from 5000 to 120000, got ",
                    input::num(bad)
                )
            );
        }
        for bad in [
            Value::Num(f64::NAN),
            Value::Num(f64::INFINITY),
            Value::str("9000"),
        ] {
            let e = ring_timeout_ms(&bad).unwrap_err();
            assert_eq!(e.err_code(), 1004);
            assert!(
                e.message.starts_with("ringTimeoutMs must be"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn every_event_name() {
        let names: Vec<&str> = [
            Event::JoinedRoomByCaller,
            Event::IncomingVoip,
            Event::Busy,
            Event::StartVoip,
            Event::HangOnVoip,
            Event::RejectVoip { status: "" },
            Event::CancelVoip { status: "" },
            Event::Timeout,
            Event::HangUpVoip {
                keep_time: 1,
                status: "",
                origin: "",
            },
            Event::AbortVoip {
                keep_time: 2,
                status: "",
                err_msg: "",
            },
            end_voip(3, true),
            Event::FinishVoip { keep_time: 4 },
            Event::Calling { keep_time: 5 },
        ]
        .iter()
        .map(|e| {
            assert_eq!(
                e.is_ending(),
                matches!(
                    e.name(),
                    "busy" | "rejectVoip" | "cancelVoip" | "timeout" | "hangUpVoip" | "abortVoip"
                )
            );
            e.name()
        })
        .collect();
        assert_eq!(
            names,
            [
                "joinedRoomByCaller",
                "incomingVoip",
                "busy",
                "startVoip",
                "hangOnVoip",
                "rejectVoip",
                "cancelVoip",
                "timeout",
                "hangUpVoip",
                "abortVoip",
                "endVoip",
                "finishVoip",
                "calling"
            ]
        );
        assert_eq!(RoomType::Voice.as_str(), "voice");
    }

    #[test]
    fn events_are_written_with_the_call_s_names_and_types() {
        let mut r = req(3, None);
        r.listener_name = Some("Mum \"M\"".into());
        let (mut c, s) = ring(&r, ROOM.into(), "dev".into(), 30_000, false, T0);
        let mut j = Json::default();
        write_delivery(&mut j, &c, &s);
        assert_eq!(
            j.done(),
            r#"{"roomId":"room1","device":"dev","listener":"mum","caller":[{"eventName":"joinedRoomByCaller","data":{}}],"listenerEvents":[{"eventName":"incomingVoip","data":{"roomId":"room1","callerId":"s1","callerName":"小明","roomType":"video","businessType":3}}]}"#
        );
        let mum = id("mum");
        step(&mut c, Happening::Answer { by: Some(&mum) }, T0 + 1_000);
        let s = step(&mut c, Happening::HangUp(Side::Listener), T0 + 3_500);
        let mut j = Json::default();
        write_events(&mut j, &c, &s.caller);
        assert_eq!(
            j.done(),
            r#"[{"eventName":"hangUpVoip","data":{"keepTime":2500,"status":"endByListener","origin":"other"}},{"eventName":"endVoip","data":{"keepTime":2500,"callerName":"小明","listenerName":"Mum \"M\"","isCaller":true,"roomType":"video","businessType":3}}]"#
        );
        let s = step(&mut c, Happening::Recorded, T0 + 4_000);
        let mut j = Json::default();
        write_events(&mut j, &c, &s.listener);
        assert_eq!(
            j.done(),
            r#"[{"eventName":"finishVoip","data":{"keepTime":2500}}]"#
        );
        // An abort's error object, and a rejection's status.
        let mut c = ringing(0, None);
        step(&mut c, Happening::LinkLost(Side::Caller), T0);
        let s = step(&mut c, Happening::Tick, T0 + 20_000);
        let mut j = Json::default();
        write_event(&mut j, &c, &s.caller[0]);
        assert_eq!(
            j.done(),
            r#"{"eventName":"abortVoip","data":{"keepTime":0,"status":"abortByCaller","error":{"errMsg":"connection to the backend lost for 20 s"}}}"#
        );
        let mut c = ringing(0, None);
        let s = step(&mut c, Happening::Reject { by: Some(&mum) }, T0);
        let mut j = Json::default();
        write_event(&mut j, &c, &s.listener[0]);
        assert_eq!(
            j.done(),
            r#"{"eventName":"rejectVoip","data":{"status":"manual"}}"#
        );
    }

    fn rec(room: &str, user: &str, rang_at: Millis) -> CallRecord {
        let mut c = ring(
            &req(0, None),
            room.into(),
            "dev".into(),
            30_000,
            false,
            rang_at,
        )
        .0;
        c.caller_id = UserId::parse("u", user).unwrap();
        step(&mut c, Happening::HangUp(Side::Caller), rang_at + 1);
        record(&c).unwrap()
    }

    #[test]
    fn records() {
        let mut c = answered(0, None, T0 + 1_000);
        step(&mut c, Happening::HangUp(Side::Listener), T0 + 62_000);
        assert_eq!(
            record(&c).unwrap(),
            CallRecord {
                room_id: ROOM.into(),
                user_id: UserId::parse("u", "s1").unwrap(),
                open_id: id("mum"),
                business_type: 0,
                charge_type: ChargeType::Duration,
                rang_at: T0,
                connected_at: Some(T0 + 1_000),
                ended_at: T0 + 62_000,
                keep_time: 61_000,
                billed_time: 120_000,
                ending: Ending::HungUp(Side::Listener),
            }
        );
        assert_eq!(Ending::HungUp(Side::Listener).as_str(), "endByListener");
    }

    #[test]
    fn call_list_filters_by_student_and_ring_time_in_seconds() {
        let recs = [
            rec("b", "s1", 2_000_999),
            rec("a", "s1", 2_000_500),
            rec("c", "s1", 1_999_999),
            rec("d", "s2", 2_000_000),
            rec("e", "s1", 3_001_000),
            rec("f", "s1", 3_000_999),
        ];
        let q = |v: Value| CallListQuery::from_value(&v);
        let ids = |q: &CallListQuery| -> Vec<String> {
            call_list(&recs, q)
                .iter()
                .map(|r| r.room_id.clone())
                .collect()
        };
        let s1 = || ("user_id", Value::str("s1"));
        let all = q(Value::object([s1()])).unwrap();
        assert_eq!(ids(&all), ["b", "a", "c", "e", "f"]);
        let window = q(Value::object([
            s1(),
            ("begin_time", Value::Num(2_000.0)),
            ("end_time", Value::Num(3_000.0)),
        ]))
        .unwrap();
        assert_eq!(ids(&window), ["b", "a", "f"]);
        let from = q(Value::object([s1(), ("begin_time", Value::Num(3_001.0))])).unwrap();
        assert_eq!(ids(&from), ["e"]);
        let none = q(Value::object([("user_id", Value::str("s3"))])).unwrap();
        assert!(ids(&none).is_empty());
        for bad in [
            Value::Null,
            Value::object([("user_id", Value::Num(1.0))]),
            Value::object([s1(), ("begin_time", Value::Num(-1.0))]),
            Value::object([s1(), ("begin_time", Value::Num(1.5))]),
            Value::object([s1(), ("end_time", Value::str("9"))]),
            Value::object([s1(), ("end_time", Value::Num(1e300))]),
            Value::object([
                s1(),
                ("begin_time", Value::Num(5.0)),
                ("end_time", Value::Num(4.0)),
            ]),
        ] {
            assert_eq!(q(bad).unwrap_err().err_code(), 1004);
        }
    }
}
