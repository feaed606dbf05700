//! What an operator can do to an edge's caches: see their size, and purge
//! objects at once (one key, or every key under a prefix).
//!
//! Reads never serve a replaced or deleted object from cache (every read
//! checks the current version), so purging is for the other cases: bytes an
//! operator wants out of memory now, or manifests that must not be served
//! stale while metadata is unreachable.

use std::sync::Arc;

use metadata::ids::BucketName;

use crate::manifest_cache::ObjectBody;
use crate::object_io::ObjectIo;

/// What a purge names.
#[derive(Debug, Clone)]
pub enum PurgeTarget {
    Key(String),
    /// Every key that starts with this (all of the bucket's for "").
    Prefix(String),
}

/// What a purge dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    pub manifests: usize,
    pub shards: usize,
}

#[derive(Clone)]
pub struct CacheControl(pub(crate) Arc<ObjectIo>);

impl CacheControl {
    pub async fn purge(&self, bucket: &BucketName, target: &PurgeTarget) -> Purged {
        let (prefix, exact) = match target {
            PurgeTarget::Key(key) => (key.as_str(), true),
            PurgeTarget::Prefix(prefix) => (prefix.as_str(), false),
        };
        let bodies = self.0.manifests.purge(bucket, prefix, exact).await;
        let mut purged = Purged {
            manifests: bodies.len(),
            shards: 0,
        };
        for body in bodies {
            if let ObjectBody::Striped(manifest) = body {
                for shard in manifest.shards() {
                    if self.0.shards.contains(&shard.hash) {
                        self.0.shards.remove(&shard.hash).await;
                        purged.shards += 1;
                    }
                }
            }
        }
        tracing::info!(bucket = %bucket, target = ?target, manifests = purged.manifests, shards = purged.shards, "cache purged");
        purged
    }

    /// Sets the cache size gauges (called before metrics are rendered).
    pub async fn record_usage(&self) {
        self.0.shards.settle().await;
        let (bytes, shards) = self.0.shards.usage();
        metrics::gauge!("cache_size_bytes").set(bytes as f64);
        metrics::gauge!("cache_shards").set(shards as f64);
        metrics::gauge!("cache_capacity_bytes").set(self.0.config.cache.shard_bytes as f64);
    }
}
