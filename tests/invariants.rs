#![cfg(not(target_arch = "wasm32"))]
//! Property tests of the local backend engine against SPEC §2 (state and invariants), §3.3 (the
//! contact APIs) and §3.4 (share links and their outcomes).
//!
//! Random sequences of operations by actors drawn from small pools (5 openIds, 3 userIds, so
//! collisions are frequent) run against [`Engine`] and, step by step, against a small model of
//! the registry written here from the spec text (plain `BTreeMap`s; it calls none of the crate's
//! rules). After every step the test checks that
//!
//! * the engine's result equals the model's prediction (`Ok` and its value, or `Err` and its
//!   `ErrorCode`; for the bind page, the outcome the §3.4 order table gives), and the engine's
//!   registry equals the model's (students, contacts with roles and bind times in order,
//!   consents, the reverse index, remembered used face-pay tokens);
//! * §2.1 / §2.2 hold on the engine's registry (one administrator, no empty record, at most
//!   `maxContacts`, no duplicate contact, a consistent reverse index);
//! * §2.3: a failed operation changed neither the registry (a full view, administrator terms
//!   included) nor the store; an operation that changes nothing writes nothing;
//! * §2.4: a delete, transfer or share-link request by anyone but the current administrator
//!   fails (with `NOT_ADMIN` when its arguments are well-formed);
//! * and at the end of each case, that an engine re-opened on the store's entries holds the
//!   same registry, and answers every issued link and token as the live one does.
//!
//! The clock, a one-operation store failure, face-pay token issue and `initByCaller` with call
//! slots are part of the sequences. A share link is invalid once its issuer's administrator
//! term ended (transfer away, reset), even if the same person becomes administrator again.

use campus_voip::call::{ChargeType, Version};
use campus_voip::engine::{CallAct, CallOutcome, Config, Engine, Store};
use campus_voip::ids::{Millis, OpenId, UserId};
use campus_voip::input::Value;
use campus_voip::registry::{Registry, Role};
use campus_voip::share::{BindType, ShareQuery};
use campus_voip::{Error, ErrorCode};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config as PtConfig, TestCaseError, TestRunner};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

const T0: Millis = 1_800_000_000_000;
const MAX_CONTACTS: usize = 3;
const TICKET_TTL: Millis = 60_000;
const TOKEN_TTL: Millis = 10_000;
const PREFIX: &str = "__plugin__/wxtest/";
const PAGE: &str = "pages/bind-contact/bind-contact";
const COMPAT: Version = Version(2, 4, 0);

const OPEN_IDS: [&str; 5] = ["dad", "mum", "gran", "uncle_1", "o-Xy9"];
const USER_IDS: [&str; 3] = ["s1", "学生 2", "a&b=c?d"];
/// The last one is empty: `getBindContactPath` must refuse it (1004), before checking the admin.
const NAMES: [&str; 4] = ["小明", "Bob & Alice=?#%", "😀 Zoë", ""];
const AVATAR: &str = "https://img.example/a.png?x=1&y=2";
const BAD_OPENID: &str = "not an openid!";

fn config() -> Config {
    Config {
        max_contacts: MAX_CONTACTS,
        ticket_ttl_ms: TICKET_TTL,
        token_ttl_ms: TOKEN_TTL,
        path_prefix: PREFIX.into(),
        ring_timeout_ms: 30_000,
    }
}

// ---------------------------------------------------------------------------------------------
// A store that can be told to fail, and counts its writes.

#[derive(Default)]
struct TestStore {
    map: BTreeMap<String, String>,
    fail: bool,
    writes: usize,
}

impl Store for TestStore {
    fn put(&mut self, key: &str, value: &str) -> Result<(), String> {
        if self.fail {
            return Err("disk full".into());
        }
        self.writes += 1;
        self.map.insert(key.into(), value.into());
        Ok(())
    }
    fn remove(&mut self, key: &str) -> Result<(), String> {
        if self.fail {
            return Err("disk full".into());
        }
        // Forgetting expired used tokens is housekeeping whose timing is the engine's choice
        // (it batches it); it is not one of an operation's own writes.
        if !key.starts_with("t.") {
            self.writes += 1;
        }
        self.map.remove(key);
        Ok(())
    }
}

