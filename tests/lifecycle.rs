#![cfg(not(target_arch = "wasm32"))]
//! Property test of the call state machine (SPEC §3.7, `src/lifecycle.rs`).
//!
//! Random calls (businessType 0 or 3, with or without a `timeLimit`, any ring timeout, the
//! listener sometimes busy) go through random sequences of answers and rejections (by the
//! listener, another parent, a device), hang-ups from either side, lost and restored
//! connections, ticks, the backend recording the call, and once-a-second `calling` readings,
//! with a clock that moves forward, jumps far ahead, or goes back. Each step is compared with a
//! small model written here from the spec's table (it calls nothing of the module but the step
//! under test): the phase, the exact events on both sides, the refusal code, the next deadline.
//! Over the whole run, each side's event stream must then satisfy the spec directly:
//!
//! * it opens with `joinedRoomByCaller` (caller) / `incomingVoip` (listener), or `busy` for a
//!   caller whose listener was busy (that listener hears nothing at all);
//! * exactly one ending event once the call ended, `endVoip` right after it, then `finishVoip`
//!   (only once the call was recorded) last, and nothing after the end but those two;
//! * `keepTime` never decreases (`calling` readings included); `endVoip` repeats the ending's
//!   keepTime; 0 if never connected; `finishVoip` is the billed time (every started minute for
//!   businessType 0, exact for 3);
//! * the phase only moves along the table, and a step that emits something changes the phase.

use campus_voip::call::{CallRequest, RoomType};
use campus_voip::ids::{Millis, OpenId, UserId};
use campus_voip::json::Json;
use campus_voip::lifecycle::{
    self, calling_keep_time, next_deadline, record, ring, step, Call, DeadlineKind, Ending, Event,
    Happening, Phase, Side,
};
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestCaseError, TestRunner};
use std::cell::RefCell;
use std::collections::BTreeSet;

const T0: Millis = 1_800_000_000_000;

/// A comparison with the model; the stream checks stand on their own without these.
macro_rules! vs_model {
    ($($t:tt)*) => {
        prop_assert_eq!($($t)*)
    };
}
const ROOM: &str = "r00m";

#[derive(Clone, Copy, Debug)]
enum Who {
    Listener,
    OtherParent,
    Device,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Answer(Who),
    Reject(Who),
    HangUp(Side),
    Lost(Side),
    Back(Side),
    Tick,
    Recorded,
    Calling,
}

#[derive(Clone, Debug)]
struct Case {
    business_type: u8,
    /// Seconds, as `initByCaller` takes it.
    time_limit: Option<f64>,
    ring_timeout_ms: Millis,
    listener_busy: bool,
    /// Each operation with the clock change before it (may be negative).
    ops: Vec<(i64, Op)>,
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Caller), Just(Side::Listener)]
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![6 => Just(Who::Listener), 1 => Just(Who::OtherParent), 1 => Just(Who::Device)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => who().prop_map(Op::Answer),
        2 => who().prop_map(Op::Reject),
        2 => side().prop_map(Op::HangUp),
        2 => side().prop_map(Op::Lost),
        1 => side().prop_map(Op::Back),
        4 => Just(Op::Tick),
        2 => Just(Op::Recorded),
        4 => Just(Op::Calling),
    ]
}

fn clock_change() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => 0i64..2_000,
        4 => 0i64..25_000,
        2 => 25_000i64..200_000,
        3 => -30_000i64..0,
        1 => Just(-3_600_000i64),
        1 => Just(0i64),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let time_limit = prop_oneof![
        2 => Just(None),
        2 => (1u32..120).prop_map(|s| Some(f64::from(s))),
        1 => (1u32..100_000).prop_map(|ms| Some(f64::from(ms) / 1000.0 + 0.0004)),
    ];
    let ring_timeout = prop_oneof![
        Just(lifecycle::DEFAULT_RING_TIMEOUT_MS),
        lifecycle::MIN_RING_TIMEOUT_MS..=lifecycle::MAX_RING_TIMEOUT_MS,
    ];
    (
        prop_oneof![Just(0u8), Just(3u8)],
        time_limit,
        ring_timeout,
        prop::bool::weighted(0.1),
        prop::collection::vec((clock_change(), op()), 0..40),
    )
        .prop_map(
            |(business_type, time_limit, ring_timeout_ms, listener_busy, ops)| Case {
                business_type,
                time_limit,
                ring_timeout_ms,
                listener_busy,
                ops,
            },
        )
}

