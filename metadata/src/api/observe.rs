//! Per-request observability: a `tracing` span with method, path and request
//! id around every request, the `x-request-id` echoed back (taken from the
//! caller when it sent one, so one id follows a request across services),
//! and Prometheus counters and latencies per route.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub(super) const REQUEST_ID: &str = "x-request-id";

pub(super) async fn observe_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let span = tracing::info_span!(
        "request",
        %method,
        path = %request.uri().path(),
        request_id = %request_id,
    );
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    let elapsed = started.elapsed();
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), ?elapsed, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), ?elapsed, "request done");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    let labels = [
        ("route", route),
        ("method", listener::method_label(&method).to_owned()),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!("metadata_http_requests_total", &labels).increment(1);
    metrics::histogram!("metadata_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
    response
}
