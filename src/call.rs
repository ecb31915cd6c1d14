//! Calls from the face-pay device (SPEC §3.6): checking an `initByCaller` request, the
//! compatibility version, and the backend's admission rule (token, consent, contact) with its
//! order. The call itself (ring to end, the device's one call at a time) is `lifecycle` and
//! `ops::admit_call`.

use crate::cat;
use crate::errors::{Error, ErrorCode, Result};
use crate::ids::{self, OpenId, UserId};
use crate::input::{self, whole, Value};
use crate::registry::StudentRecord;
use crate::token::{Rejection, TokenClaims};
use serde::Serialize;

/// A plugin version `major.minor.patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u16, pub u16, pub u16);

/// businessType 3 (face recognition, license billing) needs plugin 2.3.8.
pub const LICENSE_MODE_SINCE: Version = Version(2, 3, 8);

impl Version {
    pub fn parse(field: &str, s: &str) -> Result<Version> {
        // Three dot-separated parts of 1–4 ASCII digits (so each fits a u16), read in one
        // pass: no splitting into a Vec, no integer parser in the wasm.
        let mut parts = [0u16; 3];
        let (mut part, mut digits) = (0, 0);
        for b in s.bytes() {
            match b {
                b'0'..=b'9' if digits < 4 => {
                    parts[part] = parts[part] * 10 + u16::from(b - b'0');
                    digits += 1;
                }
                b'.' if digits > 0 && part < 2 => {
                    part += 1;
                    digits = 0;
                }
                _ => return Err(bad_version(field, s)),
            }
        }
        if part == 2 && digits > 0 {
            Ok(Version(parts[0], parts[1], parts[2]))
        } else {
            Err(bad_version(field, s))
        }
    }
}

fn bad_version(field: &str, s: &str) -> Error {
    Error::invalid_argument(cat!(
        field,
        " must be a version like \"2.3.8\", got ",
        input::quote(s)
    ))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoomType {
    Voice,
    Video,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChargeType {
    Duration,
    License,
}

impl RoomType {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomType::Voice => "voice",
            RoomType::Video => "video",
        }
    }
}

impl ChargeType {
    /// The `chargeType` of `initByCaller`'s answer.
    pub fn as_str(self) -> &'static str {
        match self {
            ChargeType::Duration => "duration",
            ChargeType::License => "license",
        }
    }
}

/// A checked `initByCaller` request of the campus modes (businessType 0 or 3).
#[derive(Clone, Debug, PartialEq)]
pub struct CallRequest {
    pub room_type: RoomType,
    pub caller_id: UserId,
    pub caller_name: Option<String>,
    pub caller_camera: u8,
    pub listener_id: OpenId,
    pub listener_name: Option<String>,
    pub listener_camera: u8,
    pub business_type: u8,
    pub voip_token: String,
    pub custom_query: Option<String>,
    /// Seconds.
    pub time_limit: Option<f64>,
    pub miniprogram_state: &'static str,
}

impl CallRequest {
    pub fn charge_type(&self) -> ChargeType {
        crate::lifecycle::charge_type(self.business_type)
    }
}

const CUSTOM_QUERY_MAX_BYTES: usize = 1024;

fn camera(field: &str, v: &Value) -> Result<u8> {
    match input::opt_number(field, v)? {
        None => Ok(0),
        Some(n) if n == 0.0 || n == 1.0 => Ok(n as u8),
        Some(n) => Err(Error::invalid_argument(cat!(
            field,
            " must be 0 (camera on) or 1 (camera off), got ",
            input::num(n)
        ))),
    }
}

fn opt_name(field: &str, v: &Value) -> Result<Option<String>> {
    input::opt_string(field, v)?
        .map(|s| ids::user_name(field, s))
        .transpose()
}

