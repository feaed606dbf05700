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

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use metadata::ids::BucketName;
use metadata::model::BucketInfo;

/// Entries are trusted this long.
pub const BUCKET_CACHE_TTL: Duration = Duration::from_secs(1);

/// Past this many entries the cache starts over rather than grow.
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct BucketCache {
    entries: Mutex<HashMap<BucketName, (BucketInfo, Instant)>>,
}

impl BucketCache {
    pub fn get(&self, name: &BucketName) -> Option<BucketInfo> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(name)
            .filter(|(_, at)| at.elapsed() < BUCKET_CACHE_TTL)
            .map(|(info, _)| info.clone())
    }

    /// An entry however old, up to `max_age`: what a read may go on with
    /// while metadata cannot be reached.
    pub fn get_within(&self, name: &BucketName, max_age: Duration) -> Option<BucketInfo> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(name)
            .filter(|(_, at)| at.elapsed() <= max_age)
            .map(|(info, _)| info.clone())
    }

    pub fn insert(&self, info: BucketInfo) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(info.name.clone(), (info, Instant::now()));
        }
    }

    pub fn forget(&self, name: &BucketName) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(name);
        }
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
}
