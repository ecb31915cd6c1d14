//! `export` / `import`: the whole store as backend-neutral JSON lines (SPEC §7: moves a school
//! from SQLite to PostgreSQL and back). Either database exports the same bytes for the same
//! data, so SQLite → file → PostgreSQL → file → SQLite gives the same file each time.
//!
//! The format, version [`VERSION`] (version 1, which had no calls, is still read): UTF-8, one
//! JSON object per line, each line ending in `\n`.
//!
//! 1. A header: `{"format":"campus-voip-export","version":2,"schema":N}` (`N` the schema
//!    version of the migrations the data was read under; import needs the same).
//! 2. One line per stored row or record, `kind` first, grouped in this order and sorted within a
//!    group, values as stored (times are milliseconds since the epoch, BLOBs standard base64):
//!    - `server_key` `{purpose, kid, secret, created_at}` in signing order (the last key of a
//!      purpose signs; the others verify),
//!    - `setting` `{name, value}` by name (the clock lease, the session key id, `--dev`
//!      credentials),
//!    - `device` `{name, key_id, key_hash, created_at, revoked_at}` by name (keys stay hashed),
//!    - `consent` `{open_id, granted_at}` by openId,
//!    - `student` `{user_id, admin_term, updated_at, contacts: [{open_id, role, bound_at}],
//!      removed: [{open_id, at}]}` by userId, contacts in binding order, removals as the core
//!      keeps them (one line is one core record: the same record check applies on import),
//!    - `used_token` `{token_id, expires_at}` by token id,
//!    - `call` `{room_id, device, user_id, open_id, caller_name, listener_name, room_type,
//!      business_type, ring_timeout_ms, time_limit_ms, phase, rang_at, connected_at, ended_at,
//!      ending, seen, caller_lost_at, listener_lost_at}` by room id: the `calls` rows, call
//!      records and any call in progress (which the target's sweeper then ends on its deadlines).
//! 3. A trailer: `{"kind":"end","lines":L,"counts":{…},"sha256":H}`, `L` the lines before it
//!    (header included), `counts` per kind (and the contacts and removals inside students), `H`
//!    SHA-256 (lowercase hex) of every byte before the trailer. A file without it, or whose
//!    counts or digest differ, is truncated or altered and is refused.
//!
//! Left out: the developer interface's access tokens (short-lived credentials a WeChat SDK
//! renews by itself on 40001, and the stable ones are kept in clear: not worth a file of live
//! bearer tokens), `schema_migrations` (the target's own migrations stand for it), and the
//! event stream's 5-minute history (`call_events`: a stream open across the move starts
//! afresh). Import refuses a target that has calls or events.
//!
//! Import writes into an empty database (at most the keys its `migrate` generated, which it
//! replaces) in one transaction: every line is checked (its kind, its fields, the core's id
//! parsers and record check, duplicates) with errors naming the line, then the trailer, then
//! the same checks as `check`; only then does it commit (SQLite: `BEGIN IMMEDIATE`;
//! PostgreSQL: one serializable transaction, after migrating the target). Export reads one
//! snapshot (PostgreSQL: `REPEATABLE READ READ ONLY`) and streams.

use crate::args;
use crate::check;
use crate::cli::{self, CliResult};
use crate::clock::{Clock, SystemClock, CLOCK_LEASE_SETTING};
use crate::config::Options;
use crate::config::{self, Database};
use crate::db::{self, Db, DbError, DbResult, OpenOptions};
use crate::devices;
use crate::metrics::Metrics;
use crate::pg::Mode;
use crate::repo::{all_calls, store_call};
use crate::repo::{load_student, store_student};
use crate::schema::{self, PURPOSES};
use crate::sql::{Row, Sql};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use campus_voip::call::RoomType;
use campus_voip::ids::{OpenId, UserId};
use campus_voip::keys::SECRET_LEN;
use campus_voip::lifecycle::{Call, Ending, Phase};
use campus_voip::registry::{Contact, Removal, Role, StudentRecord};
use campus_voip::storage::HARD_MAX_CONTACTS;
use rusqlite::TransactionBehavior;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;

/// The `format` of the header line.
pub const FORMAT: &str = "campus-voip-export";
/// The format version this binary writes (it reads 1 too: version 1 had no calls).
pub const VERSION: u32 = 2;
/// Progress is reported every this many lines.
pub const PROGRESS_EVERY: u64 = 10_000;
/// The longest line import reads (a student with 100 contacts and 32 removals is about 15 KB).
pub const MAX_LINE: usize = 1 << 20;

