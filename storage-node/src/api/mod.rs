//! The storage node's HTTP API: the shard routes (behind the cluster secret)
//! and the open `/health` and `/metrics`. Handlers only translate HTTP to
//! [`crate::shard_store`] calls; the promises live in the store.

mod error;
mod handlers;
mod prometheus;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post, put};
use metadata::cluster_auth::{ClusterSecret, require_cluster_secret};
use metadata::ids::NodeId;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use prometheus::install_prometheus;

use crate::foreground::{Foreground, foreground_gate};
use crate::shard_store::ShardStore;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<ShardStore>,
    pub node_id: NodeId,
    pub secret: ClusterSecret,
    /// `None` when another component owns the process's metrics recorder.
    pub metrics: Option<PrometheusHandle>,
    /// The node's own serving times, for its heartbeats.
    pub latency: Arc<crate::latency::LatencyTracker>,
    /// Foreground shard requests in flight, which repair gives way to.
    pub foreground: Arc<Foreground>,
    /// Longest a peer's repair read waits for them before it is served.
    pub background_yield: std::time::Duration,
}

/// The node's routes. Every `/v1/` route requires the cluster secret: a
/// storage node never accepts (or hands out) a shard from a stranger.
pub fn router(state: ApiState) -> Router {
    // The store enforces the shard size limit as the body streams in (the raw
    // `Body` we stream is not subject to axum's limit); the layer gives any
    // buffering extractor the same ceiling instead of axum's default 2 MB.
    let body_limit =
        usize::try_from(state.store.max_shard_size().saturating_add(1)).unwrap_or(usize::MAX);
    let shards = Router::new()
        .route(
            "/v1/shards/{hash}",
            put(handlers::handle_put_shard)
                .get(handlers::handle_get_shard)
                .head(handlers::handle_head_shard)
                .delete(handlers::handle_delete_shard),
        )
        .route(
            "/v1/shards/{hash}/verify",
            post(handlers::handle_verify_shard),
        )
        .layer(DefaultBodyLimit::max(body_limit))
        .route_layer(from_fn_with_state(
            (Arc::clone(&state.foreground), state.background_yield),
            foreground_gate,
        ))
        .route_layer(from_fn_with_state(
            state.secret.clone(),
            require_cluster_secret,
        ));
    Router::new()
        .route("/health", get(handlers::handle_health))
        .route("/metrics", get(handlers::handle_metrics))
        .merge(shards)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<Body>| {
                    let request_id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        request_id,
                    )
                })
                // Errors are logged once, by `ApiError`, with their cause.
                .on_failure(()),
        )
        .with_state(state)
}
