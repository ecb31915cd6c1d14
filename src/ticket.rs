//! The signed share ticket (SPEC §4): versioned, at most 160 characters of `[A-Za-z0-9_-]`,
//! carrying the issuer, issue and expiry times, a nonce, the administrator's term and a key id,
//! with an HMAC-SHA256 tag (128 bits) over all of that plus the student's id, name and avatar.
//!
//! Layout (before base64url): `ver u8 | kid u8 | issued u48 | expires u48 | nonce [8] |
//! term u32 | issuer str8 | tag [16]`.

use crate::codec::{b64, unb64, Reader, Writer};
use crate::ids::{Millis, OpenId};
use crate::keys::{Key, Keyring, TAG_LEN};

pub const VERSION: u8 = 1;
pub const MAX_CHARS: usize = 160;
const DOMAIN: &[u8] = b"campus-voip/share-ticket/v1";

/// What a ticket says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    pub issuer: OpenId,
    pub issued_at: Millis,
    pub expires_at: Millis,
    pub nonce: [u8; 8],
    pub admin_term: u32,
}

/// The student the ticket was issued for, as shown on the share card. Signed, not carried.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub user_id: &'a str,
    pub user_name: &'a str,
    pub user_avatar: &'a str,
}

fn signed_parts<'a>(header: &'a [u8], s: &Subject<'a>) -> [&'a [u8]; 4] {
    [
        header,
        s.user_id.as_bytes(),
        s.user_name.as_bytes(),
        s.user_avatar.as_bytes(),
    ]
}

/// Issues the ticket text.
pub fn issue(key: &Key, claims: &Claims, subject: &Subject) -> String {
    let mut w = Writer::default();
    w.u8(VERSION)
        .u8(key.id)
        .u48(claims.issued_at)
        .u48(claims.expires_at)
        .bytes(&claims.nonce)
        .u32(claims.admin_term)
        .str8(claims.issuer.as_str());
    let tag = key.tag(DOMAIN, &signed_parts(&w.buf, subject));
    w.bytes(&tag);
    b64(&w.buf)
}

/// Verifies a ticket for `subject`. `None` for anything malformed, of another version, signed
/// by an unknown key, or whose tag does not match (the share outcome `invalid`).
pub fn verify(keys: &Keyring, ticket: &str, subject: &Subject) -> Option<Claims> {
    if ticket.is_empty() || ticket.len() > MAX_CHARS {
        return None;
    }
    let raw = unb64(ticket)?;
    let mut r = Reader::new(&raw);
    let parse = |r: &mut Reader| -> Option<(u8, Claims)> {
        if r.u8().ok()? != VERSION {
            return None;
        }
        let kid = r.u8().ok()?;
        let issued_at = r.u48().ok()?;
        let expires_at = r.u48().ok()?;
        let nonce = r.array().ok()?;
        let admin_term = r.u32().ok()?;
        let issuer = OpenId::parse("issuer", r.str8().ok()??).ok()?;
        Some((
            kid,
            Claims {
                issuer,
                issued_at,
                expires_at,
                nonce,
                admin_term,
            },
        ))
    };
    let (kid, claims) = parse(&mut r)?;
    let header_len = r.position();
    let tag = r.bytes(TAG_LEN).ok()?;
    if r.remaining() != 0 {
        return None;
    }
    let key = keys.get(kid)?;
    key.verify(DOMAIN, &signed_parts(&raw[..header_len], subject), tag)
        .then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        Keyring::new(Key::new(3, [9; 32]))
    }

    fn claims(issuer: &str) -> Claims {
        Claims {
            issuer: OpenId::parse("o", issuer).unwrap(),
            issued_at: 1_700_000_000_000,
            expires_at: 1_700_259_200_000,
            nonce: [1, 2, 3, 4, 5, 6, 7, 8],
            admin_term: 0xdead_beef,
        }
    }

    const SUBJECT: Subject = Subject {
        user_id: "学生-1",
        user_name: "小明",
        user_avatar: "https://a/b.png",
    };

    #[test]
    fn round_trip_and_size() {
        let ring = ring();
        let longest = "o".repeat(64);
        let t = issue(ring.current(), &claims(&longest), &SUBJECT);
        assert!(t.len() <= MAX_CHARS, "{} chars", t.len());
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b)));
        assert_eq!(verify(&ring, &t, &SUBJECT), Some(claims(&longest)));
    }

    #[test]
    fn every_signed_field_is_bound() {
        let ring = ring();
        let t = issue(ring.current(), &claims("issuer1"), &SUBJECT);
        for subject in [
            Subject {
                user_id: "学生-2",
                ..SUBJECT
            },
            Subject {
                user_name: "小红",
                ..SUBJECT
            },
            Subject {
                user_avatar: "",
                ..SUBJECT
            },
        ] {
            assert_eq!(verify(&ring, &t, &subject), None);
        }
        // Flip every bit of the binary ticket: never verifies.
        let raw = unb64(&t).unwrap();
        for i in 0..raw.len() * 8 {
            let mut bad = raw.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert_eq!(verify(&ring, &b64(&bad), &SUBJECT), None, "bit {i}");
        }
        // Truncations and extensions.
        for cut in 0..raw.len() {
            assert_eq!(verify(&ring, &b64(&raw[..cut]), &SUBJECT), None);
        }
        let mut longer = raw.clone();
        longer.push(0);
        assert_eq!(verify(&ring, &b64(&longer), &SUBJECT), None);
    }

    #[test]
    fn unknown_key_and_garbage() {
        let ring = ring();
        let other = Keyring::new(Key::new(4, [9; 32]));
        let t = issue(other.current(), &claims("a"), &SUBJECT);
        assert_eq!(verify(&ring, &t, &SUBJECT), None);
        for junk in ["", "%%%", "AAAA", &"A".repeat(161), "v1.abc"] {
            assert_eq!(verify(&ring, junk, &SUBJECT), None);
        }
    }

    #[test]
    fn rotated_keys_still_verify() {
        let mut ring = ring();
        let t = issue(ring.current(), &claims("a"), &SUBJECT);
        ring.rotate([5; 32]);
        assert!(verify(&ring, &t, &SUBJECT).is_some());
        let t2 = issue(ring.current(), &claims("a"), &SUBJECT);
        assert_ne!(t, t2);
        assert!(verify(&ring, &t2, &SUBJECT).is_some());
    }
}