#[derive(Serialize)]
struct Header<'a> {
    format: &'a str,
    version: u32,
    schema: u32,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ContactLine {
    open_id: String,
    role: u8,
    bound_at: u64,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RemovalLine {
    open_id: String,
    at: u64,
}

/// How many of each kind a file holds (the trailer's `counts`).
#[derive(Serialize, Deserialize, Debug, Default, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    pub server_key: u64,
    pub setting: u64,
    pub device: u64,
    pub consent: u64,
    pub student: u64,
    pub contact: u64,
    pub removal: u64,
    pub used_token: u64,
    /// Calls (absent from version 1 files).
    #[serde(default)]
    pub call: u64,
}

/// One line after the header. The variants are in the order the groups appear.
#[derive(Serialize, Deserialize, Debug)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
// One line exists at a time (read, applied, dropped): its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Line {
    ServerKey {
        purpose: String,
        kid: u8,
        secret: String,
        created_at: u64,
    },
    Setting {
        name: String,
        value: String,
    },
    Device {
        name: String,
        key_id: String,
        key_hash: String,
        created_at: u64,
        revoked_at: Option<u64>,
    },
    Consent {
        open_id: String,
        granted_at: u64,
    },
    Student {
        user_id: String,
        admin_term: u32,
        updated_at: u64,
        contacts: Vec<ContactLine>,
        removed: Vec<RemovalLine>,
    },
    UsedToken {
        token_id: String,
        expires_at: u64,
    },
    /// A `calls` row: a call record, or a call in progress at the time of the export.
    Call {
        room_id: String,
        device: String,
        user_id: String,
        open_id: String,
        caller_name: String,
        listener_name: String,
        room_type: String,
        business_type: u8,
        ring_timeout_ms: u64,
        time_limit_ms: Option<u64>,
        phase: String,
        rang_at: u64,
        connected_at: Option<u64>,
        ended_at: Option<u64>,
        ending: Option<String>,
        seen: u64,
        caller_lost_at: Option<u64>,
        listener_lost_at: Option<u64>,
    },
    End {
        lines: u64,
        counts: Counts,
        sha256: String,
    },
}

const GROUPS: [&str; 8] = [
    "server_key",
    "setting",
    "device",
    "consent",
    "student",
    "used_token",
    "call",
    "end",
];

impl Line {
    fn group(&self) -> usize {
        match self {
            Line::ServerKey { .. } => 0,
            Line::Setting { .. } => 1,
            Line::Device { .. } => 2,
            Line::Consent { .. } => 3,
            Line::Student { .. } => 4,
            Line::UsedToken { .. } => 5,
            Line::Call { .. } => 6,
            Line::End { .. } => 7,
        }
    }
}

fn call_line(c: Call) -> Line {
    Line::Call {
        room_id: c.room_id,
        device: c.device,
        user_id: c.caller_id.as_str().to_owned(),
        open_id: c.listener_id.as_str().to_owned(),
        caller_name: c.caller_name,
        listener_name: c.listener_name,
        room_type: c.room_type.as_str().to_owned(),
        business_type: c.business_type,
        ring_timeout_ms: c.ring_timeout_ms,
        time_limit_ms: c.time_limit_ms,
        phase: c.phase.as_str().to_owned(),
        rang_at: c.rang_at,
        connected_at: c.connected_at,
        ended_at: c.ended_at,
        ending: c.ending.map(|e| e.as_str().to_owned()),
        seen: c.seen,
        caller_lost_at: c.link_lost_at[0],
        listener_lost_at: c.link_lost_at[1],
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// Export

/// Writes lines to `out`, hashing and counting them.
struct Sink<'a> {
    out: &'a mut dyn Write,
    buf: Vec<u8>,
    hash: Sha256,
    lines: u64,
    progress: &'a mut dyn FnMut(u64),
}

impl Sink<'_> {
    fn line(&mut self, value: &impl Serialize) -> DbResult<()> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, value)
            .map_err(|e| DbError::Other(format!("cannot encode a line: {e}")))?;
        self.buf.push(b'\n');
        self.hash.update(&self.buf);
        self.out
            .write_all(&self.buf)
            .map_err(|e| DbError::Other(format!("cannot write the export: {e}")))?;
        self.lines += 1;
        if self.lines.is_multiple_of(PROGRESS_EVERY) {
            (self.progress)(self.lines);
        }
        Ok(())
    }
}

