//! The store: SQLite (below) or PostgreSQL ([`crate::pg`]) behind one handle, [`Db`]. Jobs
//! get a [`Sql`] connection inside a transaction; the service's queries are written once.
//!
//! The SQLite store: one writer thread with group commit, and a pool of read connections.
//!
//! - Writes go through [`Db::write`]: the closure runs on the writer thread inside
//!   `BEGIN IMMEDIATE` and its own `SAVEPOINT`. The writer takes every job waiting in its queue
//!   (up to [`MAX_BATCH`], or fewer after [`Db::set_max_batch`]), runs them one after the other
//!   in one transaction and commits once (group commit: one `fsync` for the batch with
//!   `synchronous=FULL`). A job is acknowledged (its future resolves `Ok`) only after that
//!   commit returned; if the commit fails, every job of the batch gets the error and none of its
//!   changes exist. A job that returns `Err` or panics is rolled back to its savepoint alone;
//!   the others of the batch still commit.
//! - Reads go through [`Db::read`]: the closure runs on the calling task with one of the pool's
//!   read-only connections, inside one read transaction (one consistent snapshot). Reads must
//!   be short (point queries); a read never waits for the writer (WAL).

use crate::metrics::Metrics;
use crate::pg::{PgOptions, PgStore};
use crate::schema;
use crate::sql::{Dialect, Sql};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Semaphore};

/// Most jobs committed in one transaction (the default; [`Db::set_max_batch`] may lower it).
pub const MAX_BATCH: usize = 256;
/// Read connections in the pool.
pub const READERS: usize = 4;
/// How long a connection waits for another process's lock (the CLI against a running server).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What a database call can fail with.
#[derive(Debug)]
pub enum DbError {
    /// The database said no.
    Sql(String),
    /// A constraint refused the change (a duplicate key).
    Conflict(String),
    /// PostgreSQL could not serialize the transaction (the store retries it).
    Retry(String),
    /// The database cannot be reached (PostgreSQL down, no free connection).
    Unavailable(String),
    /// A rule of the core refused (the job's changes were rolled back).
    Rule(campus_voip::Error),
    /// The commit of the batch this job was in failed: nothing of it was applied.
    CommitFailed(String),
    /// The job panicked (rolled back).
    Panicked(String),
    /// The database was closed.
    Closed,
    /// Anything else (a corrupt row, a schema mismatch), with a message.
    Other(String),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Sql(e) => write!(f, "database error: {e}"),
            DbError::Conflict(e) => write!(f, "database constraint: {e}"),
            DbError::Retry(e) => write!(f, "the transaction did not serialize: {e}"),
            DbError::Unavailable(e) => write!(f, "the database is unavailable: {e}"),
            DbError::Rule(e) => write!(f, "{e}"),
            DbError::CommitFailed(m) => write!(f, "commit failed, nothing was applied: {m}"),
            DbError::Panicked(m) => write!(f, "the operation panicked (rolled back): {m}"),
            DbError::Closed => f.write_str("the database is closed"),
            DbError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                DbError::Conflict(e.to_string())
            }
            _ => DbError::Sql(e.to_string()),
        }
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> Self {
        use postgres::error::SqlState;
        let text = crate::pg::describe(&e);
        match e.code() {
            Some(c)
                if *c == SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == SqlState::T_R_DEADLOCK_DETECTED =>
            {
                DbError::Retry(text)
            }
            Some(c) if c.code().starts_with("23") => DbError::Conflict(text),
            // Class 08 (connection), 57P01–03 (the server shutting down or starting).
            Some(c) if c.code().starts_with("08") || c.code().starts_with("57P") => {
                DbError::Unavailable(text)
            }
            Some(_) => DbError::Sql(text),
            // No SQLSTATE: not an answer of the database (I/O, a closed connection, a timeout).
            None => DbError::Unavailable(text),
        }
    }
}

impl From<campus_voip::Error> for DbError {
    fn from(e: campus_voip::Error) -> Self {
        DbError::Rule(e)
    }
}

