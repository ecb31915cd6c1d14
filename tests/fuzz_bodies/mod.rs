//! The bodies of the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`), shared with the normal test
//! suite (`tests/fuzz_regressions.rs`) so every input the fuzzer ever found can be kept as a
//! regression test in `fuzz/regressions/<target>/`.
//!
//! Each body takes raw fuzz bytes, decodes them with a small deterministic decoder ([`Cursor`];
//! an exhausted input reads as zeros) and asserts the parser's contract, not only "no panic":
//! loaders fail with `STORAGE` and nothing else, call checks fail only with the codes §3.6
//! allows, share paths and tokens built by the core open back exactly, and nothing forged or
//! altered ever verifies as something else. [`seeds`] builds a few hand-made inputs per target
//! (written to `fuzz/seeds/` and always run by the regression test).
#![allow(dead_code)]

use campus_voip::call::{self, ChargeType, RoomType, Version};
use campus_voip::codec::{b64, unb64, Writer};
use campus_voip::engine::{CallOutcome, Config, Engine, NullStore, Store};
use campus_voip::errors::ErrorCode;
use campus_voip::ids::{self, OpenId, UserId};
use campus_voip::input::{Kind, Value, MAX_DEPTH};
use campus_voip::keys::{Key, Keyring};
use campus_voip::registry::Change;
use campus_voip::share::{self, BindType, ShareQuery};
use campus_voip::storage::{self, Entry, Loaded};
use campus_voip::ticket::{self, Claims, Subject};
use campus_voip::token::{self, Rejection, TokenClaims};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::OnceLock;

/// A fuzz target's body: takes the raw fuzz input, panics when a contract is broken.
pub type Body = fn(&[u8]);

/// Every target: its name (the file name under `fuzz/fuzz_targets/`) and its body.
pub const TARGETS: &[(&str, Body)] = &[
    ("share_path", share_path),
    ("snapshot", snapshot),
    ("stored_entries", stored_entries),
    ("call_request", call_request),
    ("voip_token", voip_token),
];

const U48_MAX: u64 = (1 << 48) - 1;
/// A clock reading inside the range tickets and stored values can carry.
const NOW: u64 = 1_700_000_000_000;

// --- the input decoder ---------------------------------------------------------------------

/// Reads fuzz bytes as a stream of small values. Never fails: past the end everything is zero
/// (or empty), so every byte string is a valid input.
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos = (self.pos + 1).min(self.data.len());
        b
    }
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let end = self.pos.saturating_add(n).min(self.data.len());
        let out = &self.data[self.pos..end];
        self.pos = end;
        out
    }
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let got = self.bytes(N);
        out[..got.len()].copy_from_slice(got);
        out
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.array())
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }
    pub fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }
    /// A 48-bit value (milliseconds as tickets and stored values carry them).
    pub fn u48(&mut self) -> u64 {
        let b: [u8; 6] = self.array();
        let mut full = [0u8; 8];
        full[2..].copy_from_slice(&b);
        u64::from_be_bytes(full)
    }
    /// A length: one byte, or `255` then two bytes (big-endian).
    pub fn len(&mut self) -> usize {
        match self.u8() {
            255 => self.u16() as usize,
            n => n as usize,
        }
    }
    /// Length-prefixed bytes.
    pub fn raw(&mut self) -> &'a [u8] {
        let n = self.len();
        self.bytes(n)
    }
    /// Length-prefixed text (invalid UTF-8 replaced).
    pub fn string(&mut self) -> String {
        String::from_utf8_lossy(self.raw()).into_owned()
    }
    /// A selector byte: below `dict.len()` picks that entry, anything else reads a string.
    pub fn text(&mut self, dict: &[&str]) -> String {
        let s = self.u8() as usize;
        match dict.get(s) {
            Some(d) => (*d).to_owned(),
            None => self.string(),
        }
    }
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.data[self.pos..];
        self.pos = self.data.len();
        out
    }
}

/// The encoder matching [`Cursor`], for hand-made seeds.
#[derive(Default)]
pub struct Seed(pub Vec<u8>);

impl Seed {
    pub fn u8(mut self, b: u8) -> Self {
        self.0.push(b);
        self
    }
    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    pub fn u16(self, v: u16) -> Self {
        self.bytes(&v.to_be_bytes())
    }
    pub fn u32(self, v: u32) -> Self {
        self.bytes(&v.to_be_bytes())
    }
    pub fn u64(self, v: u64) -> Self {
        self.bytes(&v.to_be_bytes())
    }
    pub fn u48(self, v: u64) -> Self {
        self.bytes(&v.to_be_bytes()[2..])
    }
    pub fn len(self, n: usize) -> Self {
        if n < 255 {
            self.u8(n as u8)
        } else {
            self.u8(255).u16(n as u16)
        }
    }
    pub fn raw(self, b: &[u8]) -> Self {
        self.len(b.len()).bytes(b)
    }
    pub fn string(self, s: &str) -> Self {
        self.raw(s.as_bytes())
    }
    /// [`Cursor::text`] reading a dictionary entry.
    pub fn dict(self, i: u8) -> Self {
        self.u8(i)
    }
    /// [`Cursor::text`] reading a literal string.
    pub fn text(self, s: &str) -> Self {
        self.u8(250).string(s)
    }
}

fn keyring(id: u8, secret: [u8; 32]) -> Keyring {
    Keyring::new(Key::new(id, secret))
}

/// The fixed keyring of the share and token targets: two keys (ids 1 and 2).
fn fixed_keys() -> Keyring {
    let mut ring = keyring(1, [0x5a; 32]);
    ring.rotate([0xa5; 32]);
    ring
}

fn open_id(s: &str) -> OpenId {
    OpenId::parse("openId", s).expect("a valid openId")
}

fn user_id(s: &str) -> UserId {
    UserId::parse("userId", s).expect("a valid userId")
}

fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

/// Replaces the `i`-th character (modulo the length) by `c`; `None` if that changes nothing.
fn replace_char(s: &str, i: usize, c: char) -> Option<String> {
    let n = s.chars().count();
    if n == 0 {
        return None;
    }
    let i = i % n;
    let mut out = String::with_capacity(s.len() + 4);
    for (j, ch) in s.chars().enumerate() {
        if j == i {
            if ch == c {
                return None;
            }
            out.push(c);
        } else {
            out.push(ch);
        }
    }
    Some(out)
}

