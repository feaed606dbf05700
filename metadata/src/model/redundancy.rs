//! How much redundancy the stored data has right now, for the operator
//! view: every stripe of every committed object and upload part, by how
//! many of its shards are not healthy (see `repair::stripe_health`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedundancyReport {
    /// Stripes counted, and the object bytes they hold.
    pub stripes: u64,
    pub bytes: u64,
    /// Stripes with every shard readable, each on a node of its own.
    pub full: u64,
    /// Stripes still readable but short of healthy shards, by how many
    /// are missing (on a down node, found bad, or doubled up on one node).
    pub degraded: BTreeMap<usize, u64>,
    /// Object bytes in degraded stripes: the redundancy debt.
    pub degraded_bytes: u64,
    /// Stripes missing more shards than parity can replace.
    pub unreadable: u64,
    pub unreadable_bytes: u64,
}

impl RedundancyReport {
    /// Counts one stripe of `data_len` object bytes with `healthy` of its
    /// `total` shards healthy and `readable` readable, `data` needed.
    pub fn add_stripe(
        &mut self,
        data_len: u64,
        total: usize,
        data: usize,
        healthy: usize,
        readable: usize,
    ) {
        self.stripes += 1;
        self.bytes += data_len;
        let missing = total.saturating_sub(healthy);
        if readable < data {
            self.unreadable += 1;
            self.unreadable_bytes += data_len;
        } else if missing == 0 {
            self.full += 1;
        } else {
            *self.degraded.entry(missing).or_default() += 1;
            self.degraded_bytes += data_len;
        }
    }

    /// Whether every stripe has full redundancy.
    pub fn is_full(&self) -> bool {
        self.full == self.stripes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripes_are_sorted_by_missing_shards() {
        let mut r = RedundancyReport::default();
        r.add_stripe(10, 3, 2, 3, 3);
        r.add_stripe(10, 3, 2, 2, 2);
        r.add_stripe(10, 3, 2, 1, 3);
        r.add_stripe(10, 3, 2, 1, 1);
        assert_eq!(r.stripes, 4);
        assert_eq!(r.full, 1);
        assert_eq!(r.degraded, BTreeMap::from([(1, 1), (2, 1)]));
        assert_eq!(r.degraded_bytes, 20);
        assert_eq!(r.unreadable, 1);
        assert!(!r.is_full());
    }
}
