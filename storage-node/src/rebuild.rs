//! Rebuilding one lost shard on this node from `k` survivors on its peers.
//!
//! The manifest already names the lost shard's hash, and Reed-Solomon is
//! deterministic, so the rebuilt bytes must hash to it: the rebuild proves
//! itself before a byte is stored, and a wrong survivor (or a bug) can
//! never put a bad shard in place of a lost one.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use metadata::ids::{NodeId, ShardHash};
use metadata::model::{RepairOutcome, RepairSource, RepairTask};

use crate::client::StorageClient;
use crate::codec::Codec;
use crate::foreground::Foreground;
use crate::shard_store::{ShardStore, StoreError};
use crate::throttle::Throttle;

/// One survivor fetch may take this long before another is asked for.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("only {got} of the {needed} survivors needed could be read")]
    NotEnoughSurvivors { got: usize, needed: usize },
    #[error("the task is malformed: {0}")]
    BadTask(String),
    #[error("rebuilt bytes hash to {actual}, not to {expected}")]
    Mismatch {
        expected: ShardHash,
        actual: ShardHash,
    },
    #[error("decoding: {0}")]
    Codec(#[from] crate::codec::CodecError),
    #[error("storing the shard: {0}")]
    Store(#[from] StoreError),
}

/// What a rebuild needs, shared by the node's repair tasks.
#[derive(Debug)]
pub struct Rebuilder {
    pub node: NodeId,
    pub store: Arc<ShardStore>,
    pub peers: StorageClient,
    /// Bytes read from peers.
    pub throttle: Arc<Throttle>,
    pub foreground: Arc<Foreground>,
    /// Longest one step of a rebuild (a fetch, the decode, the store)
    /// waits for this node's foreground requests to finish: repair slows
    /// down under load but never stops.
    pub step_yield: Duration,
}

impl Rebuilder {
    /// Makes this node hold a verified copy of the task's shard.
    #[tracing::instrument(skip_all, fields(shard = %task.hash, stripe = task.slot.stripe, index = task.slot.index))]
    pub async fn run(&self, task: &RepairTask) -> RepairOutcome {
        match self.rebuild(task).await {
            Ok(outcome) => outcome,
            Err(e) => RepairOutcome::Failed {
                error: e.to_string(),
            },
        }
    }

    async fn rebuild(&self, task: &RepairTask) -> Result<RepairOutcome, RebuildError> {
        // A node back with its disk intact, or a copy reported bad that is
        // fine after all: nothing to fetch.
        match self.store.verify(&task.hash).await {
            Ok(_) => return Ok(RepairOutcome::Held),
            Err(StoreError::NotFound | StoreError::Corrupt) => {}
            Err(e) => return Err(e.into()),
        }
        let codec = Codec::new(task.code).map_err(|e| RebuildError::BadTask(e.to_string()))?;
        let total = task.code.total();
        let needed = usize::from(task.code.data);
        let index = usize::from(task.slot.index);
        if index >= total {
            return Err(RebuildError::BadTask(format!(
                "shard {index} of a {total}-shard stripe"
            )));
        }
        if let Some(fetched) = self.copy_from_holder(task).await? {
            return Ok(RepairOutcome::Rebuilt {
                fetched_bytes: fetched,
            });
        }
        let (shards, fetched) = self.fetch_survivors(task, total, needed).await?;
        let mut shards = shards;
        self.foreground.yield_to(self.step_yield).await;
        let rebuilt = tokio::task::spawn_blocking(move || {
            codec.reconstruct(&mut shards)?;
            Ok::<_, RebuildError>(shards.swap_remove(index).unwrap_or_default())
        })
        .await
        .map_err(|e| RebuildError::BadTask(format!("decode task: {e}")))??;
        let actual = ShardHash::of(&rebuilt);
        if actual != task.hash {
            return Err(RebuildError::Mismatch {
                expected: task.hash,
                actual,
            });
        }
        self.foreground.yield_to(self.step_yield).await;
        self.store
            .put_bytes(&task.hash, Bytes::from(rebuilt))
            .await?;
        metrics::counter!("repair_rebuilt_shards_total").increment(1);
        metrics::counter!("repair_fetched_bytes_total").increment(fetched);
        Ok(RepairOutcome::Rebuilt {
            fetched_bytes: fetched,
        })
    }

    /// A shard that moves off a node still holding it (rebalance,
    /// draining, a doubled-up stripe) is copied, not rebuilt: one shard
    /// read instead of `k`. The copy is verified against the manifest's
    /// hash like a rebuild; `None` if the holder cannot give a good copy,
    /// and the shard is rebuilt from the stripe instead.
    async fn copy_from_holder(&self, task: &RepairTask) -> Result<Option<u64>, RebuildError> {
        if !task.is_move() {
            return Ok(None);
        }
        let Some(holder) = task
            .sources
            .iter()
            .find(|s| s.index == task.slot.index && s.node == task.from && s.hash == task.hash)
        else {
            return Ok(None);
        };
        let bytes = match self.fetch(holder, task.shard_len).await {
            (_, Ok(bytes)) if ShardHash::of(&bytes) == task.hash => bytes,
            (_, Ok(_)) => {
                tracing::warn!(node = %holder.node, "the moving shard's copy is bad; rebuilding it");
                return Ok(None);
            }
            (_, Err(e)) => {
                tracing::debug!(node = %holder.node, error = %e, "the moving shard's holder did not answer; rebuilding it");
                return Ok(None);
            }
        };
        let len = bytes.len() as u64;
        self.foreground.yield_to(self.step_yield).await;
        self.store.put_bytes(&task.hash, bytes).await?;
        metrics::counter!("repair_copied_shards_total").increment(1);
        metrics::counter!("repair_fetched_bytes_total").increment(len);
        Ok(Some(len))
    }

    /// Reads survivors until `needed` arrived: `needed` at once, one more
    /// for each that fails. Returns the stripe's slots and the bytes read.
    async fn fetch_survivors(
        &self,
        task: &RepairTask,
        total: usize,
        needed: usize,
    ) -> Result<(Vec<Option<Vec<u8>>>, u64), RebuildError> {
        let mut shards: Vec<Option<Vec<u8>>> = vec![None; total];
        let mut queue: Vec<&RepairSource> = task
            .sources
            .iter()
            .filter(|s| usize::from(s.index) < total && s.index != task.slot.index)
            .collect();
        // Data shards first: with all of them present, decoding is a copy.
        queue.sort_by_key(|s| s.index);
        queue.reverse();
        let mut running = FuturesUnordered::new();
        let mut got = 0;
        let mut fetched = 0u64;
        while got < needed {
            while running.len() + got < needed {
                let Some(source) = queue.pop() else { break };
                running.push(self.fetch(source, task.shard_len));
            }
            let Some((index, result)) = running.next().await else {
                break;
            };
            match result {
                Ok(bytes) if bytes.len() == task.shard_len as usize => {
                    fetched += bytes.len() as u64;
                    shards[index] = Some(bytes.to_vec());
                    got += 1;
                }
                Ok(bytes) => {
                    tracing::warn!(index, len = bytes.len(), "survivor has the wrong length");
                }
                Err(e) => tracing::debug!(index, error = %e, "survivor unreadable"),
            }
        }
        if got < needed {
            return Err(RebuildError::NotEnoughSurvivors { got, needed });
        }
        Ok((shards, fetched))
    }

    async fn fetch(&self, source: &RepairSource, len: u32) -> (usize, Result<Bytes, String>) {
        let index = usize::from(source.index);
        self.throttle.take(u64::from(len)).await;
        self.foreground.yield_to(self.step_yield).await;
        let result = if source.node == self.node {
            self.store
                .get(&source.hash)
                .await
                .map_err(|e| e.to_string())
        } else {
            match tokio::time::timeout(
                FETCH_TIMEOUT,
                self.peers.get_shard_background(&source.addr, &source.hash),
            )
            .await
            {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err(format!("no answer within {FETCH_TIMEOUT:?}")),
            }
        };
        (index, result)
    }
}
