//! Rebalance: a stripe at full redundancy whose shards are not all where
//! placement puts it now. When a node joins, rendezvous hashing makes it
//! the preferred home of about `shards / members` of each stripe's shards;
//! exactly those move to it, and no others.
//!
//! The placement a stripe should have is computed from the stripe alone
//! (its key is a hash of its shard hashes) and the members of the cluster,
//! so it needs no record of where anything was meant to go, and it is the
//! same answer the writer and repair reach.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::ids::NodeId;
use crate::model::{NodeStatus, Stripe};
use crate::placement::preferred_nodes;

/// What a walk found away from its preferred nodes, in stripes that are
/// otherwise healthy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebalanceDebt {
    /// Shards on a node that is no longer among their stripe's preferred.
    pub shards: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Of those, shards whose new node cannot take them now (down within
    /// the grace period, or full).
    pub blocked_shards: u64,
}

/// One shard to move: slot `index` of the stripe goes to `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub index: usize,
    pub target: NodeId,
}

/// The moves that bring a healthy `stripe` (every shard readable, on a node
/// of its own) to its preferred nodes among `members`, counting them in
/// `debt`. A shard whose node is preferred stays. The shards that must go
/// are paired with the preferred nodes holding nothing of the stripe, in
/// slot order and rank order: the pairing depends on membership only, so
/// walks agree on it while membership holds still (a node that cannot take
/// its shard now blocks that one move, it does not redirect it).
pub fn plan_moves(
    key: &[u8],
    stripe: &Stripe,
    members: &[NodeStatus],
    writable: &[NodeStatus],
    debt: &mut RebalanceDebt,
) -> Vec<Move> {
    let count = stripe.shards.len();
    let preferred = preferred_nodes(key, members, count);
    if preferred.len() < count {
        // Fewer members than shards: no placement of its own for every
        // shard, and nothing for rebalance to do.
        return Vec::new();
    }
    let current: HashSet<&NodeId> = stripe.shards.iter().map(|s| &s.node).collect();
    let away = stripe
        .shards
        .iter()
        .enumerate()
        .filter(|(_, s)| !preferred.contains(&s.node))
        .map(|(i, _)| i);
    let free = preferred.iter().filter(|n| !current.contains(n));
    let mut moves = Vec::new();
    for (index, target) in away.zip(free) {
        debt.shards += 1;
        debt.bytes += u64::from(stripe.shard_len);
        if writable.iter().any(|n| &n.heartbeat.id == target) {
            moves.push(Move {
                index,
                target: target.clone(),
            });
        } else {
            debt.blocked_shards += 1;
        }
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ShardHash;
    use crate::model::{NodeHeartbeat, NodeState, ShardRef};
    use crate::placement::stripe_key;

    fn node(i: usize) -> NodeStatus {
        NodeStatus {
            heartbeat: NodeHeartbeat {
                id: format!("n{i}").parse().unwrap(),
                addr: format!("127.0.0.1:{}", 9000 + i),
                zone: None,
                capacity_bytes: 1 << 40,
                used_bytes: 0,
                shard_count: 0,
                deleted: Vec::new(),
                latency: None,
                scrub: None,
            },
            state: NodeState::Up,
            last_heartbeat_unix_ms: 0,
            draining: false,
        }
    }

    /// A 4+2 stripe placed as the writer places it over `nodes`.
    fn stripe(seed: u64, nodes: &[NodeStatus]) -> (Vec<u8>, Stripe) {
        let hashes: Vec<ShardHash> = (0..6u64)
            .map(|i| ShardHash::of(&(seed * 10 + i).to_le_bytes()))
            .collect();
        let key = stripe_key(&hashes).to_vec();
        let placed = preferred_nodes(&key, nodes, 6);
        let stripe = Stripe {
            data_len: 400,
            shard_len: 100,
            shards: hashes
                .into_iter()
                .zip(placed)
                .map(|(hash, node)| ShardRef { hash, node })
                .collect(),
        };
        (key, stripe)
    }

    #[test]
    fn a_stripe_where_it_belongs_stays() {
        let nodes: Vec<_> = (0..8).map(node).collect();
        for seed in 0..50 {
            let (key, s) = stripe(seed, &nodes);
            let mut debt = RebalanceDebt::default();
            assert!(plan_moves(&key, &s, &nodes, &nodes, &mut debt).is_empty());
            assert_eq!(debt, RebalanceDebt::default());
        }
    }

    /// Two nodes join six: only shards whose placement changed move, each
    /// onto a new node, and afterwards the stripe is where it belongs.
    #[test]
    fn joining_nodes_take_exactly_the_shards_they_win() {
        let before: Vec<_> = (0..6).map(node).collect();
        let after: Vec<_> = (0..8).map(node).collect();
        let new: HashSet<NodeId> = after[6..].iter().map(|n| n.heartbeat.id.clone()).collect();
        let mut moved = 0;
        let stripes = 400;
        for seed in 0..stripes {
            let (key, mut s) = stripe(seed, &before);
            let mut debt = RebalanceDebt::default();
            let moves = plan_moves(&key, &s, &after, &after, &mut debt);
            let preferred: HashSet<NodeId> = preferred_nodes(&key, &after, 6).into_iter().collect();
            let current: HashSet<NodeId> = s.shards.iter().map(|x| x.node.clone()).collect();
            assert_eq!(moves.len(), current.difference(&preferred).count());
            assert_eq!(debt.shards, moves.len() as u64);
            for m in &moves {
                assert!(new.contains(&m.target));
                s.shards[m.index].node = m.target.clone();
            }
            let now: HashSet<NodeId> = s.shards.iter().map(|x| x.node.clone()).collect();
            assert_eq!(now, preferred);
            let mut again = RebalanceDebt::default();
            assert!(plan_moves(&key, &s, &after, &after, &mut again).is_empty());
            moved += moves.len();
        }
        // Each new node wins a given slot set with probability 6/8: 1.5
        // shards of 6 per stripe on average.
        let per_stripe = moved as f64 / stripes as f64;
        assert!((1.3..1.7).contains(&per_stripe), "{per_stripe}");
    }

    #[test]
    fn a_new_node_that_cannot_take_writes_blocks_its_moves_without_redirecting_them() {
        let before: Vec<_> = (0..6).map(node).collect();
        let after: Vec<_> = (0..7).map(node).collect();
        let writable = &after[..6];
        let mut blocked = 0;
        for seed in 0..100 {
            let (key, s) = stripe(seed, &before);
            let mut debt = RebalanceDebt::default();
            assert!(plan_moves(&key, &s, &after, writable, &mut debt).is_empty());
            blocked += debt.blocked_shards;
            assert_eq!(debt.blocked_shards, debt.shards);
        }
        assert!(blocked > 0);
    }
}
