//! The edge's side of manifest leases (see [`metadata::change_feed`]): a
//! task follows metadata's change log, drops kept manifests as their keys
//! change, and keeps the time until which a kept manifest may be served
//! without asking metadata for the current version.
//!
//! A manifest fetched while its key changed may be the old version, even
//! if it arrives after the change was applied. So fetches say what they are
//! fetching, a change marks the fetches of its key as overtaken, and an
//! overtaken fetch's manifest is kept but never trusted without a check.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use metadata::client::MetadataClient;
use metadata::wire::ChangesRequest;

use crate::head_queue::ObjectName;

/// How long after a failed poll the next is sent.
const RETRY_AFTER: Duration = Duration::from_millis(200);

/// How long to wait before asking again a service that grants no leases.
const NO_LEASES_RETRY: Duration = Duration::from_secs(10);

/// The running manifest fetches of one key, and whether a change of the
/// key was applied while they ran.
struct Fetching {
    running: usize,
    overtaken: bool,
}

/// Whether this edge holds a lease now, and the fetches a change may
/// overtake.
pub struct ManifestLease {
    base: Instant,
    /// Nanoseconds after `base` until which kept manifests are trusted
    /// (0: not before the first poll).
    trusted_until: AtomicU64,
    fetching: Mutex<HashMap<ObjectName, Fetching>>,
}

impl ManifestLease {
    pub fn new() -> Self {
        ManifestLease {
            base: Instant::now(),
            trusted_until: AtomicU64::new(0),
            fetching: Mutex::new(HashMap::new()),
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Whether every change acknowledged to a writer so far has been
    /// applied here, so a kept manifest that was not dropped is current.
    pub fn holds(&self) -> bool {
        self.nanos(Instant::now()) < self.trusted_until.load(Ordering::Acquire)
    }

    fn trust_until(&self, until: Instant) {
        self.trusted_until
            .store(self.nanos(until).max(1), Ordering::Release);
    }

    fn revoke(&self) {
        self.trusted_until.store(0, Ordering::Release);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ObjectName, Fetching>> {
        // Counters only: still valid after a panic elsewhere.
        self.fetching.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Announces a manifest fetch of `name`; the guard says, once the
    /// manifest is kept, whether a change overtook it.
    pub fn fetch_started(self: &Arc<Self>, name: &ObjectName) -> FetchGuard {
        self.lock()
            .entry(name.clone())
            .and_modify(|f| f.running += 1)
            .or_insert(Fetching {
                running: 1,
                overtaken: false,
            });
        FetchGuard {
            lease: Arc::clone(self),
            name: Some(name.clone()),
        }
    }

    fn overtake(&self, name: &ObjectName) {
        if let Some(f) = self.lock().get_mut(name) {
            f.overtaken = true;
        }
    }

    fn overtake_all(&self) {
        for f in self.lock().values_mut() {
            f.overtaken = true;
        }
    }

    /// Ends a fetch; whether it was overtaken.
    fn finish(&self, name: &ObjectName) -> bool {
        let mut fetching = self.lock();
        let Some(f) = fetching.get_mut(name) else {
            return true;
        };
        let overtaken = f.overtaken;
        f.running -= 1;
        if f.running == 0 {
            fetching.remove(name);
        }
        overtaken
    }
}

impl Default for ManifestLease {
    fn default() -> Self {
        Self::new()
    }
}

/// A running manifest fetch (see [`ManifestLease::fetch_started`]).
pub struct FetchGuard {
    lease: Arc<ManifestLease>,
    name: Option<ObjectName>,
}

impl FetchGuard {
    /// Call after the fetched manifest is kept: whether it may be trusted
    /// without a check (no change of its key was applied meanwhile).
    pub fn finish(mut self) -> bool {
        match self.name.take() {
            Some(name) => !self.lease.finish(&name),
            None => false,
        }
    }
}

impl Drop for FetchGuard {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            self.lease.finish(&name);
        }
    }
}

/// Follows the change log until the lease's owner is dropped: each answer's
/// changes are applied (kept manifests dropped) before the lease is
/// extended to its end by this edge's clock, counted from when the poll was
/// sent and a quarter short, so the edge stops trusting its manifests
/// before metadata stops waiting for it.
pub async fn follow<V>(
    meta: MetadataClient,
    lease: Weak<ManifestLease>,
    kept: moka::future::Cache<ObjectName, V>,
) where
    V: Clone + Send + Sync + 'static,
{
    let edge = uuid::Uuid::new_v4().to_string();
    let (mut epoch, mut after) = (0u64, 0u64);
    loop {
        let sent = Instant::now();
        let answer = meta
            .poll_changes(&ChangesRequest {
                edge: edge.clone(),
                epoch,
                after,
            })
            .await;
        let Some(lease) = lease.upgrade() else { return };
        let pause = match answer {
            Ok(answer) if answer.lease_ms == 0 => {
                lease.revoke();
                NO_LEASES_RETRY
            }
            Ok(answer) => {
                if answer.reset || answer.epoch != epoch {
                    lease.overtake_all();
                    kept.invalidate_all();
                    metrics::counter!("cache_manifest_resets_total").increment(1);
                } else {
                    for change in answer.changes {
                        let name = (change.bucket, change.key);
                        lease.overtake(&name);
                        kept.invalidate(&name).await;
                    }
                    metrics::counter!("cache_manifest_changes_total")
                        .increment(answer.seq.saturating_sub(after));
                }
                epoch = answer.epoch;
                after = answer.seq;
                let granted = Duration::from_millis(answer.lease_ms);
                lease.trust_until(sent + granted - granted / 4);
                Duration::ZERO
            }
            Err(err) => {
                tracing::debug!(error = %err, "polling metadata's change log failed");
                RETRY_AFTER
            }
        };
        drop(lease);
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
}

#[cfg(test)]
mod tests;
