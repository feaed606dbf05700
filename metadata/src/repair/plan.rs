//! From one data row to repair and rebalance tasks: which shards must be
//! rebuilt or moved, from which survivors, onto which node. Pure: the
//! walk, the queue and the network live elsewhere.

use crate::ids::{NodeId, ShardHash, VersionId};
use crate::model::{
    ErasureCode, NodeStatus, ObjectData, RedundancyReport, RepairSource, RepairTask, ShardRef,
    ShardSlot, Stripe,
};
use crate::placement::{place_stripe, preferred_nodes, stripe_key};

use super::node_view::{NodeCondition, NodeView};
use super::rebalance::{RebalanceDebt, plan_moves};
use super::stripe_health::{ShardState, StripeHealth, assess};

/// Why a task exists. Repair comes first: a rebalance task is handed out
/// only while no repair is owed anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TaskKind {
    /// Back to full redundancy: a lost, bad, doubled-up or draining shard.
    Repair,
    /// A healthy shard off its preferred node (a node joined).
    Rebalance,
}

/// A task and the number of readable shards its stripe has left: the
/// fewer, the sooner it runs (a stripe at `k` readable is one failure from
/// loss).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub kind: TaskKind,
    pub survivors: usize,
    pub task: RepairTask,
}

/// What a walk found that repair cannot act on now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Deferred {
    /// Shards on nodes down for less than the grace period.
    pub waiting_shards: u64,
    /// Shards with no node to go to: every node that takes writes already
    /// holds a shard of the stripe. Repair needs a spare node.
    pub no_spare_shards: u64,
    /// Stripes with fewer readable shards than the code needs.
    pub unreadable_stripes: u64,
}

/// Everything a walk counts besides the tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub report: RedundancyReport,
    pub deferred: Deferred,
    pub rebalance: RebalanceDebt,
}

/// Plans against one [`NodeView`]: the nodes that take writes and the
/// members placement counts are derived once per walk.
#[derive(Debug)]
pub struct Planner<'a> {
    view: &'a NodeView,
    writable: Vec<NodeStatus>,
    members: Vec<NodeStatus>,
    rebalance: bool,
}

impl<'a> Planner<'a> {
    /// `rebalance` off plans repair only (rebalance still counts its debt).
    pub fn new(view: &'a NodeView, rebalance: bool) -> Self {
        Planner {
            view,
            writable: view.writable(),
            members: view.members(),
            rebalance,
        }
    }

    /// Judges every stripe of one data row: counts it in `tally` and
    /// appends the tasks it needs to `out`.
    pub fn plan_data(
        &self,
        version: VersionId,
        data: &ObjectData,
        tally: &mut Tally,
        out: &mut Vec<Planned>,
    ) {
        let ObjectData::Striped(manifest) = data else {
            return;
        };
        for (index, stripe) in manifest.stripes.iter().enumerate() {
            let Ok(index) = u32::try_from(index) else {
                break;
            };
            self.plan_stripe(version, index, manifest.code, stripe, tally, out);
        }
    }