impl DbError {
    /// The core error to report for this failure: a rule's own error; `REQUEST_FAILED` (1002,
    /// answered HTTP 503: retry) while the database cannot be reached; else `STORAGE` (3007).
    pub fn to_core(&self) -> campus_voip::Error {
        match self {
            DbError::Rule(e) => e.clone(),
            DbError::Unavailable(_) => campus_voip::Error::new(
                campus_voip::ErrorCode::RequestFailed,
                format!("{self}; retry later"),
            ),
            other => campus_voip::Error::storage(other.to_string()),
        }
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// Where the database is and whether opening it may create it and apply migrations.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    pub path: PathBuf,
    /// Create the file (and its folder) if missing and apply pending migrations.
    pub migrate: bool,
    /// Milliseconds since the epoch, for the migration rows and the first keys.
    pub now_ms: u64,
}

/// One queued write: runs on the writer thread, then learns whether its batch committed.
trait Job: Send {
    /// Runs the closure; `true` when it succeeded (its savepoint is then released).
    fn run(&mut self, conn: &dyn Sql) -> bool;
    /// Sends the reply: the job's result if the batch committed, else the commit's error.
    fn finish(self: Box<Self>, commit: Result<(), String>);
}

struct WriteJob<T, F> {
    f: F,
    result: Option<DbResult<T>>,
    reply: oneshot::Sender<DbResult<T>>,
}

impl<T, F> Job for WriteJob<T, F>
where
    T: Send + 'static,
    F: FnMut(&dyn Sql) -> DbResult<T> + Send + 'static,
{
    fn run(&mut self, conn: &dyn Sql) -> bool {
        let f = &mut self.f;
        let r = catch_unwind(AssertUnwindSafe(|| f(conn)))
            .unwrap_or_else(|p| Err(DbError::Panicked(panic_message(&p))));
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), String>) {
        let reply = match (self.result, commit) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (_, Err(m)) => Err(DbError::CommitFailed(m)),
            (None, Ok(())) => Err(DbError::Other("the job did not run".into())),
        };
        // The caller may have gone away (request cancelled): the change is committed anyway.
        let _ = self.reply.send(reply);
    }
}

pub(crate) fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

struct SqliteStore {
    path: PathBuf,
    jobs: RwLock<Option<mpsc::Sender<Box<dyn Job>>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    reader_permits: Semaphore,
    fail_next_commit: Arc<AtomicBool>,
    /// Writes submitted and not yet taken by the writer.
    queued: Arc<AtomicUsize>,
    /// Most jobs the writer takes into one transaction (1 = no group commit).
    max_batch: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
}

enum Store {
    Sqlite(SqliteStore),
    Postgres(Box<PgStore>),
}

/// The database handle (cheap to clone).
#[derive(Clone)]
pub struct Db {
    store: Arc<Store>,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db").field("at", &self.label()).finish()
    }
}

/// Opens a connection with the service's settings: WAL, `synchronous=FULL`, foreign keys, a
/// busy handler that counts its waits.
pub fn connect(path: &Path, create: bool, metrics: &Arc<Metrics>) -> DbResult<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| {
        DbError::Other(format!(
            "cannot open the database {}: {e}{}",
            path.display(),
            if create {
                ""
            } else {
                " (run `campus-voip-server migrate` to create it)"
            }
        ))
    })?;
    let busy = metrics.clone();
    conn.busy_handler(Some(move |count: i32| {
        busy.sqlite_busy_wait();
        // Back off 1, 2, 4 … 32 ms, up to about BUSY_TIMEOUT in all.
        let wait = Duration::from_millis(1 << count.clamp(0, 5));
        std::thread::sleep(wait);
        (count as u64) * 32 < BUSY_TIMEOUT.as_millis() as u64
    }))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(DbError::Other(format!(
            "the database {} cannot use WAL (journal_mode is {mode})",
            path.display()
        )));
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    // The query planner stability guarantee: without it SQLite (3.54) marks a statement with
    // ORDER BY and a bound parameter in its WHERE to be re-planned whenever that parameter is
    // bound again, so every cached `SELECT … WHERE user_id = ?1 ORDER BY …` was parsed and
    // planned anew on every call.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(conn)
}

