//! The subcommands. Each writes what it has to say to `out` (stdout in the binary), so tests
//! call [`run`] directly; a failure is an `Err` with the message (exit status 1).

use crate::check;
use crate::clock::{rfc3339, Clock, DevClock, SharedClock, SystemClock};
use crate::config::{
    self, Cli, Command, Database, DeviceCommand, KeysCommand, Options, SessionCommand,
};
use crate::db::{self, Db, DbError, OpenOptions};
use crate::devices;
use crate::export;
use crate::http::{self, AppCredentials, Limits, RuleSettings, ServiceState};
use crate::metrics::Metrics;
use crate::schema;
use crate::session::SessionKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use campus_voip::ids::OpenId;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long `serve` waits for requests in flight after SIGTERM.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub type CliResult<T = ()> = Result<T, String>;

/// The SQLite file of `--database`, for the commands that work on the file itself.
pub(crate) fn db_path(opts: &Options) -> CliResult<PathBuf> {
    match config::parse_database(&opts.database)? {
        Database::Sqlite(p) => Ok(p),
        Database::Postgres(_) => Err(
            "this command works on a SQLite file; for PostgreSQL use its own tools (pg_dump for a backup)".into(),
        ),
    }
}

fn now_ms() -> u64 {
    SystemClock.now_ms()
}

/// Opens `--database` (SQLite or PostgreSQL); with `migrate`, creates and migrates it.
pub(crate) fn open_with(opts: &Options, migrate: bool, metrics: Arc<Metrics>) -> CliResult<Db> {
    match config::parse_database(&opts.database)? {
        Database::Sqlite(path) => Db::open(
            &OpenOptions {
                path,
                migrate,
                now_ms: now_ms(),
            },
            metrics,
        ),
        Database::Postgres(url) => Db::open_postgres(
            &crate::pg::PgOptions {
                url,
                migrate,
                now_ms: now_ms(),
                pool: opts.db_pool as usize,
            },
            metrics,
        ),
    }
    .map_err(|e| e.to_string())
}

fn open(opts: &Options, migrate: bool) -> CliResult<Db> {
    open_with(opts, migrate, Arc::new(Metrics::new()))
}

pub(crate) fn say(out: &mut dyn Write, text: impl std::fmt::Display) -> CliResult {
    writeln!(out, "{text}").map_err(|e| format!("cannot write the output: {e}"))
}

/// Runs one command line.
pub async fn run(cli: Cli, out: &mut (dyn Write + Send)) -> CliResult {
    let opts = cli.opts;
    opts.check()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&opts, out).await,
        Command::Migrate => migrate(&opts, out),
        Command::Device { command } => match command {
            DeviceCommand::Add { name } => device_add(&opts, &name, out).await,
            DeviceCommand::List => device_list(&opts, out).await,
            DeviceCommand::Revoke { name } => device_revoke(&opts, &name, out).await,
        },
        Command::Session {
            command: SessionCommand::Mint { open_id, ttl },
        } => session_mint(&opts, &open_id, ttl, out).await,
        Command::Keys {
            command: KeysCommand::Rotate,
        } => keys_rotate(&opts, out).await,
        Command::Backup { file } => backup(&opts, &file, out),
        Command::Export { output } => export::export_cmd(&opts, output.as_deref(), out),
        Command::Import { input } => export::import_cmd(&opts, input.as_deref(), out),
        Command::Check => check_cmd(&opts, out).map(|_| ()),
    }
}

pub fn migrate(opts: &Options, out: &mut dyn Write) -> CliResult {
    let (version, label) = {
        let db = open(opts, true)?;
        let v = db
            .read_blocking(|c| schema::current_version(c))
            .map_err(|e| e.to_string())?;
        db.close();
        (v, db.label())
    };
    say(
        out,
        format!(
            "{label}: schema version {version} (this binary's: {}), server keys present",
            schema::latest()
        ),
    )
}

pub async fn device_add(opts: &Options, name: &str, out: &mut dyn Write) -> CliResult {
    devices::check_name(name)?;
    let db = open(opts, false)?;
    let name2 = name.to_owned();
    let now = now_ms();
    let r = db.write(move |c| devices::add(c, &name2, now)).await;
    db.close();
    let key = r.map_err(|e| e.to_string())?;
    eprintln!("device {name} added; its key is printed once (keep it on the device):");
    say(out, key)
}

