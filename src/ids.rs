//! Identifiers and their limits (SPEC §1). A value of these types has passed its check, so the
//! rest of the core never re-validates. Messages name the field and the limit.

use crate::cat;
use crate::errors::{Error, ErrorCode, Result};
use crate::input::{self, whole, Value};
use serde::Serialize;
use std::fmt;

pub const USER_ID_MAX_BYTES: usize = 128;
pub const OPEN_ID_MAX_CHARS: usize = 64;
pub const USER_NAME_MAX_CHARS: usize = 64;
pub const AVATAR_MAX_BYTES: usize = 1024;
pub const OPENID_LIST_MAX: usize = 100;
const AVATAR_SCHEMES: [&str; 4] = ["https:", "http:", "cloud:", "wxfile:"];

/// Milliseconds since the Unix epoch, from the caller's clock.
pub type Millis = u64;

fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}')
}

fn control_char_error(field: &str, s: &str) -> Option<Error> {
    s.char_indices()
        .find(|(_, c)| is_control(*c))
        .map(|(i, c)| {
            // U+0000–U+001F or U+007F: "U+00" and two upper-case hex digits.
            let hex = [
                b"0123456789ABCDEF"[c as usize >> 4],
                b"0123456789ABCDEF"[c as usize & 15],
            ];
            Error::invalid_argument(cat!(
                field,
                " must not contain control characters (U+00",
                std::str::from_utf8(&hex).unwrap_or("??"),
                " at byte ",
                whole(i as u64),
                ")"
            ))
        })
}

