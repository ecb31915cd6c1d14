//! `POST /v1/session/wx { code }` (SPEC §7): a `wx.login` code exchanged for a parent session
//! through WeChat's `jscode2session` at `--wechat-api`, with the app credentials.
//!
//! - Success: 200 `{ errCode: 0, errMsg: 'sessionWx:ok', result: { session, expiresIn, openId } }`,
//!   the session minted like `session mint` ([`crate::session`], 7 days).
//! - A bad body (not an object, `code` missing, not a string, empty, over 128 bytes, not visible
//!   ASCII: `requests::WxLoginReq`): 200 with 1004, like every `/v1` argument error.
//! - WeChat refused the code (40029 invalid, 40163 already used, 40226 high-risk user): **401**
//!   with 3008 `UNAUTHENTICATED` (the code is the credential of this request, and SPEC §7 answers
//!   a bad credential with 401 + 3008) plus `wxErrcode`, so a host can tell a blocked user from a
//!   stale code. The host calls `wx.login` again for a new code.
//! - WeChat busy or rate-limited (-1, 45011), unreachable, slower than [`UPSTREAM_TIMEOUT`], or
//!   answering HTTP 5xx: **503** with 1002 `REQUEST_FAILED` (retry later).
//! - WeChat answered something unusable (not JSON, no or a malformed openid, another errcode such
//!   as 40013 / 40125 for wrong app credentials): **502** with 1002, logged as an error (it is
//!   the school's configuration or WeChat's fault, not the user's).
//!
//! The code, the app secret, the URL and the `session_key` are never logged nor echoed; the log
//! has the errcode or the failure's kind only. `session_key` and `unionid` are dropped.

use super::errors::{json_response, plugin, plugin_body, plugin_error};
use super::extract::RawBody;
use super::AppState;
use crate::json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::Response;
use campus_voip::ids::OpenId;
use campus_voip::requests::WxLoginReq;
use campus_voip::ErrorCode;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::OnceLock;
use std::time::Duration;
use utoipa::ToSchema;

/// The API name in `errMsg`.
pub const API: &str = "sessionWx";
/// The whole exchange with WeChat (connect, TLS, reply) must fit in this.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest reply read from WeChat (its replies are about 150 bytes).
const MAX_REPLY_BYTES: usize = 16 * 1024;

/// `{ code }`: what `wx.login` resolved in the Mini Program.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct WxLoginRequest {
    /// 1–128 visible ASCII characters; single use, valid 5 minutes at WeChat.
    pub code: String,
}

/// `{ session, expiresIn, openId }`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WxSessionResult {
    /// `v1.<kid>.<openId>.<iat>.<exp>.<mac>`, for `Authorization: Bearer …`.
    pub session: String,
    /// Seconds.
    pub expires_in: u64,
    /// The parent's openId at the school's Mini Program (as WeChat gave it).
    pub open_id: String,
}

/// `{ errCode: 0, errMsg: 'sessionWx:ok', result }`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WxSessionReply {
    pub err_code: u32,
    pub err_msg: String,
    pub result: WxSessionResult,
}

/// A refused code: `{ errCode: 3008, errMsg, code: 'UNAUTHENTICATED', origin, wxErrcode }`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WxLoginRefused {
    pub err_code: u32,
    pub err_msg: String,
    pub code: String,
    pub origin: String,
    /// WeChat's errcode (40029, 40163, 40226).
    pub wx_errcode: i64,
}

/// What `jscode2session` answered, as far as it is read.
#[derive(Deserialize)]
struct Code2Session {
    #[serde(default)]
    openid: Option<serde_json::Value>,
    #[serde(default)]
    errcode: Option<serde_json::Value>,
}

/// Why the exchange gave no openId.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// WeChat refused the code itself.
    Refused(i64),
    /// WeChat is busy or rate-limits us; try later.
    Busy(String),
    /// WeChat could not be reached in time.
    Unreachable(&'static str),
    /// WeChat answered something this service cannot use.
    Bad(String),
}

type WxClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The connector (TLS with the Mozilla roots on ring, plain http for a local `--wechat-api`) is
/// built once; a client per exchange around it, so no pooled connection outlives the runtime that
/// opened it (logins are rare: a session lasts days).
fn client() -> WxClient {
    static CONNECTOR: OnceLock<HttpsConnector<HttpConnector>> = OnceLock::new();
    let https = CONNECTOR.get_or_init(|| {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(UPSTREAM_TIMEOUT));
        HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http)
    });
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(https.clone())
}

/// `{base}/sns/jscode2session?appid=…&secret=…&js_code=…&grant_type=authorization_code`.
fn upstream_uri(base: &str, app_id: &str, secret: &str, code: &str) -> Option<Uri> {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("appid", app_id)
        .append_pair("secret", secret)
        .append_pair("js_code", code)
        .append_pair("grant_type", "authorization_code")
        .finish();
    format!("{}/sns/jscode2session?{query}", base.trim_end_matches('/'))
        .parse()
        .ok()
}

