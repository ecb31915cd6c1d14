//! Numbered migrations, the server keyrings and the settings table.

use crate::args;
use crate::db::{DbError, DbResult};
use crate::sql::{Dialect, Sql};
use campus_voip::keys::{Key, Keyring, SECRET_LEN};
use rusqlite::{Connection, TransactionBehavior};
use sha2::{Digest, Sha256};

/// One schema step, in each database's SQL (the same number, name and checks for both).
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

impl Migration {
    /// The step's text for `dialect`.
    pub fn sql(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Sqlite => self.sqlite,
            Dialect::Postgres => self.postgres,
        }
    }
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial schema",
        sqlite: include_str!("../migrations/sqlite/0001_initial.sql"),
        postgres: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "calls and call events",
        sqlite: include_str!("../migrations/sqlite/0002_calls.sql"),
        postgres: include_str!("../migrations/postgres/0002_calls.sql"),
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

const PG_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    checksum   TEXT    NOT NULL,
    applied_at BIGINT  NOT NULL
)";

/// Taken (for the transaction) by a replica applying migrations, so that two replicas starting
/// at once do not both apply one.
const PG_MIGRATION_LOCK: i64 = 0x6361_6d70_7573_766f;

pub fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The highest applied migration (0 for a new database).
pub fn current_version(conn: &dyn Sql) -> DbResult<u32> {
    let exists = match conn.dialect() {
        Dialect::Sqlite => conn.one(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
            &[],
        )?,
        Dialect::Postgres => conn.one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations')",
            &[],
        )?,
    }
    .bool(0)?;
    if !exists {
        return Ok(0);
    }
    let v = conn
        .one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?
        .int(0)?;
    u32::try_from(v).map_err(|_| DbError::Other(format!("schema version {v} is invalid")))
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
pub fn require_current(conn: &dyn Sql) -> DbResult<()> {
    require_version(current_version(conn)?)
}

/// Errors unless `v` is this binary's schema version.
pub fn require_version(v: u32) -> DbResult<()> {
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
        if apply(&*tx, m, now_ms)? {
            applied.push(m.version);
        }
        tx.commit()?;
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    ensure_keys(&*tx, now_ms)?;
    tx.commit()?;
    Ok(applied)
}

/// Applies `m` unless it is (`true` when it was applied now), inside the caller's transaction.
fn apply(tx: &dyn Sql, m: &Migration, now_ms: u64) -> DbResult<bool> {
    let sql = m.sql(tx.dialect());
    let current = current_version(tx)?;
    refuse_newer(current)?;
    if m.version <= current {
        let stored = tx.row(
            "SELECT checksum FROM schema_migrations WHERE version = ?1",
            args![m.version],
        )?;
        if let Some(row) = stored {
            if row.text(0)? != checksum(sql) {
                tracing::warn!(
                    version = m.version,
                    "migration applied from a different text than this binary's"
                );
            }
        }
        return Ok(false);
    }
    tx.batch(sql)?;
    tx.exec(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
        args![m.version, m.name, &checksum(sql), now_ms as i64],
    )?;
    Ok(true)
}

/// Creates the keyrings that are missing.
fn ensure_keys(tx: &dyn Sql, now_ms: u64) -> DbResult<()> {
    for purpose in PURPOSES {
        let n = tx
            .one(
                "SELECT COUNT(*) FROM server_keys WHERE purpose = ?1",
                args![purpose],
            )?
            .int(0)?;
        if n == 0 {
            insert_key(tx, purpose, 1, now_ms)?;
        }
    }
    Ok(())
}

