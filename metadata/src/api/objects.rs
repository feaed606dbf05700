//! `/v1/objects/*`: commit, get, head, delete, list.

use axum::Json;
use axum::extract::State;

use super::extract::ApiJson;
use super::{ApiError, AppState, validate};
use crate::error::MetadataError;
use crate::listing::list_objects;
use crate::model::{ListPage, ListQuery, ObjectMeta};
use crate::wire::{CommitObjectRequest, GetObjectResponse, ObjectKeyRequest, ReplacedResponse};

pub(super) async fn handle_commit_object(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CommitObjectRequest>,
) -> Result<Json<ReplacedResponse>, ApiError> {
    validate::commit(&req.meta, &req.data)?;
    let (bucket, key, version) = (
        req.meta.bucket.clone(),
        req.meta.key.clone(),
        req.meta.version,
    );
    let replaced = state
        .store
        .commit_object_if(req.meta, req.data, req.condition)
        .await?;
    tracing::debug!(%bucket, %key, %version, replaced = ?replaced.as_ref().map(|m| m.version), "committed");
    Ok(Json(ReplacedResponse { replaced }))
}

pub(super) async fn handle_get_object(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ObjectKeyRequest>,
) -> Result<Json<GetObjectResponse>, ApiError> {
    validate::key(&req.key)?;
    let (meta, data) = state
        .store
        .get_object(&req.bucket, &req.key)
        .await?
        .ok_or(ApiError(MetadataError::NoSuchKey))?;
    Ok(Json(GetObjectResponse { meta, data }))
}

pub(super) async fn handle_head_object(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ObjectKeyRequest>,
) -> Result<Json<ObjectMeta>, ApiError> {
    validate::key(&req.key)?;
    state
        .store
        .head_object(&req.bucket, &req.key)
        .await?
        .map(Json)
        .ok_or(ApiError(MetadataError::NoSuchKey))
}

pub(super) async fn handle_delete_object(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ObjectKeyRequest>,
) -> Result<Json<ReplacedResponse>, ApiError> {
    validate::key(&req.key)?;
    let replaced = state.store.delete_object(&req.bucket, &req.key).await?;
    Ok(Json(ReplacedResponse { replaced }))
}

pub(super) async fn handle_list_objects(
    State(state): State<AppState>,
    ApiJson(q): ApiJson<ListQuery>,
) -> Result<Json<ListPage>, ApiError> {
    validate::list_query(&q)?;
    Ok(Json(list_objects(state.store.as_ref(), &q).await?))
}