/// At most 255 bytes (what `Writer::str8` takes), cut at a character boundary.
fn short(s: &str) -> &str {
    let mut n = s.len().min(255);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

fn fuzz_char(c: &mut Cursor) -> char {
    const CHARS: &[char] = &[
        'A', 'z', '0', '-', '_', '%', '&', '=', '?', '.', '~', '学', '+',
    ];
    let b = c.u8();
    match CHARS.get(b as usize) {
        Some(ch) => *ch,
        None => char::from_u32(c.u32() % 0x11_0000).unwrap_or('\u{fffd}'),
    }
}

// --- share_path ----------------------------------------------------------------------------

const USER_IDS: &[&str] = &["s1", "学生 &=?1", "a%2Fb", "😀", "x+y"];
const USER_NAMES: &[&str] = &["小明", "Tom & Jerry", "100%", "a=b?c#d", "😀 emoji"];
const AVATARS: &[&str] = &[
    "",
    "https://img.example/a.png?x=1&y=2",
    "cloud://env-1/a b",
    "wxfile://tmp_1.jpg#frag",
    "HTTP://x/%zz",
];
const ISSUERS: &[&str] = &["oAdmin_1", "adm", "o-------"];
const PREFIXES: &[&str] = &[
    "",
    "__plugin__/wx0123456789abcdef/",
    "/",
    "plugin-private://x/",
];

/// Share paths (SPEC §4). Mode (first byte, mod 4): 0 an arbitrary path; 1 an arbitrary query
/// after the bind page; 2 and 3 a path built from fuzz-chosen fields, which must open back
/// exactly, survive appended host parameters, and never open as anything else once altered;
/// mode 3 also goes through the engine's `getBindContactPath` and `inspectBindContactPath`.
pub fn share_path(data: &[u8]) {
    let mut c = Cursor::new(data);
    match c.u8() % 4 {
        0 => share_arbitrary(&String::from_utf8_lossy(c.rest())),
        1 => share_arbitrary(&format!(
            "__plugin__/wx1/{}?{}",
            share::PAGE,
            String::from_utf8_lossy(c.rest())
        )),
        2 => share_round_trip(&mut c),
        _ => share_through_engine(&mut c),
    }
}

fn share_arbitrary(path: &str) {
    let keys = fixed_keys();
    let q = ShareQuery::from_path(path);
    // page_ok says exactly whether the part before '?' names the bind page.
    let page = path.split_once('?').map_or(path, |(p, _)| p);
    assert_eq!(
        q.page_ok,
        page.trim_start_matches('/').ends_with(share::PAGE)
    );
    // Re-encoding the decoded parameters parses back to the same parameters.
    let rebuilt: Vec<String> = q
        .params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                share::encode_component(k),
                share::encode_component(v)
            )
        })
        .collect();
    let again = ShareQuery::from_path(&format!("{}?{}", share::PAGE, rebuilt.join("&")));
    assert!(again.page_ok);
    assert_eq!(again.params, q.params, "re-encoded parameters");
    // decodeURIComponent of any component that decodes, re-encoded, is stable.
    if let Some(d) = share::decode_component(path) {
        assert_eq!(
            share::decode_component(&share::encode_component(&d)).as_deref(),
            Some(d.as_str())
        );
    }
    if let Some(link) = share::open(&q, &keys) {
        // Only a genuine ticket opens; what it opens to is exactly what the path says, and the
        // fields pass the same checks as the API's arguments.
        assert!(q.page_ok);
        assert_eq!(q.get("userId"), Some(link.user_id.as_str()));
        assert_eq!(q.get("userName"), Some(link.user_name.as_str()));
        assert_eq!(q.get("userAvatar"), Some(link.user_avatar.as_str()));
        assert!(ids::user_name("n", &link.user_name).is_ok());
        assert!(ids::user_avatar("a", &link.user_avatar).is_ok());
        let t = q.get("ticket").expect("an opened link has a ticket");
        assert!(t.len() <= ticket::MAX_CHARS);
        let subject = Subject {
            user_id: link.user_id.as_str(),
            user_name: &link.user_name,
            user_avatar: &link.user_avatar,
        };
        assert_eq!(
            ticket::verify(&keys, t, &subject).as_ref(),
            Some(&link.claims)
        );
    }
}

struct Fields {
    user_id: String,
    user_name: String,
    user_avatar: String,
    issuer: String,
    prefix: String,
}

fn share_fields(c: &mut Cursor) -> Fields {
    Fields {
        user_id: c.text(USER_IDS),
        user_name: c.text(USER_NAMES),
        user_avatar: c.text(AVATARS),
        issuer: c.text(ISSUERS),
        prefix: c.text(PREFIXES),
    }
}

/// Extra `&k=v` parameters as a host might append them (raw text: the host may not encode).
fn host_suffix(c: &mut Cursor) -> String {
    let mut s = String::new();
    for _ in 0..c.u8() % 3 {
        s.push('&');
        s.push_str(&c.string());
    }
    s
}

fn share_round_trip(c: &mut Cursor) {
    let f = share_fields(c);
    let claims_raw = (c.u8(), c.u48(), c.u48(), c.array::<8>(), c.u32());
    // Any Unicode survives encodeURIComponent / decodeURIComponent.
    for s in [&f.user_id, &f.user_name, &f.user_avatar] {
        assert_eq!(
            share::decode_component(&share::encode_component(s)).as_deref(),
            Some(s.as_str())
        );
    }
    let (Ok(uid), Ok(name), Ok(avatar), Ok(issuer)) = (
        UserId::parse("userId", &f.user_id),
        ids::user_name("userName", &f.user_name),
        ids::user_avatar("userAvatar", &f.user_avatar),
        OpenId::parse("issuer", &f.issuer),
    ) else {
        return;
    };
    if f.prefix.contains('?') {
        return;
    }
    let keys = fixed_keys();
    let key = if claims_raw.0 & 1 == 0 {
        keys.current()
    } else {
        keys.get(1).expect("key 1")
    };
    let claims = Claims {
        issuer,
        issued_at: claims_raw.1,
        expires_at: claims_raw.2,
        nonce: claims_raw.3,
        admin_term: claims_raw.4,
    };
    let subject = Subject {
        user_id: uid.as_str(),
        user_name: &name,
        user_avatar: &avatar,
    };
    let t = ticket::issue(key, &claims, &subject);
    assert!(t.len() <= ticket::MAX_CHARS, "ticket of {} chars", t.len());
    assert!(t
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b)));
    let path = share::build_path(&f.prefix, &subject, &t);
    let q = ShareQuery::from_path(&path);
    assert!(q.page_ok, "{path}");
    let ours: Vec<(&str, &str)> = q
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        ours,
        [
            ("userId", uid.as_str()),
            ("userName", name.as_str()),
            ("userAvatar", avatar.as_str()),
            ("ticket", t.as_str()),
        ]
    );
    let link = share::open(&q, &keys).expect("a built path opens");
    assert_eq!(link.user_id, uid);
    assert_eq!(link.user_name, name);
    assert_eq!(link.user_avatar, avatar);
    assert_eq!(link.claims, claims);
    // Appended host parameters never change what the link says.
    let extended = format!("{path}{}", host_suffix(c));
    assert_eq!(
        share::open(&ShareQuery::from_path(&extended), &keys).as_ref(),
        Some(&link)
    );
    // A key the ring does not hold: invalid.
    assert_eq!(share::open(&q, &keyring(9, [0x5a; 32])), None);
    // Alterations: one character of the path replaced. It may still open (an equivalent
    // escape, a change in the prefix or in an appended parameter), but never as another link.
    for _ in 0..1 + c.u8() % 4 {
        let i = c.u16() as usize;
        let ch = fuzz_char(c);
        if let Some(bad) = replace_char(&path, i, ch) {
            if let Some(other) = share::open(&ShareQuery::from_path(&bad), &keys) {
                assert_eq!(other, link, "altered path {bad:?} opened differently");
            }
        }
    }
}

