//! Developer-interface access tokens with WeChat's semantics (SPEC §7).
//!
//! - Classic (`GET /cgi-bin/token`): every call issues a new token valid for the configured
//!   lifetime; the tokens issued before it stay valid for [`OVERLAP_MS`] more (at most until
//!   their own expiry), then answer 40001.
//! - Stable (`POST /cgi-bin/stable_token`): the same token is handed out again while it has more
//!   than the refresh window left (5 minutes, or half the lifetime when that is shorter, for
//!   `--dev` tests); inside the window a new one is issued and the old one runs out on its own.
//!   `force_refresh: true` issues a new one and retires the previous stable token at once
//!   (WeChat: "会导致上次获取的 access_token 失效"). Classic and stable tokens are independent.
//! - A token is checked against the same clock it was issued with, and the issuing write is
//!   committed before the token is returned, so a token just issued is never refused.

use crate::args;
use crate::db::{DbError, DbResult};
use crate::sql::Sql;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// How long a classic token keeps working after a newer one was issued.
pub const OVERLAP_MS: u64 = 5 * 60 * 1000;
/// Expired tokens are kept this long (so they answer 42001 rather than 40001), then deleted.
pub const KEEP_EXPIRED_MS: u64 = 86_400_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Classic,
    Stable,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Classic => "classic",
            Kind::Stable => "stable",
        }
    }
}

/// A token handed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub access_token: String,
    /// Whole seconds left (what `expires_in` says).
    pub expires_in: u64,
}

/// Why a token was refused on `/wxa/business/*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 41001
    Missing,
    /// 40001 (unknown, or retired by a newer token)
    Invalid,
    /// 42001
    Expired,
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(crate::schema::random_bytes::<48>())
}

fn refresh_window_ms(ttl_ms: u64) -> u64 {
    OVERLAP_MS.min(ttl_ms / 2)
}

fn insert(conn: &dyn Sql, kind: Kind, app_id: &str, now: u64, ttl_ms: u64) -> DbResult<Issued> {
    let token = new_token();
    conn.exec(
        "INSERT INTO access_tokens (token_hash, kind, app_id, token, issued_at, expires_at, retire_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)",
        args![
            &token_hash(&token),
            kind.as_str(),
            app_id,
            (kind == Kind::Stable).then_some(token.as_str()),
            now as i64,
            (now + ttl_ms) as i64
        ],
    )?;
    conn.exec(
        "DELETE FROM access_tokens WHERE expires_at < ?1",
        args![now.saturating_sub(KEEP_EXPIRED_MS) as i64],
    )?;
    Ok(Issued {
        access_token: token,
        expires_in: ttl_ms / 1000,
    })
}

/// `GET /cgi-bin/token`: a new classic token; the previous ones retire after [`OVERLAP_MS`].
/// Runs in a write transaction.
pub fn issue_classic(conn: &dyn Sql, app_id: &str, now: u64, ttl_ms: u64) -> DbResult<Issued> {
    let retire = (now + OVERLAP_MS) as i64;
    conn.exec(
        "UPDATE access_tokens SET retire_at = ?3
         WHERE app_id = ?1 AND kind = 'classic' AND expires_at > ?2
           AND (retire_at IS NULL OR retire_at > ?3)",
        args![app_id, now as i64, retire],
    )?;
    insert(conn, Kind::Classic, app_id, now, ttl_ms)
}

/// `POST /cgi-bin/stable_token`. Runs in a write transaction (the one writer serialises it, so
/// two concurrent calls get the same token).
pub fn issue_stable(
    conn: &dyn Sql,
    app_id: &str,
    now: u64,
    ttl_ms: u64,
    force_refresh: bool,
) -> DbResult<Issued> {
    if force_refresh {
        conn.exec(
            "UPDATE access_tokens SET retire_at = ?2
             WHERE app_id = ?1 AND kind = 'stable' AND expires_at > ?2
               AND (retire_at IS NULL OR retire_at > ?2)",
            args![app_id, now as i64],
        )?;
    } else {
        let current = conn
            .row(
                "SELECT token, expires_at FROM access_tokens
                 WHERE app_id = ?1 AND kind = 'stable' AND token IS NOT NULL
                   AND expires_at > ?2 AND (retire_at IS NULL OR retire_at > ?2)
                 ORDER BY issued_at DESC LIMIT 1",
                args![app_id, now as i64],
            )?
            .map(|r| Ok::<_, DbError>((r.text(0)?.to_owned(), r.int(1)?)))
            .transpose()?;
        if let Some((token, expires_at)) = current {
            let left = (expires_at as u64).saturating_sub(now);
            if left > refresh_window_ms(ttl_ms) {
                return Ok(Issued {
                    access_token: token,
                    expires_in: left / 1000,
                });
            }
        }
    }
    insert(conn, Kind::Stable, app_id, now, ttl_ms)
}

/// Checks a token for `/wxa/business/*`: the app id it was issued to, or why not.
pub fn check(conn: &dyn Sql, token: &str, now: u64) -> DbResult<Result<String, Refusal>> {
    if token.is_empty() {
        return Ok(Err(Refusal::Missing));
    }
    if token.len() > 512 {
        return Ok(Err(Refusal::Invalid));
    }
    let row = conn
        .row(
            "SELECT app_id, expires_at, retire_at FROM access_tokens WHERE token_hash = ?1",
            args![&token_hash(token)],
        )?
        .map(|r| Ok::<_, DbError>((r.text(0)?.to_owned(), r.int(1)?, r.opt_int(2)?)))
        .transpose()?;
    Ok(match row {
        None => Err(Refusal::Invalid),
        Some((_, expires_at, _)) if now >= expires_at as u64 => Err(Refusal::Expired),
        Some((_, _, Some(retire_at))) if now >= retire_at as u64 => Err(Refusal::Invalid),
        Some((app_id, _, _)) => Ok(app_id),
    })
}
