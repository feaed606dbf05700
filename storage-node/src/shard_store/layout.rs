//! Where things live inside a node's data folder. One place, so the store, the
//! startup scan and the tests (which corrupt shard files on purpose) agree.
//!
//! ```text
//! <data_dir>/lock               held exclusively while a node uses the folder
//! <data_dir>/node_id            the node's identity (see `node_identity`)
//! <data_dir>/shards/ab/ab12..   one file per shard, named by its BLAKE3 hex
//! <data_dir>/tmp/               shards being received; wiped at startup
//! <data_dir>/quarantine/        shards that failed verification, kept for
//!                               an operator to inspect, never served
//! ```
//!
//! Two hex digits of fan-out keep directories near a few thousand entries per
//! million shards, and every path is on one filesystem so a rename or link
//! from `tmp/` into `shards/` is atomic.

use std::path::{Path, PathBuf};

use metadata::ids::ShardHash;

/// The file that holds the shard named `hash`:
/// `<data_dir>/shards/<first 2 hex>/<64 hex>`.
pub fn shard_path(data_dir: &Path, hash: &ShardHash) -> PathBuf {
    let hex = hash.to_hex();
    shards_dir(data_dir).join(&hex[..2]).join(hex)
}

pub(crate) fn shards_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("shards")
}

pub(crate) fn tmp_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tmp")
}

pub(crate) fn quarantine_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("quarantine")
}

pub(crate) fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join("lock")
}