/// Each row of `sql` through `row`, then `each`.
fn each_row<T>(
    conn: &dyn Sql,
    sql: &str,
    row: impl Fn(&Row) -> DbResult<T>,
    mut each: impl FnMut(T) -> DbResult<()>,
) -> DbResult<()> {
    for r in conn.rows(sql, &[])? {
        each(row(&r)?)?;
    }
    Ok(())
}

/// Writes the whole store on `conn` to `out` in the export format. Run it inside one read
/// transaction (one snapshot) on a database that passes `check`. `progress` gets the number of
/// lines written every [`PROGRESS_EVERY`] lines.
pub fn export(
    conn: &dyn Sql,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> DbResult<Counts> {
    let mut sink = Sink {
        out,
        buf: Vec::with_capacity(4096),
        hash: Sha256::new(),
        lines: 0,
        progress,
    };
    let mut counts = Counts::default();
    sink.line(&Header {
        format: FORMAT,
        version: VERSION,
        schema: schema::current_version(conn)?,
    })?;
    each_row(
        conn,
        "SELECT purpose, kid, secret, created_at FROM server_keys ORDER BY seq",
        |r| {
            Ok(Line::ServerKey {
                purpose: r.text(0)?.to_owned(),
                kid: u8::try_from(r.int(1)?)
                    .map_err(|_| DbError::Other("a stored key id is out of range".into()))?,
                secret: B64.encode(r.bytes(2)?),
                created_at: r.uint(3)?,
            })
        },
        |l| {
            counts.server_key += 1;
            sink.line(&l)
        },
    )?;
    each_row(
        conn,
        "SELECT name, value FROM settings ORDER BY name",
        |r| {
            Ok(Line::Setting {
                name: r.text(0)?.to_owned(),
                value: r.text(1)?.to_owned(),
            })
        },
        |l| {
            counts.setting += 1;
            sink.line(&l)
        },
    )?;
    each_row(
        conn,
        "SELECT name, key_id, key_hash, created_at, revoked_at FROM devices ORDER BY name",
        |r| {
            Ok(Line::Device {
                name: r.text(0)?.to_owned(),
                key_id: r.text(1)?.to_owned(),
                key_hash: B64.encode(r.bytes(2)?),
                created_at: r.uint(3)?,
                revoked_at: r.opt_uint(4)?,
            })
        },
        |l| {
            counts.device += 1;
            sink.line(&l)
        },
    )?;
    each_row(
        conn,
        "SELECT open_id, granted_at FROM consents ORDER BY open_id",
        |r| {
            Ok(Line::Consent {
                open_id: r.text(0)?.to_owned(),
                granted_at: r.uint(1)?,
            })
        },
        |l| {
            counts.consent += 1;
            sink.line(&l)
        },
    )?;
    each_row(
        conn,
        "SELECT user_id, updated_at FROM students ORDER BY user_id",
        |r| Ok((r.text(0)?.to_owned(), r.uint(1)?)),
        |(id, updated_at)| {
            let uid = UserId::parse("userId", &id)
                .map_err(|e| DbError::Other(format!("a stored userId is invalid: {e}")))?;
            // The record as the operations read it.
            let rec = load_student(conn, &uid)?
                .ok_or_else(|| DbError::Other(format!("student {id} vanished")))?;
            counts.student += 1;
            counts.contact += rec.contacts.len() as u64;
            counts.removal += rec.removed.len() as u64;
            sink.line(&Line::Student {
                user_id: id,
                admin_term: rec.admin_term,
                updated_at,
                contacts: rec
                    .contacts
                    .into_iter()
                    .map(|c| ContactLine {
                        open_id: c.open_id.as_str().to_owned(),
                        role: c.role.number(),
                        bound_at: c.bound_at,
                    })
                    .collect(),
                removed: rec
                    .removed
                    .into_iter()
                    .map(|r| RemovalLine {
                        open_id: r.open_id.as_str().to_owned(),
                        at: r.at,
                    })
                    .collect(),
            })
        },
    )?;
    // SQLite's BLOB and PostgreSQL's BYTEA both order bytewise: the same file from either.
    each_row(
        conn,
        "SELECT token_id, expires_at FROM used_tokens ORDER BY token_id",
        |r| {
            Ok(Line::UsedToken {
                token_id: B64.encode(r.bytes(0)?),
                expires_at: r.uint(1)?,
            })
        },
        |l| {
            counts.used_token += 1;
            sink.line(&l)
        },
    )?;
    for c in all_calls(conn)? {
        counts.call += 1;
        sink.line(&call_line(c))?;
    }
    let end = Line::End {
        lines: sink.lines,
        counts: counts.clone(),
        sha256: hex(&sink.hash.clone().finalize()),
    };
    serde_json::to_writer(&mut *sink.out, &end)
        .map_err(|e| DbError::Other(format!("cannot write the export: {e}")))?;
    sink.out
        .write_all(b"\n")
        .and_then(|()| sink.out.flush())
        .map_err(|e| DbError::Other(format!("cannot write the export: {e}")))?;
    Ok(counts)
}

// ---------------------------------------------------------------------------------------------
// Import

/// Tables that must hold no row for a database to count as empty (`server_keys` may hold the
/// keys `migrate` generated; `schema_migrations` is the target's own).
const DATA_TABLES: [&str; 10] = [
    "calls",
    "call_events",
    "students",
    "contacts",
    "removals",
    "consents",
    "used_tokens",
    "devices",
    "access_tokens",
    "settings",
];

/// Why the database on `conn` is not empty, if it is not.
pub fn not_empty(conn: &dyn Sql) -> DbResult<Option<String>> {
    let mut found = Vec::new();
    for table in DATA_TABLES {
        let n = conn
            .one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
            .int(0)?;
        if n > 0 {
            found.push(format!("{n} {table}"));
        }
    }
    let keys = conn.one("SELECT COUNT(*) FROM server_keys", &[])?.int(0)?;
    if keys > PURPOSES.len() as i64 {
        found.push(format!("{keys} server keys (rotated)"));
    }
    Ok((!found.is_empty()).then(|| found.join(", ")))
}

/// What an import brought in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    pub lines: u64,
    pub counts: Counts,
    /// `check`'s warnings on the imported data.
    pub warnings: Vec<String>,
}

