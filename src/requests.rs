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
/// `createLocalBackend` options the core reads (the shim adds its own: storage, now, …).
pub const BACKEND_OPTIONS: &[&str] = &[
    "maxContacts",
    "ticketTtlMs",
    "voipTokenTtlMs",
    "pluginAppId",
    "pathPrefix",
];

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
        other => Err(Error::invalid_argument(format!(
            "path must be a share path string or the bind page's query object, got {}",
            other.describe()
        ))),
    }
}
