//! The typed client of the shard API, used by gateways, edges and peers.
//!
//! It never retries: the gateway decides whether to retry, hedge or read
//! parity instead ([`ShardError::is_retryable`]). And it trusts no node: every
//! shard fetched is hashed on arrival, so bytes damaged on the wire or by a
//! buggy node are caught before they reach a user.

mod error;

use std::time::Duration;

use bytes::Bytes;
use metadata::cluster_auth::ClusterSecret;
use metadata::ids::ShardHash;
use reqwest::StatusCode;

pub use error::ShardError;

use crate::wire::{ErrorBody, shard_url_path};

/// A dead node must cost a read one extra shard fetch, not a long stall, so
/// connects give up fast (loopback and LAN connects take microseconds).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Upper bound for one shard transfer (64 MiB on a slow disk); slow-but-alive
/// nodes are the gateway's to hedge, well before this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept per node: a gateway moves many stripes at once, each
/// touching every node, so keep enough for that many concurrent requests.
const POOL_IDLE_PER_HOST: usize = 64;
/// Above this size a fetched shard is hashed on the blocking pool rather than
/// on a runtime thread (BLAKE3 does ~6 GB/s: 2 MiB is ~0.3 ms).
const INLINE_HASH_MAX: usize = 2 << 20;

/// Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct StorageClient {
    http: reqwest::Client,
    secret: ClusterSecret,
}

impl std::fmt::Debug for StorageClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageClient").finish_non_exhaustive()
    }
}

