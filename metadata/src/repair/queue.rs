//! The repair queue: planned tasks waiting for their target node, and
//! leases on the tasks handed out. It is rebuilt from the manifests by
//! every walk, so it never needs to survive a restart: after one, the first
//! walk plans whatever is still owed, and a task in flight at the time is
//! planned again (rebuilding a shard that is already there costs a check).
//!
//! Repair outranks rebalance cluster-wide: a rebalance task is handed out
//! only while no repair task waits or runs anywhere, and only so many at
//! once, so that a node joining a full cluster trickles data onto it
//! instead of loading every node at once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

use super::plan::{Planned, TaskKind};
use crate::ids::{NodeId, VersionId};
use crate::model::{RepairTask, ShardSlot};

/// How long a node may hold a task before it counts as lost (the node
/// died or restarted) and is planned again.
pub const LEASE: Duration = Duration::from_secs(120);

/// Per target node, by kind (repair first), then fewest survivors.
type NodeQueue = BTreeMap<(TaskKind, usize, ShardSlot), RepairTask>;

#[derive(Debug)]
struct Lease {
    node: NodeId,
    until: Instant,
    kind: TaskKind,
}

#[derive(Debug, Default)]
pub struct RepairQueue {
    pending: HashMap<NodeId, NodeQueue>,
    leased: HashMap<ShardSlot, Lease>,
    pending_repairs: usize,
    pending_rebalance: usize,
}

impl RepairQueue {
    /// Replaces the pending tasks with a fresh plan. A slot leased now is
    /// left to its holder, and no task is queued for a node that a leased
    /// task of the same stripe is bringing a shard to (a plan made while
    /// that task runs does not know of it, and one node must never end up
    /// with two shards of a stripe).
    pub fn replace_plan(&mut self, planned: Vec<Planned>) {
        self.pending.clear();
        self.pending_repairs = 0;
        self.pending_rebalance = 0;
        let incoming: HashSet<(VersionId, u32, &NodeId)> = self
            .leased
            .iter()
            .map(|(slot, lease)| (slot.version, slot.stripe, &lease.node))
            .collect();
        for p in planned {
            let slot = p.task.slot;
            if self.leased.contains_key(&slot)
                || incoming.contains(&(slot.version, slot.stripe, &p.task.target))
            {
                continue;
            }
            let queue = self.pending.entry(p.task.target.clone()).or_default();
            if queue.insert((p.kind, p.survivors, slot), p.task).is_none() {
                match p.kind {
                    TaskKind::Repair => self.pending_repairs += 1,
                    TaskKind::Rebalance => self.pending_rebalance += 1,
                }
            }
        }
    }

    /// Up to `want` tasks for `node`, most urgent first, leased to it. A
    /// rebalance task only while no repair is queued or running and fewer
    /// than `rebalance_limit` rebalance tasks are out.
    pub fn claim(
        &mut self,
        node: &NodeId,
        want: usize,
        rebalance_limit: usize,
        now: Instant,
    ) -> Vec<RepairTask> {
        self.leased.retain(|_, lease| lease.until > now);
        let mut repairs_running = self.in_flight_of(TaskKind::Repair);
        let mut moves_running = self.in_flight_of(TaskKind::Rebalance);
        let mut out = Vec::new();
        while out.len() < want {
            let Some(queue) = self.pending.get_mut(node) else {
                break;
            };
            let Some(entry) = queue.first_entry() else {
                self.pending.remove(node);
                break;
            };
            let kind = entry.key().0;
            let held_back =
                self.pending_repairs > 0 || repairs_running > 0 || moves_running >= rebalance_limit;
            if kind == TaskKind::Rebalance && held_back {
                break;
            }
            let task = entry.remove();
            match kind {
                TaskKind::Repair => {
                    self.pending_repairs -= 1;
                    repairs_running += 1;
                }
                TaskKind::Rebalance => {
                    self.pending_rebalance -= 1;
                    moves_running += 1;
                }
            }
            self.leased.insert(
                task.slot,
                Lease {
                    node: node.clone(),
                    until: now + LEASE,
                    kind,
                },
            );
            out.push(task);
        }
        if self.pending.get(node).is_some_and(BTreeMap::is_empty) {
            self.pending.remove(node);
        }
        out
    }

    /// The task of `slot` ended (either way); what kind it was, if it was
    /// still leased.
    pub fn finish(&mut self, slot: &ShardSlot) -> Option<TaskKind> {
        self.leased.remove(slot).map(|lease| lease.kind)
    }

    /// Repair tasks waiting for their node.
    pub fn pending(&self) -> usize {
        self.pending_repairs
    }

    /// Repair tasks handed out.
    pub fn in_flight(&self) -> usize {
        self.in_flight_of(TaskKind::Repair)
    }

    pub fn rebalance_pending(&self) -> usize {
        self.pending_rebalance
    }

