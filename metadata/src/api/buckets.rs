//! `/v1/buckets`: create, read, list, delete.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{ApiJson, BucketPath, IdPath};
use super::{ApiError, AppState, validate};
use crate::error::MetadataError;
use crate::model::{BucketInfo, BucketUpdate, now_unix_ms};
use crate::store::StoreError;
use crate::wire::{CreateBucketRequest, ListBucketsResponse};

pub(super) async fn handle_create_bucket(
    State(state): State<AppState>,
    IdPath(name): BucketPath,
    ApiJson(req): ApiJson<CreateBucketRequest>,
) -> Result<Json<BucketInfo>, ApiError> {
    validate::owner(&req.owner)?;
    let info = BucketInfo {
        public_read: req.public_read,
        ..BucketInfo::new(name, req.owner, now_unix_ms())
    };
    match state.store.create_bucket(info.clone()).await {
        Ok(()) => {
            tracing::info!(bucket = %info.name, owner = %info.owner, "bucket created");
            Ok(Json(info))
        }
        Err(StoreError::BucketAlreadyExists { owner }) if owner == info.owner => {
            Err(MetadataError::BucketAlreadyOwnedByYou.into())
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn handle_get_bucket(
    State(state): State<AppState>,
    IdPath(name): BucketPath,
) -> Result<Json<BucketInfo>, ApiError> {
    state
        .store
        .get_bucket(&name)
        .await?
        .map(Json)
        .ok_or(ApiError(MetadataError::NoSuchBucket))
}

pub(super) async fn handle_list_buckets(
    State(state): State<AppState>,
) -> Result<Json<ListBucketsResponse>, ApiError> {
    let buckets = state.store.list_buckets().await?;
    Ok(Json(ListBucketsResponse { buckets }))
}

pub(super) async fn handle_delete_bucket(
    State(state): State<AppState>,
    IdPath(name): BucketPath,
) -> Result<StatusCode, ApiError> {
    state.store.delete_bucket(&name).await?;
    tracing::info!(bucket = %name, "bucket deleted");
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn handle_update_bucket(
    State(state): State<AppState>,
    IdPath(name): BucketPath,
    ApiJson(update): ApiJson<BucketUpdate>,
) -> Result<Json<BucketInfo>, ApiError> {
    validate::bucket_update(&update)?;
    let info = state.store.update_bucket(&name, update).await?;
    tracing::info!(bucket = %name, public_read = info.public_read, cors = info.cors.is_some(), "bucket settings changed");
    Ok(Json(info))
}
