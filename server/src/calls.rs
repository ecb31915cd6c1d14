//! Calls over the service (SPEC §3.7, §6.2): the events of each change to a call are written,
//! in the same transaction as the change, to `call_events` (one row per party: the device that
//! called, `d:<name>`, and the listener, `o:<openId>`), and streamed from there: a stream reads
//! its party's rows after the last id it sent, so a reconnect that names its last event id
//! (`Last-Event-ID`) resumes with no loss and no duplicate while the rows are kept (5 minutes).
//!
//! - [`Hub`] wakes the streams after a commit with events, counts each party's open streams,
//!   and wakes the sweeper.
//! - The sweeper fires passed deadlines (ring timeout, time limit, a lost link's 20 s) from the
//!   calls' `deadline_at`, and forgets events older than [`HISTORY_MS`].
//! - A party whose last stream closed has lost its link: its calls note it (the device's while
//!   ringing or connected, the listener's once connected: an absent phone while it rings is
//!   just not answering), and the core aborts them 20 s later unless a stream came back.

use crate::args;
use crate::db::DbResult;
use crate::http::AppState;
use crate::repo::{self, SqlRepo};
use crate::sql::{Dialect, Sql};
use campus_voip::engine::CallDelivery;
use campus_voip::ids::{Millis, OpenId};
use campus_voip::json::Json;
use campus_voip::lifecycle::{self, Call, Phase, Side};
use campus_voip::ops::{self, Ctx};
use campus_voip::repo::{Party, ReadRepo};
use campus_voip::Result;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// How long events are kept for a stream to resume from.
pub const HISTORY_MS: Millis = 5 * 60 * 1000;
/// How often the sweeper forgets events older than [`HISTORY_MS`].
const PRUNE_EVERY_MS: Millis = 60 * 1000;
/// Longest the sweeper sleeps between looks at the deadlines.
const SWEEP_MAX_SLEEP: Duration = Duration::from_secs(1);

/// An owned party: who a stream is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Who {
    Device(String),
    Parent(OpenId),
}

impl Who {
    pub fn party(&self) -> Party<'_> {
        match self {
            Who::Device(d) => Party::Device(d),
            Who::Parent(o) => Party::Parent(o),
        }
    }

    /// The `call_events.party` key.
    pub fn key(&self) -> String {
        match self {
            Who::Device(d) => format!("d:{d}"),
            Who::Parent(o) => format!("o:{}", o.as_str()),
        }
    }
}

/// Wakes streams and the sweeper; counts open streams per party.
pub struct Hub {
    bump: watch::Sender<u64>,
    /// Set when the service shuts down: the streams end (clients reconnect elsewhere).
    closing: watch::Sender<bool>,
    streams: Mutex<HashMap<String, usize>>,
    sweeper: Notify,
    /// When the sweeper last forgot old events (the service's clock, ms).
    pruned_at: std::sync::atomic::AtomicU64,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            bump: watch::Sender::new(0),
            closing: watch::Sender::new(false),
            streams: Mutex::new(HashMap::new()),
            sweeper: Notify::new(),
            pruned_at: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Hub {
    /// New events were committed (and a call changed: its deadline may be earlier).
    pub fn notify(&self) {
        self.bump.send_modify(|v| *v = v.wrapping_add(1));
        self.sweeper.notify_one();
    }

    /// The clock moved (`/v1/dev/clock`): deadlines may have passed.
    pub fn wake_sweeper(&self) {
        self.sweeper.notify_one();
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.bump.subscribe()
    }

    /// Ends every stream (graceful shutdown would otherwise wait for them).
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once the service is shutting down.
    pub async fn closed_streams(&self) {
        let mut rx = self.closing.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// A stream of `key` opened; whether it is the party's first.
    pub fn opened(&self, key: &str) -> bool {
        let mut m = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(key.to_owned()).or_default();
        *n += 1;
        *n == 1
    }

    /// A stream of `key` closed; whether it was the party's last.
    pub fn closed(&self, key: &str) -> bool {
        let mut m = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        match m.get_mut(key) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                m.remove(key);
                true
            }
            None => false,
        }
    }

    /// Open streams of `key`.
    pub fn open_streams(&self, key: &str) -> usize {
        let m = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        m.get(key).copied().unwrap_or(0)
    }
}