fn at(n: u64, m: impl std::fmt::Display) -> String {
    format!("line {n}: {m}")
}

/// serde_json's message without its " at line 1 column C" (every line is line 1 to it).
fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = match text.rsplit_once(" at line ") {
        Some((msg, _)) => format!("{msg} (column {})", e.column()),
        None => text,
    };
    text.replace("unknown variant", "unknown kind")
}

fn blob(n: u64, field: &str, text: &str, len: usize) -> Result<Vec<u8>, String> {
    match B64.decode(text) {
        Ok(b) if b.len() == len => Ok(b),
        _ => Err(at(
            n,
            format!("{field} must be {len} bytes in standard base64"),
        )),
    }
}

/// A row the database refused: a duplicate when a key constraint says so.
fn insert_error(n: u64, what: &str, e: DbError) -> String {
    match &e {
        DbError::Conflict(m) => at(n, format!("duplicate or conflicting {what} ({m})")),
        _ => at(n, format!("database error: {e}")),
    }
}

fn open_id(n: u64, field: &str, s: &str) -> Result<OpenId, String> {
    OpenId::parse(field, s).map_err(|e| at(n, e.message))
}

/// Checks one line and writes its row(s).
fn apply(conn: &dyn Sql, n: u64, line: Line, counts: &mut Counts) -> Result<(), String> {
    match line {
        Line::ServerKey {
            purpose,
            kid,
            secret,
            created_at,
        } => {
            if !PURPOSES.contains(&purpose.as_str()) {
                return Err(at(
                    n,
                    format!(
                        "server_key purpose must be one of {}, got {}",
                        PURPOSES.join(", "),
                        campus_voip::input::quote(&purpose)
                    ),
                ));
            }
            let secret = blob(n, "server_key secret", &secret, SECRET_LEN)?;
            conn.exec(
                "INSERT INTO server_keys (purpose, kid, secret, created_at) VALUES (?1, ?2, ?3, ?4)",
                args![&purpose, kid, &secret[..], created_at as i64],
            )
            .map_err(|e| insert_error(n, &format!("{purpose} key {kid}"), e))?;
            counts.server_key += 1;
        }
        Line::Setting { name, value } => {
            if name.is_empty() {
                return Err(at(n, "a setting needs a name"));
            }
            if name == CLOCK_LEASE_SETTING && value.parse::<u64>().is_err() {
                return Err(at(
                    n,
                    format!("setting {name} must be a whole number of milliseconds"),
                ));
            }
            conn.exec(
                "INSERT INTO settings (name, value) VALUES (?1, ?2)",
                args![&name, &value],
            )
            .map_err(|e| insert_error(n, &format!("setting {name}"), e))?;
            counts.setting += 1;
        }
        Line::Device {
            name,
            key_id,
            key_hash,
            created_at,
            revoked_at,
        } => {
            devices::check_name(&name).map_err(|m| at(n, m))?;
            if key_id.is_empty() {
                return Err(at(n, format!("device {name}: key_id is empty")));
            }
            let hash = blob(n, "device key_hash", &key_hash, 32)?;
            conn.exec(
                "INSERT INTO devices (name, key_id, key_hash, created_at, revoked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                args![
                    &name,
                    &key_id,
                    &hash[..],
                    created_at as i64,
                    revoked_at.map(|t| t as i64)
                ],
            )
            .map_err(|e| insert_error(n, &format!("device {name}"), e))?;
            counts.device += 1;
        }
        Line::Consent {
            open_id: o,
            granted_at,
        } => {
            let o = open_id(n, "consent open_id", &o)?;
            conn.exec(
                "INSERT INTO consents (open_id, granted_at) VALUES (?1, ?2)",
                args![o.as_str(), granted_at as i64],
            )
            .map_err(|e| insert_error(n, &format!("consent of {}", o.as_str()), e))?;
            counts.consent += 1;
        }
        Line::Student {
            user_id,
            admin_term,
            updated_at,
            contacts,
            removed,
        } => {
            let uid = UserId::parse("student user_id", &user_id).map_err(|e| at(n, e.message))?;
            let mut rec = StudentRecord {
                user_id: uid,
                admin_term,
                contacts: Vec::with_capacity(contacts.len().min(HARD_MAX_CONTACTS)),
                removed: Vec::with_capacity(removed.len()),
            };
            for c in contacts {
                let role = match c.role {
                    1 => Role::Admin,
                    0 => Role::Ordinary,
                    other => {
                        return Err(at(n, format!("contact role must be 0 or 1, got {other}")))
                    }
                };
                rec.contacts.push(Contact {
                    open_id: open_id(n, "contact open_id", &c.open_id)?,
                    role,
                    bound_at: c.bound_at,
                });
            }
            for r in removed {
                rec.removed.push(Removal {
                    open_id: open_id(n, "removal open_id", &r.open_id)?,
                    at: r.at,
                });
            }
            // The core's own record check (one administrator, the hard cap, no contact twice,
            // the removal list).
            rec.check(HARD_MAX_CONTACTS).map_err(|m| at(n, m))?;
            let exists = conn
                .one(
                    "SELECT EXISTS (SELECT 1 FROM students WHERE user_id = ?1)",
                    args![rec.user_id.as_str()],
                )
                .and_then(|r| r.bool(0))
                .map_err(|e| at(n, format!("database error: {e}")))?;
            if exists {
                return Err(at(
                    n,
                    format!(
                        "duplicate student {}",
                        campus_voip::input::quote(rec.user_id.as_str())
                    ),
                ));
            }
            store_student(conn, &rec, updated_at).map_err(|e| at(n, e.message))?;
            counts.student += 1;
            counts.contact += rec.contacts.len() as u64;
            counts.removal += rec.removed.len() as u64;
        }
        Line::UsedToken {
            token_id,
            expires_at,
        } => {
            let id = blob(n, "used_token token_id", &token_id, 12)?;
            conn.exec(
                "INSERT INTO used_tokens (token_id, expires_at) VALUES (?1, ?2)",
                args![&id[..], expires_at as i64],
            )
            .map_err(|e| insert_error(n, &format!("used token {token_id}"), e))?;
            counts.used_token += 1;
        }
        Line::Call {
            room_id,
            device,
            user_id,
            open_id: o,
            caller_name,
            listener_name,
            room_type,
            business_type,
            ring_timeout_ms,
            time_limit_ms,
            phase,
            rang_at,
            connected_at,
            ended_at,
            ending,
            seen,
            caller_lost_at,
            listener_lost_at,
        } => {
            let bad = |field: &str, v: &str| {
                at(
                    n,
                    format!(
                        "call {}: {field} {} is not one",
                        campus_voip::input::quote(&room_id),
                        campus_voip::input::quote(v)
                    ),
                )
            };
            if room_id.is_empty() || device.is_empty() {
                return Err(at(n, "a call needs a room_id and a device"));
            }
            let exists = conn
                .one(
                    "SELECT EXISTS (SELECT 1 FROM calls WHERE room_id = ?1)",
                    args![&room_id],
                )
                .and_then(|r| r.bool(0))
                .map_err(|e| at(n, format!("database error: {e}")))?;
            if exists {
                return Err(at(
                    n,
                    format!("duplicate call {}", campus_voip::input::quote(&room_id)),
                ));
            }
            let call = Call {
                caller_id: UserId::parse("call user_id", &user_id).map_err(|e| at(n, e.message))?,
                listener_id: open_id(n, "call open_id", &o)?,
                room_type: match room_type.as_str() {
                    "voice" => RoomType::Voice,
                    "video" => RoomType::Video,
                    other => return Err(bad("room_type", other)),
                },
                business_type: match business_type {
                    0 | 3 => business_type,
                    other => return Err(bad("business_type", &other.to_string())),
                },
                phase: Phase::parse(&phase).ok_or_else(|| bad("phase", &phase))?,
                ending: match ending {
                    None => None,
                    Some(e) => Some(Ending::parse(&e).ok_or_else(|| bad("ending", &e))?),
                },
                room_id,
                device,
                caller_name,
                listener_name,
                ring_timeout_ms,
                time_limit_ms,
                rang_at,
                connected_at,
                ended_at,
                seen,
                link_lost_at: [caller_lost_at, listener_lost_at],
            };
            store_call(conn, &call).map_err(|e| at(n, e.message))?;
            counts.call += 1;
        }
        Line::End { .. } => return Err(at(n, "the end line must be the last line")),
    }
    Ok(())
}

