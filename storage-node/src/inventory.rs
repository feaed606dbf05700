//! Checks the disk against what the metadata service says this node must
//! hold, and reports every file that is missing: a node that comes back
//! with an empty or replaced disk is refilled by repair, and a file lost
//! behind the store's back (deleted by hand, a bad sector) is found even if
//! no one ever reads it.

use std::sync::Arc;

use metadata::client::MetadataClient;
use metadata::error::MetadataError;
use metadata::ids::{NodeId, ShardHash};
use metadata::model::SuspectShard;

use crate::shard_store::ShardStore;

/// Hashes asked for per page.
const PAGE: usize = 10_000;

/// Returns how many files were missing (and reported).
pub async fn report_missing(
    meta: &MetadataClient,
    store: &Arc<ShardStore>,
    node: &NodeId,
) -> Result<u64, MetadataError> {
    let mut after: Option<ShardHash> = None;
    let mut missing_total = 0u64;
    loop {
        let page = meta.node_files(node, after, PAGE).await?;
        let mut missing = Vec::new();
        for hash in &page {
            // A stat, not a read: the scrubber verifies contents.
            if matches!(store.size_of(hash).await, Ok(None)) {
                missing.push(SuspectShard {
                    node: node.clone(),
                    hash: *hash,
                });
            }
        }
        if !missing.is_empty() {
            missing_total += missing.len() as u64;
            tracing::warn!(
                missing = missing.len(),
                "shard files this node must hold are missing; reported for repair"
            );
            meta.report_suspects(missing).await?;
        }
        after = page.last().copied();
        if page.len() < PAGE {
            break;
        }
    }
    Ok(missing_total)
}