fn open_engine(seed: u8, entries: &BTreeMap<String, String>, now: Millis) -> Engine<TestStore> {
    Engine::open(
        config(),
        [seed; 32],
        TestStore::default(),
        entries.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        now,
    )
    .unwrap_or_else(|e| panic!("opening the engine failed: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Inputs. Generated steps may refer to the state ("the student's administrator", "the latest
// link"): each step is resolved against the model just before it runs, so both the engine and
// the model get the same concrete operation, and sequences reach deep states often.

/// An openId: one of the pool, or picked from the operation's student when the step runs.
#[derive(Clone, Debug)]
enum Pick {
    Id(usize),
    /// The student's administrator (resolved to the pool's first openId if there is none).
    Admin,
    /// One of the student's ordinary contacts (any pool openId if there is none).
    Member(Index),
    /// Whoever issued the latest share link (the pool's first openId if none was issued).
    Issuer,
}

/// The instance an operation runs as: a person or a device (`None`).
type Actor = Option<Pick>;

/// An issued share link.
#[derive(Clone, Debug)]
enum LinkRef {
    Latest,
    Any(Index),
    /// Resolved: the link with this index.
    At(usize),
    /// Resolved: none was issued yet.
    Nothing,
}

/// An issued face-pay token.
#[derive(Clone, Debug)]
enum TokenRef {
    Latest,
    Any(Index),
    Forged,
    /// Resolved: the token with this index.
    At(usize),
}

#[derive(Clone, Debug)]
enum PathForm {
    /// The path exactly as issued.
    Exact,
    /// With host parameters appended (`&k=v`, one repeating `userId`): same outcome.
    ExtraParams,
    /// The bind page's query object instead of the path string.
    QueryObject,
    /// `userName` changed: invalid.
    TamperName,
    /// `userId` replaced by this student's: invalid unless it is the same student.
    OtherStudent(usize),
    /// Not an issued link: `true` a bind-page path with a forged ticket, `false` junk.
    Garbage(bool),
}

#[derive(Clone, Debug)]
enum Target {
    Who(Pick),
    Malformed,
}

#[derive(Clone, Debug)]
enum Op {
    Authorize(Actor),
    Revoke(Actor),
    BindAdmin(Actor, usize),
    Share {
        actor: Actor,
        user: usize,
        name: usize,
        avatar: bool,
    },
    Accept(Actor, LinkRef, PathForm),
    Inspect(Actor, LinkRef, PathForm),
    Decline(Actor, LinkRef, PathForm),
    List(Actor, Option<usize>),
    Delete(Actor, usize, Vec<Target>),
    /// `None`: a malformed `newAdminOpenid`.
    Transfer(Actor, usize, Option<Pick>),
    Reset(usize),
    DevQuery(usize),
    Advance(Millis),
    IssueToken(usize),
    Call {
        slot: usize,
        token: TokenRef,
        /// The student calling; `None`: the one the token was issued for.
        caller: Option<usize>,
        /// Resolved against the calling student's record.
        listener: Pick,
        license: bool,
        hang_up: bool,
    },
    HangUp(usize),
}

#[derive(Clone, Debug)]
struct Step {
    op: Op,
    /// The store fails every write during this step.
    faulty: bool,
}

fn pool_id() -> impl Strategy<Value = Pick> {
    (0..OPEN_IDS.len()).prop_map(Pick::Id)
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        4 => pool_id(),
        1 => Just(Pick::Admin),
        5 => any::<Index>().prop_map(Pick::Member),
    ]
}

/// Anyone (or, rarely, a device).
fn actor() -> impl Strategy<Value = Actor> {
    prop_oneof![1 => Just(None), 30 => pool_id().prop_map(Some)]
}

/// For operations only the administrator may do: often the administrator.
fn actor_or_admin() -> impl Strategy<Value = Actor> {
    prop_oneof![
        1 => Just(None),
        12 => pool_id().prop_map(Some),
        14 => Just(Some(Pick::Admin)),
        4 => any::<Index>().prop_map(|i| Some(Pick::Member(i))),
    ]
}

/// Mostly the first student, so records grow (overload) and links meet resets.
fn user() -> impl Strategy<Value = usize> {
    prop_oneof![3 => Just(0), 1 => Just(1), 1 => Just(2)]
}

fn link() -> impl Strategy<Value = LinkRef> {
    prop_oneof![3 => Just(LinkRef::Latest), 2 => any::<Index>().prop_map(LinkRef::Any)]
}

fn form() -> impl Strategy<Value = PathForm> {
    prop_oneof![
        12 => Just(PathForm::Exact),
        2 => Just(PathForm::ExtraParams),
        2 => Just(PathForm::QueryObject),
        1 => Just(PathForm::TamperName),
        1 => user().prop_map(PathForm::OtherStudent),
        1 => any::<bool>().prop_map(PathForm::Garbage),
    ]
}

fn advance() -> impl Strategy<Value = Millis> {
    prop_oneof![
        6 => 0..2_000u64,
        1 => Just(TOKEN_TTL),
        1 => Just(TICKET_TTL - 1),
        1 => Just(TICKET_TTL),
        2 => TOKEN_TTL..TICKET_TTL + 20_000,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let target = prop_oneof![12 => pick().prop_map(Target::Who), 1 => Just(Target::Malformed)];
    let targets = prop_oneof![1 => Just(Vec::new()), 15 => prop::collection::vec(target, 1..4)];
    let name = prop_oneof![8 => 0..NAMES.len() - 1, 1 => Just(NAMES.len() - 1)];
    let new_admin = prop_oneof![12 => pick().prop_map(Some), 1 => Just(None)];
    let token = prop_oneof![
        5 => Just(TokenRef::Latest),
        2 => any::<Index>().prop_map(TokenRef::Any),
        1 => Just(TokenRef::Forged),
    ];
    let caller = prop_oneof![5 => Just(None), 1 => user().prop_map(Some)];
    let call = (
        0..2usize,
        token,
        caller,
        pick(),
        any::<bool>(),
        proptest::bool::weighted(0.3),
    );
    prop_oneof![
        10 => actor().prop_map(Op::Authorize),
        2 => actor().prop_map(Op::Revoke),
        8 => (actor(), user()).prop_map(|(a, u)| Op::BindAdmin(a, u)),
        8 => (actor_or_admin(), user(), name, any::<bool>()).prop_map(
            |(actor, user, name, avatar)| Op::Share { actor, user, name, avatar }
        ),
        16 => (actor(), link(), form()).prop_map(|(a, l, f)| Op::Accept(a, l, f)),
        4 => (actor(), link(), form()).prop_map(|(a, l, f)| Op::Inspect(a, l, f)),
        2 => (actor(), link(), form()).prop_map(|(a, l, f)| Op::Decline(a, l, f)),
        4 => (actor(), prop::option::of(user())).prop_map(|(a, u)| Op::List(a, u)),
        7 => (actor_or_admin(), user(), targets).prop_map(|(a, u, t)| Op::Delete(a, u, t)),
        6 => (actor_or_admin(), user(), new_admin).prop_map(|(a, u, n)| Op::Transfer(a, u, n)),
        2 => user().prop_map(Op::Reset),
        2 => user().prop_map(Op::DevQuery),
        5 => advance().prop_map(Op::Advance),
        4 => user().prop_map(Op::IssueToken),
        7 => call.prop_map(|(slot, token, caller, listener, license, hang_up)| Op::Call {
            slot,
            token,
            caller,
            listener,
            license,
            hang_up,
        }),
        2 => (0..2usize).prop_map(Op::HangUp),
    ]
}

/// Short stories that reach deep states quickly (they are ordinary steps, and shrink as such).
fn story() -> impl Strategy<Value = Vec<Op>> {
    let share = |user, name, avatar| Op::Share {
        actor: Some(Pick::Admin),
        user,
        name,
        avatar,
    };
    let accept = |b: Pick| Op::Accept(Some(b), LinkRef::Latest, PathForm::Exact);
    prop_oneof![
        // A parent consents, becomes a student's administrator, and shares a link.
        4 => (pool_id(), user()).prop_map(move |(a, u)| vec![
            Op::Authorize(Some(a.clone())),
            Op::BindAdmin(Some(a), u),
            share(u, 0, true),
        ]),
        // The administrator invites people, who look, consent and accept.
        4 => (
            user(),
            0..NAMES.len() - 1,
            any::<bool>(),
            prop::collection::vec(pool_id(), 1..=3),
        )
            .prop_map(move |(user, name, avatar, invited)| {
                let mut ops = vec![share(user, name, avatar)];
                for b in invited {
                    ops.push(Op::Inspect(Some(b.clone()), LinkRef::Latest, PathForm::Exact));
                    ops.push(Op::Authorize(Some(b.clone())));
                    ops.push(accept(b));
                }
                ops
            }),
        // A link meets a reset or its expiry (or just misses it).
        2 => (
            user(),
            pool_id(),
            prop_oneof![
                Just(Op::Reset(0)),
                Just(Op::Advance(TICKET_TTL - 1)),
                Just(Op::Advance(TICKET_TTL)),
            ],
        )
            .prop_map(move |(user, b, mut event)| {
                if let Op::Reset(u) = &mut event {
                    *u = user;
                }
                vec![share(user, 0, false), event, accept(b)]
            }),
        // The issuer's term ends (handover, or reset and bind again), maybe to come back.
        2 => (user(), any::<Index>(), any::<bool>(), any::<bool>(), pool_id()).prop_map(
            move |(u, who, reset, back, b)| {
                let mut ops = vec![share(u, 1, false)];
                if reset {
                    ops.push(Op::Reset(u));
                    ops.push(Op::BindAdmin(Some(Pick::Issuer), u));
                } else {
                    ops.push(Op::Transfer(Some(Pick::Admin), u, Some(Pick::Member(who))));
                    if back {
                        ops.push(Op::Transfer(Some(Pick::Admin), u, Some(Pick::Issuer)));
                    }
                }
                ops.push(Op::Authorize(Some(b.clone())));
                ops.push(accept(b));
                ops
            }
        ),
        // The administrator manages the contacts.
        3 => (user(), any::<Index>(), any::<bool>()).prop_map(|(u, who, delete)| {
            vec![if delete {
                Op::Delete(Some(Pick::Admin), u, vec![Target::Who(Pick::Member(who))])
            } else {
                Op::Transfer(Some(Pick::Admin), u, Some(Pick::Member(who)))
            }]
        }),
        // A parent binds two students and lists them.
        1 => (pool_id(), user(), user()).prop_map(|(a, u1, u2)| vec![
            Op::Authorize(Some(a.clone())),
            Op::BindAdmin(Some(a.clone()), u1),
            Op::BindAdmin(Some(a.clone()), u2),
            Op::List(Some(a), None),
        ]),
        // A face scan, then a call to one of the student's contacts; then maybe the device
        // hangs up, or tries a second call (busy unless the first was refused).
        3 => (user(), 0..2usize, any::<Index>(), any::<bool>(), 0..3u8).prop_map(
            |(u, slot, who, license, then)| {
                let call = Op::Call {
                    slot,
                    token: TokenRef::Latest,
                    caller: None,
                    listener: Pick::Member(who),
                    license,
                    hang_up: false,
                };
                let mut ops = vec![Op::IssueToken(u), call.clone()];
                match then {
                    0 => ops.push(Op::HangUp(slot)),
                    1 => ops.extend([Op::IssueToken(u), call]),
                    _ => {}
                }
                ops
            }
        ),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let chunk = prop_oneof![3 => op().prop_map(|o| vec![o]), 2 => story()];
    (
        prop::collection::vec(chunk, 1..=40),
        prop::collection::vec(proptest::bool::weighted(0.06), 60),
    )
        .prop_map(|(chunks, faulty)| {
            chunks
                .into_iter()
                .flatten()
                .zip(faulty)
                .map(|(op, faulty)| Step { op, faulty })
                .collect()
        })
}

/// The pool index of a resolved pick.
fn id(p: &Pick) -> usize {
    match p {
        Pick::Id(i) => *i,
        other => panic!("unresolved pick {other:?}"),
    }
}

/// The openId of a resolved actor (`None`: a device).
fn name_of(a: &Actor) -> Option<&'static str> {
    a.as_ref().map(|p| OPEN_IDS[id(p)])
}

// ---------------------------------------------------------------------------------------------
// Small helpers (independent of the crate's own encoders).

fn oid(s: &str) -> OpenId {
    OpenId::parse("openId", s).unwrap()
}

fn s(v: &str) -> Value {
    Value::str(v)
}

fn uid_args(u: usize) -> Value {
    Value::object([("userId", s(USER_IDS[u]))])
}

/// `encodeURIComponent`, written out.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Replaces the value of query parameter `key` in a path.
fn replace_param(path: &str, key: &str, value: &str) -> String {
    let (page, query) = path.split_once('?').expect("a share path has a query");
    let params: Vec<String> = query
        .split('&')
        .map(|kv| {
            if kv.split_once('=').map(|(k, _)| k) == Some(key) {
                format!("{key}={value}")
            } else {
                kv.to_owned()
            }
        })
        .collect();
    format!("{page}?{}", params.join("&"))
}

/// The argument a bind-page call gets, and what it refers to: an issued link, intact (its
/// index), or nothing valid; `echo` is the `userId` the event must report.
struct LinkArg {
    value: Value,
    intact: Option<usize>,
    echo: String,
}

fn link_arg(paths: &[String], link_users: &[usize], link: &LinkRef, form: &PathForm) -> LinkArg {
    let i = match link {
        LinkRef::At(i) => *i,
        LinkRef::Nothing => {
            return LinkArg {
                value: s("pages/somewhere/else?x=1"),
                intact: None,
                echo: String::new(),
            }
        }
        other => panic!("unresolved link {other:?}"),
    };
    let path = &paths[i];
    let own = USER_IDS[link_users[i]].to_owned();
    let intact = |value| LinkArg {
        value,
        intact: Some(i),
        echo: own.clone(),
    };
    match form {
        PathForm::Exact => intact(s(path)),
        PathForm::ExtraParams => intact(s(&format!("{path}&from=chat&userId=evil&scene=1007"))),
        PathForm::QueryObject => {
            let q = ShareQuery::from_path(path);
            intact(Value::Object(
                q.params.iter().map(|(k, v)| (k.clone(), s(v))).collect(),
            ))
        }
        PathForm::TamperName => LinkArg {
            value: s(&replace_param(path, "userName", "Mallory")),
            intact: None,
            echo: own,
        },
        PathForm::OtherStudent(u) if *u == link_users[i] => intact(s(path)),
        PathForm::OtherStudent(u) => LinkArg {
            value: s(&replace_param(path, "userId", &encode(USER_IDS[*u]))),
            intact: None,
            echo: USER_IDS[*u].to_owned(),
        },
        PathForm::Garbage(true) => LinkArg {
            value: s(&format!(
                "{PREFIX}{PAGE}?userId={}&userName=x&userAvatar=&ticket=AQEAAAAAAAAAAAAAAAAAAAAA",
                encode(&own)
            )),
            intact: None,
            echo: own,
        },
        PathForm::Garbage(false) => LinkArg {
            value: s("garbage"),
            intact: None,
            echo: String::new(),
        },
    }
}

fn call_args(caller: &str, listener: &str, token: &str, license: bool) -> Value {
    Value::object([
        ("roomType", s("video")),
        ("caller", Value::object([("id", s(caller))])),
        ("listener", Value::object([("id", s(listener))])),
        ("businessType", Value::Num(if license { 3.0 } else { 0.0 })),
        ("voipToken", s(token)),
    ])
}

// ---------------------------------------------------------------------------------------------
// Results, as comparable values.

#[derive(Clone, Debug, PartialEq, Eq)]
enum Out {
    Err(ErrorCode),
    Done,
    Bound(String),
    Path,
    Event(BindType, String),
    /// status (`None`: ready), userId, userName, userAvatar
    Inspected(Option<BindType>, String, String, String),
    /// (userId, is_ad, openid_list) per entry
    List(Vec<(String, u8, Vec<String>)>),
    Deleted(String, Vec<String>),
    Transferred(String, String),
    Reset(bool),
    Query(u32, Vec<(String, u8)>),
    Token,
    Admitted(ChargeType),
    Refused(ErrorCode),
    HungUp(bool),
}

fn out<T>(r: Result<T, Error>, f: impl FnOnce(T) -> Out) -> Out {
    match r {
        Ok(v) => f(v),
        Err(e) => Out::Err(e.code),
    }
}

// ---------------------------------------------------------------------------------------------
// Registry views.

/// A student's contacts in stored order, as (openId, role, boundAt).
type Contacts = Vec<(String, u8, Millis)>;

/// Everything observable in a registry. Administrator terms (random numbers in the engine) are
/// compared engine to engine only, never to the model's.
#[derive(Clone, Debug, PartialEq, Eq)]
struct View {
    /// userId → (term, contacts in stored order as (openId, role, boundAt))
    students: BTreeMap<String, (Option<u32>, Contacts)>,
    consents: BTreeSet<String>,
    /// Expiry times of the used face-pay tokens remembered (sorted).
    used_tokens: Vec<Millis>,
    /// openId → the students it is a contact of, in the registry's order.
    by_contact: BTreeMap<String, Vec<String>>,
}

/// `with_terms`: keep the administrator terms. `live_at`: keep only used tokens not yet
/// expired at that time (expired ones are forgotten lazily and are refused anyway).
fn engine_view(reg: &Registry, with_terms: bool, live_at: Option<Millis>) -> View {
    let students = reg
        .students()
        .map(|r| {
            let contacts = r
                .contacts
                .iter()
                .map(|c| (c.open_id.as_str().to_owned(), c.role.number(), c.bound_at))
                .collect();
            (
                r.user_id.as_str().to_owned(),
                (with_terms.then_some(r.admin_term), contacts),
            )
        })
        .collect();
    let consents = reg.consents().map(|o| o.as_str().to_owned()).collect();
    let mut used_tokens: Vec<Millis> = reg
        .used_tokens()
        .map(|(_, exp)| *exp)
        .filter(|exp| live_at.is_none_or(|now| *exp > now))
        .collect();
    used_tokens.sort_unstable();
    let by_contact = OPEN_IDS
        .iter()
        .map(|o| {
            let list: Vec<String> = reg
                .students_of(&oid(o))
                .iter()
                .map(|u| u.as_str().to_owned())
                .collect();
            ((*o).to_owned(), list)
        })
        .filter(|(_, l)| !l.is_empty())
        .collect();
    View {
        students,
        consents,
        used_tokens,
        by_contact,
    }
}

/// SPEC §2.1 and §2.2, and the reverse index agreeing with the records.
fn check_structure(reg: &Registry) -> Result<(), TestCaseError> {
    for r in reg.students() {
        let admins = r.contacts.iter().filter(|c| c.role == Role::Admin).count();
        prop_assert_eq!(admins, 1, "§2.1: {:?} must have one administrator", r);
        prop_assert!(!r.contacts.is_empty(), "§2.1: empty record {:?}", r);
        prop_assert!(
            r.contacts.len() <= MAX_CONTACTS,
            "§2.2: {:?} has more than {} contacts",
            r,
            MAX_CONTACTS
        );
        let distinct: BTreeSet<&str> = r.contacts.iter().map(|c| c.open_id.as_str()).collect();
        prop_assert_eq!(
            distinct.len(),
            r.contacts.len(),
            "duplicate contact in {:?}",
            r
        );
        for c in &r.contacts {
            let n = reg
                .students_of(&c.open_id)
                .iter()
                .filter(|u| **u == r.user_id)
                .count();
            prop_assert_eq!(n, 1, "reverse index of {} lacks {:?}", c.open_id, r.user_id);
        }
    }
    for o in OPEN_IDS {
        for u in reg.students_of(&oid(o)) {
            prop_assert!(
                reg.student(u).is_some_and(|r| r.contains(&oid(o))),
                "reverse index says {} is a contact of {:?}, the record disagrees",
                o,
                u
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The model: the registry as the spec describes it.

#[derive(Clone, Debug)]
struct MContact {
    id: String,
    admin: bool,
    at: Millis,
}

#[derive(Clone, Debug)]
struct MStudent {
    /// The administrator's term: a new one whenever the administrator changes.
    term: u64,
    contacts: Vec<MContact>,
    /// Contacts deleted in this term, and when (SPEC §3.4 row 4b).
    removed: Vec<(String, Millis)>,
}

impl MStudent {
    fn admin(&self) -> &str {
        &self.contacts.iter().find(|c| c.admin).unwrap().id
    }
    fn has(&self, who: &str) -> bool {
        self.contacts.iter().any(|c| c.id == who)
    }
    /// Administrator first, then the others in binding order.
    fn ordered(&self) -> Vec<&MContact> {
        let mut v: Vec<&MContact> = self.contacts.iter().filter(|c| c.admin).collect();
        v.extend(self.contacts.iter().filter(|c| !c.admin));
        v
    }
}

#[derive(Clone, Debug)]
struct MLink {
    user: usize,
    name: String,
    avatar: String,
    issuer: String,
    issued_at: Millis,
    expires_at: Millis,
    term: u64,
}

#[derive(Clone, Debug)]
struct MToken {
    user: usize,
    expires_at: Millis,
    used: bool,
}

/// A change that must be persisted (so a failing store refuses it).
enum MChange {
    /// A device hangs up its call, which rang: the call's record is written.
    HangUp(usize),
    Consent(String, bool),
    Put(String, MStudent),
    Remove(String),
    Admit {
        token: usize,
        slot: usize,
        hang_up: bool,
    },
}

#[derive(Default)]
struct Model {
    students: BTreeMap<String, MStudent>,
    consent: BTreeSet<String>,
    links: Vec<MLink>,
    tokens: Vec<MToken>,
    /// Expiry times of used tokens (the engine forgets expired ones in batches; views compare
    /// only unexpired ones).
    remembered: Vec<Millis>,
    busy: [bool; 2],
    next_term: u64,
}

fn who(actor: &Actor) -> Result<&'static str, Out> {
    name_of(actor).ok_or(Out::Err(ErrorCode::Unauthenticated))
}

impl Model {
    fn new_term(&mut self) -> u64 {
        self.next_term += 1;
        self.next_term
    }

    /// A pick made concrete against the student `context` (if any).
    fn pick(&self, p: &Pick, context: Option<usize>) -> Pick {
        let st = context.and_then(|u| self.students.get(USER_IDS[u]));
        let pos = |o: &str| OPEN_IDS.iter().position(|x| *x == o).unwrap();
        Pick::Id(match (p, st) {
            (Pick::Id(i), _) => *i,
            (Pick::Admin, Some(st)) => pos(st.admin()),
            (Pick::Admin, None) => 0,
            (Pick::Member(i), Some(st)) if st.contacts.len() > 1 => {
                let members: Vec<&MContact> = st.contacts.iter().filter(|c| !c.admin).collect();
                pos(&members[i.index(members.len())].id)
            }
            (Pick::Member(i), _) => i.index(OPEN_IDS.len()),
            (Pick::Issuer, _) => self.links.last().map_or(0, |l| pos(&l.issuer)),
        })
    }

    /// The operation with every reference to the state made concrete.
    fn resolve(&self, op: &Op) -> Op {
        let actor = |a: &Actor, u: Option<usize>| a.as_ref().map(|p| self.pick(p, u));
        let link = |l: &LinkRef| match l {
            _ if self.links.is_empty() => LinkRef::Nothing,
            LinkRef::Latest => LinkRef::At(self.links.len() - 1),
            LinkRef::Any(i) => LinkRef::At(i.index(self.links.len())),
            resolved => resolved.clone(),
        };
        let link_user = |l: &LinkRef| match l {
            LinkRef::At(i) => Some(self.links[*i].user),
            _ => None,
        };
        match op {
            Op::Authorize(a) => Op::Authorize(actor(a, None)),
            Op::Revoke(a) => Op::Revoke(actor(a, None)),
            Op::BindAdmin(a, u) => Op::BindAdmin(actor(a, Some(*u)), *u),
            Op::Share {
                actor: a,
                user,
                name,
                avatar,
            } => Op::Share {
                actor: actor(a, Some(*user)),
                user: *user,
                name: *name,
                avatar: *avatar,
            },
            Op::Accept(a, l, f) | Op::Inspect(a, l, f) | Op::Decline(a, l, f) => {
                let l = link(l);
                let a = actor(a, link_user(&l));
                match op {
                    Op::Accept(..) => Op::Accept(a, l, f.clone()),
                    Op::Inspect(..) => Op::Inspect(a, l, f.clone()),
                    _ => Op::Decline(a, l, f.clone()),
                }
            }
            Op::List(a, u) => Op::List(actor(a, *u), *u),
            Op::Delete(a, u, targets) => Op::Delete(
                actor(a, Some(*u)),
                *u,
                targets
                    .iter()
                    .map(|t| match t {
                        Target::Who(p) => Target::Who(self.pick(p, Some(*u))),
                        Target::Malformed => Target::Malformed,
                    })
                    .collect(),
            ),
            Op::Transfer(a, u, to) => Op::Transfer(
                actor(a, Some(*u)),
                *u,
                to.as_ref().map(|p| self.pick(p, Some(*u))),
            ),
            Op::Call {
                slot,
                token,
                caller,
                listener,
                license,
                hang_up,
            } => {
                let n = self.tokens.len();
                let token = match token {
                    _ if n == 0 => TokenRef::Forged,
                    TokenRef::Latest => TokenRef::At(n - 1),
                    TokenRef::Any(i) => TokenRef::At(i.index(n)),
                    resolved => resolved.clone(),
                };
                let caller = caller.unwrap_or(match token {
                    TokenRef::At(i) => self.tokens[i].user,
                    _ => 0,
                });
                Op::Call {
                    slot: *slot,
                    token,
                    caller: Some(caller),
                    listener: self.pick(listener, Some(caller)),
                    license: *license,
                    hang_up: *hang_up,
                }
            }
            other => other.clone(),
        }
    }

    /// Rows 1–6 of the §3.4 table, in order; `None` is `'ready'`.
    fn precheck(&self, link: Option<usize>, me: &str, now: Millis) -> Option<BindType> {
        let Some(l) = link.map(|i| &self.links[i]) else {
            return Some(BindType::Invalid);
        };
        if now >= l.expires_at {
            return Some(BindType::Expire);
        }
        let Some(st) = self.students.get(USER_IDS[l.user]) else {
            return Some(BindType::Unbind);
        };
        if st.admin() != l.issuer || st.term != l.term {
            return Some(BindType::Invalid);
        }
        if st
            .removed
            .iter()
            .any(|(o, at)| o == me && l.issued_at < *at)
        {
            return Some(BindType::Invalid);
        }
        if st.has(me) {
            return Some(BindType::Binded);
        }
        if st.contacts.len() >= MAX_CONTACTS {
            return Some(BindType::Overload);
        }
        None
    }

    fn list_entry(&self, u: &str, me: &str) -> Option<(String, u8, Vec<String>)> {
        let st = self.students.get(u)?;
        if st.admin() == me {
            let all = st.ordered().iter().map(|c| c.id.clone()).collect();
            Some((u.to_owned(), 1, all))
        } else if st.has(me) {
            Some((u.to_owned(), 0, vec![me.to_owned()]))
        } else {
            None
        }
    }

    /// The predicted result and the change it needs persisted, if any. Never mutates
    /// persisted state; links and tokens (not persisted) are recorded here.
    fn decide(&mut self, op: &Op, arg: Option<&LinkArg>, now: Millis) -> (Out, Option<MChange>) {
        let err = |c| (Out::Err(c), None);
        match op {
            Op::Authorize(a) | Op::Revoke(a) => {
                let me = match who(a) {
                    Ok(m) => m,
                    Err(o) => return (o, None),
                };
                let grant = matches!(op, Op::Authorize(_));
                let change = (self.consent.contains(me) != grant)
                    .then(|| MChange::Consent(me.to_owned(), grant));
                (Out::Done, change)
            }
            Op::BindAdmin(a, u) => {
                let me = match who(a) {
                    Ok(m) => m,
                    Err(o) => return (o, None),
                };
                let uid = USER_IDS[*u];
                if !self.consent.contains(me) {
                    return err(ErrorCode::NotAuthorized);
                }
                match self.students.get(uid) {
                    None => {
                        let st = MStudent {
                            term: self.new_term(),
                            contacts: vec![MContact {
                                id: me.to_owned(),
                                admin: true,
                                at: now,
                            }],
                            removed: Vec::new(),
                        };
                        (Out::Bound(uid.into()), Some(MChange::Put(uid.into(), st)))
                    }
                    Some(st) if st.admin() == me => (Out::Bound(uid.into()), None),
                    Some(_) => err(ErrorCode::AdminExists),
                }
            }
            Op::Share {
                actor,
                user,
                name,
                avatar,
            } => {
                let me = match who(actor) {
                    Ok(m) => m,
                    Err(o) => return (o, None),
                };
                if NAMES[*name].is_empty() {
                    return err(ErrorCode::InvalidArgument);
                }
                match self.students.get(USER_IDS[*user]) {
                    Some(st) if st.admin() == me => {
                        self.links.push(MLink {
                            user: *user,
                            name: NAMES[*name].into(),
                            avatar: if *avatar {
                                AVATAR.into()
                            } else {
                                String::new()
                            },
                            issuer: me.into(),
                            issued_at: now,
                            expires_at: now + TICKET_TTL,
                            term: st.term,
                        });
                        (Out::Path, None)
                    }
                    _ => err(ErrorCode::NotAdmin),
                }
            }
            Op::Accept(a, ..) => {
                let me = match who(a) {
                    Ok(m) => m,
                    Err(o) => return (o, None),
                };
                let arg = arg.unwrap();
                let ev = |t| Out::Event(t, arg.echo.clone());
                if let Some(t) = self.precheck(arg.intact, me, now) {
                    return (ev(t), None);
                }
                if !self.consent.contains(me) {
                    return (ev(BindType::Auth), None);
                }
                let uid = USER_IDS[self.links[arg.intact.unwrap()].user];
                let mut st = self.students[uid].clone();
                st.contacts.push(MContact {
                    id: me.into(),
                    admin: false,
                    at: now,
                });
                st.removed.retain(|(o, _)| o != me);
                (ev(BindType::Success), Some(MChange::Put(uid.into(), st)))
            }
            Op::Inspect(a, ..) => {
                let me = match who(a) {
                    Ok(m) => m,
                    Err(o) => return (o, None),
                };
                let arg = arg.unwrap();
                let status = self.precheck(arg.intact, me, now);
                let (name, avatar) = match arg.intact {
                    Some(i) => (self.links[i].name.clone(), self.links[i].avatar.clone()),
                    None => (String::new(), String::new()),
                };
                (Out::Inspected(status, arg.echo.clone(), name, avatar), None)
            }
            Op::Decline(a, ..) => match who(a) {
                Ok(_) => (
                    Out::Event(BindType::Cancel, arg.unwrap().echo.clone()),
                    None,
                ),
                Err(o) => (o, None),
            },
            Op::List(a, filter) => {
                let me = match who(a) {
                    Ok(m) => m,
                    Err(o) => return (o, None),
                };
                let entries = match filter {
                    Some(u) => self.list_entry(USER_IDS[*u], me).into_iter().collect(),
                    None => {
                        // Order of binding: bind time, then userId.
                        let mut mine: Vec<(u64, &String)> = self
                            .students
                            .iter()
                            .filter_map(|(u, st)| {
                                st.contacts.iter().find(|c| c.id == me).map(|c| (c.at, u))
                            })
                            .collect();
                        mine.sort();
                        mine.iter()
                            .filter_map(|(_, u)| self.list_entry(u, me))
                            .collect()
                    }
                };
                (Out::List(entries), None)
            }
            Op::Delete(a, u, targets) => {
                let me = match who(a) {
                    Ok(m) => m,
                    Err(o) => return (o, None),
                };
                let uid = USER_IDS[*u];
                if targets.is_empty() {
                    return err(ErrorCode::InvalidArgument);
                }
                let mut list: Vec<&str> = Vec::new();
                for t in targets {
                    match t {
                        Target::Malformed => return err(ErrorCode::InvalidOpenId),
                        Target::Who(p) if !list.contains(&OPEN_IDS[id(p)]) => {
                            list.push(OPEN_IDS[id(p)])
                        }
                        Target::Who(_) => {}
                    }
                }
                let Some(st) = self.students.get(uid).filter(|st| st.admin() == me) else {
                    return err(ErrorCode::NotAdmin);
                };
                if list.contains(&me) {
                    return err(ErrorCode::AdminSelfDelete);
                }
                if list.iter().any(|t| !st.has(t)) {
                    return err(ErrorCode::NotContact);
                }
                let mut next = st.clone();
                next.contacts.retain(|c| !list.contains(&c.id.as_str()));
                next.removed.retain(|(o, _)| !list.contains(&o.as_str()));
                next.removed
                    .extend(list.iter().map(|t| ((*t).to_owned(), now)));
                let deleted = list.iter().map(|t| (*t).to_owned()).collect();
                (
                    Out::Deleted(uid.into(), deleted),
                    Some(MChange::Put(uid.into(), next)),
                )
            }
            Op::Transfer(a, u, to) => {
                let me = match who(a) {
                    Ok(m) => m,
                    Err(o) => return (o, None),
                };
                let uid = USER_IDS[*u];
                let Some(to) = to.as_ref().map(|p| OPEN_IDS[id(p)]) else {
                    return err(ErrorCode::InvalidOpenId);
                };
                let Some(st) = self.students.get(uid).filter(|st| st.admin() == me) else {
                    return err(ErrorCode::NotAdmin);
                };
                let done = Out::Transferred(uid.into(), to.into());
                if to == me {
                    return (done, None);
                }
                if !st.has(to) {
                    return err(ErrorCode::NotContact);
                }
                let mut next = st.clone();
                for c in &mut next.contacts {
                    c.admin = c.id == to;
                }
                next.term = self.new_term();
                next.removed.clear();
                (done, Some(MChange::Put(uid.into(), next)))
            }
            Op::Reset(u) => {
                let uid = USER_IDS[*u];
                let had = self.students.contains_key(uid);
                (Out::Reset(had), had.then(|| MChange::Remove(uid.into())))
            }
            Op::DevQuery(u) => match self.students.get(USER_IDS[*u]) {
                Some(st) => {
                    let list = st
                        .ordered()
                        .iter()
                        .map(|c| (c.id.clone(), u8::from(c.admin)))
                        .collect();
                    (Out::Query(0, list), None)
                }
                None => (Out::Query(1, Vec::new()), None),
            },
            Op::Advance(_) => (Out::Done, None),
            Op::IssueToken(u) => {
                self.tokens.push(MToken {
                    user: *u,
                    expires_at: now + TOKEN_TTL,
                    used: false,
                });
                (Out::Token, None)
            }
            Op::Call {
                slot,
                token,
                caller,
                listener,
                license,
                hang_up,
            } => {
                if self.busy[*slot] {
                    return err(ErrorCode::Busy);
                }
                let refused = |c| (Out::Refused(c), None);
                let TokenRef::At(ti) = *token else {
                    return refused(ErrorCode::BadVoipToken);
                };
                let t = &self.tokens[ti];
                let caller = caller.expect("resolved");
                if t.user != caller || now >= t.expires_at || t.used {
                    return refused(ErrorCode::BadVoipToken);
                }
                let listener = OPEN_IDS[id(listener)];
                if !self.consent.contains(listener) {
                    return refused(ErrorCode::NotAuthorized);
                }
                if !self
                    .students
                    .get(USER_IDS[caller])
                    .is_some_and(|st| st.has(listener))
                {
                    return refused(ErrorCode::NotContactOfCaller);
                }
                let charge = if *license {
                    ChargeType::License
                } else {
                    ChargeType::Duration
                };
                (
                    Out::Admitted(charge),
                    Some(MChange::Admit {
                        token: ti,
                        slot: *slot,
                        hang_up: *hang_up,
                    }),
                )
            }
            Op::HangUp(slot) if self.busy[*slot] => {
                (Out::HungUp(true), Some(MChange::HangUp(*slot)))
            }
            Op::HangUp(_) => (Out::HungUp(false), None),
        }
    }

    /// Predicts one step: its result and how many store writes it makes.
    fn step(&mut self, op: &Op, arg: Option<&LinkArg>, now: Millis, faulty: bool) -> (Out, usize) {
        let (out, change) = self.decide(op, arg, now);
        let Some(change) = change else {
            return (out, 0);
        };
        if faulty {
            return (Out::Err(ErrorCode::Storage), 0);
        }
        let mut writes = 1;
        match change {
            MChange::HangUp(slot) => {
                self.busy[slot] = false;
            }
            MChange::Consent(who, true) => {
                self.consent.insert(who);
            }
            MChange::Consent(who, false) => {
                self.consent.remove(&who);
            }
            MChange::Put(u, st) => {
                self.students.insert(u, st);
            }
            MChange::Remove(u) => {
                self.students.remove(&u);
            }
            MChange::Admit {
                token,
                slot,
                hang_up,
            } => {
                self.tokens[token].used = true;
                self.remembered.push(self.tokens[token].expires_at);
                self.busy[slot] = !hang_up;
                // The token; and the call's record when it is hung up at once.
                writes = if hang_up { 2 } else { 1 };
            }
        }
        (out, writes)
    }

    /// The registry as the model sees it; used tokens only while they can matter (unexpired).
    fn view(&self, now: Millis) -> View {
        let students = self
            .students
            .iter()
            .map(|(u, st)| {
                let contacts = st
                    .contacts
                    .iter()
                    .map(|c| (c.id.clone(), u8::from(c.admin), c.at))
                    .collect();
                (u.clone(), (None, contacts))
            })
            .collect();
        let mut used_tokens: Vec<Millis> = self
            .remembered
            .iter()
            .copied()
            .filter(|exp| *exp > now)
            .collect();
        used_tokens.sort_unstable();
        let by_contact = OPEN_IDS
            .iter()
            .map(|o| {
                let mut mine: Vec<(u64, String)> = self
                    .students
                    .iter()
                    .filter_map(|(u, st)| {
                        st.contacts
                            .iter()
                            .find(|c| c.id == *o)
                            .map(|c| (c.at, u.clone()))
                    })
                    .collect();
                mine.sort();
                ((*o).to_owned(), mine.into_iter().map(|(_, u)| u).collect())
            })
            .filter(|(_, l): &(String, Vec<String>)| !l.is_empty())
            .collect();
        View {
            students,
            consents: self.consent.clone(),
            used_tokens,
            by_contact,
        }
    }

    fn terms(&self) -> BTreeMap<String, u64> {
        self.students
            .iter()
            .map(|(u, st)| (u.clone(), st.term))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The engine side.

struct Harness {
    engine: Engine<TestStore>,
    slots: [&'static str; 2],
    now: Millis,
    paths: Vec<String>,
    link_users: Vec<usize>,
    tokens: Vec<String>,
    rooms: BTreeSet<String>,
    model: Model,
}

impl Harness {
    fn new(seed: u8) -> Harness {
        Harness {
            engine: open_engine(seed, &BTreeMap::new(), T0),
            slots: ["device-0", "device-1"],
            now: T0,
            paths: Vec::new(),
            link_users: Vec::new(),
            tokens: Vec::new(),
            rooms: BTreeSet::new(),
            model: Model::default(),
        }
    }

    fn run(&mut self, op: &Op, arg: Option<&LinkArg>) -> Result<Out, TestCaseError> {
        let now = self.now;
        let e = &mut self.engine;
        let as_actor = |a: &Actor| name_of(a).map(oid);
        Ok(match op {
            Op::Authorize(a) => out(e.authorize_voip(as_actor(a).as_ref()), |_| Out::Done),
            Op::Revoke(a) => out(e.revoke_voip(as_actor(a).as_ref()), |_| Out::Done),
            Op::BindAdmin(a, u) => out(
                e.bind_admin(as_actor(a).as_ref(), &uid_args(*u), now),
                |u| Out::Bound(u.as_str().into()),
            ),
            Op::Share {
                actor,
                user,
                name,
                avatar,
            } => {
                let avatar = if *avatar { AVATAR } else { "" };
                let args = Value::object([
                    ("userId", s(USER_IDS[*user])),
                    ("userName", s(NAMES[*name])),
                    ("userAvatar", s(avatar)),
                ]);
                match e.share_path(as_actor(actor).as_ref(), &args, now) {
                    Ok(path) => {
                        let head = format!(
                            "{PREFIX}{PAGE}?userId={}&userName={}&userAvatar={}&ticket=",
                            encode(USER_IDS[*user]),
                            encode(NAMES[*name]),
                            encode(avatar)
                        );
                        prop_assert!(path.starts_with(&head), "share path {path:?}");
                        prop_assert!(path.len() <= 1024);
                        self.paths.push(path);
                        self.link_users.push(*user);
                        Out::Path
                    }
                    Err(err) => Out::Err(err.code),
                }
            }
            Op::Accept(a, ..) => out(
                e.accept(as_actor(a).as_ref(), &arg.unwrap().value, now),
                |ev| Out::Event(ev.kind, ev.user_id),
            ),
            Op::Inspect(a, ..) => out(
                e.inspect(as_actor(a).as_ref(), &arg.unwrap().value, now),
                |i| {
                    Out::Inspected(
                        i.status,
                        i.view.user_id,
                        i.view.user_name,
                        i.view.user_avatar,
                    )
                },
            ),
            Op::Decline(a, ..) => out(e.decline(as_actor(a).as_ref(), &arg.unwrap().value), |ev| {
                Out::Event(ev.kind, ev.user_id)
            }),
            Op::List(a, filter) => {
                let args = filter.map_or(Value::Missing, uid_args);
                out(e.list(as_actor(a).as_ref(), &args), |entries| {
                    Out::List(
                        entries
                            .into_iter()
                            .map(|en| {
                                let ids = en
                                    .openid_list
                                    .iter()
                                    .map(|o| o.as_str().to_owned())
                                    .collect();
                                (en.user_id.as_str().to_owned(), en.is_ad, ids)
                            })
                            .collect(),
                    )
                })
            }
            Op::Delete(a, u, targets) => {
                let list = targets
                    .iter()
                    .map(|t| match t {
                        Target::Who(p) => s(OPEN_IDS[id(p)]),
                        Target::Malformed => s(BAD_OPENID),
                    })
                    .collect();
                let args = Value::object([
                    ("userId", s(USER_IDS[*u])),
                    ("openidList", Value::Array(list)),
                ]);
                out(
                    e.delete(as_actor(a).as_ref(), &args, now),
                    |(u, deleted)| {
                        Out::Deleted(
                            u.as_str().into(),
                            deleted.iter().map(|o| o.as_str().to_owned()).collect(),
                        )
                    },
                )
            }
            Op::Transfer(a, u, to) => {
                let args = Value::object([
                    ("userId", s(USER_IDS[*u])),
                    (
                        "newAdminOpenid",
                        s(to.as_ref().map_or(BAD_OPENID, |p| OPEN_IDS[id(p)])),
                    ),
                ]);
                out(e.transfer(as_actor(a).as_ref(), &args), |(u, o)| {
                    Out::Transferred(u.as_str().into(), o.as_str().into())
                })
            }
            Op::Reset(u) => out(e.reset_student(&uid_args(*u)), |(_, had)| Out::Reset(had)),
            Op::DevQuery(u) => {
                let args = Value::object([("user_id", s(USER_IDS[*u]))]);
                out(e.contact_list(&args), |r| {
                    let list = r
                        .contact_list
                        .iter()
                        .map(|c| (c.open_id.as_str().to_owned(), c.role))
                        .collect();
                    Out::Query(r.errcode, list)
                })
            }
            Op::Advance(ms) => {
                self.now += ms;
                Out::Done
            }
            Op::IssueToken(u) => match e.issue_voip_token(&uid_args(*u), now) {
                Ok(t) => {
                    self.tokens.push(t);
                    Out::Token
                }
                Err(err) => Out::Err(err.code),
            },
            Op::Call {
                slot,
                token,
                caller,
                listener,
                license,
                hang_up,
            } => {
                let text = match token {
                    TokenRef::At(i) => self.tokens[*i].clone(),
                    TokenRef::Forged => {
                        "AQEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()
                    }
                    other => panic!("unresolved token {other:?}"),
                };
                let caller = USER_IDS[caller.expect("resolved")];
                let args = call_args(caller, OPEN_IDS[id(listener)], &text, *license);
                let device = self.slots[*slot];
                let calls_of = |e: &Engine<TestStore>| {
                    e.registry()
                        .live_calls()
                        .iter()
                        .filter(|c| c.device == device)
                        .map(|c| c.room_id.clone())
                        .collect::<Vec<_>>()
                };
                match e.init_by_caller(device, &args, COMPAT, now) {
                    Ok(CallOutcome::Admitted(d)) => {
                        let room_id = d.call.room_id.clone();
                        prop_assert!(room_id.len() >= 16, "room id {room_id:?}");
                        prop_assert!(self.rooms.insert(room_id.clone()), "room id reused");
                        prop_assert_eq!(calls_of(e), vec![room_id.clone()]);
                        if *hang_up {
                            let ended = e.act_on_call(
                                None,
                                device,
                                CallAct::HangUp,
                                &Value::str(&room_id),
                                now,
                            );
                            prop_assert!(
                                matches!(&ended, Ok(Some(d)) if d.call.room_id == room_id),
                                "{ended:?}"
                            );
                        }
                        Out::Admitted(d.call.charge_type())
                    }
                    Ok(CallOutcome::Refused(err)) => {
                        prop_assert!(
                            calls_of(e).is_empty(),
                            "a refused call left the device busy"
                        );
                        Out::Refused(err.code)
                    }
                    Err(err) => Out::Err(err.code),
                }
            }
            Op::HangUp(slot) => {
                match e.act_on_call(
                    None,
                    self.slots[*slot],
                    CallAct::HangUp,
                    &Value::Missing,
                    now,
                ) {
                    Ok(d) => Out::HungUp(d.is_some()),
                    Err(err) => Out::Err(err.code),
                }
            }
        })
    }

    /// One step: engine and model, then every check.
    fn step(&mut self, i: usize, step: &Step, seen: &mut Seen) -> Result<(), TestCaseError> {
        let op = &self.model.resolve(&step.op);
        let arg = match op {
            Op::Accept(_, l, f) | Op::Inspect(_, l, f) | Op::Decline(_, l, f) => {
                Some(link_arg(&self.paths, &self.link_users, l, f))
            }
            _ => None,
        };
        let reg_before = self.engine.registry().clone();
        let full_before = engine_view(&reg_before, true, Some(self.now));
        let store_before = self.engine.store().map.clone();
        let writes_before = self.engine.store().writes;
        let engine_terms_before: BTreeMap<String, u32> = reg_before
            .students()
            .map(|r| (r.user_id.as_str().to_owned(), r.admin_term))
            .collect();
        let model_terms_before = self.model.terms();

        self.engine.store_mut().fail = step.faulty;
        let got = self.run(op, arg.as_ref());
        self.engine.store_mut().fail = false;
        let got = got?;
        let (want, want_writes) = self.model.step(op, arg.as_ref(), self.now, step.faulty);
        seen.record(op, &got);
        if let (
            Some(LinkArg {
                intact: Some(l), ..
            }),
            Out::Event(BindType::Invalid, _),
        ) = (&arg, &got)
        {
            let link = &self.model.links[*l];
            let again = self
                .model
                .students
                .get(USER_IDS[link.user])
                .is_some_and(|st| st.admin() == link.issuer);
            seen.add(if again {
                "accept Invalid: issuer is administrator again, in a new term"
            } else {
                "accept Invalid: issuer no longer administrator"
            });
        }

        let ctx = || format!("step {i}: {op:?} (faulty: {})", step.faulty);
        prop_assert_eq!(&got, &want, "result differs from the model; {}", ctx());

        let reg = self.engine.registry();
        check_structure(reg).map_err(|e| TestCaseError::fail(format!("{e}; {}", ctx())))?;

        // §2.3: a failed operation changes nothing, in the registry or the store.
        if let Out::Err(code) = &got {
            prop_assert_eq!(
                &engine_view(reg, true, Some(self.now)),
                &full_before,
                "failed ({:?}) but the registry changed; {}",
                code,
                ctx()
            );
            prop_assert!(
                self.engine.store().map == store_before,
                "failed ({:?}) but the store changed; {}",
                code,
                ctx()
            );
        }
        let writes = self.engine.store().writes - writes_before;
        prop_assert_eq!(writes, want_writes, "store writes; {}", ctx());
        if want_writes == 0 {
            prop_assert!(
                self.engine.store().map == store_before,
                "nothing to persist, but the store changed; {}",
                ctx()
            );
        }

        // §2.4: only the current administrator may delete, transfer or share.
        let guarded = match op {
            Op::Share {
                actor, user, name, ..
            } => Some((actor, user, !NAMES[*name].is_empty())),
            Op::Delete(actor, user, targets) => Some((
                actor,
                user,
                !targets.is_empty() && targets.iter().all(|t| matches!(t, Target::Who(_))),
            )),
            Op::Transfer(actor, user, to) => Some((actor, user, to.is_some())),
            _ => None,
        };
        if let Some((Some(a), u, args_ok)) = guarded {
            let is_admin = reg_before
                .student(&UserId::parse("userId", USER_IDS[*u]).unwrap())
                .is_some_and(|r| r.is_admin(&oid(OPEN_IDS[id(a)])));
            if !is_admin {
                prop_assert!(
                    matches!(got, Out::Err(_)),
                    "§2.4: a non-administrator succeeded; {}",
                    ctx()
                );
                if args_ok {
                    prop_assert_eq!(&got, &Out::Err(ErrorCode::NotAdmin), "§2.4; {}", ctx());
                }
            }
        }

        // The registry equals the model's.
        prop_assert_eq!(
            engine_view(reg, false, Some(self.now)),
            self.model.view(self.now),
            "registry differs from the model; {}",
            ctx()
        );
        // Administrator terms change exactly when the model starts a new term.
        let model_terms = self.model.terms();
        for r in reg.students() {
            let u = r.user_id.as_str();
            if let (Some(eb), Some(mb)) = (engine_terms_before.get(u), model_terms_before.get(u)) {
                prop_assert_eq!(
                    *eb != r.admin_term,
                    *mb != model_terms[u],
                    "administrator term of {:?}; {}",
                    u,
                    ctx()
                );
            }
        }
        Ok(())
    }

    /// §6.1 persistence: an engine re-opened on the store holds the same registry, the same
    /// secrets, the same used tokens.
    fn check_reopen(&mut self) -> Result<(), TestCaseError> {
        let now = self.now;
        let mut reopened = open_engine(0x5a, &self.engine.store().map, now);
        prop_assert_eq!(
            engine_view(reopened.registry(), true, Some(now)),
            engine_view(self.engine.registry(), true, Some(now)),
            "re-opened registry differs"
        );
        check_structure(reopened.registry())?;
        for path in &self.paths {
            for o in OPEN_IDS {
                let o = oid(o);
                prop_assert_eq!(
                    reopened.inspect(Some(&o), &s(path), now),
                    self.engine.inspect(Some(&o), &s(path), now),
                    "re-opened engine judges link {} differently",
                    path
                );
            }
        }
        // Each token once, on both (the live engine is not used afterwards).
        for (i, text) in self.tokens.iter().enumerate() {
            let u = self.model.tokens[i].user;
            let listener = self
                .engine
                .registry()
                .student(&UserId::parse("userId", USER_IDS[u]).unwrap())
                .map_or(OPEN_IDS[0], |r| r.contacts[0].open_id.as_str())
                .to_owned();
            let args = call_args(USER_IDS[u], &listener, text, false);
            // A device of its own each time (a fresh one is never busy).
            let device = format!("probe-{i}");
            let outcome =
                |e: &mut Engine<TestStore>| match e.init_by_caller(&device, &args, COMPAT, now) {
                    Ok(CallOutcome::Admitted(_)) => Ok(None),
                    Ok(CallOutcome::Refused(err)) => Ok(Some(err.code)),
                    Err(err) => Err(err.code),
                };
            prop_assert_eq!(
                outcome(&mut reopened),
                outcome(&mut self.engine),
                "re-opened engine judges token {} differently",
                i
            );
        }
        Ok(())
    }
}

fn run_case(seed: u8, steps: &[Step], seen: &mut Seen) -> Result<(), TestCaseError> {
    let mut h = Harness::new(seed);
    for (i, step) in steps.iter().enumerate() {
        h.step(i, step, seen)?;
    }
    h.check_reopen()
}

// ---------------------------------------------------------------------------------------------
// Coverage: which outcomes the generated sequences reached (so a broken generator, or an engine
// that refuses everything, cannot pass quietly).

#[derive(Default)]
struct Seen(BTreeMap<String, usize>);

impl Seen {
    fn record(&mut self, op: &Op, got: &Out) {
        let what = match (op, got) {
            (_, Out::Err(c)) => format!("err {c:?}"),
            (Op::Accept(..), Out::Event(t, _)) => format!("accept {t:?}"),
            (Op::Inspect(..), Out::Inspected(t, ..)) => format!("inspect {t:?}"),
            (_, Out::Refused(c)) => format!("refused {c:?}"),
            (_, Out::Admitted(c)) => format!("admitted {c:?}"),
            (_, Out::Deleted(..)) => "deleted".into(),
            (Op::Transfer(..), Out::Transferred(..)) => {
                format!(
                    "transfer self={}",
                    matches!(op, Op::Transfer(Some(a), _, Some(to)) if id(a) == id(to))
                )
            }
            (_, Out::Reset(true)) => "reset".into(),
            (_, Out::List(l)) if l.len() > 1 => "list several".into(),
            (_, Out::HungUp(true)) => "hung up".into(),
            _ => return,
        };
        self.add(&what);
    }

    fn add(&mut self, what: &str) {
        *self.0.entry(what.to_owned()).or_default() += 1;
    }
}

const MUST_SEE: &[&str] = &[
    "accept Success",
    "accept Unbind",
    "accept Binded",
    "accept Expire",
    "accept Overload",
    "accept Invalid",
    "accept Auth",
    "accept Invalid: issuer no longer administrator",
    "accept Invalid: issuer is administrator again, in a new term",
    "inspect None",
    "inspect Some(Overload)",
    "err NotAdmin",
    "err AdminExists",
    "err NotContact",
    "err AdminSelfDelete",
    "err NotAuthorized",
    "err Unauthenticated",
    "err InvalidArgument",
    "err InvalidOpenId",
    "err Storage",
    "err Busy",
    "refused BadVoipToken",
    "refused NotAuthorized",
    "refused NotContactOfCaller",
    "admitted Duration",
    "admitted License",
    "deleted",
    "transfer self=false",
    "transfer self=true",
    "reset",
    "list several",
    "hung up",
];

#[test]
fn engine_keeps_the_invariants_and_matches_the_model() {
    let config = PtConfig::with_source_file(file!());
    let cases = config.cases;
    let mut runner = TestRunner::new(config);
    let seen = RefCell::new(Seen::default());
    let result = runner.run(&(any::<u8>(), steps()), |(seed, steps)| {
        run_case(seed, &steps, &mut seen.borrow_mut())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let seen = seen.into_inner();
    if cases >= 200 {
        let missing: Vec<&&str> = MUST_SEE
            .iter()
            .filter(|w| !seen.0.contains_key(**w))
            .collect();
        assert!(
            missing.is_empty(),
            "{cases} cases never reached {missing:?} (reached: {:?})",
            seen.0
        );
    }
}

/// Regression: a parent's students are listed in order of binding (bind time, then userId),
/// and an engine re-opened on the same store lists them in the same order (SPEC §6.1: a
/// backend created later "sees the same state"), whatever order the store returns its keys in.
#[test]
fn reopen_keeps_list_order() {
    let dad = oid("dad");
    let mut e = open_engine(1, &BTreeMap::new(), T0);
    e.authorize_voip(Some(&dad)).unwrap();
    e.bind_admin(Some(&dad), &uid_args(0), T0).unwrap();
    e.bind_admin(Some(&dad), &uid_args(1), T0 + 1).unwrap();
    let students = |e: &Engine<TestStore>| -> Vec<String> {
        e.list(Some(&dad), &Value::Missing)
            .unwrap()
            .iter()
            .map(|entry| entry.user_id.as_str().to_owned())
            .collect()
    };
    assert_eq!(students(&e), [USER_IDS[0], USER_IDS[1]], "binding order");
    let reopened = open_engine(2, &e.store().map, T0 + 2);
    assert_eq!(students(&reopened), students(&e), "order after re-opening");
}
