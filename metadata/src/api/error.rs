//! The API's error answer: a [`MetadataError`] as `{"code", "message"}` with
//! its status. Internal details are logged in the request span, not sent.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};

use crate::error::{ErrorBody, MetadataError};
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError(pub MetadataError);

impl From<MetadataError> for ApiError {
    fn from(e: MetadataError) -> Self {
        ApiError(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError(MetadataError::from(e))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError(MetadataError::InvalidRequest(e.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let body = match &self.0 {
            MetadataError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                ErrorBody {
                    code: self.0.code().to_owned(),
                    message: "internal error; see the metadata service's log".to_owned(),
                }
            }
            MetadataError::Unavailable(detail) => {
                tracing::warn!(%detail, "unavailable");
                ErrorBody::from(&self.0)
            }
            other => {
                tracing::debug!(error = %other, "refused");
                ErrorBody::from(other)
            }
        };
        (status, Json(body)).into_response()
    }
}

impl From<StoreError> for MetadataError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSuchBucket => MetadataError::NoSuchBucket,
            // Callers that know the requester turn this into "owned by you".
            StoreError::BucketAlreadyExists { .. } => MetadataError::BucketAlreadyExists,
            StoreError::BucketNotEmpty => MetadataError::BucketNotEmpty,
            StoreError::VersionInUse => MetadataError::InvalidRequest(e.to_string()),
            StoreError::NoSuchUpload => MetadataError::NoSuchUpload,
            // S3's answers for these carry no detail; the store's is logged.
            StoreError::InvalidPart(_) => {
                tracing::debug!(error = %e, "completion refused");
                MetadataError::InvalidPart
            }
            StoreError::InvalidPartOrder => MetadataError::InvalidPartOrder,
            StoreError::PreconditionFailed => MetadataError::PreconditionFailed,
            StoreError::NoSuchKey => MetadataError::NoSuchKey,
            StoreError::EntityTooSmall { .. } => {
                tracing::debug!(error = %e, "completion refused");
                MetadataError::EntityTooSmall
            }
            StoreError::NoSuchUser => MetadataError::NoSuchUser,
            StoreError::UserAlreadyExists => MetadataError::UserAlreadyExists,
            StoreError::UserOwnsBuckets => MetadataError::UserOwnsBuckets,
            StoreError::NoSuchAccessKey => MetadataError::NoSuchAccessKey,
            StoreError::AccessKeyExists => MetadataError::AccessKeyExists,
            StoreError::NoSuchNode => MetadataError::NoSuchNode,
            StoreError::NodeHoldsShards { .. } => MetadataError::NodeHoldsShards(e.to_string()),
            StoreError::Invalid(msg) => MetadataError::InvalidRequest(msg),
            StoreError::Closed | StoreError::ShardsCollected => {
                MetadataError::Unavailable(e.to_string())
            }
            StoreError::Backend(_) | StoreError::Corrupt(_) => {
                MetadataError::Internal(e.to_string())
            }
        }
    }
}
