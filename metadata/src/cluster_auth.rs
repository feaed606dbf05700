//! Services inside the cluster authenticate each other with a shared cluster
//! secret, sent as a bearer token on every internal request. A storage node
//! never accepts a shard from a stranger, and the metadata service never
//! accepts a manifest from one.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The shared secret. Compared in constant time; never printed by `Debug`.
#[derive(Clone)]
pub struct ClusterSecret(Arc<str>);

impl ClusterSecret {
    /// Refuses secrets too short to resist guessing.
    pub fn new(secret: impl Into<String>) -> Result<Self, ClusterSecretError> {
        let secret: String = secret.into();
        let trimmed = secret.trim();
        if trimmed.len() < 16 {
            return Err(ClusterSecretError::TooShort);
        }
        Ok(ClusterSecret(Arc::from(trimmed)))
    }

    /// The `Authorization` header value that internal clients send.
    pub fn header_value(&self) -> HeaderValue {
        let mut v = HeaderValue::from_str(&format!("Bearer {}", self.0))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid"));
        v.set_sensitive(true);
        v
    }

    /// Whether the request headers carry this secret.
    pub fn verify(&self, headers: &HeaderMap) -> bool {
        let Some(presented) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        constant_time_eq(presented.as_bytes(), self.0.as_bytes())
    }
}

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterSecretError {
    #[error("the cluster secret must be at least 16 characters")]
    TooShort,
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// axum middleware: refuse any request without the cluster secret (401).
/// Mount with `axum::middleware::from_fn_with_state(secret, require_cluster_secret)`.
pub async fn require_cluster_secret(
    State(secret): State<ClusterSecret>,
    request: Request,
    next: Next,
) -> Response {
    if secret.verify(request.headers()) {
        next.run(request).await
    } else {
        tracing::warn!(path = %request.uri().path(), "refused request without the cluster secret");
        (
            StatusCode::UNAUTHORIZED,
            "missing or wrong cluster secret\n",
        )
            .into_response()
    }
}

/// Warns when a secret was given as a command-line flag: every user of the
/// machine can read a process's arguments (`ps`, `/proc/PID/cmdline`).
/// The environment variable or a `*_file` option keeps it private.
pub fn warn_about_secret_flags(flags: &[&str]) {
    for arg in std::env::args_os().skip(1) {
        let arg = arg.to_string_lossy();
        if let Some(flag) = flags.iter().find(|f| {
            arg == **f
                || arg
                    .strip_prefix(**f)
                    .is_some_and(|rest| rest.starts_with('='))
        }) {
            tracing::warn!(
                flag,
                "a secret on the command line is visible to every user of this machine; \
                 pass it in the environment or a file instead"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_exact_secret() {
        let s = ClusterSecret::new("0123456789abcdef-secret").unwrap();
        let mut h = HeaderMap::new();
        assert!(!s.verify(&h));
        h.insert(header::AUTHORIZATION, s.header_value());
        assert!(s.verify(&h));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer 0123456789abcdef-secreT"),
        );
        assert!(!s.verify(&h));
        assert!(ClusterSecret::new("short").is_err());
        assert!(!format!("{s:?}").contains("0123"));
    }
}
