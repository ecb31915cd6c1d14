//! How the local backend stores the registry: one key per record (the secrets, each student,
//! each consent, each used face-pay token, each ended call), so a change writes only the keys
//! it touched (one, or two for a call admitted and ended at once). Every
//! value is versioned and checksummed (SHA-256 over key and content), so a truncated, altered,
//! swapped or unknown-version value is a `STORAGE` error on load, never a panic. A snapshot is
//! all entries in one checksummed blob, for backup and migration.

use crate::codec::{b64, hex, unb64, Reader, Truncated, Writer};
use crate::errors::{Error, Result};
use crate::ids::{Millis, OpenId, UserId};
use crate::input::whole;
use crate::keys::{Key, Keyring, SECRET_LEN};
use crate::lifecycle::{billed_time, charge_type, CallRecord, ENDINGS};
use crate::ops::Secrets;
use crate::registry::{Change, Contact, Registry, Removal, Role, StudentRecord, MAX_REMOVALS};
use sha2::{Digest, Sha256};

/// Version of the stored-value format written. Bump on any incompatible change. Version 2
/// added the student's removal list; version 1 values (no removals) are still read.
pub const FORMAT_VERSION: u8 = 2;
const OLDEST_READABLE: u8 = 1;
pub const META_KEY: &str = "meta";
/// Hard cap on contacts a stored record may hold (the largest `maxContacts`).
pub const HARD_MAX_CONTACTS: usize = 100;
const CHECKSUM_LEN: usize = 8;
const SNAPSHOT_MAGIC: &[u8; 6] = b"CVSNAP";
const SNAPSHOT_VERSION: u8 = 1;

const KIND_META: u8 = 1;
const KIND_STUDENT: u8 = 2;
const KIND_CONSENT: u8 = 3;
const KIND_TOKEN: u8 = 4;
const KIND_CALL: u8 = 5;

/// The local backend's secrets and clock, stored under [`META_KEY`] (the contact service keeps
/// its [`Secrets`] elsewhere; operations are given them, never read them from a store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// The highest clock reading the backend has acted on (persisted before it forgets used
    /// tokens), so time-based decisions never go back when the host's clock does.
    pub high_water: Millis,
    pub secrets: Secrets,
}

/// A decoded stored value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Meta(Meta),
    Student(StudentRecord),
    Consent(OpenId),
    Token { id: [u8; 12], expires_at: Millis },
    Call(CallRecord),
}

/// `s.` + 128 bits of SHA-256 of the userId, in hex: fixed length and safe as a file name,
/// whatever the userId holds.
pub fn student_key(user_id: &UserId) -> String {
    let digest = Sha256::digest(user_id.as_str().as_bytes());
    crate::cat!("s.", hex(&digest[..16]))
}

pub fn consent_key(open_id: &OpenId) -> String {
    crate::cat!("c.", open_id)
}

pub fn token_key(id: &[u8; 12]) -> String {
    crate::cat!("t.", hex(id))
}

/// `r.` + the roomId (unguessable base64url, so file-name safe; a restored record keeps its key
/// only if its roomId is, which decoding checks).
pub fn call_key(room_id: &str) -> String {
    crate::cat!("r.", room_id)
}

fn room_id_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn encode_record(r: &CallRecord) -> String {
    seal(&call_key(&r.room_id), KIND_CALL, |w| {
        let ending = ENDINGS.iter().position(|e| *e == r.ending);
        w.str8(&r.room_id)
            .str16(r.user_id.as_str())
            .str8(r.open_id.as_str())
            .u8(r.business_type)
            .u48(r.rang_at)
            .u48(r.connected_at.map_or(0, |c| c + 1))
            .u48(r.ended_at)
            .u8(ending.unwrap_or(0) as u8);
    })
}