/// Reads one line (with its `\n`) into `buf`; `false` at the end of the input.
fn read_line(input: &mut dyn BufRead, n: u64, buf: &mut Vec<u8>) -> Result<bool, String> {
    buf.clear();
    (&mut *input)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', buf)
        .map_err(|e| format!("cannot read line {n}: {e}"))?;
    if buf.is_empty() {
        return Ok(false);
    }
    if buf.last() != Some(&b'\n') {
        return Err(if buf.len() > MAX_LINE {
            at(n, format!("longer than {MAX_LINE} bytes"))
        } else {
            at(n, "cut short (no line end): the file is truncated")
        });
    }
    Ok(true)
}

fn header(n: u64, bytes: &[u8]) -> Result<(), String> {
    let not_export = || {
        at(
            n,
            format!("not a {FORMAT} file (the first line must be {{\"format\":\"{FORMAT}\",\"version\":{VERSION},…}})"),
        )
    };
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| not_export())?;
    let obj = v.as_object().ok_or_else(not_export)?;
    if obj.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(not_export());
    }
    match obj.get("version").and_then(|v| v.as_u64()) {
        Some(v) if (1..=u64::from(VERSION)).contains(&v) => {}
        Some(v) => {
            return Err(at(
                n,
                format!("export format version {v}; this binary reads versions 1 to {VERSION}"),
            ))
        }
        None => return Err(at(n, "the header has no version")),
    }
    match obj.get("schema").and_then(|v| v.as_u64()) {
        Some(s) if s == u64::from(schema::latest()) => {}
        Some(s) => {
            return Err(at(
                n,
                format!(
                    "exported at schema version {s}; this binary imports schema version {} (use the campus-voip-server that exported it, or export again with this one)",
                    schema::latest()
                ),
            ))
        }
        None => return Err(at(n, "the header has no schema")),
    }
    if let Some(extra) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "format" | "version" | "schema"))
    {
        return Err(at(n, format!("unknown header field `{extra}`")));
    }
    Ok(())
}

