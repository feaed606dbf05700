//! `/v1/objects/*`: commit, get, head, delete, list.

use axum::Json;
use axum::extract::State;
use futures::StreamExt;

use super::extract::ApiJson;
use super::{ApiError, AppState, changes, validate};
use crate::error::MetadataError;
use crate::listing::list_objects;
use crate::model::{ListPage, ListQuery, ObjectMeta};
use crate::store::StoreError;
use crate::wire::{
    CommitObjectRequest, GetObjectResponse, HeadAnswer, HeadObjectsRequest, HeadObjectsResponse,
    MAX_HEADS_PER_REQUEST, ObjectKeyRequest, ReplacedResponse,
};

/// Lookups of one batch that run at once: enough to hide a database round
/// trip per key, well under a PostgreSQL replica's connection pool.
const HEADS_AT_ONCE: usize = 8;

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
        .await;
    changes::announce(&state, &bucket, &key).await;
    let replaced = replaced?;
    tracing::debug!(%bucket, ?key, %version, replaced = ?replaced.as_ref().map(|m| m.version), "committed");
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

pub(super) async fn handle_head_objects(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<HeadObjectsRequest>,
) -> Result<Json<HeadObjectsResponse>, ApiError> {
    if req.objects.len() > MAX_HEADS_PER_REQUEST {
        return Err(ApiError(MetadataError::InvalidRequest(format!(
            "{} keys asked at once; at most {MAX_HEADS_PER_REQUEST} are allowed",
            req.objects.len()
        ))));
    }
    for object in &req.objects {
        validate::key(&object.key)?;
    }
    let lookups = req.objects.into_iter().map(|object| {
        let store = state.store.clone();
        async move {
            match store.head_object(&object.bucket, &object.key).await {
                Ok(Some(meta)) => Ok(HeadAnswer::Found(Box::new(meta))),
                Ok(None) => Ok(HeadAnswer::NoSuchKey),
                Err(StoreError::NoSuchBucket) => Ok(HeadAnswer::NoSuchBucket),
                Err(e) => Err(e),
            }
        }
    });
    let answers: Vec<Result<HeadAnswer, StoreError>> = futures::stream::iter(lookups)
        .buffered(HEADS_AT_ONCE)
        .collect()
        .await;
    let answers = answers.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(Json(HeadObjectsResponse { answers }))
}

pub(super) async fn handle_delete_object(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ObjectKeyRequest>,
) -> Result<Json<ReplacedResponse>, ApiError> {
    validate::key(&req.key)?;
    let replaced = state.store.delete_object(&req.bucket, &req.key).await;
    changes::announce(&state, &req.bucket, &req.key).await;
    let replaced = replaced?;
    Ok(Json(ReplacedResponse { replaced }))
}

pub(super) async fn handle_list_objects(
    State(state): State<AppState>,
    ApiJson(q): ApiJson<ListQuery>,
) -> Result<Json<ListPage>, ApiError> {
    validate::list_query(&q)?;
    Ok(Json(list_objects(state.store.as_ref(), &q).await?))
}