/// A student, as the face-pay device identifies them (`user_id`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// 1–128 UTF-8 bytes, no control characters.
    pub fn parse(field: &str, s: &str) -> Result<UserId> {
        let n = s.len();
        if n == 0 || n > USER_ID_MAX_BYTES {
            return Err(Error::invalid_argument(cat!(
                field,
                " must be 1–",
                whole(USER_ID_MAX_BYTES as u64),
                " bytes of UTF-8, got ",
                whole(n as u64)
            )));
        }
        if let Some(e) = control_char_error(field, s) {
            return Err(e);
        }
        Ok(UserId(s.to_owned()))
    }

    pub fn from_value(field: &str, v: &Value) -> Result<UserId> {
        UserId::parse(field, input::string(field, v)?)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A WeChat user of the host Mini Program (a parent), `^[A-Za-z0-9_-]{1,64}$`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct OpenId(String);

impl OpenId {
    /// Malformed strings are `INVALID_OPENID` (20).
    pub fn parse(field: &str, s: &str) -> Result<OpenId> {
        let ok = !s.is_empty()
            && s.len() <= OPEN_ID_MAX_CHARS
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(OpenId(s.to_owned()))
        } else {
            Err(Error::new(
                ErrorCode::InvalidOpenId,
                cat!(
                    field,
                    " must be 1–",
                    whole(OPEN_ID_MAX_CHARS as u64),
                    " characters of A-Z a-z 0-9 _ -, got ",
                    input::quote(s)
                ),
            ))
        }
    }

    /// Not a string is `INVALID_ARGUMENT` (1004); a malformed string is 20.
    pub fn from_value(field: &str, v: &Value) -> Result<OpenId> {
        OpenId::parse(field, input::string(field, v)?)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for OpenId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for UserId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OpenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name (student or parent): 1–64 characters (Unicode scalar values), no control
/// characters.
pub fn user_name(field: &str, s: &str) -> Result<String> {
    let n = s.chars().count();
    if n == 0 || n > USER_NAME_MAX_CHARS {
        return Err(Error::invalid_argument(cat!(
            field,
            " must be 1–",
            whole(USER_NAME_MAX_CHARS as u64),
            " characters, got ",
            whole(n as u64)
        )));
    }
    if let Some(e) = control_char_error(field, s) {
        return Err(e);
    }
    Ok(s.to_owned())
}

/// An avatar: empty, or an `https:`, `http:`, `cloud:` or `wxfile:` URL of at most 1024 bytes,
/// without spaces or control characters.
pub fn user_avatar(field: &str, s: &str) -> Result<String> {
    if s.is_empty() {
        return Ok(String::new());
    }
    if s.len() > AVATAR_MAX_BYTES {
        return Err(Error::invalid_argument(cat!(
            field,
            " must be at most ",
            whole(AVATAR_MAX_BYTES as u64),
            " bytes, got ",
            whole(s.len() as u64)
        )));
    }
    let scheme_ok = AVATAR_SCHEMES.iter().any(|scheme| {
        s.len() > scheme.len()
            && s.is_char_boundary(scheme.len())
            && s[..scheme.len()].eq_ignore_ascii_case(scheme)
    });
    if !scheme_ok {
        return Err(Error::invalid_argument(cat!(
            field,
            " must be empty or a URL starting with https:, http:, cloud: or wxfile:"
        )));
    }
    if let Some(e) = control_char_error(field, s) {
        return Err(e);
    }
    if s.bytes().any(|b| b == b' ') {
        return Err(Error::invalid_argument(cat!(
            field,
            " must not contain spaces (percent-encode them as %20)"
        )));
    }
    Ok(s.to_owned())
}

/// `openidList`: an array of 1–100 openIds; duplicates are dropped, first occurrence kept.
pub fn openid_list(field: &str, v: &Value) -> Result<Vec<OpenId>> {
    let items = input::array(field, v)?;
    if items.is_empty() || items.len() > OPENID_LIST_MAX {
        return Err(Error::invalid_argument(cat!(
            field,
            " must have 1–",
            whole(OPENID_LIST_MAX as u64),
            " items, got ",
            whole(items.len() as u64)
        )));
    }
    let mut out: Vec<OpenId> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let id = OpenId::from_value(&cat!(field, "[", whole(i as u64), "]"), item)?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_limits() {
        assert!(UserId::parse("userId", "s").is_ok());
        assert!(UserId::parse("userId", &"a".repeat(128)).is_ok());
        // 43 three-byte characters = 129 bytes.
        let e = UserId::parse("userId", &"学".repeat(43)).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert_eq!(e.message, "userId must be 1–128 bytes of UTF-8, got 129");
        assert!(UserId::parse("userId", "").is_err());
        for bad in ["a\u{0}b", "tab\t", "\u{7f}", "\u{1f}"] {
            let e = UserId::parse("userId", bad).unwrap_err();
            assert!(e.message.contains("control characters"), "{bad:?}");
        }
        // C1 controls and other Unicode are allowed (the spec names U+0000–U+001F, U+007F).
        assert!(UserId::parse("userId", "学生\u{85}😀").is_ok());
    }

    /// The messages are built without the formatter (`cat!`): the exact texts.
    #[test]
    fn messages_built_by_hand() {
        let msg = |r: Result<UserId>| r.unwrap_err().message;
        assert_eq!(
            msg(UserId::parse("userId", "ab\u{1f}")),
            "userId must not contain control characters (U+001F at byte 2)"
        );
        assert_eq!(
            msg(UserId::parse("caller.id", "\u{7f}")),
            "caller.id must not contain control characters (U+007F at byte 0)"
        );
        assert_eq!(
            msg(UserId::parse("userId", "学\n")),
            "userId must not contain control characters (U+000A at byte 3)"
        );
        let list = Value::Array(vec![Value::str("a"), Value::str("b c")]);
        assert_eq!(
            openid_list("openidList", &list).unwrap_err().message,
            "openidList[1] must be 1–64 characters of A-Z a-z 0-9 _ -, got \"b c\""
        );
        assert_eq!(
            user_avatar("userAvatar", &"h".repeat(1025))
                .unwrap_err()
                .message,
            "userAvatar must be at most 1024 bytes, got 1025"
        );
    }

    #[test]
    fn open_id_rules() {
        assert!(OpenId::parse("openId", "oAbc_-09").is_ok());
        assert!(OpenId::parse("openId", &"a".repeat(64)).is_ok());
        for bad in ["", "a b", "é", "a.b", "a\u{0}"] {
            let e = OpenId::parse("openId", bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidOpenId, "{bad:?}");
            assert_eq!(e.err_code(), 20);
        }
        assert_eq!(
            OpenId::parse("openId", &"a".repeat(65)).unwrap_err().code,
            ErrorCode::InvalidOpenId
        );
        // Not a string at all: 1004.
        let e = OpenId::from_value("listener.id", &Value::Num(1.0)).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert_eq!(e.message, "listener.id must be a string, got number");
    }

    #[test]
    fn names_count_characters() {
        assert!(user_name("userName", &"小".repeat(64)).is_ok());
        let e = user_name("userName", &"小".repeat(65)).unwrap_err();
        assert_eq!(e.message, "userName must be 1–64 characters, got 65");
        assert!(user_name("userName", "").is_err());
        assert!(user_name("userName", "a\nb").is_err());
    }

    #[test]
    fn avatars() {
        for ok in [
            "",
            "https://x/y.png",
            "HTTP://x",
            "cloud://env/a.png",
            "wxfile://tmp_1.jpg",
        ] {
            assert!(user_avatar("userAvatar", ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://x",
            "https:",
            "javascript:alert(1)",
            "https://a b",
            "https://x\n",
            "/local.png",
        ] {
            assert_eq!(
                user_avatar("userAvatar", bad).unwrap_err().code,
                ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
        let long = format!("https://{}", "a".repeat(1017));
        assert_eq!(long.len(), 1025);
        assert!(user_avatar("userAvatar", &long).is_err());
        assert!(user_avatar("userAvatar", &long[..1024]).is_ok());
    }

    #[test]
    fn openid_lists() {
        let list = |items: Vec<Value>| openid_list("openidList", &Value::Array(items));
        let got = list(vec![Value::str("a"), Value::str("b"), Value::str("a")]).unwrap();
        assert_eq!(
            got.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(list(vec![]).unwrap_err().code, ErrorCode::InvalidArgument);
        assert_eq!(
            list(vec![Value::str("ok"); 101]).unwrap_err().message,
            "openidList must have 1–100 items, got 101"
        );
        assert!(list(vec![Value::str("ok"); 100]).is_ok());
        let e = list(vec![Value::str("a"), Value::Null]).unwrap_err();
        assert_eq!(e.message, "openidList[1] must be a string, got null");
        assert_eq!(
            list(vec![Value::str("bad id")]).unwrap_err().code,
            ErrorCode::InvalidOpenId
        );
        assert_eq!(
            openid_list("openidList", &Value::str("a"))
                .unwrap_err()
                .code,
            ErrorCode::InvalidArgument
        );
    }
}
