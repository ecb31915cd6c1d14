#![cfg(not(target_arch = "wasm32"))]
//! The operations are store-agnostic (SPEC §5: each operation written once over a narrow store
//! interface). A second [`Repo`], written here from the trait's contract and nothing else, keeps
//! the records in plain `BTreeMap`s behind a transaction, as the contact service's database
//! does: reads see the transaction's own writes, nothing reaches the data until the operation
//! succeeded, a failing commit leaves nothing, a used token is a unique row, and "students of a
//! parent" is a query (`ORDER BY bound_at, user_id`), not a maintained index.
//!
//! A service-like driver runs [`campus_voip::ops`] on it with the same typed requests, the same
//! CSPRNG seed and the same secrets as an [`Engine`] (the local backend: the same operations on
//! its in-memory registry), step by step through random sequences. Every answer must be equal
//! (values, errors and their messages; share paths, tokens and room ids byte for byte) and so
//! must the state after every step. An operation that read anything but its `Repo` (the
//! registry, a cache, another store) would answer differently here.

use campus_voip::call::Version;
use campus_voip::engine::CallAct;
use campus_voip::engine::{CallOutcome, Config, Engine, MemRepo, Store};
use campus_voip::ids::{Millis, OpenId, UserId};
use campus_voip::input::Value;
use campus_voip::lifecycle::{Call, CallListQuery, CallRecord};
use campus_voip::ops::{self, Ctx, Secrets};
use campus_voip::registry::{Change, Registry, StudentRecord};
use campus_voip::repo::Party;
use campus_voip::repo::{self, ReadRepo, Repo};
use campus_voip::requests::{
    self, BindAdminReq, ContactListReq, DeleteReq, ListReq, ResetReq, ShareReq, TokenReq,
    TransferReq,
};
use campus_voip::rng::Rng;
use campus_voip::{Error, ErrorCode, Result};
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestCaseError, TestRunner};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

const T0: Millis = 1_800_000_000_000;
const COMPAT: Version = Version(2, 4, 0);
const SEED: [u8; 32] = [42; 32];
/// The last one is a device instance (no openId).
const ACTORS: [Option<&str>; 5] = [Some("dad"), Some("mum"), Some("gran"), Some("uncle"), None];
/// The last one is not a valid userId (1004 from the request parser).
const USERS: [&str; 4] = ["s1", "学生 2", "a&b=c?d", ""];
const NAMES: [&str; 2] = ["小明", ""];
const GARBAGE_PATH: &str =
    "pages/bind-contact/bind-contact?userId=s1&userName=x&userAvatar=&ticket=AAAA";

/// The one device both backends' calls come from.
const DEVICE: &str = "device-1";

fn config() -> Config {
    Config {
        max_contacts: 2,
        ticket_ttl_ms: 20_000,
        token_ttl_ms: 10_000,
        path_prefix: "__plugin__/wxtest/".into(),
        ring_timeout_ms: 30_000,
    }
}

fn oid(s: &str) -> OpenId {
    OpenId::parse("openId", s).unwrap()
}

fn s(v: &str) -> Value {
    Value::str(v)
}

fn uid_args(u: &str) -> Value {
    Value::object([("userId", s(u))])
}

// ---------------------------------------------------------------------------------------------
// The second store.

/// What the database holds (committed data).
#[derive(Clone, Default, Debug, PartialEq)]
struct Db {
    students: BTreeMap<UserId, StudentRecord>,
    consents: BTreeSet<OpenId>,
    used_tokens: BTreeMap<[u8; 12], Millis>,
    /// Calls in progress by roomId; ended calls' records in the order they ended.
    calls: BTreeMap<String, Call>,
    records: Vec<CallRecord>,
}

/// One transaction on a [`Db`].
struct Tx<'a> {
    db: &'a mut Db,
    /// The data as this transaction sees it: the committed data plus its own writes.
    pending: Db,
    /// Every commit fails (disk full, database locked), as a storage error.
    fail: bool,
    reads: RefCell<Vec<&'static str>>,
    commits: usize,
}

impl<'a> Tx<'a> {
    fn begin(db: &'a mut Db, fail: bool) -> Self {
        let pending = db.clone();
        Tx {
            db,
            pending,
            fail,
            reads: RefCell::new(Vec::new()),
            commits: 0,
        }
    }

    fn finish(self) {
        *self.db = self.pending;
    }
}

/// Runs `op` in one transaction: its writes reach the data only if it succeeded.
fn in_tx<T>(db: &mut Db, fail: bool, op: impl FnOnce(&mut Tx) -> Result<T>) -> Result<T> {
    let mut tx = Tx::begin(db, fail);
    let out = op(&mut tx);
    if out.is_ok() {
        tx.finish();
    }
    out
}