fn share_through_engine(c: &mut Cursor) {
    let f = share_fields(c);
    let extra = host_suffix(c);
    let app_id = c.text(&["wx0123456789abcdef", "wxABC_-"]);
    let config_v = obj(&[("pluginAppId", Value::Str(app_id))]);
    let Ok(config) = Config::from_value(&config_v) else {
        return;
    };
    let Ok(uid) = UserId::parse("userId", &f.user_id) else {
        return;
    };
    let mut e = Engine::open(config, [7; 32], NullStore, [], NOW).expect("an empty store opens");
    let adm = open_id("oAdmin_1");
    let parent = open_id("oParent_2");
    e.authorize_voip(Some(&adm)).expect("consent");
    e.authorize_voip(Some(&parent)).expect("consent");
    e.bind_admin(
        Some(&adm),
        &obj(&[("userId", Value::str(uid.as_str()))]),
        NOW,
    )
    .expect("first admin");
    let mut args = vec![
        ("userId", Value::str(uid.as_str())),
        ("userName", Value::str(&f.user_name)),
    ];
    if c.bool() {
        args.push(("userAvatar", Value::str(&f.user_avatar)));
    }
    let with_avatar = args.len() == 3;
    let args = obj(&args);
    let name_ok = ids::user_name("n", &f.user_name).is_ok();
    let avatar_ok = !with_avatar || ids::user_avatar("a", &f.user_avatar).is_ok();
    let path = match e.share_path(Some(&adm), &args, NOW) {
        Ok(p) => {
            assert!(name_ok && avatar_ok, "accepted a bad name or avatar");
            p
        }
        Err(err) => {
            assert_eq!(err.code, ErrorCode::InvalidArgument, "{err}");
            assert!(
                !(name_ok && avatar_ok) || err.message.contains("over the limit"),
                "refused good arguments: {err}"
            );
            return;
        }
    };
    assert!(path.len() <= share::MAX_PATH_BYTES);
    assert!(path.starts_with("__plugin__/"));
    let full = format!("{path}{extra}");
    // Inspect as someone else: the page shows exactly the student's fields, status ready.
    let seen = e
        .inspect(Some(&parent), &Value::Str(full.clone()), NOW)
        .expect("inspect takes any string");
    assert_eq!(seen.view.user_id, uid.as_str());
    assert_eq!(seen.view.user_name, f.user_name);
    assert_eq!(
        seen.view.user_avatar,
        if with_avatar { &f.user_avatar[..] } else { "" }
    );
    assert_eq!(seen.status, None);
    // The admin itself is already bound.
    let own = e
        .inspect(Some(&adm), &Value::Str(full.clone()), NOW)
        .unwrap();
    assert_eq!(own.status, Some(BindType::Binded));
    let ev = e
        .accept(Some(&parent), &Value::Str(full), NOW + 1)
        .expect("accept takes any string");
    assert_eq!(ev.kind, BindType::Success);
    assert_eq!(ev.user_id, uid.as_str());
    let rec = e.registry().student(&uid).expect("the student");
    assert!(rec.contains(&parent));
    assert!(rec.check(storage::HARD_MAX_CONTACTS).is_ok());
}

// --- snapshot ------------------------------------------------------------------------------

const KEYS: &[&str] = &[
    "meta",
    "s.00000000000000000000000000000000",
    "c.adm",
    "t.00",
    "",
];

fn checksum(key: &str, body: &[u8]) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update((key.len() as u32).to_be_bytes());
    h.update(key.as_bytes());
    h.update(body);
    let d = h.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// A stored value with a correct checksum around `body` (version and kind included in it).
fn seal(key: &str, body: &[u8]) -> String {
    let mut raw = body.to_vec();
    raw.extend_from_slice(&checksum(key, body));
    b64(&raw)
}

/// A snapshot container around `entries`, with a correct SHA-256.
fn container(version: u8, entries: &[(String, String)]) -> Vec<u8> {
    let mut w = Writer::default();
    w.bytes(b"CVSNAP").u8(version).u32(entries.len() as u32);
    for (k, v) in entries {
        w.str16(k).u32(v.len() as u32).bytes(v.as_bytes());
    }
    let sum = Sha256::digest(&w.buf);
    w.bytes(&sum);
    w.buf
}

/// The value a decoded entry is stored as.
fn encode_entry(e: &Entry) -> String {
    match e {
        Entry::Meta(m) => storage::encode_meta(m),
        Entry::Student(s) => storage::encode_student(s),
        Entry::Consent(o) => storage::encode_change(&Change::Consent {
            open_id: o.clone(),
            granted: true,
        })
        .remove(0)
        .1
        .expect("a granted consent has a value"),
        Entry::Token { id, expires_at } => storage::encode_change(&Change::UseToken {
            id: *id,
            expires_at: *expires_at,
        })
        .remove(0)
        .1
        .expect("a used token has a value"),
        Entry::Call(r) => storage::encode_record(r),
    }
}

/// `decode_entry`'s contract: `STORAGE` or an entry that belongs under `key` and re-encodes to
/// exactly `value`.
fn check_entry(key: &str, value: &str) -> Option<Entry> {
    match storage::decode_entry(key, value) {
        Ok(entry) => {
            let current = unb64(value).is_some_and(|raw| raw[0] == storage::FORMAT_VERSION);
            if current {
                assert_eq!(
                    encode_entry(&entry),
                    value,
                    "decoded {key:?} is not canonical"
                );
            } else {
                // An older format version reads, and rewrites in the current one losslessly.
                let again = storage::decode_entry(key, &encode_entry(&entry)).expect("re-encoded");
                assert_eq!(again, entry, "{key:?} changed when rewritten");
            }
            let expected = match &entry {
                Entry::Meta(_) => storage::META_KEY.to_owned(),
                Entry::Student(s) => {
                    assert!(s.check(storage::HARD_MAX_CONTACTS).is_ok());
                    storage::student_key(&s.user_id)
                }
                Entry::Consent(o) => storage::consent_key(o),
                Entry::Token { id, .. } => storage::token_key(id),
                Entry::Call(r) => storage::call_key(&r.room_id),
            };
            assert_eq!(expected, key);
            Some(entry)
        }
        Err(e) => {
            assert_eq!(e.code, ErrorCode::Storage, "decode_entry: {e}");
            None
        }
    }
}

/// `load`'s contract: `STORAGE`, or every entry decoded, secrets present whenever anything
/// else is, expired tokens reported as stale, and the loaded state re-encoding to the input
/// (minus stale entries) when the input's keys are unique.
fn check_load(entries: &[(String, String)], now: u64) -> Option<Loaded> {
    let loaded = match storage::load(entries.iter().map(|(k, v)| (k.as_str(), v.as_str())), now) {
        Ok(l) => l,
        Err(e) => {
            assert_eq!(e.code, ErrorCode::Storage, "load: {e}");
            return None;
        }
    };
    let mut decoded = Vec::new();
    for (k, v) in entries {
        decoded
            .push(check_entry(k, v).unwrap_or_else(|| panic!("load accepted a bad entry {k:?}")));
    }
    for s in loaded.registry.students() {
        assert!(s.check(storage::HARD_MAX_CONTACTS).is_ok());
    }
    let stale: BTreeSet<&str> = loaded.stale.iter().map(String::as_str).collect();
    assert!(loaded.stale.iter().all(|k| k.starts_with("t.")));
    // Exactly the expired token entries are reported stale (a list may repeat a key: a real
    // store cannot, but `load` takes any list).
    let expired: Vec<&str> = entries
        .iter()
        .zip(&decoded)
        .filter(|(_, e)| matches!(e, Entry::Token { expires_at, .. } if *expires_at <= now))
        .map(|((k, _), _)| k.as_str())
        .collect();
    assert_eq!(loaded.stale.len(), expired.len());
    assert_eq!(stale, expired.iter().copied().collect::<BTreeSet<&str>>());
    let students = decoded
        .iter()
        .filter(|e| matches!(e, Entry::Student(_)))
        .count();
    assert_eq!(loaded.registry.student_count(), students);
    match &loaded.meta {
        None => {
            assert_eq!(loaded.registry.student_count(), 0);
            assert_eq!(loaded.registry.consents().count(), 0);
            assert_eq!(loaded.registry.used_tokens().count(), 0);
            assert!(loaded.stale.is_empty());
        }
        Some(meta) => {
            let keys: BTreeSet<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
            if keys.len() == entries.len() {
                // Older format versions are compared as they rewrite (in the current one).
                let expected: BTreeSet<(String, String)> = entries
                    .iter()
                    .filter(|(k, _)| !stale.contains(k.as_str()))
                    .map(|(k, v)| {
                        let entry = storage::decode_entry(k, v).expect("it loaded");
                        (k.clone(), encode_entry(&entry))
                    })
                    .collect();
                let got: BTreeSet<(String, String)> =
                    storage::entries(Some(meta), &loaded.registry)
                        .into_iter()
                        .collect();
                assert_eq!(
                    got, expected,
                    "loaded state does not re-encode to its input"
                );
            }
        }
    }
    Some(loaded)
}

/// `read_snapshot`'s contract, then `load` on what it read.
fn check_snapshot(data: &[u8], now: u64) {
    match storage::read_snapshot(data) {
        Ok(entries) => {
            // A snapshot that reads is exactly the container of what it read.
            assert_eq!(container(1, &entries), data, "snapshot is not canonical");
            check_load(&entries, now);
        }
        Err(e) => assert_eq!(e.code, ErrorCode::Storage, "read_snapshot: {e}"),
    }
}

