//! `POST /cache/purge` on the admin port: drops one object, or every object
//! under a prefix, from this edge's caches at once. Authenticated with the
//! cluster secret as a bearer token, like every internal call.
//!
//! ```text
//! curl -X POST -H "Authorization: Bearer $SECRET" \
//!      -d '{"bucket":"media","prefix":"trailers/"}' http://127.0.0.1:9001/cache/purge
//! ```

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gateway::cache_control::{CacheControl, PurgeTarget};
use metadata::cluster_auth::ClusterSecret;
use metadata::ids::BucketName;
use serde::Deserialize;

#[derive(Clone)]
pub struct PurgeState {
    pub caches: CacheControl,
    pub secret: ClusterSecret,
}

/// One of `key` and `prefix`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    bucket: String,
    key: Option<String>,
    prefix: Option<String>,
}

pub async fn purge(
    State(state): State<PurgeState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !state.secret.verify(&headers) {
        return error(StatusCode::UNAUTHORIZED, "the cluster secret is required");
    }
    let request: PurgeRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("request body: {e}")),
    };
    let bucket: BucketName = match request.bucket.parse() {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bucket: {e}")),
    };
    let target = match (request.key, request.prefix) {
        (Some(key), None) => PurgeTarget::Key(key),
        (None, Some(prefix)) => PurgeTarget::Prefix(prefix),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "name exactly one of \"key\" and \"prefix\"",
            );
        }
    };
    let purged = state.caches.purge(&bucket, &target).await;
    Json(purged).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}
