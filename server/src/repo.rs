//! The core's store interface ([`ReadRepo`] / [`Repo`]) over one SQLite connection: the
//! operations of `campus_voip::ops` run against it inside a `db.write` job (a savepoint of the
//! writer's `BEGIN IMMEDIATE` transaction) or a `db.read` snapshot.
//!
//! Reads return owned rows (`Box<StudentRecord>`, `Vec<UserId>`); [`Repo::commit`] turns the
//! one [`Change`] of an operation into SQL. A used-token insert that hits the primary key is
//! [`repo::token_already_used`], whatever [`ReadRepo::token_used`] said before.

use campus_voip::call::RoomType;
use campus_voip::ids::{Millis, OpenId, UserId};
use campus_voip::lifecycle::{self, Call, CallListQuery, CallRecord, Ending, Phase};
use campus_voip::registry::{Change, Contact, Removal, Role, StudentRecord};
use campus_voip::repo::{self, Party, ReadRepo, Repo};
use campus_voip::{Error, Result};
use rusqlite::{params, Connection, ErrorCode as SqlCode, OptionalExtension};

/// The operations' store over `conn`; `now` stamps `updated_at` and `granted_at`.
pub struct SqlRepo<'c> {
    conn: &'c Connection,
    now: Millis,
}

impl<'c> SqlRepo<'c> {
    /// The connection the repo runs on (call events are written in the same transaction).
    pub fn conn(&self) -> &'c Connection {
        self.conn
    }

    pub fn new(conn: &'c Connection, now: Millis) -> SqlRepo<'c> {
        SqlRepo { conn, now }
    }
}

pub(crate) fn storage(e: rusqlite::Error) -> Error {
    Error::storage(format!("database error: {e}"))
}

fn corrupt(what: &str, e: Error) -> Error {
    Error::storage(format!("a stored {what} is invalid: {}", e.message))
}

fn user_id(s: &str) -> Result<UserId> {
    UserId::parse("userId", s).map_err(|e| corrupt("userId", e))
}

fn open_id(s: &str) -> Result<OpenId> {
    OpenId::parse("openId", s).map_err(|e| corrupt("openId", e))
}

fn millis(v: i64) -> Millis {
    v.max(0) as Millis
}

