//! A short-lived cache of bucket records, so that the ownership check does not
//! cost every request a round trip to metadata.
//!
//! Safe to keep briefly because the check is not the last word: every object
//! operation still goes to metadata, which answers `NoSuchBucket` for a bucket
//! deleted meanwhile (and the entry is dropped then). Writes carry the id of
//! the bucket they checked, so metadata refuses them in a bucket deleted and
//! re-created since, however stale the entry. What a stale entry could
//! still allow is the old owner's reads and deletes in a bucket re-created
//! by someone else within the TTL, which is why it is short.
//!
//! Names metadata does not know are remembered apart, briefly, so that
//! requests for made-up buckets neither reach metadata one by one nor push
//! real buckets out.

use std::time::{Duration, Instant};

use metadata::ids::BucketName;
use metadata::model::BucketInfo;
use moka::sync::Cache;

/// Entries are trusted this long.
pub const BUCKET_CACHE_TTL: Duration = Duration::from_secs(1);

/// How long a name metadata called unknown is answered `NoSuchBucket`
/// without asking again: a client (or an attacker) requesting made-up
/// buckets costs metadata one lookup per name per second, not one per
/// request. A bucket created through this edge is known at once; one
/// created through another edge may be unknown here for this long.
pub const MISSING_BUCKET_TTL: Duration = Duration::from_secs(1);

/// Records kept (real buckets only: the set is bounded by the cluster's
/// buckets). Past it the least recently used go, never the whole cache.
const MAX_ENTRIES: u64 = 10_000;

/// Unknown names remembered; made-up names evict each other, never real
/// buckets.
const MAX_MISSING: u64 = 10_000;

pub struct BucketCache {
    entries: Cache<BucketName, (BucketInfo, Instant)>,
    missing: Cache<BucketName, ()>,
}

impl Default for BucketCache {
    fn default() -> Self {
        BucketCache {
            entries: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .build(),
            missing: Cache::builder()
                .max_capacity(MAX_MISSING)
                .time_to_live(MISSING_BUCKET_TTL)
                .build(),
        }
    }
}

impl BucketCache {
    pub fn get(&self, name: &BucketName) -> Option<BucketInfo> {
        self.entries
            .get(name)
            .filter(|(_, at)| at.elapsed() < BUCKET_CACHE_TTL)
            .map(|(info, _)| info)
    }

    /// An entry however old, up to `max_age`: what a read may go on with
    /// while metadata cannot be reached.
    pub fn get_within(&self, name: &BucketName, max_age: Duration) -> Option<BucketInfo> {
        self.entries
            .get(name)
            .filter(|(_, at)| at.elapsed() <= max_age)
            .map(|(info, _)| info)
    }

    pub fn insert(&self, info: BucketInfo) {
        self.missing.invalidate(&info.name);
        self.entries
            .insert(info.name.clone(), (info, Instant::now()));
    }

    pub fn forget(&self, name: &BucketName) {
        self.entries.invalidate(name);
    }

    /// Whether metadata said, within [`MISSING_BUCKET_TTL`], that there is
    /// no such bucket.
    pub fn known_missing(&self, name: &BucketName) -> bool {
        self.missing.contains_key(name)
    }

    /// Metadata said there is no such bucket.
    pub fn remember_missing(&self, name: &BucketName) {
        self.entries.invalidate(name);
        self.missing.insert(name.clone(), ());
    }

    /// The bucket was just created here: it is no longer missing.
    pub fn created(&self, name: &BucketName) {
        self.missing.invalidate(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let cache = BucketCache::default();
        let name: BucketName = "media".parse().unwrap();
        let info = BucketInfo::new(name.clone(), "a".into(), 0);
        assert!(cache.get(&name).is_none());
        cache.insert(info.clone());
        assert_eq!(cache.get(&name), Some(info));
        cache.forget(&name);
        assert!(cache.get(&name).is_none());
    }

    #[test]
    fn unknown_names_are_remembered_briefly_and_apart() {
        let cache = BucketCache::default();
        let real: BucketName = "media".parse().unwrap();
        cache.insert(BucketInfo::new(real.clone(), "a".into(), 0));
        for i in 0..(MAX_MISSING + 500) {
            cache.remember_missing(&format!("made-up-{i}").parse().unwrap());
        }
        cache.missing.run_pending_tasks();
        cache.entries.run_pending_tasks();
        // Made-up names never push out a real bucket.
        assert!(cache.get(&real).is_some());
        assert!(cache.missing.entry_count() <= MAX_MISSING);
        let gone: BucketName = "gone".parse().unwrap();
        cache.remember_missing(&gone);
        assert!(cache.known_missing(&gone));
        cache.created(&gone);
        assert!(!cache.known_missing(&gone));
    }
}
