//! From one data row to repair tasks: which shards must be rebuilt, from
//! which survivors, onto which node. Pure: the walk, the queue and the
//! network live elsewhere.

use crate::ids::VersionId;
use crate::model::{
    ErasureCode, NodeStatus, ObjectData, RedundancyReport, RepairSource, RepairTask, ShardSlot,
    Stripe,
};
use crate::placement::place_stripe;

use super::node_view::{NodeCondition, NodeView};
use super::stripe_health::{ShardState, assess};

/// A task and the number of readable shards its stripe has left: the
/// fewer, the sooner it runs (a stripe at `k` readable is one failure from
/// loss).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
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

/// Judges every stripe of one data row: counts it in `report` and appends
/// the tasks it needs to `out`.
pub fn plan_data(
    version: VersionId,
    data: &ObjectData,
    view: &NodeView,
    writable: &[NodeStatus],
    report: &mut RedundancyReport,
    deferred: &mut Deferred,
    out: &mut Vec<Planned>,
) {
    let ObjectData::Striped(manifest) = data else {
        return;
    };
    for (index, stripe) in manifest.stripes.iter().enumerate() {
        let Ok(index) = u32::try_from(index) else {
            break;
        };
        plan_stripe(
            version,
            index,
            manifest.code,
            stripe,
            view,
            writable,
            report,
            deferred,
            out,
        );
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site, all inputs distinct"
)]
fn plan_stripe(
    version: VersionId,
    index: u32,
    code: ErasureCode,
    stripe: &Stripe,
    view: &NodeView,
    writable: &[NodeStatus],
    report: &mut RedundancyReport,
    deferred: &mut Deferred,
    out: &mut Vec<Planned>,
) {
    let health = assess(stripe, view);
    let data = usize::from(code.data);
    report.add_stripe(
        stripe.data_len,
        stripe.shards.len(),
        data,
        health.healthy,
        health.readable,
    );
    deferred.waiting_shards += health
        .shards
        .iter()
        .filter(|s| **s == ShardState::Lost { repair_now: false })
        .count() as u64;
    if health.readable < data {
        deferred.unreadable_stripes += 1;
        return;
    }
    if !health.shards.iter().any(|s| s.needs_repair_now()) {
        return;
    }
    let sources: Vec<RepairSource> = stripe
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
                addr: view.addr(&shard.node)?.to_owned(),
            })
        })
        .collect();
    let key = stripe_key(version, index);
    // Every node the stripe names stays out of the running, and so does
    // each target chosen here: shards of a stripe go to distinct nodes.
    let mut taken: Vec<_> = stripe.shards.iter().map(|s| s.node.clone()).collect();
    for (i, (shard, state)) in stripe.shards.iter().zip(&health.shards).enumerate() {
        if !state.needs_repair_now() {
            continue;
        }
        let Ok(slot_index) = u8::try_from(i) else {
            break;
        };
        let in_place = matches!(state, ShardState::Lost { .. })
            && matches!(
                view.condition(&shard.node),
                NodeCondition::Up { draining: false }
            );
        let target = if in_place {
            // A live node lost its copy (missing or corrupt): it rebuilds
            // its own, and the manifest stays as it is.
            shard.node.clone()
        } else {
            match place_stripe(&key, writable, 1, &taken, &[]) {
                Ok(mut nodes) if !nodes.is_empty() => nodes.remove(0),
                _ => {
                    deferred.no_spare_shards += 1;
                    continue;
                }
            }
        };
        taken.push(target.clone());
        out.push(Planned {
            survivors: health.readable,
            task: RepairTask {
                slot: ShardSlot {
                    version,
                    stripe: index,
                    index: slot_index,
                },
                hash: shard.hash,
                code,
                shard_len: stripe.shard_len,
                from: shard.node.clone(),
                target,
                sources: sources.clone(),
            },
        });
    }
}

/// The placement key of a stripe for repair: unique per stripe, so the
/// rebuilt shards of one node spread over the others.
fn stripe_key(version: VersionId, index: u32) -> Vec<u8> {
    let mut key = version.0.as_bytes().to_vec();
    key.extend_from_slice(&u64::from(index).to_be_bytes());
    key
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use super::*;
    use crate::ids::{NodeId, ShardHash};
    use crate::model::{Manifest, NodeHeartbeat, NodeState, ShardRef, SuspectShard};

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

    fn plan(view: &NodeView, data: &ObjectData) -> (Vec<Planned>, RedundancyReport, Deferred) {
        let mut out = Vec::new();
        let mut report = RedundancyReport::default();
        let mut deferred = Deferred::default();
        plan_data(
            VersionId::new(),
            data,
            view,
            &view.writable(),
            &mut report,
            &mut deferred,
            &mut out,
        );
        (out, report, deferred)
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
