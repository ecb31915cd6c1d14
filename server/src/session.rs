//! Parent sessions: `v1.<kid>.<openId>.<iat>.<exp>.<mac>` (SPEC §7).
//!
//! - `kid`: the first 6 bytes of SHA-256(`"campus-voip session kid\0"` ‖ secret), base64url (8
//!   characters): anyone holding the secret (the school's server, the Node helper) computes the
//!   same id, and a session minted with another secret is told apart from a forged one.
//! - `openId`: as SPEC §1 (`[A-Za-z0-9_-]{1,64}`, so it never contains a dot).
//! - `iat`, `exp`: Unix seconds in decimal, no sign or leading zeros; `exp > iat`.
//! - `mac`: HMAC-SHA256 with the secret's bytes as the key, over the text before the last dot
//!   (`v1.<kid>.<openId>.<iat>.<exp>`), base64url without padding (43 characters), compared in
//!   constant time.
//!
//! A session is valid while `iat - 60 s <= now < exp`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use campus_voip::ids::OpenId;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Shortest session secret accepted (bytes of its UTF-8 text).
pub const MIN_SECRET_BYTES: usize = 32;
/// Default lifetime of a minted session.
pub const DEFAULT_TTL_SECS: u64 = 7 * 86_400;
/// Longest lifetime `session mint` accepts.
pub const MAX_TTL_SECS: u64 = 366 * 86_400;
/// How far in the future `iat` may be (clock skew between the minting server and this one).
pub const CLOCK_SKEW_SECS: u64 = 60;
/// Longest session text looked at.
const MAX_LEN: usize = 256;

/// The key sessions are minted and verified with.
#[derive(Clone)]
pub struct SessionKey {
    kid: String,
    mac: HmacSha256,
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey {{ kid: {}, secret: <redacted> }}", self.kid)
    }
}

/// A verified session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub open_id: OpenId,
    pub issued_at: u64,
    pub expires_at: u64,
}

/// Why a session was refused (the reason part of the 401's errMsg).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionError {
    Malformed,
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionError::Malformed => "the session is malformed",
            SessionError::UnknownKey => {
                "the session was minted with another secret (unknown key id)"
            }
            SessionError::BadSignature => "the session's signature does not verify",
            SessionError::Expired => "the session has expired",
            SessionError::NotYetValid => "the session is not valid yet (issued in the future)",
        })
    }
}

/// The key id of a session secret.
pub fn kid_of(secret: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"campus-voip session kid\0");
    h.update(secret);
    URL_SAFE_NO_PAD.encode(&h.finalize()[..6])
}

fn parse_secs(s: &str) -> Option<u64> {
    let canonical = !s.is_empty()
        && s.len() <= 12
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

impl SessionKey {
    /// A key from the session secret; at least [`MIN_SECRET_BYTES`] bytes.
    pub fn new(secret: &[u8]) -> Result<SessionKey, String> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "the session secret must be at least {MIN_SECRET_BYTES} bytes, got {}",
                secret.len()
            ));
        }
        Ok(SessionKey {
            kid: kid_of(secret),
            mac: HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length"),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The session for `open_id`, issued at `iat` and expiring at `exp` (Unix seconds).
    pub fn mint(&self, open_id: &OpenId, iat: u64, exp: u64) -> String {
        let body = format!("v1.{}.{}.{iat}.{exp}", self.kid, open_id.as_str());
        let mut mac = self.mac.clone();
        mac.update(body.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{body}.{tag}")
    }

    /// Checks format, key id, signature (constant time) and times, in that order.
    pub fn verify(&self, token: &str, now_secs: u64) -> Result<Session, SessionError> {
        if token.len() > MAX_LEN {
            return Err(SessionError::Malformed);
        }
        let (body, tag) = token.rsplit_once('.').ok_or(SessionError::Malformed)?;
        let parts: Vec<&str> = body.split('.').collect();
        let [version, kid, open_id, iat, exp] = parts[..] else {
            return Err(SessionError::Malformed);
        };
        if version != "v1" {
            return Err(SessionError::Malformed);
        }
        let open_id = OpenId::parse("openId", open_id).map_err(|_| SessionError::Malformed)?;
        let (iat, exp) = match (parse_secs(iat), parse_secs(exp)) {
            (Some(i), Some(e)) if e > i => (i, e),
            _ => return Err(SessionError::Malformed),
        };
        if tag.len() != 43 {
            return Err(SessionError::Malformed);
        }
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| SessionError::Malformed)?;
        if kid != self.kid {
            return Err(SessionError::UnknownKey);
        }
        let mut mac = self.mac.clone();
        mac.update(body.as_bytes());
        mac.verify_slice(&tag)
            .map_err(|_| SessionError::BadSignature)?;
        if now_secs >= exp {
            return Err(SessionError::Expired);
        }
        if iat > now_secs + CLOCK_SKEW_SECS {
            return Err(SessionError::NotYetValid);
        }
        Ok(Session {
            open_id,
            issued_at: iat,
            expires_at: exp,
        })
    }
}