pub async fn device_list(opts: &Options, out: &mut dyn Write) -> CliResult {
    let db = open(opts, false)?;
    let r = db.read(devices::list).await;
    db.close();
    for d in r.map_err(|e| e.to_string())? {
        let status = match d.revoked_at {
            None => "active".to_owned(),
            Some(t) => format!("revoked {}", rfc3339(t)),
        };
        say(
            out,
            format!("{}\tadded {}\t{status}", d.name, rfc3339(d.created_at)),
        )?;
    }
    Ok(())
}

pub async fn device_revoke(opts: &Options, name: &str, out: &mut dyn Write) -> CliResult {
    let db = open(opts, false)?;
    let name2 = name.to_owned();
    let now = now_ms();
    let r = db.write(move |c| devices::revoke(c, &name2, now)).await;
    db.close();
    if r.map_err(|e| e.to_string())? {
        say(out, format!("device {name} revoked"))
    } else {
        Err(format!("no active device named {name}"))
    }
}

pub async fn session_mint(
    opts: &Options,
    open_id: &str,
    ttl: u64,
    out: &mut dyn Write,
) -> CliResult {
    let open_id = OpenId::parse("OPENID", open_id).map_err(|e| e.message)?;
    let key = match config::read_secret(
        "session-secret",
        &opts.session_secret,
        &opts.session_secret_file,
    )? {
        Some(s) => SessionKey::new(s.as_bytes())?,
        None if opts.dev => {
            let db = open(opts, false)?;
            let stored = db
                .read(|c| schema::get_setting(c, DEV_SESSION_SECRET))
                .await;
            db.close();
            let s = stored.map_err(|e| e.to_string())?.ok_or(
                "no development session secret yet: start `serve --dev` once, or give --session-secret",
            )?;
            SessionKey::new(s.as_bytes())?
        }
        None => {
            return Err(
                "session mint needs --session-secret (or CAMPUS_VOIP_SESSION_SECRET[_FILE])".into(),
            )
        }
    };
    let now = now_ms() / 1000;
    say(out, key.mint(&open_id, now, now + ttl))
}

pub async fn keys_rotate(opts: &Options, out: &mut dyn Write) -> CliResult {
    let db = open(opts, false)?;
    let now = now_ms();
    let r = db.write(move |c| schema::rotate_keys(c, now)).await;
    db.close();
    let (ticket, token) = r.map_err(|e| e.to_string())?;
    say(
        out,
        format!("new signing keys: ticket key {ticket}, face-pay token key {token} (older keys verify until their links expire; restart serving processes to sign with them)"),
    )
}

/// `backup FILE`: `VACUUM INTO` (a consistent snapshot, also while a server writes), then
/// `check` on the copy.
pub fn backup(opts: &Options, file: &Path, out: &mut dyn Write) -> CliResult {
    let path = db_path(opts)?;
    if file.exists() {
        return Err(format!(
            "{} exists; backup never overwrites",
            file.display()
        ));
    }
    let conn = db::connect(&path, false, &Arc::new(Metrics::new())).map_err(|e| e.to_string())?;
    schema::require_current(&conn).map_err(|e| e.to_string())?;
    let target = file
        .to_str()
        .ok_or_else(|| format!("{}: the path is not UTF-8", file.display()))?;
    conn.execute("VACUUM INTO ?1", [target])
        .map_err(|e| format!("backup to {} failed: {e}", file.display()))?;
    drop(conn);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600));
    }
    let report = check_file(file, opts.max_contacts)?;
    if !report.ok() {
        return Err(format!(
            "the backup {} does not pass check: {}",
            file.display(),
            report.problems.join("; ")
        ));
    }
    say(
        out,
        format!(
            "backed up {} to {} ({} students, {} contacts); check: ok",
            path.display(),
            file.display(),
            report.students,
            report.contacts
        ),
    )
}

