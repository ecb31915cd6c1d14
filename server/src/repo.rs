//! The core's store interface ([`ReadRepo`] / [`Repo`]) over one SQLite connection: the
//! operations of `campus_voip::ops` run against it inside a `db.write` job (a savepoint of the
//! writer's `BEGIN IMMEDIATE` transaction) or a `db.read` snapshot.
//!
//! Reads return owned rows (`Box<StudentRecord>`, `Vec<UserId>`); [`Repo::commit`] turns the
//! one [`Change`] of an operation into SQL. A used-token insert that hits the primary key is
//! [`repo::token_already_used`], whatever [`ReadRepo::token_used`] said before.

use campus_voip::ids::{Millis, OpenId, UserId};
use campus_voip::registry::{Change, Contact, Removal, Role, StudentRecord};
use campus_voip::repo::{self, ReadRepo, Repo};
use campus_voip::{Error, Result};
use rusqlite::{params, Connection, ErrorCode as SqlCode, OptionalExtension};

/// The operations' store over `conn`; `now` stamps `updated_at` and `granted_at`.
pub struct SqlRepo<'c> {
    conn: &'c Connection,
    now: Millis,
}

impl<'c> SqlRepo<'c> {
    pub fn new(conn: &'c Connection, now: Millis) -> SqlRepo<'c> {
        SqlRepo { conn, now }
    }
}

fn storage(e: rusqlite::Error) -> Error {
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

impl ReadRepo for SqlRepo<'_> {
    type Record<'a>
        = Box<StudentRecord>
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
            Change::UseToken { id, expires_at } => {
                let r = conn
                    .prepare_cached(
                        "INSERT INTO used_tokens (token_id, expires_at) VALUES (?1, ?2)",
                    )
                    .and_then(|mut st| st.execute(params![&id[..], expires_at as i64]));
                match r {
                    Ok(_) => Ok(()),
                    Err(rusqlite::Error::SqliteFailure(f, _))
                        if f.code == SqlCode::ConstraintViolation =>
                    {
                        Err(repo::token_already_used())
                    }
                    Err(e) => Err(storage(e)),
                }
            }
        }
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
