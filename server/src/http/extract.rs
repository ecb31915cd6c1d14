//! Extractors: the request body (size limit, deadline, any Content-Type), the caller's
//! identity on `/v1` (`Authorization: Bearer <session>` or `Device <key>`), and the access
//! token on `/wxa/business/*`.

use super::errors::{self, Style};
use super::AppState;
use crate::devices;
use crate::tokens::{self, Refusal};
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use campus_voip::ids::OpenId;
use campus_voip::ErrorCode;
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// Why a body could not be read.
#[derive(Debug)]
pub struct BodyRejection {
    style: Style,
    status: StatusCode,
    reason: String,
}

impl IntoResponse for BodyRejection {
    fn into_response(self) -> Response {
        errors::transport(self.style, self.status, &self.reason, None)
    }
}

/// The whole request body, whatever its `Content-Type` (WeChat SDKs send none): at most
/// `limits.body_bytes` (413 past it, checked on `Content-Length` first), arriving within
/// `limits.body_timeout` (408 after).
pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = BodyRejection;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let style = Style::for_path(req.uri().path());
        let limit = state.limits.body_bytes;
        let too_large = || BodyRejection {
            style,
            status: StatusCode::PAYLOAD_TOO_LARGE,
            reason: format!("the body is over {limit} bytes"),
        };
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let body: Body = req.into_body();
        let read = tokio::time::timeout(
            state.limits.body_timeout,
            Limited::new(body, limit).collect(),
        );
        match read.await {
            Err(_) => Err(BodyRejection {
                style,
                status: StatusCode::REQUEST_TIMEOUT,
                reason: "the body did not arrive in time".into(),
            }),
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
            Ok(Err(_)) => Err(BodyRejection {
                style,
                status: StatusCode::BAD_REQUEST,
                reason: "the body could not be read".into(),
            }),
            Ok(Ok(collected)) => Ok(RawBody(collected.to_bytes())),
        }
    }
}

/// Who is calling a `/v1` endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A parent, from a verified session.
    Parent(OpenId),
    /// A face-pay device, by its name.
    Device(String),
}

/// A refused credential: 401 `{ errCode: 3008, errMsg, code: 'UNAUTHENTICATED' }`.
#[derive(Debug)]
pub struct Unauthenticated {
    api: String,
    reason: String,
}

impl IntoResponse for Unauthenticated {
    fn into_response(self) -> Response {
        let mut res = errors::plugin(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            &self.api,
            &self.reason,
        );
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"campus-voip\""),
        );
        res
    }
}

/// The API name in errMsg: the last segment of the matched route (`/v1/dev/session` → `session`).
pub fn api_name(parts: &Parts) -> String {
    parts
        .extensions
        .get::<MatchedPath>()
        .and_then(|m| m.as_str().rsplit('/').next())
        .filter(|s| !s.is_empty())
        .unwrap_or("request")
        .to_owned()
}

enum Credential<'a> {
    Bearer(&'a str),
    Device(&'a str),
}

fn credential(parts: &Parts) -> Result<Credential<'_>, &'static str> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or("missing Authorization (Bearer <session> or Device <key>)")?
        .to_str()
        .map_err(|_| "the Authorization header is not ASCII")?;
    let (scheme, rest) = value
        .split_once(' ')
        .ok_or("the Authorization header must be Bearer <session> or Device <key>")?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok(Credential::Bearer(rest))
    } else if scheme.eq_ignore_ascii_case("device") {
        Ok(Credential::Device(rest))
    } else {
        Err("the Authorization header must be Bearer <session> or Device <key>")
    }
}

async fn caller_of(parts: &Parts, state: &AppState) -> Result<Caller, Unauthenticated> {
    let refuse = |reason: String| Unauthenticated {
        api: api_name(parts),
        reason,
    };
    match credential(parts).map_err(|r| refuse(r.into()))? {
        Credential::Bearer(token) => state
            .sessions
            .verify(token, state.now_ms() / 1000)
            .map(|s| Caller::Parent(s.open_id))
            .map_err(|e| refuse(e.to_string())),
        Credential::Device(key) => {
            let key = key.to_owned();
            match state.db.read(move |c| devices::authenticate(c, &key)).await {
                Ok(Some(name)) => Ok(Caller::Device(name)),
                Ok(None) => Err(refuse("unknown or revoked device key".into())),
                Err(e) => {
                    tracing::error!(error = %e, "device lookup failed");
                    Err(refuse("the device key could not be checked".into()))
                }
            }
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Unauthenticated;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        caller_of(parts, state).await
    }
}

/// A parent's session (`Authorization: Bearer …`); a device key is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parent(pub OpenId);

impl FromRequestParts<AppState> for Parent {
    type Rejection = Unauthenticated;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match caller_of(parts, state).await? {
            Caller::Parent(o) => Ok(Parent(o)),
            Caller::Device(_) => Err(Unauthenticated {
                api: api_name(parts),
                reason: "this needs a parent's session (Authorization: Bearer <session>)".into(),
            }),
        }
    }
}

/// A face-pay device (`Authorization: Device …`); a session is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCaller(pub String);

impl FromRequestParts<AppState> for DeviceCaller {
    type Rejection = Unauthenticated;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match caller_of(parts, state).await? {
            Caller::Device(d) => Ok(DeviceCaller(d)),
            Caller::Parent(_) => Err(Unauthenticated {
                api: api_name(parts),
                reason: "this needs a device key (Authorization: Device <key>)".into(),
            }),
        }
    }
}

/// The developer interface's credential on `/wxa/business/*`: `?access_token=…` (or
/// `?cloudbase_access_token=…`), checked with WeChat's codes, always HTTP 200: 41001
/// `access_token missing`, 40001 invalid (unknown or retired), 42001 `access_token expired`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeveloperAuth {
    pub app_id: String,
}

/// The first value of `name` in a query string (form-decoded, lossy).
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_component(k) == name).then(|| decode_component(v))
    })
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space), invalid UTF-8 replaced.
pub fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (
                    bytes.get(i + 1).and_then(|b| hex(*b)),
                    bytes.get(i + 2).and_then(|b| hex(*b)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl FromRequestParts<AppState> for DeveloperAuth {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let token = query_param(query, "access_token")
            .filter(|t| !t.is_empty())
            .or_else(|| query_param(query, "cloudbase_access_token"))
            .unwrap_or_default();
        let now = state.now_ms();
        let refusal = match state.db.read(move |c| tokens::check(c, &token, now)).await {
            Ok(Ok(app_id)) => return Ok(DeveloperAuth { app_id }),
            Ok(Err(r)) => r,
            Err(e) => {
                tracing::error!(error = %e, "access token lookup failed");
                state.metrics.outcome("wechat", "-1");
                return Err(errors::wechat(-1, "system error"));
            }
        };
        let (code, msg) = match refusal {
            Refusal::Missing => (41001, "access_token missing"),
            Refusal::Invalid => (
                40001,
                "invalid credential, access_token is invalid or not latest",
            ),
            Refusal::Expired => (42001, "access_token expired"),
        };
        state.metrics.outcome("wechat", &code.to_string());
        Err(errors::wechat(code, msg))
    }
}