/// Stored values and snapshots. Mode (first byte, mod 4): 0 arbitrary snapshot bytes, and an
/// arbitrary key and value for `decode_entry`; 1 an arbitrary snapshot body under a correct
/// SHA-256; 2 entries of arbitrary content under correct checksums; 3 entries built field by
/// field (valid-looking, with fuzz-chosen flaws) under correct checksums. Modes 2 and 3 also
/// round-trip the entries through a snapshot container.
pub fn snapshot(data: &[u8]) {
    let mut c = Cursor::new(data);
    let mode = c.u8() % 4;
    let now = c.u48();
    match mode {
        0 => {
            let key = c.string();
            let value = c.string();
            check_entry(&key, &value);
            check_snapshot(c.rest(), now);
        }
        1 => {
            let version = if c.bool() { 1 } else { c.u8() };
            let mut w = Writer::default();
            w.bytes(b"CVSNAP").u8(version).bytes(c.rest());
            let sum = Sha256::digest(&w.buf);
            w.bytes(&sum);
            check_snapshot(&w.buf, now);
        }
        _ => {
            let n = c.u8() % 8;
            let mut entries = Vec::new();
            for _ in 0..n {
                entries.push(if mode == 2 {
                    raw_entry(&mut c)
                } else {
                    structured_entry(&mut c)
                });
            }
            for (k, v) in &entries {
                check_entry(k, v);
            }
            let direct = check_load(&entries, now);
            // The container round-trips them exactly, and loading them again agrees.
            let snap = container(1, &entries);
            assert_eq!(storage::read_snapshot(&snap).as_ref(), Ok(&entries));
            if let Some(Loaded {
                meta: Some(meta),
                registry,
                ..
            }) = direct
            {
                let direct = Loaded {
                    meta: None,
                    registry,
                    stale: Vec::new(),
                };
                let again = storage::snapshot(Some(&meta), &direct.registry);
                let back = storage::read_snapshot(&again).expect("own snapshot reads");
                let reloaded = check_load(&back, now).expect("own snapshot loads");
                assert_eq!(reloaded.meta.as_ref(), Some(&meta));
                assert!(reloaded.stale.is_empty());
            }
        }
    }
}

fn raw_entry(c: &mut Cursor) -> (String, String) {
    let key = c.text(KEYS);
    let version = if c.bool() {
        storage::FORMAT_VERSION
    } else {
        c.u8()
    };
    let kind = c.u8() % 6;
    let mut body = vec![version, kind];
    body.extend_from_slice(c.raw());
    let value = seal(&key, &body);
    (key, value)
}

fn structured_entry(c: &mut Cursor) -> (String, String) {
    let kind = c.u8() % 4 + 1;
    let mut w = Writer::default();
    w.u8(storage::FORMAT_VERSION).u8(kind);
    let mut key = storage::META_KEY.to_owned();
    match kind {
        1 => {
            w.u48(c.u48());
            for _ in 0..2 {
                let n = c.u8() % 4;
                w.u8(n);
                for _ in 0..n {
                    w.u8(c.u8() % 3).bytes(&[c.u8(); 32]);
                }
            }
        }
        2 => {
            let uid = c.text(USER_IDS);
            if let Ok(u) = UserId::parse("u", &uid) {
                key = storage::student_key(&u);
            }
            w.str16(&uid).u32(c.u32());
            let n = c.u8() % 6;
            let declared = if c.u8() < 230 { n } else { c.u8() };
            w.u8(declared);
            for i in 0..n {
                let role = match c.u8() {
                    0..=200 => u8::from(i == 0),
                    r => r % 3,
                };
                w.str8(short(&c.text(&["adm", "mum", "dad", "adm", "bad id"])))
                    .u8(role)
                    .u48(c.u48());
            }
            // The removal list (format version 2): usually empty, sometimes one entry.
            let removals = c.u8() % 3;
            w.u8(removals.min(1));
            if removals == 1 {
                w.str8(short(&c.text(&["ex", "mum", "bad id"])))
                    .u48(c.u48());
            }
        }
        3 => {
            let o = c.text(&["adm", "mum", "bad id", "é"]);
            if let Ok(id) = OpenId::parse("o", &o) {
                key = storage::consent_key(&id);
            }
            w.str8(short(&o));
        }
        _ => {
            let id: [u8; 12] = c.array();
            key = storage::token_key(&id);
            w.bytes(&id).u48(c.u48());
        }
    }
    // Flaws: a trailing byte, a cut, another key.
    match c.u8() {
        250 => {
            w.u8(0);
        }
        251 => {
            let cut = c.u8() as usize % w.buf.len().max(1);
            w.buf.truncate(cut.max(2));
        }
        252 => key = c.text(KEYS),
        _ => {}
    }
    let value = seal(&key, &w.buf);
    (key, value)
}

// --- stored_entries ------------------------------------------------------------------------

/// Valid entries of two stores (a few students, consents, a used token; different secrets).
fn pool() -> &'static [(String, String)] {
    static POOL: OnceLock<Vec<(String, String)>> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut out = Vec::new();
        for seed in [[1u8; 32], [2u8; 32]] {
            let mut e = Engine::open(Config::default(), seed, BTreeMap::new(), [], NOW)
                .expect("an empty store opens");
            let adm = open_id("oAdmin_1");
            let mum = open_id("oMum_2");
            e.authorize_voip(Some(&adm)).unwrap();
            e.authorize_voip(Some(&mum)).unwrap();
            for s in ["s1", "学生 2"] {
                e.bind_admin(Some(&adm), &obj(&[("userId", Value::str(s))]), NOW)
                    .unwrap();
            }
            let path = e
                .share_path(
                    Some(&adm),
                    &obj(&[
                        ("userId", Value::str("s1")),
                        ("userName", Value::str("小明")),
                    ]),
                    NOW,
                )
                .unwrap();
            let ev = e.accept(Some(&mum), &Value::Str(path), NOW).unwrap();
            assert_eq!(ev.kind, BindType::Success);
            let tok = e
                .issue_voip_token(&obj(&[("userId", Value::str("s1"))]), NOW)
                .unwrap();
            let call = e
                .init_by_caller(
                    "device-1",
                    &call_args("s1", "oMum_2", &tok),
                    Version(2, 4, 0),
                    NOW,
                )
                .unwrap();
            assert!(matches!(call, CallOutcome::Admitted(_)), "{call:?}");
            out.extend(e.store().iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    })
}

/// A map store that logs every write.
struct Logged {
    map: BTreeMap<String, String>,
    log: Rc<RefCell<Vec<String>>>,
}

impl Store for Logged {
    fn put(&mut self, key: &str, value: &str) -> Result<(), String> {
        self.log.borrow_mut().push(format!("put {key}"));
        self.map.insert(key.to_owned(), value.to_owned());
        Ok(())
    }
    fn remove(&mut self, key: &str) -> Result<(), String> {
        self.log.borrow_mut().push(format!("remove {key}"));
        self.map.remove(key);
        Ok(())
    }
}

fn call_args(student: &str, listener: &str, token: &str) -> Value {
    obj(&[
        ("roomType", Value::str("voice")),
        ("caller", obj(&[("id", Value::str(student))])),
        ("listener", obj(&[("id", Value::str(listener))])),
        ("voipToken", Value::str(token)),
    ])
}