/// Everything `initByCaller` throws for, in the spec's order: bad or missing parameters (1004,
/// 20 for a malformed openId), then the token (1001), then the business type (1011). Busy
/// (1005) is `ops::admit_call`'s to say (the device's calls are in the store).
pub fn check_request(args: &Value, compat: Version) -> Result<CallRequest> {
    let args = input::args("initByCaller", args)?;
    let room_type = match input::string("roomType", args.get("roomType"))? {
        "voice" => RoomType::Voice,
        "video" => RoomType::Video,
        other => {
            return Err(Error::invalid_argument(cat!(
                "roomType must be \"voice\" or \"video\", got ",
                input::quote(other)
            )));
        }
    };
    let caller = match args.get("caller") {
        v @ Value::Object(_) => v,
        other => {
            return Err(Error::invalid_argument(cat!(
                "caller must be an object, got ",
                other.describe()
            )))
        }
    };
    let listener = match args.get("listener") {
        v @ Value::Object(_) => v,
        other => {
            return Err(Error::invalid_argument(cat!(
                "listener must be an object, got ",
                other.describe()
            )))
        }
    };
    let caller_id = UserId::from_value("caller.id", caller.get("id"))?;
    let caller_name = opt_name("caller.name", caller.get("name"))?;
    let caller_camera = camera("caller.cameraStatus", caller.get("cameraStatus"))?;
    let listener_id = OpenId::from_value("listener.id", listener.get("id"))?;
    let listener_name = opt_name("listener.name", listener.get("name"))?;
    let listener_camera = camera("listener.cameraStatus", listener.get("cameraStatus"))?;
    let business_type = match input::opt_number("businessType", args.get("businessType"))? {
        None => 0,
        Some(n) if n == 0.0 || n == 1.0 || n == 2.0 || n == 3.0 => n as u8,
        Some(n) => {
            return Err(Error::invalid_argument(cat!(
                "businessType must be 0, 1, 2 or 3, got ",
                input::num(n)
            )))
        }
    };
    let custom_query = match input::opt_string("customQuery", args.get("customQuery"))? {
        Some(q) if q.len() > CUSTOM_QUERY_MAX_BYTES => {
            return Err(Error::invalid_argument(cat!(
                "customQuery must be at most ",
                whole(CUSTOM_QUERY_MAX_BYTES as u64),
                " bytes, got ",
                whole(q.len() as u64)
            )))
        }
        Some(q) if q.chars().any(|c| c.is_control()) => {
            return Err(Error::invalid_argument(
                "customQuery must not contain control characters",
            ))
        }
        q => q.map(str::to_owned),
    };
    let time_limit = match input::opt_number("timeLimit", args.get("timeLimit"))? {
        Some(n) if n <= 0.0 => {
            return Err(Error::invalid_argument(cat!(
                "timeLimit must be a number of seconds > 0, got ",
                input::num(n)
            )))
        }
        t => t,
    };
    let miniprogram_state =
        match input::opt_string("miniprogramState", args.get("miniprogramState"))? {
            None | Some("formal") => "formal",
            Some("trial") => "trial",
            Some("developer") => "developer",
            Some(other) => {
                return Err(Error::invalid_argument(cat!(
                    "miniprogramState must be \"formal\", \"trial\" or \"developer\", got ",
                    input::quote(other)
                )));
            }
        };
    let campus = business_type == 0 || business_type == 3;
    let voip_token = match args.get("voipToken") {
        Value::Str(t) if !t.is_empty() => t.clone(),
        _ if !campus => String::new(),
        other => {
            let what = match other {
                Value::Str(_) => "empty".to_owned(),
                Value::Missing => "missing".to_owned(),
                v => cat!("not a string (", v.describe(), ")"),
            };
            return Err(Error::new(
                ErrorCode::VoipTokenMissing,
                cat!(
                    "voipToken is ",
                    what,
                    "; businessType ",
                    whole(business_type.into()),
                    " needs the face-pay voip_token"
                ),
            ));
        }
    };
    if !campus {
        return Err(Error::new(
            ErrorCode::NotSupported,
            cat!(
                "businessType ",
                whole(business_type.into()),
                " (hardware-device mode) is not part of the campus plugin; use 0 or 3"
            ),
        ));
    }
    if business_type == 3 && compat < LICENSE_MODE_SINCE {
        return Err(Error::new(
            ErrorCode::NotSupported,
            cat!(
                "businessType 3 needs plugin 2.3.8 or later; compatVersion is ",
                whole(compat.0.into()),
                ".",
                whole(compat.1.into()),
                ".",
                whole(compat.2.into())
            ),
        ));
    }
    Ok(CallRequest {
        room_type,
        caller_id,
        caller_name,
        caller_camera,
        listener_id,
        listener_name,
        listener_camera,
        business_type,
        voip_token,
        custom_query,
        time_limit,
        miniprogram_state,
    })
}