/// Runs `check` on a database file.
pub fn check_file(file: &Path, max_contacts: u32) -> CliResult<check::CheckReport> {
    if !file.exists() {
        return Err(format!("no database at {}", file.display()));
    }
    let conn = db::connect(file, false, &Arc::new(Metrics::new())).map_err(|e| e.to_string())?;
    conn.execute_batch("PRAGMA query_only = ON;")
        .map_err(|e| e.to_string())?;
    check::check(&conn, max_contacts).map_err(|e| e.to_string())
}

pub fn check_cmd(opts: &Options, out: &mut dyn Write) -> CliResult<check::CheckReport> {
    let (report, label) = match config::parse_database(&opts.database)? {
        Database::Sqlite(path) => (
            check_file(&path, opts.max_contacts)?,
            path.display().to_string(),
        ),
        Database::Postgres(url) => {
            // One snapshot on a connection and thread of its own (the CLI runs inside the
            // runtime, where the pool's blocking calls may not wait).
            let max = opts.max_contacts;
            let report = crate::pg::with_transaction(&url, crate::pg::Mode::Read, |c| {
                schema::require_current(c).map_err(|e| e.to_string())?;
                check::check(c, max).map_err(|e| e.to_string())
            })?;
            (report, crate::pg::redact(&url))
        }
    };
    for w in &report.warnings {
        say(out, format!("warning: {w}"))?;
    }
    for p in &report.problems {
        say(out, format!("problem: {p}"))?;
    }
    if !report.ok() {
        return Err(format!(
            "check: {} problem(s) in {label}",
            report.problems.len(),
        ));
    }
    say(
        out,
        format!(
            "check: ok ({} students, {} contacts, {} consents, {} active devices)",
            report.students, report.contacts, report.consents, report.devices
        ),
    )?;
    Ok(report)
}

const DEV_APP_ID: &str = "dev.app_id";
const DEV_APP_SECRET: &str = "dev.app_secret";
const DEV_SESSION_SECRET: &str = "dev.session_secret";
const SESSION_KID: &str = "session_kid";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The credentials `serve` runs with: from the configuration, or (with `--dev` only) from
/// the database's development settings, generated there the first time and printed.
pub async fn credentials(
    opts: &Options,
    db: &Db,
    out: &mut dyn Write,
) -> CliResult<(AppCredentials, SessionKey)> {
    let app_secret = config::read_secret("app-secret", &opts.app_secret, &opts.app_secret_file)?;
    let session_secret = config::read_secret(
        "session-secret",
        &opts.session_secret,
        &opts.session_secret_file,
    )?;
    let (app_id, app_secret, session_secret) = if opts.dev {
        let given = (opts.app_id.clone(), app_secret, session_secret);
        let r = db
            .write(move |c| {
                let pick = |name: &str, given: &Option<String>, make: &dyn Fn() -> String| {
                    if let Some(v) = given {
                        return Ok::<_, DbError>(v.clone());
                    }
                    if let Some(v) = schema::get_setting(c, name)? {
                        return Ok(v);
                    }
                    let v = make();
                    schema::set_setting(c, name, &v)?;
                    Ok(v)
                };
                let app_id = pick(DEV_APP_ID, &given.0, &|| {
                    format!("wx{}", hex(&schema::random_bytes::<8>()))
                })?;
                let app_secret = pick(DEV_APP_SECRET, &given.1, &|| {
                    hex(&schema::random_bytes::<16>())
                })?;
                let session = pick(DEV_SESSION_SECRET, &given.2, &|| {
                    URL_SAFE_NO_PAD.encode(schema::random_bytes::<32>())
                })?;
                Ok((app_id, app_secret, session))
            })
            .await
            .map_err(|e| e.to_string())?;
        say(out, "development mode (--dev): /v1/dev/* is on; credentials (kept in the database for the next --dev start):")?;
        say(out, format!("  app id:         {}", r.0))?;
        say(out, format!("  app secret:     {}", r.1))?;
        say(out, format!("  session secret: {}", r.2))?;
        r
    } else {
        let (a, b, c) = required_credentials(opts)?;
        (a, b, c)
    };
    let key = SessionKey::new(session_secret.as_bytes())?;
    let kid = key.kid().to_owned();
    let previous = db
        .write(move |c| {
            let prev = schema::get_setting(c, SESSION_KID)?;
            schema::set_setting(c, SESSION_KID, &kid)?;
            Ok(prev)
        })
        .await
        .map_err(|e| e.to_string())?;
    if previous.as_deref().is_some_and(|p| p != key.kid()) {
        tracing::warn!("the session secret changed since the last start: sessions minted with the old one are refused");
    }
    Ok((AppCredentials { app_id, app_secret }, key))
}

