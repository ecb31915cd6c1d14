//! The call endpoints of the plugin interface (SPEC §3.7, §6.2):
//!
//! - `POST /v1/answerVoip {roomId}`, `POST /v1/rejectVoip {roomId}`,
//!   `POST /v1/forceHangUpVoip {roomId?}` (a session or a device key; only the listener may
//!   answer or reject: 9 for anyone else, a device included). The events of the change
//!   go to the event stream; the reply is `{}`, or the API's error (9 not the listener, 1004 an
//!   unknown or ended roomId, 1005 already in another connected call) after its events went
//!   out (a deadline that passed first fires first).
//! - `GET /v1/events` (a session or a device key): the caller's call events as Server-Sent
//!   Events, `id:` the event's number, `data:` `{"roomId","events":[{eventName,data}…]}`; the
//!   first message is `event: ready` with the id to resume after. `Last-Event-ID` (or
//!   `?after=`) resumes after that id. `?poll=<seconds>` answers once instead, as JSON
//!   `{ errCode: 0, lastEventId, messages: [{ id, roomId, events }] }`, waiting up to that many
//!   seconds (at most 25) for something to send: the Mini Program's long-poll.
//! - `POST /v1/rtcSignal {roomId, data}` **[ours]** (a session or a device key): WebRTC
//!   signalling between the two sides of a ringing or connected call (not part of the plugin
//!   API): `data`, a JSON object of at most [`MAX_SIGNAL_BYTES`], reaches the other side as an
//!   `rtcSignal` event on its stream (resumable like every event). 1004 for a party not in the
//!   call, an ended call or a bad `data`.
//! - `POST /v1/dev/tick` (`--dev`): fires every passed deadline now (after `/v1/dev/clock`).

use super::docs::{CallEvents, Empty, RoomIdBody, RoomIdOptional, V1Ok};
use super::extract::{Caller, RawBody};
use super::v1::{args_value, body_value, reply};
use super::AppState;
use crate::calls::{self, Who};
use crate::db::DbError;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use campus_voip::engine::CallAct;
use campus_voip::input;
use campus_voip::ops;
use campus_voip::requests::RoomReq;
use campus_voip::Result;
use serde::Deserialize;
use serde_json::json;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

/// Longest a long-poll waits.
const MAX_POLL_SECONDS: u64 = 25;
/// How often an idle stream sends a comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// Events read per query.
const BATCH: usize = 64;
/// The longest `data` of one `rtcSignal` (an SDP offer with its candidates is 2–6 KiB).
pub const MAX_SIGNAL_BYTES: usize = 16 * 1024;

fn who(c: Caller) -> Who {
    match c {
        Caller::Parent(o) => Who::Parent(o),
        Caller::Device(d) => Who::Device(d),
    }
}

/// One call act by `who`; the reply after its events were written.
async fn act(
    state: AppState,
    api: &'static str,
    who: Who,
    room: Option<String>,
    act: CallAct,
) -> Response {
    let r = calls::write_calls(&state, move |repo, ctx, out| {
        let d = ops::act_on_call(repo, ctx, who.party(), room.as_deref(), act)?;
        let refused = d.as_ref().and_then(|d| d.step.refused.clone());
        out.extend(d);
        Ok(refused)
    })
    .await;
    let r = match r {
        Ok(None) => Ok(json!({})),
        Ok(Some(e)) | Err(e) => Err(e),
    };
    reply(&state, api, r)
}

/// The listener answers a ringing call.
#[utoipa::path(post, path = "/v1/answerVoip", tag = "plugin",
    security(("session" = []), ("device" = [])),
    request_body(content = RoomIdBody, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "answered (the events are on /v1/events)", body = V1Ok<Empty>),
        (status = "default", description = super::v1::ERRORS, body = super::dev::PluginError),
    ))]
pub async fn answer_voip(State(state): State<AppState>, caller: Caller, body: RawBody) -> Response {
    room_act(state, "answerVoip", caller, body, CallAct::Answer).await
}

/// `answerVoip` / `rejectVoip`: the body is `{ roomId }`.
async fn room_act(
    state: AppState,
    api: &'static str,
    caller: Caller,
    body: RawBody,
    call_act: CallAct,
) -> Response {
    match args_value(api, &body.0).and_then(|v| RoomReq::parse(api, &v)) {
        Ok(r) => act(state, api, who(caller), Some(r.room_id), call_act).await,
        Err(e) => reply(&state, api, Err(e)),
    }
}

/// The listener rejects a ringing call.
#[utoipa::path(post, path = "/v1/rejectVoip", tag = "plugin",
    security(("session" = []), ("device" = [])),
    request_body(content = RoomIdBody, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "rejected (the events are on /v1/events)", body = V1Ok<Empty>),
        (status = "default", description = super::v1::ERRORS, body = super::dev::PluginError),
    ))]
pub async fn reject_voip(State(state): State<AppState>, caller: Caller, body: RawBody) -> Response {
    room_act(state, "rejectVoip", caller, body, CallAct::Reject).await
}

