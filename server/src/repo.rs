//! The core's store interface ([`ReadRepo`] / [`Repo`]) over one connection (SQLite or
//! PostgreSQL, through [`Sql`]): the operations of `campus_voip::ops` run against it inside a
//! `db.write` job (a savepoint of SQLite's writer transaction, or a serializable PostgreSQL
//! transaction) or a `db.read` snapshot.
//!
//! Reads return owned rows (`Box<StudentRecord>`, `Vec<UserId>`); [`Repo::commit`] turns the
//! one [`Change`] of an operation into SQL. A used-token insert that hits the primary key is
//! [`repo::token_already_used`], whatever [`ReadRepo::token_used`] said before.

use crate::args;
use crate::db::DbError;
use crate::sql::{Row, Sql};
use campus_voip::call::RoomType;
use campus_voip::ids::{Millis, OpenId, UserId};
use campus_voip::lifecycle::{self, Call, CallListQuery, CallRecord, Ending, Phase};
use campus_voip::registry::{Change, Contact, Removal, Role, StudentRecord};
use campus_voip::repo::{self, Party, ReadRepo, Repo};
use campus_voip::{Error, Result};

/// The operations' store over `conn`; `now` stamps `updated_at` and `granted_at`.
pub struct SqlRepo<'c> {
    conn: &'c dyn Sql,
    now: Millis,
}

impl<'c> SqlRepo<'c> {
    /// The connection the repo runs on (call events are written in the same transaction).
    pub fn conn(&self) -> &'c dyn Sql {
        self.conn
    }

    pub fn new(conn: &'c dyn Sql, now: Millis) -> SqlRepo<'c> {
        SqlRepo { conn, now }
    }
}

