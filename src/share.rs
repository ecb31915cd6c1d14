//! Share links and the bind-contact page's outcomes (SPEC §3.4, §4): building the path the
//! administrator shares, parsing it back exactly as the Mini Program's query parser
//! (`decodeURIComponent`) would, and deciding the outcome in the spec's order.

use crate::ids::{self, Millis, OpenId, UserId};
use crate::keys::Keyring;
use crate::registry::{Contact, Role, StudentRecord};
use crate::ticket::{self, Claims, Subject};

/// The plugin page a share path opens.
pub const PAGE: &str = "pages/bind-contact/bind-contact";
/// Longest share path `getBindContactPath` returns.
pub const MAX_PATH_BYTES: usize = 1024;

/// `encodeURIComponent`: every byte but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` as `%XX`. (By hand:
/// the `percent-encoding` crate brings a 768-byte `%00`…`%FF` table into the wasm.)
pub fn encode_component(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

/// `decodeURIComponent`; `None` where it would throw (a `%` not followed by two hex digits,
/// or bytes that are not UTF-8).
pub fn decode_component(s: &str) -> Option<String> {
    let hex = |b: Option<&u8>| (char::from(*b?)).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let v = hex(bytes.get(i + 1))? << 4 | hex(bytes.get(i + 2))?;
            out.push(v as u8);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Builds `<prefix>pages/bind-contact/bind-contact?userId=…&userName=…&userAvatar=…&ticket=…`.
pub fn build_path(prefix: &str, subject: &Subject, ticket: &str) -> String {
    crate::cat!(
        prefix,
        PAGE,
        "?userId=",
        encode_component(subject.user_id),
        "&userName=",
        encode_component(subject.user_name),
        "&userAvatar=",
        encode_component(subject.user_avatar),
        "&ticket=",
        ticket
    )
}

/// `s` before and after the first `sep` (an ASCII byte, so both sides are whole characters).
fn split_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

/// The decoded query of a share link (all parameters, the host's extra ones included).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShareQuery {
    /// The path named the bind-contact page (always true for a query handed over by the page).
    pub page_ok: bool,
    pub params: Vec<(String, String)>,
}

impl ShareQuery {
    /// Parses a share path. Parameters whose name or value would not decode are dropped;
    /// if one of ours is among them the link is `invalid` because it is then missing.
    pub fn from_path(path: &str) -> ShareQuery {
        // Split at ASCII bytes: the same pieces as `split_once('?')` / `split('&')`, without a
        // char searcher in the wasm.
        let (page, query) = split_byte(path, b'?').unwrap_or((path, ""));
        let slashes = page.bytes().take_while(|&b| b == b'/').count();
        let page_ok = page[slashes..].ends_with(PAGE);
        let mut params = Vec::new();
        let mut rest = Some(query);
        while let Some(s) = rest {
            let kv;
            (kv, rest) = match split_byte(s, b'&') {
                Some((kv, more)) => (kv, Some(more)),
                None => (s, None),
            };
            if kv.is_empty() {
                continue;
            }
            let (k, v) = split_byte(kv, b'=').unwrap_or((kv, ""));
            if let (Some(k), Some(v)) = (decode_component(k), decode_component(v)) {
                params.push((k, v));
            }
        }
        ShareQuery { page_ok, params }
    }

    /// The first value of a parameter (the plugin writes its own before any the host appends).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A verified share link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub user_id: UserId,
    pub user_name: String,
    pub user_avatar: String,
    pub claims: Claims,
}

/// Verifies a query: our four parameters present and well-formed, and the ticket's tag
/// matching them. `None` is the outcome `invalid` (row 1).
pub fn open(q: &ShareQuery, keys: &Keyring) -> Option<Link> {
    if !q.page_ok {
        return None;
    }
    let user_id = UserId::parse("userId", q.get("userId")?).ok()?;
    let user_name = ids::user_name("userName", q.get("userName")?).ok()?;
    let user_avatar = ids::user_avatar("userAvatar", q.get("userAvatar")?).ok()?;
    let subject = Subject {
        user_id: user_id.as_str(),
        user_name: &user_name,
        user_avatar: &user_avatar,
    };
    let claims = ticket::verify(keys, q.get("ticket")?, &subject)?;
    Some(Link {
        user_id,
        user_name,
        user_avatar,
        claims,
    })
}

/// The `type` of a `bindContact` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BindType {
    Success,
    Unbind,
    Binded,
    Expire,
    Overload,
    Invalid,
    Auth,
    Cancel,
}

