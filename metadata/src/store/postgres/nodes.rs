//! Node records and repair's manifest moves in the PostgreSQL backend.
//! Node writes lock the node's row; a move locks the data row it rewrites,
//! so it and a commit replacing that version, a completion consuming it or
//! another move of the same stripe take turns, and each sees the other's
//! result.

use deadpool_postgres::Transaction;

use super::shard_refs::{add_refs, collected, drop_refs, release_refs};
use super::sql::{self, exec, one, opt};
use super::txn::{TxError, TxResult};
use crate::ids::NodeId;
use crate::model::{MoveOutcome, ObjectData, ShardMove};
use crate::store::codec::{decode, encode};
use crate::store::keys::{node_prefix, prefix_successor, shard_file_key};
use crate::store::{NodeRecord, StoreError};

/// Writes a heartbeat record, keeping the stored draining flag.
pub(super) async fn put_node(t: &Transaction<'_>, mut record: NodeRecord) -> TxResult<()> {
    let id = record.heartbeat.id.as_str().to_owned();
    if let Some(row) = opt(
        t,
        "SELECT record FROM nodes WHERE id = $1 FOR UPDATE",
        &[&id],
    )
    .await?
    {
        record.draining = decode::<NodeRecord>("node", row.get(0))?.draining;
    }
    exec(
        t,
        "INSERT INTO nodes (id, record) VALUES ($1, $2) \
         ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
        &[&id, &encode(&record)?],
    )
    .await?;
    Ok(Ok(()))
}

pub(super) async fn set_node_draining(
    t: &Transaction<'_>,
    id: &NodeId,
    draining: bool,
) -> TxResult<()> {
    let Some(row) = opt(
        t,
        "SELECT record FROM nodes WHERE id = $1 FOR UPDATE",
        &[&id.as_str()],
    )
    .await?
    else {
        return Ok(Err(StoreError::NoSuchNode));
    };
    let mut record: NodeRecord = decode("node", row.get(0))?;
    record.draining = draining;
    exec(
        t,
        "UPDATE nodes SET record = $2 WHERE id = $1",
        &[&id.as_str(), &encode(&record)?],
    )
    .await?;
    Ok(Ok(()))
}

/// The range of `file` keys of one node's shard files.
pub(super) fn node_range(id: &NodeId) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
    let lo = node_prefix(id);
    // Never None: the prefix ends in the \0 separator.
    let hi = prefix_successor(&lo)
        .ok_or_else(|| StoreError::Backend("no upper bound for the node's files".into()))?;
    Ok((lo, hi))
}

pub(super) async fn remove_node(t: &Transaction<'_>, id: &NodeId) -> TxResult<()> {
    if opt(
        t,
        "SELECT 1 FROM nodes WHERE id = $1 FOR UPDATE",
        &[&id.as_str()],
    )
    .await?
    .is_none()
    {
        return Ok(Err(StoreError::NoSuchNode));
    }
    // The count must include references being added right now: wait for
    // every write that changes counts, and hold later ones off until this
    // commits. Removing a node is rare; the pause is one count's length.
    sql::batch(t, "LOCK TABLE shard_refs IN SHARE MODE").await?;
    let (lo, hi) = node_range(id)?;
    let files: i64 = one(
        t,
        "SELECT count(*) FROM shard_refs WHERE file >= $1 AND file < $2",
        &[&lo, &hi],
    )
    .await?
    .get(0);
    if files > 0 {
        return Ok(Err(StoreError::NodeHoldsShards {
            files: files.unsigned_abs(),
        }));
    }
    // Its queued deletions can never be carried out: drop them with it.
    exec(
        t,
        "DELETE FROM shard_deletions WHERE file >= $1 AND file < $2",
        &[&lo, &hi],
    )
    .await?;
    exec(t, "DELETE FROM nodes WHERE id = $1", &[&id.as_str()]).await?;
    Ok(Ok(()))
}

pub(super) async fn move_shards(
    t: &Transaction<'_>,
    moves: &[ShardMove],
    now_ms: i64,
) -> TxResult<Vec<MoveOutcome>> {
    let mut outcomes = Vec::with_capacity(moves.len());
    for mv in moves {
        outcomes.push(move_shard(t, mv, now_ms).await?);
    }
    Ok(Ok(outcomes))
}

async fn move_shard(
    t: &Transaction<'_>,
    mv: &ShardMove,
    now_ms: i64,
) -> Result<MoveOutcome, TxError> {
    let version = mv.slot.version.0;
    let data: Option<ObjectData> = match opt(
        t,
        "SELECT data FROM data WHERE version = $1 FOR UPDATE",
        &[&version],
    )
    .await?
    {
        Some(row) => Some(decode("data", row.get(0))?),
        None => None,
    };
    let Some(ObjectData::Striped(mut manifest)) = data else {
        return stale_copy(t, mv, now_ms).await;
    };
    let Some(stripe) = manifest.stripes.get_mut(mv.slot.stripe as usize) else {
        return stale_copy(t, mv, now_ms).await;
    };
    let index = usize::from(mv.slot.index);
    let still_there = stripe
        .shards
        .get(index)
        .is_some_and(|s| s.hash == mv.hash && s.node == mv.from);
    let to_taken = stripe
        .shards
        .iter()
        .enumerate()
        .any(|(i, s)| i != index && s.node == mv.to);
    if !still_there || to_taken {
        return stale_copy(t, mv, now_ms).await;
    }
    let to_key = shard_file_key(&mv.to, &mv.hash);
    let from_key = shard_file_key(&mv.from, &mv.hash);
    // Counted before the check, as an admission is (see `shard_refs`).
    let to_key = std::slice::from_ref(&to_key);
    add_refs(t, to_key).await?;
    if collected(t, to_key, Some(mv.written_since_unix_ms)).await? {
        release_refs(t, to_key).await?;
        return Ok(MoveOutcome::Collected);
    }
    stripe.shards[index].node = mv.to.clone();
    exec(
        t,
        "UPDATE data SET data = $2 WHERE version = $1",
        &[&version, &encode(&ObjectData::Striped(manifest))?],
    )
    .await?;
    drop_refs(t, std::slice::from_ref(&from_key), now_ms).await?;
    Ok(MoveOutcome::Moved)
}

/// A move that cannot apply: the copy its target stored is garbage unless
/// something else names that file.
async fn stale_copy(
    t: &Transaction<'_>,
    mv: &ShardMove,
    now_ms: i64,
) -> Result<MoveOutcome, TxError> {
    if mv.from != mv.to {
        // A reference taken and dropped: the drop queues the file exactly
        // when nothing else names it, and the count row it goes through
        // orders this against a write admitting the same file.
        let key = [shard_file_key(&mv.to, &mv.hash)];
        add_refs(t, &key).await?;
        drop_refs(t, &key, now_ms).await?;
    }
    Ok(MoveOutcome::Stale)
}
