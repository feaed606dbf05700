//! XML request bodies with a document type declaration are refused. The
//! protocol layer's parser never expands entities, but it does skip a
//! DOCTYPE and accept the document; S3 has no use for either, and a body
//! that declares one is hostile or broken.
//!
//! Nothing is read here: the body of a control request (configuration,
//! DeleteObjects, CompleteMultipartUpload) is wrapped in a [`DeclarationGuard`]
//! that watches the bytes as the protocol layer reads them, which it does
//! only after the signature and access checks, and up to the cap on control
//! documents ([`gateway::MAX_CONTROL_DOCUMENT`]). A declaration ends the read
//! with an error and marks the request, whose answer becomes `MalformedXML`.
//! Object data is never wrapped.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use gateway::virtual_host::VirtualHostDomains;
use http::{HeaderMap, Method, Uri};
use http_body::{Body, Frame, SizeHint};
use listener::BoxError;
use s3s::{S3Error, S3ErrorCode};

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

/// The two declarations refused, upper case.
const DECLARATIONS: [&[u8]; 2] = [b"<!DOCTYPE", b"<!ENTITY"];

/// Bytes kept from one chunk to the next, so that a declaration split
/// across chunks is still seen.
const CARRY: usize = 8;

/// Whether `bytes` holds a declaration, in any letter case.
pub fn declares(bytes: &[u8]) -> bool {
    DECLARATIONS
        .iter()
        .any(|d| bytes.windows(d.len()).any(|w| w.eq_ignore_ascii_case(d)))
}

/// The MalformedXML error S3 gives for a document it will not parse.
pub fn malformed() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema.",
    )
}

/// The error a guarded body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the XML document declares a document type or an entity")]
pub struct Declared;

/// A control request's body, watched for declarations as it is read.
pub struct DeclarationGuard<B> {
    inner: B,
    carry: Vec<u8>,
    tripped: Arc<AtomicBool>,
}

impl<B> DeclarationGuard<B> {
    /// The guard and the flag it raises.
    pub fn new(inner: B) -> (Self, Arc<AtomicBool>) {
        let tripped = Arc::new(AtomicBool::new(false));
        let guard = DeclarationGuard {
            inner,
            carry: Vec::with_capacity(2 * CARRY),
            tripped: tripped.clone(),
        };
        (guard, tripped)
    }

    pub(crate) fn sees_declaration(&mut self, chunk: &[u8]) -> bool {
        let head = &chunk[..chunk.len().min(CARRY)];
        self.carry.extend_from_slice(head);
        let found = declares(&self.carry) || declares(chunk);
        let keep_from = chunk.len().saturating_sub(CARRY);
        if chunk.len() >= CARRY {
            self.carry.clear();
            self.carry.extend_from_slice(&chunk[keep_from..]);
        } else {
            let drop = self.carry.len().saturating_sub(CARRY);
            self.carry.drain(..drop);
        }
        found
    }
}

impl<B> Body for DeclarationGuard<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.tripped.load(Ordering::Relaxed) {
            return Poll::Ready(Some(Err(Box::new(Declared))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && this.sees_declaration(data)
                {
                    this.tripped.store(true, Ordering::Relaxed);
                    return Poll::Ready(Some(Err(Box::new(Declared))));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A control document declared larger than the cap is refused from its
/// head alone.
pub fn check_declared_length(headers: &HeaderMap) -> Result<(), S3Error> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > gateway::MAX_CONTROL_DOCUMENT as u64) {
        return Err(S3Error::with_message(
            S3ErrorCode::MaxMessageLengthExceeded,
            "Your request was too big.",
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
    fn declarations_are_seen() {
        assert!(!declares(b"<Delete><Object><Key>a</Key></Object></Delete>"));
        for bad in [
            "<?xml version=\"1.0\"?><!DOCTYPE Delete><Delete/>",
            "<!doctype x [<!ENTITY a \"b\">]><Delete/>",
            "<Delete><!ENTITY a \"b\"></Delete>",
        ] {
            assert!(declares(bad.as_bytes()), "{bad}");
        }
    }

    /// Feeds `doc` to a guard in chunks of `size` and says whether it tripped.
    fn guard_trips(doc: &[u8], size: usize) -> bool {
        let (mut guard, tripped) = DeclarationGuard::new(http_body_util::Empty::<Bytes>::new());
        let mut seen = false;
        for chunk in doc.chunks(size.max(1)) {
            seen |= guard.sees_declaration(chunk);
        }
        let _ = tripped;
        seen
    }

    #[test]
    fn declarations_split_across_chunks_are_seen() {
        let doc = b"<?xml version=\"1.0\"?><!DOCTYPE Delete [<!ENTITY x \"y\">]><Delete/>";
        for size in 1..doc.len() {
            assert!(guard_trips(doc, size), "chunks of {size}");
        }
        let clean = b"<Delete><Object><Key>DOCTYPE ENTITY <! </Key></Object></Delete>";
        for size in 1..clean.len() {
            assert!(!guard_trips(clean, size), "chunks of {size}");
        }
    }

    proptest::proptest! {
        /// Chunking never changes the verdict.
        #[test]
        fn the_verdict_does_not_depend_on_chunks(
            prefix in "[a-zA-Z<>!/ ]{0,40}",
            declared in proptest::bool::ANY,
            suffix in "[a-zA-Z<>!/ ]{0,40}",
            size in 1usize..20,
        ) {
            let mut doc = prefix.into_bytes();
            if declared {
                doc.extend_from_slice(b"<!dOcTyPe");
            }
            doc.extend_from_slice(suffix.as_bytes());
            proptest::prop_assert_eq!(guard_trips(&doc, size), declares(&doc));
        }
    }
}
