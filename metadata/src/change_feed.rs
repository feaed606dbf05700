//! Manifest leases: how an edge may serve a kept manifest without asking
//! metadata, and still never hide an acknowledged write.
//!
//! Every change to an object's current version (commit, delete, completed
//! upload) gets a sequence number and goes into a log. Edges long-poll the
//! log (`POST /v1/changes/poll`); each poll acknowledges everything before
//! the sequence it asks from and renews the edge's lease. A write is
//! answered only once every edge holding a lease has acknowledged the
//! write's change, or its lease has run out. An edge trusts its kept
//! manifests only while its lease holds by its own clock, counted from when
//! it *sent* the poll that renewed it, so it stops trusting them no later
//! than metadata stops waiting for it. So a read that starts after a write
//! was acknowledged either finds the manifest already dropped or asks
//! metadata, at every edge.
//!
//! The log lives in memory and belongs to one process: it is offered only
//! over a store that no other metadata process writes (the embedded store).
//! A restarted service has a new epoch, which makes every edge drop what it
//! kept; and if the previous process may have granted leases (a marker file
//! says so), writes wait out one lease after start-up, so that no lease
//! granted before the restart can still be trusted when a write is answered.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::ids::BucketName;
use crate::wire::{ChangesRequest, ChangesResponse, ObjectKeyRequest};

/// How long one poll renews an edge's lease. Also the longest a write can
/// wait for an edge that died holding one.
pub const LEASE: Duration = Duration::from_secs(2);

/// How long a poll is held open when there is nothing new: well inside
/// [`LEASE`], so that an idle edge renews its lease in time.
pub const POLL_WAIT: Duration = Duration::from_millis(500);

/// Changes kept for edges that fall behind; one further behind starts over.
const LOG_CAPACITY: usize = 65_536;

/// Changes in one poll answer.
const MAX_CHANGES_PER_POLL: usize = 4096;

/// Name of the marker file, in the store's folder, that says a process may
/// have granted leases that it did not see run out.
pub const LEASE_MARKER: &str = "edge-leases-granted";

struct EdgeLease {
    /// Every change up to this one is applied at the edge.
    acked: u64,
    until: Instant,
}

struct FeedState {
    /// The sequence number of the latest change (0: none yet).
    seq: u64,
    /// The latest changes, oldest first, with their sequence numbers.
    log: VecDeque<(u64, ObjectKeyRequest)>,
    edges: HashMap<String, EdgeLease>,
    marker_written: bool,
}

/// The change log and the leases of the edges that follow it.
pub struct ChangeFeed {
    epoch: u64,
    /// No write is answered before this (a restart's grace period).
    answer_writes_after: Instant,
    marker: Option<PathBuf>,
    state: Mutex<FeedState>,
    /// Woken by every change and every acknowledgement.
    moved: Notify,
}