impl BindType {
    pub const ALL: [BindType; 8] = [
        BindType::Success,
        BindType::Unbind,
        BindType::Binded,
        BindType::Expire,
        BindType::Overload,
        BindType::Invalid,
        BindType::Auth,
        BindType::Cancel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BindType::Success => "success",
            BindType::Unbind => "unbind",
            BindType::Binded => "binded",
            BindType::Expire => "expire",
            BindType::Overload => "overload",
            BindType::Invalid => "invalid",
            BindType::Auth => "auth",
            BindType::Cancel => "cancel",
        }
    }

    /// The event's `errMsg`: `bindContact:ok`, or `bindContact:fail <what happened>`.
    pub fn err_msg(self) -> &'static str {
        match self {
            BindType::Success => "bindContact:ok",
            BindType::Unbind => "bindContact:fail the student has no contacts any more; ask for a new link",
            BindType::Binded => "bindContact:fail you are already a contact of this student",
            BindType::Expire => "bindContact:fail the share link has expired; ask the administrator for a new one",
            BindType::Overload => "bindContact:fail the student already has the maximum number of contacts",
            BindType::Invalid => "bindContact:fail the share link is not valid (altered, or its sender is no longer the administrator)",
            BindType::Auth => "bindContact:fail VoIP call permission (scope.voip) was not granted",
            BindType::Cancel => "bindContact:fail you declined the binding",
        }
    }
}

/// Rows 1–6 of the outcome table: the first that applies, or `None` when the page may ask for
/// consent (`'ready'`).
pub fn precheck(
    link: Option<&Link>,
    record: Option<&StudentRecord>,
    actor: &OpenId,
    now: Millis,
    max_contacts: usize,
) -> Option<BindType> {
    let Some(link) = link else {
        return Some(BindType::Invalid);
    };
    if now >= link.claims.expires_at {
        return Some(BindType::Expire);
    }
    let Some(record) = record else {
        return Some(BindType::Unbind);
    };
    if !record.is_admin(&link.claims.issuer) || record.admin_term != link.claims.admin_term {
        return Some(BindType::Invalid);
    }
    // Row 4b: a deleted contact cannot rejoin with a link from before the removal.
    if record
        .removed_at(actor)
        .is_some_and(|at| link.claims.issued_at < at)
    {
        return Some(BindType::Invalid);
    }
    if record.contains(actor) {
        return Some(BindType::Binded);
    }
    if record.contacts.len() >= max_contacts {
        return Some(BindType::Overload);
    }
    None
}