/// Either side ends its call (`roomId` absent: the caller's current one); nothing happens when
/// no call of the caller matches.
#[utoipa::path(post, path = "/v1/forceHangUpVoip", tag = "plugin",
    security(("session" = []), ("device" = [])),
    request_body(content = RoomIdOptional, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "done (the events are on /v1/events)", body = V1Ok<Empty>),
        (status = "default", description = super::v1::ERRORS, body = super::dev::PluginError),
    ))]
pub async fn force_hang_up_voip(
    State(state): State<AppState>,
    caller: Caller,
    body: RawBody,
) -> Response {
    const API: &str = "forceHangUpVoip";
    let room = body_value(&body.0).and_then(|v| match v {
        input::Value::Missing => Ok(None),
        v => {
            let args = input::args(API, &v)?;
            Ok(input::opt_string("roomId", args.get("roomId"))?.map(str::to_owned))
        }
    });
    match room {
        Ok(room) => act(state, API, who(caller), room, CallAct::HangUp).await,
        Err(e) => reply(&state, API, Err(e)),
    }
}

/// **[ours]** WebRTC signalling: `data` goes to the other side of the call as an `rtcSignal`
/// event (offer, answer, ICE candidates: whatever the two sides agree on).
#[utoipa::path(post, path = "/v1/rtcSignal", tag = "plugin",
    security(("session" = []), ("device" = [])),
    request_body(content = super::docs::RtcSignalBody, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "sent (the other side's stream has it)", body = V1Ok<Empty>),
        (status = "default", description = super::v1::ERRORS, body = super::dev::PluginError),
    ))]
pub async fn rtc_signal(State(state): State<AppState>, caller: Caller, body: RawBody) -> Response {
    const API: &str = "rtcSignal";
    let r = async {
        let room = RoomReq::parse(API, &args_value(API, &body.0)?)?.room_id;
        // The body is JSON (parsed above); `data` passes through as the sender wrote it.
        let raw: serde_json::Value = serde_json::from_slice(&body.0)
            .map_err(|_| campus_voip::Error::invalid_argument("the body is not JSON"))?;
        let data = match raw.get("data") {
            Some(d @ serde_json::Value::Object(_)) => d.to_string(),
            _ => {
                return Err(campus_voip::Error::invalid_argument(
                    "data must be an object",
                ))
            }
        };
        if data.len() > MAX_SIGNAL_BYTES {
            return Err(campus_voip::Error::invalid_argument(format!(
                "data must be at most {MAX_SIGNAL_BYTES} bytes of JSON, got {}",
                data.len()
            )));
        }
        let who = who(caller);
        let now = state.core.now(&state.db).await;
        state
            .db
            .write(move |c| {
                let repo = crate::repo::SqlRepo::new(c, now);
                let (call, to) =
                    ops::signal_peer(&repo, who.party(), &room).map_err(DbError::Rule)?;
                calls::record_signal(c, &call, to, &data, now).map_err(DbError::Rule)
            })
            .await
            .map_err(|e| e.to_core())?;
        state.hub.notify();
        Ok(json!({}))
    }
    .await;
    reply(&state, API, r)
}

#[derive(Deserialize)]
pub struct StreamQuery {
    after: Option<i64>,
    poll: Option<u64>,
}

/// Closes a party's stream: the last one gone is a lost link for its calls.
struct StreamGuard {
    state: AppState,
    who: Who,
    key: String,
}

impl StreamGuard {
    fn open(state: &AppState, who: Who) -> StreamGuard {
        let key = who.key();
        if state.hub.opened(&key) {
            tokio::spawn(calls::link_changed(state.clone(), who.clone(), false));
        }
        StreamGuard {
            state: state.clone(),
            who,
            key,
        }
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if self.state.hub.closed(&self.key) {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(calls::link_changed(
                    self.state.clone(),
                    self.who.clone(),
                    true,
                ));
            }
        }
    }
}

async fn read_after(state: &AppState, key: &str, after: i64) -> Result<Vec<(i64, String)>> {
    let key = key.to_owned();
    state
        .db
        .read(move |c| calls::events_after(c, &key, after, BATCH))
        .await
        .map_err(|e: DbError| e.to_core())
}

async fn last_id(state: &AppState, key: String) -> Result<i64> {
    state
        .db
        .read(move |c| calls::last_event_id(c, &key))
        .await
        .map_err(|e: DbError| e.to_core())
}

