//! Two replicas of the service (two processes of the real binary) on one PostgreSQL database
//! (SPEC §7): the races split across both, a call from a device on one to a parent on the
//! other, one replica killed with SIGKILL under load, PostgreSQL stopped and started under load.
//!
//! PostgreSQL only: with `CAMPUS_VOIP_TEST_PG` (`make test-pg`, through `scripts/pg.sh run`); the
//! PostgreSQL restart test also needs `CAMPUS_VOIP_TEST_PG_CTL` and `CAMPUS_VOIP_TEST_PG_DATA`
//! (set by the same script). Without them each test says it was skipped and passes.

mod common;

use common::process::{self, http, result_ok, v1, wxa, Server};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MAX_CONTACTS: &str = "10";

/// One test at a time: the restart test stops the database under everyone.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

fn skipped(what: &str) -> bool {
    if common::on_pg() {
        return false;
    }
    eprintln!("{what}: skipped (needs PostgreSQL: make test-pg)");
    true
}

/// Two replicas on the folder's database (the first migrates it; the second finds it current).
fn two(dir: &Path) -> (Server, Server) {
    let url = process::db_url(dir);
    let flags = ["--max-contacts", MAX_CONTACTS];
    let a = process::start(dir, &url, &flags, true);
    let b = process::start(dir, &url, &flags, true);
    (a, b)
}

fn addr(s: &Server) -> SocketAddr {
    s.addr.unwrap()
}

/// A session for `open_id` (`/v1/dev/session`; both replicas share the --dev secret).
fn session(at: SocketAddr, open_id: &str) -> String {
    let body = json!({ "openId": open_id }).to_string();
    let (status, v) = http(at, "POST", "/v1/dev/session", None, body.as_bytes()).unwrap();
    assert_eq!(status, 200, "{v}");
    format!("Bearer {}", v["session"].as_str().unwrap())
}

/// A device key for `name` (`/v1/dev/device`).
fn device(at: SocketAddr, name: &str) -> String {
    let body = json!({ "name": name }).to_string();
    let (status, v) = http(at, "POST", "/v1/dev/device", None, body.as_bytes()).unwrap();
    assert_eq!(status, 200, "{v}");
    format!("Device {}", v["deviceKey"].as_str().unwrap())
}

fn ok(at: SocketAddr, api: &str, auth: &str, body: Value) -> Value {
    result_ok(api, &v1(at, api, auth, &body).unwrap())
}

/// Runs `n` jobs on `threads` threads at once (each job gets its index).
fn race<T: Send>(n: usize, threads: usize, job: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let out = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    break;
                }
                let r = job(i);
                out.lock().unwrap().push((i, r));
            });
        }
    });
    let mut out = out.into_inner().unwrap();
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