impl ChangeFeed {
    /// A feed for a fresh process. `marker` is where to record that leases
    /// were granted (the store's folder); if it exists already, a previous
    /// process may have left leases running, and writes wait one [`LEASE`].
    pub fn new(marker: Option<PathBuf>) -> Self {
        let now = Instant::now();
        let inherited = marker.as_ref().is_some_and(|m| m.exists());
        if inherited {
            tracing::info!(
                "a previous metadata process may have left edge leases running; writes wait {LEASE:?} after start-up"
            );
        }
        ChangeFeed {
            epoch: rand::random::<u64>() | 1,
            answer_writes_after: if inherited { now + LEASE } else { now },
            marker,
            state: Mutex::new(FeedState {
                seq: 0,
                log: VecDeque::new(),
                edges: HashMap::new(),
                marker_written: inherited,
            }),
            moved: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FeedState> {
        // The state is a log and counters, valid after any panic.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a change to the key's current version; returns its sequence
    /// number, for [`ChangeFeed::settle`].
    pub fn publish(&self, bucket: &BucketName, key: &str) -> u64 {
        let seq = {
            let mut state = self.lock();
            state.seq += 1;
            let seq = state.seq;
            if state.log.len() == LOG_CAPACITY {
                state.log.pop_front();
            }
            state.log.push_back((
                seq,
                ObjectKeyRequest {
                    bucket: bucket.clone(),
                    key: key.to_owned(),
                },
            ));
            seq
        };
        self.moved.notify_waiters();
        seq
    }

    /// Waits until every edge holding a lease has applied change `seq`, or
    /// its lease ran out (at most [`LEASE`], plus a restart's grace period).
    pub async fn settle(&self, seq: u64) {
        let started = Instant::now();
        let mut waited_for_edges = false;
        loop {
            let notified = self.moved.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = Instant::now();
            let wait_until = {
                let state = self.lock();
                state
                    .edges
                    .values()
                    .filter(|e| e.until > now && e.acked < seq)
                    .map(|e| e.until)
                    .max()
            };
            let deadline = match wait_until {
                Some(until) => {
                    waited_for_edges = true;
                    Some(until)
                }
                None if now < self.answer_writes_after => Some(self.answer_writes_after),
                None => None,
            };
            let Some(deadline) = deadline else { break };
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
        if waited_for_edges {
            metrics::histogram!("metadata_write_lease_wait_seconds")
                .record(started.elapsed().as_secs_f64());
        }
    }

    /// One edge's poll: acknowledges what it applied, renews its lease, and
    /// answers the changes after `req.after`, waiting up to [`POLL_WAIT`]
    /// for one when there is none yet.
    pub async fn poll(&self, req: &ChangesRequest) -> ChangesResponse {
        let same_epoch = req.epoch == self.epoch;
        let deadline = Instant::now() + POLL_WAIT;
        {
            let now = Instant::now();
            let mut state = self.lock();
            state.edges.retain(|_, e| e.until > now);
            let acked = if same_epoch {
                req.after.min(state.seq)
            } else {
                0
            };
            let lease = state
                .edges
                .entry(req.edge.clone())
                .or_insert(EdgeLease { acked, until: now });
            lease.acked = lease.acked.max(acked);
            lease.until = now + LEASE;
            self.note_grant(&mut state);
            metrics::gauge!("metadata_edge_leases").set(state.edges.len() as f64);
        }
        self.moved.notify_waiters();
        loop {
            let notified = self.moved.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.lock();
                let oldest = state.log.front().map_or(state.seq + 1, |(s, _)| *s);
                // A first poll, another process's sequence, or a gap in the
                // log: start over from the present.
                if !same_epoch || req.after > state.seq || req.after + 1 < oldest {
                    return self.answer(true, state.seq, Vec::new());
                }
                if req.after < state.seq {
                    let changes: Vec<ObjectKeyRequest> = state
                        .log
                        .iter()
                        .skip_while(|(s, _)| *s <= req.after)
                        .take(MAX_CHANGES_PER_POLL)
                        .map(|(_, c)| c.clone())
                        .collect();
                    let seq = req.after + changes.len() as u64;
                    return self.answer(false, seq, changes);
                }
            }
            if Instant::now() >= deadline {
                return self.answer(false, req.after, Vec::new());
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    fn answer(&self, reset: bool, seq: u64, changes: Vec<ObjectKeyRequest>) -> ChangesResponse {
        ChangesResponse {
            epoch: self.epoch,
            lease_ms: u64::try_from(LEASE.as_millis()).unwrap_or(u64::MAX),
            reset,
            seq,
            changes,
        }
    }

    /// Writes the marker the first time this process grants a lease.
    fn note_grant(&self, state: &mut FeedState) {
        if state.marker_written {
            return;
        }
        state.marker_written = true;
        if let Some(marker) = &self.marker
            && let Err(e) = std::fs::write(marker, b"")
        {
            tracing::warn!(path = %marker.display(), error = %e, "cannot record that edge leases were granted");
        }
    }

    /// At shutdown: removes the marker if no lease is running any more, so
    /// the next start need not wait.
    pub fn close(&self) {
        let now = Instant::now();
        let state = self.lock();
        if state.edges.values().all(|e| e.until <= now)
            && let Some(marker) = &self.marker
            && marker.exists()
            && let Err(e) = std::fs::remove_file(marker)
        {
            tracing::warn!(path = %marker.display(), error = %e, "cannot remove the edge lease marker");
        }
    }
}

#[cfg(test)]
mod tests;
