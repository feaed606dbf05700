//! Which nodes hold a stripe's shards.
//!
//! Rendezvous (highest-random-weight) hashing: every node gets a score
//! `BLAKE3(stripe_key, node id)` and the stripe goes to the highest scores.
//! It needs no shared ring state, every caller computes the same answer from
//! the same node list, and adding or removing one node moves only the shards
//! that node wins or held (about `count / N` of them), so a membership change
//! never reshuffles the cluster. The key is [`stripe_key`], made from the
//! shard hashes the manifest records, so the writer, repair and rebalance
//! all compute the same placement for a stripe.
//!
//! With zones (failure domains) the stripe is spread as evenly as possible
//! over zones before any zone gets a second shard, counting the shards that
//! are already placed, so losing a zone loses as few shards as possible.
//! Inside a zone the order is still rendezvous order.

use std::collections::{HashMap, HashSet};

use crate::ids::{NodeId, ShardHash};
use crate::model::NodeStatus;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error("need {needed} nodes for the stripe but only {available} are eligible")]
    NotEnoughNodes { needed: usize, available: usize },
}

/// The rendezvous key of a stripe: a hash over its shard hashes, in order.
///
/// Derived from what every manifest records, so the planner can compute
/// the placement a stripe should have long after it was written, for an
/// object put whole, a multipart part, or a completed multipart object
/// alike (the writer's object version is not recorded for parts). Two
/// stripes with equal bytes share a key and so a placement; they share
/// their shard files too, being content-addressed.
pub fn stripe_key(shards: &[ShardHash]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"tessera stripe placement v1");
    for shard in shards {
        h.update(&shard.0);
    }
    *h.finalize().as_bytes()
}

/// Chooses `count` distinct nodes for the stripe named `stripe_key`, best
/// first: only nodes that are up, never one in `already_placed` (the stripe's
/// other shards) or `exclude` (nodes the caller found failing).
pub fn place_stripe(
    stripe_key: &[u8],
    nodes: &[NodeStatus],
    count: usize,
    already_placed: &[NodeId],
    exclude: &[NodeId],
) -> Result<Vec<NodeId>, PlacementError> {
    let eligible: Vec<&NodeStatus> = nodes
        .iter()
        .filter(|n| n.is_up())
        .filter(|n| !already_placed.contains(&n.heartbeat.id) && !exclude.contains(&n.heartbeat.id))
        .collect();
    if distinct_ids(&eligible) < count {
        return Err(PlacementError::NotEnoughNodes {
            needed: count,
            available: distinct_ids(&eligible),
        });
    }
    Ok(rank(stripe_key, nodes, eligible, count, already_placed))
}

/// The nodes a stripe of `count` shards belongs on when `members` are the
/// cluster: the set [`place_stripe`] chooses with every member up and
/// nothing placed yet, best first (fewer if there are fewer members).
///
/// Membership is the caller's judgement, not the nodes' state: rebalance
/// passes nodes that are down but within the repair grace period too, so
/// that a node restarting does not make every stripe it holds look
/// misplaced (and move twice, away and back).
pub fn preferred_nodes(stripe_key: &[u8], members: &[NodeStatus], count: usize) -> Vec<NodeId> {
    let all: Vec<&NodeStatus> = members.iter().collect();
    let count = count.min(distinct_ids(&all));
    rank(stripe_key, members, all, count, &[])
}

fn distinct_ids(nodes: &[&NodeStatus]) -> usize {
    nodes
        .iter()
        .map(|n| &n.heartbeat.id)
        .collect::<HashSet<_>>()
        .len()
}