/// `Engine::open` on any list of stored entries: `STORAGE` with nothing written, or an engine
/// whose snapshot loads back to the same state and whose operations keep the invariants.
/// Entries are picked from valid ones, mixed, swapped, cut, altered or made up.
pub fn stored_entries(data: &[u8]) {
    let pool = pool();
    let mut c = Cursor::new(data);
    let now = match c.u8() % 4 {
        0 => NOW,
        1 => 0,
        2 => NOW + 400_000, // the used token has expired
        _ => c.u48(),
    };
    let mut entries: Vec<(String, String)> = Vec::new();
    for _ in 0..c.u8() % 12 {
        let i = c.u8() as usize % pool.len();
        let (k, v) = &pool[i];
        entries.push(match c.u8() % 7 {
            0 | 1 => (k.clone(), v.clone()),
            2 => (k.clone(), pool[c.u8() as usize % pool.len()].1.clone()),
            3 => (c.string(), c.string()),
            4 => {
                let cut = c.u8() as usize % (v.len() + 1);
                (k.clone(), v[..cut].to_owned())
            }
            5 => {
                let at = c.u16() as usize;
                let ch = fuzz_char(&mut c);
                (
                    k.clone(),
                    replace_char(v, at, ch).unwrap_or_else(|| v.clone()),
                )
            }
            _ => (c.string(), v.clone()),
        });
    }
    let config = Config {
        max_contacts: 1 + c.u8() as usize % 10,
        ..Config::default()
    };
    let store: BTreeMap<String, String> = entries.iter().cloned().collect();
    let pairs = || entries.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let null = Engine::open(config.clone(), [3; 32], NullStore, pairs(), now);
    let log = Rc::new(RefCell::new(Vec::new()));
    let logged = Logged {
        map: store.clone(),
        log: Rc::clone(&log),
    };
    let opened = Engine::open(config, [3; 32], logged, pairs(), now);
    let mut e = match opened {
        Err(err) => {
            assert_eq!(err.code, ErrorCode::Storage, "open: {err}");
            assert_eq!(null.err().map(|e| e.code), Some(ErrorCode::Storage));
            assert_eq!(
                *log.borrow(),
                Vec::<String>::new(),
                "wrote on a failed open"
            );
            return;
        }
        Ok(e) => {
            assert!(null.is_ok());
            e
        }
    };
    // What the engine wrote: fresh secrets for a store without; expired tokens removed.
    let had_meta = entries.iter().any(|(k, _)| k == storage::META_KEY);
    let written = &e.store().map;
    assert!(written.contains_key(storage::META_KEY));
    if had_meta {
        // Expired tokens go only after the clock that expired them is stored with the secrets.
        let ops = log.borrow();
        let removes = ops.iter().filter(|op| op.starts_with("remove t.")).count();
        if removes > 0 {
            assert_eq!(ops[0], "put meta", "{ops:?}");
        }
        for op in ops.iter().skip(usize::from(removes > 0)) {
            assert!(op.starts_with("remove t."), "{op}");
        }
        for (k, v) in &store {
            if written.get(k) != Some(v) {
                let token_gone = k.starts_with("t.") && !written.contains_key(k);
                assert!(token_gone || k == storage::META_KEY, "{k}");
            }
        }
        assert!(written.len() <= store.len());
    } else {
        assert!(entries.is_empty(), "records without secrets were accepted");
        assert_eq!(*log.borrow(), ["put meta"]);
        assert_eq!(written.len(), 1);
    }
    // The snapshot loads back to the same state.
    let snap = e.snapshot(true);
    let back = storage::read_snapshot(&snap).expect("own snapshot reads");
    let loaded = check_load(&back, now).expect("own snapshot loads");
    assert_eq!(
        loaded.registry.student_count(),
        e.registry().student_count()
    );
    // Operations on whatever was loaded keep the invariants.
    let students: Vec<(UserId, OpenId)> = e
        .registry()
        .students()
        .map(|s| (s.user_id.clone(), s.admin().expect("one admin").clone()))
        .collect();
    let other = open_id("oOther_9");
    e.authorize_voip(Some(&other)).unwrap();
    for (uid, adm) in students {
        let u = Value::str(uid.as_str());
        let list = e.list(Some(&adm), &obj(&[("userId", u.clone())])).unwrap();
        assert_eq!(list.len(), 1);
        if let Ok(path) = e.share_path(
            Some(&adm),
            &obj(&[("userId", u.clone()), ("userName", Value::str("n"))]),
            now,
        ) {
            let ev = e.accept(Some(&other), &Value::Str(path), now).unwrap();
            assert!(
                matches!(
                    ev.kind,
                    BindType::Success | BindType::Overload | BindType::Expire | BindType::Binded
                ),
                "{ev:?}"
            );
        }
        let _ = e.transfer(
            Some(&adm),
            &obj(&[
                ("userId", u.clone()),
                ("newAdminOpenid", Value::str("oOther_9")),
            ]),
        );
        let rec = e.registry().student(&uid).expect("still bound");
        assert!(rec.check(storage::HARD_MAX_CONTACTS).is_ok());
        let _ = e.contact_list(&obj(&[("user_id", u.clone())])).unwrap();
        assert!(e.reset_student(&obj(&[("userId", u)])).unwrap().1);
        assert!(e.registry().student(&uid).is_none());
    }
}

// --- call_request --------------------------------------------------------------------------

const FIELDS: &[&str] = &[
    "roomType",
    "caller",
    "listener",
    "businessType",
    "voipToken",
    "customQuery",
    "timeLimit",
    "miniprogramState",
    "id",
    "name",
    "cameraStatus",
];
const STRINGS: &[&str] = &[
    "voice",
    "video",
    "s1",
    "oMum_2",
    "$TOKEN",
    "formal",
    "trial",
    "developer",
    "",
    "bad id",
    "\u{0}",
    "小明",
];
const NUMBERS: &[f64] = &[
    0.0,
    1.0,
    2.0,
    3.0,
    -1.0,
    0.5,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -0.0,
    1e300,
    9007199254740993.0,
];

fn number(c: &mut Cursor) -> f64 {
    let b = c.u8() as usize;
    NUMBERS
        .get(b)
        .copied()
        .unwrap_or_else(|| f64::from_bits(c.u64()))
}

/// Any loose value, as a binding could hand it over (nesting bounded like the bindings do).
fn value(c: &mut Cursor, depth: usize) -> Value {
    match c.u8() % 12 {
        0 => Value::Missing,
        1 => Value::Null,
        2 => Value::Bool(c.bool()),
        3 => Value::Num(number(c)),
        4 | 5 => Value::Str(c.text(STRINGS)),
        6 if depth < MAX_DEPTH => {
            let n = c.u8() % 5;
            Value::Array((0..n).map(|_| value(c, depth + 1)).collect())
        }
        7 | 8 if depth < MAX_DEPTH => {
            let n = c.u8() % 6;
            Value::Object(
                (0..n)
                    .map(|_| (c.text(FIELDS), value(c, depth + 1)))
                    .collect(),
            )
        }
        9 => Value::Overlong {
            kind: [Kind::String, Kind::Array, Kind::Object][c.u8() as usize % 3],
            len: c.u32() as usize,
        },
        10 => Value::LoneSurrogate,
        _ => Value::Other(["function", "symbol", "bigint", "nested too deep"][c.u8() as usize % 4]),
    }
}

/// A field of a request skeleton: absent, one of its good values, or anything.
fn field(c: &mut Cursor, good: &[Value]) -> Value {
    let b = c.u8();
    match b {
        0..=99 => good[b as usize % good.len()].clone(),
        100..=139 => Value::Missing,
        _ => value(c, 1),
    }
}

fn party(c: &mut Cursor, ids: &[Value]) -> Value {
    match c.u8() {
        0..=199 => {
            let mut props = Vec::new();
            for (k, good) in [
                ("id", ids.to_vec()),
                ("name", vec![Value::str("小明"), Value::Missing]),
                ("cameraStatus", vec![Value::Num(0.0), Value::Num(1.0)]),
            ] {
                let v = field(c, &good);
                if !v.is_missing() || c.bool() {
                    props.push((k.to_owned(), v));
                }
            }
            Value::Object(props)
        }
        _ => value(c, 1),
    }
}