/// The backend's admission, in the spec's order: token (4), listener consent (8), listener a
/// contact of the student (9). Returns the token's claims so the caller can mark it used.
///
/// `token_used` is a read made before the decision, so on its own it only prevents reuse where
/// operations run one at a time (the local backend). A store shared by several processes must
/// make marking the token used the check itself: the `Change::UseToken` commit of
/// `ops::admit_call` is an insert into a UNIQUE nonce row (SQLite, PostgreSQL), and when it
/// conflicts the store's `Repo::commit` fails with `repo::token_already_used()`, which the
/// operation answers as this same refusal (errCode 4, reused), never as a storage error. So two
/// devices racing with one token admit exactly one call.
pub fn admit(
    token: std::result::Result<TokenClaims, Rejection>,
    token_used: bool,
    record: Option<&StudentRecord>,
    req: &CallRequest,
    listener_consented: bool,
) -> Result<TokenClaims> {
    let claims = token.map_err(|r| Error::new(ErrorCode::BadVoipToken, r.message()))?;
    if token_used {
        return Err(Error::new(
            ErrorCode::BadVoipToken,
            Rejection::Reused.message(),
        ));
    }
    if !listener_consented {
        return Err(Error::new(
            ErrorCode::NotAuthorized,
            cat!(
                req.listener_id,
                " has not granted VoIP consent (scope.voip)"
            ),
        ));
    }
    if !record.is_some_and(|r| r.contains(&req.listener_id)) {
        return Err(Error::new(
            ErrorCode::NotContactOfCaller,
            cat!(
                req.listener_id,
                " is not a contact of student ",
                input::quote(req.caller_id.as_str())
            ),
        ));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Contact, Role};

    const V: Version = Version(2, 4, 0);

    fn req(extra: &[(&str, Value)]) -> Value {
        let mut props = vec![
            ("roomType".to_owned(), Value::str("video")),
            (
                "caller".to_owned(),
                Value::object([("id", Value::str("s1")), ("name", Value::str("小明"))]),
            ),
            (
                "listener".to_owned(),
                Value::object([("id", Value::str("mum"))]),
            ),
            ("voipToken".to_owned(), Value::str("tok")),
        ];
        for (k, v) in extra {
            props.retain(|(name, _)| name != k);
            if !v.is_missing() {
                props.push(((*k).to_owned(), v.clone()));
            }
        }
        Value::Object(props)
    }

    fn code(v: &Value, compat: Version) -> u32 {
        check_request(v, compat).unwrap_err().err_code()
    }

    #[test]
    fn versions() {
        assert_eq!(Version::parse("v", "2.3.8").unwrap(), Version(2, 3, 8));
        assert_eq!(
            Version::parse("v", "9999.0010.07").unwrap(),
            Version(9999, 10, 7)
        );
        assert!(Version(2, 3, 8) < Version(2, 4, 0));
        assert!(Version(2, 3, 10) > Version(2, 3, 8));
        for bad in [
            "",
            "2.3",
            "2.3.8.1",
            "a.b.c",
            "2.3.-1",
            "2..8",
            "99999.0.0",
            " 2.3.8",
            ".2.3",
            "2.3.",
            "2.3.8.",
            "+2.3.8",
            "2.3.８",
            "2.3.8 ",
        ] {
            assert_eq!(
                Version::parse("v", bad).unwrap_err().code,
                ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_good_request() {
        let r = check_request(&req(&[]), V).unwrap();
        assert_eq!(r.room_type, RoomType::Video);
        assert_eq!(r.business_type, 0);
        assert_eq!(r.charge_type(), ChargeType::Duration);
        assert_eq!(r.caller_name.as_deref(), Some("小明"));
        assert_eq!(r.miniprogram_state, "formal");
        let r3 = check_request(&req(&[("businessType", Value::Num(3.0))]), V).unwrap();
        assert_eq!(r3.charge_type(), ChargeType::License);
    }

    #[test]
    fn thrown_errors_and_their_order() {
        assert_eq!(code(&Value::Null, V), 1004);
        assert_eq!(code(&req(&[("roomType", Value::str("fax"))]), V), 1004);
        assert_eq!(code(&req(&[("roomType", Value::Missing)]), V), 1004);
        assert_eq!(code(&req(&[("caller", Value::str("s1"))]), V), 1004);
        assert_eq!(code(&req(&[("listener", Value::Missing)]), V), 1004);
        assert_eq!(
            code(
                &req(&[("listener", Value::object([("id", Value::str("bad id"))]))]),
                V
            ),
            20
        );
        assert_eq!(
            code(
                &req(&[("listener", Value::object([("id", Value::Num(5.0))]))]),
                V
            ),
            1004
        );
        assert_eq!(code(&req(&[("businessType", Value::Num(4.0))]), V), 1004);
        assert_eq!(code(&req(&[("businessType", Value::str("0"))]), V), 1004);
        assert_eq!(code(&req(&[("timeLimit", Value::Num(0.0))]), V), 1004);
        assert_eq!(code(&req(&[("timeLimit", Value::str("9"))]), V), 1004);
        assert_eq!(
            code(&req(&[("miniprogramState", Value::str("beta"))]), V),
            1004
        );
        assert_eq!(
            code(&req(&[("customQuery", Value::Str("a".repeat(1025)))]), V),
            1004
        );
        // Token: missing, empty, wrong type → 1001.
        assert_eq!(code(&req(&[("voipToken", Value::Missing)]), V), 1001);
        assert_eq!(code(&req(&[("voipToken", Value::str(""))]), V), 1001);
        assert_eq!(code(&req(&[("voipToken", Value::Num(1.0))]), V), 1001);
        // Bad parameters beat a missing token.
        assert_eq!(
            code(
                &req(&[("voipToken", Value::Missing), ("roomType", Value::Null)]),
                V
            ),
            1004
        );
        // businessType 1/2 → 1011 (no token needed to say so); 3 below 2.3.8 → 1011.
        for bt in [1.0, 2.0] {
            assert_eq!(
                code(
                    &req(&[
                        ("businessType", Value::Num(bt)),
                        ("voipToken", Value::Missing)
                    ]),
                    V
                ),
                1011
            );
        }
        assert_eq!(
            code(&req(&[("businessType", Value::Num(3.0))]), Version(2, 3, 7)),
            1011
        );
        assert_eq!(
            check_request(
                &req(&[("businessType", Value::Num(3.0))]),
                Version(1, 65535, 99)
            )
            .unwrap_err()
            .message,
            "businessType 3 needs plugin 2.3.8 or later; compatVersion is 1.65535.99"
        );
        // ...but a missing token for 3 is still 1001 first.
        assert_eq!(
            code(
                &req(&[
                    ("businessType", Value::Num(3.0)),
                    ("voipToken", Value::Missing)
                ]),
                Version(2, 3, 7)
            ),
            1001
        );
        assert!(
            check_request(&req(&[("businessType", Value::Num(0.0))]), Version(1, 0, 0)).is_ok()
        );
    }

    #[test]
    fn admission_order() {
        let r = check_request(&req(&[]), V).unwrap();
        let claims = TokenClaims {
            issued_at: 0,
            expires_at: 10,
            nonce: [0; 12],
        };
        let mut rec = StudentRecord::with_admin(
            UserId::parse("u", "s1").unwrap(),
            OpenId::parse("o", "dad").unwrap(),
            0,
            1,
        );
        let err = |t, used, rec: Option<&StudentRecord>, consent| {
            admit(t, used, rec, &r, consent).unwrap_err().err_code()
        };
        assert_eq!(err(Err(Rejection::Invalid), false, None, false), 4);
        assert_eq!(err(Err(Rejection::Expired), false, None, false), 4);
        assert_eq!(err(Ok(claims.clone()), true, None, false), 4);
        assert_eq!(err(Ok(claims.clone()), false, None, false), 8);
        assert_eq!(err(Ok(claims.clone()), false, Some(&rec), true), 9);
        assert_eq!(err(Ok(claims.clone()), false, None, true), 9);
        rec.contacts.push(Contact {
            open_id: OpenId::parse("o", "mum").unwrap(),
            role: Role::Ordinary,
            bound_at: 1,
        });
        assert_eq!(
            admit(Ok(claims.clone()), false, Some(&rec), &r, true),
            Ok(claims)
        );
    }
}
