//! Loose input values: what a host handed us (a JS object, a JSON body), before any check.
//! Bindings convert into [`Value`] with size limits applied while converting, so every type and
//! range check lives here in the core and names the field it rejects.

use crate::errors::{Error, Result};

/// Joins message pieces into a `String`: what `format!` does for the core's messages, without
/// `core::fmt` (its machinery, and the argument tables of every call site, are kilobytes of
/// the wasm). Each piece is anything `AsRef<str>`: literals, `String`s, ids,
/// `&whole(n)`, `&quote(s)`, `&num(x)`.
#[macro_export]
macro_rules! cat {
    ($($part:expr),+ $(,)?) => {
        $crate::input::concat(&[$(::core::convert::AsRef::<str>::as_ref(&$part)),+])
    };
}

/// The function behind [`cat!`], shared by every message. (A plain loop: `[&str]::concat` is
/// a generic join, ~0.9 KB of wasm.)
pub fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

/// Longest string (in UTF-16 code units, as JS counts) a binding copies in. Anything longer is
/// kept as [`Value::Overlong`] and rejected by whichever check reads it, without being copied.
pub const MAX_STRING_UNITS: usize = 8192;
/// Most array items or object properties a binding converts.
pub const MAX_ITEMS: usize = 128;
/// Deepest nesting a binding converts.
pub const MAX_DEPTH: usize = 4;
/// Most values a binding converts for one whole argument (all levels together), so limits do
/// not multiply per level.
pub const MAX_VALUES: usize = 512;
/// Most string code units a binding copies for one whole argument.
pub const MAX_TOTAL_UNITS: usize = 64 * 1024;

/// A string of `len` UTF-16 code units as a binding keeps it: [`Value::Overlong`] past
/// [`MAX_STRING_UNITS`] (measured, never copied), a placeholder once the argument's budget is
/// spent, otherwise what `copy` makes of it. Every binding (JS values, JSON bodies) uses this,
/// so the limits are the same on every backend.
pub fn limited_string(len: usize, budget: &mut Budget, copy: impl FnOnce() -> Value) -> Value {
    if len > MAX_STRING_UNITS {
        Value::Overlong {
            kind: Kind::String,
            len,
        }
    } else if !budget.take_units(len) {
        Value::Other("a string over the argument's size limit")
    } else {
        copy()
    }
}

/// What converting one argument may still spend; shared by every level of the walk.
#[derive(Clone, Debug)]
pub struct Budget {
    values: usize,
    units: usize,
    exceeded: bool,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            values: MAX_VALUES,
            units: MAX_TOTAL_UNITS,
            exceeded: false,
        }
    }
}

impl Budget {
    /// Takes one value; `false` (and the budget marked exceeded) when none is left.
    pub fn take_value(&mut self) -> bool {
        if self.values == 0 {
            self.exceeded = true;
            return false;
        }
        self.values -= 1;
        true
    }

    /// Takes `units` string code units; `false` (and the budget marked exceeded) when they do
    /// not fit.
    pub fn take_units(&mut self, units: usize) -> bool {
        if units > self.units {
            self.exceeded = true;
            return false;
        }
        self.units -= units;
        true
    }

    /// The error for an argument that did not fit, if it did not.
    pub fn check(&self) -> Result<()> {
        if self.exceeded {
            Err(Error::invalid_argument(crate::cat!(
                "the argument is too large (over ",
                whole(MAX_VALUES as u64),
                " values or ",
                whole(MAX_TOTAL_UNITS as u64),
                " characters of text in all)"
            )))
        } else {
            Ok(())
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `undefined`, or an absent property.
    Missing,
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
    /// A string longer than [`MAX_STRING_UNITS`] (its length in UTF-16 units), or an array or
    /// object with more than [`MAX_ITEMS`] entries (its count); not converted.
    Overlong {
        kind: Kind,
        len: usize,
    },
    /// A string that is not well-formed UTF-16 (a lone surrogate).
    LoneSurrogate,
    /// Anything else (function, symbol, bigint, nested too deep), by type name.
    Other(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    Array,
    Object,
}

static MISSING: Value = Value::Missing;

impl Value {
    /// The property `key` of an object; [`Value::Missing`] for anything else.
    pub fn get(&self, key: &str) -> &Value {
        match self {
            Value::Object(props) => props
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .unwrap_or(&MISSING),
            _ => &MISSING,
        }
    }

    /// A short description for error messages: `"number"`, `"null"`, `"a string of 9000 characters"`.
    pub fn describe(&self) -> String {
        match self {
            Value::Missing => "undefined".into(),
            Value::Null => "null".into(),
            Value::Bool(_) => "boolean".into(),
            Value::Num(_) => "number".into(),
            Value::Str(_) => "string".into(),
            Value::Array(_) => "array".into(),
            Value::Object(_) => "object".into(),
            Value::Overlong { kind, len } => match kind {
                Kind::String => crate::cat!("a string of ", whole(*len as u64), " characters"),
                Kind::Array => crate::cat!("an array of ", whole(*len as u64), " items"),
                Kind::Object => crate::cat!("an object with ", whole(*len as u64), " properties"),
            },
            Value::LoneSurrogate => "a string with a lone surrogate (not valid Unicode)".into(),
            Value::Other(t) => (*t).into(),
        }
    }

    pub fn is_missing(&self) -> bool {
        matches!(self, Value::Missing)
    }

    pub fn str(s: &str) -> Value {
        Value::Str(s.to_owned())
    }

    /// Builds an object from pairs (tests and native callers).
    pub fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }
}

fn wrong_type(field: &str, expected: &str, got: &Value) -> Error {
    match got {
        Value::Overlong {
            kind: Kind::String,
            len,
        } if expected == "a string" => Error::invalid_argument(crate::cat!(
            field,
            " is too long (",
            whole(*len as u64),
            " characters)"
        )),
        Value::LoneSurrogate if expected == "a string" => Error::invalid_argument(crate::cat!(
            field,
            " is not valid Unicode (it has a lone surrogate)"
        )),
        _ => Error::invalid_argument(crate::cat!(
            field,
            " must be ",
            expected,
            ", got ",
            got.describe()
        )),
    }
}

/// The argument object of an API call itself.
pub fn args<'a>(api: &str, v: &'a Value) -> Result<&'a Value> {
    match v {
        Value::Object(_) => Ok(v),
        other => Err(Error::invalid_argument(crate::cat!(
            api,
            " expects an object argument, got ",
            other.describe()
        ))),
    }
}