/// Owned rows, as a database returns them.
impl ReadRepo for Tx<'_> {
    type Record<'a>
        = Box<StudentRecord>
    where
        Self: 'a;
    type Ids<'a>
        = Vec<UserId>
    where
        Self: 'a;
    type LiveCall<'a>
        = Box<Call>
    where
        Self: 'a;
    fn student(&self, id: &UserId) -> Result<Option<Box<StudentRecord>>> {
        self.reads.borrow_mut().push("student");
        Ok(self.pending.students.get(id).cloned().map(Box::new))
    }
    fn consented(&self, who: &OpenId) -> Result<bool> {
        self.reads.borrow_mut().push("consented");
        Ok(self.pending.consents.contains(who))
    }
    fn token_used(&self, nonce: &[u8; 12]) -> Result<bool> {
        self.reads.borrow_mut().push("token_used");
        Ok(self.pending.used_tokens.contains_key(nonce))
    }
    fn students_of(&self, who: &OpenId) -> Result<Vec<UserId>> {
        self.reads.borrow_mut().push("students_of");
        // SELECT user_id FROM contacts WHERE open_id = ? ORDER BY bound_at, user_id
        let mut rows: Vec<(Millis, UserId)> = self
            .pending
            .students
            .values()
            .filter_map(|r| {
                r.contacts
                    .iter()
                    .find(|c| &c.open_id == who)
                    .map(|c| (c.bound_at, r.user_id.clone()))
            })
            .collect();
        rows.sort();
        Ok(rows.into_iter().map(|(_, u)| u).collect())
    }
    fn live_call(&self, room_id: &str) -> Result<Option<Box<Call>>> {
        self.reads.borrow_mut().push("live_call");
        Ok(self.pending.calls.get(room_id).cloned().map(Box::new))
    }
    fn live_calls(&self, party: Party<'_>) -> Result<Vec<Box<Call>>> {
        self.reads.borrow_mut().push("live_calls");
        Ok(self
            .pending
            .calls
            .values()
            .filter(|c| party.is_in(c))
            .cloned()
            .map(Box::new)
            .collect())
    }
    fn call_records(&self, q: &CallListQuery) -> Result<Vec<CallRecord>> {
        self.reads.borrow_mut().push("call_records");
        Ok(self
            .pending
            .records
            .iter()
            .filter(|r| q.matches(r))
            .cloned()
            .collect())
    }
}

