//! kill -9 test of the real binary (SPEC §7 "an acknowledged change is never lost", §9 "race
//! and kill -9 tests of the service").
//!
//! Each cycle starts `campus-voip-server --dev … serve` on one SQLite file, checks that what the
//! earlier cycles acknowledged is there, runs a mixed write load from several concurrent clients
//! (raw HTTP/1.1 over loopback, one connection per request), then kills the process with SIGKILL
//! at a random moment (a seeded RNG: the seed is printed, `CRASH_SEED=<n>` replays the choices,
//! `CRASH_CYCLES=<n>` sets the number of cycles) and runs `check` on the file.
//!
//! Every client drives students and parents of its own, one request at a time, and keeps a
//! model of what the service must hold: an acknowledged write (HTTP 200, the reply read whole)
//! is in the model, so after the restart the stored state must be exactly the model, or (when
//! the kill caught a write in flight) exactly the model with that one write applied: never
//! anything in between, and never the model without an acknowledged write. Besides, every cycle
//! races the clients on shared students (one administrator wins, accepts stop at maxContacts),
//! and face-pay tokens admitted before a kill must be refused as reused after it.

mod common;
use campus_voip_server::clock::CLOCK_LEASE_AHEAD_MS;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::process::{self, err_code, http, result_ok, v1, wxa, Lost, Server, BIN};
/// Small, so the clients reach the limit (outcome `overload`).
const MAX_CONTACTS: usize = 4;
const CLIENTS: usize = 6;
const PARENTS: usize = 6;
const STUDENTS: usize = 3;
const REUSED: &str = "voipToken was already used; scan the face again";
/// `--ticket-ttl`: a share link's `expiresAt` minus it is the service's clock when it issued it.
const TICKET_TTL_S: u64 = 86_400;

// --- a seeded RNG (splitmix64) -------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
// --- the process -----------------------------------------------------------------------------

fn db_url(dir: &Path) -> String {
    process::db_url(dir)
}

/// Starts the binary on the folder's database; with `wait`, returns once it prints its address
/// (and the dev credentials), else at once.
fn start(dir: &Path, wait: bool) -> Server {
    let (max, ttl) = (MAX_CONTACTS.to_string(), TICKET_TTL_S.to_string());
    process::start(
        dir,
        &db_url(dir),
        &["--max-contacts", &max, "--ticket-ttl", &ttl],
        wait,
    )
}

