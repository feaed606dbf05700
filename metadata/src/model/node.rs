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
    /// How long the node takes to serve shards, as it measures itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<NodeLatency>,
    /// How far the node's scrubber has got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrub: Option<super::ScrubProgress>,
}

/// Moving averages of a node's own time to serve a shard read and to store
/// a shard write (disk and hashing; not the network).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeLatency {
    pub read_ms: f64,
    pub write_ms: f64,
}

// The float fields compare by value; no NaN is ever produced.
impl Eq for NodeLatency {}

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
    /// Being emptied by an operator: takes no new shards.
    #[serde(default)]
    pub draining: bool,
}

impl NodeStatus {
    pub fn is_up(&self) -> bool {
        self.state == NodeState::Up
    }

    /// Whether new shards may go to the node: up, not draining, and with
    /// room for `len` more bytes as of its last heartbeat (the node itself
    /// refuses a write it has no room for; this keeps writers from trying).
    pub fn takes_writes(&self, len: u64) -> bool {
        let capacity = self.heartbeat.capacity_bytes;
        let margin = FULL_MARGIN.min(capacity / 20);
        self.is_up()
            && !self.draining
            && self
                .heartbeat
                .used_bytes
                .saturating_add(len)
                .saturating_add(margin)
                <= capacity
    }
}

/// Room a node keeps free before it counts as full for placement: a few
/// shards written since its last heartbeat must still fit. At most a
/// twentieth of a small node.
const FULL_MARGIN: u64 = 16 << 20;
