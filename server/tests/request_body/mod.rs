//! The body of the cargo-fuzz target `request_body` (`fuzz/fuzz_targets/request_body.rs`),
//! shared with the regression test `server/tests/fuzz_request_body.rs`, so every input the
//! fuzzer finds can be kept in `fuzz/regressions/request_body/`.
//!
//! A request body as the service gets it: the fuzz bytes pick an API and a caller, then either
//! are the body verbatim or build a JSON text (fields the API reads, with good, wrong-typed,
//! oversize or broken values, duplicate keys, junk keys). The body goes through the service's
//! own parsing (`json::parse_body` and the handlers' steps in `http::v1` / `http::business`,
//! then the core's typed request) and the operation runs over the local backend's `MemRepo`
//! holding a fixed registry. Asserted, not only "no panic":
//!
//! - a refused body is a typed error with a code the service answers for it (1004 / 20, and
//!   1001 / 1011 for `initByCaller`; 44002 / 47001 on `/wxa/business/*`), with a short message;
//! - a body whose fields are all good (the last of duplicate keys) is accepted;
//! - an operation that fails, and every read, leaves the repo exactly as it was (SPEC §2.3);
//! - after a success the SPEC §2 invariants hold (one administrator, at most `maxContacts`, no
//!   contact twice, the reverse index agrees) and the operation did what it said.
#![allow(dead_code)]

use campus_voip::call::Version;
use campus_voip::engine::MemRepo;
use campus_voip::errors::ErrorCode;
use campus_voip::ids::{OpenId, UserId};
use campus_voip::ops::{self, CallOutcome, Config, Ctx, Secrets};
use campus_voip::registry::{Registry, StudentRecord};
use campus_voip::repo::ReadRepo;
use campus_voip::requests::{
    self, BindAdminReq, ContactListReq, DeleteReq, ListReq, ResetReq, ShareReq, TokenReq,
    TransferReq,
};
use campus_voip::rng::{Rng, SEED_LEN};
use campus_voip::share::{self, BindType, ShareQuery};
use campus_voip::token;
use campus_voip_server::http::{business, v1};
use std::collections::BTreeMap;
use std::sync::OnceLock;

type Repo = MemRepo<BTreeMap<String, String>>;

/// A clock reading inside the range tickets and tokens carry.
const NOW: u64 = 1_800_000_000_000;
/// Small, so the fixture has a full student.
const MAX_CONTACTS: usize = 3;
/// Every openId the fixture knows (consent: the first three).
const PEOPLE: &[&str] = &["adm", "mum", "dad", "nobody", "kid"];
const STUDENTS: &[&str] = &["s1", "s2", "s3", "学生 &=?1"];

// --- the input decoder -------------------------------------------------------------------------

/// Reads fuzz bytes as small values; past the end everything is zero or empty.
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos = (self.pos + 1).min(self.data.len());
        b
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let end = self.pos.saturating_add(n).min(self.data.len());
        let out = &self.data[self.pos..end];
        self.pos = end;
        out
    }
    /// Length-prefixed text (one length byte; invalid UTF-8 replaced).
    pub fn string(&mut self) -> String {
        let n = self.u8() as usize;
        String::from_utf8_lossy(self.bytes(n)).into_owned()
    }
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.data[self.pos..];
        self.pos = self.data.len();
        out
    }
}

// --- the fixture -------------------------------------------------------------------------------

/// The registry every input starts from: `s1` (admin `adm`, ordinary `mum`), `s2` full
/// (`adm`, `mum`, `dad`), `s3` without contacts; consent from `adm`, `mum`, `dad`. Share paths
/// and face-pay tokens issued for `s1` and `s2`.
pub struct Fixture {
    registry: Registry,
    store: BTreeMap<String, String>,
    secrets: Secrets,
    config: Config,
    paths: Vec<String>,
    tokens: Vec<String>,
}

fn oid(s: &str) -> OpenId {
    OpenId::parse("openId", s).unwrap()
}

