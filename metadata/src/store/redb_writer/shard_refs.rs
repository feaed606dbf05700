//! Shard references in the group-commit writer. Shards are named by their
//! content and placement is per version, so one file on a node can be named
//! by several versions; only the count of names says when it may go.
//!
//! The count of a `(node, hash)` is the number of times the rows of `data`
//! and `garbage` together name it. It rises when new data arrives (a commit,
//! a part, a refused upload's data handed over as garbage), is unchanged
//! when data moves between the two tables (overwrite, delete, completion,
//! abort), and falls when the collector removes a garbage row. At zero the
//! file is queued for deletion on its node (`shard_deletions`); once the
//! node confirms, the time is kept (`shards_deleted`) so that a commit whose
//! shard writes began before it, and which may have found that file already
//! present, is refused rather than left naming a deleted file.

use redb::ReadableTable;

use super::{StoreError, Tables};
use crate::model::ObjectData;
use crate::store::keys::shard_file_key;

/// The data of a garbage row (its other fields are not needed to count its
/// references).
#[derive(serde::Deserialize)]
struct GarbageData {
    data: ObjectData,
}

/// The `(node, hash)` keys an encoded garbage row names.
pub(crate) fn garbage_file_keys(raw: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
    let entry: GarbageData = crate::store::codec::decode("garbage", raw)?;
    Ok(file_keys(&entry.data))
}

/// The `(node, hash)` keys `data` names, once per mention.
pub(crate) fn file_keys(data: &ObjectData) -> Vec<Vec<u8>> {
    data.shards()
        .map(|s| shard_file_key(&s.node, &s.hash))
        .collect()
}

impl Tables<'_> {
    /// Whether a commit naming `keys` must be refused because one of their
    /// files is being deleted, or was deleted after the writes began.
    pub(super) fn collected(
        &self,
        keys: &[Vec<u8>],
        written_since: Option<i64>,
    ) -> Result<bool, StoreError> {
        for key in keys {
            if self.shard_deletions.get(key.as_slice())?.is_some() {
                return Ok(true);
            }
            if let Some(since) = written_since
                && let Some(at) = self.shards_deleted.get(key.as_slice())?
                && at.value() >= since
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Admits new data naming `keys`: refused (inner error) if one of its
    /// files was collected meanwhile, else counted.
    pub(super) fn admit(
        &mut self,
        keys: &[Vec<u8>],
        written_since: Option<i64>,
    ) -> Result<Result<(), StoreError>, StoreError> {
        if self.collected(keys, written_since)? {
            return Ok(Err(StoreError::ShardsCollected));
        }
        self.add_refs(keys)?;
        Ok(Ok(()))
    }

    pub(super) fn add_refs(&mut self, keys: &[Vec<u8>]) -> Result<(), StoreError> {
        for key in keys {
            let count = self
                .shard_refs
                .get(key.as_slice())?
                .map_or(0, |v| v.value());
            self.shard_refs.insert(key.as_slice(), count + 1)?;
        }
        Ok(())
    }

    /// Drops one reference per key; a file left with none is queued for
    /// deletion. A key with no count (data written before counting began
    /// and not counted since) is left alone: never delete what is unknown.
    pub(super) fn drop_refs(&mut self, keys: &[Vec<u8>], now_ms: i64) -> Result<(), StoreError> {
        for key in keys {
            let count = match self.shard_refs.get(key.as_slice())? {
                Some(v) => v.value(),
                None => continue,
            };
            if count > 1 {
                self.shard_refs.insert(key.as_slice(), count - 1)?;
            } else {
                self.shard_refs.remove(key.as_slice())?;
                self.shard_deletions.insert(key.as_slice(), now_ms)?;
            }
        }
        Ok(())
    }
}
