//! `/v1/repair` and the node routes repair needs: storage nodes claim
//! tasks and report results, anyone who finds a bad copy reports it, a node
//! checks its disk against what it must hold, and operators drain and
//! remove nodes.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::extract::{ApiJson, IdPath};
use super::{ApiError, AppState};
use crate::error::MetadataError;
use crate::ids::{NodeId, ShardHash};
use crate::model::RepairClaim;
use crate::registry::RemoveNodeError;
use crate::wire::{DrainingRequest, LeaderStatus, NodeFilesPage, RepairTasks, SuspectsRequest};

/// Most suspects taken in one report.
const MAX_SUSPECTS: usize = 10_000;
/// Most hashes in one page of a node's files.
const MAX_FILES_PAGE: usize = 10_000;

/// Refuses work that only the leader can do (its repair queue lives in its
/// memory), so the client asks the next replica.
pub(super) fn require_leader(state: &AppState) -> Result<(), ApiError> {
    if state.leadership.is_leader() {
        return Ok(());
    }
    let leader = state
        .leadership
        .leader()
        .map_or_else(|| "none yet".to_owned(), |l| l.addr);
    Err(MetadataError::NotLeader(format!("the leader is {leader}")).into())
}

/// Who leads, as this replica sees it.
pub(super) async fn handle_leader(State(state): State<AppState>) -> Json<LeaderStatus> {
    Json(LeaderStatus {
        me: state.leadership.me().clone(),
        is_leader: state.leadership.is_leader(),
        leader: state.leadership.leader(),
    })
}

pub(super) async fn handle_claim(
    State(state): State<AppState>,
    ApiJson(claim): ApiJson<RepairClaim>,
) -> Result<Json<RepairTasks>, ApiError> {
    require_leader(&state)?;
    let tasks = state.repairer.claim(claim).await?;
    Ok(Json(RepairTasks { tasks }))
}

pub(super) async fn handle_suspects(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SuspectsRequest>,
) -> Result<StatusCode, ApiError> {
    require_leader(&state)?;
    if req.shards.len() > MAX_SUSPECTS {
        return Err(MetadataError::InvalidRequest(format!(
            "at most {MAX_SUSPECTS} suspects per report"
        ))
        .into());
    }
    state.repairer.report_suspects(req.shards);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub(super) struct FilesQuery {
    after: Option<String>,
    limit: Option<usize>,
}

pub(super) async fn handle_node_files(
    State(state): State<AppState>,
    IdPath(node): IdPath<NodeId>,
    Query(q): Query<FilesQuery>,
) -> Result<Json<NodeFilesPage>, ApiError> {
    let after = match q.after.as_deref() {
        Some(raw) => Some(
            raw.parse::<ShardHash>()
                .map_err(|e| MetadataError::InvalidRequest(e.to_string()))?,
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(MAX_FILES_PAGE).clamp(1, MAX_FILES_PAGE);
    let hashes = state.store.node_files(&node, after, limit).await?;
    Ok(Json(NodeFilesPage { hashes }))
}

pub(super) async fn handle_set_draining(
    State(state): State<AppState>,
    IdPath(node): IdPath<NodeId>,
    ApiJson(req): ApiJson<DrainingRequest>,
) -> Result<StatusCode, ApiError> {
    state.registry.set_draining(&node, req.draining).await?;
    state.repairer.prompt();
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn handle_remove_node(
    State(state): State<AppState>,
    IdPath(node): IdPath<NodeId>,
) -> Result<StatusCode, ApiError> {
    match state.registry.remove(&node).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(RemoveNodeError::StillUp) => {
            Err(MetadataError::NodeHoldsShards(RemoveNodeError::StillUp.to_string()).into())
        }
        Err(RemoveNodeError::Store(e)) => Err(e.into()),
    }
}
