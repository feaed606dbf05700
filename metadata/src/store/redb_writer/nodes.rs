//! Node records and repair's manifest moves in the group-commit writer.

use redb::ReadableTable;

use super::{StoreError, Tables, WriteOutcome, WriteResult};
use crate::ids::NodeId;
use crate::model::{MoveOutcome, ObjectData, ShardMove};
use crate::store::NodeRecord;
use crate::store::codec::{decode, encode};
use crate::store::keys::{node_prefix, shard_file_key};

impl Tables<'_> {
    /// Writes a heartbeat record, keeping the stored draining flag.
    pub(super) fn put_node(&mut self, mut record: NodeRecord) -> Result<WriteResult, StoreError> {
        let id = record.heartbeat.id.as_str().as_bytes().to_vec();
        if let Some(old) = self.nodes.get(id.as_slice())? {
            record.draining = decode::<NodeRecord>("node", old.value())?.draining;
        }
        self.nodes
            .insert(id.as_slice(), encode(&record)?.as_slice())?;
        Ok(Ok(WriteOutcome::Done))
    }

    pub(super) fn set_node_draining(
        &mut self,
        id: &NodeId,
        draining: bool,
    ) -> Result<WriteResult, StoreError> {
        let key = id.as_str().as_bytes();
        let Some(old) = self.nodes.get(key)? else {
            return Ok(Err(StoreError::NoSuchNode));
        };
        let mut record = decode::<NodeRecord>("node", old.value())?;
        drop(old);
        record.draining = draining;
        self.nodes.insert(key, encode(&record)?.as_slice())?;
        Ok(Ok(WriteOutcome::Done))
    }

    pub(super) fn remove_node(&mut self, id: &NodeId) -> Result<WriteResult, StoreError> {
        let key = id.as_str().as_bytes();
        if self.nodes.get(key)?.is_none() {
            return Ok(Err(StoreError::NoSuchNode));
        }
        let prefix = node_prefix(id);
        let mut files = 0;
        for item in self.shard_refs.range::<&[u8]>(prefix.as_slice()..)? {
            let (k, _) = item?;
            if !k.value().starts_with(&prefix) {
                break;
            }
            files += 1;
        }
        if files > 0 {
            return Ok(Err(StoreError::NodeHoldsShards { files }));
        }
        // Its queued deletions can never be carried out, and would hold
        // back writes that happen to store the same bytes elsewhere only
        // if keyed by this node: drop them with it.
        let mut queued = Vec::new();
        for item in self.shard_deletions.range::<&[u8]>(prefix.as_slice()..)? {
            let (k, _) = item?;
            if !k.value().starts_with(&prefix) {
                break;
            }
            queued.push(k.value().to_vec());
        }
        for k in queued {
            self.shard_deletions.remove(k.as_slice())?;
        }
        self.nodes.remove(key)?;
        Ok(Ok(WriteOutcome::Done))
    }

    /// Applies a batch of moves; see [`crate::store::MetaStore::move_shards`].
    pub(super) fn move_shards(
        &mut self,
        moves: &[ShardMove],
        now_ms: i64,
    ) -> Result<WriteResult, StoreError> {
        let mut outcomes = Vec::with_capacity(moves.len());
        for mv in moves {
            outcomes.push(self.move_shard(mv, now_ms)?);
        }
        Ok(Ok(WriteOutcome::Moves(outcomes)))
    }

    fn move_shard(&mut self, mv: &ShardMove, now_ms: i64) -> Result<MoveOutcome, StoreError> {
        let version = mv.slot.version.0.as_u128();
        let data = match self.data.get(version)? {
            Some(raw) => Some(decode::<ObjectData>("data", raw.value())?),
            None => None,
        };
        let Some(ObjectData::Striped(mut manifest)) = data else {
            return self.stale_copy(mv, now_ms);
        };
        let Some(stripe) = manifest.stripes.get_mut(mv.slot.stripe as usize) else {
            return self.stale_copy(mv, now_ms);
        };
        let index = usize::from(mv.slot.index);
        let current = stripe.shards.get(index);
        let still_there = current.is_some_and(|s| s.hash == mv.hash && s.node == mv.from);
        let to_taken = stripe
            .shards
            .iter()
            .enumerate()
            .any(|(i, s)| i != index && s.node == mv.to);
        if !still_there || to_taken {
            return self.stale_copy(mv, now_ms);
        }
        let to_key = shard_file_key(&mv.to, &mv.hash);
        let from_key = shard_file_key(&mv.from, &mv.hash);
        if self.collected(
            std::slice::from_ref(&to_key),
            Some(mv.written_since_unix_ms),
        )? {
            return Ok(MoveOutcome::Collected);
        }
        stripe.shards[index].node = mv.to.clone();
        self.data
            .insert(version, encode(&ObjectData::Striped(manifest))?.as_slice())?;
        self.add_refs(std::slice::from_ref(&to_key))?;
        self.drop_refs(std::slice::from_ref(&from_key), now_ms)?;
        Ok(MoveOutcome::Moved)
    }

    /// A move that cannot apply. The copy its target stored is garbage
    /// unless something else names that file: queue it for deletion then.
    fn stale_copy(&mut self, mv: &ShardMove, now_ms: i64) -> Result<MoveOutcome, StoreError> {
        if mv.from != mv.to {
            let key = shard_file_key(&mv.to, &mv.hash);
            if self.shard_refs.get(key.as_slice())?.is_none()
                && self.shard_deletions.get(key.as_slice())?.is_none()
            {
                self.shard_deletions.insert(key.as_slice(), now_ms)?;
            }
        }
        Ok(MoveOutcome::Stale)
    }
}
