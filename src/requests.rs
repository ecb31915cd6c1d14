//! Which fields each request reads. Bindings convert only these from a host's argument object
//! (a JS object, a JSON body) and never walk the rest, so an argument's cost is bounded by what
//! the API uses, whatever else the host put in it. The parsers that read them are next to the
//! rules (`engine`, `call`); every field a parser reads must be listed here.

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
