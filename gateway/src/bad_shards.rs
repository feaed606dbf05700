//! Reporting shard copies that a read found missing or corrupt, so repair
//! rebuilds them even if no scrub would reach them soon. A hot object with
//! a bad shard is read many times a second; each copy is reported once per
//! window, off the request path.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use metadata::client::MetadataClient;
use metadata::ids::{NodeId, ShardHash};
use metadata::model::SuspectShard;

/// A copy is reported again only after this long.
const REPORT_EVERY: Duration = Duration::from_secs(30);
/// Bound on remembered reports; older ones are dropped first.
const MAX_REMEMBERED: usize = 10_000;

#[derive(Debug)]
pub struct BadShardReports {
    meta: MetadataClient,
    sent: Mutex<HashMap<SuspectShard, Instant>>,
}

impl BadShardReports {
    pub fn new(meta: MetadataClient) -> Self {
        BadShardReports {
            meta,
            sent: Mutex::new(HashMap::new()),
        }
    }

    /// Reports the copy of `hash` on `node` unless it was reported lately.
    /// Returns at once; the report is sent in the background.
    pub fn report(&self, node: &NodeId, hash: &ShardHash) {
        let shard = SuspectShard {
            node: node.clone(),
            hash: *hash,
        };
        {
            let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            if sent
                .get(&shard)
                .is_some_and(|at| now.duration_since(*at) < REPORT_EVERY)
            {
                return;
            }
            if sent.len() >= MAX_REMEMBERED {
                sent.retain(|_, at| now.duration_since(*at) < REPORT_EVERY);
            }
            sent.insert(shard.clone(), now);
        }
        let meta = self.meta.clone();
        tokio::spawn(async move {
            if let Err(e) = meta.report_suspects(vec![shard]).await {
                tracing::debug!(error = %e, "could not report a bad shard copy");
            }
        });
    }
}
