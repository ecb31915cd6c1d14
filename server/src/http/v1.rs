//! The plugin interface: `POST /v1/<api>`, one endpoint per operation of the local backend.
//!
//! - Parents: `Authorization: Bearer <session>`; the identity is the session's openId, never
//!   anything in the body. Devices (`issueVoipToken`, `initByCaller`): `Authorization: Device
//!   <key>`.
//! - The body is the API's argument object as JSON, read as JSON whatever the Content-Type
//!   (`{}` or empty when the API takes none; the bind-page APIs take `{ "path": <share path
//!   or the page's query object> }`), converted with the core's limits ([`json::parse_body`])
//!   and parsed by `campus_voip::requests`, so every message is the local backend's.
//! - HTTP 200 `{ errCode: 0, errMsg: '<api>:ok', result }` with `result` what the local
//!   backend resolves (without its own `errCode`/`errMsg` when it resolves an `ok(…)` object);
//!   HTTP 200 `{ errCode, errMsg: '<api>:fail <message>', code }` for rule errors and bad
//!   arguments; 401 + 3008 for a missing or refused credential.
//! - Mutations run in one `db.write` job (the writer's transaction, a savepoint each), reads in
//!   one `db.read` snapshot.

use super::dev::PluginError;
use super::docs::*;
use super::errors::{json_response, plugin_error};
use super::extract::{DeviceCaller, Parent, RawBody};
use super::AppState;
use crate::db::DbError;
use crate::json;
use crate::repo::SqlRepo;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use campus_voip::call::Version;
use campus_voip::ids::OpenId;
use campus_voip::input::{self, Value};
use campus_voip::ops::{self, CallOutcome, Ctx};
use campus_voip::repo::{Party, ReadFirst, ReadRepo};
use campus_voip::requests::{
    self, BindAdminReq, DeleteReq, ListReq, ShareReq, TokenReq, TransferReq,
};
use campus_voip::share::BindType;
use campus_voip::{Error, Result};
use serde_json::{json, Map, Value as Json};

/// The failure replies every `/v1` entry documents.
pub const ERRORS: &str = "HTTP 200 for rule errors and bad arguments (the core's error table); 401 + 3008 for a missing or refused credential; 408 / 413 / 503 + 1002 and 404 / 405 + 1004 for transport failures";

/// The header carrying the caller's API level for `initByCaller` (default: the plugin's).
pub const COMPAT_HEADER: &str = "x-compat-version";

/// Every `/v1` operation endpoint.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/authorizeVoip", post(authorize_voip))
        .route("/v1/revokeVoip", post(revoke_voip))
        .route("/v1/getVoipConsent", post(get_voip_consent))
        .route("/v1/bindVoipAdminContact", post(bind_voip_admin_contact))
        .route("/v1/getBindContactPath", post(get_bind_contact_path))
        .route(
            "/v1/getVoipBindContactList",
            post(get_voip_bind_contact_list),
        )
        .route("/v1/deleteVoipBindContact", post(delete_voip_bind_contact))
        .route("/v1/transerAdmin", post(transer_admin))
        .route(
            "/v1/inspectBindContactPath",
            post(inspect_bind_contact_path),
        )
        .route("/v1/acceptBindContactPath", post(accept_bind_contact_path))
        .route(
            "/v1/declineBindContactPath",
            post(decline_bind_contact_path),
        )
        .route("/v1/issueVoipToken", post(issue_voip_token))
        .route("/v1/initByCaller", post(init_by_caller))
}

fn ok(api: &str, result: Json) -> Response {
    json_response(
        StatusCode::OK,
        &json!({ "errCode": 0, "errMsg": format!("{api}:ok"), "result": result }),
    )
}

pub fn reply(state: &AppState, api: &str, r: Result<Json>) -> Response {
    match r {
        Ok(v) => {
            state.metrics.outcome("plugin", "0");
            ok(api, v)
        }
        Err(e) => {
            if e.code == campus_voip::ErrorCode::Storage {
                tracing::error!(api, error = %e.message, "storage failure");
            }
            state.metrics.outcome("plugin", &e.err_code().to_string());
            plugin_error(api, &e)
        }
    }
}

