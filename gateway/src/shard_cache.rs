//! Shards in memory, keyed by their BLAKE3 hash.
//!
//! A shard's name is the hash of its bytes, so a cached shard can never be
//! stale: an overwrite writes new shards under new names, and only the
//! name -> manifest lookup ever changes (see `manifest_cache`). The cache is
//! bounded by bytes. Concurrent misses on one shard make one storage fetch:
//! the first asks, the others wait for its answer (a failed fetch is not
//! cached, so the next reader asks again).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bytes::Bytes;
use metadata::ids::ShardHash;
use moka::notification::RemovalCause;
use storage_node::client::ShardError;

use crate::cache_status::CacheStatus;
use crate::config::{CacheConfig, EvictionPolicy};

/// Shards larger than this are never cached (moka weighs entries in `u32`).
const MAX_CACHED_SHARD: usize = u32::MAX as usize;

#[derive(Clone)]
pub struct ShardCache {
    /// `None` when the operator turned the cache off.
    shards: Option<moka::future::Cache<ShardHash, Bytes>>,
}

impl ShardCache {
    pub fn new(config: &CacheConfig) -> Self {
        if config.shard_bytes == 0 {
            return ShardCache { shards: None };
        }
        let policy = match config.policy {
            EvictionPolicy::Lru => moka::policy::EvictionPolicy::lru(),
            EvictionPolicy::TinyLfu => moka::policy::EvictionPolicy::tiny_lfu(),
        };
        let shards = moka::future::Cache::builder()
            .max_capacity(config.shard_bytes)
            .weigher(|_: &ShardHash, bytes: &Bytes| u32::try_from(bytes.len()).unwrap_or(u32::MAX))
            .eviction_policy(policy)
            .eviction_listener(|_, bytes: Bytes, cause| {
                if cause == RemovalCause::Size {
                    metrics::counter!("cache_evictions_total").increment(1);
                    metrics::counter!("cache_evicted_bytes_total").increment(bytes.len() as u64);
                }
            })
            .build();
        ShardCache {
            shards: Some(shards),
        }
    }

    /// Whether the shard is in memory now (a later read may still miss).
    pub fn contains(&self, hash: &ShardHash) -> bool {
        self.shards.as_ref().is_some_and(|c| c.contains_key(hash))
    }

    /// The shard if it is in memory, without fetching it.
    pub async fn get(&self, hash: &ShardHash) -> Option<Bytes> {
        let bytes = self.shards.as_ref()?.get(hash).await?;
        record_lookup(CacheStatus::Hit, bytes.len());
        Some(bytes)
    }

    /// The shard from memory, or from `fetch` (once for all concurrent
    /// callers), with what the cache did for this caller.
    pub async fn get_or_fetch<F>(
        &self,
        hash: &ShardHash,
        fetch: F,
    ) -> Result<(Bytes, CacheStatus), ShardError>
    where
        F: Future<Output = Result<Bytes, ShardError>>,
    {
        let Some(cache) = &self.shards else {
            let bytes = timed(fetch).await?;
            record_lookup(CacheStatus::Miss, bytes.len());
            return Ok((bytes, CacheStatus::Miss));
        };
        if let Some(bytes) = cache.get(hash).await {
            record_lookup(CacheStatus::Hit, bytes.len());
            return Ok((bytes, CacheStatus::Hit));
        }
        let fetched_here = AtomicBool::new(false);
        let init = async {
            fetched_here.store(true, Ordering::Relaxed);
            timed(fetch).await
        };
        let bytes = cache
            .try_get_with(*hash, init)
            .await
            .map_err(|e: Arc<ShardError>| (*e).clone())?;
        let status = if fetched_here.load(Ordering::Relaxed) {
            CacheStatus::Miss
        } else {
            CacheStatus::Coalesced
        };
        record_lookup(status, bytes.len());
        if bytes.len() > MAX_CACHED_SHARD {
            cache.invalidate(hash).await;
        }
        Ok((bytes, status))
    }

    /// Keeps a shard that was obtained another way (rebuilt from parity).
    /// The caller has checked the bytes against `hash`.
    pub async fn insert(&self, hash: ShardHash, bytes: Bytes) {
        if let Some(cache) = &self.shards
            && bytes.len() <= MAX_CACHED_SHARD
        {
            cache.insert(hash, bytes).await;
        }
    }