    fn plan_stripe(
        &self,
        version: VersionId,
        index: u32,
        code: ErasureCode,
        stripe: &Stripe,
        tally: &mut Tally,
        out: &mut Vec<Planned>,
    ) {
        let slot = |i: usize| {
            u8::try_from(i).ok().map(|i| ShardSlot {
                version,
                stripe: index,
                index: i,
            })
        };
        let health = assess(stripe, self.view);
        let data = usize::from(code.data);
        tally.report.add_stripe(
            stripe.data_len,
            stripe.shards.len(),
            data,
            health.healthy,
            health.readable,
        );
        tally.deferred.waiting_shards += health
            .shards
            .iter()
            .filter(|s| **s == ShardState::Lost { repair_now: false })
            .count() as u64;
        if health.readable < data {
            tally.deferred.unreadable_stripes += 1;
            return;
        }
        let hashes: Vec<ShardHash> = stripe.shards.iter().map(|s| s.hash).collect();
        let key = stripe_key(&hashes);
        if health.healthy == stripe.shards.len() {
            let moves = plan_moves(
                &key,
                stripe,
                &self.members,
                &self.writable,
                &mut tally.rebalance,
            );
            if !self.rebalance || moves.is_empty() {
                return;
            }
            let sources = self.sources(stripe, &health);
            for m in moves {
                let (Some(slot), Some(shard)) = (slot(m.index), stripe.shards.get(m.index)) else {
                    break;
                };
                out.push(Planned {
                    kind: TaskKind::Rebalance,
                    survivors: health.readable,
                    task: task(slot, code, stripe.shard_len, shard, m.target, &sources),
                });
            }
            return;
        }
        if !health.shards.iter().any(|s| s.needs_repair_now()) {
            return;
        }
        let sources = self.sources(stripe, &health);
        let preferred = preferred_nodes(&key, &self.members, stripe.shards.len());
        // Every node the stripe names stays out of the running, and so does
        // each target chosen here: shards of a stripe go to distinct nodes.
        let mut taken: Vec<NodeId> = stripe.shards.iter().map(|s| s.node.clone()).collect();
        for (i, (shard, state)) in stripe.shards.iter().zip(&health.shards).enumerate() {
            if !state.needs_repair_now() {
                continue;
            }
            let Some(slot) = slot(i) else { break };
            let in_place = matches!(state, ShardState::Lost { .. })
                && matches!(
                    self.view.condition(&shard.node),
                    NodeCondition::Up { draining: false }
                );
            let target = if in_place {
                // A live node lost its copy (missing or corrupt): it rebuilds
                // its own, and the manifest stays as it is.
                shard.node.clone()
            } else {
                match self.new_home(&key, &preferred, &taken) {
                    Some(node) => node,
                    None => {
                        tally.deferred.no_spare_shards += 1;
                        continue;
                    }
                }
            };
            taken.push(target.clone());
            out.push(Planned {
                kind: TaskKind::Repair,
                survivors: health.readable,
                task: task(slot, code, stripe.shard_len, shard, target, &sources),
            });
        }
    }

    /// Where a shard that must leave its node goes: the best preferred node
    /// of the stripe that holds nothing of it and takes writes, so that a
    /// repaired stripe is already where rebalance wants it (and never
    /// moves twice); failing that, the best node taking writes.
    fn new_home(&self, key: &[u8], preferred: &[NodeId], taken: &[NodeId]) -> Option<NodeId> {
        preferred
            .iter()
            .find(|n| !taken.contains(n) && self.writable.iter().any(|w| &w.heartbeat.id == *n))
            .cloned()
            .or_else(|| {
                place_stripe(key, &self.writable, 1, taken, &[])
                    .ok()
                    .and_then(|nodes| nodes.into_iter().next())
            })
    }

    /// The stripe's readable shards, for the rebuild to read.
    fn sources(&self, stripe: &Stripe, health: &StripeHealth) -> Vec<RepairSource> {
        stripe
            .shards
            .iter()
            .zip(&health.shards)
            .enumerate()
            .filter(|(_, (_, state))| state.is_readable())
            .filter_map(|(i, (shard, _))| {
                Some(RepairSource {
                    index: u8::try_from(i).ok()?,
                    hash: shard.hash,
                    node: shard.node.clone(),
                    addr: self.view.addr(&shard.node)?.to_owned(),
                })
            })
            .collect()
    }
}