/// The caller's call events: SSE, or one long-poll answer with `?poll=`.
#[utoipa::path(get, path = "/v1/events", tag = "plugin",
    security(("session" = []), ("device" = [])),
    params(
        ("after" = Option<i64>, Query, description = "resume after this event id (or the Last-Event-ID header)"),
        ("poll" = Option<u64>, Query, description = "answer once as JSON, waiting up to this many seconds (≤ 25)"),
    ),
    responses(
        (status = 200, description = "text/event-stream; with ?poll= the JSON messages", body = CallEvents),
        (status = "default", description = super::v1::ERRORS, body = super::dev::PluginError),
    ))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Response {
    const API: &str = "events";
    let who = who(caller);
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(q.after);
    let start = match resume {
        Some(id) => id,
        None => match last_id(&state, who.key()).await {
            Ok(id) => id,
            Err(e) => return reply(&state, API, Err(e)),
        },
    };
    if let Some(secs) = q.poll {
        return poll(state, who, start, secs.min(MAX_POLL_SECONDS)).await;
    }
    let guard = StreamGuard::open(&state, who);
    let rx = state.hub.subscribe();
    let ready = Event::default()
        .event("ready")
        .id(start.to_string())
        .data("{}");
    let feed = Feed {
        state: state.clone(),
        guard,
        rx,
        after: start,
        buf: VecDeque::new(),
    };
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(ready) }).chain(
        futures_util::stream::unfold(feed, |mut f| async move {
            let ev = f.next().await?;
            Some((Ok::<_, Infallible>(ev), f))
        }),
    );
    let mut res = Sse::new(stream)
        // A comment every 5 s: a connection that went away fails the next write, so a lost link
        // is noticed within 5 s (the abort comes 20 s after that).
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    res.headers_mut()
        .insert("cache-control", "no-store".parse().expect("a header value"));
    res
}

use futures_util::StreamExt as _;

struct Feed {
    state: AppState,
    #[allow(dead_code)] // held for its Drop: the stream's end is a lost link
    guard: StreamGuard,
    rx: tokio::sync::watch::Receiver<u64>,
    after: i64,
    buf: VecDeque<(i64, String)>,
}

impl Feed {
    /// The next event of this party, waiting for one; `None` ends the stream (a database
    /// failure: the client reconnects and resumes).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some((id, body)) = self.buf.pop_front() {
                self.after = id;
                return Some(Event::default().id(id.to_string()).data(body));
            }
            self.rx.borrow_and_update();
            match read_after(&self.state, &self.guard.key, self.after).await {
                Ok(rows) if !rows.is_empty() => self.buf.extend(rows),
                Ok(_) => {
                    let state = self.state.clone();
                    tokio::select! {
                        r = self.rx.changed() => r.ok()?,
                        _ = state.hub.closed_streams() => return None,
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e.message, "event stream: read failed");
                    return None;
                }
            }
        }
    }
}

/// One long-poll: the events after `after`, waiting up to `secs` for the first. A waiting poll
/// keeps the party's link for its duration and a grace period after (the next poll follows).
async fn poll(state: AppState, who: Who, after: i64, secs: u64) -> Response {
    const API: &str = "events";
    const GRACE: Duration = Duration::from_secs(10);
    // A waiting poll is the Mini Program's transport: it holds the link. `poll=0` (a client
    // fetching what is pending) does not.
    let key = who.key();
    let guard = (secs > 0).then(|| StreamGuard::open(&state, who));
    let mut rx = state.hub.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let rows = loop {
        rx.borrow_and_update();
        match read_after(&state, &key, after).await {
            Ok(rows) if !rows.is_empty() => break Ok(rows),
            Ok(rows) => {
                // Nothing yet: wait for a commit, the deadline, or the service shutting down
                // (graceful shutdown would otherwise wait for every poll in flight).
                tokio::select! {
                    changed = tokio::time::timeout_at(deadline, rx.changed()) => {
                        if changed.is_err() {
                            break Ok(rows);
                        }
                    }
                    () = state.hub.closed_streams() => break Ok(rows),
                }
            }
            Err(e) => break Err(e),
        }
    };
    tokio::spawn(async move {
        tokio::time::sleep(GRACE).await;
        drop(guard);
    });
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => return reply(&state, API, Err(e)),
    };
    let last = rows.last().map_or(after, |(id, _)| *id);
    let mut messages = Vec::with_capacity(rows.len());
    for (id, body) in rows {
        let mut m: serde_json::Value = serde_json::from_str(&body).unwrap_or(json!({}));
        m["id"] = json!(id);
        messages.push(m);
    }
    let body =
        json!({ "errCode": 0, "errMsg": "events:ok", "lastEventId": last, "messages": messages });
    super::errors::json_response(StatusCode::OK, &body)
}

/// Fires every passed deadline now (`--dev`).
#[utoipa::path(post, path = "/v1/dev/tick", tag = "dev",
    request_body(content = super::docs::NoArgs, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "the calls that changed", body = super::docs::DevTick),
        (status = "default", description = super::v1::ERRORS, body = super::dev::PluginError),
    ))]
pub async fn dev_tick(State(state): State<AppState>) -> Response {
    let r = calls::sweep(&state).await.map(|n| json!({ "changed": n }));
    reply(&state, "tick", r)
}

/// The routes of this module (`/v1/dev/tick` only with `--dev`).
pub fn routes(dev: bool) -> axum::Router<AppState> {
    use axum::routing::{get, post};
    let r = axum::Router::new()
        .route("/v1/answerVoip", post(answer_voip))
        .route("/v1/rejectVoip", post(reject_voip))
        .route("/v1/forceHangUpVoip", post(force_hang_up_voip))
        .route("/v1/rtcSignal", post(rtc_signal))
        .route("/v1/events", get(events));
    if dev {
        r.route("/v1/dev/tick", post(dev_tick))
    } else {
        r
    }
}