/// Writes a delivery's events (inside the transaction of the change that made them).
///
/// An event's id: on SQLite one sequence (the one writer commits in id order); on PostgreSQL
/// the party's previous id + 1, read and written in the same serializable transaction, so a
/// party's ids are committed in order whichever replica writes them (a stream resuming after
/// id N never skips an N-1 committed later). Each write also announces itself with
/// `pg_notify`, delivered at commit to every replica's `LISTEN`.
pub fn record_delivery(conn: &dyn Sql, d: &CallDelivery, now: Millis) -> Result<()> {
    let caller = Who::Device(d.call.device.clone());
    let listener = Who::Parent(d.call.listener_id.clone());
    for (who, events) in [(caller, &d.step.caller), (listener, &d.step.listener)] {
        if events.is_empty() {
            continue;
        }
        insert_message(conn, &who.key(), &d.call.room_id, now, |j| {
            lifecycle::write_events(j, &d.call, events)
        })?;
    }
    announce(conn)
}

/// One stream message for the party `key`: `{ roomId, at, events }`, the array written by
/// `events` (see [`record_delivery`] for the ids). `at` is the service's time of the change
/// (the device measures calling.keepTime from it).
fn insert_message(
    conn: &dyn Sql,
    key: &str,
    room_id: &str,
    now: Millis,
    events: impl FnOnce(&mut Json),
) -> Result<()> {
    let mut j = Json::default();
    j.raw("{")
        .key("roomId")
        .str(room_id)
        .key("at")
        .num(now)
        .key("events");
    events(&mut j);
    j.raw("}");
    let body = j.done();
    let sql = match conn.dialect() {
        Dialect::Sqlite => {
            "INSERT INTO call_events (party, room_id, body, at) VALUES (?1, ?2, ?3, ?4)"
        }
        Dialect::Postgres => {
            "INSERT INTO call_events (party, id, room_id, body, at)
             SELECT ?1, COALESCE(MAX(id), 0) + 1, ?2, ?3, ?4 FROM call_events WHERE party = ?1"
        }
    };
    conn.exec(sql, args![key, room_id, &body, now as i64])
        .map(drop)
        .map_err(repo::storage)
}

/// Tells the other replicas (PostgreSQL) that events were written; delivered at commit.
fn announce(conn: &dyn Sql) -> Result<()> {
    if conn.dialect() == Dialect::Postgres {
        conn.exec("SELECT pg_notify(?1, '')", args![crate::pg::EVENTS_CHANNEL])
            .map_err(repo::storage)?;
    }
    Ok(())
}

/// **[ours]** A WebRTC signalling message for `to`'s side of `call`: one `rtcSignal` event on
/// that party's stream, `{ eventName: "rtcSignal", from: "caller" | "listener", data }`, `data`
/// the JSON object's text as the other side sent it.
pub fn record_signal(conn: &dyn Sql, call: &Call, to: Side, data: &str, now: Millis) -> Result<()> {
    let (key, from) = match to {
        Side::Listener => (Who::Parent(call.listener_id.clone()).key(), "caller"),
        Side::Caller => (Who::Device(call.device.clone()).key(), "listener"),
    };
    insert_message(conn, &key, &call.room_id, now, |j| {
        j.raw("[{")
            .key("eventName")
            .str("rtcSignal")
            .key("from")
            .str(from)
            .key("data")
            .raw(data)
            .raw("}]");
    })?;
    announce(conn)
}

/// Forgets the events older than `cutoff`, but never a party's newest (on PostgreSQL the next
/// id counts on from it: a stream resuming with an old id must not see ids again).
pub fn prune_events(conn: &dyn Sql, cutoff: i64) -> DbResult<u64> {
    conn.exec(
        "DELETE FROM call_events WHERE at < ?1 AND id < (
             SELECT MAX(n.id) FROM call_events n WHERE n.party = call_events.party)",
        args![cutoff],
    )
}

/// The party's events after `after`, oldest first (at most `limit`).
pub fn events_after(
    conn: &dyn Sql,
    key: &str,
    after: i64,
    limit: usize,
) -> DbResult<Vec<(i64, String)>> {
    conn.rows(
        "SELECT id, body FROM call_events WHERE party = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        args![key, after, limit as i64],
    )?
    .iter()
    .map(|r| Ok((r.int(0)?, r.text(1)?.to_owned())))
    .collect()
}

