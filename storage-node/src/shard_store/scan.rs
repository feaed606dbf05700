//! What the store does once at startup, before it serves anything: lay out the
//! folders, drop temp files that a crash left behind, and count what is
//! stored. All blocking; run on the blocking pool.

use std::fs;
use std::io;
use std::path::Path;

use metadata::ids::ShardHash;

use super::disk::fsync_dir;
use super::layout::{quarantine_dir, shards_dir, tmp_dir};

/// Creates the data folder's tree, including all 256 fan-out directories, so
/// that a write never has to create (and then fsync) a directory.
pub(super) fn prepare_dirs(data_dir: &Path) -> io::Result<()> {
    fs::create_dir_all(data_dir)?;
    let shards = shards_dir(data_dir);
    fs::create_dir_all(&shards)?;
    fs::create_dir_all(tmp_dir(data_dir))?;
    fs::create_dir_all(quarantine_dir(data_dir))?;
    let mut created = false;
    for prefix in 0..=255u8 {
        let dir = shards.join(hex::encode([prefix]));
        if !dir.is_dir() {
            fs::create_dir(&dir)?;
            created = true;
        }
    }
    if created {
        fsync_dir(&shards)?;
        fsync_dir(data_dir)?;
    }
    Ok(())
}

/// Removes everything in `tmp/`. Safe because the caller holds the data
/// folder's lock: no other process can be receiving into it, and a temp file
/// of ours that survived a restart belongs to an upload nobody acknowledged.
pub(super) fn clean_tmp(data_dir: &Path) -> io::Result<u64> {
    let mut removed = 0;
    for entry in fs::read_dir(tmp_dir(data_dir))? {
        let entry = entry?;
        let path = entry.path();
        let result = if entry.file_type()?.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        match result {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// Bytes and number of shards stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Usage {
    pub bytes: u64,
    pub shards: u64,
}

/// Walks the shard tree. Files that are not named like a shard in its right
/// fan-out folder are left alone (and logged): they are not ours to delete.
pub(super) fn scan_usage(data_dir: &Path) -> io::Result<Usage> {
    let mut usage = Usage::default();
    for dir in fs::read_dir(shards_dir(data_dir))? {
        let dir = dir?;
        if !dir.file_type()?.is_dir() {
            continue;
        }
        let prefix = dir.file_name();
        for file in fs::read_dir(dir.path())? {
            let file = file?;
            let name = file.file_name();
            let valid = name
                .to_str()
                .and_then(|n| n.parse::<ShardHash>().ok())
                .is_some_and(|h| Some(&h.to_hex()[..2]) == prefix.to_str());
            let meta = file.metadata()?;
            if valid && meta.is_file() {
                usage.bytes += meta.len();
                usage.shards += 1;
            } else {
                tracing::warn!(path = %file.path().display(), "ignoring unexpected file in the shard tree");
            }
        }
    }
    Ok(usage)
}

/// The shards in one fan-out folder (`prefix` 0..=255), for a walk that
/// must not hold the whole tree's names at once.
pub(super) fn list_fanout(data_dir: &Path, prefix: u8) -> io::Result<Vec<ShardHash>> {
    let dir = shards_dir(data_dir).join(hex::encode([prefix]));
    let mut out = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for file in entries {
        let file = file?;
        if let Some(hash) = file
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<ShardHash>().ok())
            .filter(|h| h.0[0] == prefix)
        {
            out.push(hash);
        }
    }
    out.sort();
    Ok(out)
}