fn request(c: &Case) -> CallRequest {
    CallRequest {
        room_type: RoomType::Voice,
        caller_id: UserId::parse("u", "s1").unwrap(),
        caller_name: None,
        caller_camera: 0,
        listener_id: OpenId::parse("o", "mum").unwrap(),
        listener_name: Some("Mum".into()),
        listener_camera: 0,
        business_type: c.business_type,
        voip_token: "t".into(),
        custom_query: None,
        time_limit: c.time_limit,
        miniprogram_state: "formal",
    }
}

// ---------------------------------------------------------------------------------------------
// The model: SPEC §3.7's table, with time as the latest clock reading.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MPhase {
    Ringing,
    Connected,
    Ended,
    Finished,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum How {
    Busy,
    Rejected,
    Cancelled,
    Timeout,
    HungUp(Side),
    TimeLimit,
    Lost(Side),
}

struct Model {
    bt: u8,
    phase: MPhase,
    /// The latest clock reading.
    t: Millis,
    rang_at: Millis,
    ring_ms: Millis,
    limit_ms: Option<Millis>,
    connected_at: Option<Millis>,
    lost: [Option<Millis>; 2],
    ended: Option<(How, Millis)>,
}

fn idx(s: Side) -> usize {
    match s {
        Side::Caller => 0,
        Side::Listener => 1,
    }
}

fn bill(bt: u8, keep: Millis) -> Millis {
    match (bt, keep % 60_000) {
        (3, _) | (_, 0) => keep,
        (_, part) => keep - part + 60_000,
    }
}

#[derive(Debug, Default, PartialEq)]
struct Expect {
    caller: Vec<Event>,
    listener: Vec<Event>,
    refused: Option<u32>,
}

impl Model {
    fn live(&self) -> bool {
        matches!(self.phase, MPhase::Ringing | MPhase::Connected)
    }

    fn keep(&self) -> Millis {
        match (self.connected_at, self.ended) {
            (None, _) => 0,
            (Some(c), Some((_, e))) => e - c,
            (Some(c), None) => self.t - c,
        }
    }

    /// Due times, in the table's order (first wins a tie).
    fn deadlines(&self) -> Vec<(Millis, DeadlineKind)> {
        let mut v = Vec::new();
        match self.phase {
            MPhase::Ringing => v.push((self.rang_at + self.ring_ms, DeadlineKind::RingTimeout)),
            MPhase::Connected => {
                if let Some(l) = self.limit_ms {
                    v.push((self.connected_at.unwrap() + l, DeadlineKind::TimeLimit));
                }
            }
            _ => return v,
        }
        for s in [Side::Caller, Side::Listener] {
            if let Some(at) = self.lost[idx(s)] {
                v.push((at + 20_000, DeadlineKind::LinkLoss(s)));
            }
        }
        v
    }

    fn next(&self) -> Option<(Millis, DeadlineKind)> {
        let mut best: Option<(Millis, DeadlineKind)> = None;
        for d in self.deadlines() {
            if best.is_none() || d.0 < best.unwrap().0 {
                best = Some(d);
            }
        }
        best
    }

    fn end_voip(&self, is_caller: bool) -> Event {
        Event::EndVoip {
            keep_time: self.keep(),
            is_caller,
        }
    }

