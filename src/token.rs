//! Face-pay `voipToken`s: the stand-in for the token the WeChat Pay face SDK returns after a face
//! scan. Signed (HMAC-SHA256, 128-bit tag), bound to the student's userId, short-lived (5
//! minutes by default) and single use (the backend remembers used nonces until they expire).
//!
//! Layout (before base64url): `ver u8 | kid u8 | issued u48 | expires u48 | nonce [12] | tag [16]`.

use crate::codec::{b64, unb64, Reader, Writer};
use crate::ids::{Millis, UserId};
use crate::keys::{Key, Keyring, TAG_LEN};

pub const VERSION: u8 = 1;
pub const DEFAULT_TTL_MS: Millis = 5 * 60 * 1000;
const DOMAIN: &[u8] = b"campus-voip/voip-token/v1";
/// Longest token text accepted (the real format is 56 characters).
pub const MAX_CHARS: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenClaims {
    pub issued_at: Millis,
    pub expires_at: Millis,
    pub nonce: [u8; 12],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Malformed, forged, or signed for another student (indistinguishable by design).
    Invalid,
    Expired,
    Reused,
}

impl Rejection {
    pub fn message(self) -> &'static str {
        match self {
            Rejection::Invalid => "voipToken is invalid or was issued for another student",
            Rejection::Expired => "voipToken has expired; scan the face again",
            Rejection::Reused => "voipToken was already used; scan the face again",
        }
    }
}

pub fn issue(key: &Key, user_id: &UserId, claims: &TokenClaims) -> String {
    let mut w = Writer::default();
    w.u8(VERSION)
        .u8(key.id)
        .u48(claims.issued_at)
        .u48(claims.expires_at)
        .bytes(&claims.nonce);
    let tag = key.tag(DOMAIN, &[&w.buf, user_id.as_str().as_bytes()]);
    w.bytes(&tag);
    b64(&w.buf)
}

/// Checks signature, student and expiry (not reuse: that needs the backend's memory).
pub fn verify(
    keys: &Keyring,
    token: &str,
    user_id: &UserId,
    now: Millis,
) -> Result<TokenClaims, Rejection> {
    if token.len() > MAX_CHARS {
        return Err(Rejection::Invalid);
    }
    let raw = unb64(token).ok_or(Rejection::Invalid)?;
    let mut r = Reader::new(&raw);
    let mut parse = || -> Option<(u8, TokenClaims, usize, &[u8])> {
        if r.u8().ok()? != VERSION {
            return None;
        }
        let kid = r.u8().ok()?;
        let claims = TokenClaims {
            issued_at: r.u48().ok()?,
            expires_at: r.u48().ok()?,
            nonce: r.array().ok()?,
        };
        let header_len = r.position();
        let tag = r.bytes(TAG_LEN).ok()?;
        (r.remaining() == 0).then_some((kid, claims, header_len, tag))
    };
    let (kid, claims, header_len, tag) = parse().ok_or(Rejection::Invalid)?;
    let key = keys.get(kid).ok_or(Rejection::Invalid)?;
    if !key.verify(
        DOMAIN,
        &[&raw[..header_len], user_id.as_str().as_bytes()],
        tag,
    ) {
        return Err(Rejection::Invalid);
    }
    if now >= claims.expires_at {
        return Err(Rejection::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        Keyring::new(Key::new(1, [3; 32]))
    }
    fn uid(s: &str) -> UserId {
        UserId::parse("u", s).unwrap()
    }
    const CLAIMS: TokenClaims = TokenClaims {
        issued_at: 1000,
        expires_at: 1000 + DEFAULT_TTL_MS,
        nonce: [7; 12],
    };

    #[test]
    fn bound_to_student_and_time() {
        let ring = ring();
        let t = issue(ring.current(), &uid("s1"), &CLAIMS);
        assert_eq!(t.len(), 56);
        assert_eq!(verify(&ring, &t, &uid("s1"), 1000), Ok(CLAIMS));
        assert_eq!(verify(&ring, &t, &uid("s2"), 1000), Err(Rejection::Invalid));
        assert_eq!(
            verify(&ring, &t, &uid("s1"), 1000 + DEFAULT_TTL_MS - 1),
            Ok(CLAIMS)
        );
        assert_eq!(
            verify(&ring, &t, &uid("s1"), 1000 + DEFAULT_TTL_MS),
            Err(Rejection::Expired)
        );
    }

    #[test]
    fn tampering_and_garbage() {
        let ring = ring();
        let t = issue(ring.current(), &uid("s1"), &CLAIMS);
        let raw = unb64(&t).unwrap();
        for i in 0..raw.len() * 8 {
            let mut bad = raw.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert_eq!(
                verify(&ring, &b64(&bad), &uid("s1"), 1000),
                Err(Rejection::Invalid),
                "bit {i}"
            );
        }
        for junk in ["", "x", "!!!!", &"A".repeat(300)] {
            assert_eq!(
                verify(&ring, junk, &uid("s1"), 1000),
                Err(Rejection::Invalid)
            );
        }
    }
}