impl Db {
    /// Opens (and with `migrate`, creates and migrates) the SQLite database, starts the writer
    /// thread and opens the read pool.
    pub fn open(opts: &OpenOptions, metrics: Arc<Metrics>) -> DbResult<Db> {
        Self::open_sqlite(opts, metrics)
    }

    /// Opens the PostgreSQL database (and with `migrate`, migrates it) and starts the pool.
    pub fn open_postgres(opts: &PgOptions, metrics: Arc<Metrics>) -> DbResult<Db> {
        Ok(Db {
            store: Arc::new(Store::Postgres(Box::new(PgStore::open(opts, metrics)?))),
        })
    }

    fn open_sqlite(opts: &OpenOptions, metrics: Arc<Metrics>) -> DbResult<Db> {
        if opts.migrate {
            if let Some(dir) = opts.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    DbError::Other(format!("cannot create the folder {}: {e}", dir.display()))
                })?;
            }
        } else if !opts.path.exists() {
            return Err(DbError::Other(format!(
                "no database at {} (run `campus-voip-server migrate` to create it)",
                opts.path.display()
            )));
        }
        let mut conn = connect(&opts.path, opts.migrate, &metrics)?;
        restrict_permissions(&opts.path);
        if opts.migrate {
            schema::migrate(&mut conn, opts.now_ms)?;
        } else {
            schema::require_current(&conn)?;
        }
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = connect(&opts.path, false, &metrics)?;
            r.execute_batch("PRAGMA query_only = ON;")?;
            readers.push(r);
        }
        let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
        let fail_next_commit = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicUsize::new(0));
        let max_batch = Arc::new(AtomicUsize::new(MAX_BATCH));
        let writer = {
            let fail = fail_next_commit.clone();
            let metrics = metrics.clone();
            let queued = queued.clone();
            let max_batch = max_batch.clone();
            std::thread::Builder::new()
                .name("campus-voip-db-writer".into())
                .spawn(move || writer_loop(conn, rx, fail, queued, max_batch, metrics))
                .map_err(|e| DbError::Other(format!("cannot start the writer thread: {e}")))?
        };
        Ok(Db {
            store: Arc::new(Store::Sqlite(SqliteStore {
                path: opts.path.clone(),
                jobs: RwLock::new(Some(tx)),
                writer: Mutex::new(Some(writer)),
                readers: Mutex::new(readers),
                reader_permits: Semaphore::new(READERS),
                fail_next_commit,
                queued,
                max_batch,
                metrics,
            })),
        })
    }

    /// The SQLite file (`None` on PostgreSQL).
    pub fn path(&self) -> Option<&Path> {
        match &*self.store {
            Store::Sqlite(s) => Some(&s.path),
            Store::Postgres(_) => None,
        }
    }

    /// What the database is, for logs: the file, or the URL without its password.
    pub fn label(&self) -> String {
        match &*self.store {
            Store::Sqlite(s) => s.path.display().to_string(),
            Store::Postgres(p) => p.label().to_owned(),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match &*self.store {
            Store::Sqlite(_) => Dialect::Sqlite,
            Store::Postgres(_) => Dialect::Postgres,
        }
    }

    fn metrics(&self) -> &Metrics {
        match &*self.store {
            Store::Sqlite(s) => &s.metrics,
            Store::Postgres(p) => p.metrics(),
        }
    }

    fn submit<T, F>(&self, f: F) -> DbResult<oneshot::Receiver<DbResult<T>>>
    where
        T: Send + 'static,
        F: FnMut(&dyn Sql) -> DbResult<T> + Send + 'static,
    {
        let s = match &*self.store {
            Store::Sqlite(s) => s,
            Store::Postgres(p) => return p.submit(crate::pg::Mode::Write, f),
        };
        let (reply, rx) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(WriteJob {
            f,
            result: None,
            reply,
        });
        let guard = s.jobs.read().unwrap_or_else(|p| p.into_inner());
        let sender = guard.as_ref().ok_or(DbError::Closed)?;
        s.queued.fetch_add(1, Ordering::SeqCst);
        if sender.send(job).is_err() {
            s.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(DbError::Closed);
        }
        Ok(rx)
    }

    /// Runs `f` in a write transaction; resolves after that transaction committed.
    ///
    /// On SQLite `f` runs on the writer thread inside `BEGIN IMMEDIATE` and a savepoint of its
    /// own, with the other jobs of its batch; on PostgreSQL in a `SERIALIZABLE` transaction of
    /// its own, run again (from the start) when it does not serialize — so `f` must do nothing
    /// but its SQL. It must not `BEGIN`, `COMMIT` or `ROLLBACK` itself. Returning `Err` (or
    /// panicking) rolls back exactly what `f` did.
    pub async fn write<T, F>(&self, f: F) -> DbResult<T>
    where
        T: Send + 'static,
        F: FnMut(&dyn Sql) -> DbResult<T> + Send + 'static,
    {
        let started = Instant::now();
        let rx = self.submit(f)?;
        let r = rx.await.unwrap_or(Err(DbError::Closed));
        self.metrics().db_observe("write", started.elapsed());
        r
    }

    /// [`Db::write`] for synchronous callers (the CLI); never call it from an async task.
    pub fn write_blocking<T, F>(&self, f: F) -> DbResult<T>
    where
        T: Send + 'static,
        F: FnMut(&dyn Sql) -> DbResult<T> + Send + 'static,
    {
        let rx = self.submit(f)?;
        rx.blocking_recv().unwrap_or(Err(DbError::Closed))
    }

    /// Runs `f` in one read-only transaction (a consistent snapshot). On SQLite it runs on the
    /// calling task with a connection of the read pool (a read never waits for the writer); on
    /// PostgreSQL on a worker of the pool.
    pub async fn read<T, F>(&self, f: F) -> DbResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Sql) -> DbResult<T> + Send + 'static,
    {
        match &*self.store {
            Store::Sqlite(s) => {
                let _permit = s
                    .reader_permits
                    .acquire()
                    .await
                    .map_err(|_| DbError::Closed)?;
                s.read_now(f)
            }
            Store::Postgres(p) => {
                let started = Instant::now();
                let rx = p.submit(crate::pg::Mode::Read, once(f))?;
                let r = rx.await.unwrap_or(Err(DbError::Closed));
                p.metrics().db_observe("read", started.elapsed());
                r
            }
        }
    }

    /// [`Db::read`] for synchronous callers.
    pub fn read_blocking<T, F>(&self, f: F) -> DbResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Sql) -> DbResult<T> + Send + 'static,
    {
        match &*self.store {
            Store::Sqlite(s) => loop {
                if let Ok(_permit) = s.reader_permits.try_acquire() {
                    return s.read_now(f);
                }
                std::thread::sleep(Duration::from_millis(1));
            },
            Store::Postgres(p) => {
                let rx = p.submit(crate::pg::Mode::Read, once(f))?;
                rx.blocking_recv().unwrap_or(Err(DbError::Closed))
            }
        }
    }

    /// At most `n` jobs per transaction from the next batch on (clamped to 1..=[`MAX_BATCH`]);
    /// 1 turns group commit off (one commit, one `fsync`, per write: `--max-batch`, for
    /// benchmarks). SQLite only (each PostgreSQL write is its own transaction).
    pub fn set_max_batch(&self, n: usize) {
        if let Store::Sqlite(s) = &*self.store {
            s.max_batch.store(n.clamp(1, MAX_BATCH), Ordering::SeqCst);
        }
    }

    /// Writes waiting for the writer (not yet taken into a transaction).
    pub fn queued(&self) -> usize {
        match &*self.store {
            Store::Sqlite(s) => s.queued.load(Ordering::SeqCst),
            Store::Postgres(p) => p.queued(),
        }
    }

    /// Test hook: the next batch is rolled back instead of committed (as if the commit failed
    /// or the process died before it): its jobs must not be acknowledged.
    #[doc(hidden)]
    pub fn fail_next_commit(&self) {
        match &*self.store {
            Store::Sqlite(s) => s.fail_next_commit.store(true, Ordering::SeqCst),
            Store::Postgres(p) => p.fail_next_commit(),
        }
    }

    /// Calls `wake` when call events were committed by another process on the same database
    /// (PostgreSQL's `LISTEN`; SQLite has one process, nothing to do).
    pub fn on_remote_events(&self, wake: Arc<dyn Fn() + Send + Sync>) {
        if let Store::Postgres(p) = &*self.store {
            p.listen(wake);
        }
    }

    /// Stops taking writes, lets the writer finish the jobs already queued, joins it and closes
    /// every connection (on SQLite the last close checkpoints the WAL into the database file).
    pub fn close(&self) {
        let s = match &*self.store {
            Store::Sqlite(s) => s,
            Store::Postgres(p) => return p.close(),
        };
        s.jobs.write().unwrap_or_else(|p| p.into_inner()).take();
        let writer = s.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(w) = writer {
            let _ = w.join();
        }
        s.reader_permits.close();
        s.readers.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Whether the database answers (`/readyz`).
    pub async fn ping(&self) -> DbResult<()> {
        self.read(|c| c.one("SELECT 1", &[]).map(drop)).await
    }
}

