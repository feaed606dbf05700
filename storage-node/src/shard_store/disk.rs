//! The few filesystem facts and operations the store needs beyond `std::fs`.

use std::fs::File;
use std::io;
use std::path::Path;

/// Size of the filesystem that holds a path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FsSpace {
    /// Total size in bytes.
    pub total: u64,
    /// Bytes an unprivileged writer may still use.
    pub available: u64,
}

/// `statvfs` through rustix, which keeps this crate free of `unsafe`.
pub(crate) fn fs_space(path: &Path) -> io::Result<FsSpace> {
    let st = rustix::fs::statvfs(path)?;
    Ok(FsSpace {
        total: st.f_blocks.saturating_mul(st.f_frsize),
        available: st.f_bavail.saturating_mul(st.f_frsize),
    })
}

/// Makes a directory's entries (a rename or link into it) durable. Without
/// this, a crash after `rename` can forget the new name even though the
/// file's bytes were synced.
pub(crate) fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Whether an I/O error means the disk is out of space (ENOSPC or EDQUOT).
pub(crate) fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}
