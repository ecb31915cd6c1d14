//! The command line: SPEC §7's configuration table (flag, environment variable, `*_FILE`
//! variants for the secrets) and the subcommands.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Every environment variable the service reads; any other `CAMPUS_VOIP_*` is warned about.
pub const KNOWN_ENV: &[&str] = &[
    "CAMPUS_VOIP_LISTEN",
    "CAMPUS_VOIP_DATABASE",
    "CAMPUS_VOIP_APP_ID",
    "CAMPUS_VOIP_APP_SECRET",
    "CAMPUS_VOIP_APP_SECRET_FILE",
    "CAMPUS_VOIP_SESSION_SECRET",
    "CAMPUS_VOIP_SESSION_SECRET_FILE",
    "CAMPUS_VOIP_WECHAT_API",
    "CAMPUS_VOIP_MAX_CONTACTS",
    "CAMPUS_VOIP_TICKET_TTL",
    "CAMPUS_VOIP_RING_TIMEOUT",
    "CAMPUS_VOIP_ACCESS_TOKEN_TTL",
    "CAMPUS_VOIP_PLUGIN_APP_ID",
    "CAMPUS_VOIP_DEV",
    "CAMPUS_VOIP_MAX_BATCH",
    "CAMPUS_VOIP_DB_POOL",
];

/// The `CAMPUS_VOIP_*` variables of `vars` that the service does not know (sorted).
pub fn unknown_env(vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let mut unknown: Vec<String> = vars
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("CAMPUS_VOIP_") && !KNOWN_ENV.contains(&k.as_str()))
        .collect();
    unknown.sort();
    unknown
}

#[derive(Parser, Debug, Clone)]
#[command(
    name = "campus-voip-server",
    version,
    about = "The campus-voip contact service (SPEC §7). Without a subcommand: serve."
)]
pub struct Cli {
    #[command(flatten)]
    pub opts: Options,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
pub struct Options {
    /// Address to listen on.
    #[arg(
        long,
        env = "CAMPUS_VOIP_LISTEN",
        default_value = "127.0.0.1:8787",
        global = true
    )]
    pub listen: SocketAddr,
    /// Database URL: sqlite://PATH, or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (every
    /// replica of a deployment on the same PostgreSQL database).
    #[arg(
        long,
        env = "CAMPUS_VOIP_DATABASE",
        default_value = "sqlite://./data/campus-voip.sqlite3",
        global = true
    )]
    pub database: String,
    /// AppID of the developer interface (required unless --dev).
    #[arg(long, env = "CAMPUS_VOIP_APP_ID", global = true)]
    pub app_id: Option<String>,
    /// AppSecret of the developer interface (prefer the environment or a file).
    #[arg(
        long,
        env = "CAMPUS_VOIP_APP_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub app_secret: Option<String>,
    /// File holding the AppSecret (surrounding whitespace ignored).
    #[arg(long, env = "CAMPUS_VOIP_APP_SECRET_FILE", global = true)]
    pub app_secret_file: Option<PathBuf>,
    /// Secret sessions are signed with, at least 32 bytes (required unless --dev).
    #[arg(
        long,
        env = "CAMPUS_VOIP_SESSION_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub session_secret: Option<String>,
    /// File holding the session secret (surrounding whitespace ignored).
    #[arg(long, env = "CAMPUS_VOIP_SESSION_SECRET_FILE", global = true)]
    pub session_secret_file: Option<PathBuf>,
    /// Base URL of the WeChat API (for jscode2session).
    #[arg(
        long,
        env = "CAMPUS_VOIP_WECHAT_API",
        default_value = "https://api.weixin.qq.com",
        global = true
    )]
    pub wechat_api: String,
    /// **[ours]** The plugin's AppID: share paths start `__plugin__/<appid>/` so a host app can
    /// open the plugin's bind page from a share (what `createLocalBackend({ pluginAppId })` does).
    #[arg(long, env = "CAMPUS_VOIP_PLUGIN_APP_ID", global = true)]
    pub plugin_app_id: Option<String>,
    /// Contacts per student, the administrator included (1–100).
    #[arg(long, env = "CAMPUS_VOIP_MAX_CONTACTS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=100), global = true)]
    pub max_contacts: u32,
    /// Share ticket lifetime in seconds (60 s – 30 days).
    #[arg(long, env = "CAMPUS_VOIP_TICKET_TTL", default_value_t = 259_200,
          value_parser = clap::value_parser!(u64).range(60..=2_592_000), global = true)]
    pub ticket_ttl: u64,
    /// Seconds a call rings before it times out (5–120).
    #[arg(long, env = "CAMPUS_VOIP_RING_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(5..=120), global = true)]
    pub ring_timeout: u64,
    /// Access token lifetime in seconds (at least 300; at least 1 with --dev).
    #[arg(long, env = "CAMPUS_VOIP_ACCESS_TOKEN_TTL", default_value_t = 7200,
          value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    pub access_token_ttl: u64,
    /// Development mode: generated credentials, the /v1/dev endpoints (CAMPUS_VOIP_DEV=1).
    #[arg(long, env = "CAMPUS_VOIP_DEV", global = true, action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub dev: bool,
    /// Most writes committed in one transaction (1 = no group commit). Hidden: for benchmarks.
    #[arg(long, env = "CAMPUS_VOIP_MAX_BATCH", default_value_t = crate::db::MAX_BATCH as u64,
          value_parser = clap::value_parser!(u64).range(1..=crate::db::MAX_BATCH as u64),
          hide = true, global = true)]
    pub max_batch: u64,
    /// PostgreSQL connections of this process (its pool; each replica has its own).
    #[arg(long, env = "CAMPUS_VOIP_DB_POOL", default_value_t = crate::pg::DEFAULT_POOL as u64,
          value_parser = clap::value_parser!(u64).range(1..=1000), global = true)]
    pub db_pool: u64,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Apply pending migrations, then serve HTTP (the default).
    Serve,
    /// Create the database or apply pending migrations (and generate the server keys).
    Migrate,
    /// Face-pay devices.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// Parent sessions.
    Session {
        #[command(subcommand)]
        command: SessionCommand,
    },
    /// Server keys (share tickets, face-pay tokens).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Copy the database to FILE (a consistent snapshot, while serving).
    Backup { file: PathBuf },
    /// Write the whole store as backend-neutral JSON lines (stdout, or --output FILE).
    Export {
        /// Write to FILE (created 0600, never overwritten) instead of stdout.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Read an export (stdin, or --input FILE) into a new, empty database.
    Import {
        /// Read FILE instead of stdin.
        #[arg(long, short = 'i', value_name = "FILE")]
        input: Option<PathBuf>,
    },
    /// Integrity and invariants of the stored data.
    Check,
}

