//! Reports the node to the metadata service every interval: that it is alive,
//! where to reach it, and how full it is. Placement and repair depend on it,
//! so it keeps trying through any failure until the node shuts down.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metadata::client::MetadataClient;
use metadata::ids::{NodeId, ShardHash};
use metadata::model::{NodeHeartbeat, ScrubProgress};
use tokio_util::sync::CancellationToken;

use crate::latency::LatencyTracker;
use crate::shard_store::ShardStore;

/// While metadata stays unreachable, one warning per this long, not one per
/// beat: a node that beats every second would otherwise flood its log.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// Who this node is and where it listens, as reported in every heartbeat,
/// with what it measures about itself.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub id: NodeId,
    pub addr: String,
    pub zone: Option<String>,
    pub latency: Arc<LatencyTracker>,
    pub scrub: Arc<Mutex<ScrubProgress>>,
}

/// Sends heartbeats every `interval` (the first at once) until `cancel`.
pub async fn run_heartbeat(
    client: MetadataClient,
    store: Arc<ShardStore>,
    node: NodeInfo,
    interval: Duration,
    cancel: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    // After a stall, beat once and carry on; a burst of stale beats helps no one.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A hung metadata service must not hold up later beats for the client's
    // full request timeout.
    let send_timeout = interval.max(Duration::from_secs(2));
    let mut failures: u64 = 0;
    let mut last_warn: Option<Instant> = None;
    // Deletions carried out since the last heartbeat that got through.
    let mut deleted: Vec<ShardHash> = Vec::new();
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let usage = store.usage();
        let hb = NodeHeartbeat {
            id: node.id.clone(),
            addr: node.addr.clone(),
            zone: node.zone.clone(),
            capacity_bytes: usage.capacity_bytes,
            used_bytes: usage.used_bytes,
            shard_count: usage.shard_count,
            deleted: deleted.clone(),
            latency: node.latency.snapshot(),
            scrub: Some(node.scrub.lock().unwrap_or_else(|p| p.into_inner()).clone()),
        };
        let result = tokio::select! {
            () = cancel.cancelled() => break,
            r = tokio::time::timeout(send_timeout, client.heartbeat(&hb)) => r,
        };
        let error = match result {
            Ok(Ok(reply)) => {
                deleted.clear();
                delete_shards(&store, &reply.delete, &mut deleted).await;
                None
            }
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {send_timeout:?}")),
        };
        match error {
            None => {
                if failures > 0 {
                    tracing::info!(failures, "heartbeats reach the metadata service again");
                }
                failures = 0;
                last_warn = None;
            }
            Some(error) => {
                failures += 1;
                metrics::counter!("heartbeat_failures_total").increment(1);
                if last_warn.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                    tracing::warn!(
                        %error,
                        failures,
                        metadata = client.base_url(),
                        "heartbeat failed; will keep trying"
                    );
                    last_warn = Some(Instant::now());
                }
            }
        }
    }
    tracing::debug!("heartbeat stopped");
}

/// Deletes the shard files the metadata service found unreferenced, and
/// notes each one gone (also one already missing) for the next heartbeat.
/// A file that cannot be deleted now is asked for again later.
async fn delete_shards(store: &ShardStore, hashes: &[ShardHash], done: &mut Vec<ShardHash>) {
    for hash in hashes {
        match store.delete(hash).await {
            Ok(_) => done.push(*hash),
            Err(e) => {
                tracing::warn!(shard = %hash, error = %e, "could not delete an unreferenced shard")
            }
        }
    }
    if !done.is_empty() {
        metrics::counter!("shards_collected_total").increment(done.len() as u64);
        tracing::debug!(shards = done.len(), "deleted unreferenced shards");
    }
}
