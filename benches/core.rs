//! Native benchmark of the core: every local-backend operation on a realistic registry.
//!
//! No criterion (the dependency tree stays lean): a plain `main` with `Instant` and
//! `black_box`. For each operation the harness
//!
//! 1. calibrates a batch size K (×4 from 1 until a batch takes ≥ 1/8 of the target, then K =
//!    target / per-op time) while checking every result, so a benchmark that drifted onto an
//!    error or no-op path fails loudly instead of printing a flattering number;
//! 2. runs B batches of K iterations. Each iteration's input is prepared *before* its batch's
//!    clock starts (fresh students, fresh parents, share paths, tokens: all built through the
//!    Engine API, untimed), so only the operation itself is timed;
//! 3. reports ns/op per batch: the median, and the min and max over the batches.
//!
//! The registry (default 100 000 students in families of 1–3 siblings, each with one
//! administrator and 1–3 ordinary contacts shared by the siblings, everybody consented) is built
//! through the Engine API itself: authorize_voip, bind_admin, share_path, accept.
//!
//! Arguments (after `cargo bench --bench core --`):
//!   --students N     registry size (default 100000)
//!   --quick          fewer, shorter batches and a smaller used-token table
//!   --batches B      batches per operation (default 15, quick 7)
//!   --target-ms T    wanted batch duration (default 10, quick 4)
//!   --filter TEXT    only operations whose name contains TEXT
//!   --no-btree       skip the BTreeMap-store variant
//!
//! Unknown arguments (such as the `--bench` cargo passes) are ignored.

use campus_voip::call::Version;
use campus_voip::engine::{CallAct, CallDelivery};
use campus_voip::engine::{CallOutcome, Config, Engine, NullStore, Store};
use campus_voip::ids::{Millis, OpenId, UserId};
use campus_voip::input::Value;
use campus_voip::keys::{Key, Keyring};
use campus_voip::registry::{Change, StudentRecord};
use campus_voip::share::BindType;
use campus_voip::storage;
use campus_voip::ticket::{self, Claims, Subject};
use campus_voip::token::{self, TokenClaims};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The clock the benchmark runs at (2027-01-15); tickets live 72 h, tokens 5 min.
const T0: Millis = 1_800_000_000_000;
const COMPAT: Version = Version(2, 4, 0);
const PREFIX: &str = "__plugin__/wx1234567890abcdef/";
/// Admissions per window of the call clock: the clock jumps 10 minutes after every window, so
/// the tokens used in a window have expired by the next one and the engine may forget them
/// (it prunes expired used tokens when its table has doubled). The table of used tokens thus
/// stays small (a few windows' worth) instead of growing with the iteration count.
const CALL_WINDOW: u64 = 64;
const SMALL_TABLE: &str = "init_by_caller + hang_up (admitted, small used-token table)";
const NAMES: [&str; 6] = ["小明", "王小红", "李华", "张伟", "Lucy", "陈思思"];

// ---------------------------------------------------------------------------------------------
// Options

struct Opts {
    students: usize,
    batches: usize,
    target: Duration,
    quick: bool,
    filter: Option<String>,
    btree: bool,
    token_tables: Vec<usize>,
}

fn parse_count(flag: &str, v: Option<String>) -> usize {
    let v = v.unwrap_or_else(|| panic!("{flag} needs a value"));
    v.replace('_', "")
        .parse()
        .unwrap_or_else(|_| panic!("{flag} takes a whole number, got {v:?}"))
}