fn request(c: &mut Cursor) -> Value {
    if c.u8() >= 200 {
        return value(c, 0);
    }
    let mut props = vec![
        (
            "roomType",
            field(c, &[Value::str("voice"), Value::str("video")]),
        ),
        ("caller", party(c, &[Value::str("s1"), Value::str("s2")])),
        (
            "listener",
            party(c, &[Value::str("oMum_2"), Value::str("oDad_3")]),
        ),
        (
            "businessType",
            field(c, &[Value::Num(0.0), Value::Num(3.0), Value::Num(1.0)]),
        ),
        ("voipToken", field(c, &[Value::str("$TOKEN")])),
        ("customQuery", field(c, &[Value::str("a=1&b=2")])),
        ("timeLimit", field(c, &[Value::Num(60.0)])),
        (
            "miniprogramState",
            field(c, &[Value::str("formal"), Value::str("trial")]),
        ),
    ];
    props.retain(|(_, v)| !v.is_missing());
    let mut v = Value::Object(props.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
    // Extra or duplicate properties.
    if let Value::Object(p) = &mut v {
        for _ in 0..c.u8() % 3 {
            p.push((c.text(FIELDS), value(c, 1)));
        }
    }
    v
}

/// Replaces every `"$TOKEN"` string by `token`.
fn with_token(v: &Value, token: &str) -> Value {
    match v {
        Value::Str(s) if s == "$TOKEN" => Value::str(token),
        Value::Array(items) => Value::Array(items.iter().map(|i| with_token(i, token)).collect()),
        Value::Object(props) => Value::Object(
            props
                .iter()
                .map(|(k, i)| (k.clone(), with_token(i, token)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn compat(c: &mut Cursor) -> Version {
    match c.u8() % 5 {
        0 | 1 => Version(2, 4, 0),
        2 => Version(2, 3, 7),
        3 => Version(2, 3, 8),
        _ => {
            let s = c.text(&["2.3.8", "2.3.10", "1.0.0", "2..8", "65535.65535.65535"]);
            match Version::parse("compatVersion", &s) {
                Ok(v) => {
                    let shown = format!("{}.{}.{}", v.0, v.1, v.2);
                    assert_eq!(Version::parse("compatVersion", &shown), Ok(v));
                    v
                }
                Err(e) => {
                    assert_eq!(e.code, ErrorCode::InvalidArgument);
                    Version(c.u16(), c.u16(), c.u16())
                }
            }
        }
    }
}

/// `initByCaller` requests: `check_request` on a loose value tree, then the whole call through
/// an engine (student `s1` with `oMum_2` consented and bound, `oDad_3` neither, a real token
/// wherever the request says `"$TOKEN"`, and maybe a call already in progress).
pub fn call_request(data: &[u8]) {
    let mut c = Cursor::new(data);
    let compat = compat(&mut c);
    let busy = c.bool();
    let template = request(&mut c);

    let mut e = Engine::open(Config::default(), [5; 32], NullStore, [], NOW).unwrap();
    let mum = open_id("oMum_2");
    e.authorize_voip(Some(&mum)).unwrap();
    e.bind_admin(Some(&mum), &obj(&[("userId", Value::str("s1"))]), NOW)
        .unwrap();
    let slot = "device-1";
    if busy {
        let t = e
            .issue_voip_token(&obj(&[("userId", Value::str("s1"))]), NOW)
            .unwrap();
        let first = e
            .init_by_caller(slot, &call_args("s1", "oMum_2", &t), compat, NOW)
            .unwrap();
        assert!(matches!(first, CallOutcome::Admitted(_)));
    }
    let token = e
        .issue_voip_token(&obj(&[("userId", Value::str("s1"))]), NOW)
        .unwrap();
    let args = with_token(&template, &token);

    let checked = call::check_request(&args, compat);
    assert_eq!(checked, call::check_request(&args, compat), "deterministic");
    match &checked {
        Ok(req) => {
            assert!(matches!(args, Value::Object(_)));
            let room = match req.room_type {
                RoomType::Voice => "voice",
                RoomType::Video => "video",
            };
            assert_eq!(args.get("roomType"), &Value::str(room));
            assert_eq!(
                args.get("caller").get("id"),
                &Value::str(req.caller_id.as_str())
            );
            assert_eq!(
                args.get("listener").get("id"),
                &Value::str(req.listener_id.as_str())
            );
            assert!(req.business_type == 0 || req.business_type == 3);
            if req.business_type == 3 {
                assert!(compat >= call::LICENSE_MODE_SINCE);
                assert_eq!(req.charge_type(), ChargeType::License);
            } else {
                assert_eq!(req.charge_type(), ChargeType::Duration);
            }
            assert!(!req.voip_token.is_empty());
            assert_eq!(args.get("voipToken"), &Value::str(&req.voip_token));
            if let Some(t) = req.time_limit {
                assert!(t.is_finite() && t > 0.0);
            }
            if let Some(q) = &req.custom_query {
                assert!(q.len() <= 1024 && !q.chars().any(char::is_control));
            }
            for n in [&req.caller_name, &req.listener_name].into_iter().flatten() {
                assert!(ids::user_name("name", n).is_ok());
            }
            assert!(req.caller_camera <= 1 && req.listener_camera <= 1);
            assert!(["formal", "trial", "developer"].contains(&req.miniprogram_state));
        }
        Err(err) => {
            assert!(
                [20, 1001, 1004, 1011].contains(&err.err_code()),
                "check_request: {err}"
            );
        }
    }

    // The same request through the engine: thrown errors first, then busy, then the
    // backend's refusals.
    let outcome = e.init_by_caller(slot, &args, compat, NOW + 1);
    match (&checked, &outcome) {
        (Err(a), Err(b)) => assert_eq!(a, b),
        (Err(a), Ok(o)) => panic!("check_request threw {a} but the call went on: {o:?}"),
        (Ok(_), Err(b)) => {
            assert!(busy, "{b}");
            assert_eq!(b.code, ErrorCode::Busy);
        }
        (Ok(req), Ok(CallOutcome::Refused(r))) => {
            assert!(!busy);
            assert!([4, 8, 9].contains(&r.err_code()), "refused: {r}");
            let admissible =
                req.voip_token == token && req.caller_id.as_str() == "s1" && req.listener_id == mum;
            assert!(!admissible, "a good call was refused: {r}");
        }
        (Ok(req), Ok(CallOutcome::Admitted(d))) => {
            let charge_type = &d.call.charge_type();
            assert!(!busy);
            assert_eq!(req.voip_token, token);
            assert_eq!(req.caller_id.as_str(), "s1");
            assert_eq!(req.listener_id, mum);
            assert_eq!(*charge_type, req.charge_type());
            // Single use.
            match e.init_by_caller("device-2", &args, compat, NOW + 2) {
                Ok(CallOutcome::Refused(r)) => assert_eq!(r.err_code(), 4),
                other => panic!("a used token was accepted again: {other:?}"),
            }
        }
    }
    let all = [4, 8, 9, 20, 1001, 1004, 1005, 1011];
    match outcome {
        Err(err) | Ok(CallOutcome::Refused(err)) => assert!(all.contains(&err.err_code())),
        Ok(CallOutcome::Admitted(_)) => {}
    }
}

// --- voip_token ----------------------------------------------------------------------------

/// Face-pay tokens (and the ticket parser on the same text). Mode (first byte, mod 3): 0 an
/// arbitrary string, which verifies only if it is exactly what `issue` makes; 1 a token issued
/// from fuzz-chosen claims, bound to its student, key and time, and invalid once altered; 2 an
/// arbitrary or altered token through the engine's `initByCaller`.
pub fn voip_token(data: &[u8]) {
    let mut c = Cursor::new(data);
    match c.u8() % 3 {
        0 => {
            let now = c.u48();
            let uid = c.text(&["s1", "学生"]);
            let text = String::from_utf8_lossy(c.rest()).into_owned();
            token_arbitrary(&text, &uid, now);
        }
        1 => token_round_trip(&mut c),
        _ => token_through_engine(&mut c),
    }
}

fn token_arbitrary(text: &str, uid: &str, now: u64) {
    let keys = fixed_keys();
    let Ok(uid) = UserId::parse("userId", uid) else {
        return;
    };
    match token::verify(&keys, text, &uid, now) {
        Ok(claims) => {
            assert!(now < claims.expires_at);
            assert!(
                reissues(&keys, text, &uid, &claims),
                "forged token {text:?}"
            );
        }
        Err(Rejection::Expired) => {
            // Only a genuine token can be told apart as expired.
            assert!(now >= 1);
            if let Ok(claims) = token::verify(&keys, text, &uid, 0) {
                assert!(now >= claims.expires_at);
                assert!(
                    reissues(&keys, text, &uid, &claims),
                    "forged token {text:?}"
                );
            } else {
                assert_eq!(token::verify(&keys, text, &uid, 0), Err(Rejection::Expired));
            }
        }
        Err(Rejection::Invalid) => {}
        Err(Rejection::Reused) => panic!("verify never says reused"),
    }
    let subject = Subject {
        user_id: uid.as_str(),
        user_name: "小明",
        user_avatar: "",
    };
    if let Some(claims) = ticket::verify(&keys, text, &subject) {
        let kid = campus_voip::codec::unb64(text).expect("base64")[1];
        let again = ticket::issue(keys.get(kid).expect("known key"), &claims, &subject);
        assert_eq!(again, text, "forged ticket");
    }
}

fn reissues(keys: &Keyring, text: &str, uid: &UserId, claims: &TokenClaims) -> bool {
    keys.keys()
        .iter()
        .any(|k| token::issue(k, uid, claims) == text)
}

fn token_round_trip(c: &mut Cursor) {
    let uid = c.text(&["s1", "学生 &=?1", "s2"]);
    let Ok(uid) = UserId::parse("userId", &uid) else {
        return;
    };
    let key = Key::new(c.u8(), c.array());
    let claims = TokenClaims {
        issued_at: c.u48(),
        expires_at: c.u48(),
        nonce: c.array(),
    };
    let now = c.u48();
    let ring = Keyring::new(key.clone());
    let t = token::issue(&key, &uid, &claims);
    assert_eq!(t.len(), 56);
    let expected = if now < claims.expires_at {
        Ok(claims.clone())
    } else {
        Err(Rejection::Expired)
    };
    assert_eq!(token::verify(&ring, &t, &uid, now), expected);
    assert_eq!(
        token::verify(&ring, &t, &uid, claims.expires_at.saturating_sub(1)),
        if claims.expires_at == 0 {
            Err(Rejection::Expired)
        } else {
            Ok(claims.clone())
        }
    );
    // Another student, another key id, another secret: invalid.
    let other = user_id(if uid.as_str() == "zz" { "zy" } else { "zz" });
    assert_eq!(
        token::verify(&ring, &t, &other, now),
        Err(Rejection::Invalid)
    );
    let wrong_id = keyring(key.id.wrapping_add(1), key.secret);
    assert_eq!(
        token::verify(&wrong_id, &t, &uid, now),
        Err(Rejection::Invalid)
    );
    let mut secret = key.secret;
    secret[c.u8() as usize % 32] ^= 1 << (c.u8() % 8);
    assert_eq!(
        token::verify(&keyring(key.id, secret), &t, &uid, now),
        Err(Rejection::Invalid)
    );
    // Any altered character: invalid (base64url is strict, every byte is signed).
    for _ in 0..1 + c.u8() % 4 {
        let i = c.u16() as usize;
        let ch = fuzz_char(c);
        if let Some(bad) = replace_char(&t, i, ch) {
            assert_eq!(
                token::verify(&ring, &bad, &uid, now),
                Err(Rejection::Invalid),
                "{bad}"
            );
        }
    }
    // A token is not a ticket.
    let subject = Subject {
        user_id: uid.as_str(),
        user_name: "n",
        user_avatar: "",
    };
    assert_eq!(ticket::verify(&ring, &t, &subject), None);
}

fn token_through_engine(c: &mut Cursor) {
    let mut e = Engine::open(Config::default(), [6; 32], NullStore, [], NOW).unwrap();
    let mum = open_id("oMum_2");
    e.authorize_voip(Some(&mum)).unwrap();
    e.bind_admin(Some(&mum), &obj(&[("userId", Value::str("s1"))]), NOW)
        .unwrap();
    let real = e
        .issue_voip_token(&obj(&[("userId", Value::str("s1"))]), NOW)
        .unwrap();
    let text = match c.u8() % 3 {
        0 => String::from_utf8_lossy(c.rest()).into_owned(),
        1 => {
            let i = c.u16() as usize;
            let ch = fuzz_char(c);
            replace_char(&real, i, ch).unwrap_or_else(|| format!("{real}A"))
        }
        _ => {
            let cut = c.u8() as usize % (real.len() + 1);
            format!("{}{}", &real[..cut], String::from_utf8_lossy(c.rest()))
        }
    };
    let at = NOW + c.u32() as u64;
    let out = e.init_by_caller(
        "device-1",
        &call_args("s1", "oMum_2", &text),
        Version(2, 4, 0),
        at,
    );
    match out {
        Err(err) => {
            assert!(text.is_empty(), "{err}");
            assert_eq!(err.code, ErrorCode::VoipTokenMissing);
        }
        Ok(CallOutcome::Refused(r)) => {
            assert_eq!(r.code, ErrorCode::BadVoipToken, "{r}");
            assert!(text != real || at >= NOW + token::DEFAULT_TTL_MS);
        }
        Ok(CallOutcome::Admitted(_)) => {
            assert_eq!(text, real, "a token that was not issued was admitted");
            assert!(at < NOW + token::DEFAULT_TTL_MS);
        }
    }
}

// --- seeds ---------------------------------------------------------------------------------

/// Hand-made inputs per target: `(target, name, bytes)`.
pub fn seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut out = Vec::new();

    // share_path
    let good_path = {
        let keys = fixed_keys();
        let subject = Subject {
            user_id: "s1",
            user_name: "小明",
            user_avatar: "https://img/a.png",
        };
        let claims = Claims {
            issuer: open_id("adm"),
            issued_at: NOW,
            expires_at: NOW + 1000,
            nonce: [1; 8],
            admin_term: 7,
        };
        share::build_path(
            "__plugin__/wx1/",
            &subject,
            &ticket::issue(keys.current(), &claims, &subject),
        )
    };
    out.push((
        "share_path",
        "valid_path",
        Seed::default().u8(0).bytes(good_path.as_bytes()).0,
    ));
    out.push((
        "share_path",
        "bad_escapes",
        Seed::default()
            .u8(1)
            .bytes(b"userId=%E5%B0&userName=%zz&userAvatar=&ticket=AAAA&&=&%")
            .0,
    ));
    out.push((
        "share_path",
        "round_trip_dict",
        Seed::default()
            .u8(2)
            .dict(1)
            .dict(1)
            .dict(1)
            .dict(0)
            .dict(1)
            .u8(0)
            .u48(NOW)
            .u48(NOW + 1000)
            .bytes(&[9; 8])
            .u32(42)
            .u8(1)
            .string("from=group&x=%E4")
            .u8(2)
            .u16(70)
            .u8(5)
            .u16(3)
            .u8(4)
            .0,
    ));
    out.push((
        "share_path",
        "round_trip_literal",
        Seed::default()
            .u8(2)
            .text("学生/😀")
            .text("名字 with spaces")
            .text("wxfile://a%20b")
            .text("o_1")
            .text("")
            .u8(1)
            .u48(0)
            .u48(U48_MAX)
            .bytes(&[0; 8])
            .u32(0)
            .0,
    ));
    out.push((
        "share_path",
        "engine",
        Seed::default()
            .u8(3)
            .dict(0)
            .dict(0)
            .dict(1)
            .dict(0)
            .dict(0)
            .u8(1)
            .string("k=v")
            .dict(0)
            .u8(1)
            .0,
    ));
    out.push((
        "share_path",
        "engine_too_long",
        Seed::default()
            .u8(3)
            .text(&"学".repeat(42))
            .text(&"名".repeat(64))
            .text(&format!("https://{}", "%".repeat(300)))
            .dict(0)
            .dict(0)
            .u8(0)
            .dict(0)
            .u8(1)
            .0,
    ));

    // snapshot
    let real_snapshot = {
        let mut e = Engine::open(Config::default(), [1; 32], NullStore, [], NOW).unwrap();
        let adm = open_id("adm");
        e.authorize_voip(Some(&adm)).unwrap();
        e.bind_admin(Some(&adm), &obj(&[("userId", Value::str("s1"))]), NOW)
            .unwrap();
        e.snapshot(true)
    };
    out.push((
        "snapshot",
        "real_snapshot",
        Seed::default()
            .u8(0)
            .u48(NOW)
            .string("meta")
            .string("AQE")
            .bytes(&real_snapshot)
            .0,
    ));
    out.push((
        "snapshot",
        "container_counts",
        Seed::default()
            .u8(1)
            .u48(NOW)
            .u8(1)
            .u32(3)
            .u16(4)
            .bytes(b"meta")
            .u32(0xffff_ffff)
            .0,
    ));
    out.push((
        "snapshot",
        "raw_entries",
        Seed::default()
            .u8(2)
            .u48(NOW)
            .u8(3)
            .dict(0)
            .u8(1)
            .u8(1)
            .raw(&[0, 0, 0, 0, 0, 1, 1, 1])
            .dict(1)
            .u8(1)
            .u8(2)
            .raw(&[0, 2, b's', b'1', 0, 0, 0, 0, 200])
            .dict(4)
            .u8(0)
            .u8(7)
            .u8(9)
            .raw(b"")
            .0,
    ));
    let mut structured = Seed::default().u8(3).u48(NOW).u8(5);
    // meta: created_at, ticket ring (1 key id 1), token ring (1 key id 2)
    structured = structured
        .u8(0)
        .u48(5)
        .u8(1)
        .u8(1)
        .u8(0x11)
        .u8(1)
        .u8(2)
        .u8(0x22)
        .u8(0);
    // student s1: admin adm, ordinary mum
    structured = structured
        .u8(1)
        .dict(0)
        .u32(77)
        .u8(2)
        .u8(0)
        .u8(0)
        .dict(0)
        .u48(10)
        .u8(0)
        .dict(1)
        .u48(11)
        .u8(0);
    // consent adm, token
    structured = structured
        .u8(2)
        .dict(0)
        .u8(0)
        .u8(3)
        .bytes(&[9; 12])
        .u48(NOW + 5)
        .u8(0);
    // a second student with two admins
    structured = structured
        .u8(1)
        .dict(1)
        .u32(1)
        .u8(2)
        .u8(0)
        .u8(255)
        .dict(0)
        .u48(1)
        .u8(201)
        .dict(2)
        .u48(2)
        .u8(0);
    out.push(("snapshot", "structured_entries", structured.0.clone()));
    // The same without the broken student: loads.
    let mut ok = structured.0;
    ok[7] = 4;
    out.push(("snapshot", "structured_ok", ok));

    // stored_entries
    out.push((
        "stored_entries",
        "all_valid",
        Seed::default()
            .u8(0)
            .u8(11)
            .bytes(&[0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0])
            .u8(9)
            .0,
    ));
    out.push((
        "stored_entries",
        "expired_token",
        Seed::default()
            .u8(2)
            .u8(6)
            .bytes(&[0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0])
            .u8(0)
            .0,
    ));
    out.push((
        "stored_entries",
        "mixed",
        Seed::default()
            .u8(3)
            .u48(NOW)
            .u8(5)
            .bytes(&[6, 0, 2, 6, 2])
            .bytes(&[7, 4, 17])
            .bytes(&[1, 5])
            .u16(3)
            .u8(0)
            .bytes(&[3, 3])
            .string("c.x")
            .string("AAAA")
            .bytes(&[8, 6])
            .string("s.zz")
            .0,
    ));
    out.push((
        "stored_entries",
        "no_meta",
        Seed::default().u8(0).u8(2).bytes(&[1, 0, 2, 0]).0,
    ));

    // call_request
    // All zeros (or nothing) is a complete good request.
    out.push(("call_request", "good_call", vec![0; 20]));
    out.push(("call_request", "busy", Seed::default().u8(0).u8(1).0));
    // compat 2.3.7, businessType 3: NOT_SUPPORTED.
    out.push((
        "call_request",
        "license_old",
        Seed::default()
            .u8(2)
            .u8(0)
            .bytes(&[0; 10])
            .u8(1)
            .bytes(&[0; 5])
            .0,
    ));
    // Optional fields absent, the token presented for another student (refused with 4).
    out.push((
        "call_request",
        "other_student",
        Seed::default()
            .u8(0)
            .u8(0)
            .u8(0)
            .u8(1)
            .u8(0)
            .u8(1)
            .u8(100)
            .u8(0)
            .u8(100)
            .u8(1)
            .u8(0)
            .u8(1)
            .bytes(&[100, 0, 100, 0])
            .u8(100)
            .u8(0)
            .bytes(&[100, 100, 100])
            .u8(0)
            .0,
    ));
    out.push((
        "call_request",
        "loose_tree",
        Seed::default()
            .u8(4)
            .text("2.3.8")
            .u8(0)
            .u8(200)
            .u8(7)
            .u8(4)
            .dict(0)
            .u8(4)
            .dict(1)
            .dict(1)
            .u8(7)
            .u8(1)
            .dict(8)
            .u8(3)
            .u8(6)
            .dict(3)
            .u8(9)
            .u8(0)
            .u32(100_000)
            .dict(4)
            .u8(10)
            .0,
    ));
    out.push((
        "call_request",
        "bad_version",
        Seed::default().u8(4).dict(3).u16(2).u16(3).u16(8).u8(0).0,
    ));

    // voip_token
    let good_token = token::issue(
        fixed_keys().current(),
        &user_id("s1"),
        &TokenClaims {
            issued_at: NOW,
            expires_at: NOW + token::DEFAULT_TTL_MS,
            nonce: [3; 12],
        },
    );
    out.push((
        "voip_token",
        "valid",
        Seed::default()
            .u8(0)
            .u48(NOW)
            .dict(0)
            .bytes(good_token.as_bytes())
            .0,
    ));
    out.push((
        "voip_token",
        "expired",
        Seed::default()
            .u8(0)
            .u48(NOW + token::DEFAULT_TTL_MS)
            .dict(0)
            .bytes(good_token.as_bytes())
            .0,
    ));
    out.push((
        "voip_token",
        "garbage",
        Seed::default().u8(0).u48(0).dict(1).bytes(b"+/==AAAA%%").0,
    ));
    out.push((
        "voip_token",
        "round_trip",
        Seed::default()
            .u8(1)
            .dict(1)
            .u8(7)
            .bytes(&[0x42; 32])
            .u48(NOW)
            .u48(NOW + 1)
            .bytes(&[1; 12])
            .u48(NOW)
            .u8(3)
            .u8(5)
            .u8(2)
            .u16(10)
            .u8(0)
            .0,
    ));
    out.push((
        "voip_token",
        "engine_altered",
        Seed::default().u8(2).u8(1).u16(30).u8(3).u32(0).0,
    ));
    out.push((
        "voip_token",
        "engine_cut",
        Seed::default().u8(2).u8(2).u8(20).bytes(b"AAAA").0,
    ));
    out.push((
        "voip_token",
        "engine_real",
        Seed::default().u8(2).u8(2).u8(56).0,
    ));
    out
}
