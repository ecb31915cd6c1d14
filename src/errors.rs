//! The one error type of the core: every failure of SPEC §3.1 as an [`ErrorCode`] (numeric
//! `errCode`, stable upper-case `code`, and which side reports it) plus a message that names the
//! field and the limit. Bindings turn it into the JS `VoipPluginError` / `VoipCgiError` classes.

use std::fmt;

/// Who reports an error in the real plugin: checked locally by the plugin, or by the backend.
/// The JS shim picks `VoipPluginError` or `VoipCgiError` from this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    Plugin,
    Backend,
}

macro_rules! error_codes {
    ($($variant:ident = $num:literal, $name:literal, $origin:ident, $doc:literal;)*) => {
        /// Every row of the error table (SPEC §3.1).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(#[doc = $doc] $variant,)*
        }

        impl ErrorCode {
            /// All codes, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The numeric `errCode`.
            pub const fn err_code(self) -> u32 {
                match self { $(ErrorCode::$variant => $num,)* }
            }

            /// The stable upper-case `code` name.
            pub const fn name(self) -> &'static str {
                match self { $(ErrorCode::$variant => $name,)* }
            }

            /// Which side reports it.
            pub const fn origin(self) -> Origin {
                match self { $(ErrorCode::$variant => Origin::$origin,)* }
            }

            /// The table's one-line meaning, used when no better message exists.
            pub const fn meaning(self) -> &'static str {
                match self { $(ErrorCode::$variant => $doc,)* }
            }
        }
    };
}

error_codes! {
    BadVoipToken = 4, "BAD_VOIP_TOKEN", Backend,
        "face-pay voipToken invalid, expired, reused, or issued for another student";
    NotAuthorized = 8, "NOT_AUTHORIZED", Backend,
        "the openId has not granted VoIP consent (scope.voip)";
    NotContactOfCaller = 9, "NOT_CONTACT_OF_CALLER", Backend,
        "the listener is not a contact of the calling student";
    InvalidOpenId = 20, "INVALID_OPENID", Plugin,
        "malformed openId";
    VoipTokenMissing = 1001, "VOIP_TOKEN_MISSING", Plugin,
        "voipToken empty or not a string where required";
    RequestFailed = 1002, "REQUEST_FAILED", Backend,
        "the contact service could not be reached";
    BadResponse = 1003, "BAD_RESPONSE", Backend,
        "the contact service answered something unparsable";
    InvalidArgument = 1004, "INVALID_ARGUMENT", Plugin,
        "a parameter is missing, of the wrong type, or out of range";
    Busy = 1005, "BUSY", Plugin,
        "this instance is already handling a call";
    NotSupported = 1011, "NOT_SUPPORTED", Plugin,
        "not available here";
    NotAdmin = 3001, "NOT_ADMIN", Backend,
        "only the student's administrator may do this";
    AdminExists = 3002, "ADMIN_EXISTS", Backend,
        "the student already has another administrator";
    NotContact = 3003, "NOT_CONTACT", Backend,
        "the openId is not a contact of this student";
    AdminSelfDelete = 3004, "ADMIN_SELF_DELETE", Backend,
        "the administrator cannot delete itself";
    ContactLimit = 3005, "CONTACT_LIMIT", Backend,
        "the student already has maxContacts contacts";
    Internal = 3006, "INTERNAL", Plugin,
        "the core failed (a wasm trap); this instance cannot go on, reload it";
    Storage = 3007, "STORAGE", Backend,
        "persisting failed or stored data is corrupt; nothing was applied or lost";
    Unauthenticated = 3008, "UNAUTHENTICATED", Backend,
        "no or invalid identity (session) for this call";
}

impl ErrorCode {
    /// The code with this numeric `errCode`, if any.
    pub fn from_err_code(n: u32) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.err_code() == n)
    }
}

/// A failure: its code and a message saying what was wrong (the `reason` part of
/// `'<api>:fail <reason>'`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidArgument, message)
    }

    pub fn storage(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Storage, message)
    }

    /// The error with the table's own wording.
    pub fn plain(code: ErrorCode) -> Self {
        Error::new(code, code.meaning())
    }

    pub fn err_code(&self) -> u32 {
        self.code.err_code()
    }

    /// The WeChat-style `errMsg`: `'<api>:fail <reason>'`.
    pub fn err_msg(&self, api: &str) -> String {
        crate::cat!(api, ":fail ", self.message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code.name(),
            self.code.err_code(),
            self.message
        )
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn table_matches_the_spec() {
        let expected: &[(u32, &str)] = &[
            (4, "BAD_VOIP_TOKEN"),
            (8, "NOT_AUTHORIZED"),
            (9, "NOT_CONTACT_OF_CALLER"),
            (20, "INVALID_OPENID"),
            (1001, "VOIP_TOKEN_MISSING"),
            (1002, "REQUEST_FAILED"),
            (1003, "BAD_RESPONSE"),
            (1004, "INVALID_ARGUMENT"),
            (1005, "BUSY"),
            (1011, "NOT_SUPPORTED"),
            (3001, "NOT_ADMIN"),
            (3002, "ADMIN_EXISTS"),
            (3003, "NOT_CONTACT"),
            (3004, "ADMIN_SELF_DELETE"),
            (3005, "CONTACT_LIMIT"),
            (3006, "INTERNAL"),
            (3007, "STORAGE"),
            (3008, "UNAUTHENTICATED"),
        ];
        let got: Vec<(u32, &str)> = ErrorCode::ALL
            .iter()
            .map(|c| (c.err_code(), c.name()))
            .collect();
        assert_eq!(got, expected);
        let unique: HashSet<u32> = got.iter().map(|(n, _)| *n).collect();
        assert_eq!(unique.len(), got.len());
        for (n, _) in expected {
            assert_eq!(ErrorCode::from_err_code(*n).unwrap().err_code(), *n);
        }
        assert_eq!(ErrorCode::from_err_code(5), None);
    }

    #[test]
    fn plugin_side_codes_are_the_local_checks() {
        let plugin: Vec<u32> = ErrorCode::ALL
            .iter()
            .filter(|c| c.origin() == Origin::Plugin)
            .map(|c| c.err_code())
            .collect();
        assert_eq!(plugin, [20, 1001, 1004, 1005, 1011, 3006]);
    }

    #[test]
    fn err_msg_has_the_wechat_shape() {
        let e = Error::invalid_argument("userId must be a string, got number");
        assert_eq!(
            e.err_msg("bindVoipAdminContact"),
            "bindVoipAdminContact:fail userId must be a string, got number"
        );
        assert_eq!(e.err_code(), 1004);
        assert!(e.to_string().contains("INVALID_ARGUMENT (1004)"));
    }
}
