//! `EncodingType=url` in listings: keys (and prefixes, markers, delimiters)
//! come back percent-encoded, so that keys with characters XML cannot carry,
//! or that clients would otherwise mangle (aws-cli decodes with
//! `unquote_plus`, turning a raw `+` into a space), survive the round trip.

use s3s::dto::EncodingType;

/// Whether the request asked for URL-encoded names.
pub fn wanted(encoding: Option<&EncodingType>) -> bool {
    encoding.is_some_and(|e| e.as_str().eq_ignore_ascii_case(EncodingType::URL))
}

/// Percent-encodes every byte but RFC 3986's unreserved characters and `/`.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Applies [`encode`] when `on`.
pub fn maybe(on: bool, s: String) -> String {
    if on { encode(&s) } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }

    #[test]
    fn examples() {
        assert_eq!(encode("a b+c/ü&%"), "a%20b%2Bc/%C3%BC%26%25");
        assert_eq!(encode("plain/key-1.mp4"), "plain/key-1.mp4");
    }

    proptest! {
        #[test]
        fn round_trips(s in "\\PC{0,40}") {
            let e = encode(&s);
            prop_assert!(e.bytes().all(|b| b.is_ascii() && b != b'+' && b != b' '));
            prop_assert_eq!(decode(&e), s.as_bytes());
        }
    }
}