/// The body as the core's value: `Missing` when empty (an API without arguments).
pub fn body_value(body: &[u8]) -> Result<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Missing);
    }
    json::parse_body(body)
}

/// The body of an API that takes an argument object (it must be one).
pub fn args_value(api: &str, body: &[u8]) -> Result<Value> {
    let v = json::parse_body(body)?;
    input::args(api, &v)?;
    Ok(v)
}

/// The `path` of a bind-page API's body.
pub fn path_value(api: &str, body: &[u8]) -> Result<campus_voip::share::ShareQuery> {
    let v = args_value(api, body)?;
    requests::share_query(v.get("path"))
}

/// Runs `f` over the database in one write job; its error rolls the job back. On PostgreSQL
/// `f` may run more than once (a transaction that did not serialize runs again).
pub async fn write<T, F>(state: &AppState, mut f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnMut(&mut SqlRepo<'_>, &mut Ctx<'_>) -> Result<T> + Send + 'static,
{
    let now = state.core.now(&state.db).await;
    let mut rng = state.core.rng();
    let st = state.clone();
    state
        .db
        .write(move |conn| {
            let mut repo = SqlRepo::new(conn, now);
            let mut ctx = Ctx {
                now,
                rng: &mut rng,
                secrets: &st.core.secrets,
                config: &st.core.config,
            };
            f(&mut repo, &mut ctx).map_err(DbError::Rule)
        })
        .await
        .map_err(|e| e.to_core())
}

/// Runs `f` over one read snapshot.
async fn read<T, F>(state: &AppState, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&SqlRepo<'_>, &mut Ctx<'_>) -> Result<T> + Send + 'static,
{
    let now = state.core.now(&state.db).await;
    let mut rng = state.core.rng();
    let st = state.clone();
    state
        .db
        .read(move |conn| {
            let repo = SqlRepo::new(conn, now);
            let mut ctx = Ctx {
                now,
                rng: &mut rng,
                secrets: &st.core.secrets,
                config: &st.core.config,
            };
            f(&repo, &mut ctx).map_err(DbError::Rule)
        })
        .await
        .map_err(|e| e.to_core())
}

fn query_json(q: &[(String, String)]) -> Json {
    Json::Object(
        q.iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

fn bind_event(e: &ops::BindEvent) -> Json {
    json!({
        "type": e.kind.as_str(),
        "errMsg": e.kind.err_msg(),
        "userId": e.user_id,
        "query": query_json(&e.query),
    })
}

async fn set_consent(
    state: AppState,
    api: &'static str,
    me: OpenId,
    body: RawBody,
    granted: bool,
) -> Response {
    let r = async {
        body_value(&body.0)?;
        write(&state, move |repo, _| ops::set_consent(repo, &me, granted)).await?;
        Ok(json!({}))
    }
    .await;
    reply(&state, api, r)
}

/// Grants VoIP consent (scope.voip) for the session's openId.
#[utoipa::path(post, path = "/v1/authorizeVoip", tag = "plugin",
    security(("session" = [])),
    request_body(content = NoArgs, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "success", body = V1Ok<Empty>),
        (status = "default", description = ERRORS, body = PluginError),
    ))]
pub async fn authorize_voip(
    State(state): State<AppState>,
    Parent(me): Parent,
    body: RawBody,
) -> Response {
    set_consent(state, "authorizeVoip", me, body, true).await
}

/// Withdraws the session's VoIP consent.
#[utoipa::path(post, path = "/v1/revokeVoip", tag = "plugin",
    security(("session" = [])),
    request_body(content = NoArgs, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "success", body = V1Ok<Empty>),
        (status = "default", description = ERRORS, body = PluginError),
    ))]
pub async fn revoke_voip(
    State(state): State<AppState>,
    Parent(me): Parent,
    body: RawBody,
) -> Response {
    set_consent(state, "revokeVoip", me, body, false).await
}