fn decode_record(r: &mut Reader) -> std::result::Result<Option<Entry>, Truncated> {
    let room_id = r.str8()?.filter(|s| room_id_ok(s)).map(str::to_owned);
    let user_id = r.str16()?.and_then(|s| UserId::parse("userId", s).ok());
    let open_id = r.str8()?.and_then(|s| OpenId::parse("openId", s).ok());
    let business_type = r.u8()?;
    let rang_at = r.u48()?;
    let connected_at = r.u48()?.checked_sub(1);
    let ended_at = r.u48()?;
    let ending = ENDINGS.get(r.u8()? as usize).copied();
    let (Some(room_id), Some(user_id), Some(open_id), Some(ending)) =
        (room_id, user_id, open_id, ending)
    else {
        return Ok(None);
    };
    if !matches!(business_type, 0 | 3)
        || connected_at.is_some_and(|c| c < rang_at || c > ended_at)
        || ended_at < rang_at
    {
        return Ok(None);
    }
    let keep_time = connected_at.map_or(0, |c| ended_at - c);
    Ok(Some(Entry::Call(CallRecord {
        room_id,
        user_id,
        open_id,
        business_type,
        charge_type: charge_type(business_type),
        rang_at,
        connected_at,
        ended_at,
        keep_time,
        billed_time: billed_time(business_type, keep_time),
        ending,
    })))
}

fn checksum(key: &str, body: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut h = Sha256::new();
    h.update((key.len() as u32).to_be_bytes());
    h.update(key.as_bytes());
    h.update(body);
    let d = h.finalize();
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&d[..CHECKSUM_LEN]);
    out
}

fn seal(key: &str, kind: u8, fill: impl FnOnce(&mut Writer)) -> String {
    let mut w = Writer::default();
    w.u8(FORMAT_VERSION).u8(kind);
    fill(&mut w);
    let sum = checksum(key, &w.buf);
    w.bytes(&sum);
    b64(&w.buf)
}

fn write_keyring(w: &mut Writer, ring: &Keyring) {
    w.u8(ring.keys().len() as u8);
    for k in ring.keys() {
        w.u8(k.id).bytes(&k.secret);
    }
}

pub fn encode_meta(meta: &Meta) -> String {
    seal(META_KEY, KIND_META, |w| {
        w.u48(meta.high_water);
        write_keyring(w, &meta.secrets.ticket_keys);
        write_keyring(w, &meta.secrets.token_keys);
    })
}

pub fn encode_student(record: &StudentRecord) -> String {
    seal(&student_key(&record.user_id), KIND_STUDENT, |w| {
        w.str16(record.user_id.as_str())
            .u32(record.admin_term)
            .u8(record.contacts.len() as u8);
        for c in &record.contacts {
            w.str8(c.open_id.as_str())
                .u8(c.role.number())
                .u48(c.bound_at);
        }
        w.u8(record.removed.len() as u8);
        for r in &record.removed {
            w.str8(r.open_id.as_str()).u48(r.at);
        }
    })
}

/// The keys a change writes, in order, and their new values (`None`: remove the key). One key,
/// except for a call: its record once it finished (a live call is kept in memory only: it
/// belongs to the instances of this process), then the token its admission used.
pub fn encode_change(change: &Change) -> Vec<(String, Option<String>)> {
    match change {
        Change::PutStudent(r) => vec![(student_key(&r.user_id), Some(encode_student(r)))],
        Change::RemoveStudent(id) => vec![(student_key(id), None)],
        Change::Consent { open_id, granted } => {
            let key = consent_key(open_id);
            let value = granted.then(|| {
                seal(&key, KIND_CONSENT, |w| {
                    w.str8(open_id.as_str());
                })
            });
            vec![(key, value)]
        }
        Change::UseToken { id, expires_at } => vec![token_write(id, *expires_at)],
        Change::PutCall { call, token } => {
            let mut out = Vec::new();
            if let Some(r) = crate::lifecycle::record(call) {
                out.push((call_key(&r.room_id), Some(encode_record(&r))));
            }
            if let Some((id, exp)) = token {
                out.push(token_write(id, *exp));
            }
            out
        }
    }
}

