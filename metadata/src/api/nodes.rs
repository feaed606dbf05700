//! `/v1/nodes`: heartbeats in, membership out.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::ApiJson;
use super::{ApiError, AppState, validate};
use crate::model::NodeHeartbeat;
use crate::wire::{ClusterStatus, HeartbeatReply, ListNodesResponse, RetireRequest};

/// Most deletions handed to a node per heartbeat.
const DELETIONS_PER_BEAT: usize = 1000;

pub(super) async fn handle_heartbeat(
    State(state): State<AppState>,
    ApiJson(mut hb): ApiJson<NodeHeartbeat>,
) -> Result<Json<HeartbeatReply>, ApiError> {
    validate::heartbeat(&hb)?;
    let node = hb.id.clone();
    let deleted = std::mem::take(&mut hb.deleted);
    if !deleted.is_empty() {
        state.store.confirm_deletions(&node, &deleted).await?;
        metrics::counter!("metadata_shards_deleted_total").increment(deleted.len() as u64);
    }
    state.registry.heartbeat(hb).await?;
    let delete = state
        .store
        .pending_deletions(&node, DELETIONS_PER_BEAT)
        .await?;
    Ok(Json(HeartbeatReply { delete }))
}

pub(super) async fn handle_retire(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RetireRequest>,
) -> Result<StatusCode, ApiError> {
    match state.store.retire_data(req.version, req.data).await {
        // Retired already, or committed after all: nothing to hand over.
        Ok(()) | Err(crate::store::StoreError::VersionInUse) => Ok(StatusCode::NO_CONTENT),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn handle_list_nodes(
    State(state): State<AppState>,
) -> Result<Json<ListNodesResponse>, ApiError> {
    let nodes = state.registry.list();
    let up = nodes.iter().filter(|n| n.is_up()).count();
    metrics::gauge!("metadata_nodes_up").set(up as f64);
    metrics::gauge!("metadata_nodes_down").set((nodes.len() - up) as f64);
    Ok(Json(ListNodesResponse { nodes }))
}

/// The operator view: nodes, the redundancy of the stored data from a walk
/// over every manifest (which also replans repair), repair's progress, and
/// the collector's backlog.
pub(super) async fn handle_status(
    State(state): State<AppState>,
) -> Result<Json<ClusterStatus>, ApiError> {
    // Repair's progress is the leader's to report.
    super::repair::require_leader(&state)?;
    let walk = state.repairer.walk().await?;
    let nodes = state.registry.list();
    let node_files = state.store.files_per_node().await?.into_iter().collect();
    let (garbage_versions, pending_deletions) = state.store.gc_backlog().await?;
    Ok(Json(ClusterStatus {
        nodes,
        node_files,
        redundancy: walk.redundancy,
        repair: state.repairer.status(),
        garbage_versions,
        pending_deletions,
    }))
}
