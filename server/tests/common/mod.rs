//! Shared by the server's integration tests: a service on a temporary database with a manual
//! clock, and requests through the router without a socket.
#![allow(dead_code)]

pub mod process;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use campus_voip_server::clock::ManualClock;
use campus_voip_server::db::{Db, OpenOptions};
use campus_voip_server::http::{
    self, AppCredentials, AppState, Limits, RuleSettings, ServiceState,
};
use campus_voip_server::metrics::Metrics;
use campus_voip_server::session::SessionKey;
use http_body_util::BodyExt;
use std::sync::Arc;
use tower::ServiceExt;

pub const APP_ID: &str = "wx0123456789abcdef";
pub const APP_SECRET: &str = "0123456789abcdef0123456789abcdef";
pub const SESSION_SECRET: &str = "a session secret of at least 32 bytes, for tests";
/// 2026-12-01T00:00:00Z
pub const T0: u64 = 1_796_083_200_000;

pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    pub router: Router,
}

pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }
}

/// With `CAMPUS_VOIP_TEST_PG` (a superuser URL; `scripts/pg.sh run` sets it) the tests run
/// on PostgreSQL: each test folder gets a database of its own, created on first use and named
/// in the folder (a test that reopens its folder reopens its database). `None` without it.
pub fn pg_url(dir: &std::path::Path) -> Option<String> {
    let admin = std::env::var("CAMPUS_VOIP_TEST_PG").ok()?;
    let marker = dir.join("postgres-database");
    let name = match std::fs::read_to_string(&marker) {
        Ok(n) => n,
        Err(_) => {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).unwrap();
            let n: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let n = format!("t_{n}");
            let (url, sql) = (admin.clone(), format!("CREATE DATABASE {n}"));
            // The synchronous client runs a runtime of its own: not on a test's runtime thread.
            std::thread::spawn(move || {
                let mut c = postgres::Client::connect(&url, postgres::NoTls)
                    .expect("the test PostgreSQL answers");
                c.batch_execute(&sql).expect("CREATE DATABASE");
            })
            .join()
            .unwrap();
            std::fs::write(&marker, &n).unwrap();
            n
        }
    };
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some(format!("{base}/{name}"))
}

/// Whether the tests run on PostgreSQL (see [`pg_url`]).
pub fn on_pg() -> bool {
    std::env::var_os("CAMPUS_VOIP_TEST_PG").is_some()
}

/// The SQLite store on `test.sqlite3` in `dir`, whatever `CAMPUS_VOIP_TEST_PG` says (the
/// tests of the SQLite store itself).
pub fn open_sqlite(dir: &std::path::Path) -> Db {
    Db::open(
        &OpenOptions {
            path: dir.join("test.sqlite3"),
            migrate: true,
            now_ms: T0,
        },
        Arc::new(Metrics::new()),
    )
    .expect("the test database opens")
}

pub fn open_db(dir: &std::path::Path) -> Db {
    if let Some(url) = pg_url(dir) {
        return Db::open_postgres(
            &campus_voip_server::pg::PgOptions {
                url,
                migrate: true,
                now_ms: T0,
                pool: 8,
            },
            Arc::new(Metrics::new()),
        )
        .expect("the test database opens");
    }
    open_sqlite(dir)
}

pub struct Build {
    pub dev: bool,
    pub limits: Limits,
    pub access_token_ttl_s: u64,
    /// `--wechat-api` (a fake WeChat on loopback in the jscode2session tests).
    pub wechat_api: String,
    pub extra: Router<AppState>,
    /// `--plugin-app-id`.
    pub plugin_app_id: Option<String>,
    /// SQLite even under `CAMPUS_VOIP_TEST_PG` (the tests of what works on a SQLite file).
    pub sqlite: bool,
}

impl Default for Build {
    fn default() -> Self {
        Build {
            dev: false,
            limits: Limits::default(),
            access_token_ttl_s: 7200,
            wechat_api: "https://api.weixin.qq.com".into(),
            extra: Router::new(),
            plugin_app_id: None,
            sqlite: false,
        }
    }
}

impl Build {
    pub fn start(self) -> TestApp {
        self.start_in(tempfile::tempdir().unwrap())
    }

    /// [`Build::start`] on the database `test.sqlite3` in `dir` (created if missing).
    pub fn start_in(self, dir: tempfile::TempDir) -> TestApp {
        let db = if self.sqlite {
            open_sqlite(dir.path())
        } else {
            open_db(dir.path())
        };
        let clock = ManualClock::new(T0);
        let state = ServiceState::new(
            db,
            clock.clone(),
            Arc::new(Metrics::new()),
            AppCredentials {
                app_id: APP_ID.into(),
                app_secret: APP_SECRET.into(),
            },
            SessionKey::new(SESSION_SECRET.as_bytes()).unwrap(),
            RuleSettings {
                max_contacts: 10,
                ticket_ttl_ms: 259_200_000,
                ring_timeout_ms: 30_000,
                access_token_ttl_ms: self.access_token_ttl_s * 1000,
                wechat_api: self.wechat_api,
                plugin_app_id: self.plugin_app_id,
            },
            self.limits,
            self.dev,
        );
        let router = http::router_with(state.clone(), self.extra);
        TestApp {
            dir,
            clock,
            state,
            router,
        }
    }
}

pub fn app() -> TestApp {
    Build::default().start()
}

impl TestApp {
    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let content_type = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            content_type,
            text: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// POST with no Content-Type (as WeChat SDKs send).
    pub async fn post(&self, uri: &str, body: impl Into<Body>) -> Reply {
        self.send(Request::post(uri).body(body.into()).unwrap())
            .await
    }

    pub async fn post_auth(&self, uri: &str, auth: &str, body: impl Into<Body>) -> Reply {
        self.send(
            Request::post(uri)
                .header("authorization", auth)
                .body(body.into())
                .unwrap(),
        )
        .await
    }

    pub async fn classic_token(&self) -> serde_json::Value {
        self.get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={APP_ID}&secret={APP_SECRET}"
        ))
        .await
        .json()
    }

    pub async fn stable_token(&self, force_refresh: bool) -> serde_json::Value {
        let body = serde_json::json!({
            "grant_type": "client_credential", "appid": APP_ID, "secret": APP_SECRET,
            "force_refresh": force_refresh,
        });
        self.post("/cgi-bin/stable_token", body.to_string())
            .await
            .json()
    }
}

/// `Authorization: Bearer <session>` for `open_id`, minted with the test session secret (valid a day).
pub fn bearer(open_id: &str) -> String {
    let key = SessionKey::new(SESSION_SECRET.as_bytes()).unwrap();
    let o = campus_voip::ids::OpenId::parse("openId", open_id).unwrap();
    format!("Bearer {}", key.mint(&o, T0 / 1000, T0 / 1000 + 86_400))
}

/// `Authorization: Device <key>` for a device `door-1` added to the app's database.
pub async fn device(app: &TestApp) -> String {
    named_device(app, "door-1").await
}

/// The `Authorization` of a new device `name` (a device is in one call at a time).
pub async fn named_device(app: &TestApp, name: &str) -> String {
    let name = name.to_owned();
    let key = app
        .state
        .db
        .write(move |c| campus_voip_server::devices::add(c, &name, T0))
        .await
        .unwrap();
    format!("Device {key}")
}
