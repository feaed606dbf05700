//! `cluster.json`: a running local cluster as seen from outside (its
//! endpoints, where its secret is kept, and every process with its pid).
//! The local cluster writes it into its data folder at start and again
//! whenever a process is started, killed or found exited, so that tools such
//! as the failure drill find and signal the processes without scraping the
//! start-up banner. Readers ignore fields they do not know, so the file can
//! grow without breaking older tools.

use std::path::{Path, PathBuf};

use metadata::ids::NodeId;
use serde::{Deserialize, Serialize};

/// The file's name inside the cluster's data folder.
pub const CLUSTER_FILE_NAME: &str = "cluster.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterFile {
    /// The S3 endpoint, e.g. `http://127.0.0.1:9000`.
    pub s3_endpoint: String,
    /// The edge's admin endpoint (`/health`, `/metrics`).
    pub admin_url: String,
    /// The metadata service (`/v1/admin/status` with the cluster secret).
    pub metadata_url: String,
    /// A file holding the cluster secret (the secret itself is never written
    /// here: this file is meant to be read by tools and people).
    pub cluster_secret_file: PathBuf,
    /// The S3 access key the edge accepts (its secret key is not written).
    #[serde(default)]
    pub access_key: Option<String>,
    #[serde(default)]
    pub data_shards: Option<u8>,
    #[serde(default)]
    pub parity_shards: Option<u8>,
    /// The supervising `edge local-cluster` process: SIGHUP makes it start
    /// again every process that has exited; it restarts nothing on its own.
    /// Absent when the cluster is driven from Rust (the test harness), where
    /// nothing answers SIGHUP.
    #[serde(default)]
    pub supervisor_pid: Option<u32>,
    pub processes: Vec<ProcessEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessEntry {
    /// `metadata`, `node-1` .. `node-N`, or `edge`.
    pub role: String,
    /// The storage node's id, as the metadata service reports it.
    #[serde(default)]
    pub node_id: Option<NodeId>,
    /// `None` while the process is not running (killed, or exited and not
    /// restarted yet).
    #[serde(default)]
    pub pid: Option<u32>,
    /// `host:port` it listens on (the S3 port for the edge).
    pub addr: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterFileError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a cluster file: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

impl ClusterFile {
    pub fn read(path: &Path) -> Result<Self, ClusterFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ClusterFileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ClusterFileError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    /// Writes the file whole or not at all (a temp file renamed over it), so
    /// a reader polling it never sees half a file.
    pub fn write(&self, path: &Path) -> Result<(), ClusterFileError> {
        let err = |source| ClusterFileError::Write {
            path: path.display().to_string(),
            source,
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| err(e.into()))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text + "\n").map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }

    /// The storage node with this id.
    pub fn node(&self, id: &NodeId) -> Option<&ProcessEntry> {
        self.processes
            .iter()
            .find(|p| p.node_id.as_ref() == Some(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ClusterFile {
        ClusterFile {
            s3_endpoint: "http://127.0.0.1:9000".into(),
            admin_url: "http://127.0.0.1:9001".into(),
            metadata_url: "http://127.0.0.1:9100".into(),
            cluster_secret_file: "/data/cluster-secret".into(),
            access_key: Some("tessera".into()),
            data_shards: Some(4),
            parity_shards: Some(2),
            supervisor_pid: Some(10),
            processes: vec![
                ProcessEntry {
                    role: "metadata".into(),
                    node_id: None,
                    pid: Some(11),
                    addr: "127.0.0.1:9100".into(),
                },
                ProcessEntry {
                    role: "node-1".into(),
                    node_id: Some("node-1".parse().unwrap()),
                    pid: None,
                    addr: "127.0.0.1:9101".into(),
                },
            ],
        }
    }

    #[test]
    fn round_trips_through_a_file() {
        let dir = std::env::temp_dir().join(format!("cluster-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(CLUSTER_FILE_NAME);
        sample().write(&path).unwrap();
        let back = ClusterFile::read(&path).unwrap();
        assert_eq!(back, sample());
        assert_eq!(
            back.node(&"node-1".parse().unwrap())
                .map(|p| p.addr.as_str()),
            Some("127.0.0.1:9101")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_fields_and_missing_optional_ones_are_fine() {
        let text = r#"{"s3_endpoint":"http://e","admin_url":"http://a","metadata_url":"http://m",
            "cluster_secret_file":"s","processes":[{"role":"edge","addr":"x","future":1}],
            "zones":["a"]}"#;
        let f: ClusterFile = serde_json::from_str(text).unwrap();
        assert_eq!(f.supervisor_pid, None);
        assert_eq!(f.processes[0].pid, None);
    }
}