/// A `FnOnce` job as the `FnMut` the pool takes (a read runs once: it is never retried).
fn once<T, F>(f: F) -> impl FnMut(&dyn Sql) -> DbResult<T> + Send + 'static
where
    T: Send + 'static,
    F: FnOnce(&dyn Sql) -> DbResult<T> + Send + 'static,
{
    let mut f = Some(f);
    move |c| match f.take() {
        Some(f) => f(c),
        None => Err(DbError::Other("a read job ran twice".into())),
    }
}

impl SqliteStore {
    fn read_now<T, F>(&self, f: F) -> DbResult<T>
    where
        F: FnOnce(&dyn Sql) -> DbResult<T>,
    {
        let started = Instant::now();
        let conn = self
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .ok_or(DbError::Closed)?;
        let r = (|| {
            let tx = conn.unchecked_transaction()?;
            let out = catch_unwind(AssertUnwindSafe(|| f(&*tx)))
                .unwrap_or_else(|p| Err(DbError::Panicked(panic_message(&p))));
            // A read transaction has nothing to commit; ending it releases the snapshot.
            drop(tx);
            out
        })();
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(conn);
        self.metrics.db_observe("read", started.elapsed());
        r
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // The file holds the server keys: owner only.
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}

fn writer_loop(
    mut conn: Connection,
    rx: mpsc::Receiver<Box<dyn Job>>,
    fail_next_commit: Arc<AtomicBool>,
    queued: Arc<AtomicUsize>,
    max_batch: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
) {
    // Ends when every sender is gone and the queue is empty (Db::close).
    while let Ok(first) = rx.recv() {
        let max = max_batch.load(Ordering::SeqCst);
        let mut batch = vec![first];
        while batch.len() < max {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        queued.fetch_sub(batch.len(), Ordering::SeqCst);
        metrics.db_batch(batch.len());
        let commit = run_batch(&mut conn, &mut batch, &fail_next_commit);
        if let Err(m) = &commit {
            tracing::error!(jobs = batch.len(), error = %m, "write batch not committed");
        }
        for job in batch {
            job.finish(commit.clone());
        }
    }
}

fn run_batch(
    conn: &mut Connection,
    batch: &mut [Box<dyn Job>],
    fail_next_commit: &AtomicBool,
) -> Result<(), String> {
    let mut tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| e.to_string())?;
    for job in batch.iter_mut() {
        let sp = tx.savepoint().map_err(|e| e.to_string())?;
        let ok = job.run(&*sp);
        if ok {
            sp.commit().map_err(|e| e.to_string())?;
        } else {
            drop(sp); // rolls back to the savepoint and releases it
        }
        if tx.is_autocommit() {
            // SQLite rolled the whole transaction back (disk full, I/O error): nothing holds.
            return Err("SQLite rolled back the transaction".into());
        }
    }
    if fail_next_commit.swap(false, Ordering::SeqCst) {
        let _ = tx.rollback();
        return Err("commit failure injected by a test".into());
    }
    tx.commit().map_err(|e| e.to_string())
}
