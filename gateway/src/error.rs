//! The gateway's error type and its one mapping to S3 errors. Internal detail
//! (which node, which shard) goes to the log in the request's span; the client
//! gets the S3 code, status and a short message.

use metadata::error::MetadataError;
use metadata::placement::PlacementError;
use s3s::{S3Error, S3ErrorCode};
use storage_node::client::ShardError;
use storage_node::codec::CodecError;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error("not enough storage nodes up with room: {0}")]
    Placement(#[from] PlacementError),
    #[error("could not write shard {shard} of stripe {stripe}: {source}")]
    ShardWrite {
        stripe: usize,
        shard: usize,
        source: ShardError,
    },
    #[error(
        "stripe {stripe} is unreadable: {available} of the {needed} shards needed could be read"
    )]
    Unreadable {
        stripe: usize,
        available: usize,
        needed: usize,
    },
    #[error("request body ended after {got} of {expected} bytes")]
    IncompleteBody { got: u64, expected: u64 },
    #[error("request body is longer than the declared {expected} bytes")]
    BodyTooLong { expected: u64 },
    /// Over one of S3's size limits ([`crate::limits`]).
    #[error("the upload is larger than the {max} bytes allowed")]
    EntityTooLarge { max: u64 },
    #[error("request body: {0}")]
    Body(#[source] s3s::StdError),
    #[error("the Content-MD5 did not match the body")]
    BadDigest,
    #[error("access denied")]
    AccessDenied,
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("internal: {0}")]
    Internal(String),
}

impl GatewayError {
    /// Whether the fault lies with the client's request rather than the cluster.
    pub fn is_client_fault(&self) -> bool {
        matches!(
            self,
            GatewayError::IncompleteBody { .. }
                | GatewayError::BodyTooLong { .. }
                | GatewayError::EntityTooLarge { .. }
                | GatewayError::Body(_)
                | GatewayError::BadDigest
                | GatewayError::AccessDenied
        ) || matches!(
            self,
            GatewayError::Metadata(
                MetadataError::NoSuchBucket
                    | MetadataError::NoSuchKey
                    | MetadataError::BucketAlreadyExists
                    | MetadataError::BucketAlreadyOwnedByYou
                    | MetadataError::BucketNotEmpty
                    | MetadataError::InvalidRequest(_)
                    | MetadataError::NoSuchUpload
                    | MetadataError::InvalidPart
                    | MetadataError::InvalidPartOrder
                    | MetadataError::EntityTooSmall
                    | MetadataError::PreconditionFailed
            )
        )
    }
}

impl From<GatewayError> for S3Error {
    fn from(err: GatewayError) -> S3Error {
        if err.is_client_fault() {
            tracing::debug!(error = %err, "request refused");
        } else {
            tracing::warn!(error = %err, "request failed");
        }
        use S3ErrorCode as C;
        let (code, message): (C, &'static str) = match &err {
            GatewayError::Metadata(m) => match m {
                MetadataError::NoSuchBucket => {
                    (C::NoSuchBucket, "The specified bucket does not exist.")
                }
                MetadataError::NoSuchKey => (C::NoSuchKey, "The specified key does not exist."),
                MetadataError::BucketAlreadyExists => (
                    C::BucketAlreadyExists,
                    "The requested bucket name is not available.",
                ),
                MetadataError::BucketAlreadyOwnedByYou => (
                    C::BucketAlreadyOwnedByYou,
                    "Your previous request to create the named bucket succeeded and you already own it.",
                ),
                MetadataError::BucketNotEmpty => (
                    C::BucketNotEmpty,
                    "The bucket you tried to delete is not empty.",
                ),
                MetadataError::InvalidRequest(_) => (C::InvalidRequest, "Invalid request."),
                MetadataError::NoSuchUpload => (
                    C::NoSuchUpload,
                    "The specified multipart upload does not exist.",
                ),
                MetadataError::InvalidPart => (
                    C::InvalidPart,
                    "One or more of the specified parts could not be found or its entity tag did not match.",
                ),
                MetadataError::InvalidPartOrder => (
                    C::InvalidPartOrder,
                    "The list of parts was not in ascending order.",
                ),
                MetadataError::PreconditionFailed => (
                    C::PreconditionFailed,
                    "At least one of the preconditions you specified did not hold.",
                ),
                MetadataError::EntityTooSmall => (
                    C::EntityTooSmall,
                    "Your proposed upload is smaller than the minimum allowed object size.",
                ),
                MetadataError::Unavailable(_) => (
                    C::ServiceUnavailable,
                    "The metadata service is unavailable; please retry.",
                ),
                _ => (
                    C::InternalError,
                    "We encountered an internal error. Please try again.",
                ),
            },
            GatewayError::Placement(_) | GatewayError::ShardWrite { .. } => (
                C::ServiceUnavailable,
                "Not enough storage nodes with free space are available to store the object; please retry.",
            ),
            GatewayError::Unreadable { .. } => (
                C::ServiceUnavailable,
                "Too many storage nodes holding this object are unavailable; please retry.",
            ),
            GatewayError::IncompleteBody { .. } => (
                C::IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header.",
            ),
            // Only a streamed body can run past its declared (decoded)
            // length; S3 calls that an incomplete body too.
            GatewayError::BodyTooLong { .. } => (
                C::IncompleteBody,
                "The request body is longer than its declared x-amz-decoded-content-length.",
            ),
            GatewayError::EntityTooLarge { .. } => (
                C::EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed object size.",
            ),
            GatewayError::Body(source) => return crate::body_error::s3_error_of(source.as_ref()),
            GatewayError::BadDigest => (
                C::BadDigest,
                "The Content-MD5 you specified did not match what we received.",
            ),
            GatewayError::AccessDenied => (C::AccessDenied, "Access Denied"),
            GatewayError::Codec(_) | GatewayError::Internal(_) => (
                C::InternalError,
                "We encountered an internal error. Please try again.",
            ),
        };
        S3Error::with_message(code, message)
    }
}
