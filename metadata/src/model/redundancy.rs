//! How much redundancy the stored data has right now, for the operator
//! view: every stripe of every committed object and upload part, by how
//! many of its shards sit on nodes that are down.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{ObjectData, Stripe};
use crate::ids::NodeId;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedundancyReport {
    /// Stripes counted, and the object bytes they hold.
    pub stripes: u64,
    pub bytes: u64,
    /// Stripes with every shard on an up node.
    pub full: u64,
    /// Stripes still readable but missing shards, by how many are missing.
    pub degraded: BTreeMap<usize, u64>,
    /// Object bytes in degraded stripes: the redundancy debt.
    pub degraded_bytes: u64,
    /// Stripes missing more shards than parity can replace.
    pub unreadable: u64,
    pub unreadable_bytes: u64,
}

impl RedundancyReport {
    /// Counts the stripes of `data` against the set of nodes that are down.
    pub fn add(&mut self, data: &ObjectData, down: &HashSet<NodeId>) {
        let ObjectData::Striped(manifest) = data else {
            return;
        };
        let parity = usize::from(manifest.code.parity);
        for stripe in &manifest.stripes {
            self.add_stripe(stripe, parity, down);
        }
    }

    fn add_stripe(&mut self, stripe: &Stripe, parity: usize, down: &HashSet<NodeId>) {
        let missing = stripe
            .shards
            .iter()
            .filter(|s| down.contains(&s.node))
            .count();
        self.stripes += 1;
        self.bytes += stripe.data_len;
        if missing == 0 {
            self.full += 1;
        } else if missing <= parity {
            *self.degraded.entry(missing).or_default() += 1;
            self.degraded_bytes += stripe.data_len;
        } else {
            self.unreadable += 1;
            self.unreadable_bytes += stripe.data_len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ShardHash;
    use crate::model::{ErasureCode, Manifest, ShardRef};

    #[test]
    fn stripes_are_sorted_by_missing_shards() {
        let node = |i: u8| -> NodeId { format!("n{i}").parse().unwrap() };
        let stripe = |nodes: [u8; 3]| Stripe {
            data_len: 10,
            shard_len: 10,
            shards: nodes
                .iter()
                .map(|&i| ShardRef {
                    hash: ShardHash::of(&[i]),
                    node: node(i),
                })
                .collect(),
        };
        let data = ObjectData::Striped(Manifest {
            code: ErasureCode { data: 2, parity: 1 },
            stripes: vec![stripe([1, 2, 3]), stripe([1, 4, 5]), stripe([4, 5, 6])],
        });
        let down: HashSet<NodeId> = [node(4), node(5)].into();
        let mut r = RedundancyReport::default();
        r.add(&data, &down);
        r.add(&ObjectData::Inline(bytes::Bytes::from_static(b"x")), &down);
        assert_eq!(r.stripes, 3);
        assert_eq!(r.full, 1);
        assert_eq!(r.degraded, BTreeMap::new());
        assert_eq!(r.unreadable, 2);
        let down: HashSet<NodeId> = [node(4)].into();
        let mut r = RedundancyReport::default();
        r.add(&data, &down);
        assert_eq!(r.degraded, BTreeMap::from([(1, 2)]));
        assert_eq!(r.degraded_bytes, 20);
    }
}