/// One student's record as stored, or `None`.
pub fn load_student(conn: &Connection, id: &UserId) -> Result<Option<StudentRecord>> {
    let term: Option<i64> = conn
        .prepare_cached("SELECT admin_term FROM students WHERE user_id = ?1")
        .and_then(|mut st| st.query_row([id.as_str()], |r| r.get(0)).optional())
        .map_err(storage)?;
    let Some(term) = term else {
        return Ok(None);
    };
    let mut st = conn
        .prepare_cached(
            "SELECT open_id, role, bound_at FROM contacts WHERE user_id = ?1 ORDER BY position",
        )
        .map_err(storage)?;
    let rows = st
        .query_map([id.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .map_err(storage)?;
    let mut contacts = Vec::new();
    for row in rows {
        let (o, role, at) = row.map_err(storage)?;
        contacts.push(Contact {
            open_id: open_id(&o)?,
            role: if role == 1 {
                Role::Admin
            } else {
                Role::Ordinary
            },
            bound_at: millis(at),
        });
    }
    let mut st = conn
        .prepare_cached("SELECT open_id, at FROM removals WHERE user_id = ?1 ORDER BY at, open_id")
        .map_err(storage)?;
    let rows = st
        .query_map([id.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(storage)?;
    let mut removed = Vec::new();
    for row in rows {
        let (o, at) = row.map_err(storage)?;
        removed.push(Removal {
            open_id: open_id(&o)?,
            at: millis(at),
        });
    }
    Ok(Some(StudentRecord {
        user_id: id.clone(),
        admin_term: term as u32,
        contacts,
        removed,
    }))
}

/// Replaces the student's record (its contacts and removals) with `record`.
pub fn store_student(conn: &Connection, record: &StudentRecord, now: Millis) -> Result<()> {
    let id = record.user_id.as_str();
    (|| -> rusqlite::Result<()> {
        conn.prepare_cached(
            "INSERT INTO students (user_id, admin_term, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id) DO UPDATE SET admin_term = excluded.admin_term,
                 updated_at = excluded.updated_at",
        )?
        .execute(params![id, i64::from(record.admin_term), now as i64])?;
        conn.prepare_cached("DELETE FROM contacts WHERE user_id = ?1")?
            .execute([id])?;
        conn.prepare_cached("DELETE FROM removals WHERE user_id = ?1")?
            .execute([id])?;
        let mut ins = conn.prepare_cached(
            "INSERT INTO contacts (user_id, open_id, role, bound_at, position)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (i, c) in record.contacts.iter().enumerate() {
            ins.execute(params![
                id,
                c.open_id.as_str(),
                i64::from(c.role.number()),
                c.bound_at as i64,
                i as i64
            ])?;
        }
        let mut ins =
            conn.prepare_cached("INSERT INTO removals (user_id, open_id, at) VALUES (?1, ?2, ?3)")?;
        for r in &record.removed {
            ins.execute(params![id, r.open_id.as_str(), r.at as i64])?;
        }
        Ok(())
    })()
    .map_err(storage)
}

const CALL_COLUMNS: &str = "room_id, device, user_id, open_id, caller_name, listener_name, \
     room_type, business_type, ring_timeout_ms, time_limit_ms, phase, rang_at, connected_at, \
     ended_at, ending, seen, caller_lost_at, listener_lost_at";

fn opt_millis(v: Option<i64>) -> Option<Millis> {
    v.map(millis)
}

/// A `calls` row (selected as [`CALL_COLUMNS`]) as the core's call.
fn call_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Call>> {
    let text = |i: usize| r.get::<_, String>(i);
    let (room_id, device, user, open) = (text(0)?, text(1)?, text(2)?, text(3)?);
    let (caller_name, listener_name, room_type) = (text(4)?, text(5)?, text(6)?);
    let business_type: i64 = r.get(7)?;
    let ring_timeout_ms: i64 = r.get(8)?;
    let time_limit_ms: Option<i64> = r.get(9)?;
    let phase = text(10)?;
    let rang_at: i64 = r.get(11)?;
    let connected_at: Option<i64> = r.get(12)?;
    let ended_at: Option<i64> = r.get(13)?;
    let ending: Option<String> = r.get(14)?;
    let seen: i64 = r.get(15)?;
    let lost: [Option<i64>; 2] = [r.get(16)?, r.get(17)?];
    Ok((|| {
        let bad = |what: &str| corrupt("calls", Error::storage(format!("bad {what}")));
        Ok(Call {
            room_id,
            device,
            caller_id: user_id(&user)?,
            listener_id: open_id(&open)?,
            caller_name,
            listener_name,
            room_type: match room_type.as_str() {
                "voice" => RoomType::Voice,
                "video" => RoomType::Video,
                _ => return Err(bad("room_type")),
            },
            business_type: u8::try_from(business_type).map_err(|_| bad("business_type"))?,
            ring_timeout_ms: millis(ring_timeout_ms),
            time_limit_ms: opt_millis(time_limit_ms),
            phase: Phase::parse(&phase).ok_or_else(|| bad("phase"))?,
            rang_at: millis(rang_at),
            connected_at: opt_millis(connected_at),
            ended_at: opt_millis(ended_at),
            ending: match ending {
                None => None,
                Some(e) => Some(Ending::parse(&e).ok_or_else(|| bad("ending"))?),
            },
            seen: millis(seen),
            link_lost_at: lost.map(opt_millis),
        })
    })())
}

/// The calls a query selects (its columns [`CALL_COLUMNS`]).
fn query_calls(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Call>> {
    let mut st = conn.prepare_cached(sql).map_err(storage)?;
    let rows = st.query_map(params, call_row).map_err(storage)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(storage)??);
    }
    Ok(out)
}

/// Inserts or replaces a call's row (its next deadline kept for the sweeper's query).
pub fn store_call(conn: &Connection, c: &Call) -> Result<()> {
    let deadline = lifecycle::next_deadline(c).map(|(at, _)| at as i64);
    conn.prepare_cached(
        "INSERT INTO calls (room_id, device, user_id, open_id, caller_name, listener_name,
             room_type, business_type, ring_timeout_ms, time_limit_ms, phase, rang_at,
             connected_at, ended_at, ending, seen, caller_lost_at, listener_lost_at, deadline_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
         ON CONFLICT (room_id) DO UPDATE SET
             phase = excluded.phase, connected_at = excluded.connected_at,
             ended_at = excluded.ended_at, ending = excluded.ending, seen = excluded.seen,
             caller_lost_at = excluded.caller_lost_at,
             listener_lost_at = excluded.listener_lost_at, deadline_at = excluded.deadline_at",
    )
    .and_then(|mut st| {
        st.execute(params![
            c.room_id,
            c.device,
            c.caller_id.as_str(),
            c.listener_id.as_str(),
            c.caller_name,
            c.listener_name,
            c.room_type.as_str(),
            c.business_type,
            c.ring_timeout_ms as i64,
            c.time_limit_ms.map(|t| t.min(i64::MAX as u64) as i64),
            c.phase.as_str(),
            c.rang_at as i64,
            c.connected_at.map(|t| t as i64),
            c.ended_at.map(|t| t as i64),
            c.ending.map(|e| e.as_str()),
            c.seen as i64,
            c.link_lost_at[0].map(|t| t as i64),
            c.link_lost_at[1].map(|t| t as i64),
            deadline,
        ])
    })
    .map(drop)
    .map_err(storage)
}

/// The rooms whose next deadline has passed by `now`.
pub fn due_calls(conn: &Connection, now: Millis) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare_cached(
        "SELECT room_id FROM calls WHERE deadline_at IS NOT NULL AND deadline_at <= ?1",
    )?;
    let rows = st.query_map([now as i64], |r| r.get(0))?;
    rows.collect()
}

/// The earliest deadline of the calls in progress.
pub fn next_deadline(conn: &Connection) -> rusqlite::Result<Option<Millis>> {
    conn.query_row(
        "SELECT MIN(deadline_at) FROM calls WHERE deadline_at IS NOT NULL",
        [],
        |r| r.get::<_, Option<i64>>(0),
    )
    .map(opt_millis)
}

impl ReadRepo for SqlRepo<'_> {
    type Record<'a>
        = Box<StudentRecord>
    where
        Self: 'a;
    type LiveCall<'a>
        = Box<Call>
    where
        Self: 'a;
    type Ids<'a>
        = Vec<UserId>
    where
        Self: 'a;

    fn student(&self, id: &UserId) -> Result<Option<Box<StudentRecord>>> {
        Ok(load_student(self.conn, id)?.map(Box::new))
    }

    fn consented(&self, who: &OpenId) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM consents WHERE open_id = ?1)")
            .and_then(|mut st| st.query_row([who.as_str()], |r| r.get(0)))
            .map_err(storage)
    }

    fn token_used(&self, nonce: &[u8; 12]) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM used_tokens WHERE token_id = ?1)")
            .and_then(|mut st| st.query_row([&nonce[..]], |r| r.get(0)))
            .map_err(storage)
    }

    fn students_of(&self, who: &OpenId) -> Result<Vec<UserId>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT user_id FROM contacts WHERE open_id = ?1 ORDER BY bound_at, user_id",
            )
            .map_err(storage)?;
        let rows = st
            .query_map([who.as_str()], |r| r.get::<_, String>(0))
            .map_err(storage)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(user_id(&row.map_err(storage)?)?);
        }
        Ok(out)
    }

    fn live_call(&self, room_id: &str) -> Result<Option<Box<Call>>> {
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE room_id = ?1 AND phase IN ('ringing', 'connected')"
        );
        Ok(query_calls(self.conn, &sql, [room_id])?.pop().map(Box::new))
    }

    fn live_calls(&self, party: Party<'_>) -> Result<Vec<Box<Call>>> {
        let (column, who) = match party {
            Party::Device(d) => ("device", d),
            Party::Parent(o) => ("open_id", o.as_str()),
        };
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE {column} = ?1 AND phase IN ('ringing', 'connected') ORDER BY rang_at, room_id"
        );
        Ok(query_calls(self.conn, &sql, [who])?
            .into_iter()
            .map(Box::new)
            .collect())
    }

    fn call_records(&self, q: &CallListQuery) -> Result<Vec<CallRecord>> {
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE user_id = ?1 AND rang_at BETWEEN ?2 AND ?3 AND phase = 'finished' ORDER BY ended_at, room_id"
        );
        let to = q.to_ms.min(i64::MAX as u64) as i64;
        let calls = query_calls(
            self.conn,
            &sql,
            params![q.user_id.as_str(), q.from_ms as i64, to],
        )?;
        Ok(calls.iter().filter_map(lifecycle::record).collect())
    }
}