fn token_write(id: &[u8; 12], expires_at: Millis) -> (String, Option<String>) {
    let key = token_key(id);
    let value = seal(&key, KIND_TOKEN, |w| {
        w.bytes(id).u48(expires_at);
    });
    (key, Some(value))
}

fn corrupt(key: &str, what: &str) -> Error {
    Error::storage(crate::cat!(
        "stored entry ",
        crate::input::quote(key),
        " is corrupt: ",
        what
    ))
}

fn read_keyring(r: &mut Reader) -> std::result::Result<Option<Keyring>, Truncated> {
    let n = r.u8()?;
    let mut keys = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let id = r.u8()?;
        let secret: [u8; SECRET_LEN] = r.array()?;
        keys.push(Key::new(id, secret));
    }
    Ok(Keyring::from_keys(keys))
}

/// Decodes one stored value, checking version, checksum, structure and that it belongs under
/// `key`.
pub fn decode_entry(key: &str, value: &str) -> Result<Entry> {
    let raw = unb64(value).ok_or_else(|| corrupt(key, "not base64url text"))?;
    if raw.len() < 2 + CHECKSUM_LEN {
        return Err(corrupt(key, "truncated"));
    }
    let version = raw[0];
    if !(OLDEST_READABLE..=FORMAT_VERSION).contains(&version) {
        return Err(Error::storage(crate::cat!(
            "stored entry ",
            crate::input::quote(key),
            " has format version ",
            whole(raw[0].into()),
            ", this build reads versions ",
            whole(OLDEST_READABLE.into()),
            " to ",
            whole(FORMAT_VERSION.into()),
            "; upgrade the plugin or restore a backup"
        )));
    }
    let (body, sum) = raw.split_at(raw.len() - CHECKSUM_LEN);
    if checksum(key, body) != sum {
        return Err(corrupt(key, "checksum mismatch"));
    }
    let kind = body[1];
    let mut r = Reader::new(&body[2..]);
    let entry = match kind {
        KIND_META => decode_meta(&mut r),
        KIND_STUDENT => decode_student(&mut r, version),
        KIND_CONSENT => r.str8().map(|s| {
            s.and_then(|s| OpenId::parse("openId", s).ok())
                .map(Entry::Consent)
        }),
        KIND_TOKEN => (|| {
            let id: [u8; 12] = r.array()?;
            let expires_at = r.u48()?;
            Ok(Some(Entry::Token { id, expires_at }))
        })(),
        KIND_CALL => decode_record(&mut r),
        _ => return Err(corrupt(key, "unknown entry kind")),
    };
    let entry = match entry {
        Err(Truncated) => return Err(corrupt(key, "truncated")),
        Ok(None) => return Err(corrupt(key, "invalid content")),
        Ok(Some(e)) => e,
    };
    if r.remaining() != 0 {
        return Err(corrupt(key, "trailing bytes"));
    }
    let expected_key = match &entry {
        Entry::Meta(_) => META_KEY.to_owned(),
        Entry::Student(s) => student_key(&s.user_id),
        Entry::Consent(o) => consent_key(o),
        Entry::Token { id, .. } => token_key(id),
        Entry::Call(c) => call_key(&c.room_id),
    };
    if expected_key != key {
        return Err(corrupt(key, "stored under the wrong key"));
    }
    Ok(entry)
}

fn decode_meta(r: &mut Reader) -> std::result::Result<Option<Entry>, Truncated> {
    let high_water = r.u48()?;
    let ticket_keys = read_keyring(r)?;
    let token_keys = read_keyring(r)?;
    Ok(match (ticket_keys, token_keys) {
        (Some(ticket_keys), Some(token_keys)) => Some(Entry::Meta(Meta {
            high_water,
            secrets: Secrets {
                ticket_keys,
                token_keys,
            },
        })),
        _ => None,
    })
}

