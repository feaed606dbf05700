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
        }
    }
}