/// The best `count` of `candidates` (at least that many distinct) in
/// rendezvous order, spread over zones if any candidate has one. `nodes`
/// gives the zones of `already_placed`.
fn rank(
    stripe_key: &[u8],
    nodes: &[NodeStatus],
    candidates: Vec<&NodeStatus>,
    count: usize,
    already_placed: &[NodeId],
) -> Vec<NodeId> {
    let mut seen = HashSet::new();
    let mut candidates: Vec<(u64, &NodeStatus)> = candidates
        .into_iter()
        .filter(|n| seen.insert(&n.heartbeat.id))
        .map(|n| (score(stripe_key, &n.heartbeat.id), n))
        .collect();
    // Highest score first; ties (astronomically rare) broken by id so the
    // order is total and identical everywhere.
    candidates.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| a.1.heartbeat.id.cmp(&b.1.heartbeat.id))
    });

    let zoned = candidates.iter().any(|(_, n)| n.heartbeat.zone.is_some());
    if !zoned {
        return candidates
            .into_iter()
            .take(count)
            .map(|(_, n)| n.heartbeat.id.clone())
            .collect();
    }

    // Shards per zone, starting with the stripe's shards already placed. A
    // node without a zone is its own failure domain only as part of the
    // "no zone" group, which is conservative.
    let zone_of = |id: &NodeId| {
        nodes
            .iter()
            .find(|n| &n.heartbeat.id == id)
            .map(|n| n.heartbeat.zone.as_deref())
    };
    let mut per_zone: HashMap<Option<&str>, usize> = HashMap::new();
    for (_, n) in &candidates {
        per_zone.entry(n.heartbeat.zone.as_deref()).or_insert(0);
    }
    let placed_once: HashSet<&NodeId> = already_placed.iter().collect();
    for id in placed_once {
        if let Some(zone) = zone_of(id) {
            *per_zone.entry(zone).or_insert(0) += 1;
        }
    }

    let mut chosen = Vec::with_capacity(count);
    let mut remaining: Vec<Option<(u64, &NodeStatus)>> = candidates.into_iter().map(Some).collect();
    while chosen.len() < count {
        // The least loaded zone that still has a candidate.
        let least = remaining
            .iter()
            .flatten()
            .map(|(_, n)| per_zone[&n.heartbeat.zone.as_deref()])
            .min()
            .unwrap_or(0);
        // Its best candidate, in rendezvous order (the first one qualifying).
        let Some(slot) = remaining.iter_mut().find(|c| {
            c.as_ref()
                .is_some_and(|(_, n)| per_zone[&n.heartbeat.zone.as_deref()] == least)
        }) else {
            break;
        };
        if let Some((_, n)) = slot.take() {
            *per_zone.entry(n.heartbeat.zone.as_deref()).or_insert(0) += 1;
            chosen.push(n.heartbeat.id.clone());
        }
    }
    chosen
}

/// Places `count` shards when fewer than `count` nodes are eligible but
/// more than `min_nodes`: every eligible node gets shards in rendezvous
/// order, round after round, so no node holds more than
/// `ceil(count / nodes)`. With more than `data` nodes for a `data + parity`
/// stripe that is at most `parity`, so losing any one node still leaves
/// the stripe readable; repair moves the doubled shards to nodes of their
/// own when nodes return. With `count` or more nodes this is
/// [`place_stripe`].
pub fn place_stripe_spread(
    stripe_key: &[u8],
    nodes: &[NodeStatus],
    count: usize,
    min_nodes: usize,
) -> Result<Vec<NodeId>, PlacementError> {
    match place_stripe(stripe_key, nodes, count, &[], &[]) {
        Err(PlacementError::NotEnoughNodes { available, .. }) if available > min_nodes => {
            let distinct = place_stripe(stripe_key, nodes, available, &[], &[])?;
            Ok(distinct.iter().cycle().take(count).cloned().collect())
        }
        Err(PlacementError::NotEnoughNodes { available, .. }) => {
            Err(PlacementError::NotEnoughNodes {
                needed: min_nodes + 1,
                available,
            })
        }
        other => other,
    }
}