    fn end(&mut self, how: How, at: Millis, e: &mut Expect) {
        self.phase = MPhase::Ended;
        self.ended = Some((how, at));
        let k = self.keep();
        let by = |s: Side, me: Side| if s == me { "forceFromApp" } else { "other" };
        let status = |s: Side| match s {
            Side::Caller => "endByCaller",
            Side::Listener => "endByListener",
        };
        let abort = |lost: Side, me: Side| Event::AbortVoip {
            keep_time: k,
            status: match (lost == me, lost) {
                (false, _) => "unknown",
                (true, Side::Caller) => "abortByCaller",
                (true, Side::Listener) => "abortByListener",
            },
            err_msg: if lost == me {
                lifecycle::LINK_LOST_MSG
            } else {
                lifecycle::PEER_ABORT_MSG
            },
        };
        let (c, l) = match how {
            How::Busy => (Event::Busy, None),
            How::Rejected => (
                Event::RejectVoip { status: "other" },
                Some(Event::RejectVoip { status: "manual" }),
            ),
            How::Cancelled => (
                Event::CancelVoip {
                    status: "forceFromApp",
                },
                Some(Event::CancelVoip { status: "other" }),
            ),
            How::Timeout => (Event::Timeout, Some(Event::Timeout)),
            How::HungUp(s) => (
                Event::HangUpVoip {
                    keep_time: k,
                    status: status(s),
                    origin: by(s, Side::Caller),
                },
                Some(Event::HangUpVoip {
                    keep_time: k,
                    status: status(s),
                    origin: by(s, Side::Listener),
                }),
            ),
            How::TimeLimit => {
                let h = Event::HangUpVoip {
                    keep_time: k,
                    status: "endByCaller",
                    origin: "timeLimit",
                };
                (h, Some(h))
            }
            How::Lost(s) => (abort(s, Side::Caller), Some(abort(s, Side::Listener))),
        };
        e.caller.push(c);
        e.caller.push(self.end_voip(true));
        if let Some(l) = l {
            e.listener.push(l);
            e.listener.push(self.end_voip(false));
        }
    }

    fn apply(&mut self, op: Op, now: Millis) -> Expect {
        let mut e = Expect::default();
        let was_ended = self.phase == MPhase::Ended;
        self.t = self.t.max(now);
        if let Some((at, kind)) = self.next().filter(|(at, _)| *at <= self.t) {
            let how = match kind {
                DeadlineKind::RingTimeout => How::Timeout,
                DeadlineKind::TimeLimit => How::TimeLimit,
                DeadlineKind::LinkLoss(s) => How::Lost(s),
            };
            self.end(how, at, &mut e);
        }
        let t = self.t;
        match op {
            Op::Answer(who) | Op::Reject(who) => {
                let answer = matches!(op, Op::Answer(_));
                if !self.live() {
                    e.refused = Some(1004);
                } else if !matches!(who, Who::Listener) {
                    e.refused = Some(9);
                } else if self.phase == MPhase::Ringing && answer {
                    self.phase = MPhase::Connected;
                    self.connected_at = Some(t);
                    e.caller.push(Event::StartVoip);
                    e.listener.extend([Event::HangOnVoip, Event::StartVoip]);
                } else if self.phase == MPhase::Ringing {
                    self.end(How::Rejected, t, &mut e);
                } else if !answer {
                    e.refused = Some(1004);
                }
            }
            Op::HangUp(s) => match (self.phase, s) {
                (MPhase::Ringing, Side::Caller) => self.end(How::Cancelled, t, &mut e),
                (MPhase::Ringing, Side::Listener) => self.end(How::Rejected, t, &mut e),
                (MPhase::Connected, s) => self.end(How::HungUp(s), t, &mut e),
                _ => {}
            },
            Op::Lost(s) if self.live() && self.lost[idx(s)].is_none() => {
                self.lost[idx(s)] = Some(t);
            }
            Op::Back(s) if self.live() => self.lost[idx(s)] = None,
            Op::Recorded if was_ended => {
                self.phase = MPhase::Finished;
                let f = Event::FinishVoip {
                    keep_time: bill(self.bt, self.keep()),
                };
                e.caller.push(f);
                if self.ended.unwrap().0 != How::Busy {
                    e.listener.push(f);
                }
            }
            _ => {}
        }
        e
    }

    /// `calling.keepTime`: from connect to now, but not past a deadline that is due.
    fn calling(&mut self, now: Millis) -> Option<Millis> {
        self.t = self.t.max(now);
        if self.phase != MPhase::Connected {
            return None;
        }
        let until = self.next().map_or(self.t, |(d, _)| d.min(self.t));
        Some(until - self.connected_at.unwrap())
    }
}

fn phase_of(p: Phase) -> MPhase {
    match p {
        Phase::Ringing => MPhase::Ringing,
        Phase::Connected => MPhase::Connected,
        Phase::Ended => MPhase::Ended,
        Phase::Finished => MPhase::Finished,
    }
}

fn how_of(e: Ending) -> How {
    match e {
        Ending::Busy => How::Busy,
        Ending::Rejected => How::Rejected,
        Ending::Cancelled => How::Cancelled,
        Ending::Timeout => How::Timeout,
        Ending::HungUp(s) => How::HungUp(s),
        Ending::TimeLimit => How::TimeLimit,
        Ending::LinkLost(s) => How::Lost(s),
    }
}

