//! Extractors whose refusals are our JSON errors, so a malformed body is a
//! 400 `InvalidRequest` like every other refusal, not axum's plain text.

use axum::extract::{FromRequest, FromRequestParts, Path};
use axum::http::request::Parts;

use super::error::ApiError;
use crate::error::MetadataError;
use crate::ids::BucketName;

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(super) struct ApiJson<T>(pub T);

/// A path segment parsed as an id (a bucket, a user, an access key); a bad
/// one is a 400 naming what was wrong.
pub(super) struct IdPath<T>(pub T);

/// The `{bucket}` path segment, validated.
pub(super) type BucketPath = IdPath<BucketName>;

impl<S, T> FromRequestParts<S> for IdPath<T>
where
    S: Send + Sync,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| MetadataError::InvalidRequest(e.body_text()))?;
        raw.parse()
            .map(IdPath)
            .map_err(|e| ApiError(MetadataError::InvalidRequest(format!("{e}"))))
    }
}
