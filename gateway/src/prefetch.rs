//! Read-ahead across requests. A player that reads a video in consecutive
//! ranges (each request starting where the previous one ended) would
//! otherwise pay a storage round trip at the start of every range; reading
//! the next stripes into the cache while it consumes the current one hides
//! that. Within one response the reader already reads ahead.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use metadata::ids::VersionId;
use metadata::model::Manifest;
use tokio::sync::Semaphore;

use crate::object_io::ObjectIo;

/// Objects whose read position is remembered; past this the memory starts
/// over (a lost position costs one missed prefetch).
const MAX_TRACKED: usize = 10_000;

/// Prefetches running at once across all clients; more are skipped rather
/// than queued, so prefetching never competes with the reads it serves.
const MAX_RUNNING: usize = 16;

pub struct Prefetcher {
    stripes: usize,
    /// Where the last ranged read of each object version ended.
    ends: Mutex<HashMap<VersionId, u64>>,
    running: Arc<Semaphore>,
}

impl Prefetcher {
    pub fn new(stripes: usize) -> Self {
        Prefetcher {
            stripes,
            ends: Mutex::new(HashMap::new()),
            running: Arc::new(Semaphore::new(MAX_RUNNING)),
        }
    }

    /// Records a read of `range` of `version`, and whether it continues a
    /// sequential reading (it starts at 0, or where the previous read of
    /// this version ended).
    fn continues(&self, version: VersionId, range: &Range<u64>) -> bool {
        let Ok(mut ends) = self.ends.lock() else {
            return false;
        };
        if ends.len() >= MAX_TRACKED && !ends.contains_key(&version) {
            ends.clear();
        }
        let previous = ends.insert(version, range.end);
        range.start == 0 || previous == Some(range.start)
    }

    /// After a ranged read of a striped object: if it continues a sequential
    /// reading and stops short of the end, reads the next stripes into the
    /// cache in the background.
    pub fn after_read(
        &self,
        io: &Arc<ObjectIo>,
        version: VersionId,
        manifest: &Arc<Manifest>,
        range: &Range<u64>,
        size: u64,
    ) {
        if self.stripes == 0 || range.end >= size || !self.continues(version, range) {
            return;
        }
        let Some(first) = manifest.stripes.first() else {
            return;
        };
        let stripe_bytes = u64::from(manifest.code.data) * u64::from(first.shard_len);
        let ahead = range.end..size.min(range.end + stripe_bytes * self.stripes as u64);
        let Ok(permit) = Arc::clone(&self.running).try_acquire_owned() else {
            metrics::counter!("cache_prefetches_skipped_total").increment(1);
            return;
        };
        let io = Arc::clone(io);
        let manifest = Arc::clone(manifest);
        tokio::spawn(async move {
            io.prefetch(&manifest, ahead).await;
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_ranges_are_sequential() {
        let p = Prefetcher::new(1);
        let v = VersionId::new();
        assert!(p.continues(v, &(0..100)));
        assert!(p.continues(v, &(100..200)));
        assert!(!p.continues(v, &(500..600)), "a seek");
        assert!(p.continues(v, &(600..700)), "reading on after the seek");
        let other = VersionId::new();
        assert!(!p.continues(other, &(100..200)), "no history");
    }
}
