//! The garbage collector's metadata side. Data that was replaced, deleted,
//! aborted or refused waits in the `garbage` table for a grace period (a
//! reader that resolved the old manifest may still be streaming it); then
//! its row is removed, which drops its shard references, and every shard
//! file left with none is queued for its node. Nodes pick their deletions up
//! in heartbeat replies and confirm them in the next heartbeat (see
//! [`crate::store::MetaStore::pending_deletions`]). Confirmed deletions are
//! remembered for a week, which bounds how long a write may run between
//! storing its first shard and committing.

use std::sync::Arc;
use std::time::Duration;

use crate::model::now_unix_ms;
use crate::store::{MetaStore, StoreError};

/// How often the collector looks at the garbage table.
const EVERY: Duration = Duration::from_secs(30);
/// How often confirmed deletions are pruned (a scan of their table).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Garbage rows read per round, oldest versions first (not oldest garbage:
/// rows still in their grace period at the front hold back those behind
/// them until they expire).
const BATCH: usize = 10_000;
/// Confirmed deletions older than this are forgotten.
const REMEMBER_DELETIONS: Duration = Duration::from_secs(7 * 24 * 3600);

/// Runs until the task is dropped (the service's runtime shuts down).
pub async fn run(store: Arc<dyn MetaStore>, grace: Duration) {
    let every = EVERY.min(grace.max(Duration::from_millis(200)));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_prune = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        match collect_once(store.as_ref(), grace).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(versions = n, "collected garbage"),
            Err(e) => tracing::warn!(error = %e, "garbage collection round failed"),
        }
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = tokio::time::Instant::now();
            let forget =
                now_unix_ms() - i64::try_from(REMEMBER_DELETIONS.as_millis()).unwrap_or(i64::MAX);
            if let Err(e) = store.prune_deleted(forget).await {
                tracing::warn!(error = %e, "pruning confirmed deletions failed");
            }
        }
    }
}

/// One round: removes the garbage rows older than `grace`. Returns how many.
pub async fn collect_once(store: &dyn MetaStore, grace: Duration) -> Result<usize, StoreError> {
    let now = now_unix_ms();
    let cutoff = now - i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let due: Vec<_> = store
        .list_garbage(BATCH)
        .await?
        .into_iter()
        .filter(|g| g.since_unix_ms <= cutoff)
        .map(|g| g.version)
        .collect();
    for chunk in due.chunks(256) {
        store.remove_garbage(chunk).await?;
    }
    metrics::counter!("metadata_garbage_collected_total").increment(due.len() as u64);
    Ok(due.len())
}