/// [`migrate`] on PostgreSQL: each step in its own transaction holding an advisory lock, so
/// replicas starting together apply each step once.
pub fn migrate_pg(client: &mut postgres::Client, now_ms: u64) -> DbResult<Vec<u32>> {
    let cache = std::cell::RefCell::new(std::collections::HashMap::new());
    let mut applied = Vec::new();
    let mut step = |f: &dyn Fn(&dyn Sql) -> DbResult<bool>| -> DbResult<bool> {
        let tx = client.transaction()?;
        let pg = crate::sql::PgTx::new(tx, &cache);
        let r = pg
            .exec("SELECT pg_advisory_xact_lock(?1)", args![PG_MIGRATION_LOCK])
            .and_then(|_| f(&pg));
        let (tx, _) = pg.finish();
        match r {
            Ok(v) => {
                tx.commit()?;
                Ok(v)
            }
            Err(e) => {
                let _ = tx.rollback();
                Err(e)
            }
        }
    };
    step(&|c| c.batch(PG_MIGRATIONS_TABLE).map(|()| false))?;
    for m in MIGRATIONS {
        if step(&|c| apply(c, m, now_ms))? {
            applied.push(m.version);
        }
    }
    step(&|c| ensure_keys(c, now_ms).map(|()| false))?;
    Ok(applied)
}

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).expect("the operating system's random source failed");
    out
}

pub const PURPOSES: [&str; 2] = ["ticket", "token"];

fn insert_key(conn: &dyn Sql, purpose: &str, kid: u8, now_ms: u64) -> DbResult<()> {
    let secret = random_bytes::<SECRET_LEN>();
    conn.exec(
        "INSERT INTO server_keys (purpose, kid, secret, created_at) VALUES (?1, ?2, ?3, ?4)",
        args![purpose, kid, &secret, now_ms as i64],
    )?;
    Ok(())
}

/// The server-held keyrings the core signs share tickets and face-pay tokens with.
#[derive(Clone, Debug)]
pub struct ServerKeys {
    pub ticket: Keyring,
    pub token: Keyring,
}

fn load_ring(conn: &dyn Sql, purpose: &str) -> DbResult<Keyring> {
    let keys = conn
        .rows(
            "SELECT kid, secret FROM server_keys WHERE purpose = ?1 ORDER BY seq",
            args![purpose],
        )?
        .iter()
        .map(|row| {
            let kid = u8::try_from(row.int(0)?)
                .map_err(|_| DbError::Other(format!("a {purpose} key id is out of range")))?;
            let secret: [u8; SECRET_LEN] = row
                .bytes(1)?
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

pub fn load_keys(conn: &dyn Sql) -> DbResult<ServerKeys> {
    Ok(ServerKeys {
        ticket: load_ring(conn, "ticket")?,
        token: load_ring(conn, "token")?,
    })
}

/// How long a superseded key keeps verifying: the longest ticket lifetime (30 days) and a day.
pub const KEY_RETENTION_MS: u64 = 31 * 86_400_000;

/// Adds a new signing key to each keyring; keys superseded more than [`KEY_RETENTION_MS`] ago
/// are dropped. Returns the new key ids (ticket, token).
pub fn rotate_keys(conn: &dyn Sql, now_ms: u64) -> DbResult<(u8, u8)> {
    let mut ids = [0u8; 2];
    for (i, purpose) in PURPOSES.iter().enumerate() {
        let ring = load_ring(conn, purpose)?;
        let next = ring.current().id.wrapping_add(1);
        // A key superseded long ago goes; so does one 256 rotations old that holds the next id.
        conn.exec(
            "DELETE FROM server_keys WHERE purpose = ?1 AND (kid = ?2 OR seq IN (
                 SELECT k.seq FROM server_keys k
                 WHERE k.purpose = ?1 AND EXISTS (
                     SELECT 1 FROM server_keys n
                     WHERE n.purpose = ?1 AND n.seq > k.seq AND n.created_at < ?3)))",
            args![
                *purpose,
                next,
                now_ms.saturating_sub(KEY_RETENTION_MS) as i64
            ],
        )?;
        insert_key(conn, purpose, next, now_ms)?;
        ids[i] = next;
    }
    Ok((ids[0], ids[1]))
}

pub fn get_setting(conn: &dyn Sql, name: &str) -> DbResult<Option<String>> {
    match conn.row("SELECT value FROM settings WHERE name = ?1", args![name])? {
        Some(row) => Ok(Some(row.text(0)?.to_owned())),
        None => Ok(None),
    }
}

pub fn set_setting(conn: &dyn Sql, name: &str, value: &str) -> DbResult<()> {
    conn.exec(
        "INSERT INTO settings (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        args![name, value],
    )?;
    Ok(())
}
