//! Object manifests kept between reads, and the rules that make keeping
//! them safe. While the edge holds a manifest lease (see
//! [`crate::manifest_lease`]), metadata tells it of every change before
//! answering the writer, so a kept manifest that was not dropped is current
//! and a hit costs no round trip. Without a lease (metadata unreachable, or
//! replicas sharing a store, which grant none), every read first asks
//! metadata for the object's current version (a small lookup, batched
//! across reads by [`HeadQueue`]) and uses a kept manifest only if it is
//! that version. Either way, an overwrite or delete acknowledged by any
//! edge is what the next read at every edge sees.
//!
//! When metadata cannot be reached, a kept manifest is served for up to
//! `stale_if_error` after it was last confirmed, marked `x-cache: stale`.
//!
//! A version's bytes never change, but its placement can: repair moves
//! shards. Kept placements are refreshed every [`PLACEMENT_REFRESH`], and
//! at once after a read had to work around a shard that was not where the
//! manifest said.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use metadata::client::MetadataClient;
use metadata::error::MetadataError;
use metadata::ids::BucketName;
use metadata::model::{Manifest, ObjectData, ObjectMeta};

use crate::head_queue::{HeadQueue, ObjectName};
use crate::manifest_lease::{self, ManifestLease};

/// How long a kept manifest's shard placement is trusted before it is
/// fetched again (repair may have moved shards meanwhile).
pub const PLACEMENT_REFRESH: Duration = Duration::from_secs(30);

/// An object's bytes, as the reader takes them: shared, so that many reads
/// of a kept manifest copy nothing.
#[derive(Debug, Clone)]
pub enum ObjectBody {
    Inline(Bytes),
    Striped(Arc<Manifest>),
}

impl From<ObjectData> for ObjectBody {
    fn from(data: ObjectData) -> Self {
        match data {
            ObjectData::Inline(bytes) => ObjectBody::Inline(bytes),
            ObjectData::Striped(manifest) => ObjectBody::Striped(Arc::new(manifest)),
        }
    }
}

/// What a read gets: the version's metadata and body, and whether they
/// could be confirmed current.
pub struct Found {
    pub meta: ObjectMeta,
    pub body: ObjectBody,
    pub stale: bool,
}

struct Kept {
    meta: ObjectMeta,
    body: ObjectBody,
    fetched: Instant,
    /// Milliseconds after `fetched` when metadata last confirmed this
    /// version current.
    confirmed_ms: AtomicU64,
    /// Current for as long as the lease holds: no change of the key was
    /// applied while it was being fetched.
    trusted: AtomicBool,
}

