use serde::{Deserialize, Serialize};

use crate::ids::{NodeId, ShardHash};

/// A Reed-Solomon code: `data` shards carry the bytes, any `parity` of the
/// `data + parity` shards may be lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ErasureCode {
    pub data: u8,
    pub parity: u8,
}

impl ErasureCode {
    pub fn total(&self) -> usize {
        usize::from(self.data) + usize::from(self.parity)
    }
}

/// Where one shard of a stripe lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRef {
    pub hash: ShardHash,
    pub node: NodeId,
}

/// `code.data` data shards followed by `code.parity` parity shards, all
/// `shard_len` bytes long. The stripe's `data_len` object bytes are laid out
/// across the data shards in order; the last data shards are zero-padded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stripe {
    pub data_len: u64,
    pub shard_len: u32,
    pub shards: Vec<ShardRef>,
}

/// How an object's bytes are spread over storage nodes: its stripes in order.
/// In a single PUT every stripe but the last holds `code.data * shard_len`
/// bytes. A completed multipart object is its parts' manifests concatenated
/// (its shards are never rewritten), so there the last stripe of every part
/// may be short too: readers find an offset by summing `data_len`, never by
/// multiplying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub code: ErasureCode,
    pub stripes: Vec<Stripe>,
}

impl Manifest {
    pub fn data_len(&self) -> u64 {
        self.stripes.iter().map(|s| s.data_len).sum()
    }

    /// Every shard the manifest names, for garbage collection and repair.
    pub fn shards(&self) -> impl Iterator<Item = &ShardRef> {
        self.stripes.iter().flat_map(|s| s.shards.iter())
    }
}
