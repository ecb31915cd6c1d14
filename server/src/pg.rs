//! The PostgreSQL store: a pool of worker threads, each with one connection (the synchronous
//! `postgres` client: the core's operations read and write through a synchronous store
//! interface, so each job runs whole on one thread, off the async runtime).
//!
//! - **Writes** run in `SERIALIZABLE` transactions and are retried (up to [`MAX_ATTEMPTS`],
//!   with a short random back-off) when PostgreSQL reports a serialization failure or a
//!   deadlock. Serializable rather than row locks because the operations of the core read
//!   several rows (a student's record, the consent, the used token, the parent's calls) and
//!   decide on all of them: under `SERIALIZABLE` every replica's interleaving is equivalent to
//!   one at a time, as on SQLite's single writer, without the core naming the rows to lock. A
//!   job is acknowledged only after its `COMMIT` returned.
//! - **Reads** run in `REPEATABLE READ READ ONLY` transactions (one snapshot).
//! - A job waits at most [`ACQUIRE_TIMEOUT`] for a free connection; a worker whose connection
//!   broke reconnects for its next job, so the service recovers by itself once the database is
//!   back. While it is unreachable every job fails at once with [`DbError::Unavailable`].
//! - **Events across replicas**: a write that records call events runs `pg_notify` in its
//!   transaction; every replica keeps one `LISTEN` connection and wakes its streams when a
//!   notification arrives (and once after each reconnect, in case it missed one).

use crate::db::{panic_message, DbError, DbResult};
use crate::metrics::Metrics;
use crate::schema;
use crate::sql::{PgTx, Sql};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, IsolationLevel, NoTls};
use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Connections (worker threads) per service process, by default.
pub const DEFAULT_POOL: usize = 16;
/// How long a job waits for a free connection before it fails.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts of a write whose transaction keeps failing to serialize.
pub const MAX_ATTEMPTS: u32 = 40;
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The channel call events are announced on.
pub const EVENTS_CHANNEL: &str = "campus_voip_events";

/// Where the database is and how to use it.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/database` (libpq's URL form).
    pub url: String,
    /// Apply pending migrations and create the keyrings if missing.
    pub migrate: bool,
    pub now_ms: u64,
    /// Connections in the pool.
    pub pool: usize,
}

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

pub(crate) struct Worker {
    config: postgres::Config,
    client: Option<Client>,
    cache: RefCell<HashMap<String, postgres::Statement>>,
}

/// What a transaction is for.
#[derive(Clone, Copy)]
pub enum Mode {
    Read,
    Write,
}

/// The error and what caused it (`postgres::Error` alone says only "db error").
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

/// Starts a transaction of `mode` (reads: one snapshot, read only; writes: serializable).
fn begin(client: &mut Client, mode: Mode) -> Result<postgres::Transaction<'_>, postgres::Error> {
    let builder = client.build_transaction();
    match mode {
        Mode::Read => builder
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true),
        Mode::Write => builder.isolation_level(IsolationLevel::Serializable),
    }
    .start()
}

fn connect(config: &postgres::Config) -> DbResult<Client> {
    config.connect(NoTls).map_err(|e| {
        DbError::Unavailable(format!("cannot connect to PostgreSQL: {}", describe(&e)))
    })
}

impl Worker {
    fn new(config: postgres::Config) -> Worker {
        Worker {
            config,
            client: None,
            cache: RefCell::new(HashMap::new()),
        }
    }