fn opts() -> Opts {
    let mut students = 100_000;
    let mut batches = None;
    let mut target_ms = None;
    let mut quick = false;
    let mut filter = None;
    let mut btree = true;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (a.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next());
        match flag.as_str() {
            "--students" => students = parse_count("--students", value()),
            "--batches" => batches = Some(parse_count("--batches", value())),
            "--target-ms" => target_ms = Some(parse_count("--target-ms", value())),
            "--filter" => filter = value().map(|f| f.to_lowercase()),
            "--quick" => quick = true,
            "--no-btree" => btree = false,
            "--help" | "-h" => {
                println!(
                    "cargo bench --bench core -- [--students N] [--quick] [--batches B] \
                     [--target-ms T] [--filter TEXT] [--no-btree]"
                );
                std::process::exit(0);
            }
            _ => {} // `--bench` (from cargo) and anything else: ignored.
        }
    }
    assert!(students >= 10, "--students must be at least 10");
    Opts {
        students,
        batches: batches.unwrap_or(if quick { 7 } else { 15 }).max(1),
        target: Duration::from_millis(target_ms.unwrap_or(if quick { 4 } else { 10 }).max(1) as u64),
        quick,
        filter,
        btree,
        token_tables: if quick {
            vec![0, 10_000]
        } else {
            vec![0, 10_000, 100_000]
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Harness

struct Row {
    name: String,
    median: f64,
    min: f64,
    max: f64,
    k: usize,
    batches: usize,
}

struct Runner {
    batches: usize,
    target: Duration,
    filter: Option<String>,
    rows: Vec<Row>,
}

impl Runner {
    fn wants(&self, name: &str) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|f| name.to_lowercase().contains(f))
    }

    /// Measures `op` over inputs made by `prep` (untimed; `prep` gets the index within the
    /// batch). `ok` must hold for every result during calibration.
    fn bench<C, P, R: Debug>(
        &mut self,
        name: &str,
        ctx: &mut C,
        mut prep: impl FnMut(&mut C, usize) -> P,
        mut op: impl FnMut(&mut C, &P) -> R,
        ok: impl Fn(&R) -> bool,
    ) {
        if !self.wants(name) {
            return;
        }
        eprint!("  {name:<50}");
        // Calibration (also the warm-up), every result checked: grow K ×4 until a batch takes
        // 1/8 of the target with at least 64 iterations (one preempted iteration must not set
        // K), size K from that, then re-size it once from a full-size batch.
        let mut run_checked = |ctx: &mut C, k: usize| {
            let inputs: Vec<P> = (0..k).map(|j| prep(ctx, j)).collect();
            let start = Instant::now();
            for p in &inputs {
                let r = op(ctx, black_box(p));
                assert!(ok(&r), "{name}: unexpected result {r:?}");
                black_box(r);
            }
            start.elapsed().as_nanos() as f64 / k as f64
        };
        let target = self.target.as_nanos() as f64;
        let size = |per_op: f64| ((target / per_op.max(0.1)).round() as usize).clamp(1, 1 << 20);
        let mut k = 1usize;
        let per_op = loop {
            let per_op = run_checked(ctx, k);
            let el = per_op * k as f64;
            if (el >= target / 8.0 && k >= 64) || el >= target * 2.0 || k >= 1 << 20 {
                break per_op;
            }
            k *= 4;
        };
        let k = size(run_checked(ctx, size(per_op)));
        let mut per_batch = Vec::with_capacity(self.batches);
        for _ in 0..self.batches {
            let inputs: Vec<P> = (0..k).map(|j| prep(ctx, j)).collect();
            let start = Instant::now();
            for p in &inputs {
                black_box(op(ctx, black_box(p)));
            }
            let el = start.elapsed();
            drop(inputs);
            per_batch.push(el.as_nanos() as f64 / k as f64);
        }
        per_batch.sort_by(f64::total_cmp);
        let n = per_batch.len();
        let median = if n % 2 == 1 {
            per_batch[n / 2]
        } else {
            (per_batch[n / 2 - 1] + per_batch[n / 2]) / 2.0
        };
        eprintln!("{median:>12.0} ns/op");
        self.rows.push(Row {
            name: name.to_owned(),
            median,
            min: per_batch[0],
            max: per_batch[n - 1],
            k,
            batches: n,
        });
    }

    fn median_of(&self, name: &str) -> Option<f64> {
        self.rows.iter().find(|r| r.name == name).map(|r| r.median)
    }
}