fn task(
    slot: ShardSlot,
    code: ErasureCode,
    shard_len: u32,
    shard: &ShardRef,
    target: NodeId,
    sources: &[RepairSource],
) -> RepairTask {
    RepairTask {
        slot,
        hash: shard.hash,
        code,
        shard_len,
        from: shard.node.clone(),
        target,
        sources: sources.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use super::*;
    use crate::ids::{NodeId, ShardHash};
    use crate::model::{Manifest, NodeHeartbeat, NodeState, SuspectShard};

    fn id(i: usize) -> NodeId {
        format!("n{i}").parse().unwrap()
    }

    fn node(i: usize, state: NodeState, draining: bool) -> NodeStatus {
        NodeStatus {
            heartbeat: NodeHeartbeat {
                id: id(i),
                addr: format!("127.0.0.1:{}", 9000 + i),
                zone: None,
                capacity_bytes: 1 << 40,
                used_bytes: 0,
                shard_count: 0,
                deleted: Vec::new(),
                latency: None,
                scrub: None,
            },
            state,
            last_heartbeat_unix_ms: 0,
            draining,
        }
    }

    /// Nodes 0..n up, except those in `down` (silent for `silent`).
    fn view(
        n: usize,
        down: &[usize],
        silent: Duration,
        draining: &[usize],
        suspects: HashSet<SuspectShard>,
    ) -> NodeView {
        let nodes = (0..n)
            .map(|i| {
                if down.contains(&i) {
                    (node(i, NodeState::Down, false), silent)
                } else {
                    (
                        node(i, NodeState::Up, draining.contains(&i)),
                        Duration::ZERO,
                    )
                }
            })
            .collect();
        NodeView::new(nodes, suspects, Duration::from_secs(60))
    }

    /// A 2+1 stripe on the given nodes.
    fn data(nodes: [usize; 3]) -> ObjectData {
        ObjectData::Striped(Manifest {
            code: ErasureCode { data: 2, parity: 1 },
            stripes: vec![Stripe {
                data_len: 100,
                shard_len: 50,
                shards: nodes
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| ShardRef {
                        hash: ShardHash::of(&[i as u8]),
                        node: id(n),
                    })
                    .collect(),
            }],
        })
    }

    /// Repair only: these stripes are placed by hand, not by rendezvous.
    fn plan(view: &NodeView, data: &ObjectData) -> (Vec<Planned>, RedundancyReport, Deferred) {
        let mut out = Vec::new();
        let mut tally = Tally::default();
        Planner::new(view, false).plan_data(VersionId::new(), data, &mut tally, &mut out);
        assert!(out.iter().all(|p| p.kind == TaskKind::Repair));
        (out, tally.report, tally.deferred)
    }

    /// A 2+1 stripe placed where rendezvous puts it over nodes `0..n`.
    fn placed(n: usize) -> ObjectData {
        let hashes: Vec<ShardHash> = (0..3u8).map(|i| ShardHash::of(&[i])).collect();
        let members: Vec<NodeStatus> = (0..n).map(|i| node(i, NodeState::Up, false)).collect();
        let nodes = preferred_nodes(&stripe_key(&hashes), &members, 3);
        ObjectData::Striped(Manifest {
            code: ErasureCode { data: 2, parity: 1 },
            stripes: vec![Stripe {
                data_len: 100,
                shard_len: 50,
                shards: hashes
                    .into_iter()
                    .zip(nodes)
                    .map(|(hash, node)| ShardRef { hash, node })
                    .collect(),
            }],
        })
    }

    fn nodes_of(data: &ObjectData) -> Vec<NodeId> {
        let ObjectData::Striped(m) = data else {
            panic!("striped")
        };
        m.stripes[0].shards.iter().map(|s| s.node.clone()).collect()
    }

    #[test]
    fn a_joining_node_gets_the_shards_it_wins_after_repair_is_done() {
        // Find a stripe that node 4, joining 0..4, is preferred for.
        let data = placed(4);
        let view5 = view(5, &[], Duration::ZERO, &[], HashSet::new());
        let mut out = Vec::new();
        let mut tally = Tally::default();
        Planner::new(&view5, true).plan_data(VersionId::new(), &data, &mut tally, &mut out);
        let key = {
            let ObjectData::Striped(m) = &data else {
                unreachable!()
            };
            stripe_key(
                &m.stripes[0]
                    .shards
                    .iter()
                    .map(|s| s.hash)
                    .collect::<Vec<_>>(),
            )
        };
        let wins = preferred_nodes(&key, &view5.members(), 3).contains(&id(4));
        assert_eq!(out.len(), usize::from(wins));
        assert_eq!(tally.rebalance.shards, u64::from(wins));
        for p in &out {
            assert_eq!(p.kind, TaskKind::Rebalance);
            assert_eq!(p.task.target, id(4));
            assert!(p.task.is_move());
            assert_eq!(p.task.sources.len(), 3);
        }
    }

    #[test]
    fn a_briefly_silent_node_moves_nothing() {
        for n in 4..12 {
            let data = placed(n);
            let held = nodes_of(&data);
            // Every node not holding a shard goes silent within the grace
            // period: the stripe is healthy and its placement unchanged.
            let silent: Vec<usize> = (0..n).filter(|i| !held.contains(&id(*i))).collect();
            let v = view(n, &silent, Duration::from_secs(5), &[], HashSet::new());
            let mut out = Vec::new();
            let mut tally = Tally::default();
            Planner::new(&v, true).plan_data(VersionId::new(), &data, &mut tally, &mut out);
            assert!(out.is_empty(), "n={n}: {out:?}");
            assert_eq!(tally.rebalance, RebalanceDebt::default());
        }
    }

    #[test]
    fn a_shard_lost_for_good_is_rebuilt_where_it_now_belongs() {
        for n in 5..12 {
            let data = placed(n);
            let held = nodes_of(&data);
            let lost = held[1].as_str()[1..].parse::<usize>().unwrap();
            let v = view(n, &[lost], Duration::from_secs(120), &[], HashSet::new());
            let (tasks, _, _) = plan(&v, &data);
            assert_eq!(tasks.len(), 1);
            let ObjectData::Striped(m) = &data else {
                unreachable!()
            };
            let hashes: Vec<_> = m.stripes[0].shards.iter().map(|s| s.hash).collect();
            let preferred = preferred_nodes(&stripe_key(&hashes), &v.members(), 3);
            assert!(
                preferred.contains(&tasks[0].task.target),
                "n={n}: rebuilt off its placement, rebalance would move it again"
            );
        }
    }

    #[test]
    fn a_healthy_stripe_needs_nothing() {
        let (tasks, report, deferred) = plan(
            &view(4, &[], Duration::ZERO, &[], HashSet::new()),
            &data([0, 1, 2]),
        );
        assert!(tasks.is_empty());
        assert!(report.is_full());
        assert_eq!(deferred, Deferred::default());
    }

    #[test]
    fn a_node_down_within_the_grace_period_is_waited_for() {
        let (tasks, report, deferred) = plan(
            &view(4, &[1], Duration::from_secs(5), &[], HashSet::new()),
            &data([0, 1, 2]),
        );
        assert!(tasks.is_empty());
        assert_eq!(report.degraded.get(&1), Some(&1));
        assert_eq!(deferred.waiting_shards, 1);
    }

    #[test]
    fn a_lost_shard_is_rebuilt_on_a_spare_node_from_the_survivors() {
        let (tasks, _, _) = plan(
            &view(4, &[1], Duration::from_secs(120), &[], HashSet::new()),
            &data([0, 1, 2]),
        );
        assert_eq!(tasks.len(), 1);
        let t = &tasks[0].task;
        assert_eq!(t.slot.index, 1);
        assert_eq!(t.from, id(1));
        assert_eq!(t.target, id(3), "the only node holding nothing of it");
        let sources: Vec<u8> = t.sources.iter().map(|s| s.index).collect();
        assert_eq!(sources, [0, 2]);
        assert_eq!(tasks[0].survivors, 2);
    }

    #[test]
    fn without_a_spare_node_the_debt_stays_and_says_why() {
        let (tasks, report, deferred) = plan(
            &view(3, &[1], Duration::from_secs(120), &[], HashSet::new()),
            &data([0, 1, 2]),
        );
        assert!(tasks.is_empty());
        assert_eq!(deferred.no_spare_shards, 1);
        assert_eq!(report.degraded_bytes, 100);
    }

    #[test]
    fn a_bad_copy_on_a_live_node_is_rebuilt_in_place() {
        let suspects = HashSet::from([SuspectShard {
            node: id(2),
            hash: ShardHash::of(&[2]),
        }]);
        let (tasks, _, _) = plan(
            &view(4, &[], Duration::ZERO, &[], suspects),
            &data([0, 1, 2]),
        );
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].task.target, id(2));
        assert!(!tasks[0].task.is_move());
    }

    #[test]
    fn draining_and_doubled_up_shards_move_while_still_read() {
        let (tasks, report, _) = plan(
            &view(5, &[], Duration::ZERO, &[0], HashSet::new()),
            &data([0, 1, 1]),
        );
        assert_eq!(report.degraded.get(&2), Some(&1));
        let moved: Vec<u8> = tasks.iter().map(|t| t.task.slot.index).collect();
        assert_eq!(moved, [0, 2]);
        let targets: HashSet<NodeId> = tasks.iter().map(|t| t.task.target.clone()).collect();
        assert!(targets.is_subset(&HashSet::from([id(2), id(3), id(4)])));
        assert_eq!(targets.len(), 2, "two distinct new nodes");
        assert_eq!(
            tasks[0].task.sources.len(),
            3,
            "all three copies still read"
        );
    }

    #[test]
    fn an_unreadable_stripe_is_reported_not_planned() {
        let (tasks, report, deferred) = plan(
            &view(5, &[0, 1], Duration::from_secs(120), &[], HashSet::new()),
            &data([0, 1, 2]),
        );
        assert!(tasks.is_empty());
        assert_eq!(report.unreadable, 1);
        assert_eq!(deferred.unreadable_stripes, 1);
    }
}
