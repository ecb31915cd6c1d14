//! Face-pay devices and their keys.
//!
//! A device key is `cvd1.<id>.<secret>`: `id` is 12 random bytes and `secret` 32, both
//! base64url. The key is printed once; the database keeps the id (to find the row) and
//! SHA-256 of the secret, which is compared in constant time. A revoked device's key stops
//! working at once; `device add` may then reuse the name.

use crate::db::{DbError, DbResult};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PREFIX: &str = "cvd1";

/// A device as `device list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub name: String,
    pub created_at: u64,
    pub revoked_at: Option<u64>,
}

/// Device names: 1–64 characters of `A-Z a-z 0-9 . _ -`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "a device name is 1–64 characters of A-Z a-z 0-9 . _ -, got {}",
            campus_voip::input::quote(name)
        ))
    }
}

fn hash(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

/// Adds a device and returns its key (the only time it exists in clear). Fails if an active
/// device has that name.
pub fn add(conn: &Connection, name: &str, now_ms: u64) -> DbResult<String> {
    check_name(name).map_err(|m| DbError::Rule(campus_voip::Error::invalid_argument(m)))?;
    let active: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM devices WHERE name = ?1 AND revoked_at IS NULL)",
        [name],
        |r| r.get(0),
    )?;
    if active {
        return Err(DbError::Rule(campus_voip::Error::invalid_argument(
            format!(
                "a device named {} exists (revoke it first)",
                campus_voip::input::quote(name)
            ),
        )));
    }
    let id = URL_SAFE_NO_PAD.encode(crate::schema::random_bytes::<12>());
    let secret = URL_SAFE_NO_PAD.encode(crate::schema::random_bytes::<32>());
    conn.execute(
        "INSERT INTO devices (name, key_id, key_hash, created_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, NULL)
         ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, key_hash = excluded.key_hash,
             created_at = excluded.created_at, revoked_at = NULL",
        params![name, id, &hash(secret.as_bytes())[..], now_ms as i64],
    )?;
    Ok(format!("{PREFIX}.{id}.{secret}"))
}

pub fn list(conn: &Connection) -> DbResult<Vec<Device>> {
    let mut st = conn.prepare("SELECT name, created_at, revoked_at FROM devices ORDER BY name")?;
    let rows = st.query_map([], |r| {
        Ok(Device {
            name: r.get(0)?,
            created_at: r.get::<_, i64>(1)? as u64,
            revoked_at: r.get::<_, Option<i64>>(2)?.map(|v| v as u64),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revokes the device; `false` when no active device has that name.
pub fn revoke(conn: &Connection, name: &str, now_ms: u64) -> DbResult<bool> {
    let n = conn.execute(
        "UPDATE devices SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
        params![name, now_ms as i64],
    )?;
    Ok(n == 1)
}

/// The name of the active device this key belongs to, if any.
pub fn authenticate(conn: &Connection, key: &str) -> DbResult<Option<String>> {
    let mut parts = key.split('.');
    let (Some(PREFIX), Some(id), Some(secret), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    if id.len() != 16 || secret.len() != 43 {
        return Ok(None);
    }
    let row: Option<(String, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT name, key_hash FROM devices WHERE key_id = ?1 AND revoked_at IS NULL",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.and_then(|(name, stored)| {
        bool::from(hash(secret.as_bytes()).ct_eq(&stored[..])).then_some(name)
    }))
}