#[test]
fn the_races_split_across_two_replicas_keep_the_invariants() {
    if skipped("races across replicas") {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two(dir.path());
    let at = [addr(&a), addr(&b)];

    // 200 accepts of one share link, alternately on each replica: exactly 9 (maxContacts 10,
    // the administrator is the first) succeed, every other one is overload.
    let admin = session(at[0], "admin");
    ok(at[0], "authorizeVoip", &admin, json!({}));
    ok(
        at[0],
        "bindVoipAdminContact",
        &admin,
        json!({ "userId": "s1" }),
    );
    let path = ok(
        at[1],
        "getBindContactPath",
        &admin,
        json!({ "userId": "s1", "userName": "s1", "userAvatar": "" }),
    );
    let parents: Vec<String> = (0..200)
        .map(|i| {
            let s = session(at[i % 2], &format!("p{i}"));
            ok(at[i % 2], "authorizeVoip", &s, json!({}));
            s
        })
        .collect();
    let outcomes = race(200, 32, |i| {
        let r = ok(
            at[i % 2],
            "acceptBindContactPath",
            &parents[i],
            json!({ "path": path }),
        );
        r["type"].as_str().unwrap().to_owned()
    });
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for k in &outcomes {
        *kinds.entry(k.clone()).or_default() += 1;
    }
    eprintln!("200 accepts over two replicas: {kinds:?}");
    assert_eq!(kinds.get("success"), Some(&9), "{kinds:?}");
    assert_eq!(kinds.get("overload"), Some(&191), "{kinds:?}");
    // Both replicas read the same 10 contacts.
    for at in at {
        assert_eq!(contacts(at, &admin, "s1").len(), 10);
    }

    // 50 parents race to be the first (administrator) of s2: one wins.
    let racers: Vec<String> = (0..50)
        .map(|i| {
            let s = session(at[i % 2], &format!("r{i}"));
            ok(at[i % 2], "authorizeVoip", &s, json!({}));
            s
        })
        .collect();
    let won = race(50, 25, |i| {
        let v = v1(
            at[i % 2],
            "bindVoipAdminContact",
            &racers[i],
            &json!({ "userId": "s2" }),
        )
        .unwrap();
        v["errCode"] == 0
    });
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "one administrator");
    let winner = won.iter().position(|w| *w).unwrap();
    assert_eq!(
        contacts(at[1 - winner % 2], &racers[winner], "s2"),
        [format!("r{winner}")]
    );

    // One face-pay token raced on both replicas: admitted once, refused as used (4) otherwise.
    let dev = [device(at[0], "gate-a"), device(at[1], "gate-b")];
    let token = ok(at[0], "issueVoipToken", &dev[0], json!({ "userId": "s1" }));
    let admitted = race(2, 2, |i| {
        let v = v1(
            at[i],
            "initByCaller",
            &dev[i],
            &json!({ "roomType": "voice", "caller": { "id": "s1" },
                     "listener": { "id": "admin" }, "voipToken": token }),
        )
        .unwrap();
        let r = result_ok("initByCaller", &v);
        (r["isSuccess"].clone(), r["errCode"].clone())
    });
    let yes = admitted.iter().filter(|(s, _)| *s == json!(true)).count();
    assert_eq!(yes, 1, "{admitted:?}");
    assert!(
        admitted
            .iter()
            .any(|(s, c)| *s == json!(false) && *c == json!(4)),
        "{admitted:?}"
    );
}

/// Reads one long-poll answer of `/v1/events` for `auth` after `after`; the messages.
fn poll(at: SocketAddr, auth: &str, after: i64, secs: u64) -> (i64, Vec<Value>) {
    let (status, v) = http(
        at,
        "GET",
        &format!("/v1/events?poll={secs}&after={after}"),
        Some(auth),
        b"",
    )
    .unwrap();
    assert_eq!(status, 200, "{v}");
    let last = v["lastEventId"].as_i64().unwrap();
    (last, v["messages"].as_array().unwrap().clone())
}

/// The event names of `messages`, in order.
fn names(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .flat_map(|m| m["events"].as_array().unwrap().clone())
        .map(|e| e["eventName"].as_str().unwrap().to_owned())
        .collect()
}

/// Long-polls until the party has heard `want` (all of it, in order), at most 10 s.
fn hear(at: SocketAddr, auth: &str, after: &mut i64, want: &[&str]) -> Vec<Value> {
    let until = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while names(&got).len() < want.len() && Instant::now() < until {
        let (last, m) = poll(at, auth, *after, 2);
        *after = last;
        got.extend(m);
    }
    assert_eq!(names(&got), want, "{got:?}");
    got
}