impl Kept {
    fn confirm(&self) {
        let ms = u64::try_from(self.fetched.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.confirmed_ms.fetch_max(ms, Ordering::Relaxed);
    }

    fn unconfirmed_for(&self) -> Duration {
        self.fetched.elapsed().saturating_sub(Duration::from_millis(
            self.confirmed_ms.load(Ordering::Relaxed),
        ))
    }
}

#[derive(Clone)]
pub struct ManifestCache {
    meta: MetadataClient,
    heads: HeadQueue,
    /// `None` when caching is off: every read fetches its manifest.
    kept: Option<moka::future::Cache<ObjectName, Arc<Kept>>>,
    lease: Arc<ManifestLease>,
    stale_if_error: Duration,
}

impl ManifestCache {
    /// With caching on, starts following metadata's change log (a task
    /// that ends when the last clone of the cache is dropped); must be
    /// called within a Tokio runtime.
    pub fn new(meta: MetadataClient, max_bytes: u64, stale_if_error: Duration) -> Self {
        let kept = (max_bytes > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|name: &ObjectName, kept: &Arc<Kept>| weight(name, kept))
                .build()
        });
        let lease = Arc::new(ManifestLease::new());
        if let Some(kept) = &kept {
            tokio::spawn(manifest_lease::follow(
                meta.clone(),
                Arc::downgrade(&lease),
                kept.clone(),
            ));
        }
        ManifestCache {
            heads: HeadQueue::new(meta.clone()),
            meta,
            kept,
            lease,
            stale_if_error,
        }
    }

    /// A kept manifest that may be served without asking metadata, given
    /// whether the lease holds.
    fn trusted(kept: Option<&Arc<Kept>>, leased: bool) -> Option<Arc<Kept>> {
        kept.filter(|k| {
            leased && k.trusted.load(Ordering::Acquire) && k.fetched.elapsed() < PLACEMENT_REFRESH
        })
        .cloned()
    }

    /// Fetches the current version and keeps it; trusted unless a change
    /// of the key overtook the fetch.
    async fn fetch(
        &self,
        cache: &moka::future::Cache<ObjectName, Arc<Kept>>,
        name: ObjectName,
    ) -> Result<Found, MetadataError> {
        let fetching = self.lease.fetch_started(&name);
        let (meta, data) = match self.meta.get_object(&name.0, &name.1).await {
            Ok(found) => found,
            Err(err) => {
                self.forget_if_gone(&name, &err).await;
                return Err(err);
            }
        };
        let body = ObjectBody::from(data);
        let kept = Arc::new(Kept {
            meta: meta.clone(),
            body: body.clone(),
            fetched: Instant::now(),
            confirmed_ms: AtomicU64::new(0),
            trusted: AtomicBool::new(false),
        });
        cache.insert(name, Arc::clone(&kept)).await;
        // Only now, with the manifest in the cache for a change to drop.
        if fetching.finish() {
            kept.trusted.store(true, Ordering::Release);
        }
        Ok(Found {
            meta,
            body,
            stale: false,
        })
    }

    fn hit(kept: &Kept, meta: ObjectMeta) -> Found {
        kept.confirm();
        metrics::counter!("cache_manifest_lookups_total", "result" => "hit").increment(1);
        Found {
            meta,
            body: kept.body.clone(),
            stale: false,
        }
    }

    /// The object's current version and body; with metadata unreachable, a
    /// kept copy confirmed within `stale_if_error`, marked stale.
    pub async fn get(&self, bucket: &BucketName, key: &str) -> Result<Found, MetadataError> {
        let Some(cache) = &self.kept else {
            let (meta, data) = self.meta.get_object(bucket, key).await?;
            return Ok(Found {
                meta,
                body: data.into(),
                stale: false,
            });
        };
        let name = (bucket.clone(), key.to_owned());
        let kept = cache.get(&name).await;
        let leased = self.lease.holds();
        if let Some(kept) = Self::trusted(kept.as_ref(), leased) {
            return Ok(Self::hit(&kept, kept.meta.clone()));
        }
        if leased {
            // Fetched after this read arrived, so current: no lookup first.
            metrics::counter!("cache_manifest_lookups_total", "result" => "miss").increment(1);
            return match self.fetch(cache, name.clone()).await {
                Err(err) if err.is_retryable() => self.stale_or(kept, bucket, key, err),
                other => other,
            };
        }
        match self.heads.current(bucket, key).await {
            Ok(current) => {
                if let Some(kept) = kept.filter(|k| {
                    k.meta.version == current.version && k.fetched.elapsed() < PLACEMENT_REFRESH
                }) {
                    return Ok(Self::hit(&kept, current));
                }
                metrics::counter!("cache_manifest_lookups_total", "result" => "miss").increment(1);
                // This fetch is at least as new as the lookup, so it serves
                // this request whatever it finds.
                self.fetch(cache, name).await
            }
            Err(err) => {
                self.forget_if_gone(&name, &err).await;
                self.stale_or(kept, bucket, key, err)
            }
        }
    }

    /// With metadata unreachable, the kept copy if it was confirmed within
    /// `stale_if_error`, marked stale; otherwise `err`.
    fn stale_or(
        &self,
        kept: Option<Arc<Kept>>,
        bucket: &BucketName,
        key: &str,
        err: MetadataError,
    ) -> Result<Found, MetadataError> {
        match kept.filter(|k| err.is_retryable() && self.still_servable(k)) {
            Some(kept) => {
                metrics::counter!("cache_manifest_lookups_total", "result" => "stale").increment(1);
                tracing::warn!(bucket = %bucket, key = ?key, error = %err, "metadata unreachable; serving a kept manifest");
                Ok(Found {
                    meta: kept.meta.clone(),
                    body: kept.body.clone(),
                    stale: true,
                })
            }
            None => Err(err),
        }
    }

    /// The object's current metadata (for HEAD); with metadata unreachable,
    /// a kept copy's as [`ManifestCache::get`] would serve it.
    pub async fn head(
        &self,
        bucket: &BucketName,
        key: &str,
    ) -> Result<(ObjectMeta, bool), MetadataError> {
        let Some(cache) = &self.kept else {
            return Ok((self.meta.head_object(bucket, key).await?, false));
        };
        let name = (bucket.clone(), key.to_owned());
        if let Some(kept) = Self::trusted(cache.get(&name).await.as_ref(), self.lease.holds()) {
            return Ok((kept.meta.clone(), false));
        }
        match self.heads.current(bucket, key).await {
            Ok(current) => Ok((current, false)),
            Err(err) => {
                self.forget_if_gone(&name, &err).await;
                match cache
                    .get(&name)
                    .await
                    .filter(|k| err.is_retryable() && self.still_servable(k))
                {
                    Some(kept) => Ok((kept.meta.clone(), true)),
                    None => Err(err),
                }
            }
        }
    }

    /// Drops a kept manifest whose placement proved wrong, so that the next
    /// read fetches the current one.
    pub async fn refresh_placement(&self, bucket: &BucketName, key: &str) {
        if let Some(cache) = &self.kept {
            cache.invalidate(&(bucket.clone(), key.to_owned())).await;
        }
    }

    /// Drops kept manifests of `bucket` whose keys start with `prefix` (all
    /// of the bucket's for an empty prefix, one key for `exact`), returning
    /// them so that their shards can be dropped too.
    pub async fn purge(&self, bucket: &BucketName, prefix: &str, exact: bool) -> Vec<ObjectBody> {
        let Some(cache) = &self.kept else {
            return Vec::new();
        };
        let matching: Vec<ObjectName> = cache
            .iter()
            .filter(|(name, _)| {
                name.0 == *bucket
                    && if exact {
                        name.1 == prefix
                    } else {
                        name.1.starts_with(prefix)
                    }
            })
            .map(|(name, _)| (*name).clone())
            .collect();
        let mut purged = Vec::with_capacity(matching.len());
        for name in matching {
            if let Some(kept) = cache.remove(&name).await {
                purged.push(kept.body.clone());
            }
        }
        purged
    }

    fn still_servable(&self, kept: &Kept) -> bool {
        kept.unconfirmed_for() <= self.stale_if_error
    }

    async fn forget_if_gone(&self, name: &ObjectName, err: &MetadataError) {
        if matches!(err, MetadataError::NoSuchKey | MetadataError::NoSuchBucket)
            && let Some(cache) = &self.kept
        {
            cache.invalidate(name).await;
        }
    }
}

/// Rough bytes an entry holds, for the byte bound.
fn weight(name: &ObjectName, kept: &Kept) -> u32 {
    let body = match &kept.body {
        ObjectBody::Inline(bytes) => bytes.len(),
        ObjectBody::Striped(m) => m.stripes.iter().map(|s| 64 + s.shards.len() * 64).sum(),
    };
    let total = 512 + name.1.len() + body;
    u32::try_from(total).unwrap_or(u32::MAX)
}
