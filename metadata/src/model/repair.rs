//! Repair on the wire: the metadata service plans, storage nodes rebuild.
//!
//! A task asks one storage node (the target) to hold a verified copy of one
//! shard, rebuilding it from surviving shards of its stripe if it does not.
//! Shards are content-addressed and the code is deterministic, so a rebuilt
//! shard has the very hash the manifest names: the target can prove its
//! work before storing a byte, and nothing else about the stripe changes
//! except (for a move) which node the manifest names.

use serde::{Deserialize, Serialize};

use super::ErasureCode;
use crate::ids::{NodeId, ShardHash, VersionId};

/// One position in the stored data: shard `index` of stripe `stripe` of the
/// data row of `version` (an object version or an upload part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ShardSlot {
    pub version: VersionId,
    pub stripe: u32,
    pub index: u8,
}

/// A surviving shard a rebuild may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairSource {
    pub index: u8,
    pub hash: ShardHash,
    pub node: NodeId,
    /// Where the node's shard API listens, as of planning.
    pub addr: String,
}

/// Work for the target node: hold a verified copy of `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairTask {
    pub slot: ShardSlot,
    pub hash: ShardHash,
    pub code: ErasureCode,
    pub shard_len: u32,
    /// The node the manifest names for this shard now, whose copy is lost
    /// or must move. Equal to `target` when a node refills its own copy
    /// (found missing or corrupt on a live node).
    pub from: NodeId,
    pub target: NodeId,
    /// The stripe's readable shards; a rebuild needs `code.data` of them.
    pub sources: Vec<RepairSource>,
}

impl RepairTask {
    /// Whether the manifest moves when the task is done.
    pub fn is_move(&self) -> bool {
        self.from != self.target
    }
}

/// How a task ended on its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RepairOutcome {
    /// Rebuilt from `fetched_bytes` of survivors and stored.
    Rebuilt {
        fetched_bytes: u64,
    },
    /// The target already held a verified copy; nothing was fetched.
    Held,
    Failed {
        error: String,
    },
}

/// A finished task, reported by its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairReport {
    pub task: RepairTask,
    /// When the target began writing the shard: the garbage collector's
    /// guard for the file it stored (see `WriteCondition`).
    pub started_unix_ms: i64,
    #[serde(flatten)]
    pub outcome: RepairOutcome,
}

/// A storage node reports finished tasks and asks for up to `want` more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairClaim {
    pub node: NodeId,
    pub want: u32,
    #[serde(default)]
    pub done: Vec<RepairReport>,
}

/// A shard copy someone found missing or corrupt on a node that is up: a
/// reader whose fetch failed, or the node itself (scrub, inventory check).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SuspectShard {
    pub node: NodeId,
    pub hash: ShardHash,
}

/// Moves one shard of a stripe from `from` to `to` in the manifest, once
/// `to` holds a verified copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMove {
    pub slot: ShardSlot,
    pub hash: ShardHash,
    pub from: NodeId,
    pub to: NodeId,
    /// When the copy on `to` began to be written: a deletion of that file
    /// confirmed after this refuses the move.
    pub written_since_unix_ms: i64,
}

/// What became of a [`ShardMove`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveOutcome {
    Moved,
    /// The slot no longer names `hash` on `from` (the object was replaced
    /// or deleted, or the shard moved already), or `to` holds another shard
    /// of the stripe now. Nothing changed; the copy on `to` is left to the
    /// garbage collector unless something names it.
    Stale,
    /// The file on `to` is being collected, or was after the copy began:
    /// the manifest cannot name it. Plan again.
    Collected,
}

/// Scrub progress, reported by a node in its heartbeats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrubProgress {
    /// Passes finished since the node started.
    pub passes: u64,
    /// When the current pass began (or the last one, between passes).
    pub pass_started_unix_ms: i64,
    pub last_pass_finished_unix_ms: Option<i64>,
    /// In the current pass.
    pub shards_checked: u64,
    pub bytes_checked: u64,
    /// Shards stored when the pass began: how far there is to go.
    pub shards_total: u64,
    /// Found corrupt (and quarantined) or missing, since the node started.
    pub corrupt_found: u64,
    pub missing_found: u64,
}
