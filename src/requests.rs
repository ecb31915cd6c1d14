//! Which fields each request reads. Bindings convert only these from a host's argument object
//! (a JS object, a JSON body) and never walk the rest, so an argument's cost is bounded by what
//! the API uses, whatever else the host put in it. The typed requests below (and
//! `call::check_request` for `initByCaller`) are the parsers that read them, shared by every
//! backend; every field a parser reads must be listed here.

use crate::errors::{Error, Result};
use crate::ids::{self, OpenId, UserId};
use crate::input::{self, Value};
use crate::share::ShareQuery;

/// `initByCaller`'s request and its parser (with the API level, `compatVersion`, it checks).
pub use crate::call::{check_request as init_by_caller, CallRequest};

/// `bindVoipAdminContact`, `resetStudent`, `issueVoipToken`, `getVoipBindContactList`.
pub const USER_ID: &[&str] = &["userId"];
/// `getBindContactPath`.
pub const SHARE_PATH: &[&str] = &["userId", "userName", "userAvatar"];
/// `deleteVoipBindContact`.
pub const DELETE: &[&str] = &["userId", "openidList"];
/// `transerAdmin`.
pub const TRANSFER: &[&str] = &["userId", "newAdminOpenid"];
/// The developer query `getVoipContactList` (the seed's field name).
pub const CONTACT_LIST: &[&str] = &["user_id"];
/// `getVoipCallList` (the developer query's field names).
pub const CALL_LIST: &[&str] = &["user_id", "begin_time", "end_time"];
/// `initByCaller` (`caller` and `listener` are small objects read whole, within the budget).
pub const INIT_BY_CALLER: &[&str] = &[
    "roomType",
    "caller",
    "listener",
    "businessType",
    "voipToken",
    "customQuery",
    "timeLimit",
    "miniprogramState",
];
/// The contact service's `POST /v1/session/wx` (a `wx.login` code to exchange for a session).
pub const WX_LOGIN: &[&str] = &["code"];
/// `createLocalBackend` options the core reads (the shim adds its own: storage, now, …).
pub const BACKEND_OPTIONS: &[&str] = &[
    "maxContacts",
    "ticketTtlMs",
    "voipTokenTtlMs",
    "pluginAppId",
    "pathPrefix",
    "ringTimeoutMs",
];

/// `answerVoip` / `rejectVoip`: `{ roomId }`.
pub const CALL_ROOM: &[&str] = &["roomId"];

// ---- typed requests ----------------------------------------------------------------------------
//
// Each API's argument object parsed into what its operation reads, with the messages both
// backends give (the local backend parses a JS object, the contact service a JSON body, both as
// `input::Value`). Identity is never part of a request: it is the instance's openId locally and
// the session on the service. Inlined into their one caller each (see `ops`).

/// The argument object of `api`, and its userId `field`.
fn student(api: &str, field: &str, v: &Value) -> Result<UserId> {
    UserId::from_value(field, input::args(api, v)?.get(field))
}

/// `bindVoipAdminContact({ userId })`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindAdminReq {
    pub user_id: UserId,
}

impl BindAdminReq {
    #[inline(always)]
    pub fn parse(v: &Value) -> Result<Self> {
        Ok(BindAdminReq {
            user_id: student("bindVoipAdminContact", "userId", v)?,
        })
    }
}

/// `getBindContactPath({ userId, userName, userAvatar })`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareReq {
    pub user_id: UserId,
    pub user_name: String,
    /// Empty when absent.
    pub user_avatar: String,
}

impl ShareReq {
    #[inline(always)]
    pub fn parse(v: &Value) -> Result<Self> {
        let args = input::args("getBindContactPath", v)?;
        let user_id = UserId::from_value("userId", args.get("userId"))?;
        let user_name =
            ids::user_name("userName", input::string("userName", args.get("userName"))?)?;
        let user_avatar = match input::opt_string("userAvatar", args.get("userAvatar"))? {
            Some(a) => ids::user_avatar("userAvatar", a)?,
            None => String::new(),
        };
        Ok(ShareReq {
            user_id,
            user_name,
            user_avatar,
        })
    }
}

/// `getVoipBindContactList()` or `getVoipBindContactList({ userId })`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListReq {
    /// `None`: every student the user is a contact of.
    pub user_id: Option<UserId>,
}

impl ListReq {
    #[inline(always)]
    pub fn parse(v: &Value) -> Result<Self> {
        let user_id = match v {
            Value::Missing => None,
            a => match input::args("getVoipBindContactList", a)?.get("userId") {
                Value::Missing => None,
                v => Some(UserId::from_value("userId", v)?),
            },
        };
        Ok(ListReq { user_id })
    }
}

/// `deleteVoipBindContact({ userId, openidList })` (duplicates dropped, first kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteReq {
    pub user_id: UserId,
    pub openid_list: Vec<OpenId>,
}

impl DeleteReq {
    #[inline(always)]
    pub fn parse(v: &Value) -> Result<Self> {
        let args = input::args("deleteVoipBindContact", v)?;
        Ok(DeleteReq {
            user_id: UserId::from_value("userId", args.get("userId"))?,
            openid_list: ids::openid_list("openidList", args.get("openidList"))?,
        })
    }
}

