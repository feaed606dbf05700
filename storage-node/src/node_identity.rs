//! The node's identity lives on its disk, not in its config: manifests name
//! shards by node id, so a disk must keep its id across restarts, address
//! changes and config edits, and must never take on another id silently
//! (that would make every shard on it unreachable, or worse, misattributed).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use metadata::ids::NodeId;

const NODE_ID_FILE: &str = "node_id";

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "the data folder belongs to node {stored}, but --node-id says {configured}; \
         a disk must not change identity (remove the flag, or use another folder)"
    )]
    Mismatch { stored: NodeId, configured: NodeId },
    #[error("{path} does not hold a valid node id: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{context} {path}: {cause}")]
    Io {
        context: &'static str,
        path: PathBuf,
        cause: io::Error,
    },
}

/// Returns the id stored in `<data_dir>/node_id`, checking it against
/// `configured`; at first start stores `configured` or a fresh random id.
/// Blocking.
pub fn load_or_create(
    data_dir: &Path,
    configured: Option<&NodeId>,
) -> Result<NodeId, IdentityError> {
    let path = data_dir.join(NODE_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let stored: NodeId = text.trim().parse().map_err(|e: metadata::ids::IdError| {
                IdentityError::Invalid {
                    path: path.clone(),
                    reason: e.to_string(),
                }
            })?;
            match configured {
                Some(c) if *c != stored => Err(IdentityError::Mismatch {
                    stored,
                    configured: c.clone(),
                }),
                _ => Ok(stored),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let id = configured.cloned().unwrap_or_else(NodeId::random);
            write_atomically(data_dir, &path, &id).map_err(|cause| IdentityError::Io {
                context: "writing",
                path: path.clone(),
                cause,
            })?;
            tracing::info!(node_id = %id, path = %path.display(), "stored new node identity");
            Ok(id)
        }
        Err(cause) => Err(IdentityError::Io {
            context: "reading",
            path,
            cause,
        }),
    }
}

/// Temp file, fsync, rename, fsync the folder: a crash leaves either no id
/// file or a whole one, never an empty one that would fail the next start.
fn write_atomically(dir: &Path, path: &Path, id: &NodeId) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{NODE_ID_FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    writeln!(f, "{id}")?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path(), None).unwrap();
        assert_eq!(load_or_create(dir.path(), None).unwrap(), first);
        assert_eq!(load_or_create(dir.path(), Some(&first)).unwrap(), first);
        let other: NodeId = "node-other".parse().unwrap();
        assert!(matches!(
            load_or_create(dir.path(), Some(&other)),
            Err(IdentityError::Mismatch { .. })
        ));
    }

    #[test]
    fn configured_id_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let id: NodeId = "node-7".parse().unwrap();
        assert_eq!(load_or_create(dir.path(), Some(&id)).unwrap(), id);
        assert_eq!(load_or_create(dir.path(), None).unwrap(), id);
        std::fs::write(dir.path().join(NODE_ID_FILE), "Not Valid").unwrap();
        assert!(matches!(
            load_or_create(dir.path(), None),
            Err(IdentityError::Invalid { .. })
        ));
    }
}
