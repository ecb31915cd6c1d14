//! Face-pay devices and their keys.
//!
//! A device key is `cvd1.<id>.<secret>`: `id` is 12 random bytes and `secret` 32, both
//! base64url. The key is printed once; the database keeps the id (to find the row) and
//! SHA-256 of the secret, which is compared in constant time. A revoked device's key stops
//! working at once; `device add` may then reuse the name.

use crate::args;
use crate::db::{DbError, DbResult};
use crate::sql::Sql;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
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
pub fn add(conn: &dyn Sql, name: &str, now_ms: u64) -> DbResult<String> {
    check_name(name).map_err(|m| DbError::Rule(campus_voip::Error::invalid_argument(m)))?;
    let active = conn
        .one(
            "SELECT EXISTS (SELECT 1 FROM devices WHERE name = ?1 AND revoked_at IS NULL)",
            args![name],
        )?
        .bool(0)?;
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
    conn.exec(
        "INSERT INTO devices (name, key_id, key_hash, created_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, NULL)
         ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, key_hash = excluded.key_hash,
             created_at = excluded.created_at, revoked_at = NULL",
        args![name, &id, &hash(secret.as_bytes()), now_ms as i64],
    )?;
    Ok(format!("{PREFIX}.{id}.{secret}"))
}

pub fn list(conn: &dyn Sql) -> DbResult<Vec<Device>> {
    conn.rows(
        "SELECT name, created_at, revoked_at FROM devices ORDER BY name",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(Device {
            name: r.text(0)?.to_owned(),
            created_at: r.uint(1)?,
            revoked_at: r.opt_uint(2)?,
        })
    })
    .collect()
}

/// Revokes the device; `false` when no active device has that name.
pub fn revoke(conn: &dyn Sql, name: &str, now_ms: u64) -> DbResult<bool> {
    let n = conn.exec(
        "UPDATE devices SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
        args![name, now_ms as i64],
    )?;
    Ok(n == 1)
}

/// The name of the active device this key belongs to, if any.
pub fn authenticate(conn: &dyn Sql, key: &str) -> DbResult<Option<String>> {
    let mut parts = key.split('.');
    let (Some(PREFIX), Some(id), Some(secret), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    if id.len() != 16 || secret.len() != 43 {
        return Ok(None);
    }
    let Some(row) = conn.row(
        "SELECT name, key_hash FROM devices WHERE key_id = ?1 AND revoked_at IS NULL",
        args![id],
    )?
    else {
        return Ok(None);
    };
    let stored = row.bytes(1)?;
    bool::from(hash(secret.as_bytes()).ct_eq(stored))
        .then(|| row.text(0).map(str::to_owned))
        .transpose()
}
