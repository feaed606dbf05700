//! Requests refused from their head alone, before the protocol layer reads
//! any of their body or looks up any key:
//!
//! - **Signature Version 2**, in a header or a query string. It has no
//!   clock check in header form (a captured request replays forever), does
//!   not sign the body, and presigned V2 URLs escape the seven-day cap. S3
//!   has refused it in every region opened since 2014; so do we, with S3's
//!   answer for it.
//! - **Browser form uploads** (POST Object). The protocol layer reads a
//!   form's whole file part before access is checked, so an anonymous form
//!   could fill memory. Until form uploads stream into the striped writer
//!   with their policy enforced, every form is refused before its body.
//! - **Response overrides on anonymous requests** (`response-content-type`
//!   and the like): they would let anyone serve a public object as a web
//!   page of our origin. S3 refuses them the same way.

use http::{HeaderMap, Method};
use s3s::{S3Error, S3ErrorCode};

use crate::query;

/// Why a request is refused before the protocol layer runs, if it is.
pub fn refuse(method: &Method, headers: &HeaderMap, query: Option<&str>) -> Option<S3Error> {
    if signed_with_v2(headers, query) {
        return Some(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        ));
    }
    if *method == Method::POST && is_form(headers) {
        return Some(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "Browser form uploads (POST Object) are not supported; upload with PUT or a presigned PUT URL.",
        ));
    }
    if is_anonymous(headers, query)
        && query::pairs(query).any(|(name, _)| has_prefix(&name, "response-"))
    {
        return Some(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Request specific response headers cannot be used for anonymous GET requests.",
        ));
    }
    None
}

fn has_prefix(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn authorization(headers: &HeaderMap) -> Option<&[u8]> {
    headers
        .get(http::header::AUTHORIZATION)
        .map(|v| v.as_bytes())
}

/// `Authorization: AWS key:signature`, or `Signature` / `AWSAccessKeyId`
/// in the query (the names the protocol layer reads V2 by).
fn signed_with_v2(headers: &HeaderMap, query: Option<&str>) -> bool {
    if authorization(headers).is_some_and(|v| v.starts_with(b"AWS ")) {
        return true;
    }
    query::pairs(query).any(|(name, _)| name == "Signature" || name == "AWSAccessKeyId")
}

fn is_form(headers: &HeaderMap) -> bool {
    headers.get(http::header::CONTENT_TYPE).is_some_and(|v| {
        has_prefix(
            &String::from_utf8_lossy(v.as_bytes()),
            "multipart/form-data",
        )
    })
}

/// No signature in the header or the query. (A request that only claims
/// one is not anonymous here; the protocol layer checks the claim.)
pub fn is_anonymous(headers: &HeaderMap, query: Option<&str>) -> bool {
    authorization(headers).is_none()
        && !query::pairs(query).any(|(name, _)| {
            name.eq_ignore_ascii_case("X-Amz-Signature")
                || name.eq_ignore_ascii_case("X-Amz-Credential")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn code(
        method: Method,
        h: &[(&'static str, &'static str)],
        q: Option<&str>,
    ) -> Option<S3ErrorCode> {
        refuse(&method, &headers(h), q).map(|e| e.code().clone())
    }

    #[test]
    fn sigv2_is_refused_in_every_form() {
        let v2 = [(
            "authorization",
            "AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
        )];
        assert_eq!(
            code(Method::GET, &v2, None),
            Some(S3ErrorCode::InvalidRequest)
        );
        for q in [
            "AWSAccessKeyId=AKID&Expires=1&Signature=abc",
            "%53ignature=abc",
            "Signature=abc",
        ] {
            assert_eq!(
                code(Method::GET, &[], Some(q)),
                Some(S3ErrorCode::InvalidRequest),
                "{q}"
            );
        }
        let v4 = [(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20261207/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
        )];
        assert_eq!(code(Method::GET, &v4, None), None);
        assert_eq!(
            code(
                Method::GET,
                &[],
                Some("X-Amz-Signature=00&X-Amz-Credential=a")
            ),
            None
        );
    }

    #[test]
    fn forms_are_refused_before_their_body() {
        let form = [("content-type", "Multipart/Form-Data; boundary=x")];
        assert_eq!(
            code(Method::POST, &form, None),
            Some(S3ErrorCode::NotImplemented)
        );
        assert_eq!(code(Method::PUT, &form, None), None);
        assert_eq!(
            code(
                Method::POST,
                &[("content-type", "application/xml")],
                Some("delete")
            ),
            None
        );
    }

    #[test]
    fn anonymous_requests_may_not_override_the_response() {
        for q in [
            "response-content-type=text/html",
            "Response-Content-Disposition=inline",
            "x=1&response%2Dcontent-type=text/html",
        ] {
            assert_eq!(
                code(Method::GET, &[], Some(q)),
                Some(S3ErrorCode::InvalidRequest),
                "{q}"
            );
        }
        // Signed requests (presigned URLs above all) may.
        assert_eq!(
            code(
                Method::GET,
                &[],
                Some("X-Amz-Credential=a&X-Amz-Signature=0&response-content-type=text/plain")
            ),
            None
        );
        assert_eq!(code(Method::GET, &[], Some("versionId=null")), None);
    }
}