/// The party's newest event id (a fresh stream starts after it).
pub fn last_event_id(conn: &dyn Sql, key: &str) -> DbResult<i64> {
    conn.one(
        "SELECT COALESCE(MAX(id), 0) FROM call_events WHERE party = ?1",
        args![key],
    )?
    .int(0)
}

/// Runs one write job of call operations: `f` returns the deliveries, whose events are written
/// in the same transaction; the streams are woken once it committed.
pub async fn write_calls<T, F>(state: &AppState, mut f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnMut(&mut SqlRepo<'_>, &mut Ctx<'_>, &mut Vec<CallDelivery>) -> Result<T> + Send + 'static,
{
    let out = crate::http::v1::write(state, move |repo, ctx| {
        let mut deliveries = Vec::new();
        let out = f(repo, ctx, &mut deliveries)?;
        for d in &deliveries {
            record_delivery(repo.conn(), d, ctx.now)?;
        }
        Ok((out, !deliveries.is_empty()))
    })
    .await?;
    if out.1 {
        state.hub.notify();
    }
    Ok(out.0)
}

/// Fires every deadline that passed; forgets old events. Returns the calls that changed.
pub async fn sweep(state: &AppState) -> Result<usize> {
    let now = state.core.now(&state.db).await;
    let due = state
        .db
        .read(move |c| repo::due_calls(c, now))
        .await
        .map_err(|e| e.to_core())?;
    let n = if due.is_empty() {
        0
    } else {
        write_calls(state, move |repo, ctx, out| {
            for room in &due {
                if let Some(d) = ops::tick_call(repo, ctx, room)? {
                    if !d.step.caller.is_empty() || !d.step.listener.is_empty() {
                        out.push(d);
                    }
                }
            }
            Ok(out.len())
        })
        .await?
    };
    // Old events go once a minute, not on every look (a write job each time).
    let last = state
        .hub
        .pruned_at
        .load(std::sync::atomic::Ordering::Relaxed);
    if now.saturating_sub(last) >= PRUNE_EVERY_MS {
        state
            .hub
            .pruned_at
            .store(now, std::sync::atomic::Ordering::Relaxed);
        let cutoff = now.saturating_sub(HISTORY_MS) as i64;
        let _ = state.db.write(move |c| prune_events(c, cutoff)).await;
    }
    Ok(n)
}

async fn next_deadline(state: &AppState) -> DbResult<Option<Millis>> {
    state.db.read(|c| repo::next_deadline(c)).await
}

/// The sweeper task: sleeps until the earliest deadline (at most a second), or until woken.
pub async fn sweeper(state: AppState) {
    loop {
        if let Err(e) = sweep(&state).await {
            tracing::warn!(error = %e.message, "the call sweeper failed; retrying");
        }
        let now = state.core.now(&state.db).await;
        let wait = match next_deadline(&state).await {
            Ok(Some(at)) => Duration::from_millis(at.saturating_sub(now).max(5)),
            _ => SWEEP_MAX_SLEEP,
        }
        .min(SWEEP_MAX_SLEEP);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = state.hub.sweeper.notified() => {}
        }
    }
}

/// A party's link went away (its last stream closed) or came back (a first stream opened):
/// each of its calls in progress is told.
pub async fn link_changed(state: AppState, who: Who, lost: bool) {
    // Most streams open and close with no call in progress: look before taking a writer slot.
    let probe = who.clone();
    let now = state.core.now(&state.db).await;
    let any = state
        .db
        .read(move |c| {
            SqlRepo::new(c, now)
                .live_calls(probe.party())
                .map(|calls| !calls.is_empty())
                .map_err(crate::db::DbError::Rule)
        })
        .await;
    if matches!(any, Ok(false)) {
        return;
    }
    let r = write_calls(&state, move |repo, ctx, out| {
        let side = match who {
            Who::Device(_) => Side::Caller,
            Who::Parent(_) => Side::Listener,
        };
        for c in repo.live_calls(who.party())? {
            // An absent phone while its call rings is not answering, not a lost link.
            if lost && side == Side::Listener && c.phase != Phase::Connected {
                continue;
            }
            if let Some(d) = ops::link_call(repo, ctx, &c.room_id, side, lost)? {
                out.push(d);
            }
        }
        Ok(())
    })
    .await;
    if let Err(e) = r {
        tracing::warn!(error = %e.message, lost, "could not record a link change");
    }
    state.hub.wake_sweeper();
}
