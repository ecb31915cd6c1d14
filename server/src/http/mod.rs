//! The HTTP service: state, routes and the middleware every route runs under.
//!
//! Middleware, outermost first: metrics and the access log by matched route (never the query
//! string); the concurrency limit (a fast 503 when full; `/healthz`, `/readyz` and `/metrics`
//! are exempt); JSON for every error response that has no JSON body yet (404, 405, 408,
//! panics…); the request timeout (408); panics caught (500). Bodies are read by [`extract`]
//! with the size limit and a deadline.

pub mod basic;
pub mod business;
pub mod calls;
pub mod dev;
pub mod docs;
pub mod errors;
pub mod extract;
pub mod session_wx;
pub mod v1;
pub mod wechat;

use crate::clock::SharedClock;
use crate::core::Core;
use crate::db::Db;
use crate::metrics::Metrics;
use crate::session::SessionKey;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use errors::Style;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

/// Size and time limits of the HTTP layer.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body (413 above).
    pub body_bytes: usize,
    /// Longest a request body may take to arrive (408 after).
    pub body_timeout: Duration,
    /// Longest a request may take in all (408 after).
    pub request_timeout: Duration,
    /// Requests handled at once; more get a 503 at once.
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 64 * 1024,
            body_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_in_flight: 1024,
        }
    }
}

/// The developer interface's credentials.
#[derive(Clone)]
pub struct AppCredentials {
    pub app_id: String,
    pub app_secret: String,
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AppCredentials {{ app_id: {}, app_secret: <redacted> }}",
            self.app_id
        )
    }
}

/// Rule settings from the configuration (used by the operations).
#[derive(Clone, Debug)]
pub struct RuleSettings {
    pub max_contacts: u32,
    pub ticket_ttl_ms: u64,
    pub ring_timeout_ms: u64,
    pub access_token_ttl_ms: u64,
    pub wechat_api: String,
    /// Share paths start `__plugin__/<appid>/` (the core's rule for `pluginAppId`).
    pub plugin_app_id: Option<String>,
}

/// Everything a handler can reach.
pub struct ServiceState {
    pub db: Db,
    pub clock: SharedClock,
    pub metrics: Arc<Metrics>,
    pub app: AppCredentials,
    pub sessions: SessionKey,
    pub rules: RuleSettings,
    pub limits: Limits,
    pub dev: bool,
    /// What the contact operations act with (keys, settings, clock, CSPRNG).
    pub core: Core,
    /// Wakes call event streams and the deadline sweeper.
    pub hub: crate::calls::Hub,
    in_flight: Arc<Semaphore>,
}

pub type AppState = Arc<ServiceState>;

impl ServiceState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        clock: SharedClock,
        metrics: Arc<Metrics>,
        app: AppCredentials,
        sessions: SessionKey,
        rules: RuleSettings,
        limits: Limits,
        dev: bool,
    ) -> AppState {
        Self::try_new(db, clock, metrics, app, sessions, rules, limits, dev)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`ServiceState::new`], or why the keys could not be loaded.
    #[allow(clippy::too_many_arguments)]
    pub fn try_new(
        db: Db,
        clock: SharedClock,
        metrics: Arc<Metrics>,
        app: AppCredentials,
        sessions: SessionKey,
        rules: RuleSettings,
        limits: Limits,
        dev: bool,
    ) -> Result<AppState, String> {
        let in_flight = Arc::new(Semaphore::new(limits.max_in_flight));
        // The core reads and checks the settings, as it does createLocalBackend's options.
        use campus_voip::input::Value;
        let config = campus_voip::engine::Config::from_value(&Value::object([
            ("maxContacts", Value::Num(f64::from(rules.max_contacts))),
            ("ticketTtlMs", Value::Num(rules.ticket_ttl_ms as f64)),
            ("ringTimeoutMs", Value::Num(rules.ring_timeout_ms as f64)),
            (
                "pluginAppId",
                rules
                    .plugin_app_id
                    .clone()
                    .map_or(Value::Missing, Value::Str),
            ),
        ]))
        .map_err(|e| format!("the rule settings: {}", e.message))?;
        let core = Core::load(&db, clock.clone(), config)?;
        Ok(Arc::new(ServiceState {
            db,
            clock,
            metrics,
            app,
            sessions,
            rules,
            limits,
            dev,
            core,
            hub: crate::calls::Hub::default(),
            in_flight,
        }))
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }
}

