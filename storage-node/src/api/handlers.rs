//! One handler per route. Each parses the shard name itself (rather than via
//! a `Path<ShardHash>` extractor) so that a bad name gets our JSON error, not
//! axum's plain-text rejection.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metadata::ids::ShardHash;
use serde::Serialize;

use super::{ApiError, ApiState};
use crate::shard_store::PutOutcome;

fn parse_hash(raw: &str) -> Result<ShardHash, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::InvalidHash(raw.chars().take(80).collect()))
}

/// `PUT /v1/shards/{hash}`: 201 if stored now, 200 if already held.
pub(super) async fn handle_put_shard(
    State(state): State<ApiState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let hash = parse_hash(&raw)?;
    let size_hint = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let started = std::time::Instant::now();
    let outcome = state
        .store
        .put_stream(&hash, size_hint, body.into_data_stream())
        .await?;
    state.latency.record_write(started.elapsed());
    tracing::debug!(shard = %hash, ?outcome, "shard put");
    Ok(match outcome {
        PutOutcome::Stored | PutOutcome::Replaced => StatusCode::CREATED,
        PutOutcome::AlreadyPresent => StatusCode::OK,
    })
}

/// `GET /v1/shards/{hash}`: the stored bytes, which the client verifies.
pub(super) async fn handle_get_shard(
    State(state): State<ApiState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let hash = parse_hash(&raw)?;
    let started = std::time::Instant::now();
    let bytes = state.store.read_for_peer(&hash).await?;
    state.latency.record_read(started.elapsed());
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        )],
        bytes,
    )
        .into_response())
}

/// `HEAD /v1/shards/{hash}`: 200 with the stored length, or 404.
pub(super) async fn handle_head_shard(
    State(state): State<ApiState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let hash = parse_hash(&raw)?;
    match state.store.size_of(&hash).await? {
        Some(len) => Ok((
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                ),
                (header::CONTENT_LENGTH, HeaderValue::from(len)),
            ],
        )
            .into_response()),
        None => Ok(StatusCode::NOT_FOUND.into_response()),
    }
}

/// `POST /v1/shards/{hash}/verify`: hashes the stored copy now, for a
/// client that received bytes that do not match their name. 204 if the copy
/// is sound (the damage was on the wire); a rotten copy is quarantined and
/// answered 410, so this node stops claiming it and repair rewrites it.
pub(super) async fn handle_verify_shard(
    State(state): State<ApiState>,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let hash = parse_hash(&raw)?;
    state.store.verify(&hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/shards/{hash}`: 204 whether or not the shard was there.
pub(super) async fn handle_delete_shard(
    State(state): State<ApiState>,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let hash = parse_hash(&raw)?;
    let existed = state.store.delete(&hash).await?;
    tracing::debug!(shard = %hash, existed, "shard deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    node_id: String,
    capacity_bytes: u64,
    used_bytes: u64,
    shard_count: u64,
}

/// `GET /health`: open, so load balancers and the harness can poll it.
pub(super) async fn handle_health(State(state): State<ApiState>) -> impl IntoResponse {
    let usage = state.store.usage();
    let instance = [(
        metadata::instance::INSTANCE_HEADER,
        metadata::instance::instance_id(),
    )];
    (
        instance,
        Json(Health {
            status: "ok",
            node_id: state.node_id.to_string(),
            capacity_bytes: usage.capacity_bytes,
            used_bytes: usage.used_bytes,
            shard_count: usage.shard_count,
        }),
    )
}

/// `GET /metrics`: Prometheus text format.
pub(super) async fn handle_metrics(State(state): State<ApiState>) -> Response {
    let text = match &state.metrics {
        Some(handle) => {
            handle.run_upkeep();
            handle.render()
        }
        None => "# the process's metrics recorder is owned by another component\n".to_owned(),
    };
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        text,
    )
        .into_response()
}