fn decode_student(r: &mut Reader, version: u8) -> std::result::Result<Option<Entry>, Truncated> {
    let user_id = r.str16()?.and_then(|s| UserId::parse("userId", s).ok());
    let admin_term = r.u32()?;
    let n = r.u8()? as usize;
    let mut contacts = Vec::with_capacity(n.min(HARD_MAX_CONTACTS));
    let mut ok = user_id.is_some();
    for _ in 0..n {
        let open_id = r.str8()?.and_then(|s| OpenId::parse("openId", s).ok());
        let role = match r.u8()? {
            0 => Some(Role::Ordinary),
            1 => Some(Role::Admin),
            _ => None,
        };
        let bound_at = r.u48()?;
        match (open_id, role) {
            (Some(open_id), Some(role)) => contacts.push(Contact {
                open_id,
                role,
                bound_at,
            }),
            _ => ok = false,
        }
    }
    let mut removed = Vec::new();
    if version >= 2 {
        let n = r.u8()? as usize;
        for _ in 0..n.min(MAX_REMOVALS + 1) {
            let open_id = r.str8()?.and_then(|s| OpenId::parse("openId", s).ok());
            let at = r.u48()?;
            match open_id {
                Some(open_id) => removed.push(Removal { open_id, at }),
                None => ok = false,
            }
        }
        if n > MAX_REMOVALS {
            ok = false;
        }
    }
    let (Some(user_id), true) = (user_id, ok) else {
        return Ok(None);
    };
    let record = StudentRecord {
        user_id,
        admin_term,
        contacts,
        removed,
    };
    Ok(record
        .check(HARD_MAX_CONTACTS)
        .is_ok()
        .then_some(Entry::Student(record)))
}

/// What a store held: the secrets (absent in an empty store) and the registry.
#[derive(Debug, Default)]
pub struct Loaded {
    pub meta: Option<Meta>,
    pub registry: Registry,
    /// Keys of used-token entries that had expired by load time (safe to remove).
    pub stale: Vec<String>,
}

/// Loads every entry of a store. Any bad entry fails the whole load with `STORAGE`; so do
/// records without secrets.
pub fn load<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    now: Millis,
) -> Result<Loaded> {
    let mut out = Loaded::default();
    let mut records = 0usize;
    for (key, value) in entries {
        match decode_entry(key, value)? {
            Entry::Meta(m) => {
                if out.meta.replace(m).is_some() {
                    return Err(corrupt(key, "appears twice"));
                }
            }
            Entry::Student(s) => {
                if out.registry.student(&s.user_id).is_some() {
                    return Err(corrupt(key, "appears twice"));
                }
                records += 1;
                out.registry.apply(Change::PutStudent(s));
            }
            Entry::Consent(open_id) => {
                if out.registry.consented(&open_id) {
                    return Err(corrupt(key, "appears twice"));
                }
                records += 1;
                out.registry.apply(Change::Consent {
                    open_id,
                    granted: true,
                });
            }
            Entry::Token { id, expires_at } => {
                if out.registry.token_used(&id) || out.stale.iter().any(|k| k == key) {
                    return Err(corrupt(key, "appears twice"));
                }
                if expires_at <= now {
                    out.stale.push(key.to_owned());
                } else {
                    records += 1;
                    out.registry.apply(Change::UseToken { id, expires_at });
                }
            }
            Entry::Call(c) => {
                if out
                    .registry
                    .records()
                    .iter()
                    .any(|r| r.room_id == c.room_id)
                {
                    return Err(corrupt(key, "appears twice"));
                }
                records += 1;
                out.registry.put_record(c);
            }
        }
    }
    if out.meta.is_none() && (records > 0 || !out.stale.is_empty()) {
        return Err(Error::storage(
            "the store has records but no secrets (its \"meta\" entry is missing); \
             nothing was changed",
        ));
    }
    Ok(out)
}

