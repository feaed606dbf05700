//! `Expect: 100-continue` with an empty body. hyper sends the interim
//! `100 Continue` only when the body is read, so a zero-length PUT gets its
//! final answer without one, which HTTP allows. Some HTTP stacks (botocore
//! as vendored by aws-cli 1.x) then misread the next response on that
//! connection and hang until their read timeout. Closing the connection
//! after such a request costs one reconnect and removes the hazard.

use http::HeaderMap;
use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, HeaderValue};

/// Whether the request expects a `100 Continue` it will never get.
pub fn expects_continue_without_body(headers: &HeaderMap) -> bool {
    let expects = headers
        .get(EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    let empty = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    expects && empty
}

/// Marks the response as the connection's last.
pub fn close_after(headers: &mut HeaderMap) {
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_an_empty_body_with_expect_continue_closes() {
        assert!(expects_continue_without_body(&headers(&[
            ("expect", "100-Continue"),
            ("content-length", "0"),
        ])));
        assert!(!expects_continue_without_body(&headers(&[
            ("expect", "100-continue"),
            ("content-length", "10"),
        ])));
        assert!(!expects_continue_without_body(&headers(&[(
            "content-length",
            "0"
        )])));
        assert!(!expects_continue_without_body(&headers(&[(
            "expect",
            "100-continue"
        )])));
    }
}