/// A required string field.
pub fn string<'a>(field: &str, v: &'a Value) -> Result<&'a str> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(wrong_type(field, "a string", other)),
    }
}

/// An optional string field (`undefined` means absent; `null` is a type error).
pub fn opt_string<'a>(field: &str, v: &'a Value) -> Result<Option<&'a str>> {
    match v {
        Value::Missing => Ok(None),
        other => string(field, other).map(Some),
    }
}

/// An optional finite number field.
pub fn opt_number(field: &str, v: &Value) -> Result<Option<f64>> {
    match v {
        Value::Missing => Ok(None),
        Value::Num(n) if n.is_finite() => Ok(Some(*n)),
        Value::Num(_) => Err(Error::invalid_argument(crate::cat!(
            field,
            " must be a finite number"
        ))),
        other => Err(wrong_type(field, "a number", other)),
    }
}

/// An optional object field.
pub fn opt_object<'a>(field: &str, v: &'a Value) -> Result<Option<&'a Value>> {
    match v {
        Value::Missing => Ok(None),
        Value::Object(_) => Ok(Some(v)),
        other => Err(wrong_type(field, "an object", other)),
    }
}

/// A required array field.
pub fn array<'a>(field: &str, v: &'a Value) -> Result<&'a [Value]> {
    match v {
        Value::Array(items) => Ok(items),
        other => Err(wrong_type(field, "an array", other)),
    }
}