/// `campus-voip-server check` on the folder's database (SQLite or PostgreSQL): must pass, and warn about nothing.
fn run_check(dir: &Path) {
    let out = Command::new(BIN)
        .args([
            "--database",
            &db_url(dir),
            "--max-contacts",
            &MAX_CONTACTS.to_string(),
            "check",
        ])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("check: ok") && !stdout.contains("warning"),
        "check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// --- the model -------------------------------------------------------------------------------

/// openId → role (1 administrator, 0 ordinary).
type Contacts = BTreeMap<String, u8>;

/// What one client's students and parents must look like in the service.
#[derive(Clone, Debug, Default, PartialEq)]
struct World {
    /// Students with contacts (absent: no record).
    students: BTreeMap<String, Contacts>,
    consent: BTreeMap<String, bool>,
}

fn admin_of(c: &Contacts) -> &str {
    c.iter()
        .find(|(_, r)| **r == 1)
        .map(|(o, _)| o.as_str())
        .expect("an administrator")
}

/// A student's contacts as the developer query reports them (`None`: errcode 1, no contacts),
/// with SPEC §2's invariants checked on the way: one administrator, listed first, no openId
/// twice, at most maxContacts.
fn stored_contacts(addr: SocketAddr, token: &str, student: &str) -> Contacts {
    let v = wxa(
        addr,
        "getvoipcontactlist",
        token,
        &json!({ "user_id": student }),
    )
    .unwrap();
    let list = v["contact_list"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    match v["errcode"].as_i64() {
        Some(1) => {
            assert!(list.is_empty(), "{v}");
            return Contacts::new();
        }
        Some(0) => {}
        _ => panic!("getvoipcontactlist {student}: {v}"),
    }
    let mut out = Contacts::new();
    for (i, c) in list.iter().enumerate() {
        let role = c["role"].as_u64().unwrap() as u8;
        assert_eq!(
            role == 1,
            i == 0,
            "{student}: the administrator is listed first, once: {v}"
        );
        let dup = out.insert(c["open_id"].as_str().unwrap().to_owned(), role);
        assert!(dup.is_none(), "{student} lists a contact twice: {v}");
    }
    assert!(
        !out.is_empty() && out.len() <= MAX_CONTACTS,
        "{student}: {v}"
    );
    out
}

/// Everything the shared clients need to send requests.
struct Net {
    addr: SocketAddr,
    sessions: BTreeMap<String, String>,
    /// One device key per client: a device is in one call at a time.
    devices: Vec<String>,
    access_token: String,
    /// Set just before the kill: a request failing after it is the kill's doing.
    killed: AtomicBool,
    /// The cycle's shared students: the race for administrator, and the full one's link.
    race: String,
    hot: String,
    hot_path: String,
    contention: Mutex<Contention>,
}

/// What the shared students acknowledged, kept over every cycle.
#[derive(Default)]
struct Contention {
    /// race student → winner acknowledged, ADMIN_EXISTS acknowledged, binds in flight.
    races: BTreeMap<String, (Option<String>, bool, BTreeSet<String>)>,
    /// full student → administrator, accepted (acked), in flight, `overload` acked.
    hot: BTreeMap<String, (String, BTreeSet<String>, BTreeSet<String>, bool)>,
}

impl Net {
    fn bearer(&self, who: &str) -> String {
        format!("Bearer {}", self.sessions[who])
    }
}

/// One client: its own students and parents, its model, the write in flight at the kill.
struct Client {
    id: usize,
    parents: Vec<String>,
    students: Vec<String>,
    model: World,
    /// The state the write in flight at the kill would make (`model` if it never landed).
    pending: Option<World>,
    /// Tokens admitted (acknowledged) in the last cycle: (student, listener, token).
    used_tokens: Vec<(String, String, String)>,
    acked: usize,
}

enum Step {
    Go,
    Stop,
}

impl Client {
    fn new(id: usize) -> Client {
        let parents: Vec<String> = (0..PARENTS).map(|k| format!("c{id}p{k}")).collect();
        Client {
            id,
            students: (0..STUDENTS).map(|j| format!("c{id}-学生{j}")).collect(),
            model: World {
                students: BTreeMap::new(),
                consent: parents.iter().map(|p| (p.clone(), false)).collect(),
            },
            parents,
            pending: None,
            used_tokens: Vec::new(),
            acked: 0,
        }
    }

    /// A request's loss: `Stop` when the service was killed (the write may be in flight, with
    /// `post` the state it makes); a failure before the kill fails the test.
    fn lost(&mut self, net: &Net, what: &str, e: Lost, post: Option<World>) -> Step {
        assert!(
            net.killed.load(Ordering::SeqCst),
            "client {}: {what} failed while the service was up (sent: {}): {}",
            self.id,
            e.sent,
            e.why
        );
        if e.sent {
            self.pending = post;
        }
        Step::Stop
    }

    /// A write whose reply `check` must accept; `post` is the state after it (acknowledged).
    fn write(
        &mut self,
        net: &Net,
        what: &str,
        send: impl FnOnce() -> Result<Value, Lost>,
        post: World,
        check: impl FnOnce(&Value),
    ) -> Step {
        match send() {
            Ok(v) => {
                check(&v);
                self.model = post;
                self.acked += 1;
                Step::Go
            }
            Err(e) => self.lost(net, what, e, Some(post)),
        }
    }

    /// The cycle's races first: bind the race student, accept the full student's link.
    fn contend(&mut self, net: &Net) -> Step {
        let me = self.parents[0].clone();
        let auth = net.bearer(&me);
        match v1(
            net.addr,
            "bindVoipAdminContact",
            &auth,
            &json!({ "userId": net.race }),
        ) {
            Ok(v) => {
                let mut c = net.contention.lock().unwrap();
                let entry = c.races.get_mut(&net.race).unwrap();
                match err_code(&v) {
                    0 => {
                        assert!(
                            entry.0.is_none(),
                            "two administrators acknowledged: {:?} and {me}",
                            entry.0
                        );
                        entry.0 = Some(me.clone());
                    }
                    3002 => entry.1 = true,
                    8 => assert!(!self.model.consent[&me], "{v}"),
                    _ => panic!("race bind: {v}"),
                }
            }
            Err(e) => {
                if e.sent {
                    net.contention
                        .lock()
                        .unwrap()
                        .races
                        .get_mut(&net.race)
                        .unwrap()
                        .2
                        .insert(me.clone());
                }
                return self.lost(net, "race bind", e, None);
            }
        }
        for k in 0..2 {
            let p = self.parents[k].clone();
            let hot = net.hot_path.clone();
            let r = v1(
                net.addr,
                "acceptBindContactPath",
                &net.bearer(&p),
                &json!({ "path": hot }),
            );
            let mut c = net.contention.lock().unwrap();
            let entry = c.hot.get_mut(&net.hot).unwrap();
            match r {
                Ok(v) => match result_ok("acceptBindContactPath", &v)["type"]
                    .as_str()
                    .unwrap()
                {
                    "success" => {
                        entry.1.insert(p);
                    }
                    "overload" => entry.3 = true,
                    "auth" => assert!(!self.model.consent[&p]),
                    other => panic!("accepting the full student's link: {other}: {v}"),
                },
                Err(e) => {
                    if e.sent {
                        entry.2.insert(p);
                    }
                    drop(c);
                    return self.lost(net, "hot accept", e, None);
                }
            }
        }
        Step::Go
    }

    /// Reuse of the tokens the last cycle admitted: refused as reused.
    fn reuse_tokens(&mut self, net: &Net) {
        // A call admitted before the kill may still ring: this device hangs it up first.
        let v = v1(
            net.addr,
            "forceHangUpVoip",
            &net.devices[self.id],
            &json!({}),
        )
        .unwrap();
        result_ok("forceHangUpVoip", &v);
        for (student, listener, token) in std::mem::take(&mut self.used_tokens) {
            let v = v1(
                net.addr,
                "initByCaller",
                &net.devices[self.id],
                &call_args(&student, &listener, &token),
            )
            .unwrap();
            let r = result_ok("initByCaller", &v);
            assert!(
                r["isSuccess"] == false && r["errCode"] == 4 && r["message"] == REUSED,
                "client {}: a token admitted before the kill was not refused as reused after it: {r}",
                self.id
            );
        }
    }

    /// One random operation whose outcome the model predicts.
    fn step(&mut self, net: &Net, rng: &mut Rng) -> Step {
        let student = rng.pick(&self.students).clone();
        let parent = rng.pick(&self.parents).clone();
        let m = self.model.clone();
        let Some(contacts) = m.students.get(&student).cloned() else {
            // No record: become its administrator (8 without consent).
            if !m.consent[&parent] && rng.chance(70) {
                return self.set_consent(net, &parent, true);
            }
            let mut post = m.clone();
            let consented = m.consent[&parent];
            if consented {
                post.students
                    .insert(student.clone(), Contacts::from([(parent.clone(), 1)]));
            }
            let auth = net.bearer(&parent);
            let body = json!({ "userId": student });
            return self.write(
                net,
                "bind",
                || v1(net.addr, "bindVoipAdminContact", &auth, &body),
                post,
                |v| match consented {
                    true => assert_eq!(result_ok("bind", v)["userId"], student.as_str()),
                    false => assert_eq!(err_code(v), 8, "{v}"),
                },
            );
        };
        let admin = admin_of(&contacts).to_owned();
        let ordinary: Vec<String> = contacts.keys().filter(|o| **o != admin).cloned().collect();
        match rng.below(100) {
            0..=34 => self.accept(net, rng, &student, &admin, &contacts),
            35..=49 => {
                let mut post = m.clone();
                let (list, expect) = if !ordinary.is_empty() && rng.chance(80) {
                    let list: Vec<String> = ordinary
                        .iter()
                        .filter(|_| rng.chance(50))
                        .cloned()
                        .collect();
                    let list = if list.is_empty() {
                        vec![ordinary[0].clone()]
                    } else {
                        list
                    };
                    let rec = post.students.get_mut(&student).unwrap();
                    for o in &list {
                        rec.remove(o);
                    }
                    (list, 0)
                } else if rng.chance(50) {
                    (vec![admin.clone()], 3004)
                } else {
                    let outsider = self.parents.iter().find(|p| !contacts.contains_key(*p));
                    match outsider {
                        Some(o) => (vec![o.clone()], 3003),
                        None => (vec![admin.clone()], 3004),
                    }
                };
                let (who, expect) = if expect == 0 && !ordinary.is_empty() && rng.chance(10) {
                    // Not the administrator: refused, nothing deleted.
                    post = m.clone();
                    (ordinary[0].clone(), 3001)
                } else {
                    (admin.clone(), expect)
                };
                let auth = net.bearer(&who);
                let body = json!({ "userId": student, "openidList": list });
                self.write(
                    net,
                    "delete",
                    || v1(net.addr, "deleteVoipBindContact", &auth, &body),
                    post,
                    |v| {
                        assert_eq!(err_code(v), expect, "delete {list:?} by {who}: {v}");
                        if expect == 0 {
                            let deleted: BTreeSet<&str> = v["result"]["deleted"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(|d| d.as_str().unwrap())
                                .collect();
                            assert_eq!(deleted, list.iter().map(String::as_str).collect(), "{v}");
                        }
                    },
                )
            }
            50..=64 => {
                let to = if ordinary.is_empty() {
                    admin.clone()
                } else {
                    rng.pick(&ordinary).clone()
                };
                let mut post = m.clone();
                let rec = post.students.get_mut(&student).unwrap();
                rec.insert(admin.clone(), 0);
                rec.insert(to.clone(), 1);
                let auth = net.bearer(&admin);
                let body = json!({ "userId": student, "newAdminOpenid": to });
                self.write(
                    net,
                    "transfer",
                    || v1(net.addr, "transerAdmin", &auth, &body),
                    post,
                    |v| {
                        assert_eq!(result_ok("transerAdmin", v)["adminOpenid"], to.as_str());
                    },
                )
            }
            65..=74 => {
                let granted = !m.consent[&parent];
                self.set_consent(net, &parent, granted)
            }
            75..=89 => self.call(net, rng, &student, &contacts),
            90..=94 => {
                let other = self
                    .parents
                    .iter()
                    .find(|p| **p != admin && m.consent[*p])
                    .cloned();
                let (who, expect) = match other {
                    Some(o) if rng.chance(50) => (o, 3002),
                    _ => (admin.clone(), if m.consent[&admin] { 0 } else { 8 }),
                };
                let auth = net.bearer(&who);
                let body = json!({ "userId": student });
                self.write(
                    net,
                    "rebind",
                    || v1(net.addr, "bindVoipAdminContact", &auth, &body),
                    m.clone(),
                    |v| assert_eq!(err_code(v), expect, "bind by {who}: {v}"),
                )
            }
            _ => {
                let mut post = m.clone();
                post.students.remove(&student);
                let body = json!({ "user_id": student });
                self.write(
                    net,
                    "reset",
                    || wxa(net.addr, "resetvoipcontact", &net.access_token, &body),
                    post,
                    |v| assert!(v["errcode"] == 0 && v["removed"] == true, "{v}"),
                )
            }
        }
    }

    fn set_consent(&mut self, net: &Net, who: &str, granted: bool) -> Step {
        let mut post = self.model.clone();
        post.consent.insert(who.to_owned(), granted);
        let api = if granted {
            "authorizeVoip"
        } else {
            "revokeVoip"
        };
        let auth = net.bearer(who);
        self.write(
            net,
            api,
            || v1(net.addr, api, &auth, &json!({})),
            post,
            |v| {
                result_ok(api, v);
            },
        )
    }

    /// The administrator's link, accepted by someone: the outcome the table (SPEC §3.4)
    /// gives for the model's state.
    fn accept(
        &mut self,
        net: &Net,
        rng: &mut Rng,
        student: &str,
        admin: &str,
        contacts: &Contacts,
    ) -> Step {
        let body = json!({ "userId": student, "userName": format!("名字 {student}"), "userAvatar": "https://img.example/a.png" });
        let path = match v1(net.addr, "getBindContactPath", &net.bearer(admin), &body) {
            Ok(v) => result_ok("getBindContactPath", &v)
                .as_str()
                .unwrap()
                .to_owned(),
            Err(e) => return self.lost(net, "getBindContactPath", e, None),
        };
        let outsiders: Vec<String> = self
            .parents
            .iter()
            .filter(|p| !contacts.contains_key(*p))
            .cloned()
            .collect();
        let who = if outsiders.is_empty() || rng.chance(10) {
            rng.pick(&self.parents).clone()
        } else {
            rng.pick(&outsiders).clone()
        };
        let mut post = self.model.clone();
        let expect = if contacts.contains_key(&who) {
            "binded"
        } else if contacts.len() >= MAX_CONTACTS {
            "overload"
        } else if !self.model.consent[&who] {
            "auth"
        } else {
            post.students
                .get_mut(student)
                .unwrap()
                .insert(who.clone(), 0);
            "success"
        };
        let auth = net.bearer(&who);
        let body = json!({ "path": path });
        self.write(
            net,
            "accept",
            || v1(net.addr, "acceptBindContactPath", &auth, &body),
            post,
            |v| {
                let r = result_ok("acceptBindContactPath", v);
                assert_eq!(r["type"], expect, "{who} accepting {student}'s link: {r}");
            },
        )
    }

    /// A face-pay token, then the call: admitted when the listener is a consenting contact.
    fn call(&mut self, net: &Net, rng: &mut Rng, student: &str, contacts: &Contacts) -> Step {
        let listener = rng
            .pick(&contacts.keys().cloned().collect::<Vec<_>>())
            .clone();
        let token = match v1(
            net.addr,
            "issueVoipToken",
            &net.devices[self.id],
            &json!({ "userId": student }),
        ) {
            Ok(v) => result_ok("issueVoipToken", &v).as_str().unwrap().to_owned(),
            Err(e) => return self.lost(net, "issueVoipToken", e, None),
        };
        let admitted = self.model.consent[&listener];
        let args = call_args(student, &listener, &token);
        match v1(net.addr, "initByCaller", &net.devices[self.id], &args) {
            Ok(v) => {
                let r = result_ok("initByCaller", &v);
                assert_eq!(r["isSuccess"], admitted, "call {student} → {listener}: {r}");
                if !admitted {
                    assert_eq!(r["errCode"], 8, "{r}");
                } else {
                    self.used_tokens.push((student.to_owned(), listener, token));
                    // The device ends the call (cancelled while it rings) before its next one.
                    match v1(
                        net.addr,
                        "forceHangUpVoip",
                        &net.devices[self.id],
                        &json!({}),
                    ) {
                        Ok(v) => {
                            result_ok("forceHangUpVoip", &v);
                        }
                        Err(e) => return self.lost(net, "forceHangUpVoip", e, None),
                    }
                }
                self.acked += 1;
                Step::Go
            }
            // In flight: the token may or may not be used; the model holds no tokens.
            Err(e) => self.lost(net, "initByCaller", e, None),
        }
    }

    /// What the service holds for this client's students and parents (invariants checked).
    fn observe(&self, net: &Net) -> World {
        let mut w = World::default();
        for s in &self.students {
            let c = stored_contacts(net.addr, &net.access_token, s);
            if !c.is_empty() {
                w.students.insert(s.clone(), c);
            }
        }
        for p in &self.parents {
            let v = v1(net.addr, "getVoipConsent", &net.bearer(p), &json!({})).unwrap();
            w.consent.insert(
                p.clone(),
                result_ok("getVoipConsent", &v)["granted"]
                    .as_bool()
                    .unwrap(),
            );
        }
        w
    }

    /// After a restart: the stored state is the model, or the model with the write in flight
    /// applied; then each parent's own list agrees with it.
    fn reconcile(&mut self, net: &Net, cycle: usize) {
        let seen = self.observe(net);
        let pending = self.pending.take();
        if seen != self.model {
            assert!(
                pending.as_ref() == Some(&seen),
                "cycle {cycle}, client {}: after the restart the service holds\n{seen:#?}\nbut the acknowledged writes make\n{:#?}\n(write in flight at the kill would make: {pending:#?})",
                self.id,
                self.model
            );
            self.model = seen;
        }
        for p in &self.parents {
            let v = v1(
                net.addr,
                "getVoipBindContactList",
                &net.bearer(p),
                &json!({}),
            )
            .unwrap();
            let list = result_ok("getVoipBindContactList", &v);
            let mut got = BTreeMap::new();
            for e in list.as_array().unwrap() {
                let id = e["user_id"].as_str().unwrap();
                if self.students.iter().any(|s| s == id) {
                    let ids: Vec<String> = e["openid_list"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|o| o.as_str().unwrap().to_owned())
                        .collect();
                    got.insert(id.to_owned(), (e["is_ad"].as_u64().unwrap(), ids));
                }
            }
            let want: BTreeMap<&String, &u8> = self
                .model
                .students
                .iter()
                .filter_map(|(s, c)| c.get(p).map(|r| (s, r)))
                .collect();
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                want.keys().copied().collect::<Vec<_>>(),
                "cycle {cycle}: the students in {p}'s getVoipBindContactList"
            );
            for (s, role) in want {
                let (is_ad, ids) = &got[s];
                assert_eq!(*is_ad, u64::from(*role), "{p}'s entry for {s}");
                if *role == 1 {
                    // Administrator first; the others in binding order, which the model does
                    // not keep: compared as a set.
                    assert_eq!(ids[0], *p, "{p}'s entry for {s}: {ids:?}");
                    let all: BTreeSet<&String> = ids.iter().collect();
                    assert_eq!(all.len(), ids.len(), "{ids:?}");
                    assert_eq!(
                        all,
                        self.model.students[s].keys().collect(),
                        "{p}'s entry for {s}"
                    );
                } else {
                    assert_eq!(ids, std::slice::from_ref(p), "{p}'s entry for {s}");
                }
            }
        }
    }
}

fn call_args(student: &str, listener: &str, token: &str) -> Value {
    json!({
        "roomType": "voice",
        "caller": { "id": student },
        "listener": { "id": listener },
        "voipToken": token,
    })
}

/// The shared students of every cycle so far, against what was acknowledged.
fn check_contention(net: &Net) {
    let c = net.contention.lock().unwrap();
    for (student, (winner, exists, in_flight)) in &c.races {
        let stored = stored_contacts(net.addr, &net.access_token, student);
        match winner {
            Some(w) => assert_eq!(stored, Contacts::from([(w.clone(), 1)]), "race {student}"),
            None if stored.is_empty() => assert!(
                !exists,
                "race {student}: ADMIN_EXISTS was acknowledged, no admin stored"
            ),
            None => {
                assert_eq!(stored.len(), 1, "race {student}: {stored:?}");
                let admin = admin_of(&stored);
                assert!(in_flight.contains(admin), "race {student}: {admin} is administrator, no such bind was sent or acknowledged");
            }
        }
    }
    for (student, (admin, accepted, in_flight, overload)) in &c.hot {
        let stored = stored_contacts(net.addr, &net.access_token, student);
        assert_eq!(admin_of(&stored), admin, "{student}");
        for a in accepted {
            assert_eq!(
                stored.get(a),
                Some(&0),
                "{student}: acknowledged contact {a} lost: {stored:?}"
            );
        }
        for o in stored.keys().filter(|o| *o != admin) {
            assert!(
                accepted.contains(o) || in_flight.contains(o),
                "{student}: {o} was never acknowledged nor in flight"
            );
        }
        if *overload {
            assert_eq!(
                stored.len(),
                MAX_CONTACTS,
                "{student}: overload acknowledged: {stored:?}"
            );
        }
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let started = Instant::now();
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let cycles: usize = std::env::var("CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    eprintln!(
        "crash test: seed {seed} (replay the choices with CRASH_SEED={seed}), {cycles} cycles"
    );
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut clients: Vec<Client> = (0..CLIENTS).map(Client::new).collect();
    let mut sessions = BTreeMap::new();
    let mut devices: Vec<String> = Vec::new();
    let mut contention = Contention::default();
    let mut killed_early = 0;
    let mut last_ops_now = 0;
    let mut starts: i64 = 0;

    for cycle in 0..=cycles {
        // Now and then the kill comes while the service is still starting.
        if cycle > 0 && cycle < cycles && rng.chance(15) {
            let s = start(dir.path(), false);
            starts += 1;
            std::thread::sleep(Duration::from_millis(rng.below(60) as u64));
            s.kill();
            killed_early += 1;
        }
        let t = Instant::now();
        let server = start(dir.path(), true);
        starts += 1;
        let addr = server.addr.unwrap();
        let access_token = server.access_token();
        if cycle == 0 {
            for c in &clients {
                for p in &c.parents {
                    let v = http(
                        addr,
                        "POST",
                        "/v1/dev/session",
                        None,
                        json!({ "openId": p }).to_string().as_bytes(),
                    )
                    .unwrap()
                    .1;
                    sessions.insert(
                        p.clone(),
                        v["session"]
                            .as_str()
                            .unwrap_or_else(|| panic!("{v}"))
                            .to_owned(),
                    );
                }
            }
            for i in 0..CLIENTS {
                let body = json!({ "name": format!("door-{i}") }).to_string();
                let v = http(addr, "POST", "/v1/dev/device", None, body.as_bytes())
                    .unwrap()
                    .1;
                devices.push(format!(
                    "Device {}",
                    v["deviceKey"].as_str().unwrap_or_else(|| panic!("{v}"))
                ));
            }
        }
        // Sessions and the device key were minted in the first cycle: they outlive restarts.
        let mut net = Net {
            addr,
            sessions: sessions.clone(),
            devices: devices.clone(),
            access_token,
            killed: AtomicBool::new(false),
            race: format!("race{cycle}"),
            hot: format!("hot{cycle}"),
            hot_path: String::new(),
            contention: Mutex::new(std::mem::take(&mut contention)),
        };
        for c in clients.iter_mut() {
            c.reconcile(&net, cycle);
            c.reuse_tokens(&net);
        }
        check_contention(&net);
        let verified = t.elapsed();
        if cycle == cycles {
            eprintln!(
                "final restart: every acknowledged write present ({} acknowledged in all, {killed_early} kills during start-up), {:.1?} in all",
                clients.iter().map(|c| c.acked).sum::<usize>(),
                started.elapsed()
            );
            server.kill();
            run_check(dir.path());
            break;
        }

        // The cycle's shared students: one to race for, one a full house races to join.
        let hot = net.hot.clone();
        let hot_admin = format!("hotadm{cycle}");
        let v = http(
            addr,
            "POST",
            "/v1/dev/session",
            None,
            json!({ "openId": hot_admin }).to_string().as_bytes(),
        )
        .unwrap()
        .1;
        let hot_auth = format!("Bearer {}", v["session"].as_str().unwrap());
        result_ok(
            "authorizeVoip",
            &v1(addr, "authorizeVoip", &hot_auth, &json!({})).unwrap(),
        );
        result_ok(
            "bind",
            &v1(
                addr,
                "bindVoipAdminContact",
                &hot_auth,
                &json!({ "userId": hot }),
            )
            .unwrap(),
        );
        let body = json!({ "userId": hot, "userName": "热", "userAvatar": "" });
        net.hot_path = result_ok(
            "path",
            &v1(addr, "getBindContactPath", &hot_auth, &body).unwrap(),
        )
        .as_str()
        .unwrap()
        .to_owned();
        // The operations' clock never goes back, across restarts too (the stored lease).
        let body = json!({ "path": net.hot_path });
        let link = v1(addr, "inspectBindContactPath", &hot_auth, &body).unwrap();
        let ops_now =
            result_ok("inspect", &link)["expiresAt"].as_u64().unwrap() - TICKET_TTL_S * 1000;
        assert!(
            ops_now >= last_ops_now,
            "cycle {cycle}: the service's clock went back from {last_ops_now} to {ops_now}"
        );
        last_ops_now = ops_now;
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let ahead_s = (ops_now as i64 - wall) as f64 / 1000.0;
        // Each start may begin at the stored lease, up to CLOCK_LEASE_AHEAD_MS past the wall
        // clock; the next lease counts from the wall clock again, so a crash loop does not add
        // a margin per start: never more than one margin ahead (and a little slack).
        assert!(
            ops_now as i64 - wall <= CLOCK_LEASE_AHEAD_MS as i64 + 5_000,
            "cycle {cycle}: the service's clock is {ahead_s} s ahead after {starts} starts"
        );
        {
            let mut c = net.contention.lock().unwrap();
            c.races
                .insert(net.race.clone(), (None, false, BTreeSet::new()));
            c.hot.insert(
                hot.clone(),
                (hot_admin, BTreeSet::new(), BTreeSet::new(), false),
            );
        }
        if cycle == 0 {
            // Everyone consents first (acknowledged like any write).
            for c in clients.iter_mut() {
                for p in c.parents.clone() {
                    assert!(matches!(c.set_consent(&net, &p, true), Step::Go));
                }
            }
        }

        let acked_before: usize = clients.iter().map(|c| c.acked).sum();
        let load_ms = 30 + rng.below(600) as u64;
        let seeds: Vec<u64> = clients.iter().map(|_| rng.next()).collect();
        std::thread::scope(|scope| {
            for (c, s) in clients.iter_mut().zip(&seeds) {
                let net = &net;
                let mut crng = Rng(*s);
                scope.spawn(move || {
                    if let Step::Stop = c.contend(net) {
                        return;
                    }
                    while let Step::Go = c.step(net, &mut crng) {}
                });
            }
            std::thread::sleep(Duration::from_millis(load_ms));
            net.killed.store(true, Ordering::SeqCst);
            server.kill();
        });
        let in_flight = clients.iter().filter(|c| c.pending.is_some()).count();
        run_check(dir.path());
        contention = net.contention.into_inner().unwrap();
        eprintln!(
            "cycle {cycle:2}: verified in {verified:.0?}, killed after {load_ms} ms of load: {} writes acknowledged, {in_flight} in flight; check ok; the service's clock {ahead_s:+.0} s from the wall clock ({:.1?} so far)",
            clients.iter().map(|c| c.acked).sum::<usize>() - acked_before,
            started.elapsed()
        );
    }
}