// ---------------------------------------------------------------------------------------------
// Checks over a whole run.

const ALLOWED: [(MPhase, MPhase); 8] = [
    (MPhase::Ringing, MPhase::Ringing),
    (MPhase::Ringing, MPhase::Connected),
    (MPhase::Ringing, MPhase::Ended),
    (MPhase::Connected, MPhase::Connected),
    (MPhase::Connected, MPhase::Ended),
    (MPhase::Ended, MPhase::Ended),
    (MPhase::Ended, MPhase::Finished),
    (MPhase::Finished, MPhase::Finished),
];

/// One side's whole stream (with `calling` readings), as the spec describes it.
fn check_stream(
    call: &Call,
    log: &[Event],
    is_caller: bool,
    busy: bool,
    ended: bool,
    recorded: bool,
    bt: u8,
) -> Result<(), TestCaseError> {
    let names: Vec<&str> = log.iter().map(Event::name).collect();
    if busy && !is_caller {
        prop_assert!(log.is_empty(), "a busy listener heard {:?}", names);
        return Ok(());
    }
    let first = if busy {
        "busy"
    } else if is_caller {
        "joinedRoomByCaller"
    } else {
        "incomingVoip"
    };
    prop_assert_eq!(names.first().copied(), Some(first), "{:?}", names);
    if first == "incomingVoip" {
        // Its data is the call's, as written.
        let mut j = Json::default();
        lifecycle::write_event(&mut j, call, &log[0]);
        let want = format!(
            r#"{{"eventName":"incomingVoip","data":{{"roomId":"{ROOM}","callerId":"s1","callerName":"s1","roomType":"voice","businessType":{bt}}}}}"#
        );
        prop_assert_eq!(j.done(), want);
    }
    let endings: Vec<usize> = (0..log.len()).filter(|&i| log[i].is_ending()).collect();
    prop_assert_eq!(endings.len(), usize::from(ended), "endings in {:?}", names);
    let mut keep = 0;
    for e in log {
        if let Some(k) = e.keep_time() {
            prop_assert!(k >= keep, "keepTime went {} → {} in {:?}", keep, k, log);
            keep = k;
        }
    }
    let starts = names.iter().filter(|n| **n == "startVoip").count();
    prop_assert!(starts <= 1, "{:?}", names);
    if !is_caller {
        // hangOnVoip comes right before the listener's startVoip, and only then.
        for (i, n) in names.iter().enumerate() {
            if *n == "hangOnVoip" {
                prop_assert_eq!(names.get(i + 1).copied(), Some("startVoip"));
            }
            if *n == "startVoip" {
                prop_assert_eq!(names[i - 1], "hangOnVoip");
            }
        }
    }
    let Some(&i) = endings.first() else {
        prop_assert!(!names.contains(&"endVoip") && !names.contains(&"finishVoip"));
        return Ok(());
    };
    // Before the end: only the start of the call and `calling`, which needs startVoip first.
    for (j, n) in names[..i].iter().enumerate() {
        let ok = match *n {
            "calling" => names[..j].contains(&"startVoip"),
            "joinedRoomByCaller" | "incomingVoip" => j == 0,
            "startVoip" | "hangOnVoip" => true,
            _ => false,
        };
        prop_assert!(ok, "{} at {} before the end in {:?}", n, j, names);
    }
    let after: Vec<&str> = names[i + 1..].to_vec();
    let expected: &[&str] = if recorded {
        &["endVoip", "finishVoip"]
    } else {
        &["endVoip"]
    };
    prop_assert_eq!(&after[..], expected, "after the end in {:?}", names);
    let Event::EndVoip {
        keep_time,
        is_caller: ic,
    } = &log[i + 1]
    else {
        unreachable!()
    };
    prop_assert_eq!(*ic, is_caller);
    // The rest of endVoip's data is the call's, as written.
    let mut j = Json::default();
    lifecycle::write_event(&mut j, call, &log[i + 1]);
    let want = format!(
        r#"{{"eventName":"endVoip","data":{{"keepTime":{keep_time},"callerName":"s1","listenerName":"Mum","isCaller":{is_caller},"roomType":"voice","businessType":{bt}}}}}"#
    );
    prop_assert_eq!(j.done(), want);
    if let Some(k) = log[i].keep_time() {
        prop_assert_eq!(k, *keep_time, "the ending's and endVoip's keepTime");
    }
    if !names[..i].contains(&"startVoip") {
        prop_assert_eq!(*keep_time, 0, "never connected");
    }
    if let Some(Event::FinishVoip { keep_time: billed }) = log.get(i + 2) {
        let rule = if bt == 3 {
            *keep_time
        } else {
            keep_time.div_ceil(60_000) * 60_000
        };
        prop_assert_eq!(
            *billed,
            rule,
            "billing of {} ms, businessType {}",
            keep_time,
            bt
        );
    }
    Ok(())
}

