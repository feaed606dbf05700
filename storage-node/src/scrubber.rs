//! The scrubber: re-reads and re-hashes every shard at rest at a set rate,
//! so bit rot is found while parity can still rebuild it, not when a reader
//! finally needs the bytes. A corrupt file is quarantined (by the store) and
//! reported; after each pass the disk is checked against what the node must
//! hold, which finds files gone missing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use metadata::client::MetadataClient;
use metadata::ids::NodeId;
use metadata::model::{ScrubProgress, SuspectShard, now_unix_ms};
use tokio_util::sync::CancellationToken;

use crate::inventory::report_missing;
use crate::shard_store::{ShardStore, StoreError};
use crate::throttle::Throttle;

pub struct Scrubber {
    pub meta: MetadataClient,
    pub store: Arc<ShardStore>,
    pub node: NodeId,
    /// Bytes per second; 0 turns scrubbing off (the missing-file check at
    /// start still runs).
    pub rate: u64,
    pub pause: Duration,
    pub progress: Arc<Mutex<ScrubProgress>>,
}

impl Scrubber {
    /// Checks for missing files at once, then scrubs pass after pass until
    /// `cancel`.
    pub async fn run(self, cancel: CancellationToken) {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = self.check_missing() => {}
        }
        if self.rate == 0 {
            return;
        }
        let throttle = Throttle::new(self.rate);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = self.pass(&throttle) => {}
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = self.check_missing() => {}
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(self.pause) => {}
            }
        }
    }

    fn update(&self, f: impl FnOnce(&mut ScrubProgress)) {
        let mut p = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut p);
    }

    async fn check_missing(&self) {
        // The node may not be registered yet at start: retry a few times.
        for attempt in 0..10u32 {
            match report_missing(&self.meta, &self.store, &self.node).await {
                Ok(n) => {
                    self.update(|p| p.missing_found += n);
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, attempt, "missing-file check failed; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
        tracing::warn!("missing-file check gave up until the next pass");
    }

    async fn pass(&self, throttle: &Throttle) {
        let total = self.store.usage().shard_count;
        self.update(|p| {
            p.pass_started_unix_ms = now_unix_ms();
            p.shards_checked = 0;
            p.bytes_checked = 0;
            p.shards_total = total;
        });
        for prefix in 0..=255u8 {
            let hashes = match self.store.list_fanout(prefix).await {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, prefix, "scrub could not list a folder");
                    continue;
                }
            };
            for hash in hashes {
                match self.store.verify(&hash).await {
                    Ok(len) => {
                        throttle.take(len).await;
                        self.update(|p| {
                            p.shards_checked += 1;
                            p.bytes_checked += len;
                        });
                    }
                    // Deleted since the folder was listed.
                    Err(StoreError::NotFound) => {}
                    Err(StoreError::Corrupt) => {
                        self.update(|p| {
                            p.shards_checked += 1;
                            p.corrupt_found += 1;
                        });
                        metrics::counter!("scrub_corrupt_shards_total").increment(1);
                        let report = vec![SuspectShard {
                            node: self.node.clone(),
                            hash,
                        }];
                        if let Err(e) = self.meta.report_suspects(report).await {
                            // The missing-file check after the pass finds
                            // it again (the store quarantined it).
                            tracing::warn!(error = %e, shard = %hash, "could not report a corrupt shard");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, shard = %hash, "scrub could not read a shard")
                    }
                }
            }
        }
        self.update(|p| {
            p.passes += 1;
            p.last_pass_finished_unix_ms = Some(now_unix_ms());
        });
        metrics::counter!("scrub_passes_total").increment(1);
        tracing::info!("scrub pass finished");
    }
}