#[derive(Subcommand, Debug, Clone)]
pub enum DeviceCommand {
    /// Add a device and print its key (shown once).
    Add { name: String },
    /// List devices.
    List,
    /// Revoke a device's key.
    Revoke { name: String },
}

#[derive(Subcommand, Debug, Clone)]
pub enum SessionCommand {
    /// Print a session for OPENID.
    Mint {
        open_id: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = crate::session::DEFAULT_TTL_SECS,
              value_parser = clap::value_parser!(u64).range(1..=crate::session::MAX_TTL_SECS))]
        ttl: u64,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum KeysCommand {
    /// Add a new signing key to each keyring (old keys verify until their links expire).
    Rotate,
}

/// The database a URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    /// The URL as given (libpq's URL form).
    Postgres(String),
}

pub fn parse_database(url: &str) -> Result<Database, String> {
    if let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        if rest.is_empty() || rest.contains('?') {
            return Err(format!(
                "--database {url}: expected sqlite://PATH (no query parameters)"
            ));
        }
        return Ok(Database::Sqlite(PathBuf::from(rest)));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Database::Postgres(url.to_owned()));
    }
    Err(format!(
        "--database {}: expected sqlite://PATH or postgres://USER@HOST/DATABASE",
        crate::pg::redact(url)
    ))
}

/// A secret given as a value or as a file (never both).
pub fn read_secret(
    name: &str,
    value: &Option<String>,
    file: &Option<PathBuf>,
) -> Result<Option<String>, String> {
    match (value, file) {
        (Some(_), Some(_)) => Err(format!(
            "--{name} and --{name}-file (or their environment variables) are both set: give one"
        )),
        (Some(v), None) => Ok(Some(v.clone())),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| Some(s.trim().to_owned()))
            .map_err(|e| format!("--{name}-file {}: {e}", path.display())),
        (None, None) => Ok(None),
    }
}

impl Options {
    /// The lifetime checks that depend on --dev.
    pub fn check(&self) -> Result<(), String> {
        if !self.dev && self.access_token_ttl < 300 {
            return Err(format!(
                "--access-token-ttl must be at least 300 seconds (1 with --dev), got {}",
                self.access_token_ttl
            ));
        }
        if !(self.wechat_api.starts_with("https://") || self.wechat_api.starts_with("http://")) {
            return Err(format!(
                "--wechat-api must be an http(s) URL, got {}",
                self.wechat_api
            ));
        }
        Ok(())
    }
}
