use serde::{Deserialize, Serialize};

use crate::ids::NodeId;

/// What a storage node reports about itself, every heartbeat interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeHeartbeat {
    pub id: NodeId,
    /// `host:port` at which peers and gateways reach the node's shard API.
    pub addr: String,
    /// Failure domain (rack, host, room). Placement spreads a stripe across
    /// zones when zones are configured.
    #[serde(default)]
    pub zone: Option<String>,
    pub capacity_bytes: u64,
    pub used_bytes: u64,
    pub shard_count: u64,
    /// Shard files deleted since the last heartbeat, as asked by the reply
    /// to an earlier one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<crate::ids::ShardHash>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    Up,
    Down,
}

/// A node as the metadata service sees it: its last report and whether it is
/// considered alive (heartbeat within the configured timeout).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    #[serde(flatten)]
    pub heartbeat: NodeHeartbeat,
    pub state: NodeState,
    pub last_heartbeat_unix_ms: i64,
}

impl NodeStatus {
    pub fn is_up(&self) -> bool {
        self.state == NodeState::Up
    }
}