impl Repo for SqlRepo<'_> {
    fn commit(&mut self, change: Change) -> Result<()> {
        let conn = self.conn;
        match change {
            Change::PutStudent(record) => store_student(conn, &record, self.now),
            Change::RemoveStudent(id) => (|| -> rusqlite::Result<()> {
                for sql in [
                    "DELETE FROM contacts WHERE user_id = ?1",
                    "DELETE FROM removals WHERE user_id = ?1",
                    "DELETE FROM students WHERE user_id = ?1",
                ] {
                    conn.prepare_cached(sql)?.execute([id.as_str()])?;
                }
                Ok(())
            })()
            .map_err(storage),
            Change::Consent { open_id, granted } => {
                let r = if granted {
                    conn.prepare_cached(
                        "INSERT INTO consents (open_id, granted_at) VALUES (?1, ?2)
                         ON CONFLICT (open_id) DO NOTHING",
                    )
                    .and_then(|mut st| st.execute(params![open_id.as_str(), self.now as i64]))
                } else {
                    conn.prepare_cached("DELETE FROM consents WHERE open_id = ?1")
                        .and_then(|mut st| st.execute([open_id.as_str()]))
                };
                r.map(drop).map_err(storage)
            }
            Change::PutCall { call, token } => {
                if let Some((id, expires_at)) = token {
                    use_token(conn, &id, expires_at)?;
                }
                store_call(conn, &call)
            }
            Change::UseToken { id, expires_at } => use_token(conn, &id, expires_at),
        }
    }
}

/// Marks a face-pay token used: a UNIQUE row, so a second use fails as `token_already_used`.
fn use_token(conn: &Connection, id: &[u8; 12], expires_at: Millis) -> Result<()> {
    let r = conn
        .prepare_cached("INSERT INTO used_tokens (token_id, expires_at) VALUES (?1, ?2)")
        .and_then(|mut st| st.execute(params![&id[..], expires_at as i64]));
    match r {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == SqlCode::ConstraintViolation => {
            Err(repo::token_already_used())
        }
        Err(e) => Err(storage(e)),
    }
}

/// Forgets used tokens that expired at or before `now` (safe at any time: an expired token is
/// refused as expired before reuse is checked). Returns how many rows went.
pub fn prune_used_tokens(conn: &Connection, now: Millis) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM used_tokens WHERE expires_at <= ?1",
        [now as i64],
    )
}
