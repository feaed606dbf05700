//! `If-Range` (RFC 9110 13.1.5): "send me this range if the object is still
//! the version I hold, else the whole current object". Browsers and CDNs
//! send it to resume a video or a download. s3s and S3's API know nothing of
//! it, and ignoring it is the one wrong answer: the client would splice
//! bytes of a new version onto an old one.
//!
//! The edge folds it into the conditions the gateway already decides from
//! metadata alone: a strong entity tag becomes `If-Match`, a date becomes
//! `If-Unmodified-Since` (versions only ever get later dates, so "not
//! modified since" names the same version as "modified exactly then"). If
//! that fails with 412, the request is sent again without its range, and
//! the client gets `200` with the whole current object. A weak tag never
//! matches (strong comparison is required), so it gets the whole object at
//! once.

use http::header::{AUTHORIZATION, IF_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE, RANGE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use s3s::service::S3Service;
use s3s::{HttpError, HttpRequest, HttpResponse};

/// What an `If-Range` value asks for.
#[derive(Debug, PartialEq, Eq)]
enum Validator {
    /// A strong entity tag, quotes included.
    Strong(HeaderValue),
    /// An HTTP date (`Last-Modified` as the client saw it).
    Date(HeaderValue),
    /// A weak tag or garbage: it cannot match.
    Never,
}

fn parse(value: &HeaderValue) -> Validator {
    let bytes = value.as_bytes();
    if bytes.len() >= 2 && bytes.starts_with(b"\"") && bytes.ends_with(b"\"") {
        Validator::Strong(value.clone())
    } else if value
        .to_str()
        .is_ok_and(|s| httpdate::parse_http_date(s).is_ok())
    {
        Validator::Date(value.clone())
    } else {
        Validator::Never
    }
}

/// The kind of validator an `If-Range` value is, for `crate::parsers`.
pub(crate) fn validator_kind(value: &HeaderValue) -> &'static str {
    match parse(value) {
        Validator::Strong(_) => "strong",
        Validator::Date(_) => "date",
        Validator::Never => "never",
    }
}

/// Whether the request's signature covers `Range` (header-signed SigV4),
/// so that the request cannot be sent again without it.
pub(crate) fn range_is_signed(headers: &HeaderMap) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("SignedHeaders=").nth(1))
        .and_then(|rest| rest.split(',').next())
        .is_some_and(|signed| signed.split(';').any(|h| h.eq_ignore_ascii_case("range")))
}

/// Serves `req` through s3s, honouring `If-Range` on a ranged GET.
pub async fn call(s3: &S3Service, mut req: HttpRequest) -> Result<HttpResponse, HttpError> {
    let Some(if_range) = req.headers_mut().remove(IF_RANGE) else {
        return s3.call(req).await;
    };
    // Without a range (or on anything but GET) If-Range means nothing; a
    // client with preconditions of its own has them decided as sent.
    let headers = req.headers();
    if req.method() != Method::GET
        || !headers.contains_key(RANGE)
        || headers.contains_key(IF_MATCH)
        || headers.contains_key(IF_UNMODIFIED_SINCE)
    {
        return s3.call(req).await;
    }
    let signed_range = range_is_signed(headers);
    let whole = |req: &HttpRequest| {
        let mut again = HttpRequest::new(s3s::Body::empty());
        *again.method_mut() = req.method().clone();
        *again.uri_mut() = req.uri().clone();
        *again.version_mut() = req.version();
        *again.headers_mut() = req.headers().clone();
        again.headers_mut().remove(RANGE);
        again.headers_mut().remove(IF_MATCH);
        again.headers_mut().remove(IF_UNMODIFIED_SINCE);
        again
    };
    let condition = match parse(&if_range) {
        Validator::Strong(tag) => (IF_MATCH, tag),
        Validator::Date(date) => (IF_UNMODIFIED_SINCE, date),
        Validator::Never if signed_range => return s3.call(req).await,
        Validator::Never => return s3.call(whole(&req)).await,
    };
    // A GET has no body; what is kept for a second try is its head.
    let retry = whole(&req);
    req.headers_mut().insert(condition.0, condition.1);
    let resp = s3.call(req).await?;
    // Without the range the signature would no longer verify; such a client
    // (no SDK sends If-Range) gets the 412 rather than a spliced body.
    if resp.status() == StatusCode::PRECONDITION_FAILED && !signed_range {
        return s3.call(retry).await;
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators() {
        let v = |s: &'static str| parse(&HeaderValue::from_static(s));
        assert!(matches!(v("\"abc\""), Validator::Strong(_)));
        assert!(matches!(
            v("Tue, 24 Nov 2026 08:00:00 GMT"),
            Validator::Date(_)
        ));
        assert_eq!(v("W/\"abc\""), Validator::Never);
        assert_eq!(v("yesterday"), Validator::Never);
        assert_eq!(v("\""), Validator::Never);
    }

    #[test]
    fn signed_range() {
        let mut h = HeaderMap::new();
        assert!(!range_is_signed(&h));
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/s3/aws4_request, \
                 SignedHeaders=host;range;x-amz-date, Signature=00",
            ),
        );
        assert!(range_is_signed(&h));
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/s3/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=00",
            ),
        );
        assert!(!range_is_signed(&h));
    }
}
