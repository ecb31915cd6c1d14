//! The OpenAPI side of the plugin interface (`/v1/<api>`) and the developer contact endpoints
//! (`/wxa/business/*`): the body and reply schemas their `#[utoipa::path]` entries name, and the
//! security schemes (a parent's session, a device key, the developer access token).
//!
//! These types describe the JSON the handlers write; they are not used to write it (the
//! handlers build it from the core's results), so a handler that changes its reply changes its
//! schema here too. Limits and rules are the core's and are only named in descriptions.

use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, ToSchema};

/// Adds the security schemes to the document: `session` (Bearer), `device` (`Authorization:
/// Device <key>`), `access_token` and `cloudbase_access_token` (query), the names the path
/// entries' `security(…)` use.
pub struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("v1.<kid>.<openId>.<iat>.<exp>.<mac>")
                    .description(Some(
                        "A parent's session: `Authorization: Bearer <session>` (from `session mint`, the Node helper `mintSession`, `POST /v1/session/wx` or, with --dev, `POST /v1/dev/session`). Refused: 401 + 3008.",
                    ))
                    .build(),
            ),
        );
        c.add_security_scheme(
            "device",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "A face-pay device: `Authorization: Device <key>` (the `cvd1.…` key `device add` prints). Refused: 401 + 3008.",
            ))),
        );
        c.add_security_scheme(
            "access_token",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "access_token",
                "The developer interface's token from /cgi-bin/token or /cgi-bin/stable_token. Refused with HTTP 200: 41001, 40001, 42001.",
            ))),
        );
        c.add_security_scheme(
            "cloudbase_access_token",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "cloudbase_access_token",
                "The same token under the name cloud functions use (access_token is read first).",
            ))),
        );
    }
}

// ---- /v1 request bodies -------------------------------------------------------------------------

/// `{}` or an empty body (the API takes no argument).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct NoArgs {}

/// `{ userId }`: 1–128 UTF-8 bytes, no control characters.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserIdArgs {
    pub user_id: String,
}

/// `{ userId? }`: every student of the parent, or one.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListArgs {
    #[serde(default)]
    pub user_id: Option<String>,
}

/// `{ userId, userName, userAvatar? }`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SharePathArgs {
    pub user_id: String,
    /// 1–64 characters, no control characters.
    pub user_name: String,
    /// Empty, or an `https:`, `http:`, `cloud:` or `wxfile:` URL of at most 1024 bytes.
    #[serde(default)]
    pub user_avatar: Option<String>,
}

/// `{ userId, openidList }`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteArgs {
    pub user_id: String,
    /// 1–100 openIds; duplicates are ignored.
    pub openid_list: Vec<String>,
}

/// `{ userId, newAdminOpenid }`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransferArgs {
    pub user_id: String,
    pub new_admin_openid: String,
}

/// The share path string, or the query object the bind page got.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SharePath {
    Path(String),
    Query(std::collections::BTreeMap<String, String>),
}

/// `{ path }` (the bind-page APIs).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct PathArgs {
    pub path: SharePath,
}

/// One side of a call.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallParty {
    /// The caller: the student's userId; the listener: the parent's openId.
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// 0 or 1.
    #[serde(default)]
    pub camera_status: Option<u8>,
}

/// `initByCaller`'s request object (the real plugin's extra fields are accepted and ignored).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitByCallerArgs {
    /// `voice` or `video`.
    pub room_type: String,
    pub caller: CallParty,
    pub listener: CallParty,
    /// 0, 1, 2 or 3 (3: license charging).
    #[serde(default)]
    pub business_type: Option<u8>,
    /// From `issueVoipToken`: single use, 5 minutes.
    pub voip_token: String,
    #[serde(default)]
    pub custom_query: Option<String>,
    /// Seconds, > 0.
    #[serde(default)]
    pub time_limit: Option<f64>,
    #[serde(default)]
    pub miniprogram_state: Option<String>,
}

// ---- /v1 results ---------------------------------------------------------------------------------

/// `{ errCode: 0, errMsg: '<api>:ok', result }`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct V1Ok<T> {
    pub err_code: u32,
    pub err_msg: String,
    pub result: T,
}

/// `{}`
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Empty {}

/// `{ granted }`
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Consent {
    pub granted: bool,
}

/// `{ userId }`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Student {
    pub user_id: String,
}

