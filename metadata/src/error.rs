//! The one error type that callers of the metadata service see, whether they
//! reach it through [`crate::client::MetadataClient`] or in-process.
//!
//! It is deliberately coarse: each variant is something a caller decides on
//! (answer 404, answer 409, retry, give up). The wire form is a JSON body
//! `{"code": "...", "message": "..."}` whose `code` is [`MetadataError::code`],
//! so the client rebuilds the same variant on the other side.

use http::StatusCode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("the bucket does not exist")]
    NoSuchBucket,
    #[error("the key does not exist")]
    NoSuchKey,
    /// Someone else owns a bucket of that name.
    #[error("the bucket name is taken by another owner")]
    BucketAlreadyExists,
    /// The caller already owns the bucket it tried to create.
    #[error("the bucket already exists and is owned by you")]
    BucketAlreadyOwnedByYou,
    #[error("the bucket is not empty")]
    BucketNotEmpty,
    /// No such upload under that bucket and key: never created, completed or
    /// aborted.
    #[error("the multipart upload does not exist")]
    NoSuchUpload,
    /// A part named in a completion is missing or has another ETag (or a
    /// part asked for is missing).
    #[error("one or more of the specified parts could not be found")]
    InvalidPart,
    /// A completion's part list is empty or not strictly ascending.
    #[error("the list of parts was not in ascending order")]
    InvalidPartOrder,
    /// A part other than the last is below the minimum part size.
    #[error("a proposed upload part is smaller than the minimum allowed size")]
    EntityTooSmall,
    /// A conditional write's precondition did not hold.
    #[error("the precondition on the current version did not hold")]
    PreconditionFailed,
    #[error("the user does not exist")]
    NoSuchUser,
    #[error("the user already exists")]
    UserAlreadyExists,
    /// A user is deleted only once it owns no bucket.
    #[error("the user still owns buckets; delete them or their contents first")]
    UserOwnsBuckets,
    #[error("the access key does not exist")]
    NoSuchAccessKey,
    #[error("the access key id is already in use")]
    AccessKeyExists,
    #[error("the storage node is not known")]
    NoSuchNode,
    /// A node is forgotten only once no data names a shard on it.
    #[error("{0}")]
    NodeHoldsShards(String),
    /// The caller sent something malformed; retrying the same request fails
    /// the same way.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The service could not be reached or answered 503 (transport errors,
    /// timeouts, overload). Worth retrying.
    #[error("metadata service unavailable: {0}")]
    Unavailable(String),
    /// The replica asked does not lead the single-owner work (repair
    /// planning) this request needs; it did nothing. Another replica does:
    /// the client tries the next address.
    #[error("this metadata replica does not lead repair: {0}")]
    NotLeader(String),
    /// A bug or a broken store on the metadata side.
    #[error("internal metadata error: {0}")]
    Internal(String),
}