impl Repo for Tx<'_> {
    fn commit(&mut self, change: Change) -> Result<()> {
        if self.fail {
            return Err(Error::storage("database is locked"));
        }
        let p = &mut self.pending;
        match change {
            Change::PutStudent(r) => {
                p.students.insert(r.user_id.clone(), r);
            }
            Change::RemoveStudent(id) => {
                p.students.remove(&id);
            }
            Change::Consent { open_id, granted } => {
                if granted {
                    p.consents.insert(open_id);
                } else {
                    p.consents.remove(&open_id);
                }
            }
            Change::UseToken { id, expires_at } => {
                // INSERT INTO used_tokens … (nonce UNIQUE)
                if p.used_tokens.contains_key(&id) {
                    return Err(repo::token_already_used());
                }
                p.used_tokens.insert(id, expires_at);
            }
            Change::PutCall { call, token } => {
                if let Some((id, expires_at)) = token {
                    if p.used_tokens.contains_key(&id) {
                        return Err(repo::token_already_used());
                    }
                    p.used_tokens.insert(id, expires_at);
                }
                if call.is_live() {
                    p.calls.insert(call.room_id.clone(), *call);
                } else {
                    p.calls.remove(&call.room_id);
                    p.records.extend(campus_voip::lifecycle::record(&call));
                }
            }
        }
        self.commits += 1;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// A service-like backend over it: what a request handler does (identity, clock, typed request,
// one transaction around the operation), next to the engine's facade.

struct Service {
    db: Db,
    rng: Rng,
    secrets: Secrets,
    config: Config,
    high_water: Millis,
}

impl Service {
    /// The engine's first open draws its secrets first from the seeded CSPRNG; so does this.
    fn new(now: Millis) -> Self {
        let mut rng = Rng::from_seed(SEED);
        let secrets = Secrets::generate(&mut rng);
        Service {
            db: Db::default(),
            rng,
            secrets,
            config: config(),
            high_water: now,
        }
    }

    fn clock(&mut self, now: Millis) -> Millis {
        self.high_water = self.high_water.max(now);
        self.high_water
    }

    fn tx<T>(
        &mut self,
        now: Millis,
        fail: bool,
        op: impl FnOnce(&mut Tx, &mut Ctx) -> Result<T>,
    ) -> Result<T> {
        let mut ctx = Ctx {
            now,
            rng: &mut self.rng,
            secrets: &self.secrets,
            config: &self.config,
        };
        in_tx(&mut self.db, fail, |tx| op(tx, &mut ctx))
    }
}

/// The local backend's store, told to fail for one step.
#[derive(Default)]
struct FailStore {
    map: BTreeMap<String, String>,
    fail: bool,
}

impl Store for FailStore {
    fn put(&mut self, key: &str, value: &str) -> std::result::Result<(), String> {
        if self.fail {
            return Err("disk full".into());
        }
        self.map.insert(key.into(), value.into());
        Ok(())
    }
    fn remove(&mut self, key: &str) -> std::result::Result<(), String> {
        if self.fail {
            return Err("disk full".into());
        }
        self.map.remove(key);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Steps.

#[derive(Clone, Debug)]
enum Link {
    Issued(prop::sample::Index),
    Garbage,
    Query(prop::sample::Index),
}

#[derive(Clone, Debug)]
enum Step {
    Authorize(usize),
    Revoke(usize),
    Consent(usize),
    BindAdmin(usize, usize),
    BadArgs(usize),
    Share(usize, usize, usize),
    List(usize, Option<usize>),
    Delete(usize, usize, Vec<usize>),
    Transfer(usize, usize, usize),
    Inspect(usize, Link),
    Accept(usize, Link),
    Decline(usize, Link),
    Token(usize),
    Reset(usize),
    ContactList(usize),
    /// Another caller than the token's student (if given), the listener, the token.
    Call(Option<usize>, usize, Option<prop::sample::Index>),
    HangUp,
    Clock(i64),
}

fn link() -> impl Strategy<Value = Link> {
    prop_oneof![
        6 => any::<prop::sample::Index>().prop_map(Link::Issued),
        1 => Just(Link::Garbage),
        1 => any::<prop::sample::Index>().prop_map(Link::Query),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    // Mostly the first student and the first parents, so records fill up and links bind.
    let a = prop_oneof![3 => Just(0usize), 2 => Just(1), 2 => Just(2), 2 => Just(3), 1 => Just(4)];
    let u = prop_oneof![5 => Just(0usize), 2 => Just(1), 1 => Just(2), 1 => Just(3)];
    let p = 0..4usize;
    prop_oneof![
        3 => a.clone().prop_map(Step::Authorize),
        1 => a.clone().prop_map(Step::Revoke),
        1 => a.clone().prop_map(Step::Consent),
        4 => (a.clone(), u.clone()).prop_map(|(a, u)| Step::BindAdmin(a, u)),
        1 => a.clone().prop_map(Step::BadArgs),
        5 => (a.clone(), u.clone(), prop_oneof![5 => Just(0usize), 1 => Just(1)])
            .prop_map(|(a, u, n)| Step::Share(a, u, n)),
        2 => (a.clone(), prop::option::of(u.clone())).prop_map(|(a, u)| Step::List(a, u)),
        2 => (a.clone(), u.clone(), prop::collection::vec(p.clone(), 1..3))
            .prop_map(|(a, u, t)| Step::Delete(a, u, t)),
        2 => (a.clone(), u.clone(), p.clone()).prop_map(|(a, u, n)| Step::Transfer(a, u, n)),
        3 => (a.clone(), link()).prop_map(|(a, l)| Step::Inspect(a, l)),
        5 => (a.clone(), link()).prop_map(|(a, l)| Step::Accept(a, l)),
        1 => (a.clone(), link()).prop_map(|(a, l)| Step::Decline(a, l)),
        3 => u.clone().prop_map(Step::Token),
        1 => u.clone().prop_map(Step::Reset),
        1 => u.clone().prop_map(Step::ContactList),
        5 => (prop::option::weighted(0.2, u), p, prop::option::weighted(0.9, any::<prop::sample::Index>()))
            .prop_map(|(u, l, t)| Step::Call(u, l, t)),
        2 => Just(Step::HangUp),
        3 => prop_oneof![4 => -2_000i64..5_000, 1 => 5_000i64..70_000].prop_map(Step::Clock),
    ]
}

/// An answer as compared: the value, or the error's code and message. Storage failures compare
/// by code only (each store words its own).
fn shown<T: Debug>(r: &Result<T>) -> String {
    match r {
        Ok(v) => format!("ok {v:?}"),
        Err(e) if e.code == ErrorCode::Storage => "err STORAGE".into(),
        Err(e) => format!("err {} {}", e.code.name(), e.message),
    }
}

/// The kind of an answer (for the coverage check): an error code, a bind outcome, an admission.
fn outcome(answer: &str) -> String {
    for (key, label) in [
        ("kind: ", "event"),
        ("status: Some(", "status"),
        ("Refused(Error { code: ", "refused"),
    ] {
        if let Some(at) = answer.find(key) {
            let rest = &answer[at + key.len()..];
            let end = rest.find([',', ')', ' ']).unwrap_or(rest.len());
            return format!("{label} {}", &rest[..end]);
        }
    }
    if answer.starts_with("ok Admitted") {
        return "admitted".into();
    }
    match answer.strip_prefix("err ") {
        Some(e) => e.split(' ').next().unwrap_or("").into(),
        None => "ok".into(),
    }
}

struct Pair {
    engine: Engine<FailStore>,
    service: Service,
    now: Millis,
    paths: Vec<String>,
    /// Issued face-pay tokens and their students.
    tokens: Vec<(usize, String)>,
}

impl Pair {
    fn new() -> Self {
        Pair {
            engine: Engine::open(config(), SEED, FailStore::default(), [], T0).unwrap(),
            service: Service::new(T0),
            now: T0,
            paths: Vec::new(),
            tokens: Vec::new(),
        }
    }

    fn link_value(&self, l: &Link) -> Value {
        match l {
            Link::Issued(i) if !self.paths.is_empty() => s(&self.paths[i.index(self.paths.len())]),
            Link::Query(i) if !self.paths.is_empty() => {
                // The query object the bind page got, instead of the path.
                let q = campus_voip::share::ShareQuery::from_path(
                    &self.paths[i.index(self.paths.len())],
                );
                Value::Object(q.params.into_iter().map(|(k, v)| (k, s(&v))).collect())
            }
            _ => s(GARBAGE_PATH),
        }
    }

    /// Runs one step on both backends; their answers as compared.
    fn run(&mut self, step: &Step, fail: bool) -> (String, String) {
        let now = self.now;
        let actor = |a: usize| ACTORS[a].map(oid);
        let e = &mut self.engine;
        let sv = &mut self.service;
        e.store_mut().fail = fail;
        let answers = match step {
            Step::Authorize(a) | Step::Revoke(a) => {
                let granted = matches!(step, Step::Authorize(_));
                let me = actor(*a);
                let le = if granted {
                    e.authorize_voip(me.as_ref())
                } else {
                    e.revoke_voip(me.as_ref())
                };
                let ls = ops::identity(me.as_ref())
                    .and_then(|me| sv.tx(now, fail, |tx, _| ops::set_consent(tx, me, granted)));
                (shown(&le), shown(&ls))
            }
            Step::Consent(a) => {
                let me = actor(*a);
                let ls = ops::identity(me.as_ref())
                    .and_then(|me| in_tx(&mut sv.db, fail, |tx| ops::consent(tx, me)));
                (shown(&e.consent(me.as_ref())), shown(&ls))
            }
            Step::BindAdmin(a, u) => {
                let (me, args) = (actor(*a), uid_args(USERS[*u]));
                let le = e.bind_admin(me.as_ref(), &args, now);
                let ls = ops::identity(me.as_ref()).and_then(|me| {
                    let now = sv.clock(now);
                    let req = BindAdminReq::parse(&args)?;
                    sv.tx(now, fail, |tx, ctx| ops::bind_admin(tx, ctx, me, req))
                });
                (shown(&le), shown(&ls))
            }
            Step::BadArgs(a) => {
                // The same parsers, so the same messages, for arguments of the wrong shape.
                let me = actor(*a);
                let bad = Value::Num(1.0);
                let le = e.delete(me.as_ref(), &bad, now);
                let ls = ops::identity(me.as_ref()).and_then(|me| {
                    let now = sv.clock(now);
                    let req = DeleteReq::parse(&bad)?;
                    sv.tx(now, fail, |tx, ctx| ops::delete(tx, ctx, me, req))
                });
                (shown(&le), shown(&ls))
            }
            Step::Share(a, u, n) => {
                let me = actor(*a);
                let args = Value::object([
                    ("userId", s(USERS[*u])),
                    ("userName", s(NAMES[*n])),
                    ("userAvatar", s("https://img.example/a.png?x=1&y=2")),
                ]);
                let le = e.share_path(me.as_ref(), &args, now);
                let ls = ops::identity(me.as_ref()).and_then(|me| {
                    let now = sv.clock(now);
                    let req = ShareReq::parse(&args)?;
                    sv.tx(now, fail, |tx, ctx| ops::share_path(tx, ctx, me, &req))
                });
                if let Ok(p) = &le {
                    self.paths.push(p.clone());
                }
                (shown(&le), shown(&ls))
            }
            Step::List(a, u) => {
                let me = actor(*a);
                let args = u.map_or(Value::Missing, |u| uid_args(USERS[u]));
                let ls = ops::identity(me.as_ref()).and_then(|me| {
                    let req = ListReq::parse(&args)?;
                    in_tx(&mut sv.db, fail, |tx| ops::list(tx, me, &req))
                });
                (shown(&e.list(me.as_ref(), &args)), shown(&ls))
            }
            Step::Delete(a, u, targets) => {
                let me = actor(*a);
                let list = targets
                    .iter()
                    .map(|t| s(ACTORS[*t].unwrap()))
                    .collect::<Vec<_>>();
                let args =
                    Value::object([("userId", s(USERS[*u])), ("openidList", Value::Array(list))]);
                let le = e.delete(me.as_ref(), &args, now);
                let ls = ops::identity(me.as_ref()).and_then(|me| {
                    let now = sv.clock(now);
                    let req = DeleteReq::parse(&args)?;
                    sv.tx(now, fail, |tx, ctx| ops::delete(tx, ctx, me, req))
                });
                (shown(&le), shown(&ls))
            }
            Step::Transfer(a, u, n) => {
                let me = actor(*a);
                let args = Value::object([
                    ("userId", s(USERS[*u])),
                    ("newAdminOpenid", s(ACTORS[*n].unwrap())),
                ]);
                let le = e.transfer(me.as_ref(), &args);
                let ls = ops::identity(me.as_ref()).and_then(|me| {
                    let req = TransferReq::parse(&args)?;
                    let now = sv.high_water;
                    sv.tx(now, fail, |tx, ctx| ops::transfer(tx, ctx, me, req))
                });
                (shown(&le), shown(&ls))
            }
            Step::Inspect(a, l) | Step::Accept(a, l) | Step::Decline(a, l) => {
                let me = actor(*a);
                let path = self.link_value(l);
                let (e, sv) = (&mut self.engine, &mut self.service);
                match step {
                    Step::Inspect(..) => {
                        let ls = ops::identity(me.as_ref()).and_then(|me| {
                            let now = sv.clock(now);
                            let q = requests::share_query(&path)?;
                            sv.tx(now, fail, |tx, ctx| ops::inspect(tx, ctx, me, q))
                        });
                        (shown(&e.inspect(me.as_ref(), &path, now)), shown(&ls))
                    }
                    Step::Accept(..) => {
                        let ls = ops::identity(me.as_ref()).and_then(|me| {
                            let now = sv.clock(now);
                            let q = requests::share_query(&path)?;
                            // As the service does: answered from a read snapshot when it
                            // changes nothing, else run again on the write path.
                            sv.tx(now, fail, |tx, ctx| {
                                let mut first = repo::ReadFirst::new(&*tx);
                                match ops::accept(&mut first, ctx, me, q.clone()) {
                                    Err(_) if first.wanted_write() => ops::accept(tx, ctx, me, q),
                                    answered => answered,
                                }
                            })
                        });
                        (shown(&e.accept(me.as_ref(), &path, now)), shown(&ls))
                    }
                    _ => {
                        let ls = ops::identity(me.as_ref()).and_then(|_| {
                            Ok(ops::decline(&sv.secrets, requests::share_query(&path)?))
                        });
                        (shown(&e.decline(me.as_ref(), &path)), shown(&ls))
                    }
                }
            }
            Step::Token(u) => {
                let args = uid_args(USERS[*u]);
                let le = e.issue_voip_token(&args, now);
                let now = sv.clock(now);
                let ls = TokenReq::parse(&args).and_then(|req| {
                    sv.tx(now, fail, |_, ctx| Ok(ops::issue_voip_token(ctx, &req)))
                });
                if let Ok(t) = &le {
                    self.tokens.push((*u, t.clone()));
                }
                (shown(&le), shown(&ls))
            }
            Step::Reset(u) => {
                let args = uid_args(USERS[*u]);
                let ls = ResetReq::parse(&args)
                    .and_then(|req| in_tx(&mut sv.db, fail, |tx| ops::reset_student(tx, req)));
                (shown(&e.reset_student(&args)), shown(&ls))
            }
            Step::ContactList(u) => {
                let args = Value::object([("user_id", s(USERS[*u]))]);
                let ls = ContactListReq::parse(&args)
                    .and_then(|req| in_tx(&mut sv.db, fail, |tx| ops::contact_list(tx, &req)));
                (shown(&e.contact_list(&args)), shown(&ls))
            }
            Step::Call(other, l, t) => {
                let (user, token) = match t {
                    Some(i) if !self.tokens.is_empty() => {
                        self.tokens[i.index(self.tokens.len())].clone()
                    }
                    _ => (0, "bogus-token".into()),
                };
                let u = &other.unwrap_or(user);
                let args = Value::object([
                    ("roomType", s("voice")),
                    ("caller", Value::object([("id", s(USERS[*u]))])),
                    ("listener", Value::object([("id", s(ACTORS[*l].unwrap()))])),
                    ("businessType", Value::Num(0.0)),
                    ("voipToken", s(&token)),
                ]);
                let le = e.init_by_caller(DEVICE, &args, COMPAT, now);
                let ls = requests::init_by_caller(&args, COMPAT).and_then(|req| {
                    let now = sv.high_water.max(now);
                    sv.high_water = now;
                    let mut ctx = Ctx {
                        now,
                        rng: &mut sv.rng,
                        secrets: &sv.secrets,
                        config: &sv.config,
                    };
                    in_tx(&mut sv.db, fail, |tx| {
                        ops::admit_call(tx, &mut ctx, DEVICE, &req)
                    })
                });
                (shown(&le), shown(&ls))
            }
            Step::HangUp => {
                let a = e.act_on_call(None, DEVICE, CallAct::HangUp, &Value::Missing, now);
                let now = sv.high_water.max(now);
                sv.high_water = now;
                let ctx = Ctx {
                    now,
                    rng: &mut sv.rng,
                    secrets: &sv.secrets,
                    config: &sv.config,
                };
                let b = in_tx(&mut sv.db, fail, |tx| {
                    ops::act_on_call(tx, &ctx, Party::Device(DEVICE), None, CallAct::HangUp)
                });
                (shown(&a), shown(&b))
            }
            Step::Clock(d) => {
                self.now = self.now.saturating_add_signed(*d);
                (String::new(), String::new())
            }
        };
        self.engine.store_mut().fail = false;
        answers
    }

    /// The engine's registry and the database hold the same data. Used tokens: the engine
    /// forgets expired ones in batches, the database here never does; those not yet expired are
    /// the same.
    fn same_state(&self) -> std::result::Result<(), TestCaseError> {
        let reg = self.engine.registry();
        let db = &self.service.db;
        let students: BTreeMap<UserId, StudentRecord> = reg
            .students()
            .map(|r| (r.user_id.clone(), r.clone()))
            .collect();
        prop_assert_eq!(&students, &db.students);
        let consents: BTreeSet<OpenId> = reg.consents().cloned().collect();
        prop_assert_eq!(&consents, &db.consents);
        let live = self.service.high_water;
        for (id, exp) in reg.used_tokens() {
            prop_assert_eq!(db.used_tokens.get(id), Some(exp));
        }
        for (id, exp) in &db.used_tokens {
            prop_assert!(
                *exp <= live || reg.token_used(id),
                "unexpired token forgotten"
            );
        }
        // The reverse index and the query give the same list order.
        let mut db = db.clone();
        let tx = Tx::begin(&mut db, false);
        for who in ACTORS.iter().flatten() {
            let who = oid(who);
            prop_assert_eq!(reg.students_of(&who), &tx.students_of(&who).unwrap()[..]);
        }
        Ok(())
    }
}

#[test]
fn the_operations_answer_the_same_over_both_stores() {
    let steps = prop::collection::vec((step(), prop::bool::weighted(0.1)), 1..90);
    let mut runner = TestRunner::new(PtConfig {
        cases: 256,
        failure_persistence: None,
        ..PtConfig::default()
    });
    let seen = RefCell::new(BTreeMap::<String, usize>::new());
    runner
        .run(&steps, |steps| {
            let mut pair = Pair::new();
            // Three consenting parents, dad the administrator of the first student.
            let prelude = [0, 1, 2].map(|a| (Step::Authorize(a), false));
            let prelude = prelude.into_iter().chain([(Step::BindAdmin(0, 0), false)]);
            for (i, (step, fail)) in prelude.chain(steps.iter().cloned()).enumerate() {
                let (engine, service) = pair.run(&step, fail);
                prop_assert_eq!(
                    &engine,
                    &service,
                    "step {}: {:?} (store fails: {})",
                    i,
                    step,
                    fail
                );
                *seen.borrow_mut().entry(outcome(&engine)).or_default() += 1;
                pair.same_state()?;
            }
            Ok(())
        })
        .unwrap();
    // The sequences reach the interesting paths, not only refusals.
    // The sequences reach every outcome, not only refusals.
    let seen = seen.into_inner();
    println!("{seen:#?}");
    let kinds = [
        "Success", "Binded", "Overload", "Invalid", "Expire", "Auth", "Unbind", "Cancel",
    ];
    let wanted = kinds
        .iter()
        .map(|k| format!("event {k}"))
        .chain(
            ["Binded", "Overload", "Invalid", "Expire", "Unbind"]
                .iter()
                .map(|k| format!("status {k}")),
        )
        .chain(
            ["BadVoipToken", "NotAuthorized", "NotContactOfCaller"]
                .iter()
                .map(|k| format!("refused {k}")),
        )
        .chain(
            [
                "admitted",
                "ok",
                "STORAGE",
                "BUSY",
                "NOT_ADMIN",
                "ADMIN_EXISTS",
                "ADMIN_SELF_DELETE",
                "NOT_CONTACT",
                "NOT_AUTHORIZED",
                "INVALID_ARGUMENT",
                "UNAUTHENTICATED",
            ]
            .map(String::from),
        );
    for w in wanted {
        assert!(
            seen.get(&w).is_some_and(|n| *n >= 3),
            "{w} seen {:?} times",
            seen.get(&w)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The store contract, one clause at a time.

fn service_with_student() -> (Service, OpenId, String) {
    let mut sv = Service::new(T0);
    let dad = oid("dad");
    sv.tx(T0, false, |tx, _| ops::set_consent(tx, &dad, true))
        .unwrap();
    let req = BindAdminReq::parse(&uid_args("s1")).unwrap();
    sv.tx(T0, false, |tx, ctx| ops::bind_admin(tx, ctx, &dad, req))
        .unwrap();
    let token = sv
        .tx(T0, false, |_, ctx| {
            Ok(ops::issue_voip_token(
                ctx,
                &TokenReq::parse(&uid_args("s1"))?,
            ))
        })
        .unwrap();
    (sv, dad, token)
}

fn call_req(token: &str) -> requests::CallRequest {
    requests::init_by_caller(
        &Value::object([
            ("roomType", s("video")),
            ("caller", Value::object([("id", s("s1"))])),
            ("listener", Value::object([("id", s("dad"))])),
            ("voipToken", s(token)),
        ]),
        COMPAT,
    )
    .unwrap()
}

/// Another process admitted the same token between this one's read and its write: the read
/// said "unused", the unique row refuses the insert, and the caller gets errCode 4 (reused),
/// not a storage error.
#[test]
fn a_token_raced_by_another_process_is_refused_by_the_commit() {
    struct StaleRead<'a>(Tx<'a>);
    impl ReadRepo for StaleRead<'_> {
        type Record<'a>
            = Box<StudentRecord>
        where
            Self: 'a;
        type Ids<'a>
            = Vec<UserId>
        where
            Self: 'a;
        type LiveCall<'a>
            = Box<Call>
        where
            Self: 'a;
        fn student(&self, id: &UserId) -> Result<Option<Box<StudentRecord>>> {
            self.0.student(id)
        }
        fn consented(&self, who: &OpenId) -> Result<bool> {
            self.0.consented(who)
        }
        fn token_used(&self, _: &[u8; 12]) -> Result<bool> {
            Ok(false)
        }
        fn students_of(&self, who: &OpenId) -> Result<Vec<UserId>> {
            self.0.students_of(who)
        }
        fn live_call(&self, room_id: &str) -> Result<Option<Box<Call>>> {
            self.0.live_call(room_id)
        }
        fn live_calls(&self, party: Party<'_>) -> Result<Vec<Box<Call>>> {
            self.0.live_calls(party)
        }
        fn call_records(&self, q: &CallListQuery) -> Result<Vec<CallRecord>> {
            self.0.call_records(q)
        }
    }
    impl Repo for StaleRead<'_> {
        fn commit(&mut self, change: Change) -> Result<()> {
            self.0.commit(change)
        }
    }

    let (mut sv, _, token) = service_with_student();
    let req = call_req(&token);
    let first = sv.tx(T0 + 1, false, |tx, ctx| {
        ops::admit_call(tx, ctx, DEVICE, &req)
    });
    assert!(matches!(first, Ok(CallOutcome::Admitted(_))), "{first:?}");
    let before = sv.db.clone();
    let mut ctx = Ctx {
        now: T0 + 2,
        rng: &mut sv.rng,
        secrets: &sv.secrets,
        config: &sv.config,
    };
    let mut raced = StaleRead(Tx::begin(&mut sv.db, false));
    // From another device (this one is in the first call).
    match ops::admit_call(&mut raced, &mut ctx, "device-2", &req) {
        Ok(CallOutcome::Refused(e)) => {
            assert_eq!(e.err_code(), 4);
            assert_eq!(e, repo::token_already_used());
            assert!(e.message.contains("already used"), "{}", e.message);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(raced.0.commits, 0);
    raced.0.finish();
    assert_eq!(sv.db, before, "the refused admission wrote nothing");
    // Without the race, the read refuses it first, with the same answer.
    let again = sv.tx(T0 + 3, false, |tx, ctx| {
        ops::admit_call(tx, ctx, "device-2", &req)
    });
    assert_eq!(again, Ok(CallOutcome::Refused(repo::token_already_used())));
}

/// The local store gives the same uniqueness (its admission reads first, so only a direct
/// commit can reach it).
#[test]
fn the_local_store_refuses_a_used_token_like_a_unique_row() {
    let mut mem = MemRepo::new(Registry::default(), BTreeMap::<String, String>::new());
    let change = Change::UseToken {
        id: [3; 12],
        expires_at: T0,
    };
    mem.commit(change.clone()).unwrap();
    let stored = mem.store().clone();
    assert_eq!(mem.commit(change), Err(repo::token_already_used()));
    assert_eq!(mem.store(), &stored);
    assert!(mem.token_used(&[3; 12]).unwrap());
}

/// Reads see the transaction's own writes; a failing commit leaves nothing, and an operation
/// that fails leaves nothing of the transaction.
#[test]
fn transactions_see_their_writes_and_failures_leave_nothing() {
    let mut db = Db::default();
    let mum = oid("mum");
    let req = || BindAdminReq::parse(&uid_args("s2")).unwrap();
    let mut rng = Rng::from_seed(SEED);
    let secrets = Secrets::generate(&mut rng);
    let config = config();
    let mut ctx = Ctx {
        now: T0,
        rng: &mut rng,
        secrets: &secrets,
        config: &config,
    };
    // Consent then bind in one transaction: the bind reads the consent just written.
    {
        let mut tx = Tx::begin(&mut db, false);
        ops::set_consent(&mut tx, &mum, true).unwrap();
        assert!(ops::bind_admin(&mut tx, &mut ctx, &mum, req()).is_ok());
        assert_eq!(tx.commits, 2);
        // Dropped without finishing: rolled back.
    }
    assert_eq!(db, Db::default());
    // A failing commit: a storage error, nothing written.
    let failed = in_tx(&mut db, true, |tx| ops::set_consent(tx, &mum, true));
    assert_eq!(failed.unwrap_err().code, ErrorCode::Storage);
    assert_eq!(db, Db::default());
    // A rule refusal (no consent): nothing written either.
    let refused = in_tx(&mut db, false, |tx| {
        ops::bind_admin(tx, &mut ctx, &mum, req())
    });
    assert_eq!(refused.unwrap_err().code, ErrorCode::NotAuthorized);
    assert_eq!(db, Db::default());
}

/// Runs `op` in one transaction; the reads it made, and how many changes it committed.
fn trace(
    sv: &mut Service,
    op: &mut dyn FnMut(&mut Tx, &mut Ctx) -> Result<()>,
) -> (Vec<&'static str>, usize) {
    let mut ctx = Ctx {
        now: T0 + 1,
        rng: &mut sv.rng,
        secrets: &sv.secrets,
        config: &sv.config,
    };
    let mut tx = Tx::begin(&mut sv.db, false);
    op(&mut tx, &mut ctx).unwrap();
    let seen = (tx.reads.take(), tx.commits);
    tx.finish();
    seen
}

/// What each operation reads and writes (the queries a database store runs for it).
#[test]
fn each_operation_reads_only_what_it_needs() {
    let (mut sv, dad, token) = service_with_student();
    let share = ShareReq::parse(&Value::object([
        ("userId", s("s1")),
        ("userName", s("小明")),
    ]))
    .unwrap();
    let mut path = String::new();
    assert_eq!(
        trace(&mut sv, &mut |tx, ctx| {
            path = ops::share_path(tx, ctx, &dad, &share)?;
            Ok(())
        }),
        (vec!["student"], 0)
    );
    let mum = oid("mum");
    trace(&mut sv, &mut |tx, _| ops::set_consent(tx, &mum, true));
    assert_eq!(
        trace(&mut sv, &mut |tx, ctx| {
            let q = requests::share_query(&s(&path))?;
            assert_eq!(ops::accept(tx, ctx, &mum, q)?.kind.as_str(), "success");
            Ok(())
        }),
        (vec!["student", "consented"], 1)
    );
    assert_eq!(
        trace(&mut sv, &mut |tx, _| ops::list(
            tx,
            &mum,
            &ListReq::parse(&Value::Missing)?
        )
        .map(drop)),
        (vec!["students_of", "student"], 0)
    );
    let req = call_req(&token);
    assert_eq!(
        trace(&mut sv, &mut |tx, ctx| ops::admit_call(
            tx, ctx, DEVICE, &req
        )
        .map(drop)),
        (
            vec![
                "live_calls",
                "token_used",
                "student",
                "consented",
                "live_calls"
            ],
            1
        )
    );
    let transfer = TransferReq::parse(&Value::object([
        ("userId", s("s1")),
        ("newAdminOpenid", s("mum")),
    ]))
    .unwrap();
    assert_eq!(
        trace(&mut sv, &mut |tx, ctx| ops::transfer(
            tx,
            ctx,
            &dad,
            transfer.clone()
        )
        .map(drop)),
        (vec!["student"], 1)
    );
    let reset = ResetReq::parse(&uid_args("s1")).unwrap();
    assert_eq!(
        trace(&mut sv, &mut |tx, _| ops::reset_student(tx, reset.clone())
            .map(drop)),
        (vec!["student"], 1)
    );
    assert!(sv.db.students.is_empty());
}
