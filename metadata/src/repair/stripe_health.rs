//! How healthy one stripe is: for each shard, whether it can be read and
//! whether it sits where full redundancy needs it. The redundancy report
//! and the repair planner both judge stripes here, so the debt an operator
//! sees is exactly the work repair plans.

use std::collections::HashSet;

use super::node_view::{NodeCondition, NodeView};
use crate::model::Stripe;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardState {
    /// Readable, on a node of its own.
    Healthy,
    /// Readable, but it must move: its node is draining, or holds another
    /// shard of the stripe (a write with fewer nodes up than shards), so
    /// losing that node would cost two shards.
    Misplaced,
    /// Not readable: its node is down or gone, or the copy was found
    /// missing or corrupt. `repair_now` once the node has been silent past
    /// the grace period (at once for a gone node or a bad copy).
    Lost { repair_now: bool },
}

impl ShardState {
    pub fn is_readable(self) -> bool {
        matches!(self, ShardState::Healthy | ShardState::Misplaced)
    }

    /// Whether repair should act on this shard now.
    pub fn needs_repair_now(self) -> bool {
        matches!(
            self,
            ShardState::Misplaced | ShardState::Lost { repair_now: true }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeHealth {
    pub shards: Vec<ShardState>,
    pub healthy: usize,
    pub readable: usize,
}

/// Judges every shard of `stripe` against `view`.
pub fn assess(stripe: &Stripe, view: &NodeView) -> StripeHealth {
    let mut seen = HashSet::new();
    let shards: Vec<ShardState> = stripe
        .shards
        .iter()
        .map(|shard| match view.condition(&shard.node) {
            NodeCondition::Unknown => ShardState::Lost { repair_now: true },
            NodeCondition::Down { silent } => ShardState::Lost {
                repair_now: silent >= view.repair_after(),
            },
            NodeCondition::Up { .. } if view.is_suspect(shard) => {
                ShardState::Lost { repair_now: true }
            }
            NodeCondition::Up { draining } => {
                let first = seen.insert(&shard.node);
                if draining || !first {
                    ShardState::Misplaced
                } else {
                    ShardState::Healthy
                }
            }
        })
        .collect();
    StripeHealth {
        healthy: shards.iter().filter(|s| **s == ShardState::Healthy).count(),
        readable: shards.iter().filter(|s| s.is_readable()).count(),
        shards,
    }
}
