//! Secrets and MACs: HMAC-SHA256 (RustCrypto), truncated to 128 bits, domain-separated per
//! purpose, verified in constant time. Keys carry a one-byte id so they can be rotated.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const SECRET_LEN: usize = 32;
pub const TAG_LEN: usize = 16;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct Key {
    pub id: u8,
    pub secret: [u8; SECRET_LEN],
    /// HMAC with the key already absorbed (inner and outer pads hashed once, here, instead of
    /// on every tag: two of the SHA-256 compressions a short MAC costs).
    prepared: HmacSha256,
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.id == other.id && self.secret == other.secret
    }
}

impl Eq for Key {}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key {{ id: {}, secret: <redacted> }}", self.id)
    }
}

impl Key {
    pub fn new(id: u8, secret: [u8; SECRET_LEN]) -> Key {
        let prepared = HmacSha256::new_from_slice(&secret).expect("HMAC takes keys of any length");
        Key {
            id,
            secret,
            prepared,
        }
    }

    fn hmac(&self, domain: &[u8], parts: &[&[u8]]) -> HmacSha256 {
        let mut mac = self.prepared.clone();
        mac.update(&(domain.len() as u32).to_be_bytes());
        mac.update(domain);
        for part in parts {
            // Length-prefix every part so no two different inputs concatenate alike.
            mac.update(&(part.len() as u32).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// The 128-bit tag over `parts` for `domain`.
    pub fn tag(&self, domain: &[u8], parts: &[&[u8]]) -> [u8; TAG_LEN] {
        let full = self.hmac(domain, parts).finalize().into_bytes();
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&full[..TAG_LEN]);
        out
    }

    /// Constant-time check of a truncated tag.
    pub fn verify(&self, domain: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
        tag.len() == TAG_LEN && self.hmac(domain, parts).verify_truncated_left(tag).is_ok()
    }
}

/// The keys a backend verifies with; the last one signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl Keyring {
    pub fn new(first: Key) -> Self {
        Keyring { keys: vec![first] }
    }

    /// A keyring from stored keys; `None` if empty or if two keys share an id.
    pub fn from_keys(keys: Vec<Key>) -> Option<Self> {
        let unique = keys
            .iter()
            .enumerate()
            .all(|(i, k)| keys[..i].iter().all(|earlier| earlier.id != k.id));
        (!keys.is_empty() && unique).then_some(Keyring { keys })
    }

    pub fn current(&self) -> &Key {
        // Never empty by construction.
        &self.keys[self.keys.len() - 1]
    }

    pub fn get(&self, id: u8) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }

    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Adds a new signing key (rotation); older keys still verify until dropped.
    pub fn rotate(&mut self, secret: [u8; SECRET_LEN]) {
        let id = self.current().id.wrapping_add(1);
        self.keys.retain(|k| k.id != id);
        self.keys.push(Key::new(id, secret));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_bind_domain_and_parts() {
        let k = Key::new(1, [7; 32]);
        let t = k.tag(b"d", &[b"ab", b"c"]);
        assert!(k.verify(b"d", &[b"ab", b"c"], &t));
        assert!(!k.verify(b"d", &[b"a", b"bc"], &t), "length prefixes");
        assert!(!k.verify(b"e", &[b"ab", b"c"], &t), "domain");
        assert!(!k.verify(b"d", &[b"ab", b"c"], &t[..15]));
        let mut bad = t;
        bad[0] ^= 1;
        assert!(!k.verify(b"d", &[b"ab", b"c"], &bad));
        let other = Key::new(1, [8; 32]);
        assert!(!other.verify(b"d", &[b"ab", b"c"], &t));
    }

    #[test]
    fn hmac_is_the_standard_one() {
        // RFC 4231 test case 2, through the same crate: guards against a wrong primitive.
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let out = mac.finalize().into_bytes();
        assert_eq!(
            out.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn keyring_rotation() {
        let mut ring = Keyring::new(Key::new(255, [1; 32]));
        ring.rotate([2; 32]);
        assert_eq!(ring.current().id, 0);
        assert!(ring.get(255).is_some());
        assert!(Keyring::from_keys(vec![]).is_none());
        let dup = vec![Key::new(1, [0; 32]), Key::new(1, [1; 32])];
        assert!(Keyring::from_keys(dup).is_none());
    }
}
