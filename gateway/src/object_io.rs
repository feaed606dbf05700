//! Object I/O shared by the writer and the reader: the clients, the codec and
//! the node view, bundled once per gateway.

use std::sync::Arc;

use metadata::client::MetadataClient;
use storage_node::client::StorageClient;
use storage_node::codec::Codec;

use crate::config::GatewayConfig;
use crate::manifest_cache::ManifestCache;
use crate::prefetch::Prefetcher;
use crate::shard_cache::ShardCache;
use crate::topology::Topology;

pub struct ObjectIo {
    pub meta: MetadataClient,
    /// Copies a read found missing or corrupt, reported for repair.
    pub bad_shards: crate::bad_shards::BadShardReports,
    pub storage: StorageClient,
    pub topology: Arc<Topology>,
    pub codec: Codec,
    pub config: GatewayConfig,
    /// Data shards in memory, by hash.
    pub shards: ShardCache,
    /// Object manifests, checked against metadata on every read.
    pub manifests: ManifestCache,
    /// Read-ahead for objects read in consecutive ranges.
    pub prefetch: Prefetcher,
}

impl ObjectIo {
    /// Object bytes in one full stripe: every stripe a writer cuts holds this
    /// many, but the last.
    pub fn stripe_bytes(&self) -> usize {
        usize::from(self.config.code.data) * self.config.shard_size
    }
}
