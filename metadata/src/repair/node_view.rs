//! One consistent picture of the nodes for a walk over the manifests: who
//! is up, who has been silent for how long, who is draining, and which
//! shard copies were reported missing or corrupt.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::ids::NodeId;
use crate::model::{NodeStatus, ShardRef, SuspectShard};

/// Taken once per walk, so every stripe is judged against the same facts.
#[derive(Debug, Clone)]
pub struct NodeView {
    nodes: HashMap<NodeId, (NodeStatus, Duration)>,
    suspects: HashSet<SuspectShard>,
    repair_after: Duration,
}

/// Where a node stands for the shards it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeCondition {
    Up {
        draining: bool,
    },
    /// Silent for this long: repair waits for `repair_after` before
    /// rebuilding what it holds (a rebooting node is back in a minute).
    Down {
        silent: Duration,
    },
    /// Not a member (removed, or never registered): its shards are gone.
    Unknown,
}

impl NodeView {
    pub fn new(
        nodes: Vec<(NodeStatus, Duration)>,
        suspects: HashSet<SuspectShard>,
        repair_after: Duration,
    ) -> Self {
        NodeView {
            nodes: nodes
                .into_iter()
                .map(|(n, silent)| (n.heartbeat.id.clone(), (n, silent)))
                .collect(),
            suspects,
            repair_after,
        }
    }

    pub fn condition(&self, node: &NodeId) -> NodeCondition {
        match self.nodes.get(node) {
            Some((n, _)) if n.is_up() => NodeCondition::Up {
                draining: n.draining,
            },
            Some((_, silent)) => NodeCondition::Down { silent: *silent },
            None => NodeCondition::Unknown,
        }
    }

    /// Whether the copy was reported missing or corrupt.
    pub fn is_suspect(&self, shard: &ShardRef) -> bool {
        self.suspects.contains(&SuspectShard {
            node: shard.node.clone(),
            hash: shard.hash,
        })
    }

    pub fn repair_after(&self) -> Duration {
        self.repair_after
    }

    pub fn addr(&self, node: &NodeId) -> Option<&str> {
        self.nodes.get(node).map(|(n, _)| n.heartbeat.addr.as_str())
    }

    /// Nodes that take new shards, sorted by id: placement input.
    pub fn writable(&self) -> Vec<NodeStatus> {
        let mut out: Vec<NodeStatus> = self
            .nodes
            .values()
            .filter(|(n, _)| n.takes_writes(0))
            .map(|(n, _)| n.clone())
            .collect();
        out.sort_by(|a, b| a.heartbeat.id.cmp(&b.heartbeat.id));
        out
    }

    /// Nodes stripes belong on, sorted by id: placement input for
    /// rebalance. Every registered node except those draining and those
    /// silent past the grace period. A node down for less than that stays
    /// a member, so a restart or a brief partition changes no stripe's
    /// placement and moves nothing; only what repair would act on anyway
    /// (a node given up on, or drained) and a node joining do.
    pub fn members(&self) -> Vec<NodeStatus> {
        let mut out: Vec<NodeStatus> = self
            .nodes
            .values()
            .filter(|(n, silent)| !n.draining && (n.is_up() || *silent < self.repair_after))
            .map(|(n, _)| n.clone())
            .collect();
        out.sort_by(|a, b| a.heartbeat.id.cmp(&b.heartbeat.id));
        out
    }
}