impl MetadataError {
    /// Whether the same request may succeed if sent again later: only
    /// transport trouble and overload are. Everything else is an answer.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            MetadataError::Unavailable(_) | MetadataError::NotLeader(_)
        )
    }

    /// The stable name used in the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            MetadataError::NoSuchBucket => "NoSuchBucket",
            MetadataError::NoSuchKey => "NoSuchKey",
            MetadataError::BucketAlreadyExists => "BucketAlreadyExists",
            MetadataError::BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
            MetadataError::BucketNotEmpty => "BucketNotEmpty",
            MetadataError::NoSuchUpload => "NoSuchUpload",
            MetadataError::InvalidPart => "InvalidPart",
            MetadataError::InvalidPartOrder => "InvalidPartOrder",
            MetadataError::EntityTooSmall => "EntityTooSmall",
            MetadataError::PreconditionFailed => "PreconditionFailed",
            MetadataError::NoSuchUser => "NoSuchUser",
            MetadataError::UserAlreadyExists => "UserAlreadyExists",
            MetadataError::UserOwnsBuckets => "UserOwnsBuckets",
            MetadataError::NoSuchAccessKey => "NoSuchAccessKey",
            MetadataError::AccessKeyExists => "AccessKeyExists",
            MetadataError::NoSuchNode => "NoSuchNode",
            MetadataError::NodeHoldsShards(_) => "NodeHoldsShards",
            MetadataError::InvalidRequest(_) => "InvalidRequest",
            MetadataError::Unavailable(_) => "Unavailable",
            MetadataError::NotLeader(_) => "NotLeader",
            MetadataError::Internal(_) => "Internal",
        }
    }

    /// The HTTP status the API answers this error with.
    pub fn status(&self) -> StatusCode {
        match self {
            MetadataError::NoSuchBucket
            | MetadataError::NoSuchKey
            | MetadataError::NoSuchUpload
            | MetadataError::NoSuchUser
            | MetadataError::NoSuchAccessKey
            | MetadataError::NoSuchNode => StatusCode::NOT_FOUND,
            MetadataError::BucketAlreadyExists
            | MetadataError::BucketAlreadyOwnedByYou
            | MetadataError::BucketNotEmpty
            | MetadataError::UserAlreadyExists
            | MetadataError::UserOwnsBuckets
            | MetadataError::AccessKeyExists
            | MetadataError::NodeHoldsShards(_) => StatusCode::CONFLICT,
            MetadataError::InvalidRequest(_)
            | MetadataError::InvalidPart
            | MetadataError::InvalidPartOrder
            | MetadataError::EntityTooSmall => StatusCode::BAD_REQUEST,
            MetadataError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            MetadataError::Unavailable(_) | MetadataError::NotLeader(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            MetadataError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Rebuilds an error from its wire form (`code`, `message`) and the HTTP
    /// status it came with. Unknown codes (a newer server) fall back on the
    /// status class, so a client never mistakes an error for success.
    pub fn from_wire(status: StatusCode, code: Option<&str>, message: String) -> Self {
        match code {
            Some("NoSuchBucket") => MetadataError::NoSuchBucket,
            Some("NoSuchKey") => MetadataError::NoSuchKey,
            Some("BucketAlreadyExists") => MetadataError::BucketAlreadyExists,
            Some("BucketAlreadyOwnedByYou") => MetadataError::BucketAlreadyOwnedByYou,
            Some("BucketNotEmpty") => MetadataError::BucketNotEmpty,
            Some("NoSuchUpload") => MetadataError::NoSuchUpload,
            Some("InvalidPart") => MetadataError::InvalidPart,
            Some("InvalidPartOrder") => MetadataError::InvalidPartOrder,
            Some("EntityTooSmall") => MetadataError::EntityTooSmall,
            Some("PreconditionFailed") => MetadataError::PreconditionFailed,
            Some("NoSuchUser") => MetadataError::NoSuchUser,
            Some("UserAlreadyExists") => MetadataError::UserAlreadyExists,
            Some("UserOwnsBuckets") => MetadataError::UserOwnsBuckets,
            Some("NoSuchAccessKey") => MetadataError::NoSuchAccessKey,
            Some("AccessKeyExists") => MetadataError::AccessKeyExists,
            Some("NoSuchNode") => MetadataError::NoSuchNode,
            Some("NodeHoldsShards") => MetadataError::NodeHoldsShards(message),
            Some("InvalidRequest") => MetadataError::InvalidRequest(message),
            Some("Unavailable") => MetadataError::Unavailable(message),
            Some("NotLeader") => MetadataError::NotLeader(message),
            Some("Internal") => MetadataError::Internal(message),
            _ => match status {
                // Our cluster secret was refused: a misconfiguration on our
                // side, not the end client's fault and not worth retrying.
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    MetadataError::Internal(format!("HTTP {status}: {message}"))
                }
                StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::BAD_GATEWAY
                | StatusCode::GATEWAY_TIMEOUT
                | StatusCode::TOO_MANY_REQUESTS
                | StatusCode::REQUEST_TIMEOUT => MetadataError::Unavailable(message),
                s if s.is_client_error() => {
                    MetadataError::InvalidRequest(format!("HTTP {s}: {message}"))
                }
                s => MetadataError::Internal(format!("HTTP {s}: {message}")),
            },
        }
    }
}

/// The JSON body of every error answer of the internal API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl From<&MetadataError> for ErrorBody {
    fn from(e: &MetadataError) -> Self {
        ErrorBody {
            code: e.code().to_owned(),
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_round_trip_keeps_the_variant() {
        let all = [
            MetadataError::NoSuchBucket,
            MetadataError::NoSuchKey,
            MetadataError::BucketAlreadyExists,
            MetadataError::BucketAlreadyOwnedByYou,
            MetadataError::BucketNotEmpty,
            MetadataError::NoSuchUpload,
            MetadataError::InvalidPart,
            MetadataError::InvalidPartOrder,
            MetadataError::EntityTooSmall,
            MetadataError::PreconditionFailed,
            MetadataError::NoSuchUser,
            MetadataError::UserAlreadyExists,
            MetadataError::UserOwnsBuckets,
            MetadataError::NoSuchAccessKey,
            MetadataError::AccessKeyExists,
            MetadataError::NoSuchNode,
            MetadataError::NodeHoldsShards("x".into()),
            MetadataError::InvalidRequest("x".into()),
            MetadataError::Unavailable("x".into()),
            MetadataError::NotLeader("x".into()),
            MetadataError::Internal("x".into()),
        ];
        for e in all {
            let back = MetadataError::from_wire(e.status(), Some(e.code()), "x".into());
            assert_eq!(back, e);
            assert_eq!(
                e.is_retryable(),
                matches!(
                    e,
                    MetadataError::Unavailable(_) | MetadataError::NotLeader(_)
                )
            );
        }
    }

    #[test]
    fn unknown_codes_fall_back_on_the_status() {
        let e = MetadataError::from_wire(StatusCode::BAD_GATEWAY, None, "proxy".into());
        assert!(e.is_retryable());
        let e = MetadataError::from_wire(StatusCode::UNAUTHORIZED, None, "no".into());
        assert!(matches!(e, MetadataError::Internal(_)));
        let e = MetadataError::from_wire(StatusCode::NOT_FOUND, None, "route".into());
        assert!(matches!(e, MetadataError::InvalidRequest(_)));
        let e = MetadataError::from_wire(StatusCode::INTERNAL_SERVER_ERROR, Some("New"), "".into());
        assert!(matches!(e, MetadataError::Internal(_)));
    }
}
