//! `--dev` only: mint a parent session or add a device over HTTP (the demo and tests).

use super::errors::{json_response, plugin_error};
use super::extract::RawBody;
use super::AppState;
use crate::devices;
use crate::json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use campus_voip::ids::OpenId;
use campus_voip::input;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

/// `{ openId }`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevSessionRequest {
    pub open_id: String,
}

/// `{ errCode: 0, errMsg, session, expiresIn }`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevSession {
    pub err_code: u32,
    pub err_msg: String,
    pub session: String,
    /// Seconds.
    pub expires_in: u64,
}

/// `{ name }`
#[derive(Serialize, Deserialize, ToSchema)]
pub struct DevDeviceRequest {
    pub name: String,
}

/// `{ errCode: 0, errMsg, deviceKey }`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevDevice {
    pub err_code: u32,
    pub err_msg: String,
    pub device_key: String,
}

/// `{ errCode, errMsg: '<api>:fail <reason>', code }` (HTTP 200 for rule errors, 401 for 3008).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginError {
    pub err_code: u32,
    pub err_msg: String,
    pub code: String,
}

/// A parent session for `openId` (what `session mint` prints).
#[utoipa::path(post, path = "/v1/dev/session", tag = "dev",
    request_body = DevSessionRequest,
    responses(
        (status = 200, description = "a session, or an error (1004, 20)", body = DevSession),
        (status = 404, description = "without --dev", body = PluginError),
    ))]
pub async fn session(State(state): State<AppState>, body: RawBody) -> Response {
    const API: &str = "devSession";
    let parsed = json::parse_body(&body.0).and_then(|v| {
        input::args(API, &v)?;
        OpenId::from_value("openId", v.get("openId"))
    });
    let open_id = match parsed {
        Ok(o) => o,
        Err(e) => return plugin_error(API, &e),
    };
    let now = state.now_ms() / 1000;
    let ttl = crate::session::DEFAULT_TTL_SECS;
    let session = state.sessions.mint(&open_id, now, now + ttl);
    json_response(
        StatusCode::OK,
        &json!({ "errCode": 0, "errMsg": format!("{API}:ok"), "session": session, "expiresIn": ttl }),
    )
}

/// A new device and its key (what `device add` prints).
#[utoipa::path(post, path = "/v1/dev/device", tag = "dev",
    request_body = DevDeviceRequest,
    responses(
        (status = 200, description = "the device key, or an error (1004)", body = DevDevice),
        (status = 404, description = "without --dev", body = PluginError),
    ))]
pub async fn device(State(state): State<AppState>, body: RawBody) -> Response {
    const API: &str = "devDevice";
    let parsed = json::parse_body(&body.0).and_then(|v| {
        input::args(API, &v)?;
        Ok(input::string("name", v.get("name"))?.to_owned())
    });
    let name = match parsed {
        Ok(n) => n,
        Err(e) => return plugin_error(API, &e),
    };
    let now = state.now_ms();
    match state.db.write(move |c| devices::add(c, &name, now)).await {
        Ok(key) => json_response(
            StatusCode::OK,
            &json!({ "errCode": 0, "errMsg": format!("{API}:ok"), "deviceKey": key }),
        ),
        Err(e) => plugin_error(API, &e.to_core()),
    }
}
