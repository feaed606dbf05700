//! The repair queue: planned tasks waiting for their target node, and
//! leases on the tasks handed out. It is rebuilt from the manifests by
//! every walk, so it never needs to survive a restart: after one, the first
//! walk plans whatever is still owed, and a task in flight at the time is
//! planned again (rebuilding a shard that is already there costs a check).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::time::Instant;

use super::plan::Planned;
use crate::ids::NodeId;
use crate::model::{RepairTask, ShardSlot};

/// How long a node may hold a task before it counts as lost (the node
/// died or restarted) and is planned again.
pub const LEASE: Duration = Duration::from_secs(120);

#[derive(Debug, Default)]
pub struct RepairQueue {
    /// Per target node, fewest survivors first.
    pending: HashMap<NodeId, BTreeMap<(usize, ShardSlot), RepairTask>>,
    leased: HashMap<ShardSlot, (NodeId, Instant)>,
}

impl RepairQueue {
    /// Replaces the pending tasks with a fresh plan. A slot leased now is
    /// left to its holder.
    pub fn replace_plan(&mut self, planned: Vec<Planned>) {
        self.pending.clear();
        for p in planned {
            if self.leased.contains_key(&p.task.slot) {
                continue;
            }
            self.pending
                .entry(p.task.target.clone())
                .or_default()
                .insert((p.survivors, p.task.slot), p.task);
        }
    }

    /// Up to `want` tasks for `node`, most urgent first, leased to it.
    pub fn claim(&mut self, node: &NodeId, want: usize, now: Instant) -> Vec<RepairTask> {
        self.leased.retain(|_, (_, until)| *until > now);
        let Some(queue) = self.pending.get_mut(node) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(want.min(queue.len()));
        while out.len() < want {
            let Some((_, task)) = queue.pop_first() else {
                break;
            };
            self.leased.insert(task.slot, (node.clone(), now + LEASE));
            out.push(task);
        }
        if queue.is_empty() {
            self.pending.remove(node);
        }
        out
    }

    /// The task of `slot` ended (either way).
    pub fn finish(&mut self, slot: &ShardSlot) {
        self.leased.remove(slot);
    }

    pub fn pending(&self) -> usize {
        self.pending.values().map(BTreeMap::len).sum()
    }

    pub fn in_flight(&self) -> usize {
        self.leased.len()
    }

    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.leased.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ShardHash, VersionId};
    use crate::model::ErasureCode;

    fn planned(survivors: usize, index: u8, target: &str) -> Planned {
        Planned {
            survivors,
            task: RepairTask {
                slot: ShardSlot {
                    version: VersionId(uuid::Uuid::from_u128(1)),
                    stripe: 0,
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
        let got = q.claim(&a, 1, Instant::now());
        assert_eq!(got[0].slot.index, 1, "fewest survivors first");
        assert_eq!(q.in_flight(), 1);

        // A new walk plans the leased slot again: it is not queued twice.
        q.replace_plan(vec![planned(4, 1, "a"), planned(5, 0, "a")]);
        assert_eq!(q.pending(), 1);
        q.finish(&got[0].slot);
        assert_eq!(q.in_flight(), 0);

        // A lease that runs out frees the slot for the next walk.
        let got = q.claim(&a, 5, Instant::now());
        assert_eq!(got.len(), 1);
        tokio::time::advance(LEASE + Duration::from_secs(1)).await;
        assert!(q.claim(&a, 5, Instant::now()).is_empty());
        assert!(q.is_idle());
    }
}