/// Whether the session's openId has granted VoIP consent.
#[utoipa::path(post, path = "/v1/getVoipConsent", tag = "plugin",
    security(("session" = [])),
    request_body(content = NoArgs, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "success", body = V1Ok<Consent>),
        (status = "default", description = ERRORS, body = PluginError),
    ))]
pub async fn get_voip_consent(
    State(state): State<AppState>,
    Parent(me): Parent,
    body: RawBody,
) -> Response {
    let r = async {
        body_value(&body.0)?;
        let granted = read(&state, move |repo, _| ops::consent(repo, &me)).await?;
        Ok(json!({ "granted": granted }))
    }
    .await;
    reply(&state, "getVoipConsent", r)
}

/// Binds the session's openId as the student's first contact, its administrator (3002 if another one exists).
#[utoipa::path(post, path = "/v1/bindVoipAdminContact", tag = "plugin",
    security(("session" = [])),
    request_body(content = UserIdArgs, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "success", body = V1Ok<Student>),
        (status = "default", description = ERRORS, body = PluginError),
    ))]
pub async fn bind_voip_admin_contact(
    State(state): State<AppState>,
    Parent(me): Parent,
    body: RawBody,
) -> Response {
    const API: &str = "bindVoipAdminContact";
    let r = async {
        let req = BindAdminReq::parse(&json::parse_body(&body.0)?)?;
        let id = write(&state, move |repo, ctx| {
            ops::bind_admin(repo, ctx, &me, req.clone())
        })
        .await?;
        Ok(json!({ "userId": id.as_str() }))
    }
    .await;
    reply(&state, API, r)
}

/// The administrator's share path for the bind-contact page (3001 if not the administrator).
#[utoipa::path(post, path = "/v1/getBindContactPath", tag = "plugin",
    security(("session" = [])),
    request_body(content = SharePathArgs, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "success", body = V1Ok<String>),
        (status = "default", description = ERRORS, body = PluginError),
    ))]
pub async fn get_bind_contact_path(
    State(state): State<AppState>,
    Parent(me): Parent,
    body: RawBody,
) -> Response {
    const API: &str = "getBindContactPath";
    let r = async {
        let req = ShareReq::parse(&json::parse_body(&body.0)?)?;
        let path = read(&state, move |repo, ctx| {
            ops::share_path(repo, ctx, &me, &req)
        })
        .await?;
        Ok(Json::String(path))
    }
    .await;
    reply(&state, API, r)
}

/// The session's students and their contacts.
#[utoipa::path(post, path = "/v1/getVoipBindContactList", tag = "plugin",
    security(("session" = [])),
    request_body(content = ListArgs, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "success", body = V1Ok<Vec<BindListEntry>>),
        (status = "default", description = ERRORS, body = PluginError),
    ))]
pub async fn get_voip_bind_contact_list(
    State(state): State<AppState>,
    Parent(me): Parent,
    body: RawBody,
) -> Response {
    const API: &str = "getVoipBindContactList";
    let r = async {
        let req = ListReq::parse(&body_value(&body.0)?)?;
        let list = read(&state, move |repo, _| ops::list(repo, &me, &req)).await?;
        Ok(Json::Array(
            list.iter()
                .map(|e| {
                    json!({
                        "user_id": e.user_id.as_str(),
                        "is_ad": e.is_ad,
                        "openid_list": e.openid_list.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
                    })
                })
                .collect(),
        ))
    }
    .await;
    reply(&state, API, r)
}

/// The administrator removes contacts (all or nothing; 3001, 3003, 3004).
#[utoipa::path(post, path = "/v1/deleteVoipBindContact", tag = "plugin",
    security(("session" = [])),
    request_body(content = DeleteArgs, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "success", body = V1Ok<Deleted>),
        (status = "default", description = ERRORS, body = PluginError),
    ))]