fn ns(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn print_table(rows: &[Row]) {
    let w = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(2)
        .max(9);
    println!(
        "{:<w$}  {:>12}  {:>10}  {:>10}  {:>16}",
        "operation", "median ns/op", "min", "max", "iterations (K×B)"
    );
    println!("{}", "-".repeat(w + 56));
    for r in rows {
        let pad = w - r.name.chars().count();
        println!(
            "{}{}  {:>12}  {:>10}  {:>10}  {:>16}",
            r.name,
            " ".repeat(pad),
            ns(r.median),
            ns(r.min),
            ns(r.max),
            format!("{}×{}", r.k, r.batches),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Deterministic pseudo-randomness for picking targets (not the engine's CSPRNG).

struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------------
// Identities and arguments

/// A 28-character openId, like real ones.
fn openid_text(kind: char, n: u64) -> String {
    format!("o{kind}_{n:025}")
}

fn oid(s: &str) -> OpenId {
    OpenId::parse("openId", s).expect("valid openId")
}

fn student_text(i: usize) -> String {
    format!("2025-S{i:08}")
}

fn s(v: &str) -> Value {
    Value::str(v)
}

fn uid_args(u: &str) -> Value {
    Value::object([("userId", s(u))])
}

fn share_args(u: &str, i: usize) -> Value {
    Value::object([
        ("userId", s(u)),
        ("userName", s(NAMES[i % NAMES.len()])),
        (
            "userAvatar",
            s(&format!(
                "https://thirdwx.qlogo.cn/mmopen/vi_32/Q0j4TwGTfTK{i:010}/132"
            )),
        ),
    ])
}

fn call_args(student: &str, parent: &OpenId, tok: &str) -> Value {
    Value::object([
        ("roomType", s("voice")),
        (
            "caller",
            Value::object([("id", s(student)), ("name", s("小明"))]),
        ),
        ("listener", Value::object([("id", s(parent.as_str()))])),
        ("businessType", Value::Num(0.0)),
        ("voipToken", s(tok)),
    ])
}

fn config() -> Config {
    Config {
        path_prefix: PREFIX.into(),
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The registry

#[derive(Default)]
struct Family {
    contacts: Vec<String>,
}

#[derive(Default)]
struct Model {
    students: Vec<String>,
    family: Vec<u32>,
    families: Vec<Family>,
}

/// Builds `n` students through the Engine API (deterministic: both stores get the same
/// registry). Returns the engine, the model of who is who, and the build-up time.
fn build<S: Store>(store: S, n: usize) -> (Engine<S>, Model, Duration) {
    let mut rng = Mix(0x00c0_ffee);
    let mut e = Engine::open(config(), [7; 32], store, [], T0).expect("open");
    let mut m = Model::default();
    let start = Instant::now();
    while m.students.len() < n {
        let f = m.families.len();
        let kids = (1 + rng.below(3)).min(n - m.students.len());
        let admin = openid_text('a', f as u64);
        let contacts: Vec<String> = (0..1 + rng.below(3))
            .map(|j| openid_text((b'b' + j as u8) as char, f as u64))
            .collect();
        let admin_id = oid(&admin);
        let contact_ids: Vec<OpenId> = contacts.iter().map(|c| oid(c)).collect();
        e.authorize_voip(Some(&admin_id)).unwrap();
        for c in &contact_ids {
            e.authorize_voip(Some(c)).unwrap();
        }
        for _ in 0..kids {
            let i = m.students.len();
            let sid = student_text(i);
            e.bind_admin(Some(&admin_id), &uid_args(&sid), T0).unwrap();
            let path = Value::Str(
                e.share_path(Some(&admin_id), &share_args(&sid, i), T0)
                    .unwrap(),
            );
            for c in &contact_ids {
                let ev = e.accept(Some(c), &path, T0).unwrap();
                assert_eq!(ev.kind, BindType::Success);
            }
            m.students.push(sid);
            m.family.push(f as u32);
        }
        m.families.push(Family { contacts });
    }
    (e, m, start.elapsed())
}

/// What a benchmark works on: the engine, its model, and the clocks.
struct Ctx<S: Store> {
    e: Engine<S>,
    m: Model,
    rng: Mix,
    fresh: u64,
    /// The clock of contact operations (share links are issued and opened at it).
    now: Millis,
    /// The clock of call admission; see [`CALL_WINDOW`].
    call_now: Millis,
    calls: u64,
    slot: &'static str,
    /// Share paths of random students (for the read-only link operations).
    pool: Vec<Value>,
    /// Effects of inputs prepared for the current batch but not yet run: contacts to be added
    /// per student (accept) and the administrator a pending transfer installs.
    pending_adds: HashMap<usize, usize>,
    pending_admin: HashMap<usize, OpenId>,
}

impl<S: Store> Ctx<S> {
    fn new(e: Engine<S>, m: Model) -> Self {
        Ctx {
            e,
            m,
            rng: Mix(0xbe_1c4),
            fresh: 0,
            now: T0,
            call_now: T0,
            calls: 0,
            slot: "device-1",
            pool: Vec::new(),
            pending_adds: HashMap::new(),
            pending_admin: HashMap::new(),
        }
    }

    fn pick(&mut self) -> usize {
        self.rng.below(self.m.students.len())
    }

    fn record(&self, i: usize) -> &StudentRecord {
        let u = UserId::parse("userId", &self.m.students[i]).unwrap();
        self.e.registry().student(&u).expect("student in registry")
    }

    /// The student's administrator as the registry says now (transfers change it).
    fn admin(&self, i: usize) -> OpenId {
        self.record(i).admin().expect("has an admin").clone()
    }

    fn fresh_name(&mut self, kind: char) -> String {
        self.fresh += 1;
        openid_text(kind, self.fresh)
    }

    /// A parent nobody has seen yet, consent granted (untimed setup).
    fn fresh_parent(&mut self) -> OpenId {
        let p = oid(&self.fresh_name('n'));
        self.e.authorize_voip(Some(&p)).unwrap();
        p
    }

    fn fresh_student(&mut self) -> String {
        self.fresh += 1;
        format!("new-S{:08}", self.fresh)
    }

    fn path(&mut self, i: usize) -> Value {
        let admin = self.admin(i);
        let args = share_args(&self.m.students[i].clone(), i);
        Value::Str(self.e.share_path(Some(&admin), &args, self.now).unwrap())
    }

    /// A random student that can still take a contact once the batch's earlier inputs have
    /// run (`j` is the index in the batch).
    fn pick_with_room(&mut self, j: usize) -> usize {
        if j == 0 {
            self.pending_adds.clear();
        }
        let max = self.e.config().max_contacts;
        loop {
            let i = self.pick();
            let pending = self.pending_adds.get(&i).copied().unwrap_or(0);
            if self.record(i).contacts.len() + pending < max {
                *self.pending_adds.entry(i).or_default() += 1;
                return i;
            }
        }
    }

    /// A transfer of a random student from its administrator (as it will be when this input
    /// runs, after the batch's earlier transfers) to another of its contacts.
    fn transfer_input(&mut self, j: usize) -> (OpenId, Value) {
        if j == 0 {
            self.pending_admin.clear();
        }
        let i = self.pick();
        let admin = match self.pending_admin.get(&i) {
            Some(a) => a.clone(),
            None => self.admin(i),
        };
        let others: Vec<OpenId> = self
            .record(i)
            .contacts
            .iter()
            .map(|c| c.open_id.clone())
            .filter(|o| *o != admin)
            .collect();
        let to = others[self.rng.below(others.len())].clone();
        let args = Value::object([
            ("userId", s(&self.m.students[i])),
            ("newAdminOpenid", s(to.as_str())),
        ]);
        self.pending_admin.insert(i, to);
        (admin, args)
    }

    /// Input of one admitted call: a fresh token of a random student, a consented contact as
    /// listener, and the call clock. Every [`CALL_WINDOW`] calls the clock jumps 10 minutes.
    fn call_input(&mut self) -> (Value, Millis) {
        if self.calls % CALL_WINDOW == 0 {
            self.call_now += 10 * 60 * 1000;
        }
        self.calls += 1;
        let i = self.pick();
        let n = self.record(i).contacts.len();
        let j = self.rng.below(n);
        let listener = self.record(i).contacts[j].open_id.clone();
        let sid = self.m.students[i].clone();
        let tok = self
            .e
            .issue_voip_token(&uid_args(&sid), self.call_now)
            .unwrap();
        (call_args(&sid, &listener, &tok), self.call_now)
    }
}

fn admitted(
    r: &(
        campus_voip::Result<CallOutcome>,
        campus_voip::Result<Option<CallDelivery>>,
    ),
) -> bool {
    matches!(r, (Ok(CallOutcome::Admitted(_)), Ok(Some(_))))
}

// ---------------------------------------------------------------------------------------------
// Operations that leave the registry as it was (measured first, on the pristine registry)

fn read_ops(r: &mut Runner, c: &mut Ctx<NullStore>) {
    // A pool of valid share paths of random students, issued at the current clock.
    c.pool = (0..1024)
        .map(|_| {
            let i = c.pick();
            c.path(i)
        })
        .collect();
    let outsider = oid(&openid_text('z', 0));
    c.e.authorize_voip(Some(&outsider)).unwrap();

    // inspect: a consented parent who is not a contact opens a valid link; every check runs
    // (ticket verified, record found, term matches, not a contact, room left) → 'ready'.
    let o = outsider.clone();
    r.bench(
        "inspect (valid link → ready)",
        c,
        |c, j| c.pool[j % c.pool.len()].clone(),
        |c, p| c.e.inspect(Some(&o), p, c.now),
        |r| matches!(r, Ok(i) if i.status.is_none()),
    );

    // decline: parses and verifies the link, reports 'cancel'; changes nothing.
    let o = outsider.clone();
    r.bench(
        "decline (valid link → cancel)",
        c,
        |c, j| c.pool[j % c.pool.len()].clone(),
        |c, p| c.e.decline(Some(&o), p),
        |r| matches!(r, Ok(ev) if ev.kind == BindType::Cancel && !ev.user_id.is_empty()),
    );

    // list, no arguments: an administrator's view of all their students (1–3 siblings with
    // 2–4 contacts each).
    r.bench(
        "list (admin, all their students)",
        c,
        |c, _| {
            let i = c.pick();
            c.admin(i)
        },
        |c, who| c.e.list(Some(who), &Value::Missing),
        |r| matches!(r, Ok(l) if !l.is_empty() && l[0].is_ad == 1),
    );

    // list { userId }: one student, administrator's view.
    r.bench(
        "list (admin, { userId })",
        c,
        |c, _| {
            let i = c.pick();
            (c.admin(i), uid_args(&c.m.students[i]))
        },
        |c, (who, args)| c.e.list(Some(who), args),
        |r| matches!(r, Ok(l) if l.len() == 1 && l[0].is_ad == 1),
    );

    // list, no arguments, as an ordinary contact (sees only itself per student).
    r.bench(
        "list (ordinary contact, all)",
        c,
        |c, _| {
            let i = c.pick();
            let f = &c.m.families[c.m.family[i] as usize];
            oid(&f.contacts[0])
        },
        |c, who| c.e.list(Some(who), &Value::Missing),
        |r| matches!(r, Ok(l) if !l.is_empty() && l[0].is_ad == 0),
    );

    // contact_list (developer query getvoipcontactlist) for an existing student → errcode 0.
    r.bench(
        "contact_list (developer query, found)",
        c,
        |c, _| {
            let i = c.pick();
            Value::object([("user_id", s(&c.m.students[i]))])
        },
        |c, args| c.e.contact_list(args),
        |r| matches!(r, Ok(rep) if rep.errcode == 0 && rep.contact_list.len() >= 2),
    );

    // share_path (getBindContactPath): administrator, name and avatar; signs a fresh ticket.
    r.bench(
        "share_path (admin → signed path)",
        c,
        |c, _| {
            let i = c.pick();
            (c.admin(i), share_args(&c.m.students[i].clone(), i))
        },
        |c, (who, args)| c.e.share_path(Some(who), args, c.now),
        |r| matches!(r, Ok(p) if p.starts_with(PREFIX)),
    );

    // issue_voip_token: the face-scan stand-in (CSPRNG nonce + HMAC).
    r.bench(
        "issue_voip_token",
        c,
        |c, _| {
            let i = c.pick();
            uid_args(&c.m.students[i])
        },
        |c, args| c.e.issue_voip_token(args, c.now),
        |r| matches!(r, Ok(t) if t.len() == 56),
    );

    // The persistence encoding every write pays, whatever the store (Engine::commit encodes
    // the change before handing it to Store::put/remove, so NullStore does not skip it):
    // key = SHA-256 of the userId in hex, value = binary record + SHA-256 checksum, base64url.
    r.bench(
        "storage::encode_change (PutStudent, 2–4 contacts)",
        c,
        |c, _| {
            let i = c.pick();
            Change::PutStudent(c.record(i).clone())
        },
        |_, ch| storage::encode_change(ch),
        |w| w.len() == 1 && w[0].0.starts_with("s.") && w[0].1.is_some(),
    );
    r.bench(
        "storage::encode_change (UseToken)",
        c,
        |c, _| {
            let mut id = [0u8; 12];
            id[..8].copy_from_slice(&c.rng.next().to_le_bytes());
            Change::UseToken {
                id,
                expires_at: T0 + token::DEFAULT_TTL_MS,
            }
        },
        |_, ch| storage::encode_change(ch),
        |w| w.len() == 1 && w[0].0.starts_with("t.") && w[0].1.is_some(),
    );

    // authorize_voip by a parent who already consented: the no-op path (no write).
    r.bench(
        "authorize_voip (already granted: no-op)",
        c,
        |c, _| {
            let i = c.pick();
            c.admin(i)
        },
        |c, who| c.e.authorize_voip(Some(who)),
        |r| r.is_ok(),
    );
}

// ---------------------------------------------------------------------------------------------
// Raw ticket and token primitives

struct Raw {
    ring: Keyring,
    issuer: OpenId,
    user: UserId,
    n: u64,
}

const SUBJECT: Subject = Subject {
    user_id: "2025-S00012345",
    user_name: "王小红",
    user_avatar: "https://thirdwx.qlogo.cn/mmopen/vi_32/Q0j4TwGTfTK0000012345/132",
};

impl Raw {
    fn claims(&mut self) -> Claims {
        self.n += 1;
        Claims {
            issuer: self.issuer.clone(),
            issued_at: T0,
            expires_at: T0 + 72 * 3600 * 1000,
            nonce: self.n.to_le_bytes(),
            admin_term: 0x1234_5678,
        }
    }

    fn token_claims(&mut self) -> TokenClaims {
        self.n += 1;
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&self.n.to_le_bytes());
        TokenClaims {
            issued_at: T0,
            expires_at: T0 + token::DEFAULT_TTL_MS,
            nonce,
        }
    }
}

fn raw_ops(r: &mut Runner) {
    let mut raw = Raw {
        ring: Keyring::new(Key::new(1, [0x5a; 32])),
        issuer: oid(&openid_text('a', 12345)),
        user: UserId::parse("userId", SUBJECT.user_id).unwrap(),
        n: 0,
    };
    let x = &mut raw;

    // ticket::issue: encode claims, HMAC-SHA256 over header + subject, base64url.
    r.bench(
        "ticket::issue",
        x,
        |x, _| x.claims(),
        |x, cl| ticket::issue(x.ring.current(), cl, &SUBJECT),
        |t| !t.is_empty(),
    );
    // ticket::verify of a valid ticket: base64url decode, parse, HMAC check.
    r.bench(
        "ticket::verify (valid)",
        x,
        |x, _| {
            let cl = x.claims();
            ticket::issue(x.ring.current(), &cl, &SUBJECT)
        },
        |x, t| ticket::verify(&x.ring, t, &SUBJECT),
        |c| c.is_some(),
    );
    r.bench(
        "ticket::issue + ticket::verify",
        x,
        |x, _| x.claims(),
        |x, cl| {
            let t = ticket::issue(x.ring.current(), cl, &SUBJECT);
            ticket::verify(&x.ring, &t, &SUBJECT)
        },
        |c| c.is_some(),
    );
    r.bench(
        "token::issue",
        x,
        |x, _| x.token_claims(),
        |x, cl| token::issue(x.ring.current(), &x.user, cl),
        |t| t.len() == 56,
    );
    r.bench(
        "token::verify (valid)",
        x,
        |x, _| {
            let cl = x.token_claims();
            token::issue(x.ring.current(), &x.user, &cl)
        },
        |x, t| token::verify(&x.ring, t, &x.user, T0),
        |c| c.is_ok(),
    );
    r.bench(
        "token::issue + token::verify",
        x,
        |x, _| x.token_claims(),
        |x, cl| {
            let t = token::issue(x.ring.current(), &x.user, cl);
            token::verify(&x.ring, &t, &x.user, T0)
        },
        |c| c.is_ok(),
    );
}

// ---------------------------------------------------------------------------------------------
// Operations that write (each on a fresh, realistic target), for either store

fn write_ops<S: Store>(r: &mut Runner, c: &mut Ctx<S>, tag: &str) {
    // authorize_voip by a parent never seen before: the grant path (one Consent write).
    r.bench(
        &format!("{tag}authorize_voip (grant, new parent)"),
        c,
        |c, _| oid(&c.fresh_name('g')),
        |c, who| c.e.authorize_voip(Some(who)),
        |r| r.is_ok(),
    );

    // revoke_voip by a consented parent: the revoke path (one key removed).
    r.bench(
        &format!("{tag}revoke_voip (revoke)"),
        c,
        |c, _| c.fresh_parent(),
        |c, who| c.e.revoke_voip(Some(who)),
        |r| r.is_ok(),
    );

    // bind_admin for a student without contacts by a fresh consented parent: a new record.
    r.bench(
        &format!("{tag}bind_admin (new student)"),
        c,
        |c, _| {
            let who = c.fresh_parent();
            (who, uid_args(&c.fresh_student()))
        },
        |c, (who, args)| c.e.bind_admin(Some(who), args, c.now),
        |r| r.is_ok(),
    );

    // accept, success path: a fresh consented parent opens a valid link of a random student
    // with room left; the record gains a contact (one student write). Students gain at most a
    // contact or so on average, well under maxContacts.
    r.bench(
        &format!("{tag}accept (success: new contact bound)"),
        c,
        |c, j| {
            let i = c.pick_with_room(j);
            let path = c.path(i);
            (c.fresh_parent(), path)
        },
        |c, (who, path)| c.e.accept(Some(who), path, c.now),
        |r| matches!(r, Ok(ev) if ev.kind == BindType::Success),
    );

    // delete one ordinary contact (success). The contact deleted was bound in the (untimed)
    // preparation, so every student keeps its size across the benchmark.
    r.bench(
        &format!("{tag}delete (1 ordinary contact)"),
        c,
        |c, j| {
            let i = c.pick_with_room(j);
            let path = c.path(i);
            let who = c.fresh_parent();
            let ev = c.e.accept(Some(&who), &path, c.now).unwrap();
            assert_eq!(ev.kind, BindType::Success);
            let args = Value::object([
                ("userId", s(&c.m.students[i])),
                ("openidList", Value::Array(vec![s(who.as_str())])),
            ]);
            (c.admin(i), args)
        },
        |c, (admin, args)| c.e.delete(Some(admin), args, c.now),
        |r| matches!(r, Ok((_, d)) if d.len() == 1),
    );

    // transfer to another contact (success: roles swap, fresh term, one student write).
    r.bench(
        &format!("{tag}transfer (admin → ordinary contact)"),
        c,
        |c, j| c.transfer_input(j),
        |c, (admin, args)| c.e.transfer(Some(admin), args),
        |r| r.is_ok(),
    );

    // reset_student of a student that has contacts (admin + 2 contacts, built in the
    // preparation from fresh parents): the record and its reverse-index entries go.
    r.bench(
        &format!("{tag}reset_student (had 3 contacts)"),
        c,
        |c, _| {
            let admin = c.fresh_parent();
            let sid = c.fresh_student();
            c.e.bind_admin(Some(&admin), &uid_args(&sid), c.now)
                .unwrap();
            let path = Value::Str(
                c.e.share_path(Some(&admin), &share_args(&sid, 0), c.now)
                    .unwrap(),
            );
            for _ in 0..2 {
                let p = c.fresh_parent();
                c.e.accept(Some(&p), &path, c.now).unwrap();
            }
            uid_args(&sid)
        },
        |c, args| c.e.reset_student(args),
        |r| matches!(r, Ok((_, true))),
    );

    // init_by_caller, admission success (token verified, not reused, listener consented and a
    // contact; the token is marked used: one write), then the device hangs up (the call is recorded: a second write). Each input has a
    // fresh token of a random student; see CALL_WINDOW for the used-token table's size.
    r.bench(
        &format!("{tag}{SMALL_TABLE}"),
        c,
        |c, _| c.call_input(),
        |c, (args, now)| {
            let out = c.e.init_by_caller(c.slot, args, COMPAT, *now);
            let hung_up =
                c.e.act_on_call(None, c.slot, CallAct::HangUp, &Value::Missing, *now);
            (out, hung_up)
        },
        admitted,
    );
}

/// Students of the engines of the used-token-table rows (small, so the rows differ only in
/// the table: the 100k-student registry's cache misses are not part of the comparison).
const TABLE_STUDENTS: usize = 20;

fn table_name(n: usize) -> String {
    format!(
        "init_by_caller + hang_up (admitted, {TABLE_STUDENTS} students, +{}k live used tokens)",
        n / 1000
    )
}

/// init_by_caller on an engine whose used-token table holds `n` live entries (loaded from a
/// store, which is much faster than that many admissions). The bench's own tokens come and go
/// as in [`CALL_WINDOW`]; the loaded ones stay live (they expire in 30 days).
fn token_table(r: &mut Runner, n: usize) {
    let name = table_name(n);
    if !r.wants(&name) {
        return;
    }
    let (small, m, _) = build(BTreeMap::<String, String>::new(), TABLE_STUDENTS);
    let mut entries: Vec<(String, String)> = small
        .store()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut rng = Mix(n as u64);
    for _ in 0..n {
        let mut id = [0u8; 12];
        id[..8].copy_from_slice(&rng.next().to_le_bytes());
        id[8..].copy_from_slice(&rng.next().to_le_bytes()[..4]);
        let (k, v) = storage::encode_change(&Change::UseToken {
            id,
            expires_at: T0 + 30 * 24 * 3600 * 1000,
        })
        .remove(0);
        entries.push((k, v.unwrap()));
    }
    let e = Engine::open(
        config(),
        [7; 32],
        NullStore,
        entries.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        T0,
    )
    .expect("open with used tokens");
    assert!(e.registry().used_tokens().count() >= n);
    drop(entries);
    let mut c = Ctx::new(e, m);
    r.bench(
        &name,
        &mut c,
        |c, _| c.call_input(),
        |c, (args, now)| {
            let out = c.e.init_by_caller(c.slot, args, COMPAT, *now);
            let hung_up =
                c.e.act_on_call(None, c.slot, CallAct::HangUp, &Value::Missing, *now);
            (out, hung_up)
        },
        admitted,
    );
}

// ---------------------------------------------------------------------------------------------

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

fn describe(label: &str, e: &Engine<impl Store>, m: &Model, took: Duration) {
    let reg = e.registry();
    let students = reg.student_count();
    let contacts = reg.contact_count();
    println!(
        "{label}: {students} students in {} families, {contacts} contacts ({:.2}/student), \
         {} consented parents; built through the Engine API in {:.2} s ({:.1} µs/student)",
        m.families.len(),
        contacts as f64 / students as f64,
        reg.consents().count(),
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / students as f64,
    );
}

fn main() {
    let o = opts();
    let started = Instant::now();
    println!("campus-voip core benchmark (bench profile, native)");
    println!(
        "students {}, {} batches per op, target {} ms per batch{}; {} CPUs, load average {}",
        o.students,
        o.batches,
        o.target.as_millis(),
        if o.quick { ", quick" } else { "" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg(),
    );
    let mut r = Runner {
        batches: o.batches,
        target: o.target,
        filter: o.filter.clone(),
        rows: Vec::new(),
    };

    eprintln!("building the registry (NullStore)…");
    let (e, m, took) = build(NullStore, o.students);
    describe("NullStore registry", &e, &m, took);
    let mut c = Ctx::new(e, m);
    eprintln!("measuring:");
    read_ops(&mut r, &mut c);
    raw_ops(&mut r);
    write_ops(&mut r, &mut c, "");
    drop(c);
    for &n in &o.token_tables {
        token_table(&mut r, n);
    }

    if o.btree {
        eprintln!("building the registry (BTreeMap store)…");
        let (e, m, took) = build(BTreeMap::<String, String>::new(), o.students);
        describe("BTreeMap registry ", &e, &m, took);
        let store = e.store();
        println!(
            "BTreeMap store: {} keys, {:.1} MB of values",
            store.len(),
            store.values().map(String::len).sum::<usize>() as f64 / 1e6
        );
        let mut c = Ctx::new(e, m);
        write_ops(&mut r, &mut c, "[btree] ");
    }

    println!();
    print_table(&r.rows);

    let pairs: Vec<(String, f64, f64)> = r
        .rows
        .iter()
        .filter_map(|row| {
            let base = row.name.strip_prefix("[btree] ")?;
            Some((base.to_owned(), r.median_of(base)?, row.median))
        })
        .collect();
    if !pairs.is_empty() {
        println!();
        println!(
            "store cost (BTreeMap store minus NullStore, medians): the put/remove itself \
             (key and value copied, the tree of all stored keys updated). Both variants pay the encoding \
             (see the storage::encode_change rows): Engine::commit encodes before calling the \
             store."
        );
        let w = pairs.iter().map(|p| p.0.chars().count()).max().unwrap_or(0);
        for (name, null, btree) in pairs {
            let pad = w - name.chars().count();
            println!("  {name}{}  {:>+8.0} ns", " ".repeat(pad), btree - null);
        }
    }
    if let Some(base) = r.median_of(&table_name(0)) {
        let effects: Vec<String> = o
            .token_tables
            .iter()
            .filter_map(|&n| {
                let big = r.median_of(&table_name(n)).filter(|_| n > 0)?;
                Some(format!("{:+.0} ns with +{}k", big - base, n / 1000))
            })
            .collect();
        if !effects.is_empty() {
            println!(
                "init_by_caller vs the size of the used-token table ({TABLE_STUDENTS}-student \
                 engine, medians against +0k): {}",
                effects.join(", ")
            );
        }
    }
    println!();
    println!(
        "Notes: arguments (Value trees, share paths, tokens) are built before each batch; a real \
         call from JS also pays the JsValue → Value conversion and the result conversion back, \
         not measured here. Mutating operations run on fresh targets prepared untimed (see \
         benches/core.rs). The call clock jumps 10 min every {CALL_WINDOW} admissions, so \
         used tokens expire and can be forgotten as in steady use."
    );
    println!(
        "total {:.1} s; load average now {}",
        started.elapsed().as_secs_f64(),
        loadavg()
    );
}