/// Reads an export from `input` into the empty database on `conn`, in one transaction that is
/// committed only if every line, the trailer and `check` (with `max_contacts`) pass; on any
/// error nothing is written. `progress` gets the number of lines read every
/// [`PROGRESS_EVERY`] lines.
pub fn import(
    tx: &dyn Sql,
    input: &mut dyn BufRead,
    max_contacts: u32,
    progress: &mut dyn FnMut(u64),
) -> Result<Imported, String> {
    schema::require_current(tx).map_err(|e| e.to_string())?;
    if let Some(what) = not_empty(tx).map_err(|e| e.to_string())? {
        return Err(format!(
            "the target database is not empty ({what}): import only into a new database"
        ));
    }
    // The keys `migrate` generated signed nothing yet (nothing was served: no settings).
    tx.exec("DELETE FROM server_keys", &[])
        .map_err(|e| e.to_string())?;

    let mut buf = Vec::with_capacity(4096);
    let mut hash = Sha256::new();
    let mut counts = Counts::default();
    let mut n: u64 = 1;
    if !read_line(input, n, &mut buf)? {
        return Err("the input is empty (expected an export's header line)".into());
    }
    header(n, &buf)?;
    hash.update(&buf);
    let mut group = 0;
    let end = loop {
        n += 1;
        if !read_line(input, n, &mut buf)? {
            return Err(format!(
                "the input ends after line {} without its end line: the file is truncated",
                n - 1
            ));
        }
        let line: Line = serde_json::from_slice(&buf).map_err(|e| at(n, json_error(&e)))?;
        let g = line.group();
        if g < group {
            return Err(at(
                n,
                format!(
                    "a {} after the {} lines (the kinds come in the order {})",
                    GROUPS[g],
                    GROUPS[group],
                    GROUPS.join(", ")
                ),
            ));
        }
        group = g;
        if let Line::End {
            lines,
            counts: want,
            sha256,
        } = line
        {
            break (lines, want, sha256);
        }
        hash.update(&buf);
        apply(tx, n, line, &mut counts)?;
        if n.is_multiple_of(PROGRESS_EVERY) {
            progress(n);
        }
    };
    let (lines, want, sha256) = end;
    if lines != n - 1 || want != counts {
        return Err(at(
            n,
            format!(
                "the end line counts {lines} lines ({want:?}) but the file has {} ({counts:?}): lines are missing or added",
                n - 1
            ),
        ));
    }
    if sha256 != hex(&hash.finalize()) {
        return Err(at(
            n,
            "the SHA-256 of the lines does not match the end line: the file was altered",
        ));
    }
    n += 1;
    if read_line(input, n, &mut buf).unwrap_or(true) {
        return Err(at(n, "more input after the end line"));
    }

    let report = check::check(tx, max_contacts).map_err(|e| e.to_string())?;
    if !report.ok() {
        return Err(format!(
            "the imported data does not pass check: {}",
            report.problems.join("; ")
        ));
    }
    Ok(Imported {
        lines,
        counts,
        warnings: report.warnings,
    })
}