pub async fn delete_voip_bind_contact(
    State(state): State<AppState>,
    Parent(me): Parent,
    body: RawBody,
) -> Response {
    const API: &str = "deleteVoipBindContact";
    let r = async {
        let req = DeleteReq::parse(&json::parse_body(&body.0)?)?;
        let (id, deleted) = write(&state, move |repo, ctx| {
            ops::delete(repo, ctx, &me, req.clone())
        })
        .await?;
        Ok(json!({
            "userId": id.as_str(),
            "deleted": deleted.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
        }))
    }
    .await;
    reply(&state, API, r)
}

/// The administrator hands the role to another contact (the real plugin's spelling).
#[utoipa::path(post, path = "/v1/transerAdmin", tag = "plugin",
    security(("session" = [])),
    request_body(content = TransferArgs, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "success", body = V1Ok<Transferred>),
        (status = "default", description = ERRORS, body = PluginError),
    ))]
pub async fn transer_admin(
    State(state): State<AppState>,
    Parent(me): Parent,
    body: RawBody,
) -> Response {
    const API: &str = "transerAdmin";
    let r = async {
        let req = TransferReq::parse(&json::parse_body(&body.0)?)?;
        let (id, admin) = write(&state, move |repo, ctx| {
            ops::transfer(repo, ctx, &me, req.clone())
        })
        .await?;
        Ok(json!({ "userId": id.as_str(), "adminOpenid": admin.as_str() }))
    }
    .await;
    reply(&state, API, r)
}

/// What the bind page shows for a link, without binding.
#[utoipa::path(post, path = "/v1/inspectBindContactPath", tag = "plugin",
    security(("session" = [])),
    request_body(content = PathArgs, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "success", body = V1Ok<Inspected>),
        (status = "default", description = ERRORS, body = PluginError),
    ))]
pub async fn inspect_bind_contact_path(
    State(state): State<AppState>,
    Parent(me): Parent,
    body: RawBody,
) -> Response {
    const API: &str = "inspectBindContactPath";
    let r = async {
        let q = path_value(API, &body.0)?;
        let i = read(&state, move |repo, ctx| ops::inspect(repo, ctx, &me, q)).await?;
        let mut out = json!({
            "userId": i.view.user_id,
            "userName": i.view.user_name,
            "userAvatar": i.view.user_avatar,
            "status": i.status.map_or("ready", BindType::as_str),
            "errMsg": i.status.map_or("", BindType::err_msg),
        });
        if let Some(t) = i.expires_at {
            out["expiresAt"] = json!(t);
        }
        out["query"] = query_json(&i.query);
        Ok(out)
    }
    .await;
    reply(&state, API, r)
}

/// Binds the session's openId through a share link; the outcome is the page's event.
#[utoipa::path(post, path = "/v1/acceptBindContactPath", tag = "plugin",
    security(("session" = [])),
    request_body(content = PathArgs, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "success", body = V1Ok<BindEvent>),
        (status = "default", description = ERRORS, body = PluginError),
    ))]
pub async fn accept_bind_contact_path(
    State(state): State<AppState>,
    Parent(me): Parent,
    body: RawBody,
) -> Response {
    const API: &str = "acceptBindContactPath";
    let r = async {
        let q = path_value(API, &body.0)?;
        // Answered from a read snapshot when it changes nothing (invalid, expire, overload,
        // binded, a refusal): a retried or refused accept takes no writer slot. Otherwise the
        // write path decides again in its transaction.
        let (me2, q2) = (me.clone(), q.clone());
        let first = read(&state, move |repo, ctx| {
            let mut first = ReadFirst::new(repo);
            match ops::accept(&mut first, ctx, &me2, q2) {
                Err(_) if first.wanted_write() => Ok(None),
                answered => answered.map(Some),
            }
        })
        .await?;
        let e = match first {
            Some(e) => e,
            None => {
                write(&state, move |repo, ctx| {
                    ops::accept(repo, ctx, &me, q.clone())
                })
                .await?
            }
        };
        Ok(bind_event(&e))
    }
    .await;
    reply(&state, API, r)
}

/// Declines a share link (changes nothing).
#[utoipa::path(post, path = "/v1/declineBindContactPath", tag = "plugin",
    security(("session" = [])),
    request_body(content = PathArgs, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "success", body = V1Ok<BindEvent>),
        (status = "default", description = ERRORS, body = PluginError),
    ))]
