//! The WeChat-compatible token endpoints: `GET /cgi-bin/token` and `POST /cgi-bin/stable_token`
//! (semantics in [`crate::tokens`]). HTTP 200 always; errors are `{ errcode, errmsg }`:
//! 40002 `invalid grant_type`, 41002 `appid missing`, 40013 `invalid appid`, 41004
//! `appsecret missing`, 40125 `invalid appsecret`, 44002 `empty post data`, 47001
//! `data format error`, -1 `system error`.

use super::errors::{self, json_response};
use super::extract::{query_param, RawBody};
use super::AppState;
use crate::tokens::{self, Issued};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

/// A token handed out.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct AccessToken {
    pub access_token: String,
    /// Seconds left, an integer.
    pub expires_in: u64,
}

/// A WeChat-style error (always with HTTP 200).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct WxError {
    pub errcode: i64,
    pub errmsg: String,
}

/// `POST /cgi-bin/stable_token`'s body (read as JSON whatever the Content-Type).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct StableTokenRequest {
    /// `client_credential`
    pub grant_type: String,
    pub appid: String,
    pub secret: String,
    /// `true`: a new token now, the previous stable token stops working at once.
    #[serde(default)]
    pub force_refresh: Option<bool>,
}

fn fail(state: &AppState, code: i64, msg: &str) -> Response {
    state.metrics.outcome("wechat", &code.to_string());
    errors::wechat(code, msg)
}

/// Checks grant_type, appid and secret (constant time) in WeChat's order; the errcode and
/// errmsg of the first that fails.
fn check_credentials(
    state: &AppState,
    grant_type: Option<&str>,
    appid: Option<&str>,
    secret: Option<&str>,
) -> Result<(), (i64, &'static str)> {
    if grant_type != Some("client_credential") {
        return Err((40002, "invalid grant_type"));
    }
    let Some(appid) = appid.filter(|a| !a.is_empty()) else {
        return Err((41002, "appid missing"));
    };
    if appid != state.app.app_id {
        return Err((40013, "invalid appid"));
    }
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return Err((41004, "appsecret missing"));
    };
    if !bool::from(secret.as_bytes().ct_eq(state.app.app_secret.as_bytes())) {
        return Err((40125, "invalid appsecret"));
    }
    Ok(())
}

fn issued(state: &AppState, r: Result<Issued, crate::db::DbError>) -> Response {
    match r {
        Ok(t) => {
            state.metrics.outcome("wechat", "0");
            json_response(
                StatusCode::OK,
                &json!({ "access_token": t.access_token, "expires_in": t.expires_in }),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "issuing an access token failed");
            fail(state, -1, "system error")
        }
    }
}

/// Classic access token: a new one on every call; the previous one keeps working 5 minutes.
#[utoipa::path(
    get,
    path = "/cgi-bin/token",
    tag = "developer",
    params(
        ("grant_type" = String, Query, description = "client_credential"),
        ("appid" = String, Query, description = "the service's AppID"),
        ("secret" = String, Query, description = "the service's AppSecret"),
    ),
    responses(
        (status = 200, description = "a token", body = AccessToken),
        (status = "default", description = "HTTP 200 with errcode 40002 / 41002 / 40013 / 41004 / 40125 / -1", body = WxError),
    )
)]
pub async fn token(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let q = query.unwrap_or_default();
    let (grant_type, appid, secret) = (
        query_param(&q, "grant_type"),
        query_param(&q, "appid"),
        query_param(&q, "secret"),
    );
    if let Err(res) = check_credentials(
        &state,
        grant_type.as_deref(),
        appid.as_deref(),
        secret.as_deref(),
    ) {
        return fail(&state, res.0, res.1);
    }
    let (app_id, now, ttl) = (
        state.app.app_id.clone(),
        state.now_ms(),
        state.rules.access_token_ttl_ms,
    );
    let r = state
        .db
        .write(move |c| tokens::issue_classic(c, &app_id, now, ttl))
        .await;
    issued(&state, r)
}

/// Stable access token: the same one until 5 minutes before it expires; `force_refresh`
/// replaces it at once.
#[utoipa::path(
    post,
    path = "/cgi-bin/stable_token",
    tag = "developer",
    request_body(content = StableTokenRequest, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "a token", body = AccessToken),
        (status = "default", description = "HTTP 200 with errcode 40002 / 41002 / 40013 / 41004 / 40125 / 44002 / 47001 / -1", body = WxError),
    )
)]
pub async fn stable_token(State(state): State<AppState>, body: RawBody) -> Response {
    let bytes = body.0;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return fail(&state, 44002, "empty post data");
    }
    let Ok(serde_json::Value::Object(obj)) = serde_json::from_slice::<serde_json::Value>(&bytes)
    else {
        return fail(&state, 47001, "data format error");
    };
    let text = |k: &str| obj.get(k).and_then(|v| v.as_str());
    let force_refresh = match obj.get("force_refresh") {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(_) => {
            return fail(
                &state,
                47001,
                "data format error: force_refresh must be a boolean",
            )
        }
    };
    if let Err(res) = check_credentials(&state, text("grant_type"), text("appid"), text("secret")) {
        return fail(&state, res.0, res.1);
    }
    let (app_id, now, ttl) = (
        state.app.app_id.clone(),
        state.now_ms(),
        state.rules.access_token_ttl_ms,
    );
    let r = state
        .db
        .write(move |c| tokens::issue_stable(c, &app_id, now, ttl, force_refresh))
        .await;
    issued(&state, r)
}
