//! `/v1/nodes`: heartbeats in, membership out.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::ApiJson;
use super::{ApiError, AppState, validate};
use crate::model::NodeHeartbeat;
use crate::wire::ListNodesResponse;

pub(super) async fn handle_heartbeat(
    State(state): State<AppState>,
    ApiJson(hb): ApiJson<NodeHeartbeat>,
) -> Result<StatusCode, ApiError> {
    validate::heartbeat(&hb)?;
    state.registry.heartbeat(hb).await?;
    Ok(StatusCode::NO_CONTENT)
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