    pub fn rebalance_in_flight(&self) -> usize {
        self.in_flight_of(TaskKind::Rebalance)
    }

    fn in_flight_of(&self, kind: TaskKind) -> usize {
        self.leased.values().filter(|l| l.kind == kind).count()
    }

    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.leased.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ShardHash;
    use crate::model::ErasureCode;

    fn planned(survivors: usize, index: u8, target: &str) -> Planned {
        planned_as(TaskKind::Repair, survivors, index, target)
    }

    fn planned_as(kind: TaskKind, survivors: usize, index: u8, target: &str) -> Planned {
        Planned {
            kind,
            survivors,
            task: RepairTask {
                slot: ShardSlot {
                    version: VersionId(uuid::Uuid::from_u128(1)),
                    stripe: u32::from(index),
                    index,
                },
                hash: ShardHash::of(&[index]),
                code: ErasureCode { data: 4, parity: 2 },
                shard_len: 1,
                from: "gone".parse().unwrap(),
                target: target.parse().unwrap(),
                sources: Vec::new(),
            },
        }
    }

    #[tokio::test(start_paused = true)]
    async fn most_urgent_first_and_leases_keep_tasks_from_being_planned_twice() {
        let a: NodeId = "a".parse().unwrap();
        let mut q = RepairQueue::default();
        q.replace_plan(vec![
            planned(5, 0, "a"),
            planned(4, 1, "a"),
            planned(5, 2, "b"),
        ]);
        assert_eq!(q.pending(), 3);
        let got = q.claim(&a, 1, 8, Instant::now());
        assert_eq!(got[0].slot.index, 1, "fewest survivors first");
        assert_eq!(q.in_flight(), 1);

        // A new walk plans the leased slot again: it is not queued twice.
        q.replace_plan(vec![planned(4, 1, "a"), planned(5, 0, "a")]);
        assert_eq!(q.pending(), 1);
        q.finish(&got[0].slot);
        assert_eq!(q.in_flight(), 0);

        // A lease that runs out frees the slot for the next walk.
        let got = q.claim(&a, 5, 8, Instant::now());
        assert_eq!(got.len(), 1);
        tokio::time::advance(LEASE + Duration::from_secs(1)).await;
        assert!(q.claim(&a, 5, 8, Instant::now()).is_empty());
        assert!(q.is_idle());
    }

    #[tokio::test(start_paused = true)]
    async fn rebalance_waits_for_repair_and_is_bounded() {
        let (a, b): (NodeId, NodeId) = ("a".parse().unwrap(), "b".parse().unwrap());
        let mut q = RepairQueue::default();
        q.replace_plan(vec![
            planned_as(TaskKind::Rebalance, 6, 0, "a"),
            planned_as(TaskKind::Rebalance, 6, 1, "a"),
            planned_as(TaskKind::Rebalance, 6, 2, "a"),
            planned(5, 3, "b"),
        ]);
        assert_eq!((q.pending(), q.rebalance_pending()), (1, 3));
        // A repair owed elsewhere holds every move back.
        assert!(q.claim(&a, 4, 2, Instant::now()).is_empty());
        let repair = q.claim(&b, 4, 2, Instant::now());
        assert_eq!(repair.len(), 1);
        assert!(
            q.claim(&a, 4, 2, Instant::now()).is_empty(),
            "repair running"
        );
        assert_eq!(q.finish(&repair[0].slot), Some(TaskKind::Repair));
        // Then at most two moves at once.
        let moves = q.claim(&a, 4, 2, Instant::now());
        assert_eq!(moves.len(), 2);
        assert_eq!(q.rebalance_in_flight(), 2);
        assert!(q.claim(&a, 4, 2, Instant::now()).is_empty());
        assert_eq!(q.finish(&moves[0].slot), Some(TaskKind::Rebalance));
        assert_eq!(q.claim(&a, 4, 2, Instant::now()).len(), 1);
        assert_eq!(q.rebalance_pending(), 0);
    }

    #[test]
    fn no_second_shard_of_a_stripe_is_sent_to_a_node_one_is_going_to() {
        let a: NodeId = "a".parse().unwrap();
        let mut q = RepairQueue::default();
        let same_stripe = |mut p: Planned| {
            p.task.slot.stripe = 7;
            p
        };
        q.replace_plan(vec![same_stripe(planned(5, 0, "a"))]);
        assert_eq!(q.claim(&a, 1, 8, Instant::now()).len(), 1);
        // A later plan (made without knowing of the lease) aims another
        // slot of the same stripe at the same node.
        q.replace_plan(vec![
            same_stripe(planned(5, 1, "a")),
            same_stripe(planned(5, 2, "b")),
        ]);
        assert_eq!(q.pending(), 1);
        assert!(q.claim(&a, 1, 8, Instant::now()).is_empty());
    }
}
