//! The developer interface's contact endpoints (`/wxa/business/*`), WeChat-style: HTTP 200
//! and `{ errcode, errmsg, … }` for every outcome, the access token checked first
//! ([`DeveloperAuth`]), the body read as JSON whatever the Content-Type.
//!
//! - `getvoipcontactlist {user_id}` → exactly the seed's reply: `{ errcode: 0, errmsg: "ok",
//!   contact_list: [{ open_id, role }] }` (administrator first), or errcode 1 `user has no
//!   contact list` with an empty list.
//! - `resetvoipcontact {user_id}` **[ours]** → `{ errcode: 0, errmsg: "ok", removed }`: every
//!   contact of the student removed (`removed: false` if it had none).
//! - `getvoipcalllist {user_id, begin_time?, end_time?}` **[ours]** → `{ errcode: 0, errmsg:
//!   "ok", call_list: [...] }`: the student's ended calls that rang in the range (Unix seconds,
//!   inclusive), in the order they ended, as the core writes them (SPEC §3.7).
//! - 44002 `empty post data`, 47001 `data format error` (not JSON, not an object, a bad
//!   `user_id`), -1 `system error` (the database failed).

use super::docs::{CallList, CallListBody, ContactList, Reset, UserIdBody};
use super::errors::{self, json_response};
use super::extract::{DeveloperAuth, RawBody};
use super::AppState;
use crate::db::DbError;
use crate::json;
use crate::repo::SqlRepo;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use campus_voip::input::Value;
use campus_voip::lifecycle::{self, CallListQuery};
use campus_voip::ops;
use campus_voip::requests::{ContactListReq, ResetReq};
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/wxa/business/getvoipcontactlist",
            post(get_voip_contact_list),
        )
        .route("/wxa/business/resetvoipcontact", post(reset_voip_contact))
        .route("/wxa/business/getvoipcalllist", post(get_voip_call_list))
}

fn fail(state: &AppState, code: i64, msg: &str) -> Response {
    state.metrics.outcome("wechat", &code.to_string());
    errors::wechat(code, msg)
}

/// The body as a JSON object in the core's value, or the errcode and errmsg to reply.
fn object(body: &[u8]) -> Result<Value, (i64, &'static str)> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err((44002, "empty post data"));
    }
    match json::parse_body(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err((47001, "data format error")),
    }
}

/// `getvoipcontactlist`'s request, or the errcode and errmsg to reply.
pub fn contact_list_request(body: &[u8]) -> Result<ContactListReq, (i64, String)> {
    let v = object(body).map_err(|(code, msg)| (code, msg.to_owned()))?;
    ContactListReq::parse(&v).map_err(|e| (47001, format!("data format error: {}", e.message)))
}

/// `resetvoipcontact`'s request (`user_id` read as the core's `userId`), or the errcode and
/// errmsg to reply.
pub fn reset_request(body: &[u8]) -> Result<ResetReq, (i64, String)> {
    let v = object(body).map_err(|(code, msg)| (code, msg.to_owned()))?;
    match v.get("user_id") {
        Value::Missing => Err(campus_voip::Error::invalid_argument("user_id is missing")),
        id => Ok(Value::Object(vec![("userId".into(), id.clone())])),
    }
    .and_then(|args| ResetReq::parse(&args))
    .map_err(|e| (47001, format!("data format error: {}", e.message)))
}

fn system_error(state: &AppState, e: &DbError) -> Response {
    tracing::error!(error = %e, "developer interface: database failure");
    fail(state, -1, "system error")
}

/// A student's contacts and their roles (the seed's interface).
#[utoipa::path(post, path = "/wxa/business/getvoipcontactlist", tag = "developer",
    security(("access_token" = []), ("cloudbase_access_token" = [])),
    request_body(content = UserIdBody, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "the reply", body = ContactList),
        (status = "default", description = "HTTP 200 with errcode 41001 / 40001 / 42001 (token), 44002 / 47001 (body), -1 (system error)", body = super::wechat::WxError),
    ))]
pub async fn get_voip_contact_list(
    State(state): State<AppState>,
    _auth: DeveloperAuth,
    body: RawBody,
) -> Response {
    let req = match contact_list_request(&body.0) {
        Ok(r) => r,
        Err((code, msg)) => return fail(&state, code, &msg),
    };
    let now = state.core.now(&state.db).await;
    let r = state
        .db
        .read(move |c| ops::contact_list(&SqlRepo::new(c, now), &req).map_err(DbError::Rule))
        .await;
    match r {
        Ok(reply) => {
            state.metrics.outcome("wechat", &reply.errcode.to_string());
            let body = serde_json::to_value(&reply).unwrap_or_else(|_| json!({}));
            json_response(StatusCode::OK, &body)
        }
        Err(e) => system_error(&state, &e),
    }
}

/// [ours] Removes every contact of a student (the admin reset).
#[utoipa::path(post, path = "/wxa/business/resetvoipcontact", tag = "developer",
    security(("access_token" = []), ("cloudbase_access_token" = [])),
    request_body(content = UserIdBody, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "the reply", body = Reset),
        (status = "default", description = "HTTP 200 with errcode 41001 / 40001 / 42001 (token), 44002 / 47001 (body), -1 (system error)", body = super::wechat::WxError),
    ))]
pub async fn reset_voip_contact(
    State(state): State<AppState>,
    _auth: DeveloperAuth,
    body: RawBody,
) -> Response {
    let req = match reset_request(&body.0) {
        Ok(r) => r,
        Err((code, msg)) => return fail(&state, code, &msg),
    };
    let now = state.core.now(&state.db).await;
    let r = state
        .db
        .write(move |c| {
            ops::reset_student(&mut SqlRepo::new(c, now), req.clone()).map_err(DbError::Rule)
        })
        .await;
    match r {
        Ok((_, removed)) => {
            state.metrics.outcome("wechat", "0");
            json_response(
                StatusCode::OK,
                &json!({ "errcode": 0, "errmsg": "ok", "removed": removed }),
            )
        }
        Err(e) => system_error(&state, &e),
    }
}

/// [ours] A student's ended calls (SPEC §3.7), the core's answer as it writes it.
#[utoipa::path(post, path = "/wxa/business/getvoipcalllist", tag = "developer",
    security(("access_token" = []), ("cloudbase_access_token" = [])),
    request_body(content = CallListBody, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "the reply", body = CallList),
        (status = "default", description = "HTTP 200 with errcode 41001 / 40001 / 42001 (token), 44002 / 47001 (body), -1 (system error)", body = super::wechat::WxError),
    ))]
pub async fn get_voip_call_list(
    State(state): State<AppState>,
    _auth: DeveloperAuth,
    body: RawBody,
) -> Response {
    let q = match object(&body.0)
        .map_err(|(code, msg)| (code, msg.to_owned()))
        .and_then(|v| {
            CallListQuery::from_value(&v)
                .map_err(|e| (47001, format!("data format error: {}", e.message)))
        }) {
        Ok(q) => q,
        Err((code, msg)) => return fail(&state, code, &msg),
    };
    let now = state.core.now(&state.db).await;
    let r = state
        .db
        .read(move |c| ops::call_list(&SqlRepo::new(c, now), &q).map_err(DbError::Rule))
        .await;
    match r {
        Ok(records) => {
            state.metrics.outcome("wechat", "0");
            let mut j = campus_voip::json::Json::default();
            lifecycle::write_call_list(&mut j, &records);
            errors::json_text(StatusCode::OK, j.done())
        }
        Err(e) => system_error(&state, &e),
    }
}
