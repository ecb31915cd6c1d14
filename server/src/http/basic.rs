//! `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.

use super::docs::SecuritySchemes;
use super::errors::json_response;
use super::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::OnceLock;
use utoipa::{OpenApi, ToSchema};

/// `{ status }`
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, `ready` or `unavailable`
    pub status: String,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "up", body = Health)))]
pub async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({ "status": "ok" }))
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "the database answers", body = Health),
        (status = 503, description = "the database does not answer", body = Health),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => json_response(StatusCode::OK, &json!({ "status": "ready" })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({ "status": "unavailable" }),
            )
        }
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut res = state.metrics.render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

/// This document (OpenAPI 3.1, generated from the handlers).
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 JSON")))]
pub async fn openapi() -> Response {
    static DOC: OnceLock<String> = OnceLock::new();
    let text = DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the OpenAPI document serialises")
    });
    let mut res = text.clone().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

#[derive(OpenApi)]
#[openapi(
    info(title = "campus-voip contact service", description = "SPEC §7: the WeChat-compatible developer interface, the plugin interface (/v1), operations."),
    paths(
        healthz,
        readyz,
        metrics,
        openapi,
        super::wechat::token,
        super::wechat::stable_token,
        super::session_wx::exchange,
        super::v1::authorize_voip,
        super::v1::revoke_voip,
        super::v1::get_voip_consent,
        super::v1::bind_voip_admin_contact,
        super::v1::get_bind_contact_path,
        super::v1::get_voip_bind_contact_list,
        super::v1::delete_voip_bind_contact,
        super::v1::transer_admin,
        super::v1::inspect_bind_contact_path,
        super::v1::accept_bind_contact_path,
        super::v1::decline_bind_contact_path,
        super::v1::issue_voip_token,
        super::v1::init_by_caller,
        super::calls::answer_voip,
        super::calls::reject_voip,
        super::calls::force_hang_up_voip,
        super::calls::rtc_signal,
        super::calls::events,
        super::calls::dev_tick,
        super::business::get_voip_contact_list,
        super::business::reset_voip_contact,
        super::business::get_voip_call_list,
        super::dev::session,
        super::dev::device,
        super::dev::clock,
        super::dev::stats,
    ),
    modifiers(&SecuritySchemes),
    components(schemas(
        Health,
        super::wechat::AccessToken,
        super::wechat::WxError,
        super::wechat::StableTokenRequest,
        super::session_wx::WxLoginRequest,
        super::session_wx::WxSessionResult,
        super::session_wx::WxSessionReply,
        super::session_wx::WxLoginRefused,
        super::dev::DevSessionRequest,
        super::dev::DevSession,
        super::dev::DevDeviceRequest,
        super::dev::DevDevice,
        super::dev::DevClockRequest,
        super::dev::DevClockReply,
        super::dev::DevStatsRequest,
        super::dev::DevStats,
        super::dev::PluginError,
    )),
    tags(
        (name = "developer", description = "WeChat-compatible: HTTP 200 and { errcode, errmsg } for every outcome (/cgi-bin/token, /cgi-bin/stable_token, /wxa/business/*)"),
        (name = "plugin", description = "the plugin interface (/v1): { errCode, errMsg, … }, 401 + 3008 for a refused credential"),
        (name = "dev", description = "only with --dev"),
        (name = "operations", description = "health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;