    /// One transaction running `f`; a serialization failure anywhere in it (even one `f`
    /// wrapped into a rule error) is [`DbError::Retry`].
    fn attempt<T>(
        &mut self,
        mode: Mode,
        fail_commit: &AtomicBool,
        f: &mut dyn FnMut(&dyn Sql) -> DbResult<T>,
    ) -> DbResult<T> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            self.cache.borrow_mut().clear();
            self.client = Some(connect(&self.config)?);
        }
        let Worker { client, cache, .. } = self;
        let tx = begin(client.as_mut().expect("connected above"), mode)?;
        let pg = PgTx::new(tx, cache);
        let r = catch_unwind(AssertUnwindSafe(|| f(&pg)))
            .unwrap_or_else(|p| Err(DbError::Panicked(panic_message(&p))));
        let (tx, trouble) = pg.finish();
        match r {
            Ok(v) => {
                if matches!(mode, Mode::Write) && fail_commit.swap(false, Ordering::SeqCst) {
                    let _ = tx.rollback();
                    return Err(DbError::CommitFailed(
                        "test hook: the commit was refused".into(),
                    ));
                }
                match tx.commit() {
                    Ok(()) => Ok(v),
                    Err(e) => Err(match DbError::from(e) {
                        retry @ DbError::Retry(_) => retry,
                        // The connection failed during COMMIT: whether it committed is unknown.
                        // Never acknowledged, never run again; answered 1002 / 503.
                        DbError::Unavailable(m) => DbError::Unavailable(format!(
                            "the connection failed during COMMIT, whether it took effect is unknown: {m}"
                        )),
                        // PostgreSQL refused the commit: nothing of it was applied.
                        other => DbError::CommitFailed(other.to_string()),
                    }),
                }
            }
            Err(e) => {
                let _ = tx.rollback();
                Err(trouble.unwrap_or(e))
            }
        }
    }

    pub(crate) fn run<T>(
        &mut self,
        mode: Mode,
        fail_commit: &AtomicBool,
        metrics: &Metrics,
        f: &mut dyn FnMut(&dyn Sql) -> DbResult<T>,
    ) -> DbResult<T> {
        let mut attempt = 0;
        let mut reconnected = false;
        loop {
            let reused = self.client.is_some();
            let r = self.attempt(mode, fail_commit, f);
            if self.client.as_ref().is_some_and(|c| c.is_closed()) {
                self.client = None;
            }
            match r {
                // A connection that broke while idle (the database restarted) fails its next
                // job before anything ran: once more on a new connection. (A failed COMMIT is
                // CommitFailed: its outcome is unknown, it is never run again.)
                Err(DbError::Unavailable(_)) if reused && !reconnected => {
                    reconnected = true;
                    self.client = None;
                }
                Err(DbError::Retry(m)) => {
                    attempt += 1;
                    metrics.db_retry();
                    if attempt >= MAX_ATTEMPTS {
                        return Err(DbError::Other(format!(
                            "the transaction did not serialize after {MAX_ATTEMPTS} attempts: {m}"
                        )));
                    }
                    // 1–2 ms, doubling up to 32–64 ms, random within the step.
                    let step = 1u64 << attempt.min(5);
                    let jitter = u64::from(schema::random_bytes::<1>()[0]) % step.max(1);
                    std::thread::sleep(Duration::from_millis(step + jitter));
                }
                r => return r,
            }
        }
    }
}

pub struct PgStore {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    fail_next_commit: Arc<AtomicBool>,
    queued: Arc<AtomicUsize>,
    listening: Arc<AtomicBool>,
    config: postgres::Config,
    metrics: Arc<Metrics>,
    label: String,
}