/// Without `--dev`: the app id, app secret and session secret, or what is missing.
pub fn required_credentials(opts: &Options) -> CliResult<(String, String, String)> {
    let app_secret = config::read_secret("app-secret", &opts.app_secret, &opts.app_secret_file)?;
    let session_secret = config::read_secret(
        "session-secret",
        &opts.session_secret,
        &opts.session_secret_file,
    )?;
    let mut missing = Vec::new();
    if opts.app_id.as_deref().is_none_or(str::is_empty) {
        missing.push("--app-id (CAMPUS_VOIP_APP_ID)");
    }
    if app_secret.as_deref().is_none_or(str::is_empty) {
        missing.push("--app-secret (CAMPUS_VOIP_APP_SECRET[_FILE])");
    }
    if session_secret.is_none() {
        missing.push("--session-secret (CAMPUS_VOIP_SESSION_SECRET[_FILE])");
    }
    if !missing.is_empty() {
        return Err(format!(
            "serve needs {} (or --dev for generated development credentials)",
            missing.join(", ")
        ));
    }
    let session_secret = session_secret.unwrap_or_default();
    SessionKey::new(session_secret.as_bytes())?;
    Ok((
        opts.app_id.clone().unwrap_or_default(),
        app_secret.unwrap_or_default(),
        session_secret,
    ))
}

/// Forgets expired used face-pay tokens every ten minutes (an expired token is refused as
/// expired before reuse is checked, so pruning late changes no answer).
async fn prune_used_tokens(state: http::AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        let now = state.core.clock.now();
        match state
            .db
            .write(move |c| crate::repo::prune_used_tokens(c, now))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "forgot expired used tokens"),
            Err(e) => tracing::warn!(error = %e, "pruning used tokens failed"),
        }
    }
}

/// `serve`: migrate, then listen until SIGTERM / Ctrl-C; close the database last.
pub async fn serve(opts: &Options, out: &mut dyn Write) -> CliResult {
    if !opts.dev {
        // Refuse before creating or migrating anything.
        required_credentials(opts)?;
    }
    let metrics = Arc::new(Metrics::new());
    let db = open_with(opts, true, metrics.clone())?;
    db.set_max_batch(opts.max_batch as usize);
    let result = async {
        let (app, sessions) = credentials(opts, &db, out).await?;
        // --dev: a clock that POST /v1/dev/clock can move forward.
        let clock: SharedClock = if opts.dev {
            Arc::new(DevClock::default())
        } else {
            Arc::new(SystemClock)
        };
        let state = ServiceState::try_new(
            db.clone(),
            clock,
            metrics,
            app,
            sessions,
            RuleSettings {
                max_contacts: opts.max_contacts,
                ticket_ttl_ms: opts.ticket_ttl * 1000,
                ring_timeout_ms: opts.ring_timeout * 1000,
                access_token_ttl_ms: opts.access_token_ttl * 1000,
                wechat_api: opts.wechat_api.clone(),
                plugin_app_id: opts.plugin_app_id.clone(),
            },
            Limits::default(),
            opts.dev,
        )?;
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", opts.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        say(
            out,
            format!(
                "campus-voip-server listening on http://{addr} (database {})",
                db.label()
            ),
        )?;
        let _ = out.flush();
        // PostgreSQL: call events committed by other replicas wake this one's streams.
        let woken = state.clone();
        db.on_remote_events(Arc::new(move || woken.hub.notify()));
        let pruner = tokio::spawn(prune_used_tokens(state.clone()));
        let sweeper = tokio::spawn(crate::calls::sweeper(state.clone()));
        let hub = state.clone();
        let shutdown = async move {
            http::shutdown_signal().await;
            hub.hub.close_streams();
        };
        let served = http::serve(listener, http::router(state), shutdown, SHUTDOWN_GRACE)
            .await
            .map_err(|e| format!("serving failed: {e}"));
        pruner.abort();
        sweeper.abort();
        served
    }
    .await;
    db.close();
    tracing::info!("database closed");
    result
}
