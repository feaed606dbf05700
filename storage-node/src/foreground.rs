//! Foreground first: repair gives way to the shard requests clients are
//! waiting on.
//!
//! A rebuild reads `k` shards from peers, decodes, hashes and fsyncs: work
//! that competes with client reads for the same disk, network and cores.
//! A bandwidth cap alone bounds the average but not the collisions, and a
//! read's tail latency is made of collisions. So each node counts the
//! foreground shard requests it is serving, and background work waits
//! (briefly, boundedly) for a moment with none in flight: before each
//! survivor fetch and store of a rebuild, and before serving a peer's
//! repair read. Under steady load repair still progresses, one bounded
//! wait per step; on an idle node it does not wait at all.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::Instant;

/// Marks a shard request as background work (a peer's repair read).
pub const BACKGROUND_HEADER: &str = "x-tessera-background";

/// How often a waiting background step looks again.
const POLL: Duration = Duration::from_millis(2);

/// The foreground shard requests in flight on this node.
#[derive(Debug, Default)]
pub struct Foreground {
    in_flight: AtomicUsize,
}

/// Counts one foreground request while it lives.
#[derive(Debug)]
pub struct ForegroundGuard(Arc<Foreground>);

impl Drop for ForegroundGuard {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Foreground {
    pub fn begin(self: &Arc<Self>) -> ForegroundGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        ForegroundGuard(Arc::clone(self))
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Waits until no foreground request is in flight, or `at_most`.
    /// Returns how long it waited.
    pub async fn yield_to(&self, at_most: Duration) -> Duration {
        let started = Instant::now();
        let deadline = started + at_most;
        while self.in_flight() > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            tokio::time::sleep(POLL.min(deadline - now)).await;
        }
        let waited = started.elapsed();
        if !waited.is_zero() {
            metrics::histogram!("repair_foreground_wait_seconds").record(waited.as_secs_f64());
        }
        waited
    }
}

/// Middleware on the shard routes: a foreground request is counted while
/// it is served; a background one first waits its turn.
pub async fn foreground_gate(
    State(foreground): State<(Arc<Foreground>, Duration)>,
    req: Request,
    next: Next,
) -> Response {
    let (foreground, yield_for) = foreground;
    if req.headers().contains_key(BACKGROUND_HEADER) {
        foreground.yield_to(yield_for).await;
        next.run(req).await
    } else {
        let _counted = foreground.begin();
        next.run(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn background_waits_for_foreground_but_not_forever() {
        let f = Arc::new(Foreground::default());
        assert_eq!(f.yield_to(Duration::from_secs(1)).await, Duration::ZERO);

        let guard = f.begin();
        assert_eq!(f.in_flight(), 1);
        // Never longer than allowed while foreground stays busy.
        let waited = f.yield_to(Duration::from_millis(50)).await;
        assert_eq!(waited, Duration::from_millis(50));

        // Released as soon as the request ends.
        let g = Arc::clone(&f);
        let waiter = tokio::spawn(async move { g.yield_to(Duration::from_secs(1)).await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(guard);
        let waited = waiter.await.unwrap();
        assert!(waited >= Duration::from_millis(10) && waited < Duration::from_millis(20));
        assert_eq!(f.in_flight(), 0);
    }
}