/// Every entry of a registry, and its secrets if given, sorted by key.
pub fn entries(meta: Option<&Meta>, registry: &Registry) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = meta
        .map(|m| (META_KEY.to_owned(), encode_meta(m)))
        .into_iter()
        .collect();
    for s in registry.students() {
        out.push((student_key(&s.user_id), encode_student(s)));
    }
    for o in registry.consents() {
        let change = Change::Consent {
            open_id: o.clone(),
            granted: true,
        };
        out.extend(
            encode_change(&change)
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?))),
        );
    }
    for (id, exp) in registry.used_tokens() {
        let (k, v) = token_write(id, *exp);
        out.extend(v.map(|v| (k, v)));
    }
    for r in registry.records() {
        out.push((call_key(&r.room_id), encode_record(r)));
    }
    sort_by_key(&mut out);
    out
}

/// Sorts entries by key (keys are unique, so this is the order of the pairs too). A heapsort:
/// O(n log n) like the standard sort, in a tenth of its code in the wasm.
fn sort_by_key(v: &mut [(String, String)]) {
    fn sift_down(v: &mut [(String, String)], mut root: usize, end: usize) {
        loop {
            let mut child = 2 * root + 1;
            if child >= end {
                return;
            }
            if child + 1 < end && v[child].0 < v[child + 1].0 {
                child += 1;
            }
            if v[root].0 >= v[child].0 {
                return;
            }
            v.swap(root, child);
            root = child;
        }
    }
    let n = v.len();
    for i in (0..n / 2).rev() {
        sift_down(v, i, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

/// The whole registry (and its secrets, if given) as one versioned, checksummed blob.
pub fn snapshot(meta: Option<&Meta>, registry: &Registry) -> Vec<u8> {
    let all = entries(meta, registry);
    let mut w = Writer::default();
    w.bytes(SNAPSHOT_MAGIC)
        .u8(SNAPSHOT_VERSION)
        .u32(all.len() as u32);
    for (k, v) in &all {
        w.str16(k).u32(v.len() as u32).bytes(v.as_bytes());
    }
    let sum = Sha256::digest(&w.buf);
    w.bytes(&sum);
    w.buf
}

/// Reads a snapshot back into entries (then [`load`] them). Truncated, altered or
/// unknown-version data is a `STORAGE` error.
pub fn read_snapshot(data: &[u8]) -> Result<Vec<(String, String)>> {
    let bad = |what: &str| Error::storage(crate::cat!("the snapshot is corrupt: ", what));
    if data.len() < SNAPSHOT_MAGIC.len() + 1 + 4 + 32 {
        return Err(bad("too short"));
    }
    if &data[..SNAPSHOT_MAGIC.len()] != SNAPSHOT_MAGIC {
        return Err(bad("not a campus-voip snapshot"));
    }
    let version = data[SNAPSHOT_MAGIC.len()];
    if version != SNAPSHOT_VERSION {
        return Err(Error::storage(crate::cat!(
            "the snapshot has version ",
            whole(version.into()),
            ", this build reads version ",
            whole(SNAPSHOT_VERSION.into())
        )));
    }
    let (body, sum) = data.split_at(data.len() - 32);
    if Sha256::digest(body)[..] != *sum {
        return Err(bad("checksum mismatch"));
    }
    let mut r = Reader::new(&body[SNAPSHOT_MAGIC.len() + 1..]);
    let parse = |r: &mut Reader| -> std::result::Result<Option<Vec<(String, String)>>, Truncated> {
        let n = r.u32()? as usize;
        // Each entry takes at least 6 bytes: bound the allocation by what is there.
        let mut out = Vec::with_capacity(n.min(r.remaining() / 6));
        for _ in 0..n {
            let Some(k) = r.str16()? else { return Ok(None) };
            let len = r.u32()? as usize;
            let Ok(v) = std::str::from_utf8(r.bytes(len)?) else {
                return Ok(None);
            };
            out.push((k.to_owned(), v.to_owned()));
        }
        Ok((r.remaining() == 0).then_some(out))
    };
    match parse(&mut r) {
        Ok(Some(entries)) => Ok(entries),
        Ok(None) => Err(bad("invalid content")),
        Err(Truncated) => Err(bad("truncated")),
    }
}

/// A snapshot's entries, checked to load as a whole store (secrets included), ready to be
/// written into an empty one.
pub fn restorable_snapshot(data: &[u8]) -> Result<Vec<(String, String)>> {
    let entries = read_snapshot(data)?;
    if !entries.iter().any(|(k, _)| k == META_KEY) {
        return Err(Error::storage(
            "this snapshot was exported without the backend's secrets, so it cannot be restored \
             (exportSnapshot({ includeSecrets: true }) makes one that can)",
        ));
    }
    load(entries.iter().map(|(k, v)| (k.as_str(), v.as_str())), 0)?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::ErrorCode;

    fn meta() -> Meta {
        Meta {
            high_water: 5,
            secrets: Secrets {
                ticket_keys: Keyring::new(Key::new(1, [1; 32])),
                token_keys: Keyring::new(Key::new(2, [2; 32])),
            },
        }
    }

    fn registry() -> Registry {
        let mut reg = Registry::default();
        let mut rec = StudentRecord::with_admin(
            UserId::parse("u", "学生/1").unwrap(),
            OpenId::parse("o", "adm").unwrap(),
            10,
            77,
        );
        rec.contacts.push(Contact {
            open_id: OpenId::parse("o", "mum").unwrap(),
            role: Role::Ordinary,
            bound_at: 11,
        });
        reg.apply(Change::PutStudent(rec));
        reg.apply(Change::Consent {
            open_id: OpenId::parse("o", "adm").unwrap(),
            granted: true,
        });
        reg.apply(Change::UseToken {
            id: [9; 12],
            expires_at: 1000,
        });
        for (room, connected_at, ending, bt) in [
            ("r00m_A-1", Some(120), crate::lifecycle::ENDINGS[5], 0),
            ("room2", None, crate::lifecycle::ENDINGS[3], 3),
        ] {
            let keep_time = connected_at.map_or(0, |c| 200 - c);
            reg.put_record(CallRecord {
                room_id: room.into(),
                user_id: UserId::parse("u", "学生/1").unwrap(),
                open_id: OpenId::parse("o", "mum").unwrap(),
                business_type: bt,
                charge_type: charge_type(bt),
                rang_at: 100,
                connected_at,
                ended_at: 200,
                keep_time,
                billed_time: billed_time(bt, keep_time),
                ending,
            });
        }
        assert_eq!(reg.records().len(), 2);
        reg
    }

    fn load_all(all: &[(String, String)], now: Millis) -> Result<Loaded> {
        load(all.iter().map(|(k, v)| (k.as_str(), v.as_str())), now)
    }

    #[test]
    fn sort_by_key_matches_the_standard_sort() {
        for n in 0..40u32 {
            // A scrambled order of distinct keys of varying lengths.
            let mut v: Vec<(String, String)> = (0..n)
                .map(|i| (format!("k{}", (i * 7919) % 97), i.to_string()))
                .collect();
            let mut want = v.clone();
            want.sort_unstable();
            sort_by_key(&mut v);
            assert_eq!(v, want);
        }
    }

    #[test]
    fn entries_round_trip() {
        let (m, reg) = (meta(), registry());
        let all = entries(Some(&m), &reg);
        assert_eq!(all.len(), 6);
        let loaded = load_all(&all, 0).unwrap();
        assert_eq!(loaded.meta, Some(m.clone()));
        assert_eq!(entries(Some(&m), &loaded.registry), all);
        // Call records come back exactly, in end order whatever the load order.
        assert_eq!(loaded.registry.records(), reg.records());
        let reversed: Vec<_> = all.iter().rev().cloned().collect();
        assert_eq!(
            load_all(&reversed, 0).unwrap().registry.records(),
            reg.records()
        );
        // Expired token entries are dropped and reported.
        let later = load_all(&all, 1000).unwrap();
        assert_eq!(later.stale, vec![token_key(&[9; 12])]);
        assert_eq!(later.registry.used_tokens().count(), 0);
    }

    #[test]
    fn every_duplicate_key_is_refused() {
        let all = entries(Some(&meta()), &registry());
        for dup in &all {
            let mut twice = all.clone();
            twice.push(dup.clone());
            for now in [0, 1000] {
                let e = load_all(&twice, now).unwrap_err();
                assert!(
                    e.message.contains("appears twice"),
                    "{}: {}",
                    dup.0,
                    e.message
                );
            }
        }
    }

    #[test]
    fn keys_are_file_name_safe() {
        let k = student_key(&UserId::parse("u", "../../etc/passwd 学").unwrap());
        assert_eq!(k.len(), 34);
        assert!(k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'));
    }

    #[test]
    fn corruption_is_a_storage_error() {
        let all = entries(Some(&meta()), &registry());
        for (i, (k, v)) in all.iter().enumerate() {
            // Every single-character change and every truncation of every value.
            let alphabet = ['A', 'b', '-', '_', '9'];
            for pos in 0..v.len() {
                for c in alphabet {
                    let mut bad: Vec<char> = v.chars().collect();
                    if bad[pos] == c {
                        continue;
                    }
                    bad[pos] = c;
                    let bad: String = bad.into_iter().collect();
                    let e = decode_entry(k, &bad).unwrap_err();
                    assert_eq!(e.code, ErrorCode::Storage, "entry {i} pos {pos}");
                }
                assert_eq!(
                    decode_entry(k, &v[..pos]).unwrap_err().code,
                    ErrorCode::Storage
                );
            }
        }
        // A value moved under another key.
        let (k0, _) = &all[0];
        let (_, v1) = &all[1];
        assert!(decode_entry(k0, v1)
            .unwrap_err()
            .message
            .contains("checksum"));
    }

    #[test]
    fn unknown_version_and_missing_secrets() {
        let (k, v) = &entries(Some(&meta()), &registry())[1];
        let mut raw = unb64(v).unwrap();
        raw[0] = 9;
        let e = decode_entry(k, &b64(&raw)).unwrap_err();
        assert_eq!(e.code, ErrorCode::Storage);
        assert!(e.message.contains("format version 9"));
        let without_meta: Vec<(String, String)> = entries(Some(&meta()), &registry())
            .into_iter()
            .filter(|(k, _)| k != META_KEY)
            .collect();
        assert!(load_all(&without_meta, 0)
            .unwrap_err()
            .message
            .contains("no secrets"));
        assert!(load_all(&[], 0).unwrap().meta.is_none());
    }

    #[test]
    fn broken_records_are_refused_even_with_a_valid_checksum() {
        let mut rec = StudentRecord::with_admin(
            UserId::parse("u", "s").unwrap(),
            OpenId::parse("o", "a").unwrap(),
            0,
            0,
        );
        rec.contacts[0].role = Role::Ordinary;
        let (k, v) = encode_change(&Change::PutStudent(rec)).remove(0);
        assert!(decode_entry(&k, &v.unwrap())
            .unwrap_err()
            .message
            .contains("invalid content"));
    }

    #[test]
    fn snapshot_round_trip_and_corruption() {
        let (m, reg) = (meta(), registry());
        let snap = snapshot(Some(&m), &reg);
        let back = read_snapshot(&snap).unwrap();
        assert_eq!(back, entries(Some(&m), &reg));
        for cut in 0..snap.len() {
            assert_eq!(
                read_snapshot(&snap[..cut]).unwrap_err().code,
                ErrorCode::Storage
            );
        }
        for i in 0..snap.len() {
            let mut bad = snap.clone();
            bad[i] ^= 0x20;
            assert_eq!(
                read_snapshot(&bad).unwrap_err().code,
                ErrorCode::Storage,
                "byte {i}"
            );
        }
        let mut v2 = snap.clone();
        v2[6] = 2;
        assert!(read_snapshot(&v2)
            .unwrap_err()
            .message
            .contains("version 2"));
    }
}
