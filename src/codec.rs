//! A tiny big-endian binary codec for tickets, tokens and stored entries. The reader never
//! panics: every read is bounds-checked and a short input is a [`Truncated`] error.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated;

#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// A 48-bit unsigned integer (milliseconds up to the year 10889). Higher bits are dropped,
    /// so callers range-check first.
    pub fn u48(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes()[2..]);
        self
    }
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }
    /// A string of at most 255 bytes, length-prefixed.
    pub fn str8(&mut self, v: &str) -> &mut Self {
        debug_assert!(v.len() <= 255);
        self.u8(v.len().min(255) as u8)
            .bytes(&v.as_bytes()[..v.len().min(255)])
    }
    /// A string of at most 65535 bytes, length-prefixed.
    pub fn str16(&mut self, v: &str) -> &mut Self {
        let n = v.len().min(u16::MAX as usize);
        self.buf.extend_from_slice(&(n as u16).to_be_bytes());
        self.bytes(&v.as_bytes()[..n])
    }
}

pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let end = self.pos.checked_add(n).ok_or(Truncated)?;
        let out = self.data.get(self.pos..end).ok_or(Truncated)?;
        self.pos = end;
        Ok(out)
    }
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }
    pub fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.bytes(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, Truncated> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, Truncated> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn u48(&mut self) -> Result<u64, Truncated> {
        let b: [u8; 6] = self.array()?;
        let mut full = [0u8; 8];
        full[2..].copy_from_slice(&b);
        Ok(u64::from_be_bytes(full))
    }
    /// A length-prefixed string; `None` inside `Ok` if it is not UTF-8.
    pub fn str8(&mut self) -> Result<Option<&'a str>, Truncated> {
        let n = self.u8()? as usize;
        Ok(std::str::from_utf8(self.bytes(n)?).ok())
    }
    pub fn str16(&mut self) -> Result<Option<&'a str>, Truncated> {
        let n = self.u16()? as usize;
        Ok(std::str::from_utf8(self.bytes(n)?).ok())
    }
}

/// The URL-safe base64 alphabet (RFC 4648 §5).
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding. (Hand-written: the `base64` crate's general engine is
/// ~5 KB of wasm for what these few lines do.)
pub fn b64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut n = 0u32;
        for (i, &b) in chunk.iter().enumerate() {
            n |= u32::from(b) << (16 - 8 * i);
        }
        // 3 bytes → 4 characters, 2 → 3, 1 → 2.
        for i in 0..=chunk.len() {
            out.push(B64[(n >> (18 - 6 * i)) as usize & 63] as char);
        }
    }
    out
}

/// Strict URL-safe base64 without padding; `None` for anything else: a character outside the
/// alphabet (padding included), a length of 4n+1, or non-zero bits after the last byte (so
/// every byte string has exactly one accepted text).
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for chunk in text.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'-' => 62,
                b'_' => 63,
                _ => return None,
            };
            n |= u32::from(v) << (18 - 6 * i);
        }
        let bytes = chunk.len() - 1;
        if n & (0xff_ffff >> (8 * bytes)) != 0 {
            return None;
        }
        for i in 0..bytes {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let mut w = Writer::default();
        w.u8(1)
            .u32(0xdead_beef)
            .u48(0x1234_5678_9abc)
            .str8("hé")
            .str16("x");
        let mut r = Reader::new(&w.buf);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u32(), Ok(0xdead_beef));
        assert_eq!(r.u48(), Ok(0x1234_5678_9abc));
        assert_eq!(r.str8(), Ok(Some("hé")));
        assert_eq!(r.str16(), Ok(Some("x")));
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.u8(), Err(Truncated));
        for cut in 0..w.buf.len() {
            let mut r = Reader::new(&w.buf[..cut]);
            let all = (|| -> Result<(), Truncated> {
                r.u8()?;
                r.u32()?;
                r.u48()?;
                r.str8()?;
                r.str16()?;
                Ok(())
            })();
            assert_eq!(all, Err(Truncated), "cut at {cut}");
        }
        assert_eq!(Reader::new(&[2, 0xff, 0xfe]).str8(), Ok(None));
        assert_eq!(Reader::new(&[]).bytes(usize::MAX), Err(Truncated));
    }

    #[test]
    fn base64_is_strict_url_safe() {
        assert_eq!(b64(&[0xfb, 0xff]), "-_8");
        assert_eq!(unb64("-_8"), Some(vec![0xfb, 0xff]));
        assert_eq!(unb64("+/8"), None);
        assert_eq!(unb64("-_8="), None);
        assert_eq!(hex(&[0, 0xab]), "00ab");
    }

    /// The hand-written codec accepts and produces exactly what the `base64` crate's strict
    /// URL-safe, no-padding engine does: every text of up to 5 characters over the alphabet
    /// and a few outsiders, and encodings of byte strings of every length up to 64.
    #[test]
    fn base64_matches_the_base64_crate() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        let all: Vec<u8> = B64.iter().copied().chain(*b"=+/ .").collect();
        // Up to 3 characters over the whole alphabet and the outsiders; 4 and 5 over the edge
        // letters of each range and the outsiders.
        let few = b"AQPgfwz09-_=+";
        let mut texts = vec![Vec::new()];
        let mut last = vec![Vec::new()];
        for len in 1..=5 {
            let set: &[u8] = if len <= 3 { &all } else { few };
            last = last
                .iter()
                .filter(|t: &&Vec<u8>| t.iter().all(|c| few.contains(c)))
                .flat_map(|t| set.iter().map(move |&c| [t.as_slice(), &[c]].concat()))
                .collect();
            texts.extend(last.iter().cloned());
        }
        for t in &texts {
            let t = std::str::from_utf8(t).unwrap();
            assert_eq!(unb64(t), URL_SAFE_NO_PAD.decode(t).ok(), "{t:?}");
        }
        let mut bytes = Vec::new();
        for i in 0..64u32 {
            assert_eq!(b64(&bytes), URL_SAFE_NO_PAD.encode(&bytes));
            assert_eq!(unb64(&b64(&bytes)), Some(bytes.clone()));
            bytes.push((i.wrapping_mul(0x9e37_79b9) >> 13) as u8);
        }
        assert_eq!(unb64("\u{e9}"), None);
    }
}
