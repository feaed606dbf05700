//! `/v1/uploads/*`: multipart uploads. Create, get, commit-part, list-parts,
//! get-part, complete, abort, list.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::ApiJson;
use super::{ApiError, AppState, changes, validate};
use crate::error::MetadataError;
use crate::model::{CompleteRequest, MultipartUpload, PartsPage, UploadsPage, UploadsQuery};
use crate::wire::{
    CommitPartRequest, GetPartRequest, GetPartResponse, ListPartsRequest, ReplacedPartResponse,
    ReplacedResponse, UploadRequest,
};

pub(super) async fn handle_create_upload(
    State(state): State<AppState>,
    ApiJson(upload): ApiJson<MultipartUpload>,
) -> Result<StatusCode, ApiError> {
    validate::key(&upload.key)?;
    validate::owner(&upload.owner)?;
    let (bucket, key, upload_id) = (upload.bucket.clone(), upload.key.clone(), upload.upload_id);
    state.store.create_upload(upload).await?;
    tracing::debug!(%bucket, ?key, %upload_id, "upload created");
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn handle_get_upload(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<UploadRequest>,
) -> Result<Json<MultipartUpload>, ApiError> {
    validate::key(&req.key)?;
    state
        .store
        .get_upload(&req.bucket, &req.key, &req.upload_id)
        .await?
        .map(Json)
        .ok_or(ApiError(MetadataError::NoSuchUpload))
}

pub(super) async fn handle_commit_part(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CommitPartRequest>,
) -> Result<Json<ReplacedPartResponse>, ApiError> {
    validate::commit_part(&req)?;
    let CommitPartRequest {
        upload,
        part,
        data,
        bucket_id,
    } = req;
    let number = part.part_number;
    let replaced = state
        .store
        .commit_part(
            &upload.bucket,
            &upload.key,
            &upload.upload_id,
            part,
            data,
            bucket_id,
        )
        .await?;
    tracing::debug!(
        bucket = %upload.bucket, key = ?upload.key, upload_id = %upload.upload_id,
        part = number, replaced = ?replaced.as_ref().map(|p| p.version), "part committed"
    );
    Ok(Json(ReplacedPartResponse { replaced }))
}

pub(super) async fn handle_list_parts(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ListPartsRequest>,
) -> Result<Json<PartsPage>, ApiError> {
    validate::key(&req.upload.key)?;
    validate::page_size("max_parts", req.max_parts)?;
    let u = &req.upload;
    let page = state
        .store
        .list_parts(
            &u.bucket,
            &u.key,
            &u.upload_id,
            req.part_number_marker,
            req.max_parts as usize,
        )
        .await?;
    Ok(Json(page))
}

pub(super) async fn handle_get_part(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<GetPartRequest>,
) -> Result<Json<GetPartResponse>, ApiError> {
    validate::key(&req.upload.key)?;
    validate::part_number(req.part_number)?;
    let u = &req.upload;
    let (part, data) = state
        .store
        .get_part(&u.bucket, &u.key, &u.upload_id, req.part_number)
        .await?
        .ok_or(ApiError(MetadataError::InvalidPart))?;
    Ok(Json(GetPartResponse { part, data }))
}

pub(super) async fn handle_complete_upload(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CompleteRequest>,
) -> Result<Json<ReplacedResponse>, ApiError> {
    validate::complete(&req)?;
    let (bucket, key, version, upload_id) = (
        req.object.bucket.clone(),
        req.object.key.clone(),
        req.object.version,
        req.upload_id,
    );
    let parts = req.parts.len();
    let replaced = state.store.complete_upload(req).await;
    changes::announce(&state, &bucket, &key).await;
    let replaced = replaced?;
    tracing::info!(
        %bucket, ?key, %upload_id, %version, parts,
        replaced = ?replaced.as_ref().map(|m| m.version), "upload completed"
    );
    Ok(Json(ReplacedResponse { replaced }))
}

pub(super) async fn handle_abort_upload(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<UploadRequest>,
) -> Result<StatusCode, ApiError> {
    validate::key(&req.key)?;
    state
        .store
        .abort_upload(&req.bucket, &req.key, &req.upload_id)
        .await?;
    tracing::info!(bucket = %req.bucket, key = ?req.key, upload_id = %req.upload_id, "upload aborted");
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn handle_list_uploads(
    State(state): State<AppState>,
    ApiJson(q): ApiJson<UploadsQuery>,
) -> Result<Json<UploadsPage>, ApiError> {
    validate::uploads_query(&q)?;
    Ok(Json(state.store.list_uploads(&q).await?))
}
