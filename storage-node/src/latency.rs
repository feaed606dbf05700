//! The node's own time to serve shards, as moving averages for its
//! heartbeats: an operator sees a slow disk in the status view before reads
//! start hedging around it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use metadata::model::NodeLatency;

/// Weight of each new sample in the moving average.
const ALPHA: f64 = 0.05;

#[derive(Debug, Default)]
pub struct LatencyTracker {
    read_ms: AtomicU64,
    write_ms: AtomicU64,
}

impl LatencyTracker {
    pub fn record_read(&self, took: Duration) {
        update(&self.read_ms, took);
    }

    pub fn record_write(&self, took: Duration) {
        update(&self.write_ms, took);
    }

    /// `None` until the node has served anything.
    pub fn snapshot(&self) -> Option<NodeLatency> {
        let read = f64::from_bits(self.read_ms.load(Ordering::Relaxed));
        let write = f64::from_bits(self.write_ms.load(Ordering::Relaxed));
        (read > 0.0 || write > 0.0).then_some(NodeLatency {
            read_ms: read,
            write_ms: write,
        })
    }
}

fn update(slot: &AtomicU64, took: Duration) {
    let sample = took.as_secs_f64() * 1000.0;
    let _ = slot.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
        let old = f64::from_bits(bits);
        let new = if old == 0.0 {
            sample
        } else {
            old + ALPHA * (sample - old)
        };
        Some(new.to_bits())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_move_toward_new_samples() {
        let t = LatencyTracker::default();
        assert_eq!(t.snapshot(), None);
        t.record_read(Duration::from_millis(10));
        assert_eq!(t.snapshot().map(|l| l.read_ms), Some(10.0));
        for _ in 0..200 {
            t.record_read(Duration::from_millis(2));
        }
        let l = t.snapshot().unwrap();
        assert!((l.read_ms - 2.0).abs() < 0.1, "{l:?}");
        assert_eq!(l.write_ms, 0.0);
    }
}
