//! The internal HTTP/JSON API: what gateways, edges and storage nodes call
//! through [`crate::client::MetadataClient`].
//!
//! RPC style: `/v1/...` routes with JSON bodies (object keys are arbitrary
//! UTF-8 and never appear in a path). Every `/v1` route requires the cluster
//! secret; `/health` and `/metrics` are open, for probes and scrapers.
//! Input is validated here, at the edge, so the store only ever sees checked
//! names, keys and manifests.

mod buckets;
mod changes;
mod error;
mod extract;
mod identity;
mod nodes;
mod objects;
mod observe;
mod repair;
mod uploads;
mod validate;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::change_feed::ChangeFeed;
use crate::cluster_auth::{ClusterSecret, require_cluster_secret};
use crate::leader::Leadership;
use crate::registry::Registry;
use crate::repair::Repairer;
use crate::store::MetaStore;

pub use error::ApiError;

/// Large enough for the manifest of a multi-GiB object (about 1 KiB of JSON
/// per stripe) or an inline object in base64, small enough to refuse junk.
const MAX_BODY_BYTES: usize = 64 << 20;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn MetaStore>,
    pub registry: Arc<Registry>,
    pub repairer: Arc<Repairer>,
    /// Who leads repair: only the leader hands out repair tasks.
    pub leadership: Leadership,
    pub secret: ClusterSecret,
    /// Renders `/metrics`; `None` when another recorder owns the process.
    pub metrics: Option<PrometheusHandle>,
    /// The change log edges follow to keep manifests without asking on
    /// every read; `None` over a store other processes write too.
    pub changes: Option<Arc<ChangeFeed>>,
}

pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/buckets", get(buckets::handle_list_buckets))
        .route(
            "/buckets/{bucket}",
            put(buckets::handle_create_bucket)
                .get(buckets::handle_get_bucket)
                .patch(buckets::handle_update_bucket)
                .delete(buckets::handle_delete_bucket),
        )
        .route("/users", get(identity::handle_list_users))
        .route(
            "/users/{user}",
            put(identity::handle_create_user).delete(identity::handle_delete_user),
        )
        .route("/users/{user}/keys", post(identity::handle_create_key))
        .route(
            "/configured-users/{user}",
            put(identity::handle_claim_configured_user),
        )
        .route("/keys", get(identity::handle_list_keys))
        .route(
            "/keys/{key}",
            get(identity::handle_get_key).delete(identity::handle_delete_key),
        )
        .route("/objects/commit", post(objects::handle_commit_object))
        .route("/objects/get", post(objects::handle_get_object))
        .route("/objects/head", post(objects::handle_head_object))
        .route("/objects/heads", post(objects::handle_head_objects))
        .route("/objects/delete", post(objects::handle_delete_object))
        .route("/objects/list", post(objects::handle_list_objects))
        .route("/changes/poll", post(changes::handle_poll))
        .route("/uploads/create", post(uploads::handle_create_upload))
        .route("/uploads/get", post(uploads::handle_get_upload))
        .route("/uploads/commit-part", post(uploads::handle_commit_part))
        .route("/uploads/list-parts", post(uploads::handle_list_parts))
        .route("/uploads/get-part", post(uploads::handle_get_part))
        .route("/uploads/complete", post(uploads::handle_complete_upload))
        .route("/uploads/abort", post(uploads::handle_abort_upload))
        .route("/uploads/list", post(uploads::handle_list_uploads))
        .route("/nodes/heartbeat", post(nodes::handle_heartbeat))
        .route("/garbage/retire", post(nodes::handle_retire))
        .route("/admin/status", get(nodes::handle_status))
        .route("/nodes", get(nodes::handle_list_nodes))
        .route("/nodes/{node}", delete(repair::handle_remove_node))
        .route("/nodes/{node}/files", get(repair::handle_node_files))
        .route("/nodes/{node}/draining", put(repair::handle_set_draining))
        .route("/repair/claim", post(repair::handle_claim))
        .route("/repair/suspects", post(repair::handle_suspects))
        .route("/admin/leader", get(repair::handle_leader))
        .route_layer(from_fn_with_state(
            state.secret.clone(),
            require_cluster_secret,
        ));
    Router::new()
        .nest("/v1", v1)
        .route("/health", get(handle_health))
        .route("/metrics", get(handle_metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(from_fn(observe::observe_request))
        .with_state(state)
}

async fn handle_health() -> impl IntoResponse {
    crate::instance::health_ok()
}

async fn handle_metrics(State(state): State<AppState>) -> impl IntoResponse {
    match &state.metrics {
        Some(handle) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        ),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain")],
            "metrics are exported by the host process\n".to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests;