/// A value quoted for a message: `"…"`, at most 64 characters, with quotes, backslashes and
/// control characters escaped. (The shipped wasm is built with `-Zfmt-debug=none`, so `{:?}`
/// prints nothing there: messages use this instead.)
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(64) + 2);
    out.push('"');
    for (i, c) in s.chars().enumerate() {
        if i == 64 {
            out.push('…');
            break;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                out.push_str("\\u{");
                push_base(&mut out, c as u64, 1, 16);
                out.push('}');
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number for messages, written without the float formatter (which would add kilobytes to
/// the wasm): whole numbers exactly, others to six decimals.
pub fn num(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let mut out = String::from(if n < 0.0 { "-" } else { "" });
    let a = n.abs();
    if a >= 1e15 {
        out.push_str("a number over 10^15");
        return out;
    }
    let whole = a.trunc() as u64;
    let micro = ((a - a.trunc()) * 1e6).round() as u64;
    let (whole, micro) = if micro >= 1_000_000 {
        (whole + 1, 0)
    } else {
        (whole, micro)
    };
    push_digits(&mut out, whole, 1);
    if micro != 0 {
        // Six decimals, trailing zeros dropped.
        let (mut frac, mut digits) = (micro, 6);
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        out.push('.');
        push_digits(&mut out, frac, digits);
    }
    out
}

/// An optional whole number from `lo` to `hi` (`default` when absent), e.g. a backend option.
pub fn whole_in(field: &str, v: &Value, lo: u64, hi: u64, default: u64) -> Result<u64> {
    match opt_number(field, v)? {
        None => Ok(default),
        Some(n) if n.fract() == 0.0 && n >= lo as f64 && n <= hi as f64 => Ok(n as u64),
        Some(n) => Err(Error::invalid_argument(crate::cat!(
            field,
            " must be a whole number from ",
            whole(lo),
            " to ",
            whole(hi),
            ", got ",
            num(n)
        ))),
    }
}

/// `v` in decimal, for messages (the u64 formatter would be one more in the wasm).
pub fn whole(v: u64) -> String {
    let mut out = String::new();
    push_digits(&mut out, v, 1);
    out
}

/// `v` in decimal, zero-padded to at least `min` digits (no formatter: see [`num`]).
pub fn push_digits(out: &mut String, v: u64, min: usize) {
    push_base(out, v, min, 10)
}

/// `v` in base 10 or 16 (lower-case), zero-padded to at least `min` digits.
pub fn push_base(out: &mut String, mut v: u64, min: usize, base: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while i > 0 {
        i -= 1;
        buf[i] = b"0123456789abcdef"[(v % base) as usize];
        v /= base;
        if v == 0 && buf.len() - i >= min {
            break;
        }
    }
    out.extend(buf[i..].iter().map(|&d| d as char));
}

/// A clock reading in milliseconds: a whole number in `0..2^48` (the range tickets can carry).
pub fn millis(field: &str, n: f64) -> Result<u64> {
    if n.is_finite() && n >= 0.0 && n < (1u64 << 48) as f64 {
        Ok(n as u64)
    } else {
        Err(Error::invalid_argument(crate::cat!(
            field,
            " must be a time in milliseconds between 0 and 2^48, got ",
            num(n)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::ErrorCode;

    #[test]
    fn fields_and_messages() {
        let v = Value::object([
            ("userId", Value::str("s1")),
            ("n", Value::Num(3.0)),
            ("nul", Value::Null),
        ]);
        assert_eq!(string("userId", v.get("userId")).unwrap(), "s1");
        let e = string("n", v.get("n")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert_eq!(e.message, "n must be a string, got number");
        assert_eq!(
            string("x", v.get("x")).unwrap_err().message,
            "x must be a string, got undefined"
        );
        assert_eq!(
            opt_string("nul", v.get("nul")).unwrap_err().message,
            "nul must be a string, got null"
        );
        assert_eq!(opt_string("x", v.get("x")).unwrap(), None);
        assert_eq!(opt_number("n", v.get("n")).unwrap(), Some(3.0));
        assert!(opt_number("n", &Value::Num(f64::NAN)).is_err());
        assert!(args("api", &Value::Null).is_err());
        assert!(args("api", &v).is_ok());
        assert_eq!(Value::Str("x".into()).get("a"), &Value::Missing);
    }

    #[test]
    fn describes_what_was_not_converted() {
        let long = Value::Overlong {
            kind: Kind::String,
            len: 1 << 20,
        };
        assert_eq!(
            string("userId", &long).unwrap_err().message,
            "userId is too long (1048576 characters)"
        );
        assert_eq!(
            array("openidList", &long).unwrap_err().message,
            "openidList must be an array, got a string of 1048576 characters"
        );
        assert!(string("u", &Value::LoneSurrogate)
            .unwrap_err()
            .message
            .contains("lone surrogate"));
    }

    #[test]
    fn quoting_for_messages() {
        assert_eq!(quote("stu-1"), "\"stu-1\"");
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\u{a}\"");
        assert_eq!(quote(&"x".repeat(70)), format!("\"{}…\"", "x".repeat(64)));
    }

    #[test]
    fn numbers_for_messages() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(-2.5), "-2.5");
        assert_eq!(num(0.1), "0.1");
        assert_eq!(num(1.9999999), "2");
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(num(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(num(1e20), "a number over 10^15");
        assert_eq!(num(-1e20), "-a number over 10^15");
        assert_eq!(num(1.000001), "1.000001");
        assert_eq!(num(-0.00012), "-0.00012");
        assert_eq!(num(0.0), "0");
        assert_eq!(whole(0), "0");
        assert_eq!(whole(u64::MAX), u64::MAX.to_string());
        assert_eq!(num(999_999_999_999_999.0), "999999999999999");
        // The same text as the formatter's.
        for i in 0..20_000u32 {
            let x = f64::from(i) * 0.37 - 3000.0;
            let (whole, micro) = (
                x.abs().trunc() as u64,
                ((x.abs().fract()) * 1e6).round() as u64,
            );
            let (whole, micro) = if micro >= 1_000_000 {
                (whole + 1, 0)
            } else {
                (whole, micro)
            };
            let sign = if x < 0.0 { "-" } else { "" };
            let want = if micro == 0 {
                format!("{sign}{whole}")
            } else {
                format!(
                    "{sign}{whole}.{}",
                    format!("{micro:06}").trim_end_matches('0')
                )
            };
            assert_eq!(num(x), want, "{x}");
        }
    }

    #[test]
    fn millis_range() {
        assert_eq!(millis("now", 5.9).unwrap(), 5);
        assert!(millis("now", -1.0).is_err());
        assert!(millis("now", f64::INFINITY).is_err());
        assert!(millis("now", (1u64 << 48) as f64).is_err());
    }
}