/// The URL without its password (for logs and banners).
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl PgStore {
    pub fn open(opts: &PgOptions, metrics: Arc<Metrics>) -> DbResult<PgStore> {
        let mut config: postgres::Config = opts
            .url
            .parse()
            .map_err(|e| DbError::Other(format!("--database {}: {e}", redact(&opts.url))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("campus-voip-server");
        // The synchronous client runs a runtime of its own: off the caller's (async) thread.
        std::thread::scope(|s| {
            s.spawn(|| Self::prepare(&config, opts))
                .join()
                .unwrap_or_else(|p| Err(DbError::Panicked(panic_message(&p))))
        })?;
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let pool = opts.pool.max(1);
        let mut workers = Vec::with_capacity(pool);
        for i in 0..pool {
            let rx = rx.clone();
            let config = config.clone();
            let w = std::thread::Builder::new()
                .name(format!("campus-voip-pg-{i}"))
                .spawn(move || {
                    let mut worker = Worker::new(config);
                    loop {
                        let job = {
                            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
                            rx.recv()
                        };
                        match job {
                            Ok(job) => job(&mut worker),
                            Err(_) => break,
                        }
                    }
                })
                .map_err(|e| DbError::Other(format!("cannot start a database thread: {e}")))?;
            workers.push(w);
        }
        Ok(PgStore {
            jobs: Mutex::new(Some(tx)),
            workers: Mutex::new(workers),
            fail_next_commit: Arc::new(AtomicBool::new(false)),
            queued: Arc::new(AtomicUsize::new(0)),
            listening: Arc::new(AtomicBool::new(true)),
            config,
            metrics,
            label: redact(&opts.url),
        })
    }

    /// Checks or migrates the schema before the pool starts.
    fn prepare(config: &postgres::Config, opts: &PgOptions) -> DbResult<()> {
        let mut first = connect(config)?;
        if opts.migrate {
            schema::migrate_pg(&mut first, opts.now_ms)?;
        } else {
            let tx = first.transaction()?;
            let cache = RefCell::new(HashMap::new());
            let pg = PgTx::new(tx, &cache);
            let v = schema::current_version(&pg);
            let (tx, _) = pg.finish();
            let _ = tx.rollback();
            schema::require_version(v?)?;
        }
        Ok(())
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Runs `f` on a worker; the reply arrives on the returned channel.
    pub(crate) fn submit<T, F>(
        &self,
        mode: Mode,
        mut f: F,
    ) -> DbResult<tokio::sync::oneshot::Receiver<DbResult<T>>>
    where
        T: Send + 'static,
        F: FnMut(&dyn Sql) -> DbResult<T> + Send + 'static,
    {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let queued_at = Instant::now();
        let fail = self.fail_next_commit.clone();
        let queued = self.queued.clone();
        let metrics = self.metrics.clone();
        let job: Job = Box::new(move |w: &mut Worker| {
            queued.fetch_sub(1, Ordering::SeqCst);
            let r = if queued_at.elapsed() > ACQUIRE_TIMEOUT {
                Err(DbError::Unavailable(format!(
                    "no database connection was free within {} s",
                    ACQUIRE_TIMEOUT.as_secs()
                )))
            } else {
                w.run(mode, &fail, &metrics, &mut f)
            };
            let _ = reply.send(r);
        });
        let guard = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let sender = guard.as_ref().ok_or(DbError::Closed)?;
        self.queued.fetch_add(1, Ordering::SeqCst);
        if sender.send(job).is_err() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(DbError::Closed);
        }
        Ok(rx)
    }

    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    pub fn fail_next_commit(&self) {
        self.fail_next_commit.store(true, Ordering::SeqCst);
    }

    /// Calls `wake` whenever another replica (or this one) committed call events, and once
    /// after each (re)connection of the listening connection. Runs until [`PgStore::close`].
    pub fn listen(&self, wake: Arc<dyn Fn() + Send + Sync>) {
        let config = self.config.clone();
        let listening = self.listening.clone();
        let spawned = std::thread::Builder::new()
            .name("campus-voip-pg-listen".into())
            .spawn(move || {
                let mut failures = 0u32;
                while listening.load(Ordering::SeqCst) {
                    match listen_once(&config, &listening, &*wake) {
                        Ok(()) => failures = 0,
                        Err(e) => {
                            if failures == 0 {
                                tracing::warn!(error = %e, "the LISTEN connection failed; retrying");
                            }
                            failures += 1;
                            std::thread::sleep(Duration::from_millis(200 * u64::from(failures.min(10))));
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the LISTEN thread: events of other replicas arrive only with the sweeper");
        }
    }

    pub fn close(&self) {
        self.listening.store(false, Ordering::SeqCst);
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
        let workers: Vec<_> = self
            .workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        for w in workers {
            let _ = w.join();
        }
    }
}

/// Runs `f` in one transaction on a connection of its own, on a thread of its own (the CLI's
/// `export`: one snapshot; `import`: all or nothing). Committed only if `f` succeeds.
pub fn with_transaction<T: Send>(
    url: &str,
    mode: Mode,
    f: impl FnOnce(&dyn Sql) -> Result<T, String> + Send,
) -> Result<T, String> {
    let config: postgres::Config = url
        .parse()
        .map_err(|e| format!("--database {}: {e}", redact(url)))?;
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut client = connect(&config).map_err(|e| e.to_string())?;
            let tx = begin(&mut client, mode).map_err(|e| DbError::from(e).to_string())?;
            let cache = RefCell::new(HashMap::new());
            let pg = PgTx::new(tx, &cache);
            let r = f(&pg);
            let (tx, _) = pg.finish();
            match r {
                Ok(v) => {
                    tx.commit()
                        .map_err(|e| format!("the commit failed: {}", DbError::from(e)))?;
                    Ok(v)
                }
                Err(e) => {
                    let _ = tx.rollback();
                    Err(e)
                }
            }
        })
        .join()
        .unwrap_or_else(|p| Err(panic_message(&p)))
    })
}

fn listen_once(
    config: &postgres::Config,
    listening: &AtomicBool,
    wake: &(dyn Fn() + Send + Sync),
) -> DbResult<()> {
    let mut client = connect(config)?;
    client.batch_execute(&format!("LISTEN {EVENTS_CHANNEL}"))?;
    // Whatever was committed while this connection was down.
    wake();
    while listening.load(Ordering::SeqCst) {
        {
            // Each notification wakes the streams at once (the iterator ends after 500 ms
            // without one, to look at `listening` again).
            let mut n = client.notifications();
            let mut it = n.timeout_iter(Duration::from_millis(500));
            while it.next()?.is_some() {
                wake();
            }
        }
        if client.is_closed() {
            return Err(DbError::Unavailable("the LISTEN connection closed".into()));
        }
    }
    Ok(())
}