#[test]
fn a_call_from_a_device_on_one_replica_reaches_a_parent_on_the_other() {
    if skipped("a call across replicas") {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two(dir.path());
    let (dev_at, mum_at) = (addr(&a), addr(&b));
    let mum = session(mum_at, "mum");
    ok(mum_at, "authorizeVoip", &mum, json!({}));
    ok(
        mum_at,
        "bindVoipAdminContact",
        &mum,
        json!({ "userId": "s1" }),
    );
    let dev = device(dev_at, "gate-1");
    // Each side's history starts now (the party's newest id).
    let (mut mum_after, _) = poll(mum_at, &mum, 0, 0);
    let (mut dev_after, _) = poll(dev_at, &dev, 0, 0);
    let place = || {
        let token = ok(dev_at, "issueVoipToken", &dev, json!({ "userId": "s1" }));
        let r = ok(
            dev_at,
            "initByCaller",
            &dev,
            json!({ "roomType": "video", "caller": { "id": "s1" },
                    "listener": { "id": "mum" }, "voipToken": token }),
        );
        assert_eq!(r["isSuccess"], true, "{r}");
        r["roomId"].as_str().unwrap().to_owned()
    };

    // Ring on A → incomingVoip on B; answered on B → startVoip on A; hung up on B.
    let started = Instant::now();
    let room = place();
    let rang = hear(mum_at, &mum, &mut mum_after, &["incomingVoip"]);
    eprintln!("ring across replicas: {:?}", started.elapsed());
    assert_eq!(rang[0]["roomId"], json!(room));
    ok(mum_at, "answerVoip", &mum, json!({ "roomId": room }));
    hear(
        dev_at,
        &dev,
        &mut dev_after,
        &["joinedRoomByCaller", "startVoip"],
    );
    hear(mum_at, &mum, &mut mum_after, &["hangOnVoip", "startVoip"]);
    ok(mum_at, "forceHangUpVoip", &mum, json!({ "roomId": room }));
    hear(
        dev_at,
        &dev,
        &mut dev_after,
        &["hangUpVoip", "endVoip", "finishVoip"],
    );
    hear(
        mum_at,
        &mum,
        &mut mum_after,
        &["hangUpVoip", "endVoip", "finishVoip"],
    );

    // Rejected on B; then the device cancels a ringing call on A.
    let room = place();
    hear(mum_at, &mum, &mut mum_after, &["incomingVoip"]);
    ok(mum_at, "rejectVoip", &mum, json!({ "roomId": room }));
    hear(
        dev_at,
        &dev,
        &mut dev_after,
        &["joinedRoomByCaller", "rejectVoip", "endVoip", "finishVoip"],
    );
    hear(
        mum_at,
        &mum,
        &mut mum_after,
        &["rejectVoip", "endVoip", "finishVoip"],
    );
    let room = place();
    hear(mum_at, &mum, &mut mum_after, &["incomingVoip"]);
    ok(dev_at, "forceHangUpVoip", &dev, json!({ "roomId": room }));
    hear(
        mum_at,
        &mum,
        &mut mum_after,
        &["cancelVoip", "endVoip", "finishVoip"],
    );
    hear(
        dev_at,
        &dev,
        &mut dev_after,
        &["joinedRoomByCaller", "cancelVoip", "endVoip", "finishVoip"],
    );

    // Both replicas list the same three records.
    let token = a.access_token();
    for at in [dev_at, mum_at] {
        let v = wxa(at, "getvoipcalllist", &token, &json!({ "user_id": "s1" })).unwrap();
        assert_eq!(v["call_list"].as_array().unwrap().len(), 3, "{v}");
    }
}

/// A write load on both replicas: each thread makes the administrator bind a new student of
/// its own (one write each), alternating replicas, until `stop`: the acknowledged students and
/// the requests that failed, per replica.
struct Load {
    acked: Mutex<Vec<String>>,
    failed: [AtomicUsize; 2],
    stop: AtomicBool,
}

fn load(load: &Load, at: [SocketAddr; 2], thread: usize, admin: &str) {
    let mut i = 0;
    while !load.stop.load(Ordering::SeqCst) {
        let r = i % 2;
        let student = format!("t{thread}-{i}");
        i += 1;
        let body = json!({ "userId": student }).to_string();
        match http(
            at[r],
            "POST",
            "/v1/bindVoipAdminContact",
            Some(admin),
            body.as_bytes(),
        ) {
            Ok((200, v)) if v["errCode"] == 0 => load.acked.lock().unwrap().push(student),
            _ => {
                load.failed[r].fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// The contacts of `student` as `who` reads them on `at` (`getVoipBindContactList`: empty if
/// `who` is not one of them).
fn contacts(at: SocketAddr, who: &str, student: &str) -> Vec<String> {
    let list = ok(
        at,
        "getVoipBindContactList",
        who,
        json!({ "userId": student }),
    );
    list.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["user_id"] == student)
        .flat_map(|e| e["openid_list"].as_array().unwrap().clone())
        .map(|o| o.as_str().unwrap().to_owned())
        .collect()
}

/// Whether `admin` is a contact of `student` (read on `at`).
fn bound(at: SocketAddr, admin: &str, student: &str) -> bool {
    !contacts(at, admin, student).is_empty()
}

#[test]
fn killing_one_replica_under_load_loses_no_acknowledged_write() {
    if skipped("kill -9 of one replica") {
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two(dir.path());
    let at = [addr(&a), addr(&b)];
    let admin = session(at[1], "admin");
    ok(at[1], "authorizeVoip", &admin, json!({}));
    let state = Arc::new(Load {
        acked: Mutex::new(Vec::new()),
        failed: [AtomicUsize::new(0), AtomicUsize::new(0)],
        stop: AtomicBool::new(false),
    });
    std::thread::scope(|s| {
        for t in 0..4 {
            let (state, admin) = (&state, &admin);
            s.spawn(move || load(state, at, t, admin));
        }
        std::thread::sleep(Duration::from_millis(1500));
        a.kill(); // SIGKILL, mid-load
        let before = state.acked.lock().unwrap().len();
        std::thread::sleep(Duration::from_millis(1500));
        state.stop.store(true, Ordering::SeqCst);
        let after = state.acked.lock().unwrap().len();
        assert!(
            after > before,
            "the other replica kept acknowledging writes ({before} → {after})"
        );
    });
    let acked = state.acked.lock().unwrap().clone();
    eprintln!(
        "kill -9 under load: {} acknowledged, failed A {} / B {}",
        acked.len(),
        state.failed[0].load(Ordering::SeqCst),
        state.failed[1].load(Ordering::SeqCst)
    );
    assert_eq!(
        state.failed[1].load(Ordering::SeqCst),
        0,
        "the surviving replica failed nothing"
    );
    for student in &acked {
        assert!(
            bound(at[1], &admin, student),
            "{student}: an acknowledged write was lost"
        );
    }
    drop(b);
}

#[test]
fn postgres_stopped_and_started_under_load_answers_503_then_recovers() {
    if skipped("PostgreSQL restart") {
        return;
    }
    let _serial = serial();
    let (Ok(ctl), Ok(data), Ok(opts)) = (
        std::env::var("CAMPUS_VOIP_TEST_PG_CTL"),
        std::env::var("CAMPUS_VOIP_TEST_PG_DATA"),
        std::env::var("CAMPUS_VOIP_TEST_PG_OPTS"),
    ) else {
        eprintln!("PostgreSQL restart: skipped (CAMPUS_VOIP_TEST_PG_CTL / _DATA / _OPTS not set)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = process::db_url(dir.path());
    let s = process::start(dir.path(), &url, &["--max-contacts", MAX_CONTACTS], true);
    let at = addr(&s);
    let admin = session(at, "admin");
    ok(at, "authorizeVoip", &admin, json!({}));
    ok(
        at,
        "bindVoipAdminContact",
        &admin,
        json!({ "userId": "kept" }),
    );
    // pg_ctl as the cluster's owner (scripts/pg.sh runs it as postgres when it is root).
    let pg_ctl = |args: &[&str]| {
        let mut cmd = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--", &ctl]);
            c
        } else {
            std::process::Command::new(&ctl)
        };
        let out = cmd.args(["-D", &data, "-w"]).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let readyz = || http(at, "GET", "/readyz", None, b"").unwrap().0;
    assert_eq!(readyz(), 200);

    // A write load from 4 threads through the stop and the start: each reply must be a success
    // or 503 + 1002, nothing else; every acknowledged write must be there afterwards.
    let stop_load = AtomicBool::new(false);
    let replies = Mutex::new(Vec::<(String, u16, Value)>::new());
    std::thread::scope(|sc| {
        for t in 0..4 {
            let (stop_load, replies, admin) = (&stop_load, &replies, &admin);
            sc.spawn(move || {
                let mut i = 0;
                while !stop_load.load(Ordering::SeqCst) {
                    let student = format!("load-{t}-{i}");
                    i += 1;
                    let body = json!({ "userId": student }).to_string();
                    let (status, v) = http(
                        at,
                        "POST",
                        "/v1/bindVoipAdminContact",
                        Some(admin),
                        body.as_bytes(),
                    )
                    .unwrap_or_else(|l| panic!("{student}: no reply ({})", l.why));
                    replies.lock().unwrap().push((student, status, v));
                    std::thread::sleep(Duration::from_millis(5));
                }
            });
        }
        std::thread::sleep(Duration::from_millis(500));
        stop_and_start_while_loaded(&pg_ctl, at, &admin, &data, &opts, &readyz);
        std::thread::sleep(Duration::from_millis(500));
        stop_load.store(true, Ordering::SeqCst);
    });
    let replies = replies.into_inner().unwrap();
    let (mut acked, mut refused) = (0, 0);
    for (student, status, v) in &replies {
        match (status, v["errCode"].as_u64()) {
            (200, Some(0)) => {
                acked += 1;
                assert!(
                    bound(at, &admin, student),
                    "{student}: acknowledged, then lost"
                );
            }
            (503, Some(1002)) => refused += 1,
            other => panic!("{student}: a reply neither success nor 503/1002: {other:?} {v}"),
        }
    }
    eprintln!(
        "PostgreSQL restart under load: {acked} acknowledged (all present), {refused} answered 503/1002"
    );
    assert!(
        acked > 0 && refused > 0,
        "the load ran on both sides of the restart"
    );
    assert!(bound(at, &admin, "kept"), "the data from before is there");
    ok(
        at,
        "bindVoipAdminContact",
        &admin,
        json!({ "userId": "after" }),
    );
    assert!(bound(at, &admin, "after"), "full service afterwards");
}

/// Stops PostgreSQL, checks the answers while it is down, starts it again and waits for
/// `/readyz` (the middle of the restart test, run while its load goes on).
fn stop_and_start_while_loaded(
    pg_ctl: &dyn Fn(&[&str]),
    at: SocketAddr,
    admin: &str,
    data: &str,
    opts: &str,
    readyz: &dyn Fn() -> u16,
) {
    pg_ctl(&["-m", "fast", "stop"]);
    let downtime = Instant::now();
    // While it is down: every request answers at once, HTTP 503 with errCode 1002 (retry), and
    // /readyz says so; nothing is answered as if it had happened.
    for i in 0..10 {
        let body = json!({ "userId": format!("down-{i}") }).to_string();
        let (status, v) = http(
            at,
            "POST",
            "/v1/bindVoipAdminContact",
            Some(admin),
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!((status, v["errCode"].clone()), (503, json!(1002)), "{v}");
    }
    let body = json!({ "userId": "kept" }).to_string();
    let (status, v) = http(
        at,
        "POST",
        "/v1/getVoipBindContactList",
        Some(admin),
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(
        (status, v["errCode"].clone()),
        (503, json!(1002)),
        "a read: {v}"
    );
    assert_eq!(readyz(), 503, "/readyz while the database is down");
    eprintln!("down answers took {:?}", downtime.elapsed());

    let log = Path::new(data).join("restart.log");
    pg_ctl(&["-l", log.to_str().unwrap(), "-o", opts, "start"]);
    // Ready again by itself (each worker reconnects for its next job).
    let until = Instant::now() + Duration::from_secs(15);
    while readyz() != 200 {
        assert!(Instant::now() < until, "/readyz did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
    for i in 0..10 {
        assert!(
            !bound(at, admin, &format!("down-{i}")),
            "a write refused while down is not there"
        );
    }
}

/// Whether this process runs as root (the effective uid in /proc/self/status).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}