fn uid(s: &str) -> UserId {
    UserId::parse("userId", s).unwrap()
}

pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut rng = Rng::from_seed([7; SEED_LEN]);
        let secrets = Secrets::generate(&mut rng);
        let config = Config {
            max_contacts: MAX_CONTACTS,
            path_prefix: "__plugin__/wx0123456789abcdef/".into(),
            ..Config::default()
        };
        let mut repo = Repo::new(Registry::default(), BTreeMap::new());
        let mut ctx = Ctx {
            now: NOW,
            rng: &mut rng,
            secrets: &secrets,
            config: &config,
        };
        let (adm, mum, dad) = (oid("adm"), oid("mum"), oid("dad"));
        for p in [&adm, &mum, &dad] {
            ops::set_consent(&mut repo, p, true).unwrap();
        }
        let mut paths = Vec::new();
        for (s, joiners) in [("s1", vec![&mum]), ("s2", vec![&mum, &dad])] {
            let req = BindAdminReq { user_id: uid(s) };
            ops::bind_admin(&mut repo, &mut ctx, &adm, req).unwrap();
            let share = ShareReq {
                user_id: uid(s),
                user_name: "小明".into(),
                user_avatar: String::new(),
            };
            let path = ops::share_path(&repo, &mut ctx, &adm, &share).unwrap();
            for j in joiners {
                let e = ops::accept(&mut repo, &ctx, j, ShareQuery::from_path(&path)).unwrap();
                assert_eq!(e.kind, BindType::Success);
            }
            paths.push(path);
        }
        let tokens = ["s1", "s2"]
            .iter()
            .map(|s| ops::issue_voip_token(&mut ctx, &TokenReq { user_id: uid(s) }))
            .collect();
        Fixture {
            registry: repo.registry().clone(),
            store: repo.store().clone(),
            secrets,
            config,
            paths,
            tokens,
        }
    })
}

// --- the body ----------------------------------------------------------------------------------

/// The APIs whose bodies the service parses: `/v1/<name>`, and the two `/wxa/business/*`.
pub const APIS: &[&str] = &[
    "authorizeVoip",
    "revokeVoip",
    "getVoipConsent",
    "bindVoipAdminContact",
    "getBindContactPath",
    "getVoipBindContactList",
    "deleteVoipBindContact",
    "transerAdmin",
    "inspectBindContactPath",
    "acceptBindContactPath",
    "declineBindContactPath",
    "issueVoipToken",
    "initByCaller",
    "getvoipcontactlist",
    "resetvoipcontact",
];

/// The fields each API's parser reads (the core's lists in `requests`).
fn fields(api: &str) -> &'static [&'static str] {
    match api {
        "bindVoipAdminContact" | "getVoipBindContactList" | "issueVoipToken" => requests::USER_ID,
        "getBindContactPath" => requests::SHARE_PATH,
        "deleteVoipBindContact" => requests::DELETE,
        "transerAdmin" => requests::TRANSFER,
        "initByCaller" => requests::INIT_BY_CALLER,
        "getvoipcontactlist" | "resetvoipcontact" => requests::CONTACT_LIST,
        "inspectBindContactPath" | "acceptBindContactPath" | "declineBindContactPath" => &["path"],
        _ => &[],
    }
}

fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Values of `field` its parser accepts (as JSON text).
fn good_values(field: &str, f: &Fixture) -> Vec<String> {
    let strs = |v: &[&str]| v.iter().map(|s| js(s)).collect::<Vec<_>>();
    match field {
        "userId" | "user_id" => strs(STUDENTS),
        "userName" => strs(&["小明", "Tom & Jerry", "😀"]),
        "userAvatar" => strs(&["", "https://img.example/a.png", "cloud://env-1/a%20b"]),
        "openidList" => [
            r#"["mum"]"#,
            r#"["dad","mum"]"#,
            r#"["adm"]"#,
            r#"["nobody"]"#,
            r#"["mum","mum"]"#,
        ]
        .map(String::from)
        .to_vec(),
        "newAdminOpenid" => strs(PEOPLE),
        "path" => {
            let mut v: Vec<String> = f.paths.iter().map(|p| js(p)).collect();
            v.push(js(&format!("{}&from=group", f.paths[0])));
            v.push(r#"{"userId":"s1","ticket":"AAAA","x":1}"#.into());
            v
        }
        "roomType" => strs(&["voice", "video"]),
        "caller" => [r#"{"id":"s1"}"#, r#"{"id":"s2","name":"小明"}"#]
            .map(String::from)
            .to_vec(),
        "listener" => [r#"{"id":"mum"}"#, r#"{"id":"dad","cameraStatus":1}"#]
            .map(String::from)
            .to_vec(),
        "voipToken" => f.tokens.iter().map(|t| js(t)).collect(),
        "businessType" => ["0", "3"].map(String::from).to_vec(),
        "customQuery" => strs(&["a=b&c=d"]),
        "timeLimit" => ["60"].map(String::from).to_vec(),
        "miniprogramState" => strs(&["formal"]),
        _ => vec!["1".into()],
    }
}

/// A value from the fuzz bytes: a good one for `field`, or one of many bad ones. Returns the
/// JSON text, whether it is good for `field`, and whether it is harmless anywhere (valid JSON
/// that cannot exhaust the body's budget).
fn value(c: &mut Cursor, field: &str, f: &Fixture, depth: usize) -> (String, bool, bool) {
    let good = good_values(field, f);
    let sel = c.u8() as usize;
    if sel < good.len() * 8 {
        return (good[sel % good.len()].clone(), true, true);
    }
    let (text, harmless) = match sel % 16 {
        0 => ("null".into(), true),
        1 => ("true".into(), true),
        2 => (format!("{}", c.u16()), true),
        3 => {
            let n = ["-0", "1.5", "1e308", "-1", "1e400", "0.1e-9999"][c.u8() as usize % 6];
            (n.into(), false)
        }
        4 => (js(&c.string()), true),
        5 => {
            // A long string (over the per-string limit when long enough).
            let ch = ["x", "学", "😀", "\u{1}"][c.u8() as usize % 4];
            (js(&ch.repeat(c.u16() as usize % 9000)), false)
        }
        6 => (js(&format!("{}\u{0}", good[0].trim_matches('"'))), true),
        7 => (r#""\ud800""#.into(), false),
        8 | 9 if depth < 6 => {
            let n = c.u8() % 5;
            let items: Vec<(String, bool, bool)> =
                (0..n).map(|_| value(c, field, f, depth + 1)).collect();
            let texts: Vec<&str> = items.iter().map(|i| i.0.as_str()).collect();
            (format!("[{}]", texts.join(",")), items.iter().all(|i| i.2))
        }
        10 | 11 if depth < 6 => {
            let n = c.u8() % 4;
            let items: Vec<(String, bool, bool)> = (0..n)
                .map(|_| {
                    let k = js(&key(c, field));
                    let v = value(c, "", f, depth + 1);
                    (format!("{k}:{}", v.0), v.1, v.2)
                })
                .collect();
            let texts: Vec<&str> = items.iter().map(|i| i.0.as_str()).collect();
            (
                format!("{{{}}}", texts.join(",")),
                items.iter().all(|i| i.2),
            )
        }
        12 => {
            let n = c.u8() as usize % 16;
            (String::from_utf8_lossy(c.bytes(n)).into_owned(), false)
        }
        13 => ("[".repeat(c.u8() as usize) + "1", false),
        _ => (js(good[0].trim_matches('"')).replace('"', "'"), false),
    };
    (text, false, harmless)
}

/// A property name: one the API reads (mostly), or a junk one.
fn key(c: &mut Cursor, field: &str) -> String {
    let sel = c.u8();
    match sel % 8 {
        0 => String::new(),
        1 => ["x", "userid", "__proto__", "constructor", "UserId"][sel as usize % 5].into(),
        2 => "k".repeat(300),
        3 => c.string(),
        _ => field.to_owned(),
    }
}

/// A JSON text for `api` built from the bytes, and whether every field its parser reads is
/// present with a good value (the last one of duplicate keys).
fn structured(c: &mut Cursor, api: &str, f: &Fixture) -> (Vec<u8>, bool) {
    let names = fields(api);
    // (name, JSON text, good for the field, harmless)
    let mut props: Vec<(String, String, bool, bool)> = Vec::new();
    // Every field once, in order, then extra properties.
    let drop_mask = c.u8();
    for (i, name) in names.iter().enumerate() {
        if drop_mask & (1 << (i % 8)) != 0 && drop_mask & 0x80 != 0 {
            continue;
        }
        let (v, ok, harmless) = value(c, name, f, 0);
        props.push(((*name).to_owned(), v, ok, harmless));
    }
    for _ in 0..c.u8() % 5 {
        let name = if names.is_empty() {
            key(c, "x")
        } else {
            let field = names[c.u8() as usize % names.len()];
            key(c, field)
        };
        let (v, ok, harmless) = value(c, &name, f, 0);
        props.push((name, v, ok, harmless));
    }
    let object = format!(
        "{{{}}}",
        props
            .iter()
            .map(|(k, v, _, _)| format!("{}:{v}", js(k)))
            .collect::<Vec<_>>()
            .join(",")
    );
    let all_good = props.iter().all(|p| p.3)
        && names
            .iter()
            .all(|n| props.iter().rev().find(|p| &p.0 == n).is_some_and(|p| p.2));
    match c.u8() % 8 {
        0 => (format!(" \n{object}\t").into_bytes(), all_good),
        1 => (format!("[{object}]").into_bytes(), false),
        2 => (format!("{object}{}", c.string()).into_bytes(), false),
        3 => (b"  ".to_vec(), false),
        _ => (object.into_bytes(), all_good),
    }
}

/// What a body parses to on the service.
enum Parsed {
    Consent(bool),
    GetConsent,
    Bind(BindAdminReq),
    Share(ShareReq),
    List(ListReq),
    Delete(DeleteReq),
    Transfer(TransferReq),
    Inspect(ShareQuery),
    Accept(ShareQuery),
    Decline(ShareQuery),
    Token(TokenReq),
    Call(requests::CallRequest),
    ContactList(ContactListReq),
    Reset(ResetReq),
}

/// How a body is refused: the plugin interface's `{ errCode, code }`, or the developer
/// interface's `{ errcode, errmsg }`.
#[derive(Debug)]
enum Refused {
    Plugin(campus_voip::Error),
    Wechat(i64, String),
}

/// The handler's parsing step for `api` (`http::v1`, `http::business`).
fn parse(api: &str, body: &[u8], compat: &str) -> Result<Parsed, Refused> {
    use campus_voip_server::json::parse_body;
    let p = Refused::Plugin;
    Ok(match api {
        "authorizeVoip" | "revokeVoip" => {
            v1::body_value(body).map_err(p)?;
            Parsed::Consent(api == "authorizeVoip")
        }
        "getVoipConsent" => {
            v1::body_value(body).map_err(p)?;
            Parsed::GetConsent
        }
        "bindVoipAdminContact" => {
            Parsed::Bind(BindAdminReq::parse(&parse_body(body).map_err(p)?).map_err(p)?)
        }
        "getBindContactPath" => {
            Parsed::Share(ShareReq::parse(&parse_body(body).map_err(p)?).map_err(p)?)
        }
        "getVoipBindContactList" => {
            Parsed::List(ListReq::parse(&v1::body_value(body).map_err(p)?).map_err(p)?)
        }
        "deleteVoipBindContact" => {
            Parsed::Delete(DeleteReq::parse(&parse_body(body).map_err(p)?).map_err(p)?)
        }
        "transerAdmin" => {
            Parsed::Transfer(TransferReq::parse(&parse_body(body).map_err(p)?).map_err(p)?)
        }
        "inspectBindContactPath" => Parsed::Inspect(v1::path_value(api, body).map_err(p)?),
        "acceptBindContactPath" => Parsed::Accept(v1::path_value(api, body).map_err(p)?),
        "declineBindContactPath" => Parsed::Decline(v1::path_value(api, body).map_err(p)?),
        "issueVoipToken" => {
            Parsed::Token(TokenReq::parse(&parse_body(body).map_err(p)?).map_err(p)?)
        }
        "initByCaller" => {
            // The handler reads the X-Compat-Version header first.
            let compat = Version::parse("compatVersion", compat).map_err(p)?;
            let v = parse_body(body).map_err(p)?;
            Parsed::Call(requests::init_by_caller(&v, compat).map_err(p)?)
        }
        "getvoipcontactlist" => Parsed::ContactList(
            business::contact_list_request(body).map_err(|(c, m)| Refused::Wechat(c, m))?,
        ),
        "resetvoipcontact" => {
            Parsed::Reset(business::reset_request(body).map_err(|(c, m)| Refused::Wechat(c, m))?)
        }
        other => unreachable!("{other}"),
    })
}

/// The repo as far as an operation can change it: what is stored, and what the registry
/// answers for every student and person the inputs name.
#[derive(Debug, PartialEq)]
struct Snapshot {
    store: BTreeMap<String, String>,
    students: Vec<StudentRecord>,
    consent: Vec<bool>,
    students_of: Vec<Vec<UserId>>,
}

fn snapshot(repo: &Repo) -> Snapshot {
    let r = repo.registry();
    let mut students: Vec<StudentRecord> = r.students().cloned().collect();
    students.sort_by(|a, b| a.user_id.as_str().cmp(b.user_id.as_str()));
    Snapshot {
        store: repo.store().clone(),
        students,
        consent: PEOPLE.iter().map(|p| r.consented(&oid(p))).collect(),
        students_of: PEOPLE
            .iter()
            .map(|p| r.students_of(&oid(p)).to_vec())
            .collect(),
    }
}

/// SPEC §2 over the whole registry, and the reverse index against the records.
fn invariants(repo: &Repo) {
    let r = repo.registry();
    for rec in r.students() {
        if let Err(m) = rec.check(MAX_CONTACTS) {
            panic!("invariant broken: {m}: {rec:?}");
        }
    }
    for p in PEOPLE {
        let p = oid(p);
        let mut listed: Vec<&str> = r.students_of(&p).iter().map(UserId::as_str).collect();
        let mut actual: Vec<&str> = r
            .students()
            .filter(|s| s.contains(&p))
            .map(|s| s.user_id.as_str())
            .collect();
        listed.sort_unstable();
        actual.sort_unstable();
        assert_eq!(
            listed, actual,
            "the reverse index of {p} disagrees with the records"
        );
    }
}

fn allowed_parse_codes(api: &str) -> &'static [ErrorCode] {
    match api {
        "initByCaller" => &[
            ErrorCode::InvalidArgument,
            ErrorCode::InvalidOpenId,
            ErrorCode::VoipTokenMissing,
            ErrorCode::NotSupported,
        ],
        _ => &[ErrorCode::InvalidArgument, ErrorCode::InvalidOpenId],
    }
}

fn check_message(api: &str, m: &str) {
    assert!(!m.is_empty(), "{api}: an empty message");
    assert!(
        m.len() <= 1024,
        "{api}: a message of {} bytes: {m:?}",
        m.len()
    );
    assert!(
        !m.chars().any(|c| c.is_control()),
        "{api}: a raw control character in the message {m:?}"
    );
}

/// Fuzz target `request_body`. Bytes: API, caller, clock offset, compat version, then either
/// (mode byte odd) the body verbatim, or a JSON text built by [`structured`].
pub fn request_body(data: &[u8]) {
    let f = fixture();
    let mut c = Cursor::new(data);
    let api = APIS[c.u8() as usize % APIS.len()];
    let me = oid(PEOPLE[c.u8() as usize % PEOPLE.len()]);
    let now = NOW + u64::from(c.u16());
    let compat = match c.u8() % 8 {
        0 => "2.3.7".to_owned(),
        1 => "2.3.8".to_owned(),
        2 => c.string(),
        _ => campus_voip::PLUGIN_VERSION.to_owned(),
    };
    let (body, all_good) = if c.u8() % 2 == 1 {
        (c.rest().to_vec(), false)
    } else {
        structured(&mut c, api, f)
    };

    let parsed = match parse(api, &body, &compat) {
        Ok(p) => p,
        Err(Refused::Plugin(e)) => {
            assert!(
                allowed_parse_codes(api).contains(&e.code),
                "{api}: a body refused with {:?}: {}",
                e.code,
                e.message
            );
            check_message(api, &e.message);
            assert!(
                !all_good || api == "initByCaller",
                "{api}: a good body refused: {}: {:?}",
                e.message,
                String::from_utf8_lossy(&body)
            );
            return;
        }
        Err(Refused::Wechat(code, m)) => {
            let empty = body.iter().all(u8::is_ascii_whitespace);
            assert_eq!(code, if empty { 44002 } else { 47001 }, "{api}: {m}");
            check_message(api, &m);
            assert!(!all_good, "{api}: a good body refused: {m}");
            return;
        }
    };

    let mut repo = Repo::new(f.registry.clone(), f.store.clone());
    let before = snapshot(&repo);
    let mut rng = Rng::from_seed([9; SEED_LEN]);
    let mut ctx = Ctx {
        now,
        rng: &mut rng,
        secrets: &f.secrets,
        config: &f.config,
    };
    let student = |repo: &Repo, id: &UserId| repo.student(id).unwrap().cloned();
    // Ok(true): a write that succeeded (may change the repo); Ok(false): nothing may change.
    let outcome: Result<bool, campus_voip::Error> = match parsed {
        Parsed::Consent(granted) => ops::set_consent(&mut repo, &me, granted).map(|()| {
            assert_eq!(repo.consented(&me).unwrap(), granted);
            true
        }),
        Parsed::GetConsent => ops::consent(&repo, &me).map(|_| false),
        Parsed::Bind(req) => {
            let id = req.user_id.clone();
            ops::bind_admin(&mut repo, &mut ctx, &me, req).map(|got| {
                assert_eq!(got, id);
                assert!(student(&repo, &id).is_some_and(|r| r.is_admin(&me)));
                true
            })
        }
        Parsed::Share(req) => ops::share_path(&repo, &mut ctx, &me, &req).map(|path| {
            assert!(path.len() <= share::MAX_PATH_BYTES);
            let link = share::open(&ShareQuery::from_path(&path), &f.secrets.ticket_keys)
                .expect("an issued share path opens");
            assert_eq!(link.user_id, req.user_id);
            assert_eq!(link.user_name, req.user_name);
            assert_eq!(link.user_avatar, req.user_avatar);
            false
        }),
        Parsed::List(req) => ops::list(&repo, &me, &req).map(|list| {
            for e in &list {
                assert!(student(&repo, &e.user_id).is_some_and(|r| r.contains(&me)));
            }
            false
        }),
        Parsed::Delete(req) => {
            let id = req.user_id.clone();
            ops::delete(&mut repo, &mut ctx, &me, req).map(|(got, deleted)| {
                assert_eq!(got, id);
                let rec = student(&repo, &id).expect("the administrator stays");
                assert!(rec.is_admin(&me));
                assert!(!deleted.is_empty() && deleted.iter().all(|d| !rec.contains(d)));
                true
            })
        }
        Parsed::Transfer(req) => {
            let (id, to) = (req.user_id.clone(), req.new_admin.clone());
            ops::transfer(&mut repo, &mut ctx, &me, req).map(|_| {
                let rec = student(&repo, &id).expect("a record");
                assert!(rec.is_admin(&to) && rec.contains(&me));
                true
            })
        }
        Parsed::Inspect(q) => ops::inspect(&repo, &ctx, &me, q).map(|_| false),
        Parsed::Accept(q) => ops::accept(&mut repo, &ctx, &me, q).map(|e| {
            if e.kind == BindType::Success {
                let id = uid(&e.user_id);
                assert!(student(&repo, &id).is_some_and(|r| r.contains(&me)));
                true
            } else {
                false
            }
        }),
        Parsed::Decline(q) => {
            assert_eq!(ops::decline(&f.secrets, q).kind, BindType::Cancel);
            Ok(false)
        }
        Parsed::Token(req) => {
            let t = ops::issue_voip_token(&mut ctx, &req);
            assert!(token::verify(&f.secrets.token_keys, &t, &req.user_id, now).is_ok());
            Ok(false)
        }
        Parsed::Call(req) => {
            ops::admit_call(&mut repo, &mut ctx, "gate-1", &req).map(|o| match o {
                CallOutcome::Admitted(_) => true,
                CallOutcome::Refused(e) => {
                    assert!(
                        matches!(
                            e.code,
                            ErrorCode::BadVoipToken
                                | ErrorCode::NotAuthorized
                                | ErrorCode::NotContactOfCaller
                        ),
                        "initByCaller refused with {e}"
                    );
                    false
                }
            })
        }
        Parsed::ContactList(req) => {
            let had = student(&repo, &req.user_id).is_some();
            ops::contact_list(&repo, &req).map(|r| {
                assert_eq!(r.errcode == 0, had);
                false
            })
        }
        Parsed::Reset(req) => {
            let had = student(&repo, &req.user_id).is_some();
            let id = req.user_id.clone();
            ops::reset_student(&mut repo, req).map(|(_, removed)| {
                assert_eq!(removed, had);
                assert!(student(&repo, &id).is_none());
                true
            })
        }
    };
    match outcome {
        Ok(true) => invariants(&repo),
        Ok(false) => assert_eq!(snapshot(&repo), before, "{api}: a read changed the repo"),
        Err(e) => {
            let allowed: &[ErrorCode] = match api {
                "bindVoipAdminContact" => &[ErrorCode::NotAuthorized, ErrorCode::AdminExists],
                "getBindContactPath" => &[ErrorCode::NotAdmin, ErrorCode::InvalidArgument],
                "deleteVoipBindContact" => &[
                    ErrorCode::NotAdmin,
                    ErrorCode::AdminSelfDelete,
                    ErrorCode::NotContact,
                ],
                "transerAdmin" => &[ErrorCode::NotAdmin, ErrorCode::NotContact],
                _ => &[],
            };
            assert!(allowed.contains(&e.code), "{api} failed with {e:?}");
            check_message(api, &e.message);
            assert_eq!(snapshot(&repo), before, "{api} failed and changed the repo");
        }
    }
}

// --- seeds -------------------------------------------------------------------------------------

/// Hand-made inputs: `(name, bytes)`. Header: API index, caller index, clock offset (2
/// bytes), compat selector, mode (odd: the rest is the body verbatim).
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let api = |name: &str| APIS.iter().position(|a| *a == name).unwrap() as u8;
    let raw = |name: &str, caller: u8, body: &str| {
        let mut v = vec![api(name), caller, 0, 0, 3, 1];
        v.extend_from_slice(body.as_bytes());
        v
    };
    let f = fixture();
    let mut out = vec![
        (
            "bind_good".into(),
            raw("bindVoipAdminContact", 3, r#"{"userId":"s3"}"#),
        ),
        (
            "bind_exists".into(),
            raw("bindVoipAdminContact", 1, r#"{"userId":"s1"}"#),
        ),
        (
            "bind_number".into(),
            raw("bindVoipAdminContact", 0, r#"{"userId":7}"#),
        ),
        (
            "bind_dup_keys".into(),
            raw("bindVoipAdminContact", 0, r#"{"userId":1,"userId":"s3"}"#),
        ),
        (
            "share_good".into(),
            raw(
                "getBindContactPath",
                0,
                r#"{"userId":"s1","userName":"小明","userAvatar":"https://a/b.png"}"#,
            ),
        ),
        ("list_empty".into(), raw("getVoipBindContactList", 1, "")),
        (
            "delete_two".into(),
            raw(
                "deleteVoipBindContact",
                0,
                r#"{"userId":"s2","openidList":["mum","dad","mum"]}"#,
            ),
        ),
        (
            "delete_self".into(),
            raw(
                "deleteVoipBindContact",
                0,
                r#"{"userId":"s2","openidList":["adm","mum"]}"#,
            ),
        ),
        (
            "transfer_good".into(),
            raw(
                "transerAdmin",
                0,
                r#"{"userId":"s1","newAdminOpenid":"mum"}"#,
            ),
        ),
        (
            "transfer_bad_openid".into(),
            raw(
                "transerAdmin",
                0,
                r#"{"userId":"s1","newAdminOpenid":"a b"}"#,
            ),
        ),
        (
            "accept_full".into(),
            raw(
                "acceptBindContactPath",
                4,
                &format!(r#"{{"path":{}}}"#, js(&f.paths[1])),
            ),
        ),
        (
            "accept_ok".into(),
            raw(
                "acceptBindContactPath",
                2,
                &format!(r#"{{"path":{}}}"#, js(&f.paths[0])),
            ),
        ),
        (
            "inspect_query".into(),
            raw(
                "inspectBindContactPath",
                2,
                r#"{"path":{"userId":"s1","ticket":"x"}}"#,
            ),
        ),
        (
            "decline_null".into(),
            raw("declineBindContactPath", 2, r#"{"path":null}"#),
        ),
        (
            "token".into(),
            raw("issueVoipToken", 0, r#"{"userId":"s2"}"#),
        ),
        (
            "call_good".into(),
            raw(
                "initByCaller",
                0,
                &format!(
                    r#"{{"roomType":"voice","caller":{{"id":"s1"}},"listener":{{"id":"mum"}},"voipToken":{}}}"#,
                    js(&f.tokens[0])
                ),
            ),
        ),
        (
            "call_license".into(),
            raw(
                "initByCaller",
                0,
                r#"{"roomType":"voice","businessType":3}"#,
            ),
        ),
        (
            "wxa_list".into(),
            raw("getvoipcontactlist", 0, r#"{"user_id":"s2"}"#),
        ),
        ("wxa_empty".into(), raw("getvoipcontactlist", 0, " \n")),
        (
            "wxa_reset".into(),
            raw("resetvoipcontact", 0, r#"{"user_id":"s1"}"#),
        ),
        (
            "wxa_reset_array".into(),
            raw("resetvoipcontact", 0, r#"[{"user_id":"s1"}]"#),
        ),
        (
            "consent_garbage".into(),
            raw("authorizeVoip", 3, "{\"a\":\u{1}}"),
        ),
        (
            "deep".into(),
            raw(
                "bindVoipAdminContact",
                0,
                &format!("{}{}", "[".repeat(200), "]".repeat(200)),
            ),
        ),
    ];
    // Structured: each API with its fields' first good values.
    for (i, name) in APIS.iter().enumerate() {
        let mut v = vec![i as u8, 0, 0, 0, 3, 0, 0];
        v.extend(std::iter::repeat_n(0u8, fields(name).len()));
        v.extend([0, 4]);
        out.push((format!("structured_{name}"), v));
    }
    out
}
