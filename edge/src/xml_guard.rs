//! XML request bodies with a document type declaration are refused before
//! they reach the parser. The protocol layer's parser never expands
//! entities, but it does skip a DOCTYPE and accept the document; S3 has no
//! use for either, and a body that declares one is hostile or broken. Only
//! the small XML bodies of configuration and control requests are read
//! here (never object data), with the same size limit the parser applies.

use bytes::Bytes;
use gateway::virtual_host::VirtualHostDomains;
use http::{HeaderMap, Method, Uri};
use s3s::{S3Error, S3ErrorCode};

/// The protocol layer's own limit on an XML body.
pub const MAX_XML_BODY: usize = 20 << 20;

/// Subresources whose PUT carries an XML document.
const XML_PUT_SUBRESOURCES: [&str; 21] = [
    "acl",
    "cors",
    "tagging",
    "lifecycle",
    "versioning",
    "website",
    "replication",
    "notification",
    "encryption",
    "logging",
    "ownershipControls",
    "publicAccessBlock",
    "accelerate",
    "requestPayment",
    "object-lock",
    "legal-hold",
    "retention",
    "intelligent-tiering",
    "inventory",
    "analytics",
    "metrics",
];

/// Subresources whose POST carries an XML document (DeleteObjects,
/// CompleteMultipartUpload, RestoreObject, SelectObjectContent).
const XML_POST_SUBRESOURCES: [&str; 4] = ["delete", "uploadId", "restore", "select"];

fn has_subresource(uri: &Uri, names: &[&str]) -> bool {
    uri.query().is_some_and(|q| {
        q.split('&')
            .map(|pair| pair.split_once('=').map_or(pair, |(k, _)| k))
            .any(|k| names.contains(&k))
    })
}

/// Whether the request's body is an XML document the protocol layer will
/// parse. Object data (PutObject, UploadPart) never is.
pub fn carries_xml(
    hosts: &VirtualHostDomains,
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
) -> bool {
    if *method == Method::POST {
        return has_subresource(uri, &XML_POST_SUBRESOURCES);
    }
    if *method != Method::PUT {
        return false;
    }
    if has_subresource(uri, &XML_PUT_SUBRESOURCES) {
        return true;
    }
    // CreateBucket: a PUT naming a bucket and no key, with no subresource.
    if uri.query().is_some_and(|q| !q.is_empty()) {
        return false;
    }
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let path = uri.path().trim_start_matches('/');
    match host.and_then(|h| hosts.bucket_of_host(h)) {
        Some(_) => path.is_empty(),
        None => !path.trim_end_matches('/').contains('/') && !path.is_empty(),
    }
}

/// Reads an XML request body whole and checks it; the request goes on with
/// the same bytes.
pub async fn screen(
    hosts: &VirtualHostDomains,
    mut req: s3s::HttpRequest,
) -> Result<s3s::HttpRequest, S3Error> {
    if !carries_xml(hosts, req.method(), req.headers(), req.uri()) {
        return Ok(req);
    }
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_XML_BODY as u64) {
        return Err(S3Error::with_message(
            S3ErrorCode::MaxMessageLengthExceeded,
            "Your request was too big.",
        ));
    }
    let mut body = std::mem::replace(req.body_mut(), s3s::Body::empty());
    let bytes = body.store_all_limited(MAX_XML_BODY).await.map_err(|_| {
        S3Error::with_message(
            S3ErrorCode::IncompleteBody,
            "The request body could not be read whole.",
        )
    })?;
    check(&bytes)?;
    *req.body_mut() = s3s::Body::from(bytes);
    Ok(req)
}

/// `Err` with the S3 error for a body that declares a document type or an
/// entity.
pub fn check(body: &Bytes) -> Result<(), S3Error> {
    let declares = body
        .windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"<!DOCTYPE") || w[..8].eq_ignore_ascii_case(b"<!ENTITY"));
    if declares {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xml(method: Method, uri: &str, host: &str) -> bool {
        let hosts = VirtualHostDomains::new(&["s3.example.com".into()]).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, host.parse().unwrap());
        carries_xml(&hosts, &method, &headers, &uri.parse().unwrap())
    }

    #[test]
    fn only_control_documents_are_read() {
        assert!(xml(Method::POST, "/b?delete", "127.0.0.1:9000"));
        assert!(xml(Method::POST, "/b/k?uploadId=abc", "127.0.0.1:9000"));
        assert!(xml(Method::PUT, "/b?cors", "127.0.0.1:9000"));
        assert!(xml(Method::PUT, "/b/k?tagging", "127.0.0.1:9000"));
        assert!(xml(Method::PUT, "/b", "127.0.0.1:9000"));
        assert!(xml(Method::PUT, "/b/", "127.0.0.1:9000"));
        assert!(xml(Method::PUT, "/", "b.s3.example.com"));
        // Object data and uploads are never buffered.
        assert!(!xml(Method::PUT, "/b/k", "127.0.0.1:9000"));
        assert!(!xml(Method::PUT, "/k", "b.s3.example.com"));
        assert!(!xml(
            Method::PUT,
            "/b/k?partNumber=1&uploadId=x",
            "127.0.0.1:9000"
        ));
        assert!(!xml(Method::POST, "/b/k?uploads", "127.0.0.1:9000"));
        assert!(!xml(Method::POST, "/b", "127.0.0.1:9000"));
        assert!(!xml(Method::GET, "/b?cors", "127.0.0.1:9000"));
    }

    #[test]
    fn declarations_are_refused() {
        assert!(
            check(&Bytes::from_static(
                b"<Delete><Object><Key>a</Key></Object></Delete>"
            ))
            .is_ok()
        );
        for bad in [
            "<?xml version=\"1.0\"?><!DOCTYPE Delete><Delete/>",
            "<!doctype x [<!ENTITY a \"b\">]><Delete/>",
            "<Delete><!ENTITY a \"b\"></Delete>",
        ] {
            assert_eq!(
                check(&Bytes::from(bad)).unwrap_err().code(),
                &S3ErrorCode::MalformedXML,
                "{bad}"
            );
        }
    }
}
