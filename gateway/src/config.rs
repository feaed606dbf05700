//! The gateway's typed configuration. Binaries read files and flags; this
//! crate only ever sees a validated [`GatewayConfig`].

use std::time::Duration;

use metadata::model::ErasureCode;

/// One S3 access key from the configuration, its secret, and the user it
/// signs for (who owns the buckets it creates).
#[derive(Clone)]
pub struct Credential {
    pub access_key: String,
    pub secret_key: String,
    pub user: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("access_key", &self.access_key)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The erasure code for new objects (default 4 data + 2 parity).
    pub code: ErasureCode,
    /// Nominal shard size (default 1 MiB): a full stripe carries
    /// `code.data * shard_size` object bytes.
    pub shard_size: usize,
    /// Objects up to this size are stored inline in their metadata record
    /// instead of being striped (default 16 KiB): small writes then cost one
    /// metadata commit, not `data + parity` shard writes.
    pub inline_threshold: usize,
    /// Stripes of one PUT being encoded and written at once. Bounds a PUT's
    /// memory to about `(stripes_in_flight + 1) * (data + parity) * shard_size`.
    pub stripes_in_flight: usize,
    /// Stripes of one GET fetched ahead of the one being sent.
    pub read_ahead_stripes: usize,
    /// How often the gateway refreshes its view of storage nodes.
    pub topology_refresh: Duration,
    /// How long a node that failed a request is avoided before the next
    /// refresh may clear it.
    pub suspect_for: Duration,
    /// S3 credentials from the configuration; keys issued by the admin
    /// command live in metadata and need no restart.
    pub credentials: Vec<Credential>,
    /// Region reported by GetBucketLocation and expected in signatures.
    pub region: String,
    /// Domains for virtual-hosted-style requests (`bucket.<domain>`);
    /// empty: path style only.
    pub virtual_host_domains: Vec<String>,
    /// What the edge keeps in memory in front of storage nodes.
    pub cache: CacheConfig,
}

/// How shards are chosen for eviction when the cache is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionPolicy {
    /// Least recently used: a shard read once is always admitted, so a video
    /// published a moment ago is cached from its first viewer on.
    Lru,
    /// moka's TinyLFU: admits a new shard only if it is likely to be read
    /// more often than the one it would evict. Resists one-off scans, but can
    /// refuse a freshly published video when the cache is full.
    TinyLfu,
}

impl std::str::FromStr for EvictionPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "lru" => Ok(EvictionPolicy::Lru),
            "tinylfu" | "tiny-lfu" => Ok(EvictionPolicy::TinyLfu),
            other => Err(format!("unknown cache policy {other:?} (lru or tinylfu)")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Bytes of shard data kept in memory; 0 turns the shard cache off.
    pub shard_bytes: u64,
    pub policy: EvictionPolicy,
    /// Bytes of object manifests kept (each is checked against metadata on
    /// every read); 0 turns the manifest cache off.
    pub manifest_bytes: u64,
    /// How long a known manifest may still be served while metadata is
    /// unreachable (`x-cache: stale`); zero: never.
    pub stale_if_error: Duration,
    /// Stripes read ahead into the cache after a ranged read that continues
    /// where the previous one on the same object ended; 0: never.
    pub prefetch_stripes: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            shard_bytes: 256 * 1024 * 1024,
            policy: EvictionPolicy::Lru,
            manifest_bytes: 64 * 1024 * 1024,
            stale_if_error: Duration::from_secs(300),
            prefetch_stripes: 1,
        }
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            code: ErasureCode { data: 4, parity: 2 },
            shard_size: 1024 * 1024,
            inline_threshold: 16 * 1024,
            stripes_in_flight: 3,
            read_ahead_stripes: 2,
            topology_refresh: Duration::from_secs(1),
            suspect_for: Duration::from_secs(5),
            credentials: Vec::new(),
            region: "us-east-1".to_owned(),
            virtual_host_domains: Vec::new(),
            cache: CacheConfig::default(),
        }
    }
}