/// One student of the parent.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct BindListEntry {
    pub user_id: String,
    /// The parent is the student's administrator.
    pub is_ad: bool,
    pub openid_list: Vec<String>,
}

/// `{ userId, deleted }`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub user_id: String,
    pub deleted: Vec<String>,
}

/// `{ userId, adminOpenid }`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Transferred {
    pub user_id: String,
    pub admin_openid: String,
}

/// What the bind page shows for a link.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Inspected {
    pub user_id: String,
    pub user_name: String,
    pub user_avatar: String,
    /// `ready`, or the outcome the link would have (`binded`, `expire`, `invalid`, `overload`, …).
    pub status: String,
    pub err_msg: String,
    /// Unix milliseconds, for a valid link.
    #[serde(default)]
    pub expires_at: Option<u64>,
    pub query: std::collections::BTreeMap<String, String>,
}

/// A bind outcome (the page's event).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BindEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub err_msg: String,
    pub user_id: String,
    pub query: std::collections::BTreeMap<String, String>,
}

/// `{ isSuccess: true, roomId, chargeType }` or `{ isSuccess: false, errCode, code, message }`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallAdmission {
    pub is_success: bool,
    #[serde(default)]
    pub room_id: Option<String>,
    /// `duration` or `license`.
    #[serde(default)]
    pub charge_type: Option<String>,
    /// Why the call was refused (4, 8, 9): the core's error table.
    #[serde(default)]
    pub err_code: Option<u32>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

// ---- /wxa/business ---------------------------------------------------------------------------------

/// `{ user_id }`
#[derive(Serialize, Deserialize, ToSchema)]
pub struct UserIdBody {
    pub user_id: String,
}

/// One contact.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ContactInfo {
    pub open_id: String,
    /// 1: administrator, 0: ordinary.
    pub role: u8,
}

/// The seed's reply: errcode 0 with the contacts (administrator first), or 1 `user has no contact
/// list` with an empty list.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ContactList {
    pub errcode: i64,
    pub errmsg: String,
    pub contact_list: Vec<ContactInfo>,
}

/// `{ errcode: 0, errmsg: 'ok', removed }`
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Reset {
    pub errcode: i64,
    pub errmsg: String,
    /// False when the student had no contacts.
    pub removed: bool,
}

// ---- calls (SPEC §3.7) ---------------------------------------------------------------------

/// `{ roomId }`
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomIdBody {
    pub room_id: String,
}

/// `{ roomId, data }` **[ours]**: `data`, any JSON object (at most 16 KiB), for the other side.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RtcSignalBody {
    pub room_id: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// `{ roomId? }` (absent: the caller's current call)
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomIdOptional {
    pub room_id: Option<String>,
}

/// One call event: `{ eventName, data }`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallEvent {
    pub event_name: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// One message of the stream: a call's events for the caller, in order.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallMessage {
    /// The event id (SSE `id:`; resume after it with Last-Event-ID or ?after=).
    pub id: i64,
    pub room_id: String,
    /// The service's time of the change (ms).
    pub at: u64,
    pub events: Vec<CallEvent>,
}

/// `?poll=`'s answer (SSE sends the same messages one by one).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallEvents {
    pub err_code: i64,
    pub err_msg: String,
    pub last_event_id: i64,
    pub messages: Vec<CallMessage>,
}

/// `/v1/dev/tick`'s result.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct DevTick {
    pub changed: u64,
}

/// `{ user_id, begin_time?, end_time? }` (Unix seconds, inclusive)
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CallListBody {
    pub user_id: String,
    pub begin_time: Option<u64>,
    pub end_time: Option<u64>,
}

/// One ended call.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CallRecordInfo {
    pub room_id: String,
    pub user_id: String,
    pub open_id: String,
    pub business_type: u8,
    /// `duration` (businessType 0) or `license` (3).
    pub charge_type: String,
    pub rang_at_ms: u64,
    pub connected_at_ms: Option<u64>,
    pub ended_at_ms: u64,
    pub keep_time_ms: u64,
    /// What finishVoip reported: every started minute for businessType 0, exact for 3.
    pub billed_time_ms: u64,
    /// busy, rejected, cancelled, timeout, endByCaller, endByListener, timeLimit,
    /// abortByCaller, abortByListener
    pub ending: String,
}

/// `{ errcode: 0, errmsg: 'ok', call_list }`, in the order the calls ended.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct CallList {
    pub errcode: i64,
    pub errmsg: String,
    pub call_list: Vec<CallRecordInfo>,
}
