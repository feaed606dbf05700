//! Shards on local disk, addressed by the BLAKE3 hash of their bytes.
//!
//! The promises, in order of importance:
//! - **Nothing wrong is stored.** A write lands in `tmp/`, is hashed while it
//!   is written, and only a file whose hash equals its name is synced and
//!   linked into the shard tree (then the directory is synced). A crash at any
//!   point leaves either no shard or the whole shard.
//! - **Nothing wrong is used.** Every byte read is hashed once, by whoever
//!   uses it: the node's own reads ([`ShardStore::get`], for rebuilds and the
//!   scrubber) hash the whole file before returning a byte, and a file that
//!   fails is moved to `quarantine/` and reported as [`StoreError::Corrupt`];
//!   reads for peers ([`ShardStore::read_for_peer`]) are hashed by the peer
//!   on arrival, which covers the disk and the network in one pass. A peer
//!   that finds a bad copy reads parity and reports it, and its repair
//!   replaces the file (a write over a corrupt copy quarantines it).
//! - **Writes and deletes are idempotent**, because the same content always
//!   has the same name: a retried upload or a deduplicated shard succeeds.
//!
//! One process at a time: the store holds an exclusive lock on
//! `<data_dir>/lock` for its lifetime.

mod disk;
mod layout;
mod scan;
mod writer;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use metadata::ids::ShardHash;

pub use layout::shard_path;

use disk::{fs_space, fsync_dir, is_disk_full};
use layout::{lock_path, quarantine_dir, tmp_dir};
use writer::{Received, TempShard};

/// The default cap on one shard's size. Shards are 1 MiB by default; the cap
/// leaves room for clusters configured with larger stripes.
pub const DEFAULT_MAX_SHARD_SIZE: u64 = 64 << 20;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such shard")]
    NotFound,
    /// The stored bytes no longer hash to their name; the file was moved to
    /// quarantine, so this node no longer has the shard.
    #[error("stored shard is corrupt (quarantined)")]
    Corrupt,
    /// The bytes sent for a shard do not hash to the name they were sent under.
    #[error("shard bytes hash to {actual}, not to their name {expected}")]
    HashMismatch {
        expected: ShardHash,
        actual: ShardHash,
    },
    #[error("shard larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// Out of configured capacity or of disk space.
    #[error("not enough space for the shard")]
    Full,
    /// The request body failed before its end (the sender went away).
    #[error("receiving shard body: {0}")]
    Body(String),
    #[error("another process holds the lock on {0}")]
    Locked(PathBuf),
    /// The I/O error is part of the message, not a `source()`, so a log line
    /// that prints this error shows the cause without walking the chain.
    #[error("{context}: {cause}")]
    Io {
        context: &'static str,
        cause: io::Error,
    },
}

impl StoreError {
    fn io(context: &'static str, source: io::Error) -> Self {
        if is_disk_full(&source) {
            StoreError::Full
        } else {
            StoreError::Io {
                context,
                cause: source,
            }
        }
    }

    fn join(e: tokio::task::JoinError) -> Self {
        StoreError::Io {
            context: "blocking task failed",
            cause: io::Error::other(e),
        }
    }
}

/// How a successful write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The shard is new on this node.
    Stored,
    /// A verified copy was already there; nothing changed.
    AlreadyPresent,
    /// A copy was there but corrupt; it was quarantined and replaced.
    Replaced,
}

/// Options for [`ShardStore::open`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Largest shard accepted, in bytes.
    pub max_shard_size: u64,
    /// Bytes this node may fill. `None`: the size of the filesystem.
    pub capacity: Option<u64>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_shard_size: DEFAULT_MAX_SHARD_SIZE,
            capacity: None,
        }
    }
}

/// What the node reports in heartbeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreUsage {
    pub capacity_bytes: u64,
    pub used_bytes: u64,
    pub shard_count: u64,
}

/// The shard store of one data folder. Share it with an `Arc`.
#[derive(Debug)]
pub struct ShardStore {
    data_dir: PathBuf,
    max_shard_size: u64,
    capacity: u64,
    used_bytes: AtomicU64,
    shard_count: AtomicU64,
    /// Holds the folder's exclusive lock until the store is dropped.
    _lock: std::fs::File,
}