// ---------------------------------------------------------------------------------------------
// The subcommands

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} students, {} contacts, {} removals, {} consents, {} used tokens, {} devices, {} server keys, {} settings, {} calls",
            self.student,
            self.contact,
            self.removal,
            self.consent,
            self.used_token,
            self.device,
            self.server_key,
            self.setting,
            self.call
        )
    }
}

fn progress(what: &'static str) -> impl FnMut(u64) {
    move |n| eprintln!("{what}: {n} lines")
}

fn create_new(file: &Path) -> CliResult<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The file holds the server keys: owner only.
        o.mode(0o600);
    }
    o.open(file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("{} exists; export never overwrites", file.display())
        } else {
            format!("cannot create {}: {e}", file.display())
        }
    })
}

/// Where the output goes: a new file (synced, removed again on failure) or `out`.
enum Target<'a> {
    File(&'a Path),
    Out(&'a mut (dyn Write + Send)),
}

/// Checks the snapshot on `conn` and writes it to `target`; the counts.
fn export_checked(
    conn: &dyn Sql,
    label: &str,
    max_contacts: u32,
    target: Target<'_>,
) -> Result<Counts, String> {
    schema::require_current(conn).map_err(|e| e.to_string())?;
    let report = check::check(conn, max_contacts).map_err(|e| e.to_string())?;
    if !report.ok() {
        return Err(format!(
            "{label} does not pass check, so it is not exported: {}",
            report.problems.join("; ")
        ));
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    let mut progress = progress("export");
    match target {
        Target::File(file) => {
            let f = create_new(file)?;
            let mut w = BufWriter::with_capacity(1 << 16, f);
            let r = export(conn, &mut w, &mut progress)
                .map_err(|e| e.to_string())
                .and_then(|counts| {
                    let f = w.into_inner().map_err(|e| e.error().to_string())?;
                    f.sync_all().map_err(|e| e.to_string())?;
                    Ok(counts)
                });
            r.inspect_err(|_| {
                let _ = std::fs::remove_file(file);
            })
            .map_err(|e| format!("export to {} failed: {e}", file.display()))
        }
        Target::Out(out) => {
            let mut w = BufWriter::with_capacity(1 << 16, out);
            export(conn, &mut w, &mut progress).map_err(|e| e.to_string())
        }
    }
}

/// `export [--output FILE]`: one read snapshot of the database (SQLite or PostgreSQL), refused
/// unless it passes `check`, written to FILE (created 0600, never overwritten; removed again if
/// the export fails) or to `out`.
pub fn export_cmd(
    opts: &Options,
    output: Option<&Path>,
    out: &mut (dyn Write + Send),
) -> CliResult {
    let target = match output {
        Some(file) => Target::File(file),
        None => Target::Out(&mut *out),
    };
    let (counts, label) = match config::parse_database(&opts.database)? {
        Database::Sqlite(path) => {
            let conn =
                db::connect(&path, false, &Arc::new(Metrics::new())).map_err(|e| e.to_string())?;
            conn.execute_batch("PRAGMA query_only = ON;")
                .map_err(|e| e.to_string())?;
            // One snapshot for the check and every line.
            let tx = conn.unchecked_transaction().map_err(|e| e.to_string())?;
            let label = path.display().to_string();
            (
                export_checked(&*tx, &label, opts.max_contacts, target)?,
                label,
            )
        }
        Database::Postgres(url) => {
            let label = crate::pg::redact(&url);
            let max = opts.max_contacts;
            let counts = crate::pg::with_transaction(&url, Mode::Read, |c| {
                export_checked(c, &label, max, target)
            })?;
            (counts, label)
        }
    };
    match output {
        Some(file) => cli::say(
            out,
            format!("exported {label} to {} ({counts})", file.display()),
        ),
        None => {
            eprintln!("exported {label} ({counts})");
            Ok(())
        }
    }
}

fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

/// `import [--input FILE]`: reads an export (FILE or stdin) into the database, which must be
/// empty; a missing SQLite file is created and migrated first (and removed again if the import
/// fails), a PostgreSQL database is migrated first. Nothing is written unless the whole file and
/// `check` pass (one transaction).
pub fn import_cmd(opts: &Options, input: Option<&Path>, out: &mut dyn Write) -> CliResult {
    let mut reader: Box<dyn BufRead + Send> = match input {
        Some(f) => Box::new(BufReader::with_capacity(
            1 << 16,
            std::fs::File::open(f).map_err(|e| format!("cannot open {}: {e}", f.display()))?,
        )),
        None => Box::new(BufReader::with_capacity(1 << 16, std::io::stdin())),
    };
    let max = opts.max_contacts;
    let (r, label) = match config::parse_database(&opts.database)? {
        Database::Sqlite(path) => {
            let created = !path.exists();
            let metrics = Arc::new(Metrics::new());
            if created {
                Db::open(
                    &OpenOptions {
                        path: path.clone(),
                        migrate: true,
                        now_ms: SystemClock.now_ms(),
                    },
                    metrics.clone(),
                )
                .map_err(|e| e.to_string())?
                .close();
            }
            let r = db::connect(&path, false, &metrics)
                .map_err(|e| e.to_string())
                .and_then(|mut conn| {
                    let tx = conn
                        .transaction_with_behavior(TransactionBehavior::Immediate)
                        .map_err(|e| format!("cannot start the import transaction: {e}"))?;
                    let done = import(&*tx, &mut reader, max, &mut progress("import"))?;
                    tx.commit()
                        .map_err(|e| format!("the import's commit failed: {e}"))?;
                    Ok(done)
                });
            if r.is_err() && created {
                remove_database(&path);
            }
            (r, path.display().to_string())
        }
        Database::Postgres(url) => {
            // Migrated (and keyed) first, like a new SQLite file; the import replaces the keys.
            cli::open_with(opts, true, Arc::new(Metrics::new()))?.close();
            let r = crate::pg::with_transaction(&url, Mode::Write, |c| {
                import(c, &mut reader, max, &mut progress("import"))
            });
            (r, crate::pg::redact(&url))
        }
    };
    match r {
        Ok(done) => {
            for w in &done.warnings {
                cli::say(out, format!("warning: {w}"))?;
            }
            cli::say(
                out,
                format!(
                    "imported {} lines into {label} ({}); check: ok",
                    done.lines, done.counts
                ),
            )
        }
        Err(e) => Err(format!(
            "import refused, nothing was written to {label}: {e}"
        )),
    }
}
