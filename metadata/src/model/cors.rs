//! A bucket's CORS configuration as S3 defines it (PutBucketCors). Stored
//! with the bucket; the gateway matches requests against it.

use serde::{Deserialize, Serialize};

/// S3 allows at most this many rules per bucket.
pub const MAX_CORS_RULES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsConfig {
    pub rules: Vec<CorsRule>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Origins, each with at most one `*` wildcard.
    pub allowed_origins: Vec<String>,
    /// Of GET, PUT, POST, DELETE and HEAD.
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may ask for, each with at most one `*`.
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// Response headers the browser may show to the page.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<i32>,
}
