//! What went wrong with a request body, as S3 names it. The protocol layer
//! (s3s) checks chunk signatures, trailer signatures and the signed payload
//! hash as the body streams, and reports a failure as an error inside the
//! body stream. Its error types are private, so the kind is recognised by
//! the stable names their messages carry; anything unrecognised is an
//! incomplete body.

use std::error::Error;

use http::StatusCode;
use s3s::{S3Error, S3ErrorCode};

/// The edge ends a streamed (`aws-chunked`) body with this error when the
/// connection closed before the final zero-length chunk: the stream was cut
/// short, whatever length it claimed.
#[derive(Debug, thiserror::Error)]
#[error("the aws-chunked body ended before its final zero-length chunk")]
pub struct MissingFinalChunk;

/// The S3 error for a body that failed while streaming.
pub fn s3_error_of(source: &(dyn Error + Send + Sync + 'static)) -> S3Error {
    let mut next: Option<&(dyn Error + 'static)> = Some(source);
    while let Some(e) = next {
        if let Some(s3) = e.downcast_ref::<S3Error>() {
            let mut out = S3Error::new(s3.code().clone());
            if let Some(msg) = s3.message() {
                out.set_message(msg.to_owned());
            }
            return out;
        }
        if e.is::<MissingFinalChunk>() {
            return incomplete();
        }
        let text = e.to_string();
        if text.contains("SignatureMismatch") {
            return S3Error::with_message(
                S3ErrorCode::SignatureDoesNotMatch,
                "The request signature we calculated does not match the signature you provided.",
            );
        }
        if text.contains("Sha256Mismatch") {
            let mut out = S3Error::with_message(
                S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            );
            out.set_status_code(StatusCode::BAD_REQUEST);
            return out;
        }
        next = e.source();
    }
    incomplete()
}

fn incomplete() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::IncompleteBody,
        "The request body ended before all of it was received.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("AwsChunkedStreamError: SignatureMismatch")]
    struct LikeChunkError;

    #[derive(Debug, thiserror::Error)]
    #[error("wrapped")]
    struct Wrapper(#[source] Box<dyn Error + Send + Sync>);

    #[test]
    fn kinds_are_found_anywhere_in_the_chain() {
        let e = Wrapper(Box::new(LikeChunkError));
        assert_eq!(s3_error_of(&e).code(), &S3ErrorCode::SignatureDoesNotMatch);
        let e = Wrapper(Box::new(MissingFinalChunk));
        assert_eq!(s3_error_of(&e).code(), &S3ErrorCode::IncompleteBody);
        let e = std::io::Error::other("UploadStreamError: Sha256Mismatch");
        let out = s3_error_of(&e);
        assert_eq!(out.code().as_str(), "XAmzContentSHA256Mismatch");
        assert_eq!(out.status_code(), Some(StatusCode::BAD_REQUEST));
        let e = std::io::Error::other("connection reset");
        assert_eq!(s3_error_of(&e).code(), &S3ErrorCode::IncompleteBody);
    }
}
