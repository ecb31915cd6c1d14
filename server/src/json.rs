//! A JSON request body → the core's loose [`Value`], with the same limits the wasm binding
//! applies to a JS argument (string length, items per level, depth, one budget for the whole
//! body), so the core's checks and messages are the same on both backends.

use campus_voip::input::{self, Budget, Kind, Value, MAX_DEPTH, MAX_ITEMS};
use campus_voip::{Error, Result};

/// Parses a body as JSON (whatever the Content-Type) into a [`Value`]; 1004 when it is empty
/// or not JSON. Duplicate keys: the last one wins (as `JSON.parse`).
pub fn parse_body(bytes: &[u8]) -> Result<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::invalid_argument(
            "the request body is empty (expected a JSON object)",
        ));
    }
    let json: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::invalid_argument(format!("the request body is not valid JSON ({e})"))
    })?;
    let mut budget = Budget::default();
    let v = to_value(&json, 0, &mut budget);
    budget.check()?;
    Ok(v)
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Converts like the binding's `to_value`: the same limits, the same placeholder values.
pub fn to_value(json: &serde_json::Value, depth: usize, budget: &mut Budget) -> Value {
    use serde_json::Value as J;
    if !budget.take_value() {
        return Value::Other("a value over the argument's size limit");
    }
    match json {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => Value::Num(n.as_f64().unwrap_or(f64::NAN)),
        J::String(s) => input::limited_string(utf16_len(s), budget, || Value::Str(s.clone())),
        J::Array(_) | J::Object(_) if depth >= MAX_DEPTH => {
            Value::Other("an object nested too deep")
        }
        J::Array(items) => {
            if items.len() > MAX_ITEMS {
                return Value::Overlong {
                    kind: Kind::Array,
                    len: items.len(),
                };
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(to_value(item, depth + 1, budget));
                if budget.check().is_err() {
                    break;
                }
            }
            Value::Array(out)
        }
        J::Object(props) => {
            if props.len() > MAX_ITEMS {
                return Value::Overlong {
                    kind: Kind::Object,
                    len: props.len(),
                };
            }
            let mut out = Vec::with_capacity(props.len());
            for (name, v) in props {
                if name.len() > 256 || !budget.take_units(name.len()) {
                    continue;
                }
                out.push((name.clone(), to_value(v, depth + 1, budget)));
                if budget.check().is_err() {
                    break;
                }
            }
            Value::Object(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use campus_voip::input::MAX_STRING_UNITS;

    #[test]
    fn limits_match_the_binding() {
        let v =
            parse_body(br#"{"a":"x","b":[1,{"c":null}],"d":{"e":{"f":{"g":{"h":1}}}}}"#).unwrap();
        assert_eq!(v.get("a"), &Value::str("x"));
        assert_eq!(
            v.get("d").get("e").get("f").get("g"),
            &Value::Other("an object nested too deep")
        );
        let long = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_STRING_UNITS + 1));
        assert!(matches!(
            parse_body(long.as_bytes()).unwrap().get("a"),
            Value::Overlong { .. }
        ));
        assert!(parse_body(b"").is_err());
        assert!(parse_body(b"{").is_err());
        assert!(parse_body(b"\xff").is_err());
        assert_eq!(
            parse_body(br#"{"a":1,"a":2}"#).unwrap().get("a"),
            &Value::Num(2.0)
        );
    }
}