    /// Drops shards at once (an operator's purge).
    pub async fn remove(&self, hash: &ShardHash) {
        if let Some(cache) = &self.shards {
            cache.invalidate(hash).await;
        }
    }

    /// Bytes and shards held now, for the size gauges.
    pub fn usage(&self) -> (u64, u64) {
        self.shards
            .as_ref()
            .map_or((0, 0), |c| (c.weighted_size(), c.entry_count()))
    }

    /// Applies pending bookkeeping (evictions, size) now; moka otherwise
    /// does it lazily on later operations.
    pub async fn settle(&self) {
        if let Some(cache) = &self.shards {
            cache.run_pending_tasks().await;
        }
    }
}

/// Runs a storage fetch, recording its latency.
async fn timed<F>(fetch: F) -> Result<Bytes, ShardError>
where
    F: Future<Output = Result<Bytes, ShardError>>,
{
    let started = Instant::now();
    let result = fetch.await;
    metrics::histogram!("cache_storage_fetch_seconds").record(started.elapsed().as_secs_f64());
    if let Ok(bytes) = &result {
        metrics::counter!("cache_bytes_total", "source" => "storage").increment(bytes.len() as u64);
    }
    result
}

fn record_lookup(status: CacheStatus, len: usize) {
    metrics::counter!("cache_shard_lookups_total", "result" => status.as_str()).increment(1);
    if status != CacheStatus::Miss {
        metrics::counter!("cache_bytes_total", "source" => "cache").increment(len as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    fn hash(n: u8) -> ShardHash {
        ShardHash::of(&[n])
    }

    fn config(bytes: u64) -> CacheConfig {
        CacheConfig {
            shard_bytes: bytes,
            ..CacheConfig::default()
        }
    }

    #[tokio::test]
    async fn concurrent_misses_make_one_fetch() {
        let cache = ShardCache::new(&config(1 << 20));
        let fetches = AtomicUsize::new(0);
        let h = hash(1);
        let reads = (0..16).map(|_| {
            cache.get_or_fetch(&h, async {
                fetches.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok(Bytes::from_static(b"shard"))
            })
        });
        let results = futures::future::join_all(reads).await;
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        let statuses: Vec<CacheStatus> = results.into_iter().map(|r| r.unwrap().1).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == CacheStatus::Miss).count(),
            1
        );
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == CacheStatus::Coalesced)
                .count(),
            15
        );
        let (_, again) = cache
            .get_or_fetch(&h, async { Err(ShardError::NotFound) })
            .await
            .unwrap();
        assert_eq!(again, CacheStatus::Hit);
    }

    #[tokio::test]
    async fn failures_are_not_cached() {
        let cache = ShardCache::new(&config(1 << 20));
        let h = hash(2);
        let err = cache
            .get_or_fetch(&h, async { Err(ShardError::Corrupt) })
            .await
            .unwrap_err();
        assert_eq!(err, ShardError::Corrupt);
        let (bytes, status) = cache
            .get_or_fetch(&h, async { Ok(Bytes::from_static(b"good")) })
            .await
            .unwrap();
        assert_eq!((&bytes[..], status), (&b"good"[..], CacheStatus::Miss));
    }

    #[tokio::test]
    async fn bounded_by_bytes() {
        let cache = ShardCache::new(&config(10 * 1024));
        for n in 0..40u8 {
            cache.insert(hash(n), Bytes::from(vec![n; 1024])).await;
        }
        cache.settle().await;
        let (bytes, _) = cache.usage();
        assert!(bytes <= 10 * 1024, "{bytes} bytes held");
        // The newest shard was admitted (LRU): a fresh video gets cached.
        assert!(cache.contains(&hash(39)));
    }

    #[tokio::test]
    async fn off_means_every_read_fetches() {
        let cache = ShardCache::new(&config(0));
        let h = hash(3);
        for _ in 0..2 {
            let (_, status) = cache
                .get_or_fetch(&h, async { Ok(Bytes::from_static(b"x")) })
                .await
                .unwrap();
            assert_eq!(status, CacheStatus::Miss);
        }
        assert!(!cache.contains(&h));
    }
}
