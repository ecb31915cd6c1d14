//! Numbered migrations, the server keyrings and the settings table.

use crate::db::{DbError, DbResult};
use campus_voip::keys::{Key, Keyring, SECRET_LEN};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};

/// One schema step. The numbers are shared with the PostgreSQL migrations (when they exist).
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial schema",
        sql: include_str!("../migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "calls and call events",
        sql: include_str!("../migrations/sqlite/0002_calls.sql"),
    },
];

/// The schema version this binary writes.
pub fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    checksum   TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT";

pub fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The highest applied migration (0 for a new database).
pub fn current_version(conn: &Connection) -> DbResult<u32> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?)
}

fn refuse_newer(version: u32) -> DbResult<()> {
    if version > latest() {
        return Err(DbError::Other(format!(
            "the database is at schema version {version}, newer than this binary's {}: use a newer campus-voip-server",
            latest()
        )));
    }
    Ok(())
}

/// Errors unless every migration is applied (commands other than `serve` and `migrate`).
pub fn require_current(conn: &Connection) -> DbResult<()> {
    let v = current_version(conn)?;
    refuse_newer(v)?;
    if v < latest() {
        return Err(DbError::Other(format!(
            "the database is at schema version {v}, this binary needs {}: run `campus-voip-server migrate`",
            latest()
        )));
    }
    Ok(())
}

/// Applies every pending migration, each in its own `BEGIN IMMEDIATE` transaction, then
/// creates the server keyrings if they are missing. Returns the versions applied.
pub fn migrate(conn: &mut Connection, now_ms: u64) -> DbResult<Vec<u32>> {
    conn.execute_batch(MIGRATIONS_TABLE)?;
    let mut applied = Vec::new();
    for m in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = current_version(&tx)?;
        refuse_newer(current)?;
        if m.version <= current {
            let stored: Option<String> = tx
                .query_row(
                    "SELECT checksum FROM schema_migrations WHERE version = ?1",
                    [m.version],
                    |r| r.get(0),
                )
                .optional()?;
            if stored.as_deref().is_some_and(|c| c != checksum(m.sql)) {
                tracing::warn!(
                    version = m.version,
                    "migration applied from a different text than this binary's"
                );
            }
            continue;
        }
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
            params![m.version, m.name, checksum(m.sql), now_ms as i64],
        )?;
        tx.commit()?;
        applied.push(m.version);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for purpose in PURPOSES {
        let n: i64 = tx.query_row(
            "SELECT COUNT(*) FROM server_keys WHERE purpose = ?1",
            [purpose],
            |r| r.get(0),
        )?;
        if n == 0 {
            insert_key(&tx, purpose, 1, now_ms)?;
        }
    }
    tx.commit()?;
    Ok(applied)
}

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).expect("the operating system's random source failed");
    out
}

pub const PURPOSES: [&str; 2] = ["ticket", "token"];

fn insert_key(conn: &Connection, purpose: &str, kid: u8, now_ms: u64) -> DbResult<()> {
    let secret = random_bytes::<SECRET_LEN>();
    conn.execute(
        "INSERT INTO server_keys (purpose, kid, secret, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![purpose, kid, &secret[..], now_ms as i64],
    )?;
    Ok(())
}

/// The server-held keyrings the core signs share tickets and face-pay tokens with.
#[derive(Clone, Debug)]
pub struct ServerKeys {
    pub ticket: Keyring,
    pub token: Keyring,
}

fn load_ring(conn: &Connection, purpose: &str) -> DbResult<Keyring> {
    let mut st =
        conn.prepare_cached("SELECT kid, secret FROM server_keys WHERE purpose = ?1 ORDER BY seq")?;
    let keys = st
        .query_map([purpose], |r| {
            let kid: u8 = r.get(0)?;
            let secret: Vec<u8> = r.get(1)?;
            Ok((kid, secret))
        })?
        .map(|row| {
            let (kid, secret) = row?;
            let secret: [u8; SECRET_LEN] = secret
                .try_into()
                .map_err(|_| DbError::Other(format!("a {purpose} key has the wrong length")))?;
            Ok(Key::new(kid, secret))
        })
        .collect::<DbResult<Vec<Key>>>()?;
    Keyring::from_keys(keys).ok_or_else(|| {
        DbError::Other(format!(
            "the {purpose} keyring is missing (run `campus-voip-server migrate`)"
        ))
    })
}

pub fn load_keys(conn: &Connection) -> DbResult<ServerKeys> {
    Ok(ServerKeys {
        ticket: load_ring(conn, "ticket")?,
        token: load_ring(conn, "token")?,
    })
}

/// How long a superseded key keeps verifying: the longest ticket lifetime (30 days) and a day.
pub const KEY_RETENTION_MS: u64 = 31 * 86_400_000;

/// Adds a new signing key to each keyring; keys superseded more than [`KEY_RETENTION_MS`] ago
/// are dropped. Returns the new key ids (ticket, token).
pub fn rotate_keys(conn: &Connection, now_ms: u64) -> DbResult<(u8, u8)> {
    let mut ids = [0u8; 2];
    for (i, purpose) in PURPOSES.iter().enumerate() {
        let ring = load_ring(conn, purpose)?;
        let next = ring.current().id.wrapping_add(1);
        // A key superseded long ago goes; so does one 256 rotations old that holds the next id.
        conn.execute(
            "DELETE FROM server_keys WHERE purpose = ?1 AND (kid = ?2 OR seq IN (
                 SELECT k.seq FROM server_keys k
                 WHERE k.purpose = ?1 AND EXISTS (
                     SELECT 1 FROM server_keys n
                     WHERE n.purpose = ?1 AND n.seq > k.seq AND n.created_at < ?3)))",
            params![
                purpose,
                next,
                now_ms.saturating_sub(KEY_RETENTION_MS) as i64
            ],
        )?;
        insert_key(conn, purpose, next, now_ms)?;
        ids[i] = next;
    }
    Ok((ids[0], ids[1]))
}

pub fn get_setting(conn: &Connection, name: &str) -> DbResult<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?)
}

pub fn set_setting(conn: &Connection, name: &str, value: &str) -> DbResult<()> {
    conn.execute(
        "INSERT INTO settings (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![name, value],
    )?;
    Ok(())
}