/// The service's routes.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The service's routes plus `extra` (routes added by tests or later modules), all under the
/// same middleware.
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let mut routes = Router::new()
        .route("/healthz", get(basic::healthz))
        .route("/readyz", get(basic::readyz))
        .route("/metrics", get(basic::metrics))
        .route("/openapi.json", get(basic::openapi))
        .route("/cgi-bin/token", get(wechat::token))
        .route("/cgi-bin/stable_token", post(wechat::stable_token))
        .route("/v1/session/wx", post(session_wx::exchange))
        .merge(v1::routes())
        .merge(calls::routes(state.dev))
        .merge(business::routes());
    if state.dev {
        routes = routes
            .route("/v1/dev/session", post(dev::session))
            .route("/v1/dev/device", post(dev::device))
            .route("/v1/dev/clock", post(dev::clock))
            .route("/v1/dev/stats", post(dev::stats));
    }
    routes
        .merge(extra)
        .fallback(not_found)
        .layer(CatchPanicLayer::custom(on_panic))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.limits.request_timeout,
        ))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limit_in_flight,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found(req: Request) -> Response {
    errors::transport(
        Style::for_path(req.uri().path()),
        StatusCode::NOT_FOUND,
        "no such endpoint",
        None,
    )
}

fn on_panic(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let msg = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into());
    tracing::error!(panic = %msg, "a handler panicked");
    // No body: `json_errors` (which knows the path) writes it.
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

fn is_json(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Gives every error response a JSON body in its path's style.
async fn json_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let style = Style::for_path(&path);
    let res = next.run(req).await;
    let status = res.status();
    if status.is_success() || status.is_redirection() || is_json(&res) {
        return res;
    }
    let allow = res
        .headers()
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        // axum leaves `Allow` out in some cases; the WeChat interface's methods are known.
        .or_else(|| match (style, path.as_str()) {
            (Style::WeChat, "/cgi-bin/token") => Some("GET,HEAD".into()),
            (Style::WeChat, _) => Some("POST".into()),
            _ => None,
        });
    errors::transport(style, status, errors::reason_for(status), allow.as_deref())
}

fn exempt_from_limit(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// At most `max_in_flight` requests at once; the next one gets a 503 at once.
async fn limit_in_flight(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if exempt_from_limit(req.uri().path()) {
        return next.run(req).await;
    }
    match state.in_flight.clone().try_acquire_owned() {
        Ok(_permit) => next.run(req).await,
        Err(_) => errors::transport(
            Style::for_path(req.uri().path()),
            StatusCode::SERVICE_UNAVAILABLE,
            errors::reason_for(StatusCode::SERVICE_UNAVAILABLE),
            None,
        ),
    }
}

/// Metrics and the access log, by matched route template (never the query string).
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let res = next.run(req).await;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    state.metrics.request(&method, &route, status, elapsed);
    tracing::info!(
        method = %method,
        route = %route,
        status,
        ms = %format_args!("{:.3}", elapsed.as_secs_f64() * 1000.0),
        "request"
    );
    res
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and waits up to
/// `grace` for the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let deadline = async move {
        let _ = rx.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        r = server => r,
        () = deadline => {
            tracing::warn!(grace_secs = grace.as_secs(), "requests still in flight after the grace period; closing");
            Ok(())
        }
    }
}

/// SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down: no new connections, finishing requests in flight");
}