impl StorageClient {
    /// Fails only if the HTTP client cannot be built (no usable TLS/DNS
    /// backend on the platform), never because of the network.
    pub fn new(secret: ClusterSecret) -> Result<Self, ShardError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(POOL_IDLE_PER_HOST)
            // Without it, small requests wait on Nagle + delayed ACK (~40 ms).
            .tcp_nodelay(true)
            // Cluster traffic goes straight to its peers, never via an
            // HTTP_PROXY meant for the outside world.
            .no_proxy()
            .build()
            .map_err(|e| ShardError::Protocol(format!("building HTTP client: {e}")))?;
        Ok(StorageClient { http, secret })
    }

    fn url(addr: &str, hash: &ShardHash) -> String {
        format!("http://{addr}{}", shard_url_path(hash))
    }

    /// Stores `data` as the shard `hash` on the node at `addr` (`host:port`).
    /// Idempotent: storing a shard the node already has succeeds.
    #[tracing::instrument(level = "debug", skip_all, fields(shard = %hash, node = %addr))]
    pub async fn put_shard(
        &self,
        addr: &str,
        hash: &ShardHash,
        data: Bytes,
    ) -> Result<(), ShardError> {
        let response = self
            .http
            .put(Self::url(addr, hash))
            .header(reqwest::header::AUTHORIZATION, self.secret.header_value())
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(data)
            .send()
            .await
            .map_err(transport_error)?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(error_from_response(response).await)
    }

    /// Fetches the shard `hash` from the node at `addr`, verified: bytes that
    /// do not hash to `hash` are [`ShardError::Corrupt`]. This is the one
    /// check between the disk and the caller (the node does not hash what
    /// it serves), so it covers rot on disk and damage on the wire alike.
    #[tracing::instrument(level = "debug", skip_all, fields(shard = %hash, node = %addr))]
    pub async fn get_shard(&self, addr: &str, hash: &ShardHash) -> Result<Bytes, ShardError> {
        self.fetch_shard(addr, hash, false).await
    }

    /// [`Self::get_shard`] for repair: the peer serves it after the
    /// foreground requests it has in flight (see [`crate::foreground`]).
    pub async fn get_shard_background(
        &self,
        addr: &str,
        hash: &ShardHash,
    ) -> Result<Bytes, ShardError> {
        self.fetch_shard(addr, hash, true).await
    }

    async fn fetch_shard(
        &self,
        addr: &str,
        hash: &ShardHash,
        background: bool,
    ) -> Result<Bytes, ShardError> {
        let mut request = self
            .http
            .get(Self::url(addr, hash))
            .header(reqwest::header::AUTHORIZATION, self.secret.header_value());
        if background {
            request = request.header(crate::foreground::BACKGROUND_HEADER, "1");
        }
        let response = request.send().await.map_err(transport_error)?;
        if !response.status().is_success() {
            return Err(error_from_response(response).await);
        }
        let bytes = response.bytes().await.map_err(transport_error)?;
        let actual = if bytes.len() <= INLINE_HASH_MAX {
            ShardHash::of(&bytes)
        } else {
            let b = bytes.clone();
            tokio::task::spawn_blocking(move || ShardHash::of(&b))
                .await
                .map_err(|e| ShardError::Protocol(format!("hashing task failed: {e}")))?
        };
        if actual != *hash {
            tracing::warn!(shard = %hash, node = %addr, %actual, "fetched shard does not match its hash");
            self.ask_to_verify(addr, hash).await;
            return Err(ShardError::Corrupt);
        }
        Ok(bytes)
    }

    /// Asks the node to hash its stored copy of `hash`, which quarantines
    /// it if it is rotten. Best effort: the caller reads parity either way,
    /// and the scrubber would find a rotten copy later.
    async fn ask_to_verify(&self, addr: &str, hash: &ShardHash) {
        let result = self
            .http
            .post(format!("{}/verify", Self::url(addr, hash)))
            .header(reqwest::header::AUTHORIZATION, self.secret.header_value())
            .send()
            .await;
        match result {
            Ok(r) if r.status() == StatusCode::GONE => {
                tracing::warn!(shard = %hash, node = %addr, "the node found its copy rotten and quarantined it");
            }
            Ok(r) => {
                tracing::debug!(shard = %hash, node = %addr, status = %r.status(), "the node checked its copy");
            }
            Err(e) => {
                tracing::debug!(shard = %hash, node = %addr, error = %e, "could not ask the node to check its copy");
            }
        }
    }

    /// Whether the node at `addr` holds the shard (not verified; a read is).
    #[tracing::instrument(level = "debug", skip_all, fields(shard = %hash, node = %addr))]
    pub async fn has_shard(&self, addr: &str, hash: &ShardHash) -> Result<bool, ShardError> {
        let response = self
            .http
            .head(Self::url(addr, hash))
            .header(reqwest::header::AUTHORIZATION, self.secret.header_value())
            .send()
            .await
            .map_err(transport_error)?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(error_from_response(response).await),
        }
    }

    /// Deletes the shard from the node at `addr`. Idempotent: deleting a
    /// shard the node does not hold succeeds.
    #[tracing::instrument(level = "debug", skip_all, fields(shard = %hash, node = %addr))]
    pub async fn delete_shard(&self, addr: &str, hash: &ShardHash) -> Result<(), ShardError> {
        let response = self
            .http
            .delete(Self::url(addr, hash))
            .header(reqwest::header::AUTHORIZATION, self.secret.header_value())
            .send()
            .await
            .map_err(transport_error)?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(error_from_response(response).await)
    }
}

/// Every failure to complete the exchange (connect refused, reset, timeout,
/// body cut short) means "this node, right now": try another or retry later.
fn transport_error(e: reqwest::Error) -> ShardError {
    if e.is_builder() {
        return ShardError::Protocol(format!("bad request: {e}"));
    }
    ShardError::Unavailable(e.to_string())
}

/// Maps an error answer by its status (the JSON code only adds detail), so
/// that a HEAD answer, which has no body, maps the same way as a GET.
async fn error_from_response(response: reqwest::Response) -> ShardError {
    let status = response.status();
    let message = match response.bytes().await {
        Ok(body) => match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(b) => format!("{}: {}", b.code, b.message),
            Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)])
                .trim()
                .to_owned(),
        },
        Err(_) => String::new(),
    };
    match status {
        StatusCode::UNAUTHORIZED => ShardError::Unauthorized,
        StatusCode::NOT_FOUND => ShardError::NotFound,
        StatusCode::GONE => ShardError::Corrupt,
        StatusCode::UNPROCESSABLE_ENTITY => ShardError::HashMismatch,
        StatusCode::INSUFFICIENT_STORAGE => ShardError::Full,
        StatusCode::TOO_MANY_REQUESTS => ShardError::Unavailable(format!("{status}: {message}")),
        s if s.is_server_error() => ShardError::Unavailable(format!("{status}: {message}")),
        _ => ShardError::Protocol(format!("{status}: {message}")),
    }
}
