//! A request's query parameters as the protocol layer will read them:
//! percent-decoded (names too) and `+` as a space. Checks made in front of
//! the protocol layer read names this way, so that `X-Amz-%45xpires` is no
//! way around them.

use std::borrow::Cow;

/// Decodes one name or value of an `application/x-www-form-urlencoded`
/// query; invalid escapes are kept as they are, and so are bytes that do
/// not decode to UTF-8 (replaced, which no check matches).
pub fn decode(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The decoded `(name, value)` pairs of a query.
pub fn pairs(query: Option<&str>) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            (decode(name), decode(value))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_are_decoded() {
        let got: Vec<(String, String)> =
            pairs(Some("X-Amz-%45xpires=60&a+b=c%2Fd&flag&&bad=%zz%4"))
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect();
        assert_eq!(
            got,
            [
                ("X-Amz-Expires".into(), "60".into()),
                ("a b".into(), "c/d".into()),
                ("flag".into(), String::new()),
                ("bad".into(), "%zz%4".into()),
            ]
        );
        assert!(pairs(None).next().is_none());
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(s in "\\PC*") {
            let _ = pairs(Some(&s)).count();
        }

        #[test]
        fn encoded_text_round_trips(s in "\\PC*") {
            let encoded: String = s.bytes().map(|b| format!("%{b:02X}")).collect();
            proptest::prop_assert_eq!(decode(&encoded), s);
        }
    }
}
