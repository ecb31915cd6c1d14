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

/// `{ advanceMs?, freeze? }`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevClockRequest {
    /// How far to move the service's clock forward (ms; whole, `0..2^48`; default 0).
    pub advance_ms: Option<u64>,
    /// `true`: the clock stands still from now on and moves only by `advanceMs`; `false`: it
    /// runs again from where it stands. Absent: as it was.
    pub freeze: Option<bool>,
}

/// `{ errCode: 0, errMsg, now }`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevClockReply {
    pub err_code: u32,
    pub err_msg: String,
    /// The service's clock after the move (ms since the epoch).
    pub now: u64,
    /// The time operations act at: `now`, or up to the lease margin (10 s) later after a start
    /// (a replica starts at the lease another one stored, until its clock passes it).
    pub ops_now: u64,
}

/// Moves the service's clock forward, or freezes it (tests and the demo let lifetimes run out
/// without waiting). Time never goes back; the operations clock follows at the next request.
#[utoipa::path(post, path = "/v1/dev/clock", tag = "dev",
    request_body = DevClockRequest,
    responses(
        (status = 200, description = "the clock after the move, or an error (1004, 1011)", body = DevClockReply),
        (status = 404, description = "without --dev", body = PluginError),
    ))]
pub async fn clock(State(state): State<AppState>, body: RawBody) -> Response {
    const API: &str = "devClock";
    let parsed = json::parse_body(&body.0).and_then(|v| {
        input::args(API, &v)?;
        let ms = match input::opt_number("advanceMs", v.get("advanceMs"))? {
            Some(n) => input::millis("advanceMs", n)?,
            None => 0,
        };
        let freeze = match v.get("freeze") {
            input::Value::Missing => None,
            input::Value::Bool(b) => Some(*b),
            other => {
                return Err(campus_voip::Error::invalid_argument(format!(
                    "freeze must be a boolean, got {}",
                    other.describe()
                )))
            }
        };
        Ok((ms, freeze))
    });
    let (ms, freeze) = match parsed {
        Ok(p) => p,
        Err(e) => return plugin_error(API, &e),
    };
    match state.clock.control(ms, freeze) {
        Some(now) => {
            // The operations act at the new time from the next request on.
            state.core.renew_lease(&state.db).await;
            state.hub.wake_sweeper();
            // `opsNow`: the time operations act at. It can stand ahead of `now` for up to the
            // lease margin after a start (a replica starts at the lease another one stored).
            let ops_now = state.core.now(&state.db).await;
            json_response(
                StatusCode::OK,
                &json!({ "errCode": 0, "errMsg": format!("{API}:ok"), "now": now, "opsNow": ops_now }),
            )
        }
        None => plugin_error(
            API,
            &campus_voip::Error::new(
                campus_voip::errors::ErrorCode::NotSupported,
                "this service's clock is the wall clock".to_owned(),
            ),
        ),
    }
}

/// `{}` (nothing is read).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct DevStatsRequest {}

/// `{ errCode: 0, errMsg, students, contacts }`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevStats {
    pub err_code: u32,
    pub err_msg: String,
    /// Students with at least one contact.
    pub students: u64,
    pub contacts: u64,
}

/// How many students have contacts and how many contacts there are (the local backend's
/// `stats()`, for test suites that check that a refused call changed nothing).
#[utoipa::path(post, path = "/v1/dev/stats", tag = "dev",
    request_body = DevStatsRequest,
    responses(
        (status = 200, description = "the counts", body = DevStats),
        (status = 404, description = "without --dev", body = PluginError),
    ))]
pub async fn stats(State(state): State<AppState>) -> Response {
    const API: &str = "devStats";
    let counts = state
        .db
        .read(|c| {
            let r = c.one(
                "SELECT COUNT(DISTINCT user_id), COUNT(*) FROM contacts",
                &[],
            )?;
            Ok((r.int(0)?, r.int(1)?))
        })
        .await;
    match counts {
        Ok((students, contacts)) => json_response(
            StatusCode::OK,
            &json!({ "errCode": 0, "errMsg": format!("{API}:ok"), "students": students, "contacts": contacts }),
        ),
        Err(e) => plugin_error(API, &e.to_core()),
    }
}
