//! JSON error bodies in the two shapes the service speaks.
//!
//! - The WeChat-compatible developer interface (`/cgi-bin/…`, `/wxa/…`): HTTP 200 and
//!   `{ errcode, errmsg }` for every outcome, limits and failures included (-1 "system busy" is
//!   WeChat's "retry later").
//! - Everything else (the plugin interface `/v1/…`, health, metrics): the HTTP status of the
//!   failure and `{ errCode, errMsg, code }` with a code of the error table (SPEC §3.1):
//!   401 → 3008 `UNAUTHENTICATED`; 408 / 413 / 429 / 5xx → 1002 `REQUEST_FAILED` (what the
//!   shim reports for a request that did not go through); other 4xx → 1004 `INVALID_ARGUMENT`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use campus_voip::ErrorCode;
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    WeChat,
    Plugin,
}

impl Style {
    pub fn for_path(path: &str) -> Style {
        if path.starts_with("/cgi-bin/") || path.starts_with("/wxa/") {
            Style::WeChat
        } else {
            Style::Plugin
        }
    }
}

/// A JSON response with this status.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// A reply whose JSON text is already written (the core's writers).
pub fn json_text(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// `200 { errcode, errmsg }`.
pub fn wechat(errcode: i64, errmsg: impl Into<String>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({ "errcode": errcode, "errmsg": errmsg.into() }),
    )
}

/// `{ errCode, errMsg: '<api>:fail <reason>', code, origin }` with this status; `origin`
/// (`"plugin"` or `"backend"`, the core's error table) tells clients which error class it is.
pub fn plugin(status: StatusCode, code: ErrorCode, api: &str, reason: &str) -> Response {
    json_response(status, &plugin_body(code, api, reason))
}

/// The body [`plugin`] answers (for a handler that adds a field).
pub fn plugin_body(code: ErrorCode, api: &str, reason: &str) -> serde_json::Value {
    let origin = match code.origin() {
        campus_voip::Origin::Plugin => "plugin",
        campus_voip::Origin::Backend => "backend",
    };
    json!({
        "errCode": code.err_code(),
        "errMsg": format!("{api}:fail {reason}"),
        "code": code.name(),
        "origin": origin,
    })
}

/// A core error answered on the plugin interface: HTTP 200 (rule outcomes and errors), but 503
/// with `Retry-After` for `REQUEST_FAILED` (the database unreachable: nothing was decided, a
/// load balancer or the client may retry).
pub fn plugin_error(api: &str, e: &campus_voip::Error) -> Response {
    if e.code == ErrorCode::RequestFailed {
        let mut res = plugin(StatusCode::SERVICE_UNAVAILABLE, e.code, api, &e.message);
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return res;
    }
    plugin(StatusCode::OK, e.code, api, &e.message)
}

/// The table code for a transport-level failure answered with `status` on `/v1`.
pub fn plugin_code_for(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        401 => ErrorCode::Unauthenticated,
        // A body over the limit is the caller's argument (too large, as the core's input budget
        // refuses it in a local backend): retrying cannot help.
        413 => ErrorCode::InvalidArgument,
        408 | 429 => ErrorCode::RequestFailed,
        s if s >= 500 => ErrorCode::RequestFailed,
        _ => ErrorCode::InvalidArgument,
    }
}

/// The WeChat errcode and message for a transport-level failure.
fn wechat_for(status: StatusCode, reason: &str, allow: Option<&str>) -> (i64, String) {
    match status.as_u16() {
        // Every endpoint of the interface is POST but the classic token's.
        405 if allow.is_some_and(|a| a.contains("POST")) => (43002, "require POST method".into()),
        405 => (43001, "require GET method".into()),
        404 => (40066, format!("invalid url: {reason}")),
        413 => (47001, format!("data format error: {reason}")),
        503 | 429 => (-1, format!("system busy: {reason}")),
        408 | 500..=599 => (-1, format!("system error: {reason}")),
        _ => (47001, format!("data format error: {reason}")),
    }
}

/// The response for a failure that happened before or around a handler (no route, wrong
/// method, body too large, timeout, overload, panic), in the path's style.
pub fn transport(style: Style, status: StatusCode, reason: &str, allow: Option<&str>) -> Response {
    match style {
        Style::WeChat => {
            let (code, msg) = wechat_for(status, reason, allow);
            wechat(code, msg)
        }
        Style::Plugin => {
            let mut res = plugin(status, plugin_code_for(status), "request", reason);
            if let Some(a) = allow.and_then(|a| HeaderValue::from_str(a).ok()) {
                res.headers_mut().insert(header::ALLOW, a);
            }
            res
        }
    }
}

/// What a status means, for the message of an empty-bodied error response.
pub fn reason_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad request",
        404 => "no such endpoint",
        405 => "method not allowed",
        408 => "the request timed out",
        413 => "the body is too large",
        415 => "unsupported media type",
        429 => "too many requests",
        503 => "the service is overloaded, retry later",
        s if s >= 500 => "internal error",
        _ => "the request was refused",
    }
}