/// Accepting a link: the outcome and, on success, the student's new record.
pub fn accept(
    link: Option<&Link>,
    record: Option<&StudentRecord>,
    actor: &OpenId,
    consented: bool,
    now: Millis,
    max_contacts: usize,
) -> (BindType, Option<StudentRecord>) {
    if let Some(blocked) = precheck(link, record, actor, now, max_contacts) {
        return (blocked, None);
    }
    if !consented {
        return (BindType::Auth, None);
    }
    // precheck returned None, so both are present.
    let Some(mut next) = record.cloned() else {
        return (BindType::Unbind, None);
    };
    next.contacts.push(Contact {
        open_id: actor.clone(),
        role: Role::Ordinary,
        bound_at: now,
    });
    // Back as a contact: a later deletion records its own time.
    next.removed.retain(|r| &r.open_id != actor);
    (BindType::Success, Some(next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Key;

    /// The hand-written `encodeURIComponent` / `decodeURIComponent` give what the
    /// `percent-encoding` crate did (a dev-dependency for this comparison).
    #[test]
    fn components_match_the_percent_encoding_crate() {
        use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet};
        const COMPONENT: &AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'!')
            .remove(b'~')
            .remove(b'*')
            .remove(b'\'')
            .remove(b'(')
            .remove(b')');
        fn reference(s: &str) -> Option<String> {
            let bytes = s.as_bytes();
            for (i, b) in bytes.iter().enumerate() {
                if *b == b'%'
                    && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                        && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
                {
                    return None;
                }
            }
            percent_decode_str(s)
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        }
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("é学😀\u{85}\u{ffff}");
        let enc: String = utf8_percent_encode(&all, COMPONENT).collect();
        assert_eq!(encode_component(&all), enc);
        assert_eq!(decode_component(&enc).as_deref(), Some(all.as_str()));
        for c in all.chars() {
            let one = c.to_string();
            assert_eq!(
                encode_component(&one),
                utf8_percent_encode(&one, COMPONENT).to_string()
            );
        }
        // Every text of up to 4 characters over escapes, hex digits of both cases and others.
        let alphabet = ['%', '0', '9', 'a', 'F', 'g', 'C', '3', 'A', 'e', '+', 'é'];
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = texts
                .iter()
                .flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}")))
                .collect();
            texts.extend(longer);
        }
        texts.extend(
            [
                "%C3%A9",
                "%c3%a9",
                "%C3",
                "%FF",
                "%E5%AD%A6",
                "%F0%9F%98%80x",
                "%ED%A0%80",
            ]
            .map(String::from),
        );
        for t in &texts {
            assert_eq!(decode_component(t), reference(t), "{t:?}");
        }
    }

    #[test]
    fn from_path_splits_as_str_split_does() {
        // The splitting before it was done byte-wise, as the reference.
        fn reference(path: &str) -> ShareQuery {
            let (page, query) = path.split_once('?').unwrap_or((path, ""));
            let params = query
                .split('&')
                .filter(|kv| !kv.is_empty())
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    Some((decode_component(k)?, decode_component(v)?))
                })
                .collect();
            ShareQuery {
                page_ok: page.trim_start_matches('/').ends_with(PAGE),
                params,
            }
        }
        for path in [
            "",
            "?",
            "&",
            "pages/bind-contact/bind-contact",
            "//pages/bind-contact/bind-contact?a=1&&b=2&",
            "/x/pages/bind-contact/bind-contact?a=1?b&c==d&=e&f",
            "pages/bind-contact/bind-contact/?a=%E5%B0%8F&b=%E4&c=%zz&%41=%42",
            "小明?小=明&明",
            "?&&&=&==&a",
        ] {
            assert_eq!(ShareQuery::from_path(path), reference(path), "{path}");
        }
    }

    #[test]
    fn component_encoding_matches_encode_uri_component() {
        // Expected values computed with JavaScript's encodeURIComponent.
        let cases = [
            ("abcXYZ019-_.!~*'()", "abcXYZ019-_.!~*'()"),
            (" ", "%20"),
            ("&=?#/+%", "%26%3D%3F%23%2F%2B%25"),
            ("小明", "%E5%B0%8F%E6%98%8E"),
            ("😀", "%F0%9F%98%80"),
            ("https://a/b.png?x=1", "https%3A%2F%2Fa%2Fb.png%3Fx%3D1"),
        ];
        for (raw, enc) in cases {
            assert_eq!(encode_component(raw), enc);
            assert_eq!(decode_component(enc).as_deref(), Some(raw));
        }
        // decodeURIComponent does not turn '+' into a space, and throws on bad escapes.
        assert_eq!(decode_component("a+b").as_deref(), Some("a+b"));
        for bad in ["%", "%2", "%zz", "%E5%B0", "%FF"] {
            assert_eq!(decode_component(bad), None, "{bad}");
        }
    }

    #[test]
    fn path_parsing_keeps_extra_params_and_first_values() {
        let q = ShareQuery::from_path(
            "__plugin__/wx1/pages/bind-contact/bind-contact?userId=a%26b&userName=%E5%B0%8F&userAvatar=&ticket=T&userId=evil&k=v&flag&bad=%zz",
        );
        assert!(q.page_ok);
        assert_eq!(q.get("userId"), Some("a&b"));
        assert_eq!(q.get("userName"), Some("小"));
        assert_eq!(q.get("userAvatar"), Some(""));
        assert_eq!(q.get("k"), Some("v"));
        assert_eq!(q.get("flag"), Some(""));
        assert_eq!(q.get("bad"), None);
        assert!(!ShareQuery::from_path("pages/other?userId=a").page_ok);
        assert!(ShareQuery::from_path("/pages/bind-contact/bind-contact").page_ok);
        assert!(ShareQuery::from_path("").params.is_empty());
    }

    fn record(admin: &str, others: &[&str], term: u32) -> StudentRecord {
        let mut r = StudentRecord::with_admin(
            UserId::parse("u", "s1").unwrap(),
            OpenId::parse("o", admin).unwrap(),
            0,
            term,
        );
        for o in others {
            r.contacts.push(Contact {
                open_id: OpenId::parse("o", o).unwrap(),
                role: Role::Ordinary,
                bound_at: 1,
            });
        }
        r
    }

    fn link(issuer: &str, term: u32, expires_at: Millis) -> Link {
        Link {
            user_id: UserId::parse("u", "s1").unwrap(),
            user_name: "n".into(),
            user_avatar: String::new(),
            claims: Claims {
                issuer: OpenId::parse("o", issuer).unwrap(),
                issued_at: 0,
                expires_at,
                nonce: [0; 8],
                admin_term: term,
            },
        }
    }

    #[test]
    fn outcome_order() {
        let me = OpenId::parse("o", "me").unwrap();
        let rec = record("adm", &[], 5);
        let good = link("adm", 5, 100);
        let check =
            |l: Option<&Link>, r: Option<&StudentRecord>, now, max| precheck(l, r, &me, now, max);
        // 1 invalid beats everything, even an expired, unbound, full state.
        assert_eq!(check(None, None, 1000, 1), Some(BindType::Invalid));
        // 2 expire beats unbind.
        assert_eq!(check(Some(&good), None, 100, 10), Some(BindType::Expire));
        // 3 unbind beats issuer checks.
        assert_eq!(
            check(Some(&link("x", 0, 100)), None, 99, 10),
            Some(BindType::Unbind)
        );
        // 4 invalid: issuer not admin, or an earlier term of the same admin.
        assert_eq!(
            check(Some(&link("x", 5, 100)), Some(&rec), 0, 10),
            Some(BindType::Invalid)
        );
        assert_eq!(
            check(Some(&link("adm", 4, 100)), Some(&rec), 0, 10),
            Some(BindType::Invalid)
        );
        // 5 binded beats overload.
        let full_with_me = record("adm", &["me"], 5);
        assert_eq!(
            check(Some(&good), Some(&full_with_me), 0, 2),
            Some(BindType::Binded)
        );
        // 6 overload.
        assert_eq!(
            check(Some(&good), Some(&record("adm", &["b"], 5)), 0, 2),
            Some(BindType::Overload)
        );
        assert_eq!(check(Some(&good), Some(&rec), 99, 2), None);
        // 7 auth, 8 success.
        assert_eq!(
            accept(Some(&good), Some(&rec), &me, false, 0, 2),
            (BindType::Auth, None)
        );
        let (t, next) = accept(Some(&good), Some(&rec), &me, true, 7, 2);
        assert_eq!(t, BindType::Success);
        let next = next.unwrap();
        assert_eq!(next.contacts.len(), 2);
        assert_eq!(next.contacts[1].open_id, me);
        assert_eq!(next.contacts[1].role, Role::Ordinary);
        assert_eq!(next.contacts[1].bound_at, 7);
        // Overload is checked before consent.
        assert_eq!(
            accept(
                Some(&good),
                Some(&record("adm", &["b"], 5)),
                &me,
                false,
                0,
                2
            )
            .0,
            BindType::Overload
        );
    }

    #[test]
    fn built_paths_open_and_tampering_is_invalid() {
        let keys = Keyring::new(Key::new(1, [4; 32]));
        let subject = Subject {
            user_id: "学生 &=?1",
            user_name: "小明 😀",
            user_avatar: "https://img/a.png?x=1&y=2",
        };
        let claims = link("adm", 9, 500).claims;
        let t = ticket::issue(keys.current(), &claims, &subject);
        let path = build_path("__plugin__/wxabc/", &subject, &t);
        assert!(path.starts_with("__plugin__/wxabc/pages/bind-contact/bind-contact?userId="));
        let opened = open(&ShareQuery::from_path(&path), &keys).unwrap();
        assert_eq!(opened.user_id.as_str(), subject.user_id);
        assert_eq!(opened.user_name, subject.user_name);
        assert_eq!(opened.user_avatar, subject.user_avatar);
        assert_eq!(opened.claims, claims);
        // Extra host parameters do not matter.
        assert!(open(
            &ShareQuery::from_path(&format!("{path}&from=group&x=%E4")),
            &keys
        )
        .is_some());
        // Changing any signed field does.
        for (from, to) in [
            ("userName=%E5%B0%8F", "userName=%E5%B0%8Fx"),
            ("png", "jpg"),
        ] {
            let bad = path.replacen(from, to, 1);
            assert_ne!(bad, path);
            assert_eq!(open(&ShareQuery::from_path(&bad), &keys), None);
        }
        let no_ticket = path.split("&ticket=").next().unwrap();
        assert_eq!(open(&ShareQuery::from_path(no_ticket), &keys), None);
    }

    #[test]
    fn every_type_has_its_name() {
        let names: Vec<&str> = BindType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(
            names,
            ["success", "unbind", "binded", "expire", "overload", "invalid", "auth", "cancel"]
        );
        assert_eq!(BindType::Success.err_msg(), "bindContact:ok");
        assert!(BindType::ALL[1..]
            .iter()
            .all(|t| t.err_msg().starts_with("bindContact:fail ")));
    }
}