pub async fn decline_bind_contact_path(
    State(state): State<AppState>,
    Parent(_me): Parent,
    body: RawBody,
) -> Response {
    const API: &str = "declineBindContactPath";
    let r = path_value(API, &body.0).map(|q| bind_event(&ops::decline(&state.core.secrets, q)));
    reply(&state, API, r)
}

/// A face-pay voipToken for the student (single use, 5 minutes): the face-scan stand-in.
#[utoipa::path(post, path = "/v1/issueVoipToken", tag = "plugin",
    security(("device" = [])),
    request_body(content = UserIdArgs, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "success", body = V1Ok<String>),
        (status = "default", description = ERRORS, body = PluginError),
    ))]
pub async fn issue_voip_token(
    State(state): State<AppState>,
    DeviceCaller(_device): DeviceCaller,
    body: RawBody,
) -> Response {
    const API: &str = "issueVoipToken";
    let r = async {
        let req = TokenReq::parse(&json::parse_body(&body.0)?)?;
        let now = state.core.now(&state.db).await;
        let mut rng = state.core.rng();
        let mut ctx = Ctx {
            now,
            rng: &mut rng,
            secrets: &state.core.secrets,
            config: &state.core.config,
        };
        Ok(Json::String(ops::issue_voip_token(&mut ctx, &req)))
    }
    .await;
    reply(&state, API, r)
}

fn compat_version(headers: &HeaderMap) -> Result<Version> {
    match headers.get(COMPAT_HEADER) {
        None => Version::parse("compatVersion", campus_voip::PLUGIN_VERSION),
        Some(v) => Version::parse(
            "compatVersion",
            v.to_str()
                .map_err(|_| Error::invalid_argument("compatVersion must be ASCII"))?,
        ),
    }
}

/// Call admission: token, consent, contact (the token is used up by an admitted call).
#[utoipa::path(post, path = "/v1/initByCaller", tag = "plugin",
    security(("device" = [])),
    params(("x-compat-version" = Option<String>, Header, description = "the caller's API level (default the plugin's, 2.4.0)")),
    request_body(content = InitByCallerArgs, description = "JSON, whatever the Content-Type"),
    responses(
        (status = 200, description = "success", body = V1Ok<CallAdmission>),
        (status = "default", description = ERRORS, body = PluginError),
    ))]
pub async fn init_by_caller(
    State(state): State<AppState>,
    DeviceCaller(device): DeviceCaller,
    headers: HeaderMap,
    body: RawBody,
) -> Response {
    const API: &str = "initByCaller";
    let r = async {
        let compat = compat_version(&headers)?;
        let req = requests::init_by_caller(&json::parse_body(&body.0)?, compat)?;
        let outcome = crate::calls::write_calls(&state, move |repo, ctx, out| {
            // A call of this device whose deadline passed ends first, in this transaction (as
            // the local backend ticks before admitting): the sweeper may not have run yet.
            let live: Vec<String> = repo
                .live_calls(Party::Device(&device))?
                .iter()
                .map(|c| c.room_id.clone())
                .collect();
            for room in live {
                if let Some(d) = ops::tick_call(repo, ctx, &room)? {
                    if !d.step.caller.is_empty() || !d.step.listener.is_empty() {
                        out.push(d);
                    }
                }
            }
            let outcome = ops::admit_call(repo, ctx, &device, &req)?;
            if let CallOutcome::Admitted(d) = &outcome {
                out.push((**d).clone());
            }
            Ok(outcome)
        })
        .await?;
        Ok(match outcome {
            CallOutcome::Admitted(d) => json!({
                "isSuccess": true,
                "roomId": d.call.room_id,
                "chargeType": d.call.charge_type().as_str(),
            }),
            CallOutcome::Refused(e) => json!({
                "isSuccess": false,
                "errCode": e.err_code(),
                "code": e.code.name(),
                "message": e.message,
            }),
        })
    }
    .await;
    reply(&state, API, r)
}
