//! Which storage nodes reads should steer around for being slow.
//!
//! A single late shard read says little: on a busy machine any node process
//! can be descheduled for a few tens of milliseconds, and the read that ran
//! late is already hedged on its own. Steering *every* read away from a node
//! is costly (each stripe with a data shard there is then decoded from
//! parity), so a node is marked slow only when its reads have kept running
//! late, with none finishing on time in between, for longer than a hedge
//! can take: a frozen or stalled node, not a hiccup. The mark lasts a few
//! seconds and ends early when one of the node's reads finishes on time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use metadata::ids::NodeId;

/// Late reads without an on-time one between them must span this long
/// before the node is marked slow (the longest a read waits before
/// hedging, plus margin).
pub const SLOW_AFTER: Duration = Duration::from_millis(500);

pub struct SlowNodes {
    /// One entry per storage node that has run late (bounded by the
    /// cluster's node count: ids come from the node list and manifests).
    nodes: Mutex<HashMap<NodeId, Lateness>>,
    /// How long a mark lasts when nothing clears it.
    mark_for: Duration,
}

#[derive(Default)]
struct Lateness {
    /// The first late read since the node last answered on time.
    late_since: Option<Instant>,
    /// Reads avoid the node until then.
    slow_until: Option<Instant>,
}

impl SlowNodes {
    pub fn new(mark_for: Duration) -> Self {
        SlowNodes {
            nodes: Mutex::new(HashMap::new()),
            mark_for,
        }
    }

    /// A read on `id` ran past its hedge deadline at `now`. Returns whether
    /// this marked the node slow.
    pub fn late(&self, id: &NodeId, now: Instant) -> bool {
        let Ok(mut nodes) = self.nodes.lock() else {
            return false;
        };
        let entry = nodes.entry(id.clone()).or_default();
        let since = *entry.late_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= SLOW_AFTER
            && entry.slow_until.is_none_or(|until| until <= now)
        {
            entry.slow_until = Some(now + self.mark_for);
            return true;
        }
        false
    }

    /// A read on `id` finished within its hedge deadline: the node is
    /// keeping up, whatever it did before.
    pub fn on_time(&self, id: &NodeId) {
        if let Ok(mut nodes) = self.nodes.lock() {
            nodes.remove(id);
        }
    }

    /// Whether reads should ask other nodes first.
    pub fn is_slow(&self, id: &NodeId, now: Instant) -> bool {
        self.nodes
            .lock()
            .ok()
            .and_then(|nodes| nodes.get(id).and_then(|l| l.slow_until))
            .is_some_and(|until| until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: &str) -> NodeId {
        n.parse().unwrap()
    }

    #[test]
    fn isolated_late_reads_mark_nothing() {
        let slow = SlowNodes::new(Duration::from_secs(5));
        let t0 = Instant::now();
        let a = node("a");
        for step in 0..20u64 {
            let now = t0 + Duration::from_millis(100 * step);
            assert!(!slow.late(&a, now));
            // The node answers on time in between: a hiccup, not a stall.
            slow.on_time(&a);
            assert!(!slow.is_slow(&a, now));
        }
    }

    #[test]
    fn a_burst_of_late_reads_shorter_than_the_window_marks_nothing() {
        let slow = SlowNodes::new(Duration::from_secs(5));
        let t0 = Instant::now();
        let a = node("a");
        for ms in [0, 10, 50, 200, 400] {
            assert!(!slow.late(&a, t0 + Duration::from_millis(ms)));
        }
        assert!(!slow.is_slow(&a, t0 + Duration::from_millis(450)));
    }

    #[test]
    fn reads_late_for_longer_than_the_window_mark_the_node_until_it_answers() {
        let slow = SlowNodes::new(Duration::from_secs(5));
        let t0 = Instant::now();
        let (a, b) = (node("a"), node("b"));
        assert!(!slow.late(&a, t0));
        assert!(slow.late(&a, t0 + SLOW_AFTER));
        // Marked once, not again on every later late read.
        assert!(!slow.late(&a, t0 + SLOW_AFTER + Duration::from_millis(10)));
        assert!(slow.is_slow(&a, t0 + Duration::from_secs(2)));
        assert!(!slow.is_slow(&b, t0 + Duration::from_secs(2)));
        // The mark expires on its own...
        assert!(!slow.is_slow(&a, t0 + SLOW_AFTER + Duration::from_secs(5)));
        // ...and an on-time read clears it at once.
        assert!(slow.late(&a, t0 + Duration::from_secs(7)));
        assert!(slow.is_slow(&a, t0 + Duration::from_secs(7)));
        slow.on_time(&a);
        assert!(!slow.is_slow(&a, t0 + Duration::from_secs(7)));
    }
}