/// `transerAdmin({ userId, newAdminOpenid })`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferReq {
    pub user_id: UserId,
    pub new_admin: OpenId,
}

impl TransferReq {
    #[inline(always)]
    pub fn parse(v: &Value) -> Result<Self> {
        let args = input::args("transerAdmin", v)?;
        Ok(TransferReq {
            user_id: UserId::from_value("userId", args.get("userId"))?,
            new_admin: OpenId::from_value("newAdminOpenid", args.get("newAdminOpenid"))?,
        })
    }
}

/// `issueVoipToken({ userId })` (the face-scan stand-in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenReq {
    pub user_id: UserId,
}

impl TokenReq {
    #[inline(always)]
    pub fn parse(v: &Value) -> Result<Self> {
        Ok(TokenReq {
            user_id: student("issueVoipToken", "userId", v)?,
        })
    }
}

/// `answerVoip({ roomId })` / `rejectVoip({ roomId })`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomReq {
    pub room_id: String,
}

impl RoomReq {
    #[inline(always)]
    pub fn parse(api: &str, v: &Value) -> Result<Self> {
        let room_id = input::string("roomId", input::args(api, v)?.get("roomId"))?;
        Ok(RoomReq {
            room_id: room_id.to_owned(),
        })
    }
}

/// `forceHangUpVoip(roomId?)`: the roomId, if given (a string).
#[inline(always)]
pub fn hang_up_room(v: &Value) -> Result<Option<String>> {
    Ok(input::opt_string("roomId", v)?.map(str::to_owned))
}

/// `resetStudent({ userId })` (the service's `resetvoipcontact` reads `user_id` into the same).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResetReq {
    pub user_id: UserId,
}

impl ResetReq {
    #[inline(always)]
    pub fn parse(v: &Value) -> Result<Self> {
        Ok(ResetReq {
            user_id: student("resetStudent", "userId", v)?,
        })
    }
}

/// The developer query `getVoipContactList({ user_id })`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactListReq {
    pub user_id: UserId,
}

impl ContactListReq {
    #[inline(always)]
    pub fn parse(v: &Value) -> Result<Self> {
        Ok(ContactListReq {
            user_id: student("getVoipContactList", "user_id", v)?,
        })
    }
}

/// Longest `wx.login` code accepted (WeChat's are 32 characters; the rest is headroom).
pub const WX_LOGIN_CODE_MAX_BYTES: usize = 128;

/// `POST /v1/session/wx { code }`: the code `wx.login` gave the Mini Program, 1–128 visible
/// ASCII characters (it is sent on to WeChat's `jscode2session` as a query parameter).
#[derive(Clone, PartialEq, Eq)]
pub struct WxLoginReq {
    pub code: String,
}

impl core::fmt::Debug for WxLoginReq {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // A login code is a one-time credential: never in logs.
        f.write_str("WxLoginReq { code: <redacted> }")
    }
}

impl WxLoginReq {
    pub fn parse(v: &Value) -> Result<Self> {
        let code = input::string("code", input::args("sessionWx", v)?.get("code"))?;
        let ok = !code.is_empty()
            && code.len() <= WX_LOGIN_CODE_MAX_BYTES
            && code.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            // The code itself is not echoed: it is a credential.
            return Err(Error::invalid_argument(crate::cat!(
                "code must be the wx.login code: 1–",
                crate::input::whole(WX_LOGIN_CODE_MAX_BYTES as u64),
                " visible ASCII characters, got ",
                crate::input::whole(code.len() as u64),
                " bytes"
            )));
        }
        Ok(WxLoginReq {
            code: code.to_owned(),
        })
    }
}

/// The argument of the bind-page APIs (inspect, accept, decline): a share path, or the query
/// object the page got.
pub fn share_query(v: &Value) -> Result<ShareQuery> {
    match v {
        Value::Str(path) => Ok(ShareQuery::from_path(path)),
        Value::Object(props) => Ok(ShareQuery {
            page_ok: true,
            params: props
                .iter()
                .filter_map(|(k, v)| match v {
                    Value::Str(s) => Some((k.clone(), s.clone())),
                    _ => None,
                })
                .collect(),
        }),
        other => Err(Error::invalid_argument(crate::cat!(
            "path must be a share path string or the bind page's query object, got ",
            other.describe()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn wx_login_code() {
        let ok = WxLoginReq::parse(&Value::object([("code", Value::str("0a1B2c3D"))])).unwrap();
        assert_eq!(ok.code, "0a1B2c3D");
        assert!(!format!("{ok:?}").contains("0a1B"));
        let long = "x".repeat(WX_LOGIN_CODE_MAX_BYTES + 1);
        for bad in [
            Value::Missing,
            Value::str("code"),
            Value::object([]),
            Value::object([("code", Value::Null)]),
            Value::object([("code", Value::Num(1.0))]),
            Value::object([("code", Value::str(""))]),
            Value::object([("code", Value::str("a b"))]),
            Value::object([("code", Value::str("é"))]),
            Value::object([("code", Value::str(&long))]),
        ] {
            let e = WxLoginReq::parse(&bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArgument, "{bad:?}");
        }
        let max = "y".repeat(WX_LOGIN_CODE_MAX_BYTES);
        assert!(WxLoginReq::parse(&Value::object([("code", Value::str(&max))])).is_ok());
    }
}
