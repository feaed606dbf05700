//! The change log edges follow (see [`crate::change_feed`]), and the step
//! every write to an object's current version takes before it is answered.

use axum::Json;
use axum::extract::State;

use super::extract::ApiJson;
use super::{ApiError, AppState};
use crate::error::MetadataError;
use crate::ids::BucketName;
use crate::wire::{ChangesRequest, ChangesResponse};

/// The longest edge name accepted: it only has to be unique.
const MAX_EDGE_NAME: usize = 128;

pub(super) async fn handle_poll(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ChangesRequest>,
) -> Result<Json<ChangesResponse>, ApiError> {
    if req.edge.is_empty() || req.edge.len() > MAX_EDGE_NAME {
        return Err(ApiError(MetadataError::InvalidRequest(format!(
            "an edge names itself with 1 to {MAX_EDGE_NAME} bytes"
        ))));
    }
    match &state.changes {
        Some(feed) => Ok(Json(feed.poll(&req).await)),
        // Replicas sharing a store cannot see each other's writes in time:
        // no leases, every read asks.
        None => Ok(Json(ChangesResponse::no_leases())),
    }
}

/// Called after every attempt to change a key's current version, whatever
/// its outcome (a failed commit may still have happened): logs the change
/// and returns once every edge holding a lease has dropped what it kept of
/// the key.
pub(super) async fn announce(state: &AppState, bucket: &BucketName, key: &str) {
    if let Some(feed) = &state.changes {
        let seq = feed.publish(bucket, key);
        feed.settle(seq).await;
    }
}