fn run_case(c: &Case, seen: &mut BTreeSet<String>) -> Result<(), TestCaseError> {
    let mum = OpenId::parse("o", "mum").unwrap();
    let dad = OpenId::parse("o", "dad").unwrap();
    let (mut call, s0) = ring(
        &request(c),
        ROOM.into(),
        "dev".into(),
        c.ring_timeout_ms,
        c.listener_busy,
        T0,
    );
    let mut m = Model {
        bt: c.business_type,
        phase: MPhase::Ringing,
        t: T0,
        rang_at: T0,
        ring_ms: c.ring_timeout_ms,
        limit_ms: c.time_limit.map(|s| (s * 1000.0).ceil() as Millis),
        connected_at: None,
        lost: [None; 2],
        ended: None,
    };
    let mut first = Expect::default();
    if c.listener_busy {
        m.end(How::Busy, T0, &mut first);
    } else {
        first.caller.push(Event::JoinedRoomByCaller);
        first.listener.push(Event::IncomingVoip);
    }
    vs_model!(&s0.caller, &first.caller);
    vs_model!(&s0.listener, &first.listener);
    let (mut caller_log, mut listener_log) = (s0.caller, s0.listener);
    let mut recorded = false;
    let mut clock = T0 as i64;
    let (mut max_clock, mut connect_clock) = (T0, None);
    for (i, &(dt, op)) in c.ops.iter().enumerate() {
        clock = (clock + dt).max(0);
        let now = clock as Millis;
        max_clock = max_clock.max(now);
        let before: Call = call.clone();
        if let Op::Calling = op {
            let got = calling_keep_time(&mut call, now);
            vs_model!(got, m.calling(now), "calling at op {}", i);
            if let Some(keep_time) = got {
                caller_log.push(Event::Calling { keep_time });
                listener_log.push(Event::Calling { keep_time });
            }
            prop_assert_eq!(call.phase, before.phase);
            continue;
        }
        let what = match op {
            Op::Answer(w) | Op::Reject(w) => {
                let by = match w {
                    Who::Listener => Some(&mum),
                    Who::OtherParent => Some(&dad),
                    Who::Device => None,
                };
                if let Op::Answer(_) = op {
                    Happening::Answer { by }
                } else {
                    Happening::Reject { by }
                }
            }
            Op::HangUp(s) => Happening::HangUp(s),
            Op::Lost(s) => Happening::LinkLost(s),
            Op::Back(s) => Happening::LinkBack(s),
            Op::Tick => Happening::Tick,
            Op::Recorded => Happening::Recorded,
            Op::Calling => unreachable!(),
        };
        let s = step(&mut call, what, now);
        let want = m.apply(op, now);
        let ctx = || {
            format!(
                "op {i} {op:?} at T0{:+}, before {before:?}",
                clock - T0 as i64
            )
        };
        vs_model!(&s.caller, &want.caller, "caller events, {}", ctx());
        vs_model!(&s.listener, &want.listener, "listener events, {}", ctx());
        vs_model!(
            s.refused.as_ref().map(|e| e.err_code()),
            want.refused,
            "refusal, {}",
            ctx()
        );
        let (p0, p1) = (phase_of(before.phase), phase_of(call.phase));
        vs_model!(p1, m.phase, "phase, {}", ctx());
        prop_assert!(ALLOWED.contains(&(p0, p1)), "{:?} → {:?}", p0, p1);
        prop_assert_eq!(
            p0 != p1,
            !s.caller.is_empty(),
            "events iff the phase moved, {}",
            ctx()
        );
        if s.refused.is_some() && p0 == p1 {
            prop_assert_eq!(&call.connected_at, &before.connected_at);
            prop_assert_eq!(&call.link_lost_at, &before.link_lost_at);
        }
        vs_model!(next_deadline(&call), m.next(), "next deadline, {}", ctx());
        if let Some((d, _)) = next_deadline(&call) {
            prop_assert!(d > m.t, "a due deadline survived a step, {}", ctx());
        }
        vs_model!(
            call.ending.map(how_of).zip(call.ended_at),
            m.ended,
            "ending, {}",
            ctx()
        );
        if p1 == MPhase::Finished && p0 == MPhase::Ended {
            recorded = true;
        }
        if let Some(e) = s.refused {
            seen.insert(format!("refused {}", e.err_code()));
        }
        if p0 != p1 {
            seen.insert(format!("{p0:?} → {p1:?}"));
        }
        if s.caller.contains(&Event::StartVoip) {
            connect_clock = Some(max_clock);
        }
        caller_log.extend(s.caller);
        listener_log.extend(s.listener);
    }
    let ended = matches!(call.phase, Phase::Ended | Phase::Finished);
    vs_model!(ended, matches!(m.phase, MPhase::Ended | MPhase::Finished));
    match record(&call) {
        None => prop_assert!(!ended, "an ended call has a record"),
        Some(r) => {
            prop_assert!(ended, "a live call has no record");
            seen.insert(format!("{:?} bt{}", how_of(r.ending), c.business_type));
            prop_assert_eq!(r.billed_time, bill(c.business_type, r.keep_time));
            // Connected when startVoip went out, by the latest clock reading.
            prop_assert_eq!(r.connected_at, connect_clock);
            prop_assert_eq!(r.keep_time, connect_clock.map_or(0, |c| r.ended_at - c));
            prop_assert!(r.ended_at <= max_clock, "ended in the future");
            if r.ending == Ending::TimeLimit {
                prop_assert_eq!(
                    Some(r.keep_time),
                    m.limit_ms,
                    "a time limit ends at the limit"
                );
            }
            if r.ending == Ending::Timeout {
                prop_assert_eq!(
                    r.ended_at,
                    T0 + c.ring_timeout_ms,
                    "a ring timeout ends on time"
                );
            }
            vs_model!(Some((how_of(r.ending), r.ended_at)), m.ended);
            vs_model!(r.keep_time, m.keep());
            vs_model!(r.connected_at, m.connected_at);
        }
    }
    for (log, is_caller) in [(&caller_log, true), (&listener_log, false)] {
        check_stream(
            &call,
            log,
            is_caller,
            c.listener_busy,
            ended,
            recorded,
            c.business_type,
        )?;
    }
    Ok(())
}