pub(crate) fn storage(e: DbError) -> Error {
    match e {
        DbError::Rule(e) => e,
        e => Error::storage(e.to_string()),
    }
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
pub fn load_student(conn: &dyn Sql, id: &UserId) -> Result<Option<StudentRecord>> {
    let Some(term) = conn
        .row(
            "SELECT admin_term FROM students WHERE user_id = ?1",
            args![id.as_str()],
        )
        .map_err(storage)?
    else {
        return Ok(None);
    };
    let term = term.int(0).map_err(storage)?;
    let mut contacts = Vec::new();
    for r in conn
        .rows(
            "SELECT open_id, role, bound_at FROM contacts WHERE user_id = ?1 ORDER BY position",
            args![id.as_str()],
        )
        .map_err(storage)?
    {
        contacts.push(Contact {
            open_id: open_id(r.text(0).map_err(storage)?)?,
            role: if r.int(1).map_err(storage)? == 1 {
                Role::Admin
            } else {
                Role::Ordinary
            },
            bound_at: millis(r.int(2).map_err(storage)?),
        });
    }
    let mut removed = Vec::new();
    for r in conn
        .rows(
            "SELECT open_id, at FROM removals WHERE user_id = ?1 ORDER BY at, open_id",
            args![id.as_str()],
        )
        .map_err(storage)?
    {
        removed.push(Removal {
            open_id: open_id(r.text(0).map_err(storage)?)?,
            at: millis(r.int(1).map_err(storage)?),
        });
    }
    Ok(Some(StudentRecord {
        user_id: id.clone(),
        admin_term: u32::try_from(term)
            .map_err(|_| corrupt("student", Error::storage("admin_term out of range")))?,
        contacts,
        removed,
    }))
}

/// Replaces the student's record (its contacts and removals) with `record`.
pub fn store_student(conn: &dyn Sql, record: &StudentRecord, now: Millis) -> Result<()> {
    let id = record.user_id.as_str();
    (|| -> crate::db::DbResult<()> {
        conn.exec(
            "INSERT INTO students (user_id, admin_term, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id) DO UPDATE SET admin_term = excluded.admin_term,
                 updated_at = excluded.updated_at",
            args![id, record.admin_term, now as i64],
        )?;
        conn.exec("DELETE FROM contacts WHERE user_id = ?1", args![id])?;
        conn.exec("DELETE FROM removals WHERE user_id = ?1", args![id])?;
        for (i, c) in record.contacts.iter().enumerate() {
            conn.exec(
                "INSERT INTO contacts (user_id, open_id, role, bound_at, position)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                args![
                    id,
                    c.open_id.as_str(),
                    c.role.number(),
                    c.bound_at as i64,
                    i as i64
                ],
            )?;
        }
        for r in &record.removed {
            conn.exec(
                "INSERT INTO removals (user_id, open_id, at) VALUES (?1, ?2, ?3)",
                args![id, r.open_id.as_str(), r.at as i64],
            )?;
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
fn call_row(r: &Row) -> Result<Call> {
    let text = |i: usize| r.text(i).map(str::to_owned).map_err(storage);
    let int = |i: usize| r.int(i).map_err(storage);
    let opt = |i: usize| r.opt_int(i).map_err(storage);
    let (room_id, device, user, open) = (text(0)?, text(1)?, text(2)?, text(3)?);
    let (caller_name, listener_name, room_type) = (text(4)?, text(5)?, text(6)?);
    let business_type = int(7)?;
    let ring_timeout_ms = int(8)?;
    let time_limit_ms = opt(9)?;
    let phase = text(10)?;
    let rang_at = int(11)?;
    let connected_at = opt(12)?;
    let ended_at = opt(13)?;
    let ending = r.opt_text(14).map_err(storage)?.map(str::to_owned);
    let seen = int(15)?;
    let lost: [Option<i64>; 2] = [opt(16)?, opt(17)?];
    {
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
    }
}

/// The calls a query selects (its columns [`CALL_COLUMNS`]).
fn query_calls(conn: &dyn Sql, sql: &str, params: &[crate::sql::Val<'_>]) -> Result<Vec<Call>> {
    conn.rows(sql, params)
        .map_err(storage)?
        .iter()
        .map(call_row)
        .collect()
}

/// Every call row (live and finished), by room id (`export`).
pub fn all_calls(conn: &dyn Sql) -> Result<Vec<Call>> {
    let sql = format!("SELECT {CALL_COLUMNS} FROM calls ORDER BY room_id");
    query_calls(conn, &sql, &[])
}

/// Inserts or replaces a call's row (its next deadline kept for the sweeper's query).
pub fn store_call(conn: &dyn Sql, c: &Call) -> Result<()> {
    let deadline = lifecycle::next_deadline(c).map(|(at, _)| at as i64);
    conn.exec(
        "INSERT INTO calls (room_id, device, user_id, open_id, caller_name, listener_name,
             room_type, business_type, ring_timeout_ms, time_limit_ms, phase, rang_at,
             connected_at, ended_at, ending, seen, caller_lost_at, listener_lost_at, deadline_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
         ON CONFLICT (room_id) DO UPDATE SET
             phase = excluded.phase, connected_at = excluded.connected_at,
             ended_at = excluded.ended_at, ending = excluded.ending, seen = excluded.seen,
             caller_lost_at = excluded.caller_lost_at,
             listener_lost_at = excluded.listener_lost_at, deadline_at = excluded.deadline_at",
        args![
            &c.room_id,
            &c.device,
            c.caller_id.as_str(),
            c.listener_id.as_str(),
            &c.caller_name,
            &c.listener_name,
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
        ],
    )
    .map(drop)
    .map_err(storage)
}

/// The rooms whose next deadline has passed by `now`.
pub fn due_calls(conn: &dyn Sql, now: Millis) -> crate::db::DbResult<Vec<String>> {
    conn.rows(
        "SELECT room_id FROM calls WHERE deadline_at IS NOT NULL AND deadline_at <= ?1",
        args![now as i64],
    )?
    .iter()
    .map(|r| r.text(0).map(str::to_owned))
    .collect()
}

/// The earliest deadline of the calls in progress.
pub fn next_deadline(conn: &dyn Sql) -> crate::db::DbResult<Option<Millis>> {
    Ok(opt_millis(
        conn.one(
            "SELECT MIN(deadline_at) FROM calls WHERE deadline_at IS NOT NULL",
            &[],
        )?
        .opt_int(0)?,
    ))
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
            .one(
                "SELECT EXISTS (SELECT 1 FROM consents WHERE open_id = ?1)",
                args![who.as_str()],
            )
            .and_then(|r| r.bool(0))
            .map_err(storage)
    }

    fn token_used(&self, nonce: &[u8; 12]) -> Result<bool> {
        self.conn
            .one(
                "SELECT EXISTS (SELECT 1 FROM used_tokens WHERE token_id = ?1)",
                args![nonce],
            )
            .and_then(|r| r.bool(0))
            .map_err(storage)
    }

    fn students_of(&self, who: &OpenId) -> Result<Vec<UserId>> {
        self.conn
            .rows(
                "SELECT user_id FROM contacts WHERE open_id = ?1 ORDER BY bound_at, user_id",
                args![who.as_str()],
            )
            .map_err(storage)?
            .iter()
            .map(|r| user_id(r.text(0).map_err(storage)?))
            .collect()
    }

    fn live_call(&self, room_id: &str) -> Result<Option<Box<Call>>> {
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE room_id = ?1 AND phase IN ('ringing', 'connected')"
        );
        Ok(query_calls(self.conn, &sql, args![room_id])?
            .pop()
            .map(Box::new))
    }

    fn live_calls(&self, party: Party<'_>) -> Result<Vec<Box<Call>>> {
        let (column, who) = match party {
            Party::Device(d) => ("device", d),
            Party::Parent(o) => ("open_id", o.as_str()),
        };
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE {column} = ?1 AND phase IN ('ringing', 'connected') ORDER BY rang_at, room_id"
        );
        Ok(query_calls(self.conn, &sql, args![who])?
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
            args![q.user_id.as_str(), q.from_ms as i64, to],
        )?;
        Ok(calls.iter().filter_map(lifecycle::record).collect())
    }
}

impl Repo for SqlRepo<'_> {
    fn commit(&mut self, change: Change) -> Result<()> {
        let conn = self.conn;
        match change {
            Change::PutStudent(record) => store_student(conn, &record, self.now),
            Change::RemoveStudent(id) => (|| -> crate::db::DbResult<()> {
                for sql in [
                    "DELETE FROM contacts WHERE user_id = ?1",
                    "DELETE FROM removals WHERE user_id = ?1",
                    "DELETE FROM students WHERE user_id = ?1",
                ] {
                    conn.exec(sql, args![id.as_str()])?;
                }
                Ok(())
            })()
            .map_err(storage),
            Change::Consent { open_id, granted } => {
                let r = if granted {
                    conn.exec(
                        "INSERT INTO consents (open_id, granted_at) VALUES (?1, ?2)
                         ON CONFLICT (open_id) DO NOTHING",
                        args![open_id.as_str(), self.now as i64],
                    )
                } else {
                    conn.exec(
                        "DELETE FROM consents WHERE open_id = ?1",
                        args![open_id.as_str()],
                    )
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
///
/// `ON CONFLICT DO NOTHING` rather than catching the duplicate key: on PostgreSQL a failed
/// statement aborts the whole transaction, and the refusal must leave it usable.
fn use_token(conn: &dyn Sql, id: &[u8; 12], expires_at: Millis) -> Result<()> {
    match conn.exec(
        "INSERT INTO used_tokens (token_id, expires_at) VALUES (?1, ?2)
         ON CONFLICT (token_id) DO NOTHING",
        args![id, expires_at as i64],
    ) {
        Ok(1) => Ok(()),
        Ok(_) | Err(DbError::Conflict(_)) => Err(repo::token_already_used()),
        Err(e) => Err(storage(e)),
    }
}

/// Forgets used tokens that expired at or before `now` (safe at any time: an expired token is
/// refused as expired before reuse is checked). Returns how many rows went.
pub fn prune_used_tokens(conn: &dyn Sql, now: Millis) -> crate::db::DbResult<u64> {
    conn.exec(
        "DELETE FROM used_tokens WHERE expires_at <= ?1",
        args![now as i64],
    )
}