impl ShardStore {
    /// Opens (creating if needed) the store in `data_dir`: takes the folder's
    /// lock, removes stale temp files and counts the stored shards.
    pub async fn open(
        data_dir: impl Into<PathBuf>,
        opts: StoreOptions,
    ) -> Result<Self, StoreError> {
        let data_dir: PathBuf = data_dir.into();
        let dir = data_dir.clone();
        tokio::task::spawn_blocking(move || Self::open_blocking(dir, opts))
            .await
            .map_err(StoreError::join)?
    }

    fn open_blocking(data_dir: PathBuf, opts: StoreOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(&data_dir).map_err(|e| StoreError::io("creating data dir", e))?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path(&data_dir))
            .map_err(|e| StoreError::io("opening lock file", e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked(data_dir));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::io("locking data dir", e));
            }
        }
        scan::prepare_dirs(&data_dir).map_err(|e| StoreError::io("preparing data dir", e))?;
        let stale = scan::clean_tmp(&data_dir).map_err(|e| StoreError::io("cleaning tmp", e))?;
        if stale > 0 {
            tracing::info!(stale, "removed temp files left by an earlier run");
        }
        let usage =
            scan::scan_usage(&data_dir).map_err(|e| StoreError::io("scanning shards", e))?;
        let capacity = match opts.capacity {
            Some(c) => c,
            None => {
                fs_space(&data_dir)
                    .map_err(|e| StoreError::io("reading filesystem size", e))?
                    .total
            }
        };
        let store = ShardStore {
            data_dir,
            max_shard_size: opts.max_shard_size,
            capacity,
            used_bytes: AtomicU64::new(usage.bytes),
            shard_count: AtomicU64::new(usage.shards),
            _lock: lock,
        };
        metrics::gauge!("shard_store_capacity_bytes").set(capacity as f64);
        store.publish_usage();
        tracing::info!(
            data_dir = %store.data_dir.display(),
            shards = usage.shards,
            used_bytes = usage.bytes,
            capacity_bytes = capacity,
            "shard store open"
        );
        Ok(store)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn max_shard_size(&self) -> u64 {
        self.max_shard_size
    }

    pub fn usage(&self) -> StoreUsage {
        StoreUsage {
            capacity_bytes: self.capacity,
            used_bytes: self.used_bytes.load(Ordering::Relaxed),
            shard_count: self.shard_count.load(Ordering::Relaxed),
        }
    }

    fn publish_usage(&self) {
        let u = self.usage();
        metrics::gauge!("shard_store_used_bytes").set(u.used_bytes as f64);
        metrics::gauge!("shard_store_shards").set(u.shard_count as f64);
    }

    fn account_added(&self, len: u64) {
        self.used_bytes.fetch_add(len, Ordering::Relaxed);
        self.shard_count.fetch_add(1, Ordering::Relaxed);
        self.publish_usage();
    }

    fn account_removed(&self, len: u64) {
        // Saturating: a file changed behind our back must not wrap the gauge.
        let _ = self
            .used_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(len))
            });
        let _ = self
            .shard_count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(1))
            });
        self.publish_usage();
    }

    /// Refuses a shard over the size limit or beyond the configured capacity.
    /// The capacity is a soft limit: concurrent writes each check it before
    /// any of them is counted, so it can be overshot by a few shards.
    fn check_limits(&self, len: u64) -> Result<(), StoreError> {
        if len > self.max_shard_size {
            return Err(StoreError::TooLarge {
                limit: self.max_shard_size,
            });
        }
        let used = self.used_bytes.load(Ordering::Relaxed);
        if used.saturating_add(len) > self.capacity {
            return Err(StoreError::Full);
        }
        Ok(())
    }

    /// Also asks the filesystem, so that a disk shared with other data is
    /// reported full before a write runs into ENOSPC halfway.
    async fn check_room(&self, len: u64) -> Result<(), StoreError> {
        self.check_limits(len)?;
        let dir = self.data_dir.clone();
        let space = tokio::task::spawn_blocking(move || fs_space(&dir))
            .await
            .map_err(StoreError::join)?;
        match space {
            Ok(space) if space.available < len => Err(StoreError::Full),
            _ => Ok(()),
        }
    }

    /// The common case: a shard of known, moderate size. It is received into
    /// memory, hashed before anything touches the disk (a mismatch writes
    /// nothing at all), then written, synced and linked into place in a single
    /// trip to the blocking pool instead of one per step. The filesystem's free
    /// space is not asked first: a full disk still fails the write (ENOSPC is
    /// reported as `Full`) and the temp file is removed.
    async fn put_whole<S, E>(
        &self,
        hash: &ShardHash,
        len: u64,
        mut body: std::pin::Pin<&mut S>,
    ) -> Result<PutOutcome, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        self.check_limits(len)?;
        let mut chunks = Vec::new();
        let mut received: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StoreError::Body(e.to_string()))?;
            received += chunk.len() as u64;
            if received > self.max_shard_size {
                return Err(StoreError::TooLarge {
                    limit: self.max_shard_size,
                });
            }
            chunks.push(chunk);
        }
        self.check_limits(received)?;
        let expected = *hash;
        let tmp = tmp_dir(&self.data_dir);
        let target = shard_path(&self.data_dir, hash);
        let quarantine = quarantine_dir(&self.data_dir);
        let outcome = tokio::task::spawn_blocking(move || {
            write_whole(&tmp, &chunks, expected, &target, &quarantine)
        })
        .await
        .map_err(StoreError::join)?;
        let outcome = match outcome {
            Err(StoreError::HashMismatch { expected, actual }) => {
                metrics::counter!("shard_hash_mismatch_total").increment(1);
                return Err(StoreError::HashMismatch { expected, actual });
            }
            other => other?,
        };
        Ok(self.record_put(outcome, received))
    }

    fn record_put(&self, outcome: Commit, len: u64) -> PutOutcome {
        match outcome {
            Commit::Stored => self.account_added(len),
            Commit::AlreadyPresent => {}
            Commit::Replaced { old_len } => {
                self.account_removed(old_len);
                self.account_added(len);
            }
        }
        metrics::counter!("shard_put_bytes_total").increment(len);
        match outcome {
            Commit::Stored => PutOutcome::Stored,
            Commit::AlreadyPresent => PutOutcome::AlreadyPresent,
            Commit::Replaced { .. } => PutOutcome::Replaced,
        }
    }

    /// Stores `bytes` under `hash` (for callers that already hold the bytes).
    pub async fn put_bytes(
        &self,
        hash: &ShardHash,
        bytes: Bytes,
    ) -> Result<PutOutcome, StoreError> {
        let len = bytes.len() as u64;
        self.put_stream(
            hash,
            Some(len),
            futures::stream::iter([Ok::<_, std::convert::Infallible>(bytes)]),
        )
        .await
    }

    /// Streams a shard body to disk and stores it under `hash` if and only if
    /// its bytes hash to `hash`. `size_hint` (the Content-Length) lets an
    /// oversize or no-room upload be refused before a byte is written.
    #[tracing::instrument(skip_all, fields(shard = %hash))]
    pub async fn put_stream<S, E>(
        &self,
        hash: &ShardHash,
        size_hint: Option<u64>,
        body: S,
    ) -> Result<PutOutcome, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let mut body = std::pin::pin!(body);
        if let Some(len) = size_hint
            && len <= WHOLE_SHARD_LIMIT
        {
            return self.put_whole(hash, len, body).await;
        }
        if let Some(len) = size_hint {
            self.check_room(len).await?;
        }
        let mut temp = TempShard::create(&tmp_dir(&self.data_dir)).await?;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StoreError::Body(e.to_string()))?;
            if temp.len() + chunk.len() as u64 > self.max_shard_size {
                return Err(StoreError::TooLarge {
                    limit: self.max_shard_size,
                });
            }
            temp.push(chunk).await?;
        }
        // The bytes are on disk already (ENOSPC would have failed the write),
        // so only the configured limits are left to check.
        self.check_limits(temp.len())?;
        let received = temp.finish().await?;
        let actual = ShardHash::from(received.hash);
        if actual != *hash {
            let _ = tokio::fs::remove_file(&received.path).await;
            metrics::counter!("shard_hash_mismatch_total").increment(1);
            return Err(StoreError::HashMismatch {
                expected: *hash,
                actual,
            });
        }
        let len = received.len;
        let target = shard_path(&self.data_dir, hash);
        let quarantine = quarantine_dir(&self.data_dir);
        let outcome = tokio::task::spawn_blocking(move || commit(received, &target, &quarantine))
            .await
            .map_err(StoreError::join)??;
        Ok(self.record_put(outcome, len))
    }

    /// The shard's bytes, verified against its name. A file that fails
    /// verification is quarantined and reported as [`StoreError::Corrupt`].
    #[tracing::instrument(skip_all, fields(shard = %hash))]
    pub async fn get(&self, hash: &ShardHash) -> Result<Bytes, StoreError> {
        let bytes = self.read_verified(hash).await?;
        metrics::counter!("shard_gets_total").increment(1);
        metrics::counter!("shard_get_bytes_total").increment(bytes.len() as u64);
        Ok(bytes)
    }

    /// The shard's bytes as stored, not hashed here: for the shard API,
    /// whose clients all verify what they receive ([`crate::client::StorageClient`]).
    /// Hashing on both ends cost a second BLAKE3 pass per byte read.
    #[tracing::instrument(skip_all, fields(shard = %hash))]
    pub async fn read_for_peer(&self, hash: &ShardHash) -> Result<Bytes, StoreError> {
        let path = shard_path(&self.data_dir, hash);
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => Bytes::from(b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => return Err(StoreError::io("reading shard", e)),
        };
        metrics::counter!("shard_gets_total").increment(1);
        metrics::counter!("shard_get_bytes_total").increment(bytes.len() as u64);
        Ok(bytes)
    }

    /// Re-reads and re-hashes the shard, as [`ShardStore::get`] does, for
    /// the scrubber: `Ok(len)` if it verifies, `Corrupt` (quarantined) or
    /// `NotFound` otherwise.
    pub async fn verify(&self, hash: &ShardHash) -> Result<u64, StoreError> {
        self.read_verified(hash).await.map(|b| b.len() as u64)
    }

    /// The shards whose names start with byte `prefix`, sorted: one
    /// fan-out folder of the tree, so a walk of the whole store holds one
    /// folder's names at a time.
    pub async fn list_fanout(&self, prefix: u8) -> Result<Vec<ShardHash>, StoreError> {
        let dir = self.data_dir.clone();
        tokio::task::spawn_blocking(move || scan::list_fanout(&dir, prefix))
            .await
            .map_err(StoreError::join)?
            .map_err(|e| StoreError::io("listing shards", e))
    }

    async fn read_verified(&self, hash: &ShardHash) -> Result<Bytes, StoreError> {
        let path = shard_path(&self.data_dir, hash);
        let quarantine = quarantine_dir(&self.data_dir);
        let expected = *hash;
        let (result, quarantined) = tokio::task::spawn_blocking(move || {
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return (Err(StoreError::NotFound), None);
                }
                Err(e) => return (Err(StoreError::io("reading shard", e)), None),
            };
            if ShardHash::of(&bytes) == expected {
                return (Ok(Bytes::from(bytes)), None);
            }
            let moved = quarantine_file(&path, &quarantine, &expected);
            (
                Err(StoreError::Corrupt),
                moved.then_some(bytes.len() as u64),
            )
        })
        .await
        .map_err(StoreError::join)?;
        if let Some(len) = quarantined {
            self.account_removed(len);
        }
        result
    }

    /// The stored size of the shard, if this node has it. Not verified: this
    /// answers "do you hold it", cheaply; a read is what verifies.
    pub async fn size_of(&self, hash: &ShardHash) -> Result<Option<u64>, StoreError> {
        match tokio::fs::metadata(shard_path(&self.data_dir, hash)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("reading shard metadata", e)),
        }
    }

    /// Removes the shard. Returns whether it was there; deleting a missing
    /// shard is not an error (a retried delete must succeed).
    ///
    /// No directory fsync: a delete that a crash forgets only leaves garbage,
    /// which the collector deletes again; it can never lose data.
    #[tracing::instrument(skip_all, fields(shard = %hash))]
    pub async fn delete(&self, hash: &ShardHash) -> Result<bool, StoreError> {
        let path = shard_path(&self.data_dir, hash);
        let removed = tokio::task::spawn_blocking(move || {
            let len = match std::fs::metadata(&path) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            match std::fs::remove_file(&path) {
                Ok(()) => Ok(Some(len)),
                // A concurrent delete won the race; it did the accounting.
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
        .map_err(StoreError::join)?
        .map_err(|e| StoreError::io("deleting shard", e))?;
        match removed {
            Some(len) => {
                self.account_removed(len);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

enum Commit {
    Stored,
    AlreadyPresent,
    Replaced { old_len: u64 },
}

/// Makes a received, verified temp file the shard at `target`. Blocking.
///
/// The link (not a rename) is what makes concurrent writers of the same shard
/// safe: `link` fails if the name exists, so exactly one writer adds the shard
/// and counts it, and the others learn that a copy is already there.
/// Shards up to this size are received whole and written in one go.
const WHOLE_SHARD_LIMIT: u64 = 4 << 20;

/// Hashes `chunks`, and only if they hash to `expected` writes them to a temp
/// file and commits it (sync, link into place, sync the directory).
fn write_whole(
    tmp: &Path,
    chunks: &[Bytes],
    expected: ShardHash,
    target: &Path,
    quarantine: &Path,
) -> Result<Commit, StoreError> {
    use std::io::Write as _;

    let mut hasher = blake3::Hasher::new();
    for c in chunks {
        hasher.update(c);
    }
    let hash = hasher.finalize();
    let actual = ShardHash::from(hash);
    if actual != expected {
        return Err(StoreError::HashMismatch { expected, actual });
    }
    let path = tmp.join(format!("{}.part", uuid::Uuid::new_v4().simple()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| StoreError::io("creating temp file", e))?;
    let mut len = 0u64;
    for c in chunks {
        if let Err(e) = file.write_all(c) {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(StoreError::io("writing temp file", e));
        }
        len += c.len() as u64;
    }
    commit(
        Received {
            file,
            path,
            hash,
            len,
        },
        target,
        quarantine,
    )
}

fn commit(received: Received, target: &Path, quarantine: &Path) -> Result<Commit, StoreError> {
    let Received { file, path, .. } = received;
    let cleanup = |e: io::Error, context: &'static str| {
        let _ = std::fs::remove_file(&path);
        StoreError::io(context, e)
    };
    if let Err(e) = file.sync_all() {
        return Err(cleanup(e, "syncing shard"));
    }
    drop(file);
    let dir = target.parent().unwrap_or(target);
    let outcome = match std::fs::hard_link(&path, target) {
        Ok(()) => {
            let _ = std::fs::remove_file(&path);
            Commit::Stored
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            match replace_if_corrupt(&path, target, quarantine) {
                Ok(c) => c,
                Err(e) => return Err(cleanup(e, "replacing shard")),
            }
        }
        // Filesystems without hard links: rename, which replaces. The count
        // may then be off under a concurrent identical write (never the data);
        // the next startup scan corrects it.
        Err(_) => {
            let existed = target.exists();
            if let Err(e) = std::fs::rename(&path, target) {
                return Err(cleanup(e, "renaming shard into place"));
            }
            if existed {
                Commit::AlreadyPresent
            } else {
                Commit::Stored
            }
        }
    };
    if !matches!(outcome, Commit::AlreadyPresent) {
        fsync_dir(dir).map_err(|e| StoreError::io("syncing shard directory", e))?;
    }
    Ok(outcome)
}

/// A copy of the shard already exists. Keep it if it verifies (and drop our
/// temp file); otherwise it is rotten, so quarantine it and put ours in its
/// place. Without this check, a re-upload meant to heal a bad copy would be
/// acknowledged while the bad copy stayed.
fn replace_if_corrupt(temp: &Path, target: &Path, quarantine: &Path) -> io::Result<Commit> {
    let expected = target
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse::<ShardHash>().ok());
    let existing = match std::fs::read(target) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    match (existing, expected) {
        (Some(bytes), Some(expected)) if ShardHash::of(&bytes) == expected => {
            let _ = std::fs::remove_file(temp);
            Ok(Commit::AlreadyPresent)
        }
        (Some(bytes), Some(expected)) => {
            let old_len = bytes.len() as u64;
            let moved = quarantine_file(target, quarantine, &expected);
            std::fs::rename(temp, target)?;
            Ok(if moved {
                Commit::Replaced { old_len }
            } else {
                Commit::Stored
            })
        }
        // Deleted between our link attempt and now, or an unparsable name
        // (impossible for paths we build): just put ours in place.
        _ => {
            std::fs::rename(temp, target)?;
            Ok(Commit::Stored)
        }
    }
}

/// Moves a shard that failed verification out of the shard tree, logging and
/// counting it. Returns whether this call moved it (false if a concurrent
/// reader already did, or the move failed).
fn quarantine_file(path: &Path, quarantine: &Path, hash: &ShardHash) -> bool {
    metrics::counter!("shard_corrupt_total").increment(1);
    let dest = quarantine.join(format!(
        "{}.{}",
        hash.to_hex(),
        metadata::model::now_unix_ms()
    ));
    match std::fs::rename(path, &dest) {
        Ok(()) => {
            tracing::error!(shard = %hash, quarantined_to = %dest.display(), "stored shard failed verification; quarantined");
            true
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => {
            tracing::error!(shard = %hash, error = %e, "stored shard failed verification; could not quarantine it");
            false
        }
    }
}

#[cfg(test)]
mod tests;
