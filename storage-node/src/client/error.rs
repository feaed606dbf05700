//! What can go wrong when talking to a storage node, classified for the
//! gateway's decisions: read another shard, retry, or give up.

/// An error from [`super::StorageClient`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// The node does not hold the shard.
    #[error("shard not found on the node")]
    NotFound,
    /// The shard's bytes do not match its hash, found either by the node
    /// (which quarantined its copy) or by the client on arrival. Read parity
    /// instead and report the shard for repair.
    #[error("shard is corrupt")]
    Corrupt,
    /// The node refused an upload whose bytes do not hash to its name: a bug
    /// on the sending side, or bytes damaged in flight.
    #[error("shard bytes do not match their hash")]
    HashMismatch,
    /// The node refused the cluster secret.
    #[error("the storage node refused the cluster secret")]
    Unauthorized,
    /// The node is out of space; place the shard elsewhere.
    #[error("the storage node is full")]
    Full,
    /// The node could not be reached, timed out, or failed internally (5xx).
    #[error("storage node unavailable: {0}")]
    Unavailable(String),
    /// An answer that makes no sense for the request (wrong service on that
    /// port, bad request, version skew).
    #[error("storage node protocol error: {0}")]
    Protocol(String),
}

impl ShardError {
    /// Whether the same request to the same node may succeed later: only
    /// transport trouble and server-side failures. A missing or corrupt shard
    /// stays so until repair; a full node stays full.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ShardError::Unavailable(_))
    }
}
