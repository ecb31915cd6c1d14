//! A small JSON text writer: results with free-form text (query parameters, messages, call
//! events) cross the wasm boundary as one JSON text each (`JSON.parse`d by the shim), and the
//! contact service sends call events in the same text, so both say exactly the same thing.
//! One string copy per result instead of an object built property by property, and no
//! serializer in the wasm.

use crate::input;

/// Every value written is valid UTF-8 (Rust strings), so escaping quotes, backslashes and
/// control characters is all JSON needs.
pub struct Json(String);

impl Default for Json {
    /// Room for a typical result at once: a String grown from empty moves through five size
    /// classes of the wasm's allocator (a copy each) before 128 bytes.
    fn default() -> Json {
        Json(String::with_capacity(128))
    }
}

impl Json {
    pub fn raw(&mut self, s: &str) -> &mut Self {
        self.0.push_str(s);
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.0.push('"');
        for c in s.chars() {
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                c if (c as u32) < 0x20 => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    let n = c as usize;
                    self.0.push_str("\\u00");
                    self.0.push(HEX[n >> 4] as char);
                    self.0.push(HEX[n & 15] as char);
                }
                c => self.0.push(c),
            }
        }
        self.0.push('"');
        self
    }

    /// `"key":` after a `{` or a previous member.
    pub fn key(&mut self, k: &str) -> &mut Self {
        if !self.0.ends_with('{') {
            self.0.push(',');
        }
        self.str(k).raw(":")
    }

    pub fn num(&mut self, n: u64) -> &mut Self {
        // Integer digits only (no float or u64 formatter in the binary); all < 2^53.
        input::push_digits(&mut self.0, n, 1);
        self
    }

    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.raw(if b { "true" } else { "false" })
    }

    pub fn strs<'a>(&mut self, items: impl IntoIterator<Item = &'a str>) -> &mut Self {
        self.0.push('[');
        for (i, it) in items.into_iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            self.str(it);
        }
        self.raw("]")
    }

    /// Query parameters as an object (first value of a repeated name wins, as the page's
    /// parser does).
    pub fn query(&mut self, q: &[(String, String)]) -> &mut Self {
        self.0.push('{');
        for (i, (k, v)) in q.iter().enumerate() {
            if q[..i].iter().all(|(seen, _)| seen != k) {
                self.key(k).str(v);
            }
        }
        self.raw("}")
    }

    pub fn done(&mut self) -> String {
        std::mem::take(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Json;

    /// The writer before runs were copied whole: one char at a time.
    fn reference(s: &str) -> String {
        let mut out = String::from('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn strings_escape_as_json_needs() {
        let mut texts: Vec<String> = [
            "",
            "plain",
            "小明",
            "a\"b",
            "back\\slash",
            "\"\"",
            "😀\u{1}é\n\t\u{1f}\u{7f}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        texts.extend((0u8..0x20).map(|b| format!("x{}y小", b as char)));
        for t in &texts {
            let got = Json::default().str(t).done();
            assert_eq!(got, reference(t), "{t:?}");
        }
        assert_eq!(
            Json::default().str("a\"\\\u{0}b").done(),
            r#""a\"\\\u0000b""#
        );
    }
}
