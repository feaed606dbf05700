//! A byte-rate limit shared by concurrent tasks: background work (repair,
//! scrubbing) must leave the disk and the network to foreground reads.
//!
//! Pacing by a virtual clock: each grant of `n` bytes moves the clock on by
//! `n / rate`, and the caller waits until the clock's earlier reading. So
//! concurrent callers are served in turn at the configured rate, and an
//! idle spell earns no burst beyond one second's worth.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct Throttle {
    bytes_per_sec: f64,
    next_free: Mutex<Instant>,
}

impl Throttle {
    /// `bytes_per_sec` of 0 means no limit.
    pub fn new(bytes_per_sec: u64) -> Self {
        Throttle {
            bytes_per_sec: bytes_per_sec as f64,
            next_free: Mutex::new(Instant::now()),
        }
    }

    /// Waits until `bytes` more may be used.
    pub async fn take(&self, bytes: u64) {
        if self.bytes_per_sec <= 0.0 {
            return;
        }
        let cost = Duration::from_secs_f64(bytes as f64 / self.bytes_per_sec);
        let start = {
            let mut next = self.next_free.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let start = (*next).max(now.checked_sub(Duration::from_secs(1)).unwrap_or(now));
            *next = start + cost;
            start
        };
        tokio::time::sleep_until(start).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn callers_are_paced_at_the_rate() {
        let t = Throttle::new(1000);
        let began = Instant::now();
        // The fifth grant waits for the first four: 2000 bytes at 1000/s.
        for _ in 0..5 {
            t.take(500).await;
        }
        assert_eq!(began.elapsed(), Duration::from_secs(2));
        // An idle spell earns at most one second of credit.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let began = Instant::now();
        for _ in 0..4 {
            t.take(500).await;
        }
        assert_eq!(began.elapsed(), Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn zero_means_unlimited() {
        let t = Throttle::new(0);
        let began = Instant::now();
        t.take(u64::MAX).await;
        assert_eq!(began.elapsed(), Duration::ZERO);
    }
}