/// Every way to end, on both billing modes, and every transition and refusal, must be reached.
const MUST_SEE: &[&str] = &[
    "Busy bt0",
    "Rejected bt0",
    "Cancelled bt0",
    "Timeout bt0",
    "HungUp(Caller) bt0",
    "HungUp(Listener) bt0",
    "TimeLimit bt0",
    "Lost(Caller) bt0",
    "Lost(Listener) bt0",
    "HungUp(Caller) bt3",
    "TimeLimit bt3",
    "Lost(Listener) bt3",
    "Ringing → Connected",
    "Ringing → Ended",
    "Connected → Ended",
    "Ended → Finished",
    "refused 9",
    "refused 1004",
];

#[test]
fn the_call_state_machine_follows_the_table() {
    let mut config = PtConfig::with_source_file(file!());
    // Enough cases that every row of MUST_SEE is reached on any seed (PROPTEST_CASES can raise it).
    config.cases = config.cases.max(1_024);
    let cases = config.cases;
    let mut runner = TestRunner::new(config);
    let seen = RefCell::new(BTreeSet::new());
    let result = runner.run(&case(), |c| run_case(&c, &mut seen.borrow_mut()));
    if let Err(e) = result {
        panic!("{e}");
    }
    let seen = seen.into_inner();
    if cases >= 200 {
        let missing: Vec<&&str> = MUST_SEE.iter().filter(|w| !seen.contains(**w)).collect();
        assert!(
            missing.is_empty(),
            "{cases} cases never reached {missing:?} (reached: {seen:?})"
        );
    }
}
