//! Receiving one shard: its bytes go into a temp file next to the shard tree,
//! hashed on the way, in batches written on the blocking pool.
//!
//! Batching keeps the runtime threads free of both disk I/O and hashing while
//! costing one thread hop per batch rather than per network chunk (hyper hands
//! over chunks of a few KiB). The chunks are written as they came: no copy.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::StoreError;

/// How many received bytes wait before a blocking write. A default-size shard
/// (1 MiB) is written in one go.
const BATCH_BYTES: usize = 1 << 20;

/// A temp file being filled. Dropping it before [`TempShard::finish`] removes
/// the file, so a failed or abandoned upload leaves nothing behind.
pub(super) struct TempShard {
    path: PathBuf,
    /// `None` only while a batch is being written on the blocking pool.
    file: Option<File>,
    hasher: Option<blake3::Hasher>,
    pending: Vec<Bytes>,
    pending_len: usize,
    len: u64,
    keep: bool,
}

/// A fully received, hashed (but not yet synced) temp file.
pub(super) struct Received {
    pub file: File,
    pub path: PathBuf,
    pub hash: blake3::Hash,
    pub len: u64,
}

impl TempShard {
    pub async fn create(tmp_dir: &Path) -> Result<Self, StoreError> {
        let path = tmp_dir.join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let p = path.clone();
        let file = tokio::task::spawn_blocking(move || {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&p)
        })
        .await
        .map_err(StoreError::join)?
        .map_err(|e| StoreError::io("creating temp file", e))?;
        Ok(TempShard {
            path,
            file: Some(file),
            hasher: Some(blake3::Hasher::new()),
            pending: Vec::new(),
            pending_len: 0,
            len: 0,
            keep: false,
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub async fn push(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        self.len += chunk.len() as u64;
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= BATCH_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let (Some(mut file), Some(mut hasher)) = (self.file.take(), self.hasher.take()) else {
            return Err(StoreError::io(
                "writing temp file",
                io::Error::other("temp file used after a failed write"),
            ));
        };
        let batch = std::mem::take(&mut self.pending);
        self.pending_len = 0;
        let (file, hasher) = tokio::task::spawn_blocking(move || {
            for chunk in &batch {
                hasher.update(chunk);
                file.write_all(chunk)?;
            }
            Ok::<_, io::Error>((file, hasher))
        })
        .await
        .map_err(StoreError::join)?
        .map_err(|e| StoreError::io("writing temp file", e))?;
        self.file = Some(file);
        self.hasher = Some(hasher);
        Ok(())
    }

    /// Writes what is still pending and hands over the file. From here on the
    /// caller owns the temp file (and must remove it if it does not keep it).
    pub async fn finish(mut self) -> Result<Received, StoreError> {
        self.flush().await?;
        let (Some(file), Some(hasher)) = (self.file.take(), self.hasher.take()) else {
            return Err(StoreError::io(
                "writing temp file",
                io::Error::other("temp file used after a failed write"),
            ));
        };
        self.keep = true;
        Ok(Received {
            file,
            path: self.path.clone(),
            hash: hasher.finalize(),
            len: self.len,
        })
    }
}

impl Drop for TempShard {
    fn drop(&mut self) {
        if !self.keep {
            // One unlink of a file we created: cheap enough to do inline even
            // on a runtime thread, and it must happen even if the runtime is
            // shutting down.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
