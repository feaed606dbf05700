//! `/v1/buckets`: create, read, list, delete.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{ApiJson, BucketPath};
use super::{ApiError, AppState, validate};
use crate::error::MetadataError;
use crate::model::{BucketInfo, now_unix_ms};
use crate::store::StoreError;
use crate::wire::{CreateBucketRequest, ListBucketsResponse};

pub(super) async fn handle_create_bucket(
    State(state): State<AppState>,
    BucketPath(name): BucketPath,
    ApiJson(req): ApiJson<CreateBucketRequest>,
) -> Result<Json<BucketInfo>, ApiError> {
    validate::owner(&req.owner)?;
    let info = BucketInfo {
        name,
        owner: req.owner,
        created_unix_ms: now_unix_ms(),
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
    BucketPath(name): BucketPath,
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
    BucketPath(name): BucketPath,
) -> Result<StatusCode, ApiError> {
    state.store.delete_bucket(&name).await?;
    tracing::info!(bucket = %name, "bucket deleted");
    Ok(StatusCode::NO_CONTENT)
}