/// The node's weight for this stripe. Length-prefixing the key keeps
/// `("ab", "c")` and `("a", "bc")` distinct.
fn score(stripe_key: &[u8], node: &NodeId) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(&(stripe_key.len() as u64).to_le_bytes());
    h.update(stripe_key);
    h.update(node.as_str().as_bytes());
    let out = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&out.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NodeHeartbeat, NodeState};
    use proptest::prelude::*;

    fn node(i: usize, up: bool, zone: Option<usize>) -> NodeStatus {
        NodeStatus {
            heartbeat: NodeHeartbeat {
                id: format!("node-{i}").parse().unwrap(),
                addr: format!("127.0.0.1:{}", 10000 + i),
                zone: zone.map(|z| format!("zone-{z}")),
                capacity_bytes: 1 << 40,
                used_bytes: 0,
                shard_count: 0,
                deleted: Vec::new(),
                latency: None,
                scrub: None,
            },
            state: if up { NodeState::Up } else { NodeState::Down },
            last_heartbeat_unix_ms: 0,
            draining: false,
        }
    }

    #[test]
    fn with_too_few_nodes_shards_double_up_evenly() {
        let nodes: Vec<NodeStatus> = (0..5).map(|i| node(i, true, None)).collect();
        let placed = place_stripe_spread(b"k", &nodes, 6, 4).unwrap();
        assert_eq!(placed.len(), 6);
        let distinct: HashSet<&NodeId> = placed.iter().collect();
        assert_eq!(distinct.len(), 5);
        assert_eq!(placed[5], placed[0], "the best-ranked node takes the extra");
        // With k nodes or fewer, refuse: one loss would make it unreadable.
        assert_eq!(
            place_stripe_spread(b"k", &nodes[..4], 6, 4),
            Err(PlacementError::NotEnoughNodes {
                needed: 5,
                available: 4
            })
        );
        let full = place_stripe_spread(b"k", &nodes, 5, 4).unwrap();
        assert_eq!(full.len(), 5);
    }

    fn ids(nodes: &[NodeStatus], picks: &[usize]) -> Vec<NodeId> {
        picks
            .iter()
            .filter_map(|&i| nodes.get(i).map(|n| n.heartbeat.id.clone()))
            .collect()
    }

    /// A node set: (up, zone index) per node; zones only if `zoned`.
    fn arb_nodes() -> impl Strategy<Value = Vec<NodeStatus>> {
        (
            any::<bool>(),
            prop::collection::vec((prop::bool::weighted(0.8), 0..4usize), 1..20),
        )
            .prop_map(|(zoned, spec)| {
                spec.into_iter()
                    .enumerate()
                    .map(|(i, (up, z))| node(i, up, zoned.then_some(z)))
                    .collect()
            })
    }

    proptest! {
        #[test]
        fn placements_are_valid_and_deterministic(
            nodes in arb_nodes(),
            key in prop::collection::vec(any::<u8>(), 0..32),
            count in 0..8usize,
            placed in prop::collection::vec(0..20usize, 0..3),
            excluded in prop::collection::vec(0..20usize, 0..3),
        ) {
            let placed = ids(&nodes, &placed);
            let excluded = ids(&nodes, &excluded);
            let eligible = nodes.iter().filter(|n| {
                n.is_up() && !placed.contains(&n.heartbeat.id) && !excluded.contains(&n.heartbeat.id)
            }).count();
            match place_stripe(&key, &nodes, count, &placed, &excluded) {
                Err(PlacementError::NotEnoughNodes { needed, available }) => {
                    prop_assert_eq!(needed, count);
                    prop_assert_eq!(available, eligible);
                    prop_assert!(eligible < count);
                }
                Ok(chosen) => {
                    prop_assert_eq!(chosen.len(), count);
                    let distinct: HashSet<_> = chosen.iter().collect();
                    prop_assert_eq!(distinct.len(), count);
                    for id in &chosen {
                        let n = nodes.iter().find(|n| &n.heartbeat.id == id).unwrap();
                        prop_assert!(n.is_up());
                        prop_assert!(!placed.contains(id) && !excluded.contains(id));
                    }
                    let again = place_stripe(&key, &nodes, count, &placed, &excluded).unwrap();
                    prop_assert_eq!(&again, &chosen);
                    // Order of the input list does not matter.
                    let mut reversed = nodes.clone();
                    reversed.reverse();
                    let shuffled = place_stripe(&key, &reversed, count, &placed, &excluded).unwrap();
                    prop_assert_eq!(&shuffled, &chosen);
                }
            }
        }

        /// A zone only received its k-th new shard while no zone that still
        /// had a free node held fewer than k-1 shards (already placed ones
        /// counted): the spread is as even as the eligible nodes allow.
        #[test]
        fn zones_are_filled_evenly(
            zones in prop::collection::vec(0..4usize, 1..16),
            key in prop::collection::vec(any::<u8>(), 0..16),
            count in 1..8usize,
            placed in prop::collection::vec(0..16usize, 0..3),
        ) {
            let nodes: Vec<_> = zones.iter().enumerate().map(|(i, &z)| node(i, true, Some(z))).collect();
            let placed = ids(&nodes, &placed);
            let Ok(chosen) = place_stripe(&key, &nodes, count, &placed, &[]) else {
                return Ok(());
            };
            let zone = |id: &NodeId| nodes.iter().find(|n| &n.heartbeat.id == id).unwrap().heartbeat.zone.clone();
            let mut total: HashMap<Option<String>, usize> = HashMap::new();
            let mut placed_set: Vec<&NodeId> = placed.iter().collect();
            placed_set.sort();
            placed_set.dedup();
            for id in placed_set.iter().copied().chain(chosen.iter()) {
                *total.entry(zone(id)).or_default() += 1;
            }
            let receiving: HashSet<_> = chosen.iter().map(zone).collect();
            for z in &receiving {
                for n in &nodes {
                    let free = !placed.contains(&n.heartbeat.id) && !chosen.contains(&n.heartbeat.id);
                    if free {
                        let other = total.get(&n.heartbeat.zone).copied().unwrap_or(0);
                        prop_assert!(total[z] - 1 <= other,
                            "zone {:?} got {} while {:?} with a free node has {}", z, total[z], n.heartbeat.zone, other);
                    }
                }
            }
        }
    }

    /// Adding one node to N moves, per stripe, at most one shard (the new
    /// node takes one slot or none), and on average about count/(N+1).
    #[test]
    fn adding_a_node_moves_few_shards() {
        for (n, count) in [(8usize, 6usize), (12, 6), (20, 3), (50, 12)] {
            let before: Vec<_> = (0..n).map(|i| node(i, true, None)).collect();
            let mut after = before.clone();
            after.push(node(n, true, None));
            let keys = 2000;
            let mut moved = 0usize;
            for k in 0..keys {
                let key = format!("stripe-{k}");
                let a: HashSet<_> = place_stripe(key.as_bytes(), &before, count, &[], &[])
                    .unwrap()
                    .into_iter()
                    .collect();
                let b: HashSet<_> = place_stripe(key.as_bytes(), &after, count, &[], &[])
                    .unwrap()
                    .into_iter()
                    .collect();
                let changed = a.difference(&b).count();
                assert!(changed <= 1, "a stripe moved {changed} shards");
                moved += changed;
            }
            let per_stripe = moved as f64 / keys as f64;
            let expected = count as f64 / (n + 1) as f64;
            // 2000 Bernoulli trials: the observed mean is within a few
            // percent of `expected`; the bound leaves ample room.
            assert!(
                per_stripe <= 2.0 * count as f64 / n as f64,
                "n={n} count={count}: {per_stripe} moved per stripe"
            );
            assert!(
                (per_stripe - expected).abs() < 0.15 * expected + 0.02,
                "n={n}: {per_stripe} vs {expected}"
            );
        }
    }

    #[test]
    fn spreads_over_zones_before_doubling_up() {
        // 3 zones x 3 nodes, 6 shards: exactly 2 per zone.
        let nodes: Vec<_> = (0..9).map(|i| node(i, true, Some(i % 3))).collect();
        for k in 0..200 {
            let chosen = place_stripe(format!("s{k}").as_bytes(), &nodes, 6, &[], &[]).unwrap();
            let mut per: HashMap<_, usize> = HashMap::new();
            for id in &chosen {
                let n = nodes.iter().find(|n| &n.heartbeat.id == id).unwrap();
                *per.entry(n.heartbeat.zone.clone()).or_default() += 1;
            }
            assert!(per.values().all(|&c| c == 2), "{per:?}");
        }
    }

    #[test]
    fn preferred_nodes_are_the_placement_with_every_member_up() {
        for zoned in [false, true] {
            let mut nodes: Vec<_> = (0..10)
                .map(|i| node(i, true, zoned.then_some(i % 3)))
                .collect();
            for k in 0..100 {
                let key = stripe_key(&[ShardHash::of(&[k])]);
                let placed = place_stripe(&key, &nodes, 6, &[], &[]).unwrap();
                assert_eq!(preferred_nodes(&key, &nodes, 6), placed);
                // A member that is down still counts: its stripes stay put.
                nodes[3].state = NodeState::Down;
                assert_eq!(preferred_nodes(&key, &nodes, 6), placed);
                nodes[3].state = NodeState::Up;
            }
            assert_eq!(preferred_nodes(b"k", &nodes[..4], 6).len(), 4);
        }
    }

    #[test]
    fn the_stripe_key_depends_on_every_shard_and_its_order() {
        let (a, b) = (ShardHash::of(b"a"), ShardHash::of(b"b"));
        assert_ne!(stripe_key(&[a, b]), stripe_key(&[b, a]));
        assert_ne!(stripe_key(&[a, b]), stripe_key(&[a]));
        assert_eq!(stripe_key(&[a, b]), stripe_key(&[a, b]));
    }

    #[test]
    fn not_enough_nodes() {
        let nodes = vec![
            node(0, true, None),
            node(1, false, None),
            node(2, true, None),
        ];
        assert_eq!(
            place_stripe(b"k", &nodes, 3, &[], &[]),
            Err(PlacementError::NotEnoughNodes {
                needed: 3,
                available: 2
            })
        );
    }
}
