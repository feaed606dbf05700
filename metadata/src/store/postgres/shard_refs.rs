//! Shard references, as in the embedded store (see its `shard_refs`): per
//! shard file (`node \0 hash`), how many rows of `data` and `garbage` name
//! it; at zero it is queued for deletion on its node. Each helper is one
//! statement over an array of files, so a manifest of a thousand shards
//! costs one round trip, not a thousand.
//!
//! Concurrent writers from several replicas stay exact without advisory
//! locks because every writer changes a file's count row before it decides
//! anything about the file, and the row lock orders them:
//! - [`admit`] counts its references first, then checks the deletion
//!   queue. A collector that dropped the last reference before it queued
//!   the file, so the check sees the queue entry and the write is refused
//!   (and rolled back, taking the new count with it). A collector that comes
//!   after waits on the count row and then finds it still referenced.
//! - [`drop_refs`] deletes a count row only where the references it drops
//!   are all there are, re-checked on the newest row after any wait.

use deadpool_postgres::Transaction;

use super::sql::{exec, one};
use super::txn::TxError;
use crate::store::StoreError;

/// Whether data naming `files` must be refused because one of them is being
/// deleted, or was deleted after the writes began.
pub(super) async fn collected(
    t: &Transaction<'_>,
    files: &[Vec<u8>],
    written_since: Option<i64>,
) -> Result<bool, tokio_postgres::Error> {
    if files.is_empty() {
        return Ok(false);
    }
    let row = one(
        t,
        "SELECT EXISTS (SELECT 1 FROM shard_deletions WHERE file = ANY($1)) \
             OR EXISTS (SELECT 1 FROM shards_deleted WHERE file = ANY($1) AND at_unix_ms >= $2)",
        &[&files, &written_since],
    )
    .await?;
    Ok(row.get(0))
}

/// Admits new data naming `files`: counted, then refused if one was
/// collected meanwhile. A refusal is an error that rolls the whole write
/// back, since the count is already written.
pub(super) async fn admit(
    t: &Transaction<'_>,
    files: &[Vec<u8>],
    written_since: Option<i64>,
) -> Result<(), TxError> {
    add_refs(t, files).await?;
    if collected(t, files, written_since).await? {
        return Err(StoreError::ShardsCollected.into());
    }
    Ok(())
}

pub(super) async fn add_refs(
    t: &Transaction<'_>,
    files: &[Vec<u8>],
) -> Result<(), tokio_postgres::Error> {
    if files.is_empty() {
        return Ok(());
    }
    exec(
        t,
        "INSERT INTO shard_refs (file, refs) \
         SELECT f, count(*) FROM unnest($1::bytea[]) AS f GROUP BY f ORDER BY f \
         ON CONFLICT (file) DO UPDATE SET refs = shard_refs.refs + EXCLUDED.refs",
        &[&files],
    )
    .await?;
    Ok(())
}

/// Drops one reference per mention; a file left with none is queued for
/// deletion. A file with no count is left alone: never delete the unknown.
pub(super) async fn drop_refs(
    t: &Transaction<'_>,
    files: &[Vec<u8>],
    now_ms: i64,
) -> Result<(), tokio_postgres::Error> {
    if files.is_empty() {
        return Ok(());
    }
    // Files losing their last references first, then the rest: the other
    // order would count a decremented file twice.
    exec(
        t,
        "WITH d AS (SELECT f, count(*) AS c FROM unnest($1::bytea[]) AS f GROUP BY f), \
              gone AS (DELETE FROM shard_refs r USING d \
                       WHERE r.file = d.f AND r.refs <= d.c RETURNING r.file) \
         INSERT INTO shard_deletions (file, since_unix_ms) SELECT file, $2 FROM gone \
         ON CONFLICT (file) DO UPDATE SET since_unix_ms = EXCLUDED.since_unix_ms",
        &[&files, &now_ms],
    )
    .await?;
    subtract_refs(t, files).await
}

/// Takes back references counted earlier in this transaction, without
/// queueing anything: for a move refused after it counted its target.
pub(super) async fn release_refs(
    t: &Transaction<'_>,
    files: &[Vec<u8>],
) -> Result<(), tokio_postgres::Error> {
    if files.is_empty() {
        return Ok(());
    }
    exec(
        t,
        "WITH d AS (SELECT f, count(*) AS c FROM unnest($1::bytea[]) AS f GROUP BY f) \
         DELETE FROM shard_refs r USING d WHERE r.file = d.f AND r.refs <= d.c",
        &[&files],
    )
    .await?;
    subtract_refs(t, files).await
}

/// Lowers the counts of files that keep references after `files` are
/// taken away (the callers have removed the rows that would reach zero).
async fn subtract_refs(
    t: &Transaction<'_>,
    files: &[Vec<u8>],
) -> Result<(), tokio_postgres::Error> {
    exec(
        t,
        "WITH d AS (SELECT f, count(*) AS c FROM unnest($1::bytea[]) AS f GROUP BY f) \
         UPDATE shard_refs r SET refs = r.refs - d.c FROM d WHERE r.file = d.f",
        &[&files],
    )
    .await?;
    Ok(())
}
