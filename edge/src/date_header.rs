//! S3 accepts a SigV4 request whose timestamp is the standard `Date` header
//! instead of `x-amz-date` (the signature then covers `date`, and the string
//! to sign carries the same instant in ISO 8601 basic form). s3s only reads
//! `x-amz-date`, so when a signed request has no `x-amz-date` we derive it
//! from `Date`. The signature is unaffected: `x-amz-date` is not among the
//! headers the client signed, and its value is exactly the timestamp the
//! client put in its string to sign.

use http::{HeaderMap, HeaderValue};

const X_AMZ_DATE: &str = "x-amz-date";

/// Adds `x-amz-date` derived from `Date` to a SigV4 header-signed request
/// that lacks it. Anything else is left untouched, and an unparsable `Date`
/// is left for the protocol layer to refuse.
pub fn fill_amz_date(headers: &mut HeaderMap) {
    let sigv4 = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 "));
    if !sigv4 || headers.contains_key(X_AMZ_DATE) {
        return;
    }
    let Some(date) = headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    else {
        return;
    };
    let t = time::OffsetDateTime::from(date);
    let amz = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if let Ok(v) = HeaderValue::from_str(&amz) {
        headers.insert(X_AMZ_DATE, v);
    }
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
    fn derives_x_amz_date_only_when_needed() {
        let mut h = headers(&[
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=a/20261124/us-east-1/s3/aws4_request, SignedHeaders=date;host, Signature=00",
            ),
            ("date", "Tue, 24 Nov 2026 02:03:04 GMT"),
        ]);
        fill_amz_date(&mut h);
        assert_eq!(h.get("x-amz-date").unwrap(), "20261124T020304Z");

        let mut kept = headers(&[
            ("authorization", "AWS4-HMAC-SHA256 x"),
            ("date", "Tue, 24 Nov 2026 02:03:04 GMT"),
            ("x-amz-date", "20260101T000000Z"),
        ]);
        fill_amz_date(&mut kept);
        assert_eq!(kept.get("x-amz-date").unwrap(), "20260101T000000Z");

        let mut unsigned = headers(&[("date", "Tue, 24 Nov 2026 02:03:04 GMT")]);
        fill_amz_date(&mut unsigned);
        assert!(unsigned.get("x-amz-date").is_none());

        let mut garbage = headers(&[
            ("authorization", "AWS4-HMAC-SHA256 x"),
            ("date", "yesterday"),
        ]);
        fill_amz_date(&mut garbage);
        assert!(garbage.get("x-amz-date").is_none());
    }
}