/// Reads WeChat's reply: the openId, or why not.
fn read_reply(status: StatusCode, body: &[u8]) -> Result<OpenId, Failure> {
    if status.is_server_error() {
        return Err(Failure::Busy(format!("HTTP {}", status.as_u16())));
    }
    if !status.is_success() {
        return Err(Failure::Bad(format!("HTTP {}", status.as_u16())));
    }
    let reply: Code2Session = serde_json::from_slice(body)
        .map_err(|_| Failure::Bad("a reply that is not a JSON object".into()))?;
    match reply.errcode {
        None => {}
        Some(c) => match c.as_i64() {
            Some(0) => {}
            Some(n @ (40029 | 40163 | 40226)) => return Err(Failure::Refused(n)),
            Some(n @ (-1 | 45011)) => return Err(Failure::Busy(format!("errcode {n}"))),
            Some(n) => return Err(Failure::Bad(format!("errcode {n}"))),
            None => return Err(Failure::Bad("an errcode that is not an integer".into())),
        },
    }
    match reply.openid {
        Some(serde_json::Value::String(s)) => OpenId::parse("openid", &s)
            .map_err(|_| Failure::Bad("an openid that is not a valid openId".into())),
        Some(_) => Err(Failure::Bad("an openid that is not a string".into())),
        None => Err(Failure::Bad("no openid".into())),
    }
}

/// Calls `jscode2session`; the openId, or why not.
async fn code_to_open_id(state: &AppState, code: &str) -> Result<OpenId, Failure> {
    let uri = upstream_uri(
        &state.rules.wechat_api,
        &state.app.app_id,
        &state.app.app_secret,
        code,
    )
    .ok_or(Failure::Bad(
        "--wechat-api does not make a valid URL".into(),
    ))?;
    let req = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header(header::ACCEPT, "application/json")
        .header(header::USER_AGENT, "campus-voip-server")
        .body(Empty::<Bytes>::new())
        .map_err(|_| Failure::Bad("the request could not be built".into()))?;
    let exchange = async {
        let res = client().request(req).await.map_err(|e| {
            Failure::Unreachable(if e.is_connect() { "connect" } else { "request" })
        })?;
        let status = res.status();
        let body = Limited::new(res.into_body(), MAX_REPLY_BYTES)
            .collect()
            .await
            .map_err(|_| Failure::Bad("a reply that could not be read or was too large".into()))?
            .to_bytes();
        read_reply(status, &body)
    };
    match tokio::time::timeout(UPSTREAM_TIMEOUT, exchange).await {
        Ok(r) => r,
        Err(_) => Err(Failure::Unreachable("timeout")),
    }
}

fn fail(state: &AppState, status: StatusCode, code: ErrorCode, reason: &str) -> Response {
    state
        .metrics
        .outcome("plugin", &code.err_code().to_string());
    plugin(status, code, API, reason)
}

/// Exchanges a `wx.login` code for a parent session (WeChat's `jscode2session`).
#[utoipa::path(post, path = "/v1/session/wx", tag = "plugin",
    request_body = WxLoginRequest,
    responses(
        (status = 200, description = "a session; or 1004 for a bad body", body = WxSessionReply),
        (status = 401, description = "WeChat refused the code (3008)", body = WxLoginRefused),
        (status = 502, description = "WeChat answered something unusable (1002)", body = super::dev::PluginError),
        (status = 503, description = "WeChat busy, rate-limited, unreachable or slow (1002)", body = super::dev::PluginError),
    ))]
pub async fn exchange(State(state): State<AppState>, body: RawBody) -> Response {
    let req = match json::parse_body(&body.0).and_then(|v| WxLoginReq::parse(&v)) {
        Ok(r) => r,
        Err(e) => {
            state.metrics.outcome("plugin", &e.err_code().to_string());
            return plugin_error(API, &e);
        }
    };
    match code_to_open_id(&state, &req.code).await {
        Ok(open_id) => {
            state.metrics.outcome("plugin", "0");
            let now = state.now_ms() / 1000;
            let ttl = crate::session::DEFAULT_TTL_SECS;
            let session = state.sessions.mint(&open_id, now, now + ttl);
            json_response(
                StatusCode::OK,
                &json!({
                    "errCode": 0,
                    "errMsg": format!("{API}:ok"),
                    "result": { "session": session, "expiresIn": ttl, "openId": open_id.as_str() },
                }),
            )
        }
        Err(Failure::Refused(wx)) => {
            tracing::info!(wx_errcode = wx, "jscode2session refused the login code");
            state
                .metrics
                .outcome("plugin", &ErrorCode::Unauthenticated.err_code().to_string());
            let mut body = plugin_body(
                ErrorCode::Unauthenticated,
                API,
                &format!(
                    "WeChat refused the login code (errcode {wx}); call wx.login for a new one"
                ),
            );
            body["wxErrcode"] = json!(wx);
            let mut res = json_response(StatusCode::UNAUTHORIZED, &body);
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"campus-voip\""),
            );
            res
        }
        Err(Failure::Busy(why)) => {
            tracing::warn!(upstream = %why, "jscode2session busy");
            fail(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::RequestFailed,
                &format!("WeChat is busy ({why}); retry later"),
            )
        }
        Err(Failure::Unreachable(kind)) => {
            tracing::warn!(kind, "jscode2session unreachable");
            fail(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::RequestFailed,
                &format!("WeChat could not be reached ({kind}); retry later"),
            )
        }
        Err(Failure::Bad(why)) => {
            tracing::error!(upstream = %why, "jscode2session answered something unusable (check --app-id, --app-secret, --wechat-api)");
            fail(
                &state,
                StatusCode::BAD_GATEWAY,
                ErrorCode::RequestFailed,
                &format!("WeChat answered {why}"),
            )
        }
    }
}
